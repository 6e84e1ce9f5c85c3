"""``scale``: two objects on the floor, one larger than the other ("a red ball larger than a
blue cube"); no implicit effect, the comparison fixes both sizes."""
from __future__ import annotations

import numpy as np

from ...csg.geometry import FLOOR_Y, object_box, put
from ...csg.graph import CausalSceneGraph
from ..canvas import Canvas, draw_floor_scene
from .base import Category, Jitter, register


@register
class Scale(Category):
    name = "scale"

    def layout(self, g: CausalSceneGraph, jit: Jitter) -> None:
        put(g, g.surface("floor"), [0.0, FLOOR_Y, 1.0, 1.0])
        base = 0.82 + jit(0.03)
        xs = (0.28 + jit(0.04), 0.72 + jit(0.04))
        for n, cx in zip(g.nodes("object"), xs):
            put(g, n, object_box(g, n, cx, base))

    def draw(self, cv: Canvas, g: CausalSceneGraph, floor: np.ndarray) -> None:
        draw_floor_scene(cv, g, floor)
