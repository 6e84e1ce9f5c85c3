"""``place``: an object placed by two relations at once or in the water ("a red ball close to
the water and on the sand" / "a red ball far from the water and on the sand" / "a red ball in
the water, off the sand").  Graph: ``obj0 -on-> sand`` plus ``-next to-> water`` or ``-far
from-> water``, or ``obj0 -in-> water``."""
from __future__ import annotations

import numpy as np

from ...csg.geometry import FLOOR_Y, OBJECT_W, object_box, put
from ...csg.graph import CausalSceneGraph
from ...csg.relational_scenes import place_of
from ...csg.vocabulary import FILL_MATERIALS
from ..canvas import WATER, Canvas, box, draw_object
from .base import Category, Jitter, register

#: where the shore is (from the sand's side), how close "near" is
SHORE = 0.58
NEAR_GAP = (0.005, 0.025)
SAND = np.array(FILL_MATERIALS["sand"], np.float32)


@register
class Place(Category):
    name = "place"

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
