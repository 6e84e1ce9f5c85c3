"""``fill``: a jar filled with sand, soil or water to a stated level ("a tall jar with more sand
than empty space" / "... with more empty space than sand").  Graph: ``fill -in-> jar -on->
floor``; the fill surface has ``material`` and ``level`` ("more": more material than empty
space, "less": less).  The exact level is the fill box's share of the jar's inside."""
from __future__ import annotations

import numpy as np

from ...csg.geometry import FLOOR_Y, put
from ...csg.graph import CausalSceneGraph
from ...csg.relational_scenes import fill_of
from ...csg.vocabulary import FILL_MATERIALS
from ..canvas import GLASS, Canvas, box
from .base import Category, Jitter, register

#: a jar's inside (width, height) per shape; its glass wall and lid (fractions of the picture)
JAR_INSIDE = {"tall": (0.22, 0.44), "wide": (0.42, 0.30)}
JAR_GLASS = 0.025
JAR_LID = 0.04
#: the fill's share of the jar's inside: centre and half-range per level (never near 1/2)
FILL_SHARE = {"more": (0.74, 0.11), "less": (0.26, 0.11)}
JAR_EMPTY = np.array((200, 225, 235), np.float32)   #: a jar's empty inside (frosted glass)
LID_COLOUR = np.array((90, 95, 110), np.float32)


def fill_colour(material: str) -> np.ndarray:
    return np.array(FILL_MATERIALS[material], np.float32)


def jar_inside(jar_box: list[float]) -> list[float]:
    """The inside of a jar drawn in ``jar_box`` (glass walls, bottom and lid removed)."""
    return [jar_box[0] + JAR_GLASS, jar_box[1] + JAR_LID, jar_box[2] - JAR_GLASS,
            jar_box[3] - JAR_GLASS]


@register
class Fill(Category):
    name = "fill"

    def layout(self, g: CausalSceneGraph, jit: Jitter) -> None:
        jar, fill = g.surface("jar"), fill_of(g)
        w, h = JAR_INSIDE[g.attr(jar, "shape")]
        cx = 0.5 + jit(0.12)
        bottom = 0.86 + jit(0.03)
        put(g, jar, [cx - w / 2 - JAR_GLASS, bottom - h - JAR_LID, cx + w / 2 + JAR_GLASS,
                     bottom + JAR_GLASS])
        centre, half = FILL_SHARE[g.attr(fill, "level")]
        share = centre + jit(half)
        put(g, fill, [cx - w / 2, bottom - share * h, cx + w / 2, bottom])
        put(g, g.surface("floor"), [0.0, FLOOR_Y, 1.0, 1.0])

    def draw(self, cv: Canvas, g: CausalSceneGraph, floor: np.ndarray) -> None:
        """A glass jar (walls, bottom, a lid), its empty inside, and the fill from the bottom
        up."""
        jar = g.surface("jar")
        jb = box(g, jar)
        outer = cv.rect(jb)
        inside = cv.rect(jar_inside(jb))
        lid = cv.rect([jb[0] - 0.01, jb[1], jb[2] + 0.01, jb[1] + JAR_LID])
        cv.paint(outer, GLASS)
        cv.paint(inside, JAR_EMPTY)
        cv.paint(lid, LID_COLOUR)
        cv.mark(jar, outer | lid)
        f = fill_of(g)
        fm = cv.rect(box(g, f)) & inside
        cv.paint(fm, fill_colour(g.attr(f, "material")))
        cv.mark(f, fm)
