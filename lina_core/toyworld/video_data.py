"""PAP-Toy clips: the image splits' scenes, played as short videos.

A clip is the dynamic version of a still scene (``render.clip_frames``): a ball falling onto a
mirror, an object dropped into water, a light moving across the floor.  Clip ``i`` of a split is
the scene :func:`data.sample_scene` draws for that split, index and category, so the clips share
the image data's seeds, splits and held-out combinations, and their captions (the still scene's
implicit and explicit captions: the motion follows from the category).

On disk a clip is one PNG filmstrip (frames left to right), so the folder stays a ``datasets``
imagefolder, plus per-frame masks in an ``.npz`` (keys ``f00_<node>``).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..csg import GraphError
from .data import HELD_OUT, MAX_N, SPLITS, Sample, read_split, sample_scene
from .render import CLIP_KINDS, render_clip

CLIP_CATEGORIES = tuple(CLIP_KINDS)       #: reflection, buoyancy, shadow
MIN_CLIP_FRAMES, MAX_CLIP_FRAMES = 8, 16  #: what the video model is trained and sampled for


def check_frames(frames: object) -> int:
    if isinstance(frames, bool) or not isinstance(frames, int) or \
            not MIN_CLIP_FRAMES <= frames <= MAX_CLIP_FRAMES:
        raise GraphError(f"frames: {frames!r} must be an integer in "
                         f"[{MIN_CLIP_FRAMES}, {MAX_CLIP_FRAMES}]")
    return frames


def sample_clip(split: str, index: int, category: str | None = None) -> Sample:
    """The ``index``-th clip scene of ``split``; categories cycle through the clip kinds."""
    cat = category or CLIP_CATEGORIES[int(index) % len(CLIP_CATEGORIES)]
    if cat not in CLIP_CATEGORIES:
        raise GraphError(f"category: {cat!r} has no clip; clips exist for "
                         f"{list(CLIP_CATEGORIES)}")
    return sample_scene(split, index, cat)


def to_strip(frames: list[np.ndarray]) -> np.ndarray:
    """F frames (H x W x 3) -> one H x (F*W) x 3 filmstrip."""
    return np.concatenate(frames, axis=1)


def from_strip(strip: np.ndarray, frames: int) -> np.ndarray:
    """An H x (F*W) x 3 filmstrip -> F x H x W x 3."""
    h, w = strip.shape[0], strip.shape[1] // frames
    if w * frames != strip.shape[1]:
        raise ValueError(f"frames: a strip {strip.shape[1]} px wide does not split into "
                         f"{frames} frames")
    return strip.reshape(h, frames, w, 3).transpose(1, 0, 2, 3)


def write_video_split(out: str | Path, split: str, n: int, frames: int = 8, size: int = 32,
                      start: int = 0) -> Path:
    """Write ``n`` clips of ``split`` as filmstrip PNGs, per-frame masks and ``metadata.jsonl``."""
    if split not in SPLITS:
        raise GraphError(f"split: {split!r} is not one of {list(SPLITS)}")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_N:
        raise GraphError(f"n: {n!r} must be an integer in [1, {MAX_N}]")
    check_frames(frames)
    out = Path(out)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    (out / "held_out.json").write_text(json.dumps(HELD_OUT, indent=2))
    with open(out / "metadata.jsonl", "w") as meta:
        for i in range(start, start + n):
            s = sample_clip(split, i)
            rs = render_clip(s.graph, frames, size)
            name = f"{i:06d}"
            Image.fromarray(to_strip([r.image for r in rs])).save(out / f"{name}.png")
            np.savez_compressed(out / "masks" / f"{name}.npz",
                                **{f"f{f:02d}_{k}": v for f, r in enumerate(rs)
                                   for k, v in r.masks.items()})
            meta.write(json.dumps({
                "file_name": f"{name}.png", "split": split, "seed": s.seed,
                "category": s.category, "clip": CLIP_KINDS[s.category], "frames": frames,
                "combo": list(s.combo), "implicit_caption": s.caption(False),
                "explicit_caption": s.caption(True), "graph": s.graph.to_json(indent=None),
                "masks": f"masks/{name}.npz",
            }) + "\n")
    return out


def load_clips(folder: str | Path) -> tuple[torch.Tensor, list[dict]]:
    """All clips of a folder as N x 3 x F x H x W in [-1, 1], with their metadata rows."""
    rows = read_split(folder)
    clips = []
    for r in rows:
        strip = np.asarray(Image.open(Path(folder) / r["file_name"]).convert("RGB"))
        clips.append(from_strip(strip, int(r["frames"])))
    x = torch.from_numpy(np.stack(clips)).permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0
    return x, rows
