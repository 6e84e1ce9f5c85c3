"""``roles``: two objects, one resting on top of the other, in either order ("a red ball on top
of a blue cube" / "a blue cube on top of a red ball").  Graph: ``obj0 -on-> obj1 -on->
floor``; ``obj0`` is the top one.  No implicit effect: what it tests is who is on top."""
from __future__ import annotations

import re

import numpy as np
from scipy import ndimage

from ...csg.captions import object_phrase
from ...csg.geometry import FLOOR_Y, object_box, put
from ...csg.graph import CausalSceneGraph, GraphError
from ...csg.vocabulary import COLOURS, SHAPES
from ...csg.words import Tokens, objects_graph, stated_graph
from ..answers import Answers, ask_count, colour_palette, object_nodes, texture_single
from ..blobs import EIGHT, find_blobs
from ..canvas import FLOOR, WALL, Canvas, draw_object
from ..counterfactual import Counterfactual, texture
from ..prompt_edits import recolour
from ..render import render
from ..unmix import unmix
from .base import Category, Jitter, register
from .open_scene import OpenScene


def top_bottom(g: CausalSceneGraph) -> tuple[str, str]:
    """(the object on top, the one it rests on) of a roles scene."""
    objs = set(g.nodes("object"))
    for u, v, rel in g.graph.edges(data="relation"):
        if rel == "on" and u in objs and v in objs:
            return u, v
    raise GraphError("edges: a roles scene needs an 'on' edge from the top object to the "
                     "bottom one")


# --- the questions (canonical px, RGB units 0..255)
TOUCH_GAP = 5.0        #: canonical px between the two objects' cores that still touch
ON_TOP_MIN = 1 / 3     #: centre height difference, in mean object heights, that is "on top"


LIFT = 0.15            #: how far a lifted top object floats above the bottom one


def _stacked(g: CausalSceneGraph, cx: float, base: float, lift: float = 0.0) -> None:
    """The bottom object standing on ``base`` at ``cx``, the top one on it (``lift`` above
    it): the layout's rule, and a counterfactual's refit."""
    top, bottom = top_bottom(g)
    bb = object_box(g, bottom, cx, base)
    put(g, bottom, bb)
    put(g, top, object_box(g, top, cx, bb[1] - lift))


def _swap_roles(cat: Category, g: CausalSceneGraph) -> CausalSceneGraph:
    h = g.copy()
    top, bottom = top_bottom(h)
    nodes = h.graph.nodes
    nodes[top]["attrs"], nodes[bottom]["attrs"] = nodes[bottom]["attrs"], nodes[top]["attrs"]
    return cat.refit(h)


def _side_by_side(g: CausalSceneGraph, rng: np.random.Generator) -> CausalSceneGraph:
    h = g.copy()
    top, bottom = top_bottom(h)
    bb = h.node(bottom)["box"]
    cx = (bb[0] + bb[2]) / 2
    d = (0.22 + rng.uniform(0.0, 0.04)) * (1 if cx < 0.5 else -1)
    put(h, top, object_box(h, top, cx + d, bb[3]))
    return h


def _stack(g: CausalSceneGraph) -> None:
    """A roles scene's floor and edges: ``obj0`` on ``obj1``, ``obj1`` on the floor."""
    g.add_node("floor", "surface", type="floor")
    g.add_edge("obj0", "obj1", "on")
    g.add_edge("obj1", "floor", "on")


@register
class Roles(Category):
    name = "roles"
    cue_words = frozenset({"top"})
    cue_rank = 10
    objects = 2
    surface = "floor"
    counted = True
    new_words = ("top", "resting")
    donor_slots = {"structure": (("object", "colour"),), "texture": ()}

    def read(self, tok: Tokens) -> tuple[CausalSceneGraph, list[dict[str, str]]]:
        g, stated = objects_graph(tok, self.name, ("top", "resting"))
        _stack(g)
        return g, stated

    def recognise(self, og: CausalSceneGraph
                  ) -> tuple[CausalSceneGraph, list[dict[str, str]]] | None:
        """Two objects (told by colour), one on the other ("resting on", "under"), the bottom
        one perhaps on the floor; the top one is ``obj0`` whichever was named first."""
        scene = OpenScene(og)
        objs = scene.shaped()
        if len(objs) != 2:
            return None
        a, b = objs
        a_top = [scene.has(a, "on", b), scene.has(b, "under", a)]
        b_top = [scene.has(b, "on", a), scene.has(a, "under", b)]
        if any(a_top) == any(b_top):
            return None
        top, bottom = (a, b) if any(a_top) else (b, a)
        found = [scene.object(top, self.by_material), scene.object(bottom, self.by_material)]
        if None in found or not scene.floor([bottom]):
            return None
        g, stated = stated_graph(self.name, found)   # type: ignore[arg-type]
        _stack(g)
        return (g, stated) if scene.complete(g) else None

    def caption(self, g: CausalSceneGraph, explicit: bool) -> str:
        """``explicit`` adds that the objects touch (no implicit effect: it restates the
        graph)."""
        top, bottom = top_bottom(g)
        s = f"a {object_phrase(g, top, False)} on top of a {object_phrase(g, bottom, False)}"
        if explicit:
            s += (f", the {g.attr(top, 'colour')} one resting on the "
                  f"{g.attr(bottom, 'colour')} one")
        return s

    def check(self, g: CausalSceneGraph) -> None:
        top, bottom = top_bottom(g)
        if g.attr(top, "colour") == g.attr(bottom, "colour"):
            raise GraphError("nodes: the two objects of a roles scene need different colours "
                             "(the verifier tells them apart by colour)")
        if g.surface("floor") is None:
            raise GraphError("nodes: a roles scene needs a surface node with type='floor'")

    def layout(self, g: CausalSceneGraph, jit: Jitter) -> None:
        cx = 0.5 + jit(0.2)
        _stacked(g, cx, 0.84 + jit(0.03))
        put(g, g.surface("floor"), [0.0, FLOOR_Y, 1.0, 1.0])

    def draw(self, cv: Canvas, g: CausalSceneGraph, floor: np.ndarray) -> None:
        """The bottom object on the floor, then the top one resting on it (in front of it)."""
        top, bottom = top_bottom(g)
        draw_object(cv, g, bottom)
        draw_object(cv, g, top)

    def questions(self, g: CausalSceneGraph, img: np.ndarray, raw: np.ndarray) -> Answers:
        cols, names = colour_palette()
        mix = unmix(img, [WALL, FLOOR], cols, names, pairs=[(0, 1)])
        ans = Answers()
        top, bottom = top_bottom(g)
        found, per_colour = {}, {}
        for n in (top, bottom):
            colour = g.attr(n, "colour")
            per_colour[colour] = blobs = find_blobs(mix, where=mix.obj == names.index(colour))
            found[n] = blobs[0] if blobs else None
        for n in object_nodes(g):
            other = found[bottom if n == top else top]
            valid = None if other is None else \
                ~ndimage.binary_dilation(other.core, EIGHT, iterations=1)
            ans.add(texture_single(g, raw, mix, found[n], n, "colour", prefix=f"{n}.",
                                    valid=valid))
        ask_count(g, mix, ans, found=per_colour)
        bt, bb = found[top], found[bottom]
        if bt is None or bb is None:
            ans.physics.update(on_top=False, touching=False)
            ans.meas["undetermined"] = ["on_top", "touching"]
        else:
            rise = (bb.cy - bt.cy) / (0.5 * (bt.height + bb.height))
            overlap = abs(bt.cx - bb.cx) <= 0.5 * max(bt.width, bb.width)
            gap = float(bb.y0 - bt.y1 - 1)
            ans.physics["on_top"] = bool(overlap and rise >= ON_TOP_MIN)
            ans.physics["touching"] = bool(overlap and gap <= TOUCH_GAP)
            ans.meas.update(rise=rise, gap_px=gap, overlap=bool(overlap))
            side = 1.0 if overlap else -1.0
            ans.meas["physics_margin"] = min(side, (rise - ON_TOP_MIN) / ON_TOP_MIN,
                                             (TOUCH_GAP - gap) / TOUCH_GAP)
            seen = "on top" if ans.physics["on_top"] else "not on top"
            ans.per_node[top] += f"; {seen} of {bottom}, gap {gap:.0f} px"
        for f in g.nodes("surface"):
            ans.per_node.setdefault(f, "floor")
        return ans

    def refit(self, g: CausalSceneGraph, lift: float = 0.0) -> CausalSceneGraph:
        """Keeps the bottom object's centre and base; ``lift`` raises the top one off it."""
        bb = g.node(top_bottom(g)[1])["box"]
        _stacked(g, (bb[0] + bb[2]) / 2, bb[3], lift)
        return g

    def counterfactuals(self, g: CausalSceneGraph, size: int, rng: np.random.Generator
                        ) -> list[Counterfactual]:
        """The roles swapped (the bottom one drawn on top), the two side by side on the floor
        (``on_top``); the top one lifted off the other (``touching``); another colour (not
        the other object's) or shape."""
        out = [("on_top", "roles swapped", render(_swap_roles(self, g), size).image, g),
               ("on_top", "side by side", render(_side_by_side(g, rng), size).image, g)]
        lifted = self.refit(g.copy(), lift=LIFT)
        out.append(("touching", "top one lifted off", render(lifted, size).image, g))
        return out + texture(self, g, size, rng, per_object=True)

    def random_prompt(self, rng: np.random.Generator, more_share: float) -> str:
        """Two distinct colours in either order."""
        pick = lambda xs: xs[int(rng.integers(len(xs)))]  # noqa: E731
        colours = list(COLOURS)
        c1, c2 = rng.choice(len(colours), 2, replace=False)
        return f"a {colours[c1]} {pick(SHAPES)} on top of a {colours[c2]} {pick(SHAPES)}"

    def held_out_key(self, g: CausalSceneGraph) -> tuple[str, ...]:
        """(top colour, bottom colour)."""
        return tuple(g.attr(n, "colour") for n in top_bottom(g))

    def switched(self, prompt: str, rng: np.random.Generator) -> str:
        """The two objects swapped (the other one on top) and the new top one recoloured:
        swapped alone, each object keeps its own colour and shape, so texture would not
        change."""
        top, bottom = re.match(r"an? (.+) on top of an? (.+)$", prompt).groups()
        return recolour(f"a {bottom} on top of a {top}", rng)
