"""Hugging Face ZeroGPU: each model call runs in a GPU worker for a time computed from its
arguments, and its errors come back with their message.

The ``spaces`` package runs a ``@spaces.GPU`` function in a worker process for ``duration``
seconds (60 by default; a callable gets the function's arguments).  An exception raised there
reached users as a bare "Error" (gradio issue 12792), so the worker returns a :class:`Failure`
and the caller raises it again on this side, with its class and message.  Elsewhere (no
``spaces``) the functions run as they are.
"""
from __future__ import annotations

import functools
import inspect
import os
from dataclasses import dataclass
from typing import Any, Callable

def seconds_per_step(kind: str) -> float:
    """Seconds per denoising step of one run of a family on a ZeroGPU slice: the family's
    adapter says (``Adapter.zerogpu_seconds_per_step``; 1 s for a kind it does not know)."""
    from lina_core.adapters import KINDS
    a = KINDS.get(kind)
    return a.zerogpu_seconds_per_step if a is not None else 1.0
#: runs each model call makes (baseline and branch for a comparison)
RUNS = {"intervene": 2, "lina_pair": 2, "lina_video": 2, "generate": 2, "predict_choice": 0,
        "probe": 1, "prompt_settling": 1}
#: the calls whose runs are per item (prompts x seeds x switch steps), not per call
PER_ITEM = ("probe", "prompt_settling")
MIN_S, MAX_S, SETUP_S = 20, 300, 10


def on_zero_gpu() -> bool:
    """Whether this process is a ZeroGPU Space (``SPACES_ZERO_GPU`` is set there)."""
    return os.environ.get("SPACES_ZERO_GPU", "").strip().lower() not in ("", "0", "false")


def placement(kind: str) -> dict[str, Any]:
    """Where a model of family ``kind`` goes when it is loaded: on ZeroGPU, ``cuda`` in the main
    process, at import (``spaces`` takes ``.to("cuda")`` there and hands the weights to each GPU
    worker; a model first loaded inside a ``@spaces.GPU`` call would be loaded again on every
    call), bf16 for the real families; elsewhere nothing (``registry.pick_device`` decides)."""
    if not on_zero_gpu():
        return {}
    import torch
    from lina_core.adapters import is_builtin
    return {"device": "cuda", "dtype": None if is_builtin(kind) else torch.bfloat16}


@dataclass
class Failure:
    """An exception raised in the GPU worker, as plain data."""
    kind: str
    message: str

    def error(self) -> Exception:
        """The same exception class where it is one of ours (or builtin), with its message."""
        from lina_core.csg import GraphError
        from lina_core.donors import DonorError
        from lina_core.interventions import SpecError
        from lina_core.pipelines.registry import ModelUnavailable
        known = {c.__name__: c for c in (GraphError, DonorError, SpecError, ModelUnavailable,
                                          ValueError, TypeError, KeyError, RuntimeError)}
        cls = known.get(self.kind)
        return cls(self.message) if cls else RuntimeError(f"{self.kind}: {self.message}")


def duration_for(fn: Callable, kind_of: Callable[[Any], str]) -> Callable[..., int]:
    """``spaces.GPU``'s ``duration`` for ``fn``: setup plus runs x steps x seconds a step of its
    model's family (x probe items), clamped to [MIN_S, MAX_S]."""
    sig = inspect.signature(fn)

    def seconds(*args: Any, **kwargs: Any) -> int:
        a = sig.bind_partial(*args, **kwargs).arguments
        spec = a.get("spec_dict") or {}
        steps = int(a.get("steps") or spec.get("steps") or 25)
        kind = "toyworld_video" if fn.__name__ == "lina_video" else kind_of(a.get("model_key"))
        items = int(a.get("n") or 1) * len(a.get("seeds") or [0]) * (len(a.get("ks") or []) + 1)
        runs = RUNS.get(fn.__name__, 2) * (items if fn.__name__ in PER_ITEM else 1)
        s = SETUP_S + runs * steps * seconds_per_step(kind)
        return int(min(max(s, MIN_S), MAX_S))
    return seconds


def on_gpu(spaces: Any, fn: Callable, kind_of: Callable[[Any], str]) -> Callable:
    """``fn`` as a ZeroGPU call: a computed duration, errors raised again with their message."""
    def worker(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:   # crosses the process boundary as data, raised again below
            return Failure(type(exc).__name__, str(exc))
    functools.update_wrapper(worker, fn)
    run = spaces.GPU(duration=duration_for(fn, kind_of))(worker)

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        out = run(*args, **kwargs)
        if isinstance(out, Failure):
            raise out.error()
        return out
    return call
