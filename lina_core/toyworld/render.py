"""ToyWorld renderer: a laid-out scene graph -> RGB image and one mask per node.

Geometry comes only from the node boxes (see :func:`lina_core.csg.geometry.layout`), so a graph
edited in the app renders exactly as edited.  The wall and the floor are drawn here, the scene
by its category (:meth:`.categories.Category.draw`) on the shared canvas (:mod:`.canvas`,
supersampled 2x and box-filtered, so every size from 32 up is antialiased the same way).  Pure
function: the same graph gives the same pixels.
"""
from __future__ import annotations

import numpy as np

from ..csg.geometry import FLOOR_Y, LIGHT_X, REFLECTION_SQUASH, layout
from ..csg.graph import CausalSceneGraph, GraphError
from .canvas import FLOOR, WALL, Canvas, Render

MIN_SIZE, MAX_SIZE = 32, 512


def render(g: CausalSceneGraph, size: int = 64) -> Render:
    """Draw ``g`` at ``size`` x ``size``; lays the graph out canonically if it has no boxes."""
    if not isinstance(size, int) or not MIN_SIZE <= size <= MAX_SIZE:
        raise GraphError(f"size: {size!r} must be an integer in [{MIN_SIZE}, {MAX_SIZE}]")
    g.validate()
    if g.is_open:
        raise GraphError("graph: an open-world scene (category 'open') cannot be drawn by the "
                         "ToyWorld renderer; it draws the ToyWorld categories "
                         "(a diffusers pipeline draws open-world prompts)")
    if any(d["box"] is None for _, d in g.graph.nodes(data=True)):
        g = layout(g.copy())
    cv = Canvas(size)
    cv.rgb[:] = WALL
    floor = cv.y >= FLOOR_Y
    cv.paint(floor, FLOOR)
    for n in g.nodes("surface"):
        if g.attr(n, "type") == "floor":
            cv.mark(n, floor)
    from .categories.base import category   # looked up when drawing: the category modules
    category(g.category).draw(cv, g, floor)  # import this one (their counterfactuals)
    for n in g.graph.nodes:
        cv.masks.setdefault(n, np.zeros(cv.x.shape, bool))
    return cv.finish()


# --------------------------------------------------------------------------- clips

CLIP_KINDS = {"reflection": "a ball falling onto a mirror",
              "buoyancy": "an object dropped into water",
              "shadow": "a light moving across the scene"}
MIN_FRAMES, MAX_FRAMES = 8, 32


def _fall_onto_mirror(g: CausalSceneGraph, fg: CausalSceneGraph, t: float) -> None:
    """The ball falls with constant acceleration; its reflection mirrors its height below the
    base."""
    nodes = fg.graph.nodes
    o = g.nodes("object")[0]
    ob = g.node(o)["box"]
    h = ob[3] - ob[1]
    lift = (1 - t * t) * (ob[1] - 0.02)
    nodes[o]["box"] = [ob[0], ob[1] - lift, ob[2], ob[3] - lift]
    for e in g.effects("reflection"):
        mb = g.node(g.surface("mirror"))["box"]
        top = ob[3] + lift * REFLECTION_SQUASH
        bottom = min(top + h * REFLECTION_SQUASH, mb[3])
        nodes[e]["box"] = [ob[0], min(top, 1.0), ob[2], max(min(bottom, 1.0), min(top, 1.0))]


def _drop_into_water(g: CausalSceneGraph, fg: CausalSceneGraph, t: float) -> None:
    """The object drops from the top and has settled from ``t = 0.8`` on."""
    nodes = fg.graph.nodes
    o = g.nodes("object")[0]
    ob = g.node(o)["box"]
    h = ob[3] - ob[1]
    start = 0.02
    y0 = start + (ob[1] - start) * min(1.0, t * 1.25)
    nodes[o]["box"] = [ob[0], y0, ob[2], y0 + h]
    water_top = g.node(g.surface("water"))["box"][1]
    for e in g.effects():
        eb = g.node(e)["box"]
        top = max(y0, water_top) if g.attr(e, "type") == "refraction" else y0
        nodes[e]["box"] = [eb[0], top, eb[2], max(top, y0 + h)]


def _move_light(g: CausalSceneGraph, fg: CausalSceneGraph, t: float, last: bool) -> None:
    """The light crosses the scene to its stated side; the shadow moves the other way."""
    nodes = fg.graph.nodes
    li = g.nodes("light")[0]
    lb = g.node(li)["box"]
    end = LIGHT_X[g.attr(li, "side")]
    begin = 0.9 if end < 0.5 else 0.1
    lx = begin + (end - begin) * t
    nodes[li]["box"] = [lx - 0.08, lb[1], lx + 0.08, lb[3]]
    o = g.nodes("object")[0]
    ob = g.node(o)["box"]
    w = ob[2] - ob[0]
    off = -(lx - 0.5) / 0.4 * 0.75 * w
    for e in g.effects("shadow"):
        eb = g.node(e)["box"]
        pad = 0.05 * min(1.0, abs(off) / (0.75 * w))
        nodes[e]["box"] = [float(np.clip(ob[0] + off - pad, 0, 1)), eb[1],
                           float(np.clip(ob[2] + off + pad, 0, 1)), eb[3]]
        nodes[e]["attrs"]["side"] = "left" if off < -0.2 * w else \
            "right" if off > 0.2 * w else "below"
    if not last:
        nodes[li]["attrs"]["side"] = "left" if lx < 0.4 else "right" if lx > 0.6 else "above"


def clip_frames(g: CausalSceneGraph, frames: int = 8) -> list[CausalSceneGraph]:
    """Per-frame graphs of the category's dynamic version; the last frame is the still scene."""
    if not isinstance(frames, int) or not MIN_FRAMES <= frames <= MAX_FRAMES:
        raise GraphError(f"frames: {frames!r} must be an integer in [{MIN_FRAMES}, {MAX_FRAMES}]")
    if g.category not in CLIP_KINDS:
        raise GraphError(f"category: {g.category!r} has no clip; clips exist for "
                         f"{sorted(CLIP_KINDS)}")
    if any(d["box"] is None for _, d in g.graph.nodes(data=True)):
        g = layout(g.copy())
    out = []
    for f in range(frames):
        t = f / (frames - 1)
        fg = g.copy()
        if g.category == "reflection":
            _fall_onto_mirror(g, fg, t)
        elif g.category == "buoyancy":
            _drop_into_water(g, fg, t)
        elif g.category == "shadow":
            _move_light(g, fg, t, last=f == frames - 1)
        out.append(fg)
    return out


def render_clip(g: CausalSceneGraph, frames: int = 8, size: int = 64) -> list[Render]:
    """Render the dynamic version of ``g`` as ``frames`` frames (same graph, same pixels)."""
    return [render(fg, size) for fg in clip_frames(g, frames)]
