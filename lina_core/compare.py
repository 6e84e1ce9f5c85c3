"""Baseline vs intervention from the same noise: the one place that decides what a comparison runs.

The app, the CLI, LINA's sampler and the benchmark all compare a spec against its baseline; they
ask here which baseline (the same prompt, seed, steps and guidance with no intervention and the
uniform schedule), whether the branch may start from the baseline's cached steps (only when both
use the same schedule), and what inpainting keeps (the baseline's final latents).
"""
from __future__ import annotations

from typing import Any

from . import engine
from .interventions import InterventionSpec, ScheduleSpec


def baseline_of(spec: InterventionSpec) -> InterventionSpec:
    """The left side of a comparison: ``spec`` with no intervention and the uniform schedule."""
    d = engine.baseline_spec(spec).to_dict()
    d["schedule"] = ScheduleSpec().__dict__.copy()
    return InterventionSpec.from_dict(d)


def branch(pipe: Any, spec: InterventionSpec, base: engine.RunResult, seed: int | None = None,
           **run_kw: Any) -> engine.RunResult:
    """``spec`` run against ``base`` (its baseline, same seed): ``base`` itself when the spec
    changes nothing; from the baseline's cached steps when the schedules agree."""
    if spec.is_baseline():
        return base
    cache = base.trajectory if spec.schedule.kind == "uniform" else None
    reference = base.trajectory.latents[-1] if spec.inpaint is not None else None
    return engine.run(pipe, spec, seed=seed, cache=cache, reference=reference, **run_kw)


def compare(pipe: Any, spec: InterventionSpec, seed: int | None = None,
            base: engine.RunResult | None = None, **run_kw: Any,
            ) -> tuple[InterventionSpec, engine.RunResult, engine.RunResult]:
    """(baseline spec, baseline run, spec's run), the baseline computed unless given."""
    base_spec = baseline_of(spec)
    if base is None:
        base = engine.run(pipe, base_spec, seed=seed, **run_kw)
    return base_spec, base, branch(pipe, spec, base, seed=seed, **run_kw)
