"""Does the causality-aware schedule help the loop's repairs?  (issue 24.4, measured on dev-ood)

The paper reallocates denoising steps toward the early, structure-forming phase.  In the loop
that would mean running each try with the reallocated schedule (:func:`schedules.reallocated`,
a share ``rho`` of the steps above the structure split, where a uniform schedule spends
``1 - split``) instead of the uniform one.  This module measures it where the loop needs it:
on every kept dev-ood baseline run whose final picture is wrong, the loop's first try (as
:func:`adaptive.plan` orders the predictor's candidates for the check's reading of the
baseline) is run twice from the item's noise, once per schedule, and judged by the verifier.
The repair rates and their paired difference (bootstrap interval over items) decide: the
schedule goes into the loop only if it repairs more, its interval above zero.  dev-ood only:
nothing here reads a test split.
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import adaptive, engine
from .candidates import available, get, spec_for
from .check_data import read_rows
from .grid import categories, key, scene, verdict_fields
from .interventions import ScheduleSpec
from .stats import bootstrap, wilson

SCHEDULES = ("uniform", "reallocated")
#: the share of steps above the structure split: the loop's own ``schedule`` candidate's
RHO = get("schedule").k_frac


def first_try(pipe: Any, row: dict[str, Any], p: Any, predictor: Any) -> str | None:
    """The loop's first try for a kept run whose check reading is ``p`` (None: none applies)."""
    graph = scene(row, categories(pipe)).graph
    allowed = [c.name for c in available(graph)]
    gains = adaptive.predictor_gains(predictor, pipe, row["prompt"], graph, allowed)
    names = adaptive.plan(adaptive.ranked_candidates(gains), p, allowed)
    return names[0] if names else None


def run_item(pipe: Any, row: dict[str, Any], name: str, rho: float, steps: int = 25
             ) -> dict[str, Any]:
    """The try ``name`` on ``row``'s scene and noise under each schedule, judged."""
    from .toyworld.verify_video import judge
    s = scene(row, categories(pipe))
    seed = int(row["noise_seed"])
    spec = spec_for(get(name), row["prompt"], s.graph, steps, seed)
    out = {k: row[k] for k in ("split", "category", "index", "seed", "prompt", "noise_seed")}
    out.update(name=name, rho=rho)
    for sched in SCHEDULES:
        sp = spec if sched == "uniform" else dataclasses.replace(
            spec, schedule=ScheduleSpec("reallocated", rho=rho))
        sp.validate()
        t0 = time.perf_counter()
        r = engine.run(pipe, sp, seed=seed, previews=False)
        v = verdict_fields(judge(r.images[0], s.graph))
        out[sched] = {**v, "joint": bool(v["physics"] and v["texture"]),
                      "wall_s": time.perf_counter() - t0}
    return out


def measure(pipe: Any, folder: str | Path, out: str | Path, check: Any, predictor: Any,
            rho: float = RHO, steps: int = 25,
            progress: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Every failing kept baseline run of ``folder`` (a dev-ood folder of check_data), its first
    try under both schedules, into ``out/rows.jsonl`` (resumable); every row."""
    from .bench.loop_replay import base_probabilities
    if "test" in Path(folder).name:
        raise ValueError(f"folder: {folder} looks like a test split; the schedule is chosen on "
                         f"dev-ood (or train) runs only")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    done = {key(r) for r in read_rows(out)}
    bases = [b for b in base_probabilities(pipe, folder, check)
             if not (b["physics"] and b["texture"]) and key(b) not in done]
    t0 = time.perf_counter()
    with open(out / "rows.jsonl", "a") as f:
        for j, b in enumerate(bases):
            name = first_try(pipe, b, b["p"], predictor)
            if name is None:
                continue
            f.write(json.dumps(run_item(pipe, b, name, rho, steps)) + "\n")
            f.flush()
            if (j + 1) % 5 == 0 or j + 1 == len(bases):
                progress(f"{j + 1}/{len(bases)} failing runs {time.perf_counter() - t0:.0f}s")
    return read_rows(out)


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Repair rate per schedule (Wilson intervals), the paired difference (bootstrap), per
    category, and the decision the rule gives."""
    def rates(rs):
        res = {}
        for sched in SCHEDULES:
            k = sum(r[sched]["joint"] for r in rs)
            lo, hi = wilson(k, len(rs))
            res[sched] = {"repaired": k, "n": len(rs), "rate": k / len(rs) if rs else None,
                          "lo": lo, "hi": hi}
        d = [float(r["reallocated"]["joint"]) - float(r["uniform"]["joint"]) for r in rs]
        res["difference"] = {"mean": float(np.mean(d)) if d else None,
                             "interval": list(bootstrap(d))}
        return res
    out = {"all": rates(rows), "per_category": {
        c: rates([r for r in rows if r["category"] == c])
        for c in sorted({r["category"] for r in rows})}}
    lo = out["all"]["difference"]["interval"][0]
    out["keep_in_loop"] = bool(rows) and lo == lo and lo > 0
    return out


def markdown(s: dict[str, Any], rho: float) -> str:
    a = s["all"]
    pct = lambda x: f"{100 * x:.1f}"  # noqa: E731
    lines = [f"The loop's first try on failing dev-ood runs, uniform vs reallocated schedule "
             f"(rho {rho}: that share of the steps above the structure split):", "",
             "| runs | n | uniform: repaired | reallocated: repaired | difference |",
             "|---|---|---|---|---|"]
    for name, r in [("all", a), *s["per_category"].items()]:
        d = r["difference"]
        lines.append(
            f"| {name} | {r['uniform']['n']} | {pct(r['uniform']['rate'])}% "
            f"[{pct(r['uniform']['lo'])}, {pct(r['uniform']['hi'])}] | "
            f"{pct(r['reallocated']['rate'])}% [{pct(r['reallocated']['lo'])}, "
            f"{pct(r['reallocated']['hi'])}] | {100 * d['mean']:+.1f} "
            f"[{100 * d['interval'][0]:+.1f}, {100 * d['interval'][1]:+.1f}] |")
    lines += ["", "Decision (rule fixed before the run: keep the schedule in the loop only if "
              "the difference's interval is above zero): "
              + ("**keep it**" if s["keep_in_loop"] else "**not kept**") + "."]
    return "\n".join(lines)
