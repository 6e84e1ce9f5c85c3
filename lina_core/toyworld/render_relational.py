"""The ToyWorld v2 scenes drawn (issue 16): ``roles``, ``fill``, ``place``.

Called by :func:`.render.render` with the same canvas (wall, floor, supersampling), through its
table ``render.DRAW`` that this module fills when imported (``toyworld/__init__`` imports it);
geometry comes only from the node boxes :func:`lina_core.csg.layout` assigns
(:mod:`lina_core.csg.relational_scenes`).
"""
from __future__ import annotations

import numpy as np

from ..csg import FILL_MATERIALS, CausalSceneGraph
from ..csg.relational_scenes import JAR_LID as LID_HEIGHT, fill_of, jar_inside, top_bottom
from .render import DRAW, GLASS, WATER, _box, _Canvas, _draw_object

SAND = np.array(FILL_MATERIALS["sand"], np.float32)
JAR_EMPTY = np.array((200, 225, 235), np.float32)   #: a jar's empty inside (frosted glass)
JAR_LID = np.array((90, 95, 110), np.float32)


def fill_colour(material: str) -> np.ndarray:
    return np.array(FILL_MATERIALS[material], np.float32)


def _draw_roles(cv: _Canvas, g: CausalSceneGraph, floor: np.ndarray) -> None:
    """The bottom object on the floor, then the top one resting on it (in front of it)."""
    top, bottom = top_bottom(g)
    _draw_object(cv, g, bottom)
    _draw_object(cv, g, top)


def _draw_fill(cv: _Canvas, g: CausalSceneGraph, floor: np.ndarray) -> None:
    """A glass jar (walls, bottom, a lid), its empty inside, and the fill from the bottom up."""
    jar = g.surface("jar")
    jb = _box(g, jar)
    outer = cv.rect(jb)
    inside = cv.rect(jar_inside(jb))
    lid = cv.rect([jb[0] - 0.01, jb[1], jb[2] + 0.01, jb[1] + LID_HEIGHT])
    cv.paint(outer, GLASS)
    cv.paint(inside, JAR_EMPTY)
    cv.paint(lid, JAR_LID)
    cv.mark(jar, outer | lid)
    f = fill_of(g)
    fm = cv.rect(_box(g, f)) & inside
    cv.paint(fm, fill_colour(g.attr(f, "material")))
    cv.mark(f, fm)


def _draw_place(cv: _Canvas, g: CausalSceneGraph, floor: np.ndarray) -> None:
    """The floor as sand, the water over part of it, then the object."""
    sand, water = g.surface("sand"), g.surface("water")
    wm = cv.rect(_box(g, water)) & floor
    cv.paint(floor, SAND)
    cv.paint(wm, WATER)
    cv.mark(sand, floor & ~wm)
    cv.mark(water, wm)
    _draw_object(cv, g, g.nodes("object")[0])


DRAW.update({"roles": _draw_roles, "fill": _draw_fill, "place": _draw_place})
