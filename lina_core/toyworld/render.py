"""ToyWorld renderer: a laid-out scene graph -> RGB image and one mask per node.

Geometry comes only from the node boxes (see :func:`lina_core.csg.geometry.layout`), so a graph
edited in the app renders exactly as edited.  Drawing is supersampled 2x and box-filtered, so
every size from 32 up is antialiased the same way.  Pure function: the same graph gives the same
pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..csg import (COLOURS, FLOOR_Y, LIGHT_X, MATERIALS, MIRROR_RIM_WIDTH, REFLECTION_SQUASH,
                   CausalSceneGraph, GraphError, layout)

MIN_SIZE, MAX_SIZE = 32, 512
WALL = np.array((228, 224, 214), np.float32)
FLOOR = np.array((178, 164, 140), np.float32)
MIRROR = np.array((185, 212, 238), np.float32)
MIRROR_RIM = np.array((105, 115, 135), np.float32)
SHADOW = np.array((70, 62, 55), np.float32)
LIGHT = np.array((255, 246, 165), np.float32)
WATER = np.array((105, 160, 225), np.float32)
GLASS = np.array((140, 150, 165), np.float32)
BEAM = np.array((70, 50, 35), np.float32)
FULCRUM = np.array((95, 95, 100), np.float32)
REFLECTION_MIX = 0.55     # share of the object's colour in its reflection
SHADOW_ALPHA = 0.65
WATER_TINT = 0.3          # share of water colour over a submerged part
REFRACTION_SHIFT = 0.045  # horizontal offset of a submerged part (fraction of the width)


@dataclass
class Render:
    image: np.ndarray                 # H x W x 3 uint8
    masks: dict[str, np.ndarray]      # node id -> H x W bool


def object_colour(g: CausalSceneGraph, n: str) -> np.ndarray:
    a = g.node(n)["attrs"]
    if "colour" in a:
        return np.array(COLOURS[a["colour"]], np.float32)
    return np.array(MATERIALS[a.get("material", "wood")], np.float32)


class _Canvas:
    def __init__(self, size: int, ss: int = 2):
        self.size, self.ss = size, ss
        n = size * ss
        c = (np.arange(n, dtype=np.float32) + 0.5) / n
        self.y, self.x = np.meshgrid(c, c, indexing="ij")
        self.rgb = np.empty((n, n, 3), np.float32)
        self.masks: dict[str, np.ndarray] = {}

    def paint(self, m: np.ndarray, colour: np.ndarray, alpha: float = 1.0) -> None:
        self.rgb[m] = self.rgb[m] * (1 - alpha) + colour * alpha

    def mark(self, node: str, m: np.ndarray) -> None:
        self.masks[node] = self.masks.get(node, np.zeros_like(m)) | m

    def occlude(self, m: np.ndarray) -> None:
        for k in self.masks:
            self.masks[k] &= ~m

    # shapes in normalised coordinates
    def ellipse(self, box) -> np.ndarray:
        x0, y0, x1, y1 = box
        cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, max((x1 - x0) / 2, 1e-6), \
            max((y1 - y0) / 2, 1e-6)
        return ((self.x - cx) / rx) ** 2 + ((self.y - cy) / ry) ** 2 <= 1.0

    def rect(self, box) -> np.ndarray:
        x0, y0, x1, y1 = box
        return (self.x >= x0) & (self.x <= x1) & (self.y >= y0) & (self.y <= y1)

    def triangle(self, box, flip: bool = False) -> np.ndarray:
        x0, y0, x1, y1 = box
        h = max(y1 - y0, 1e-6)
        t = (self.y - y0) / h if not flip else (y1 - self.y) / h   # 0 at apex, 1 at base
        half = (x1 - x0) / 2 * t
        return (t >= 0) & (t <= 1) & (np.abs(self.x - (x0 + x1) / 2) <= half)

    def shape(self, shape: str, box, flip: bool = False) -> np.ndarray:
        if shape == "ball":
            return self.ellipse(box)
        if shape == "cone":
            return self.triangle(box, flip)
        return self.rect(box)

    def segment(self, p0, p1, half_width: float) -> np.ndarray:
        (ax, ay), (bx, by) = p0, p1
        dx, dy = bx - ax, by - ay
        t = np.clip(((self.x - ax) * dx + (self.y - ay) * dy) / (dx * dx + dy * dy), 0, 1)
        return np.hypot(self.x - ax - t * dx, self.y - ay - t * dy) <= half_width

    def finish(self) -> Render:
        n, s = self.size, self.ss
        img = self.rgb.reshape(n, s, n, s, 3).mean(axis=(1, 3))
        masks = {k: m.reshape(n, s, n, s).mean(axis=(1, 3)) >= 0.5 for k, m in self.masks.items()}
        return Render(np.clip(img + 0.5, 0, 255).astype(np.uint8), masks)


def _box(g: CausalSceneGraph, n: str) -> list[float]:
    b = g.node(n)["box"]
    if b is None:
        raise GraphError(f"node {n!r}: has no box; lay the graph out first (csg.layout)")
    return b


def _draw_reflection(cv: _Canvas, g: CausalSceneGraph, floor: np.ndarray) -> None:
    """A mirror with its rim, the object's flipped reflection clipped by it, then the object."""
    m = g.surface("mirror")
    mb = _box(g, m)
    inner = cv.ellipse(mb) if g.attr(m, "shape") == "round" else cv.rect(mb)
    rim_w = MIRROR_RIM_WIDTH
    outer_box = [mb[0] - rim_w, mb[1] - rim_w, mb[2] + rim_w, mb[3] + rim_w]
    outer = cv.ellipse(outer_box) if g.attr(m, "shape") == "round" else cv.rect(outer_box)
    cv.paint(outer, MIRROR_RIM)
    cv.paint(inner, MIRROR)
    cv.mark(m, outer)
    o = g.nodes("object")[0]
    col = object_colour(g, o)
    for e in g.effects("reflection"):
        rb = _box(g, e)
        ob = _box(g, o)
        # the object flipped about its base and foreshortened, clipped by the mirror's edge
        full_h = (ob[3] - ob[1]) * REFLECTION_SQUASH
        refl = cv.shape(g.attr(o, "shape"), [rb[0], rb[1], rb[2], rb[1] + full_h], flip=True)
        refl &= inner & (cv.y <= rb[3] + 1e-6)
        cv.paint(refl, col * REFLECTION_MIX + MIRROR * (1 - REFLECTION_MIX))
        cv.mark(e, refl)
    _draw_object(cv, g, o)


def _draw_object(cv: _Canvas, g: CausalSceneGraph, o: str, shape: str | None = None) -> None:
    """An object in its colour, in front of everything drawn so far."""
    om = cv.shape(shape or g.attr(o, "shape"), _box(g, o))
    cv.occlude(om)
    cv.paint(om, object_colour(g, o))
    cv.mark(o, om)


def _draw_floor_scene(cv: _Canvas, g: CausalSceneGraph, floor: np.ndarray) -> None:
    """Shadows on the floor, the lights, then the objects (shadow and scale scenes)."""
    for e in g.effects("shadow"):
        sm = cv.ellipse(_box(g, e)) & floor
        cv.paint(sm, SHADOW, SHADOW_ALPHA)
        cv.mark(e, sm)
    for li in g.nodes("light"):
        lm = cv.ellipse(_box(g, li))
        cv.paint(lm, LIGHT)
        cv.mark(li, lm)
    for o in g.nodes("object"):
        _draw_object(cv, g, o)


def _draw_buoyancy(cv: _Canvas, g: CausalSceneGraph, floor: np.ndarray) -> None:
    """A beaker of water and the object, its submerged part tinted and shifted sideways."""
    w = g.surface("water")
    wb = _box(g, w)
    glass_box = [wb[0] - 0.025, wb[1] - 0.12, wb[2] + 0.025, wb[3] + 0.025]
    glass = cv.rect(glass_box) & ~cv.rect([wb[0], glass_box[1] - 0.01, wb[2], wb[3]])
    water = cv.rect(wb)
    cv.paint(glass, GLASS)
    cv.paint(water, WATER)
    cv.mark(w, water | glass)
    o = g.nodes("object")[0]
    ob = _box(g, o)
    col = object_colour(g, o)
    shape = g.attr(o, "shape")
    above = cv.shape(shape, ob) & (cv.y < wb[1])
    shift = REFRACTION_SHIFT
    below = cv.shape(shape, [ob[0] + shift, ob[1], ob[2] + shift, ob[3]]) & (cv.y >= wb[1]) \
        & water
    cv.occlude(above | below)
    cv.paint(above, col)
    cv.paint(below, col * (1 - WATER_TINT) + WATER * WATER_TINT)
    cv.mark(o, above | below)
    for e in g.effects("floating") + g.effects("sinking"):
        cv.mark(e, above | below)
    for e in g.effects("refraction"):
        cv.mark(e, below)


def _draw_balance(cv: _Canvas, g: CausalSceneGraph, floor: np.ndarray) -> None:
    """A fulcrum, the beam tilted as its tilt effect says, and a cube at each end."""
    b = g.surface("beam")
    bb = _box(g, b)
    cx = (bb[0] + bb[2]) / 2
    cy = (bb[1] + bb[3]) / 2
    tilt = g.effects("tilt")
    dy = (bb[3] - bb[1]) / 2
    down = g.attr(tilt[0], "side") if tilt else None
    yl, yr = (cy + dy, cy - dy) if down == "left" else (cy - dy, cy + dy) if down else (cy, cy)
    ful = cv.triangle([cx - 0.08, cy, cx + 0.08, 0.93])
    cv.paint(ful, FULCRUM)
    beam = cv.segment((bb[0], yl), (bb[2], yr), 0.022)
    cv.paint(beam, BEAM)
    cv.mark(b, beam | ful)
    for e in tilt:
        cv.mark(e, beam)
    for o in g.nodes("object"):
        _draw_object(cv, g, o, shape="cube")


#: how each category is drawn on the canvas; roles, fill and place add theirs from
#: :mod:`.render_relational` (``toyworld/__init__`` imports it), so this module never imports it
DRAW = {"reflection": _draw_reflection, "shadow": _draw_floor_scene,
         "scale": _draw_floor_scene, "buoyancy": _draw_buoyancy, "balance": _draw_balance}


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
    cv = _Canvas(size)
    cv.rgb[:] = WALL
    floor = cv.y >= FLOOR_Y
    cv.paint(floor, FLOOR)
    for n in g.nodes("surface"):
        if g.attr(n, "type") == "floor":
            cv.mark(n, floor)
    DRAW[g.category](cv, g, floor)
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
