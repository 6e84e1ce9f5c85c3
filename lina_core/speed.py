"""Sampler speed-ups that compute what the plain modules compute (to fp32 rounding).

Two, measured in ``python -m lina_core bench-speed`` (docs/PERFORMANCE.md, "Sampler speed"):

- :class:`TemporalConv2d`: a diffusers ``ModelHook`` on every ``Conv3d`` whose kernel is
  ``(k, 1, 1)`` (UNet3D's temporal convolutions). torch runs such a Conv3d on its slow reference
  kernel (``slow_conv3d_forward``) on CPU; the same weights as a ``(k, 1)`` Conv2d over
  ``(frames, height * width)`` go to oneDNN, 5-16x faster. Attached when a pipeline is loaded
  (:func:`apply`); it changes no weight and leaves ``save_pretrained`` as it was.
- :func:`compile_denoiser`: ``torch.compile`` (inductor, weights frozen as constants) of the
  UNet, for long batch jobs (``evaluate``, the benchmarks) where its compile time (25-200 s)
  pays back; not in the app, where the first click would wait for it.

``LINA_FAST=0`` turns both off (the one flag).
"""
from __future__ import annotations

import os
from typing import Any

import torch
import torch.nn.functional as F
from diffusers.hooks import HookRegistry, ModelHook

FLAG = "LINA_FAST"
HOOK_NAME = "lina_temporal_conv2d"


def enabled() -> bool:
    """Whether the speed-ups are on: yes unless ``LINA_FAST`` is ``0``, ``false`` or ``off``."""
    return os.environ.get(FLAG, "1").strip().lower() not in ("0", "false", "off", "no")


def is_temporal(conv: torch.nn.Module) -> bool:
    """A plain Conv3d (not a subclass with a forward of its own, such as Wan's causal one) that
    mixes frames only: kernel ``(k, 1, 1)``, unit stride and dilation, no groups, zero padding
    on the frame axis only."""
    return (type(conv) is torch.nn.Conv3d and conv.kernel_size[1:] == (1, 1)
            and conv.stride == (1, 1, 1) and conv.dilation == (1, 1, 1) and conv.groups == 1
            and isinstance(conv.padding, tuple) and conv.padding[1:] == (0, 0)
            and conv.padding_mode == "zeros")


class TemporalConv2d(ModelHook):
    """Runs a temporal Conv3d as the equivalent Conv2d over ``(frames, height * width)``."""

    def new_forward(self, module: torch.nn.Conv3d, x: torch.Tensor) -> torch.Tensor:
        b, _, f, h, w = x.shape
        weight = module.weight.squeeze(-1)                  # (out, in, k, 1)
        y = F.conv2d(x.reshape(b, x.shape[1], f, h * w), weight, module.bias,
                     padding=(module.padding[0], 0))
        return y.reshape(b, y.shape[1], y.shape[2], h, w)


def temporal_convs(model: torch.nn.Module) -> list[torch.nn.Conv3d]:
    return [m for m in model.modules() if is_temporal(m)]


def apply(pipe: Any) -> int:
    """Attach :class:`TemporalConv2d` to every temporal Conv3d of the pipeline's modules (when
    :func:`enabled`); returns how many it attached. Calling it again attaches nothing more."""
    if not enabled():
        return 0
    n = 0
    for comp in pipe.components.values():
        if not isinstance(comp, torch.nn.Module):
            continue
        for conv in temporal_convs(comp):
            reg = HookRegistry.check_if_exists_or_initialize(conv)
            if reg.get_hook(HOOK_NAME) is None:
                reg.register_hook(TemporalConv2d(), HOOK_NAME)
                n += 1
    return n


class Compiled(ModelHook):
    """Runs the module's forward through ``torch.compile`` (inductor, weights frozen).

    A hook rather than ``module.compile()``: a hook registered later (latent guidance, for one
    run) wraps this one from outside the compiled region, so it costs no recompilation.

    Freezing is switched on around each call, not passed as ``torch.compile(options=...)``:
    dynamo reads inductor's global ``freezing`` flag while it traces, to make the weights graph
    constants; compile options reach inductor only after the trace, too late for that, and
    with them alone nothing was frozen (weights stayed inputs, re-laid out on every call)."""

    def __init__(self) -> None:
        super().__init__()
        self._fn: Any = None

    def new_forward(self, module: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        import torch._inductor.config as inductor_config
        with inductor_config.patch(freezing=True):
            if self._fn is None:
                self._fn = torch.compile(self.fn_ref.original_forward)
            return self._fn(*args, **kwargs)


COMPILE_HOOK = "lina_compiled"


def compile_denoiser(pipe: Any) -> bool:
    """Compile the pipeline's UNet (when :func:`enabled`): for jobs that sample many times with
    fixed weights, since frozen weights are constants of the compiled code. Returns whether it
    attached the hook (once per UNet)."""
    unet = getattr(pipe, "unet", None)
    if not enabled() or unet is None:
        return False
    reg = HookRegistry.check_if_exists_or_initialize(unet)
    if reg.get_hook(COMPILE_HOOK) is None:
        reg.register_hook(Compiled(), COMPILE_HOOK)
    return True
