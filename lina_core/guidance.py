"""Latent guidance: ``w * M * (eps(x, c+) - eps(x, c))`` added to the conditional branch.

It attaches to the denoiser with diffusers' hook registry (:class:`GuidanceHook`, a
``ModelHook``) for the duration of one call and is removed after it (:func:`attached`), so the
user's UNet/transformer is the same object before, during and after a run.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import torch
from diffusers.hooks import HookRegistry, ModelHook

HOOK_NAME = "lina_latent_guidance"


def box_mask(box: list[float], shape: tuple[int, int], softness: float) -> torch.Tensor:
    """A soft mask of a normalised box at ``shape`` (h, w): 1 inside, Gaussian fall-off."""
    h, w = shape
    ys = (torch.arange(h, dtype=torch.float32) + 0.5) / h
    xs = (torch.arange(w, dtype=torch.float32) + 0.5) / w
    x0, y0, x1, y1 = box
    dy = torch.clamp(torch.maximum(y0 - ys, ys - y1), min=0)
    dx = torch.clamp(torch.maximum(x0 - xs, xs - x1), min=0)
    d2 = dy[:, None] ** 2 + dx[None, :] ** 2
    if softness <= 0:
        return (d2 == 0).float()
    return torch.exp(-d2 / (2 * softness ** 2))


def mask_like(mask: torch.Tensor | None, out: torch.Tensor) -> torch.Tensor | float:
    """Broadcast an (h, w) mask to a model output: 4-D, 5-D, or FLUX's packed 3-D tokens."""
    if mask is None:
        return 1.0
    if out.dim() == 3:   # packed (B, N, C): 2x2 patches in raster order
        n = out.shape[1]
        side = int(round(n ** 0.5))
        m = torch.nn.functional.adaptive_avg_pool2d(mask[None, None], (side, side))[0, 0]
        return m.reshape(1, n, 1).to(out)
    m = torch.nn.functional.interpolate(mask[None, None], size=out.shape[-2:], mode="bilinear",
                                        align_corners=False)[0, 0]
    return m.to(out).reshape((1,) * (out.dim() - 2) + tuple(m.shape))


def is_unconditional(ehs: Any, negative: torch.Tensor | None) -> bool:
    """A denoiser call with the negative embedding: the unconditional pass of a pipeline that
    runs it as a call of its own (Wan)."""
    return (negative is not None and torch.is_tensor(ehs) and ehs.shape == negative.shape
            and torch.equal(ehs, negative.to(ehs)))


def _sample(out: Any) -> torch.Tensor:
    return out[0] if isinstance(out, tuple) else out.sample


class GuidanceHook(ModelHook):
    """Runs the denoiser a second time on the conditional half with the target embedding, in the
    active window, and adds the masked difference to that half."""

    def __init__(self, target: torch.Tensor, weight: float, mask: torch.Tensor | None,
                 batch: int, negative: torch.Tensor | None = None):
        super().__init__()
        self.target, self.weight, self.mask, self.batch = target, weight, mask, batch
        #: pipelines that run the unconditional pass as a call of its own (Wan) pass this
        #: embedding to it: such a call is left unguided
        self.negative = negative
        self.active = False
        self.extra_calls = 0
        self._inner = False      # inside the target-prompt pass

    def _unconditional(self, kwargs: dict[str, Any]) -> bool:
        return is_unconditional(kwargs.get("encoder_hidden_states"), self.negative)

    def new_forward(self, module: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        out = self.fn_ref.original_forward(*args, **kwargs)
        if self._inner or not self.active or self.weight == 0 or self._unconditional(kwargs):
            return out
        eps = _sample(out)
        full = eps.shape[0]
        pos = slice(full - self.batch, full)  # the conditional half under CFG, else everything

        def cut(v: Any) -> Any:
            if torch.is_tensor(v) and v.dim() > 0 and v.shape[0] == full:
                return v[pos]
            if isinstance(v, dict):
                return {k: cut(x) for k, x in v.items()}
            return v
        k2 = {k: cut(v) for k, v in kwargs.items()}
        k2["encoder_hidden_states"] = self.target.to(eps.dtype).expand(
            self.batch, *self.target.shape[1:])
        plus = _sample(self._call_again(module, [cut(a) for a in args], k2))
        guided = eps.clone()
        guided[pos] = guided[pos] + self.weight * mask_like(self.mask, plus) * (plus - eps[pos])
        if isinstance(out, tuple):
            return (guided,) + tuple(out[1:])
        out.sample = guided
        return out

    def _call_again(self, module: torch.nn.Module, args: list[Any], kwargs: dict[str, Any]
                    ) -> Any:
        """The target-prompt pass, through the module's whole call path (torch hooks, offload
        hooks) and so seen like any other call, but not guided again."""
        self._inner = True
        try:
            return module(*args, **kwargs)
        finally:
            self._inner = False
            self.extra_calls += 1


@contextlib.contextmanager
def attached(modules: list[torch.nn.Module], hooks: list[ModelHook], name: str = HOOK_NAME,
             ) -> Iterator[None]:
    """Register each hook on its module for the block; afterwards each module is as it was
    (no hook, no registry or instance ``forward`` left behind that it did not have)."""
    before = [(hasattr(m, "_diffusers_hook"), "forward" in m.__dict__) for m in modules]
    for m, h in zip(modules, hooks):
        HookRegistry.check_if_exists_or_initialize(m).register_hook(h, name)
    try:
        yield
    finally:
        for m, (had_registry, had_forward) in zip(modules, before):
            reg = m._diffusers_hook
            reg.remove_hook(name, recurse=False)
            if not reg.hooks and not had_forward:
                m.__dict__.pop("forward", None)
            if not reg.hooks and not had_registry:
                del m._diffusers_hook
