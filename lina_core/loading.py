"""The models a command loads: the shipped ToyWorld model, a folder given on the command line,
or the tiny random-weight one, and any diffusers family the adapters know.

A module of its own, not part of ``__main__``, so that the modules behind the subcommands
(benchmarks, measurements) can load a model without importing the command line that imports
them (no import circle, issue 26).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any


def image_model_args(q: Any, threads: int = 2) -> None:
    """The flags of a command that loads the ToyWorld image model: ``--model``, ``--tiny``,
    ``--steps``, ``--threads`` (a measurement meant to run as several processes defaults to
    one thread: two processes of two threads on two cores run ten times slower)."""
    q.add_argument("--model", help="a ToyWorld model folder (default: the shipped one)")
    q.add_argument("--tiny", action="store_true", help="a tiny random-weight model")
    q.add_argument("--steps", type=int, default=25)
    q.add_argument("--threads", type=int, default=threads)


def load_model(path: str | None, tiny: bool = False, video: bool = False) -> Any:
    """The shipped ToyWorld model (``video``: the video one), a ToyWorld folder given on the
    command line (image or video, as its model_index.json says), or a tiny random-weight one
    (``--tiny``, for tests and smoke runs). Loading is :func:`registry.load`'s."""
    from .pipelines import registry
    if tiny:
        return registry.tiny_toyworld(video)
    if not path:
        return registry.load("toyworld-video" if video else "toyworld")
    if not (Path(path) / "model_index.json").is_file():
        raise FileNotFoundError(f"--model: {path} is not a ToyWorld model folder "
                                f"(no model_index.json)")
    try:
        kind = registry.kind_of_folder(path)
    except ValueError:
        kind = None
    from .adapters import is_builtin
    if kind is None or not is_builtin(kind):
        raise ValueError(f"--model: {path} is not a ToyWorld or ToyWorld video model")
    return registry.load(path)


def load_any(model_dir: str) -> Any:
    """A local diffusers folder of any family the adapters know (SD, SDXL, SD3, FLUX, Wan,
    CogVideoX, ToyWorld), loaded as the app loads it: :func:`registry.load`, local files and
    safetensors only."""
    from .pipelines import registry
    if not (Path(model_dir) / "model_index.json").is_file():
        raise FileNotFoundError(f"--model-dir: {model_dir} has no model_index.json (not a "
                                f"diffusers model folder)")
    registry.kind_of_folder(model_dir)        # ValueError naming an unknown pipeline class
    return registry.load(model_dir)
