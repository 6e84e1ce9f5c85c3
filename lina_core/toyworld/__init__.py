"""ToyWorld: a procedurally rendered physics world whose ground truth is exact."""
from .render import Render, clip_frames, render, render_clip

# roles, fill and place add their checker to verify.CHECKERS when imported: here, so every
# import of the package has them (verify never imports them: no import circle, issue 26)
from . import verify_relational  # noqa: E402,F401  isort: skip

__all__ = ["Render", "render", "render_clip", "clip_frames"]
