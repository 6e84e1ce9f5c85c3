"""Counterfactual renders of the ToyWorld v2 scenes for :mod:`.verify_eval` (issue 16).

Each is the same scene with one thing drawn wrong, and the question that should then say False:

* roles: the two objects' roles swapped (the bottom one drawn on top), the two side by side on
  the floor (``on_top``); the top one lifted off the other (``touching``);
* fill: the other level (the fill's share ``s`` drawn as ``1 - s``; ``fill_level``);
* place: the object moved to each of the two other places (in the water, close to it on the
  sand, far from it on the sand): ``on_sand`` / ``close_to_water`` / ``far_from_water`` /
  ``in_water``, whichever the move breaks;
* texture: another colour (not the other object's), another shape; another fill material,
  another jar shape.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..csg import FILL_MATERIALS, JAR_SHAPES, OBJECT_W, CausalSceneGraph
from ..csg.geometry import object_box as _obj_box, put as _put   # the layout's box helpers
from .categories.fill import JAR_GLASS, JAR_INSIDE, JAR_LID, fill_of, jar_inside
from .categories.place import NEAR_GAP, place_of
from .categories.roles import top_bottom
from .render import render

LIFT = 0.15            #: how far a lifted top object floats above the bottom one


def relayout_relational(g: CausalSceneGraph, lift: float = 0.0) -> CausalSceneGraph:
    """Boxes recomputed with the layout's rules after an attribute edit, keeping the scene's
    jitter read from the current boxes (the bottom object's centre and base, the jar's centre,
    bottom and fill share, the object's centre and base); ``lift`` raises a top object."""
    box = lambda n: g.node(n)["box"]  # noqa: E731
    if g.category == "roles":
        top, bottom = top_bottom(g)
        bb = box(bottom)
        cx = (bb[0] + bb[2]) / 2
        nb = _obj_box(g, bottom, cx, bb[3])
        _put(g, bottom, nb)
        _put(g, top, _obj_box(g, top, cx, nb[1] - lift))
    elif g.category == "fill":
        jar, fill = g.surface("jar"), fill_of(g)
        old = jar_inside(box(jar))
        share = (old[3] - box(fill)[1]) / (old[3] - old[1])
        cx, bottom = (old[0] + old[2]) / 2, old[3]
        w, h = JAR_INSIDE[g.attr(jar, "shape")]
        _put(g, jar, [cx - w / 2 - JAR_GLASS, bottom - h - JAR_LID, cx + w / 2 + JAR_GLASS,
                      bottom + JAR_GLASS])
        _put(g, fill, [cx - w / 2, bottom - share * h, cx + w / 2, bottom])
    elif g.category == "place":
        o = g.nodes("object")[0]
        b = box(o)
        _put(g, o, _obj_box(g, o, (b[0] + b[2]) / 2, b[3]))
    return g


def _swap_roles(g: CausalSceneGraph) -> CausalSceneGraph:
    h = g.copy()
    top, bottom = top_bottom(h)
    nodes = h.graph.nodes
    nodes[top]["attrs"], nodes[bottom]["attrs"] = nodes[bottom]["attrs"], nodes[top]["attrs"]
    return relayout_relational(h)


def _side_by_side(g: CausalSceneGraph, rng: np.random.Generator) -> CausalSceneGraph:
    h = g.copy()
    top, bottom = top_bottom(h)
    bb = h.node(bottom)["box"]
    cx = (bb[0] + bb[2]) / 2
    d = (0.22 + rng.uniform(0.0, 0.04)) * (1 if cx < 0.5 else -1)
    _put(h, top, _obj_box(h, top, cx + d, bb[3]))
    return h


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
    _put(h, o, _obj_box(h, o, flip(u), h.node(o)["box"][3]))
    return h


#: place -> (the place it is moved to, the question that move breaks)
_PLACE_CFS = {"near": (("water", "on_sand"), ("far", "close_to_water")),
              "far": (("water", "on_sand"), ("near", "far_from_water")),
              "water": (("near", "in_water"), ("far", "in_water"))}


def _fill_cfs(g: CausalSceneGraph, size: int, rng: np.random.Generator) -> list[Any]:
    out = []
    h = g.copy()
    jar, fill = h.surface("jar"), fill_of(h)
    inside = jar_inside(h.node(jar)["box"])
    fb = h.node(fill)["box"]
    share = (inside[3] - fb[1]) / (inside[3] - inside[1])
    fb[1] = inside[3] - (1.0 - share) * (inside[3] - inside[1])
    out.append(("fill_level", "the other level", render(h, size).image, g))
    h = g.copy()
    mat = g.attr(fill, "material")
    others = [m for m in FILL_MATERIALS if m != mat]
    h.node(fill)["attrs"]["material"] = others[int(rng.integers(len(others)))]
    out.append(("material", "other material", render(h, size).image, g))
    h = g.copy()
    h.node(jar)["attrs"]["shape"] = next(s for s in JAR_SHAPES if s != g.attr(jar, "shape"))
    out.append(("jar_shape", "other jar shape", render(relayout_relational(h), size).image, g))
    return out


def relational_counterfactuals(g: CausalSceneGraph, size: int, rng: np.random.Generator,
                       texture_cfs: Callable[..., list[Any]]) -> list[Any]:
    """(question, variant, image, graph) for a v2 scene; the objects' texture ones come from
    ``texture_cfs`` (:func:`.verify_eval._texture_cfs`, passed in: :mod:`.verify_eval` imports
    this module, not the other way round)."""
    if g.category == "fill":
        return _fill_cfs(g, size, rng)
    out = []
    if g.category == "roles":
        out.append(("on_top", "roles swapped", render(_swap_roles(g), size).image, g))
        out.append(("on_top", "side by side", render(_side_by_side(g, rng), size).image, g))
        lifted = relayout_relational(g.copy(), lift=LIFT)
        out.append(("touching", "top one lifted off", render(lifted, size).image, g))
        return out + texture_cfs(g, size, rng, per_object=True)
    for place, question in _PLACE_CFS[place_of(g)]:
        out.append((question, f"moved: {place}", render(_move_to(g, place, rng), size).image, g))
    return out + texture_cfs(g, size, rng, per_object=False)
