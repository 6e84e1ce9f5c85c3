"""``place``: an object placed by two relations at once or in the water ("a red ball close to
the water and on the sand" / "a red ball far from the water and on the sand" / "a red ball in
the water, off the sand").  Graph: ``obj0 -on-> sand`` plus ``-next to-> water`` or ``-far
from-> water``, or ``obj0 -in-> water``."""
from __future__ import annotations

import re
from typing import Any

import numpy as np
from scipy import ndimage

from ...csg.captions import object_phrase
from ...csg.geometry import FLOOR_Y, OBJECT_W, object_box, put
from ...csg.graph import CausalSceneGraph, GraphError
from ...csg.vocabulary import COLOURS, FILL_MATERIALS, PLACES, SHAPES
from ...csg.words import JAR_AND_PLACE_WORDS, Tokens, objects_graph, stated_graph
from ..answers import Answers, colour_palette, fmt, single_object
from ..blobs import EIGHT
from ..canvas import WALL, WATER, Canvas, box, draw_object
from ..counterfactual import Counterfactual, texture
from ..prompt_edits import recolour
from ..render import render
from ..unmix import CANON, unmix
from .base import Category, Jitter, register
from .open_scene import OpenScene

#: where the shore is (from the sand's side), how close "near" is
SHORE = 0.58
NEAR_GAP = (0.005, 0.025)
SAND = np.array(FILL_MATERIALS["sand"], np.float32)
#: the words that put the object close to the water
NEAR_WORDS = ("close", "near", "next", "beside")
#: the caption of each place, and what its explicit caption adds
PHRASES = {"near": ("close to the water and on the sand", ", at the edge of the water"),
           "far": ("far from the water and on the sand", ", well away from the water"),
           "water": ("in the water, off the sand", ", standing in the water")}


def place_of(g: CausalSceneGraph) -> str | None:
    """"near", "far" or "water": where a place scene's object is, read from its edges."""
    o = g.nodes("object")[0] if g.nodes("object") else None
    rel = {(g.attr(v, "type"), r) for u, v, r in g.graph.edges(data="relation") if u == o}
    if ("water", "in") in rel:
        return "water"
    if ("sand", "on") in rel and ("water", "next to") in rel:
        return "near"
    if ("sand", "on") in rel and ("water", "far from") in rel:
        return "far"
    return None


def stated_place(words: list[str]) -> str:
    """Where the prompt puts the object."""
    if any(w in NEAR_WORDS for w in words):
        return "near"
    if "far" in words:
        return "far"
    if "water" in words and "in" in words:
        return "water"
    raise GraphError("prompt: a place scene says where the object is: 'close to the water and "
                     "on the sand', 'far from the water and on the sand' or 'in the water'")


# --- the questions (canonical px, RGB units 0..255)
NEAR_MAX = 0.45        #: object widths from the shore within which the object is close to it
FAR_MIN = 0.7          #: object widths from the shore from which it is far from it


def _shore(mix: Any, blob: Any) -> tuple[str, float] | None:
    """Which side the water is on and the shore's x (canonical px), from the water's share of
    the floor rows, the object's pixels left out."""
    sand, water = mix.share[..., 1], mix.share[..., 2]
    floor = sand + water
    rows = floor.mean(1) >= 0.6
    keep = np.ones_like(floor, bool) if blob is None else \
        ~ndimage.binary_dilation(blob.region, EIGHT, iterations=1)
    keep &= rows[:, None]
    wf = (water * keep).sum(0) / np.maximum((floor * keep).sum(0), 1e-6)
    width = float(wf.sum())
    if width < 3 or width > CANON - 3:
        return None
    half = CANON // 2
    side = "right" if wf[half:].sum() > wf[:half].sum() else "left"
    return side, (CANON - width if side == "right" else width)


#: place -> (the place it is moved to, the question that move breaks)
MOVES = {"near": (("water", "on_sand"), ("far", "close_to_water")),
         "far": (("water", "on_sand"), ("near", "far_from_water")),
         "water": (("near", "in_water"), ("far", "in_water"))}


def _move_to(g: CausalSceneGraph, place: str, rng: np.random.Generator) -> CausalSceneGraph:
    """The place scene with its object at ``place`` (the layout's rule, this scene's shore)."""
    h = g.copy()
    o = h.nodes("object")[0]
    wb = h.node(h.surface("water"))["box"]
    right = wb[2] >= 0.999
    shore = wb[0] if right else 1.0 - wb[2]
    flip = (lambda u: u) if right else (lambda u: 1.0 - u)  # noqa: E731
    w = OBJECT_W[h.attr(o, "size", "small")]
    if place == "near":
        u = shore - rng.uniform(*NEAR_GAP) - w / 2
    elif place == "far":
        u = 0.16 + rng.uniform(-0.05, 0.05)
    else:
        u = shore + 0.19 + rng.uniform(-0.04, 0.04)
    put(h, o, object_box(h, o, flip(u), h.node(o)["box"][3]))
    return h


def _shore_scene(g: CausalSceneGraph, place: str) -> None:
    """A place scene's sand, water and the object's edges for ``place``."""
    g.add_node("sand", "surface", type="sand")
    g.add_node("water", "surface", type="water")
    if place == "water":
        g.add_edge("obj0", "water", "in")
    else:
        g.add_edge("obj0", "sand", "on")
        g.add_edge("obj0", "water", "next to" if place == "near" else "far from")


@register
class Place(Category):
    name = "place"
    cue_words = frozenset({"sand"})
    cue_rank = 30
    objects = 1
    surface = "water"
    counted = True
    new_words = ("close", "far", "away", "edge", "off", "sand", "well")
    donor_slots = {"structure": (("object", "shape"),), "texture": ()}

    def read(self, tok: Tokens) -> tuple[CausalSceneGraph, list[dict[str, str]]]:
        g, stated = objects_graph(tok, self.name, JAR_AND_PLACE_WORDS)
        _shore_scene(g, stated_place(tok.words))
        return g, stated

    def recognise(self, og: CausalSceneGraph
                  ) -> tuple[CausalSceneGraph, list[dict[str, str]]] | None:
        """One object (told by colour) and water, perhaps sand: in the water (perhaps off the
        sand), or next to / close to or far from it (perhaps on the sand).  An object in the
        water must have a colour and no material: one told by material, or by nothing, is
        buoyancy's ("a wood cone in the water")."""
        scene = OpenScene(og)
        objs, waters, sands = scene.shaped(), scene.named("water"), scene.named("sand")
        if len(objs) != 1 or len(waters) != 1 or len(sands) > 1 or \
                not all(scene.plain(n) for n in waters + sands):
            return None
        o, w, s = objs[0], waters[0], (sands or [None])[0]
        obj = scene.object(o, self.by_material)
        if obj is None:
            return None
        near = [scene.has(o, rel, w) for rel in ("next to", "close to")]
        far, inside = scene.has(o, "far from", w), scene.has(o, "in", w)
        on, off = scene.has(o, "on", s), scene.has(o, "off", s)
        if inside and "colour" in obj and not (any(near) or far or on):
            place = "water"
        elif any(near) != far and not (inside or off):
            place = "near" if any(near) else "far"
        else:
            return None
        g, stated = stated_graph(self.name, [obj])
        _shore_scene(g, place)
        return (g, stated) if scene.complete(g) else None

    def caption(self, g: CausalSceneGraph, explicit: bool) -> str:
        """``explicit`` adds where the object stands (no implicit effect: it restates the
        graph's place)."""
        obj = object_phrase(g, g.nodes("object")[0], False)
        said, more = PHRASES[place_of(g)]
        s = f"a {obj} {said}"
        return s + more if explicit else s

    def check(self, g: CausalSceneGraph) -> None:
        if g.surface("sand") is None or place_of(g) not in PLACES:
            raise GraphError("edges: a place scene needs a sand and a water surface and its "
                             "object 'in' the water, or 'on' the sand and 'next to' or "
                             "'far from' the water")

    def layout(self, g: CausalSceneGraph, jit: Jitter) -> None:
        """The water on the right (or, for a negative draw, the left) of the floor, the rest
        sand; positions are measured from the sand's side (``u``) and mirrored for water on the
        left."""
        right = jit(1.0) >= 0.0
        shore = SHORE + jit(0.05)
        flip = (lambda u: u) if right else (lambda u: 1.0 - u)  # noqa: E731
        wx = sorted((flip(shore), flip(1.0)))
        put(g, g.surface("water"), [wx[0], FLOOR_Y, wx[1], 1.0])
        put(g, g.surface("sand"), [0.0, FLOOR_Y, 1.0, 1.0])
        o = g.nodes("object")[0]
        w = OBJECT_W[g.attr(o, "size", "small")]
        place = place_of(g)
        if place == "near":
            lo, hi = NEAR_GAP
            u = shore - ((lo + hi) / 2 + jit((hi - lo) / 2)) - w / 2
        elif place == "far":
            u = 0.16 + jit(0.05)
        else:
            u = shore + 0.19 + jit(0.04)
        base = 0.83 + jit(0.04)
        put(g, o, object_box(g, o, flip(u), base))

    def draw(self, cv: Canvas, g: CausalSceneGraph, floor: np.ndarray) -> None:
        """The floor as sand, the water over part of it, then the object."""
        sand, water = g.surface("sand"), g.surface("water")
        wm = cv.rect(box(g, water)) & floor
        cv.paint(floor, SAND)
        cv.paint(wm, WATER)
        cv.mark(sand, floor & ~wm)
        cv.mark(water, wm)
        draw_object(cv, g, g.nodes("object")[0])

    def questions(self, g: CausalSceneGraph, img: np.ndarray, raw: np.ndarray) -> Answers:
        cols, names = colour_palette()
        mix = unmix(img, [WALL, SAND, WATER], cols, names, pairs=[(0, 1), (0, 2), (1, 2)])
        o, blob, ans = single_object(g, raw, mix)
        place = place_of(g)
        asked = {"near": ("on_sand", "close_to_water"), "far": ("on_sand", "far_from_water"),
                 "water": ("in_water",)}[place]
        shore = _shore(mix, blob)
        if blob is None or shore is None:
            ans.physics.update({q: False for q in asked})
            ans.meas["undetermined"] = list(asked)
            ans.per_node[g.surface("water")] = "no shore found" if shore is None else "water"
            return ans
        side, x = shore
        toward = 1.0 if side == "right" else -1.0
        depth = toward * (blob.cx - x) / blob.width           # > 0: centre on the water's side
        gap = (x - (blob.x1 + 1) if side == "right" else blob.x0 - x) / blob.width
        seen = {"in_water": depth > 0, "on_sand": depth <= 0,
                "close_to_water": depth <= 0 and gap <= NEAR_MAX,
                "far_from_water": depth <= 0 and gap >= FAR_MIN}
        ans.physics.update({q: bool(seen[q]) for q in asked})
        margins = {"in_water": depth / 0.5, "on_sand": -depth / 0.5,
                   "close_to_water": (NEAR_MAX - gap) / NEAR_MAX, "far_from_water": gap - FAR_MIN}
        ans.meas.update(water_side=side, shore_x=x / CANON, gap_widths=gap, depth_widths=depth,
                        physics_margin=min(margins[q] for q in asked))
        where = "in the water" if depth > 0 else f"on the sand, {gap:.2f} widths from the water"
        ans.per_node[o] += f"; {where}"
        ans.per_node[g.surface("water")] = f"water on the {side}, shore at x={fmt(x / CANON)}"
        ans.per_node[g.surface("sand")] = "sand"
        return ans

    def refit(self, g: CausalSceneGraph) -> CausalSceneGraph:
        o = g.nodes("object")[0]
        b = g.node(o)["box"]
        put(g, o, object_box(g, o, (b[0] + b[2]) / 2, b[3]))
        return g

    def counterfactuals(self, g: CausalSceneGraph, size: int, rng: np.random.Generator
                        ) -> list[Counterfactual]:
        """The object moved to each of the two other places, asking whichever question the
        move breaks; another colour or shape."""
        out = [(question, f"moved: {place}", render(_move_to(g, place, rng), size).image, g)
               for place, question in MOVES[place_of(g)]]
        return out + texture(self, g, size, rng, per_object=False)

    def random_prompt(self, rng: np.random.Generator, more_share: float) -> str:
        """Each place equally likely."""
        pick = lambda xs: xs[int(rng.integers(len(xs)))]  # noqa: E731
        obj = f"{pick(list(COLOURS))} {pick(SHAPES)}"
        return {"near": f"a {obj} close to the water and on the sand",
                "far": f"a {obj} far from the water and on the sand",
                "water": f"a {obj} in the water, off the sand"}[pick(PLACES)]

    def held_out_key(self, g: CausalSceneGraph) -> tuple[str, ...]:
        """(shape, place)."""
        return (g.attr(g.nodes("object")[0], "shape"), str(place_of(g)))

    def switched(self, prompt: str, rng: np.random.Generator) -> str:
        """On the sand far from the water for one close to it or in it, else close to it;
        another colour."""
        obj = re.match(r"an? (\w+ \w+) ", prompt).group(1)
        near = "close to the water and on the sand"
        far = "far from the water and on the sand"
        to = far if near in prompt or "in the water" in prompt else near
        return recolour(f"a {obj} {to}", rng)
