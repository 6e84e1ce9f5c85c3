"""Clips to files: MP4 (H.264), WebM (VP9) and GIF, enlarged for viewing, and side by side.

ToyWorld clips are 32 x 32: they are enlarged with nearest-neighbour (``scale``) so pixels stay
pixels.  Encoding uses PyAV (FFmpeg's libraries, bundled in its wheel): no ffmpeg binary needed.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .limits import check_int

MAX_SCALE = 16
FPS_RANGE = (1, 30)


def as_clip(frames: np.ndarray | list[np.ndarray]) -> np.ndarray:
    """F x H x W x 3 uint8, checked."""
    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8 or len(arr) < 1:
        raise ValueError(f"frames: expected F x H x W x 3 uint8, got {arr.shape} {arr.dtype}")
    return arr


def enlarge(frames: np.ndarray, scale: int) -> np.ndarray:
    check_int("scale", scale, 1, MAX_SCALE)
    return frames.repeat(scale, axis=1).repeat(scale, axis=2)


def side_by_side(*clips: np.ndarray, gap: int = 2) -> np.ndarray:
    """Clips of equal length and height joined left to right with a white ``gap``."""
    clips = tuple(as_clip(c) for c in clips)
    if len({c.shape[:2] for c in clips}) != 1:
        raise ValueError(f"clips: frame counts and heights differ: "
                         f"{[c.shape[:3] for c in clips]}")
    f, h = clips[0].shape[:2]
    bar = np.full((f, h, gap, 3), 255, np.uint8)
    parts = [clips[0]]
    for c in clips[1:]:
        parts += [bar, c]
    return np.concatenate(parts, axis=2)


def write_video(frames: np.ndarray | list[np.ndarray], path: str | Path, fps: int = 4,
                scale: int = 8) -> Path:
    """Write a clip as ``.mp4`` (H.264), ``.webm`` (VP9) or ``.gif``, by the path's suffix."""
    clip = enlarge(as_clip(frames), scale)
    check_int("fps", fps, *FPS_RANGE)
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".gif":
        ims = [Image.fromarray(f) for f in clip]
        ims[0].save(path, save_all=True, append_images=ims[1:], duration=int(1000 / fps),
                    loop=0, optimize=False)
        return path
    codec = {".mp4": "libx264", ".webm": "libvpx-vp9"}.get(suffix)
    if codec is None:
        raise ValueError(f"path: {path.name!r} must end in .mp4, .webm or .gif")
    import av
    h, w = clip.shape[1:3]
    pad_h, pad_w = h % 2, w % 2            # yuv420p needs even sizes
    if pad_h or pad_w:
        clip = np.pad(clip, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = clip.shape[2], clip.shape[1]
        stream.pix_fmt = "yuv420p"
        # near-lossless: clips are tiny, and colour is what the verifier reads
        stream.options = {"crf": "12"} if codec == "libx264" else {"crf": "10", "b": "0"}
        for f in clip:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def read_video(path: str | Path) -> np.ndarray:
    """Decode a file written by :func:`write_video` back to F x H x W x 3 uint8."""
    path = Path(path)
    if path.suffix.lower() == ".gif":
        with Image.open(path) as im:
            out = []
            for i in range(getattr(im, "n_frames", 1)):
                im.seek(i)
                out.append(np.asarray(im.convert("RGB")))
        return np.stack(out)
    import av
    with av.open(str(path)) as src:
        return np.stack([f.to_ndarray(format="rgb24") for f in src.decode(video=0)])
