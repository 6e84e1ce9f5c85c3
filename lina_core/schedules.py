"""Sampling schedules as plain arrays you can plot and pass to a pipeline.

A :class:`Schedule` is a 1-D tensor plus the pipeline argument it goes to: ``timesteps`` for
DDPM-style schedulers (Euler/DDPM/..., values in [0, num_train_timesteps)) or ``sigmas`` for
flow-matching schedulers (values in (0, 1]).  Both are described here by a *noise level*
``u`` in [0, 1] (t / T, or sigma), so one reallocation rule covers both.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .interventions import DEFAULT_RHO

#: noise level above which the scene's causal structure is decided (our default; see
#: docs/INSIGHTS.md for the timing probe that measures it on ToyWorld)
STRUCTURE_SPLIT = 0.6
#: :data:`lina_core.interventions.DEFAULT_RHO` (0.6), the reallocated schedule's default share of
#: steps above the split.  A uniform schedule already spends ``1 - split`` of its steps there (0.4
#: at the default split), and both halves of :func:`reallocated` are linear, so
#: ``rho = 1 - split`` redraws the uniform schedule exactly (the default was 0.4 until issue 25);
#: the default moves half again as many steps into the structure phase


def uniform_share(split: float = STRUCTURE_SPLIT) -> float:
    """The share of a uniform schedule's steps above ``split``: the ``rho`` that changes nothing."""
    return 1.0 - float(split)


@dataclass
class Schedule:
    kind: str                 # "timesteps" or "sigmas"
    values: torch.Tensor      # one entry per step, from high noise to low

    def kwargs(self) -> dict[str, Any]:
        """The pipeline keyword arguments that select this schedule."""
        return {self.kind: [float(v) for v in self.values]}

    def noise_levels(self, num_train_timesteps: int = 1000) -> np.ndarray:
        v = self.values.double().numpy()
        return v / num_train_timesteps if self.kind == "timesteps" else v

    def __len__(self) -> int:
        return len(self.values)

    def tail(self, k: int) -> "Schedule":
        """The schedule from step ``k`` on (for branches that start from cached latents)."""
        return Schedule(self.kind, self.values[k:])

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "values": [float(v) for v in self.values]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Schedule":
        return cls(d["kind"], torch.tensor(d["values"], dtype=torch.float64))


def is_flow_matching(scheduler: Any) -> bool:
    return "FlowMatch" in type(scheduler).__name__


def uniform(scheduler: Any, steps: int) -> Schedule:
    """The scheduler's own default for ``steps`` steps, read back from it."""
    if is_flow_matching(scheduler) and getattr(scheduler.config, "use_dynamic_shifting", False):
        # the shift depends on the image size (``mu``, known only at run time) and set_timesteps
        # refuses to run without it: hand back the default *before* shifting (what set_timesteps
        # computes first); the scheduler shifts it with the pipeline's mu
        lin = np.linspace(float(scheduler.sigma_max), float(scheduler.sigma_min), steps)
        return Schedule("sigmas", torch.tensor(lin, dtype=torch.float64))
    scheduler.set_timesteps(steps)
    if is_flow_matching(scheduler):
        s = scheduler.sigmas[:-1].double().cpu()
        # flow schedulers shift given sigmas; hand back the unshifted input that reproduces them
        return Schedule("sigmas", _unshift(scheduler, s))
    return Schedule("timesteps", scheduler.timesteps.double().cpu())


def reallocated(scheduler: Any, steps: int, rho: float = DEFAULT_RHO,
                split: float = STRUCTURE_SPLIT, base: Schedule | None = None) -> Schedule:
    """Same number of steps; a share ``rho`` of them at noise levels above ``split``.

    The default schedule spends about ``1 - split`` of its steps there; LINA's causality-aware
    schedule moves more of them to where structure is decided.  ``base``: the uniform schedule to
    reallocate (default :func:`uniform`; a pipeline with its own default, e.g. FLUX, passes it).
    """
    if not 0.0 <= rho <= 1.0 or not np.isfinite(rho):
        raise ValueError(f"rho: {rho!r} must be in [0, 1]")
    if not 0.0 < split < 1.0:
        raise ValueError(f"split: {split!r} must be in (0, 1)")
    base = base if base is not None else uniform(scheduler, steps)
    u = base.noise_levels(getattr(scheduler.config, "num_train_timesteps", 1000))
    u_max, u_min = float(u[0]), float(u[-1])
    n_hi = int(round(rho * steps))
    n_hi = min(max(n_hi, 1), steps - 1)
    hi = np.linspace(u_max, split, n_hi, endpoint=False)
    lo = np.linspace(split, u_min, steps - n_hi)
    levels = np.concatenate([hi, lo])
    if base.kind == "timesteps":
        vals = levels * getattr(scheduler.config, "num_train_timesteps", 1000)
    else:
        vals = levels
    return Schedule(base.kind, torch.tensor(vals, dtype=torch.float64))


def _unshift(scheduler: Any, sigmas: torch.Tensor) -> torch.Tensor:
    cfg = scheduler.config
    shift = float(getattr(cfg, "shift", 1.0))
    return sigmas / (shift - (shift - 1.0) * sigmas)


def used(scheduler: Any) -> Schedule:
    """What the scheduler actually used in its last run (read back, never assumed)."""
    if is_flow_matching(scheduler):
        return Schedule("sigmas", scheduler.sigmas[:-1].double().cpu())
    return Schedule("timesteps", scheduler.timesteps.double().cpu())


def figure(schedules: dict[str, Schedule], num_train_timesteps: int = 1000,
           split: float = STRUCTURE_SPLIT):
    """A Plotly figure: noise level against step for each named schedule."""
    import plotly.graph_objects as go
    fig = go.Figure()
    for name, s in schedules.items():
        u = s.noise_levels(num_train_timesteps)
        fig.add_trace(go.Scatter(x=list(range(len(u))), y=u, mode="lines+markers", name=name))
    fig.add_hline(y=split, line_dash="dot", annotation_text="structure phase above")
    fig.update_layout(xaxis_title="step", yaxis_title="noise level (t/T or sigma)",
                      height=300, margin=dict(l=40, r=10, t=30, b=40))
    return fig
