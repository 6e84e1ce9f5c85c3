"""Where things are: the canonical layout of a scene and the geometry the renderer and the
verifier share.

The renderer draws only from the node boxes :func:`layout` assigns, and the verifier predicts
what it should see from the same constants, so a change here moves both together.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .graph import CausalSceneGraph
from .vocabulary import DENSITY

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

Jitter = Callable[[float], float]


def balance_cube_box(cx: float, sgn: int, down: str | None) -> list[float]:
    """Box of the cube at the left (``sgn=-1``) or right end of a beam centred at ``cx`` that
    tilts down on ``down`` (None: level)."""
    w = OBJECT_W["small"]
    ex = cx + sgn * (BEAM_HALF - w / 2 - 0.01)
    dy = 0.0 if down is None else (BEAM_TILT if (sgn < 0) == (down == "left")
                                   else -BEAM_TILT) * (BEAM_HALF - w / 2) / BEAM_HALF
    return [ex - w / 2, BEAM_Y + dy - w - 0.015, ex + w / 2, BEAM_Y + dy - 0.015]


def _put(g: CausalSceneGraph, n: str, box: list[float]) -> None:
    g.graph.nodes[n]["box"] = [float(np.clip(v, 0.0, 1.0)) for v in box]


def _aspect(shape: object) -> float:
    """Height / width of a shape (1 for anything that is not a known shape name)."""
    return SHAPE_ASPECT.get(shape, 1.0) if isinstance(shape, str) else 1.0


def _obj_box(g: CausalSceneGraph, n: str, cx: float, base: float) -> list[float]:
    """An object standing on ``base``, centred at ``cx``."""
    w = OBJECT_W[g.attr(n, "size", "small")]
    h = w * _aspect(g.attr(n, "shape"))
    return [cx - w / 2, base - h, cx + w / 2, base]


def _layout_reflection(g: CausalSceneGraph, jit: Jitter) -> None:
    m = g.surface("mirror")
    rx = MIRROR_RX[g.attr(m, "size", "large")]
    cx = 0.5 + jit(0.5 - rx - 0.03)
    ry = rx * MIRROR_ASPECT
    _put(g, m, [cx - rx, MIRROR_CY - ry, cx + rx, MIRROR_CY + ry])
    o = g.nodes("object")[0]
    ob = _obj_box(g, o, cx, OBJECT_BASE_ON_MIRROR)
    _put(g, o, ob)
    for e in g.effects("reflection"):
        h = (ob[3] - ob[1]) * REFLECTION_SQUASH
        _put(g, e, [ob[0], ob[3], ob[2], min(ob[3] + h, MIRROR_CY + ry)])


def _layout_shadow(g: CausalSceneGraph, jit: Jitter) -> None:
    cx = 0.5 + jit(0.18)
    base = 0.80 + jit(0.04)
    o = g.nodes("object")[0]
    ob = _obj_box(g, o, cx, base)
    _put(g, o, ob)
    _put(g, g.surface("floor"), [0.0, FLOOR_Y, 1.0, 1.0])
    light = g.nodes("light")[0]
    lx = LIGHT_X[g.attr(light, "side")]
    _put(g, light, [lx - 0.08, 0.04, lx + 0.08, 0.20])
    w = ob[2] - ob[0]
    for e in g.effects("shadow"):
        off = {"left": -0.75, "right": 0.75, "below": 0.0}[g.attr(e, "side")] * w
        _put(g, e, [ob[0] + off - 0.05 * (off != 0), ob[3] - 0.06,
                    ob[2] + off + 0.05 * (off != 0), ob[3] + 0.07])


def _layout_buoyancy(g: CausalSceneGraph, jit: Jitter) -> None:
    wb = list(WATER_BOX)
    wb[0] += jit(0.02)
    wb[2] += jit(0.02)
    _put(g, g.surface("water"), wb)
    o = g.nodes("object")[0]
    cx = (wb[0] + wb[2]) / 2 + jit(0.08)
    w = OBJECT_W["small"] * 1.1
    h = w * _aspect(g.attr(o, "shape"))
    if g.effects("floating"):
        top = wb[1] - h * (1.0 - DENSITY[g.attr(o, "material")]) - 0.01
    else:
        top = wb[3] - h - 0.01
    _put(g, o, [cx - w / 2, top, cx + w / 2, top + h])
    for e in g.effects("floating") + g.effects("sinking"):
        _put(g, e, [cx - w / 2, top, cx + w / 2, top + h])
    for e in g.effects("refraction"):
        _put(g, e, [cx - w / 2, max(top, wb[1]), cx + w / 2 + 0.06, top + h])


def _layout_balance(g: CausalSceneGraph, jit: Jitter) -> None:
    cx = 0.5 + jit(0.04)
    _put(g, g.surface("beam"), [cx - BEAM_HALF, BEAM_Y - BEAM_TILT, cx + BEAM_HALF,
                                BEAM_Y + BEAM_TILT])
    tilt = g.effects("tilt")
    down = g.attr(tilt[0], "side") if tilt else None
    for n, sgn in zip(g.nodes("object"), (-1, 1)):
        _put(g, n, balance_cube_box(cx, sgn, down))
    for e in tilt:
        _put(g, e, [cx - BEAM_HALF, BEAM_Y - BEAM_TILT - 0.02, cx + BEAM_HALF,
                    BEAM_Y + BEAM_TILT + 0.02])


def _layout_scale(g: CausalSceneGraph, jit: Jitter) -> None:
    _put(g, g.surface("floor"), [0.0, FLOOR_Y, 1.0, 1.0])
    base = 0.82 + jit(0.03)
    xs = (0.28 + jit(0.04), 0.72 + jit(0.04))
    for n, cx in zip(g.nodes("object"), xs):
        _put(g, n, _obj_box(g, n, cx, base))


#: a layout per category; the module defining a category adds its own (:mod:`.relational_scenes`)
LAYOUTS: dict[str, Callable[[CausalSceneGraph, Jitter], None]] = {
    "reflection": _layout_reflection, "shadow": _layout_shadow, "buoyancy": _layout_buoyancy,
    "balance": _layout_balance, "scale": _layout_scale}


def layout(g: CausalSceneGraph, rng: np.random.Generator | None = None) -> CausalSceneGraph:
    """Assign every node a box in [0, 1]^2; ``rng=None`` gives the canonical layout."""
    jit = (lambda s: float(rng.uniform(-s, s))) if rng is not None else (lambda s: 0.0)
    step = LAYOUTS.get(g.category) if isinstance(g.category, str) else None
    if step is not None:
        step(g, jit)
    return g
