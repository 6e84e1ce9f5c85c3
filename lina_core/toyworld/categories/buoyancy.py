"""``buoyancy``: one object of a material in a beaker of water ("a cork ball in a beaker of
water"); the implicit effects are its fate (floating or sinking, by density) and the
refraction of its submerged part."""
from __future__ import annotations

import numpy as np

from ...csg.captions import object_phrase
from ...csg.geometry import OBJECT_W, WATER_BOX, aspect, put
from ...csg.graph import CausalSceneGraph
from ...csg.vocabulary import DENSITY
from ..canvas import GLASS, REFRACTION_SHIFT, WATER, WATER_TINT, Canvas, box, object_colour
from .base import Jitter, register
from .caused import CausedCategory


@register
class Buoyancy(CausedCategory):
    name = "buoyancy"
    cue_words = open_world_cues = frozenset({"water", "beaker"})
    cue_rank = 50

    def add_scene(self, g: CausalSceneGraph, canon: list[str], mirror: dict[str, str]) -> None:
        g.add_node("water", "surface", type="water")
        g.add_edge("obj0", "water", "in")

    def caption(self, g: CausalSceneGraph, explicit: bool) -> str:
        s = f"a {object_phrase(g, g.nodes('object')[0], with_size=False)} in a beaker of water"
        if explicit:
            s += ", floating at the surface" if g.effects("floating") else ", sunk to the bottom"
            s += ", its submerged part bent by refraction"
        return s

    def check(self, g: CausalSceneGraph) -> None:
        """Nothing beyond the shared checks (the water is the required surface)."""

    def layout(self, g: CausalSceneGraph, jit: Jitter) -> None:
        wb = list(WATER_BOX)
        wb[0] += jit(0.02)
        wb[2] += jit(0.02)
        put(g, g.surface("water"), wb)
        o = g.nodes("object")[0]
        cx = (wb[0] + wb[2]) / 2 + jit(0.08)
        w = OBJECT_W["small"] * 1.1
        h = w * aspect(g.attr(o, "shape"))
        if g.effects("floating"):
            top = wb[1] - h * (1.0 - DENSITY[g.attr(o, "material")]) - 0.01
        else:
            top = wb[3] - h - 0.01
        put(g, o, [cx - w / 2, top, cx + w / 2, top + h])
        for e in g.effects("floating") + g.effects("sinking"):
            put(g, e, [cx - w / 2, top, cx + w / 2, top + h])
        for e in g.effects("refraction"):
            put(g, e, [cx - w / 2, max(top, wb[1]), cx + w / 2 + 0.06, top + h])

    def draw(self, cv: Canvas, g: CausalSceneGraph, floor: np.ndarray) -> None:
        """A beaker of water and the object, its submerged part tinted and shifted sideways."""
        w = g.surface("water")
        wb = box(g, w)
        glass_box = [wb[0] - 0.025, wb[1] - 0.12, wb[2] + 0.025, wb[3] + 0.025]
        glass = cv.rect(glass_box) & ~cv.rect([wb[0], glass_box[1] - 0.01, wb[2], wb[3]])
        water = cv.rect(wb)
        cv.paint(glass, GLASS)
        cv.paint(water, WATER)
        cv.mark(w, water | glass)
        o = g.nodes("object")[0]
        ob = box(g, o)
        col = object_colour(g, o)
        shape = g.attr(o, "shape")
        above = cv.shape(shape, ob) & (cv.y < wb[1])
        shift = REFRACTION_SHIFT
        below = cv.shape(shape, [ob[0] + shift, ob[1], ob[2] + shift, ob[3]]) \
            & (cv.y >= wb[1]) & water
        cv.occlude(above | below)
        cv.paint(above, col)
        cv.paint(below, col * (1 - WATER_TINT) + WATER * WATER_TINT)
        cv.mark(o, above | below)
        for e in g.effects("floating") + g.effects("sinking"):
            cv.mark(e, above | below)
        for e in g.effects("refraction"):
            cv.mark(e, below)
