"""The canvas every ToyWorld category draws on: supersampled normalised coordinates, painting,
one mask per node, and the palette the renderer and the verifier share.

A building block: the category modules (:mod:`.categories`) draw with it and the verifier
predicts colours from the same constants, so it imports no category and nothing that looks
categories up (no import circle).  Drawing is supersampled 2x and box-filtered, so every size
from 32 up is antialiased the same way.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..csg.graph import CausalSceneGraph, GraphError
from ..csg.vocabulary import COLOURS, MATERIALS

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
    """An object's colour: its stated colour, else its material's."""
    a = g.node(n)["attrs"]
    if "colour" in a:
        return np.array(COLOURS[a["colour"]], np.float32)
    return np.array(MATERIALS[a.get("material", "wood")], np.float32)


class Canvas:
    """RGB and per-node masks at ``ss`` x the output size; shapes in normalised coordinates."""

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


def box(g: CausalSceneGraph, n: str) -> list[float]:
    """A node's layout box; a graph that was never laid out is an error that says so."""
    b = g.node(n)["box"]
    if b is None:
        raise GraphError(f"node {n!r}: has no box; lay the graph out first (csg.layout)")
    return b


def draw_object(cv: Canvas, g: CausalSceneGraph, o: str, shape: str | None = None) -> None:
    """An object in its colour, in front of everything drawn so far."""
    om = cv.shape(shape or g.attr(o, "shape"), box(g, o))
    cv.occlude(om)
    cv.paint(om, object_colour(g, o))
    cv.mark(o, om)


def draw_floor_scene(cv: Canvas, g: CausalSceneGraph, floor: np.ndarray) -> None:
    """Shadows on the floor, the lights, then the objects: how a scene standing on the plain
    floor is drawn (shadow and scale; an edited scale scene may have a light and a shadow)."""
    for e in g.effects("shadow"):
        sm = cv.ellipse(box(g, e)) & floor
        cv.paint(sm, SHADOW, SHADOW_ALPHA)
        cv.mark(e, sm)
    for li in g.nodes("light"):
        lm = cv.ellipse(box(g, li))
        cv.paint(lm, LIGHT)
        cv.mark(li, lm)
    for o in g.nodes("object"):
        draw_object(cv, g, o)
