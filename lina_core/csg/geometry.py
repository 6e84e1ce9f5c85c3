"""Where things are: the geometry the renderer, the verifier and each category's layout share,
and :func:`layout`, which asks the graph's category (:mod:`lina_core.toyworld.categories`)
for its boxes.

The renderer draws only from the node boxes :func:`layout` assigns, and the verifier predicts
what it should see from the same constants, so a change here moves both together.
"""
from __future__ import annotations

import numpy as np

from .graph import CausalSceneGraph

FLOOR_Y = 0.55
MIRROR_CY = 0.76
MIRROR_RX = {"small": 0.24, "large": 0.40}
MIRROR_ASPECT = 0.42          # ry = rx * aspect: a mirror lying on the floor, seen at an angle
MIRROR_RIM_WIDTH = 0.018      # the mirror's rim, drawn around its outline
OBJECT_BASE_ON_MIRROR = MIRROR_CY - 0.02   # an object on a mirror stands a little above its centre
OBJECT_W = {"small": 0.20, "large": 0.34}
SHAPE_ASPECT = {"ball": 1.0, "cube": 1.0, "cone": 1.1}   # height / width
REFLECTION_SQUASH = 0.6       # a reflection in a floor mirror is flipped and foreshortened
WATER_BOX = (0.22, 0.34, 0.78, 0.92)   # the water column inside the beaker
BEAM_Y = 0.66
BEAM_HALF = 0.36
BEAM_TILT = 0.10              # vertical drop of the heavy end
LIGHT_X = {"left": 0.10, "right": 0.90, "above": 0.5}   # a light's centre, by side

def balance_cube_box(cx: float, sgn: int, down: str | None) -> list[float]:
    """Box of the cube at the left (``sgn=-1``) or right end of a beam centred at ``cx`` that
    tilts down on ``down`` (None: level)."""
    w = OBJECT_W["small"]
    ex = cx + sgn * (BEAM_HALF - w / 2 - 0.01)
    dy = 0.0 if down is None else (BEAM_TILT if (sgn < 0) == (down == "left")
                                   else -BEAM_TILT) * (BEAM_HALF - w / 2) / BEAM_HALF
    return [ex - w / 2, BEAM_Y + dy - w - 0.015, ex + w / 2, BEAM_Y + dy - 0.015]


def put(g: CausalSceneGraph, n: str, box: list[float]) -> None:
    """Set a node's box, clipped to the picture."""
    g.graph.nodes[n]["box"] = [float(np.clip(v, 0.0, 1.0)) for v in box]


def aspect(shape: object) -> float:
    """Height / width of a shape (1 for anything that is not a known shape name)."""
    return SHAPE_ASPECT.get(shape, 1.0) if isinstance(shape, str) else 1.0


def object_box(g: CausalSceneGraph, n: str, cx: float, base: float) -> list[float]:
    """An object standing on ``base``, centred at ``cx``."""
    w = OBJECT_W[g.attr(n, "size", "small")]
    h = w * aspect(g.attr(n, "shape"))
    return [cx - w / 2, base - h, cx + w / 2, base]


def layout(g: CausalSceneGraph, rng: np.random.Generator | None = None) -> CausalSceneGraph:
    """Assign every node a box in [0, 1]^2; ``rng=None`` gives the canonical layout."""
    from ..toyworld.categories.base import category   # the table; it imports nothing back
    jit = (lambda s: float(rng.uniform(-s, s))) if rng is not None else (lambda s: 0.0)
    cat = category(g.category)
    if cat is not None:
        cat.layout(g, jit)
    return g
