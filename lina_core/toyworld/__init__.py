"""ToyWorld: a procedurally rendered physics world whose ground truth is exact."""
from .render import Render, clip_frames, render, render_clip

__all__ = ["Render", "render", "render_clip", "clip_frames"]
