"""``roles``: two objects, one resting on top of the other, in either order ("a red ball on top
of a blue cube" / "a blue cube on top of a red ball").  Graph: ``obj0 -on-> obj1 -on->
floor``; ``obj0`` is the top one.  No implicit effect: what it tests is who is on top."""
from __future__ import annotations

import numpy as np

from ...csg.geometry import FLOOR_Y, object_box, put
from ...csg.graph import CausalSceneGraph
from ...csg.relational_scenes import top_bottom
from ..canvas import Canvas, draw_object
from .base import Category, Jitter, register


@register
class Roles(Category):
    name = "roles"

    def layout(self, g: CausalSceneGraph, jit: Jitter) -> None:
        top, bottom = top_bottom(g)
        cx = 0.5 + jit(0.2)
        base = 0.84 + jit(0.03)
        bb = object_box(g, bottom, cx, base)
        put(g, bottom, bb)
        put(g, top, object_box(g, top, cx, bb[1]))
        put(g, g.surface("floor"), [0.0, FLOOR_Y, 1.0, 1.0])

    def draw(self, cv: Canvas, g: CausalSceneGraph, floor: np.ndarray) -> None:
        """The bottom object on the floor, then the top one resting on it (in front of it)."""
        top, bottom = top_bottom(g)
        draw_object(cv, g, bottom)
        draw_object(cv, g, top)
