"""``scale``: two objects on the floor, one larger than the other ("a red ball larger than a
blue cube"); no implicit effect, the comparison fixes both sizes."""
from __future__ import annotations

import math
import re

import numpy as np

from ...csg.captions import object_phrase
from ...csg.geometry import FLOOR_Y, object_box, put
from ...csg.graph import CausalSceneGraph, GraphError
from ...csg.vocabulary import COLOURS, SHAPES
from ...csg.words import Tokens
from ..answers import Answers, ask_count, colour_palette, object_nodes, texture_single
from ..blobs import Blob, find_blobs
from ..canvas import FLOOR, WALL, Canvas, draw_floor_scene
from ..counterfactual import Counterfactual, refit_standing, texture
from ..prompt_edits import recolour
from ..render import render
from ..unmix import unmix
from .base import Jitter, register
from .caused import CausedCategory
from .open_scene import OpenScene


@register
class Scale(CausedCategory):
    name = "scale"
    cue_words = frozenset({"larger", "smaller"})
    cue_rank = 70
    objects = 2
    counted = True

    def read(self, tok: Tokens) -> tuple[CausalSceneGraph, list[dict[str, str]]]:
        """The template "X larger (smaller) than Y".  Without "than" the comparison word is an
        adjective of one object ("a blue cube and a bigger red ball"), which this template
        would misread as the first object larger: refused, so the prompt is not drawn the
        wrong way round."""
        if "than" not in tok.words:
            raise GraphError("prompt: a scale scene compares two objects as 'a red ball larger "
                             "than a blue cube'")
        return super().read(tok)

    def add_scene(self, g: CausalSceneGraph, canon: list[str], mirror: dict[str, str]) -> None:
        """A floor, the sizes the comparison implies and its 'larger than' edge."""
        first_larger = "smaller" not in canon
        g.add_node("floor", "surface", type="floor")
        big, small = ("obj0", "obj1") if first_larger else ("obj1", "obj0")
        g.graph.nodes[big]["attrs"]["size"] = "large"
        g.graph.nodes[small]["attrs"]["size"] = "small"
        g.add_edge(big, small, "larger than")
        # one edge per ordered pair in a DiGraph: state the order from the other side
        if first_larger:
            g.add_edge("obj1", "obj0", "right of")
        else:
            g.add_edge("obj0", "obj1", "left of")

    def find(self, scene: OpenScene) -> tuple[list[dict[str, str]], list[str],
                                               dict[str, str]] | None:
        """Two objects (told by colour), perhaps on the floor, one larger than the other
        (either said of either); a stated size the comparison contradicts is refused (the
        scene sets the sizes)."""
        objs = scene.shaped()
        if len(objs) != 2 or not scene.floor(objs):
            return None
        a, b = objs
        larger = [scene.has(a, "larger than", b), scene.has(b, "smaller than", a)]
        smaller = [scene.has(a, "smaller than", b), scene.has(b, "larger than", a)]
        found = [scene.object(o, self.by_material) for o in objs]
        if any(larger) == any(smaller) or None in found:
            return None
        sizes = ("large", "small") if any(larger) else ("small", "large")
        if any(o.get("size", s) != s for o, s in zip(found, sizes)):   # type: ignore[union-attr]
            return None
        return found, [] if any(larger) else ["smaller"], {}   # type: ignore[return-value]

    def caption(self, g: CausalSceneGraph, explicit: bool) -> str:
        a, b = g.nodes("object")
        rel = "larger" if g.attr(a, "size") == "large" else "smaller"
        s = (f"a {object_phrase(g, a, with_size=False)} {rel} than a "
             f"{object_phrase(g, b, with_size=False)}")
        if explicit:
            big = a if rel == "larger" else b
            s += f", the {g.attr(big, 'colour')} one is bigger"
        return s

    def check(self, g: CausalSceneGraph) -> None:
        if not any(r == "larger than" for _, _, r in g.graph.edges(data="relation")):
            raise GraphError("edges: a scale scene needs a 'larger than' edge between its "
                             "two objects")

    def layout(self, g: CausalSceneGraph, jit: Jitter) -> None:
        put(g, g.surface("floor"), [0.0, FLOOR_Y, 1.0, 1.0])
        base = 0.82 + jit(0.03)
        xs = (0.28 + jit(0.04), 0.72 + jit(0.04))
        for n, cx in zip(g.nodes("object"), xs):
            put(g, n, object_box(g, n, cx, base))

    def draw(self, cv: Canvas, g: CausalSceneGraph, floor: np.ndarray) -> None:
        draw_floor_scene(cv, g, floor)

    def questions(self, g: CausalSceneGraph, img: np.ndarray, raw: np.ndarray) -> Answers:
        cols, names = colour_palette()
        mix = unmix(img, [WALL, FLOOR], cols, names, pairs=[(0, 1)])
        blobs = find_blobs(mix)
        ans = Answers()
        found: dict[str, Blob | None] = {}
        for n in object_nodes(g):
            want = g.attr(n, "colour")
            cand = [b for b in blobs if b.colour == want]
            found[n] = cand[0] if cand else None
            ans.add(texture_single(g, raw, mix, found[n], n, "colour", prefix=f"{n}."))
        ask_count(g, mix, ans)
        pairs = [(u, v) for u, v, r in g.graph.edges(data="relation") if r == "larger than"]
        if not pairs:
            objs = object_nodes(g)
            big = [n for n in objs if g.attr(n, "size") == "large"]
            small = [n for n in objs if g.attr(n, "size") != "large"]
            pairs = [(big[0], small[0])] if big and small else []
        ok = bool(pairs)
        margins = []
        for u, v in pairs:
            bu, bv = found.get(u), found.get(v)
            if bu is None or bv is None:
                ok = False
                ans.meas["undetermined"] = ["larger"]
                continue
            ratio = bu.mass / max(bv.mass, 1e-6)
            ans.meas[f"area_ratio_{u}_{v}"] = ratio
            ok = ok and ratio > 1.0
            margins.append(math.log(max(ratio, 1e-6)) / math.log(4.0))
        if margins and "undetermined" not in ans.meas:
            ans.meas["physics_margin"] = min(margins)
        ans.physics["larger"] = bool(ok)
        for f in g.nodes("surface"):
            ans.per_node.setdefault(f, "floor")
        return ans

    def refit(self, g: CausalSceneGraph) -> CausalSceneGraph:
        return refit_standing(g)

    def counterfactuals(self, g: CausalSceneGraph, size: int, rng: np.random.Generator
                        ) -> list[Counterfactual]:
        """The two sizes swapped; another colour or shape."""
        h = g.copy()
        for n in h.nodes("object"):
            a = h.graph.nodes[n]["attrs"]
            a["size"] = "small" if a.get("size") == "large" else "large"
        self.refit(h)
        out = [("larger", "sizes swapped", render(h, size).image, g)]
        return out + texture(self, g, size, rng, per_object=True)

    def random_prompt(self, rng: np.random.Generator, more_share: float) -> str:
        pick = lambda xs: xs[int(rng.integers(len(xs)))]  # noqa: E731
        colours = list(COLOURS)
        c1, c2 = rng.choice(len(colours), 2, replace=False)
        return (f"a {colours[c1]} {pick(SHAPES)} {pick(('larger', 'smaller'))} than a "
                f"{colours[c2]} {pick(SHAPES)}")

    def held_out_key(self, g: CausalSceneGraph) -> tuple[str, ...]:
        """(the larger one's shape, the smaller one's)."""
        big = next(u for u, v, r in g.graph.edges(data="relation") if r == "larger than")
        small = next(v for u, v, r in g.graph.edges(data="relation") if r == "larger than")
        return (g.attr(big, "shape"), g.attr(small, "shape"))

    def switched(self, prompt: str, rng: np.random.Generator) -> str:
        """The comparison turned round, another colour."""
        swap = {"larger": "smaller", "smaller": "larger"}
        return recolour(re.sub(r"\b(larger|smaller)\b", lambda m: swap[m.group(1)], prompt,
                               count=1), rng)
