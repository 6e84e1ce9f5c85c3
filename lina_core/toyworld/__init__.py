"""ToyWorld: a procedurally rendered physics world whose ground truth is exact."""
# csg first: its package imports the category table (.categories), whose modules import the
# renderer; loading csg before the renderer lets them find it whole
from .. import csg  # noqa: F401  isort: skip
from .render import Render, clip_frames, render, render_clip

__all__ = ["Render", "render", "render_clip", "clip_frames"]
