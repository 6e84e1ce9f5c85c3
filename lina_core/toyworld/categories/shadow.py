"""``shadow``: one object on the floor, lit from the left, the right or above; the implicit
effect is its shadow, cast away from the light ("a red ball on the floor, lit from the left")."""
from __future__ import annotations

import numpy as np

from ...csg.geometry import FLOOR_Y, LIGHT_X, object_box, put
from ...csg.graph import CausalSceneGraph
from ..canvas import Canvas, draw_floor_scene
from .base import Category, Jitter, register


@register
class Shadow(Category):
    name = "shadow"

    def layout(self, g: CausalSceneGraph, jit: Jitter) -> None:
        cx = 0.5 + jit(0.18)
        base = 0.80 + jit(0.04)
        o = g.nodes("object")[0]
        ob = object_box(g, o, cx, base)
        put(g, o, ob)
        put(g, g.surface("floor"), [0.0, FLOOR_Y, 1.0, 1.0])
        light = g.nodes("light")[0]
        lx = LIGHT_X[g.attr(light, "side")]
        put(g, light, [lx - 0.08, 0.04, lx + 0.08, 0.20])
        w = ob[2] - ob[0]
        for e in g.effects("shadow"):
            off = {"left": -0.75, "right": 0.75, "below": 0.0}[g.attr(e, "side")] * w
            put(g, e, [ob[0] + off - 0.05 * (off != 0), ob[3] - 0.06,
                       ob[2] + off + 0.05 * (off != 0), ob[3] + 0.07])

    def draw(self, cv: Canvas, g: CausalSceneGraph, floor: np.ndarray) -> None:
        draw_floor_scene(cv, g, floor)
