"""ToyWorld renderer: a laid-out scene graph -> RGB image and one mask per node.

Geometry comes only from the node boxes (see :func:`lina_core.csg.geometry.layout`), so a graph
edited in the app renders exactly as edited.  The wall and the floor are drawn here, the scene
by its category (:meth:`.categories.Category.draw`) on the shared canvas (:mod:`.canvas`,
supersampled 2x and box-filtered, so every size from 32 up is antialiased the same way).  Pure
function: the same graph gives the same pixels.
"""
from __future__ import annotations

from typing import Iterator, Mapping

import numpy as np

from ..csg.geometry import FLOOR_Y, layout
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

class _ClipKinds(Mapping[str, str]):
    """The categories with a clip (name -> the clip in words, :attr:`.categories.Category.clip`)
    in their ``clip_rank`` order, the video data's cycle; read from the category table on
    every use."""

    def _kinds(self) -> dict[str, str]:
        from .categories.base import CATEGORIES
        clips = sorted((c for c in CATEGORIES.values() if c.clip), key=lambda c: c.clip_rank)
        return {c.name: c.clip for c in clips}

    def __getitem__(self, name: str) -> str:
        return self._kinds()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds())

    def __len__(self) -> int:
        return len(self._kinds())


CLIP_KINDS: Mapping[str, str] = _ClipKinds()
MIN_FRAMES, MAX_FRAMES = 8, 32


def clip_frames(g: CausalSceneGraph, frames: int = 8) -> list[CausalSceneGraph]:
    """Per-frame graphs of the category's dynamic version; the last frame is the still scene."""
    if not isinstance(frames, int) or not MIN_FRAMES <= frames <= MAX_FRAMES:
        raise GraphError(f"frames: {frames!r} must be an integer in [{MIN_FRAMES}, {MAX_FRAMES}]")
    if g.category not in CLIP_KINDS:
        raise GraphError(f"category: {g.category!r} has no clip; clips exist for "
                         f"{sorted(CLIP_KINDS)}")
    if any(d["box"] is None for _, d in g.graph.nodes(data=True)):
        g = layout(g.copy())
    from .categories.base import category
    motion = category(g.category)
    out = []
    for f in range(frames):
        fg = g.copy()
        motion.move(g, fg, f / (frames - 1), last=f == frames - 1)
        out.append(fg)
    return out


def render_clip(g: CausalSceneGraph, frames: int = 8, size: int = 64) -> list[Render]:
    """Render the dynamic version of ``g`` as ``frames`` frames (same graph, same pixels)."""
    return [render(fg, size) for fg in clip_frames(g, frames)]
