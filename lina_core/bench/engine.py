"""Engine benchmark: what the trajectory cache saves, and what the engine costs over a plain call.

``python -m lina_core bench-engine [--model DIR | --tiny] [--reps N] [--out FILE.json]``

(a) a k-sweep: one baseline plus a PromptEdit("replace") from every step k = 0 .. steps-1, each
    variant started from the cached baseline trajectory at step k, against the same sweep with
    every variant recomputed from step 0 (target: ratio <= 0.6);
(b) the engine's no-intervention run against calling the pipeline directly with the same prompt,
    steps, guidance and seed (target: ratio <= 1.05).

Both are measured in one process on one pipeline, repetitions interleaved (A B A B ...), and the
medians reported; the same table goes to stdout (markdown) and to ``--out`` (JSON).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .. import engine
from ..interventions import InterventionSpec, PromptEdit

PROMPT = "a large red ball on a small round mirror"
TARGET = "a small blue cube on a large square mirror"
RUNS_MODEL = Path("/work/runs/toyworld/model")
SWEEP_TARGET = 0.6
OVERHEAD_TARGET = 1.05


def pick_model(path: str | None, tiny: bool) -> tuple[Any, str]:
    """The pipeline to measure and a line saying which it is."""
    from ..loading import load_model
    from ..pipelines.registry import TOYWORLD_DIR
    if tiny:
        return load_model(None, tiny=True), "tiny random ToyWorld (--tiny)"
    if path:
        return load_model(path), f"ToyWorld model at {path} (--model)"
    for cand in (TOYWORLD_DIR, RUNS_MODEL):
        if (cand / "model_index.json").is_file():
            return load_model(str(cand)), f"ToyWorld model at {cand}"
    return load_model(None, tiny=True), ("tiny random ToyWorld (no model at "
                                         f"{TOYWORLD_DIR} or {RUNS_MODEL})")


def interleaved(fns: dict[str, Callable[[], Any]], reps: int
                ) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and process-CPU times of each function: ``reps`` rounds of A B, B A, ... after one
    warm-up each.  CPU time is the steadier figure on a machine shared with other work."""
    for f in fns.values():
        f()
    wall: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    for r in range(reps):
        order = list(fns) if r % 2 == 0 else list(fns)[::-1]   # A B, B A: no fixed position
        for k in order:
            t0, c0 = time.perf_counter(), time.process_time()
            fns[k]()
            wall[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
    return wall, cpu


def ratios(times: dict[str, list[float]], a: str, b: str) -> dict[str, float]:
    """Ratio of the medians, and the median of the per-round ratios (robust to slow drifts)."""
    return {"ratio_of_medians": statistics.median(times[a]) / statistics.median(times[b]),
            "median_paired_ratio": statistics.median(x / y for x, y in zip(times[a], times[b]))}


def bench(pipe: Any, steps: int = 25, reps: int = 3, overhead_reps: int = 15, seed: int = 0,
          guidance: float = 3.0) -> dict[str, Any]:
    ks = list(range(steps))

    def make_spec(k: int) -> InterventionSpec:
        return InterventionSpec(prompt=PROMPT, steps=steps, seed=seed, guidance_scale=guidance,
                                edits=[PromptEdit("replace", k, steps, target_prompt=TARGET)])

    calls: dict[str, int] = {}
    images: dict[str, dict[int, np.ndarray]] = {}

    def sweep(use_cache: bool) -> Callable[[], None]:
        name = "cached" if use_cache else "full"

        def f() -> None:
            base, out = engine.sweep_k(pipe, make_spec, ks, seed, use_cache=use_cache)
            calls[name] = base.model_calls + sum(r.model_calls for r in out.values())
            images[name] = {k: r.images for k, r in out.items()}
        return f

    t_sweep, c_sweep = interleaved({"cached": sweep(True), "full": sweep(False)}, reps)
    worst = max(int(np.abs(images["cached"][k].astype(int) - images["full"][k].astype(int)).max())
                for k in ks)

    base_spec = InterventionSpec(prompt=PROMPT, steps=steps, seed=seed, guidance_scale=guidance)
    same: dict[str, np.ndarray] = {}

    def run_engine() -> None:
        same["engine"] = engine.run(pipe, base_spec, seed=seed).images

    def run_pipe() -> None:
        out = pipe(PROMPT, num_inference_steps=steps, guidance_scale=guidance,
                   generator=torch.Generator().manual_seed(seed), output_type="np").images
        same["pipe"] = engine.np_images(out)

    t_over, c_over = interleaved({"engine": run_engine, "pipe": run_pipe}, overhead_reps)
    med = {k: statistics.median(v) for k, v in {**t_sweep, **t_over}.items()}
    return {
        "steps": steps, "seed": seed, "guidance_scale": guidance,
        "sweep": {"ks": f"0..{steps - 1}", "cached_s": med["cached"], "full_s": med["full"],
                  "ratio": med["cached"] / med["full"], "target": SWEEP_TARGET,
                  "reps": reps, "wall": ratios(t_sweep, "cached", "full"),
                  "cpu": ratios(c_sweep, "cached", "full"), "times_s": t_sweep,
                  "cpu_times_s": c_sweep, "model_calls": calls,
                  "max_pixel_diff_cached_vs_full": worst},
        "overhead": {"engine_s": med["engine"], "pipe_s": med["pipe"],
                     "ratio": med["engine"] / med["pipe"], "target": OVERHEAD_TARGET,
                     "reps": overhead_reps, "wall": ratios(t_over, "engine", "pipe"),
                     "cpu": ratios(c_over, "engine", "pipe"), "times_s": t_over,
                     "cpu_times_s": c_over,
                     "same_image": bool(np.array_equal(same["engine"], same["pipe"]))},
    }


def markdown(res: dict[str, Any]) -> str:
    s, o = res["sweep"], res["overhead"]
    n = res["steps"]
    rows = [
        "| measure | with the engine / cache (s) | reference (s) | ratio | target | met |",
        "|---|---|---|---|---|---|",
        f"| k-sweep, k = {s['ks']} ({n} variants + baseline), cache vs recompute | "
        f"{s['cached_s']:.3f} | {s['full_s']:.3f} | {s['ratio']:.3f} | <= {s['target']} | "
        f"{'yes' if s['ratio'] <= s['target'] else 'NO'} |",
        f"| baseline run, engine.run vs pipe(...) | {o['engine_s']:.3f} | {o['pipe_s']:.3f} | "
        f"{o['ratio']:.3f} | <= {o['target']} | {'yes' if o['ratio'] <= o['target'] else 'NO'} |",
    ]
    rows.append("")
    rows.append("| ratio, other estimates | median of per-round ratios (wall) | ratio of CPU-time "
                "medians | median of per-round ratios (CPU) |")
    rows.append("|---|---|---|---|")
    for name, d in (("k-sweep", s), ("baseline overhead", o)):
        rows.append(f"| {name} | {d['wall']['median_paired_ratio']:.3f} | "
                    f"{d['cpu']['ratio_of_medians']:.3f} | {d['cpu']['median_paired_ratio']:.3f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(prog="python -m lina_core bench-engine", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="a ToyWorld model folder (default: assets/toyworld, else "
                                    f"{RUNS_MODEL}, else a tiny random model)")
    ap.add_argument("--tiny", action="store_true", help="a tiny random-weight ToyWorld model")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--reps", type=int, default=3, help="interleaved repetitions of each sweep")
    ap.add_argument("--overhead-reps", type=int, default=15,
                    help="interleaved repetitions of the engine-vs-pipe comparison")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    ap.add_argument("--out", help="write the results as JSON here")
    a = ap.parse_args(argv)
    for name in ("steps", "reps", "overhead_reps", "threads"):
        v = getattr(a, name)
        lo, hi = (2, 100) if name == "steps" else (1, 1000)
        if not lo <= v <= hi:
            ap.error(f"--{name.replace('_', '-')}: {v} is out of range; allowed [{lo}, {hi}]")
    torch.set_num_threads(a.threads)
    pipe, which = pick_model(a.model, a.tiny)
    print(f"model: {which}", flush=True)
    t0 = time.perf_counter()
    res = bench(pipe, steps=a.steps, reps=a.reps, overhead_reps=a.overhead_reps)
    res.update(model=which, model_class=type(pipe).__name__,
               device=str(pipe._execution_device), torch_threads=a.threads,
               python=platform.python_version(), torch=torch.__version__,
               bench_wall_s=time.perf_counter() - t0)
    s, o = res["sweep"], res["overhead"]
    print(markdown(res))
    print(f"\nmodel calls per sweep: cached {s['model_calls']['cached']}, "
          f"recomputed {s['model_calls']['full']}; largest pixel difference cached vs "
          f"recomputed: {s['max_pixel_diff_cached_vs_full']}; engine baseline image equals "
          f"pipe(...): {o['same_image']}; medians of {s['reps']} / {o['reps']} interleaved "
          f"repetitions; torch threads {a.threads}")
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(res, indent=1))
        print(f"wrote {a.out}")
    return res
