"""The scheduler a run drives: a per-run copy that can branch, pinned where needed, and the
noise coefficients read off it.

The engine never calls ``set_timesteps`` on the user's scheduler and never replaces it for good:
every run builds its own copy (:func:`run_scheduler`), swaps it in for the one call and puts the
user's back.
"""
from __future__ import annotations

import inspect
from typing import Any

import torch

from . import schedules as S

#: deterministic first-order samplers that take a custom schedule: a branch can restart from any
#: cached step (no multistep history, no fresh noise) and a given schedule is used as given
BRANCHABLE = ("EulerDiscreteScheduler", "FlowMatchEulerDiscreteScheduler")
_SIGMA_FLAGS = ("use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas",
                "stochastic_sampling")


def run_scheduler(scheduler: Any) -> tuple[Any, str | None]:
    """A fresh copy of ``scheduler`` the engine can drive, and the class it replaced (if any).

    The engine passes every schedule as ``timesteps``/``sigmas`` and restarts branches from cached
    latents, which needs a deterministic first-order sampler.  PNDM (SD 1.5's default) and DDIM
    refuse custom timesteps; multistep solvers (DPM-Solver, UniPC) keep a history a branch cannot
    restore; ancestral/stochastic ones draw noise the seed does not control.  Those become Euler
    built from the same config (flow-matching Euler for flow models), and the run record names
    both.  Euler with karras/exponential/beta sigmas is rebuilt without them (they would rewrite
    a given schedule).  Where the replaced scheduler's noise levels are not what its config gives
    Euler (CogVideoX's DDIM/DPM shift the SNR), Euler is built on its ``alphas_cumprod``.
    """
    name = type(scheduler).__name__
    cfg = dict(scheduler.config)
    flags = [f for f in _SIGMA_FLAGS if cfg.get(f)]
    if name in BRANCHABLE and not flags:
        return type(scheduler).from_config(cfg), None
    from diffusers import EulerDiscreteScheduler, FlowMatchEulerDiscreteScheduler
    off = {f: False for f in _SIGMA_FLAGS if f in cfg}
    if name in BRANCHABLE:
        return type(scheduler).from_config(cfg, **off), name
    if ("FlowMatch" in name or cfg.get("prediction_type") == "flow_prediction"
            or cfg.get("use_flow_sigmas")):
        shift = float(cfg.get("flow_shift") or cfg.get("shift") or 1.0)
        return FlowMatchEulerDiscreteScheduler.from_config(cfg, shift=shift, **off), name
    new = EulerDiscreteScheduler.from_config(cfg, **off)
    acp = getattr(scheduler, "alphas_cumprod", None)
    if acp is not None and not torch.allclose(new.alphas_cumprod.double(), acp.double(),
                                              rtol=1e-4, atol=1e-6):
        a = acp.double().clamp(min=2 ** -24)   # zero terminal SNR: Euler's own floor
        betas = 1 - a / torch.cat([a.new_ones(1), a[:-1]])
        new = EulerDiscreteScheduler.from_config(cfg, **off, trained_betas=betas.tolist(),
                                                 rescale_betas_zero_snr=False)
    return new, name


class _Pinned:
    """Scheduler mixin: ``set_timesteps`` sets the pinned schedule, whatever step count it gets."""
    pinned: dict[str, Any]

    def set_timesteps(self, num_inference_steps: int | None = None, device: Any = None,
                      **_: Any) -> None:
        super().set_timesteps(device=device, **self.pinned)


class _StartsAtLatents:
    """Scheduler mixin: ``init_noise_sigma`` is exactly 1 for a call that starts from latents
    already at the noise level of its first step (a branch from a cached step, inpainting).

    Pipelines scale the latents they are given by ``init_noise_sigma`` (SD, SDXL, CogVideoX and
    ToyWorld do; flow-matching ones have it at 1).  Passing ``x / s`` for the pipeline to scale
    back by ``s`` is not exact in float32, and the last-bit difference is magnified by later
    steps: a branch then differed from the same run made from step 0 by one grey level, on CPUs
    whose kernels round that way (AVX-512).  Multiplying by exactly 1.0 is exact on every CPU,
    so a branch and a standalone run carry the same latents by construction.
    """

    @property
    def init_noise_sigma(self) -> float:
        return 1.0


def starting_at_latents(scheduler: Any) -> Any:
    """A copy of ``scheduler`` (same class name, same config, schedule not yet set) whose
    ``init_noise_sigma`` is 1 (:class:`_StartsAtLatents`)."""
    base = type(scheduler)
    cls = type(base.__name__, (_StartsAtLatents, base), {})
    return cls.from_config(scheduler.config)


def schedule_call(pipe: Any, scheduler: Any, sched: S.Schedule, mu: float | None,
                  ) -> tuple[dict[str, Any], Any]:
    """The call arguments that select ``sched``, and the scheduler to run the call with.

    A pipeline whose ``__call__`` takes ``sigmas``/``timesteps`` gets them.  One that takes
    neither (WanPipeline asks its scheduler for ``num_inference_steps`` steps) gets the step count
    and a copy of ``scheduler`` pinned to ``sched``.
    """
    if sched.kind in inspect.signature(pipe.__call__).parameters:
        return sched.kwargs(), scheduler
    base = type(scheduler)
    keys = inspect.signature(base.__init__).parameters
    cfg = {k: v for k, v in scheduler.config.items() if k in keys}
    pinned = type(f"Pinned{base.__name__}", (_Pinned, base), {}).from_config(cfg)
    pinned.pinned = dict(sched.kwargs(), **({"mu": mu} if mu is not None else {}))
    return {"num_inference_steps": len(sched)}, pinned


def set_schedule(scheduler: Any, sched: S.Schedule, device: Any, mu: float | None) -> None:
    kw = sched.kwargs()
    if mu is not None:
        kw["mu"] = mu
    scheduler.set_timesteps(**kw, device=device)


# ---------------------------------------------------------------------- noise coefficients


def noise_coefficients(scheduler: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``x_i = a_i * x0 + b_i * eps`` at every point of the current schedule (n + 1 points)."""
    if S.is_flow_matching(scheduler):
        s = scheduler.sigmas.double().cpu()
        return 1 - s, s
    if getattr(scheduler, "sigmas", None) is not None and hasattr(scheduler, "init_noise_sigma") \
            and "Euler" in type(scheduler).__name__:
        s = scheduler.sigmas.double().cpu()
        return torch.ones_like(s), s
    acp = scheduler.alphas_cumprod.double()
    t = scheduler.timesteps.long().cpu()
    a = torch.cat([acp[t].sqrt(), torch.ones(1, dtype=torch.float64)])
    b = torch.cat([(1 - acp[t]).sqrt(), torch.zeros(1, dtype=torch.float64)])
    return a, b


def predicted_x0(x_i: torch.Tensor, x_next: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                 i: int) -> torch.Tensor:
    """Clean-image estimate at step ``i`` of a deterministic first-order sampler.

    From ``x_i`` and ``x_{i+1}`` on the same line through ``(x0, eps)``: no model output needed,
    so it works for any pipeline whose callback shows the latents.
    """
    ai, bi, an, bn = (float(v) for v in (a[i], b[i], a[i + 1], b[i + 1]))
    den = bi * an - bn * ai
    if abs(den) < 1e-12:
        return x_next / max(an, 1e-12)
    return ((bi * x_next.double() - bn * x_i.double()) / den).to(x_next.dtype)


class Noiser:
    """The full schedule of a run: its coefficients, and re-noising a clean latent to step ``i``
    with the scheduler's own ``add_noise`` / ``scale_noise`` (coefficients where it has neither).
    """

    def __init__(self, scheduler: Any, sched: S.Schedule, device: Any, mu: float | None):
        self.scheduler = type(scheduler).from_config(scheduler.config)
        set_schedule(self.scheduler, sched, device, mu)
        self.a, self.b = noise_coefficients(self.scheduler)
        self.n = len(self.a) - 1

    def renoise(self, x0: torch.Tensor, noise: torch.Tensor, i: int) -> torch.Tensor:
        """The latent entering step ``i`` on the line through ``x0`` and ``noise``."""
        sch = self.scheduler
        if i >= self.n:
            return x0.to(noise.dtype)
        t = sch.timesteps[i:i + 1].to(x0.device)
        if hasattr(sch, "set_begin_index"):
            sch.set_begin_index(i)   # a fresh copy: no step taken, so add_noise reads index i
            if hasattr(sch, "scale_noise"):
                return sch.scale_noise(x0.to(noise.dtype), t, noise)
            if hasattr(sch, "add_noise"):
                return sch.add_noise(x0.to(noise.dtype), noise, t)
        return (float(self.a[i]) * x0 + float(self.b[i]) * noise).to(noise.dtype)

    def x0(self, x_i: torch.Tensor, x_next: torch.Tensor, i: int) -> torch.Tensor:
        return predicted_x0(x_i, x_next, self.a, self.b, i)
