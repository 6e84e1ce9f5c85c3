"""The LINA benchmark: five methods on test-id and test-ood, implicit captions, per category.

A video pipeline runs the same benchmark on clips (the clip categories; a clip passes physics
when its temporal question does, texture when every frame does).

Work items (split, scene index, seed) are sharded with accelerate's
``PartialState.split_between_processes``; every item is computed from its own seed alone and the
merged table is sorted by item, so results do not depend on the number of processes.  Each method
runs standalone (no trajectory cache) so wall times are honest.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import engine
from .csg import CATEGORIES
from .interventions import InterventionSpec
from .lina import LinaParams, Predictor, lina_spec, prompt_features
from .stats import bootstrap
from .toyworld.data import sample_scene

METHODS = ("baseline", "explicit", "best_fixed", "schedule_only", "lina")


def categories(pipe: Any) -> tuple[str, ...]:
    from .toyworld.video_data import CLIP_CATEGORIES
    return CLIP_CATEGORIES if engine.family(pipe) == "toyworld_video" else CATEGORIES


def work_items(splits: list[str], n_per_category: int, seeds: list[int],
               cats: tuple[str, ...] = CATEGORIES) -> list[dict]:
    items = []
    for split in splits:
        for cat in cats:
            for i in range(n_per_category):
                for s in seeds:
                    items.append({"split": split, "category": cat, "index": i, "seed": s})
    return items


def run_item(pipe: Any, item: dict, predictor: Predictor, fixed: LinaParams, rho_only: float,
             steps: int = 25) -> list[dict[str, Any]]:
    from .toyworld.verify_video import judge
    cat, cats = item["category"], categories(pipe)
    s = sample_scene(item["split"], item["index"] * len(cats) + cats.index(cat), category=cat)
    prompt, graph, seed = s.caption(False), s.graph, item["seed"]
    specs = {
        "baseline": InterventionSpec(prompt=prompt, steps=steps, seed=seed),
        "explicit": InterventionSpec(prompt=s.caption(True), steps=steps, seed=seed),
        "best_fixed": lina_spec(prompt, graph, fixed, steps, seed),
        "schedule_only": lina_spec(prompt, graph, LinaParams(rho=rho_only), steps, seed),
    }
    params = predictor.predict(prompt_features(pipe, prompt, graph))
    specs["lina"] = lina_spec(prompt, graph, params, steps, seed)
    out, base_img = [], None
    for m in METHODS:
        t0 = time.perf_counter()
        r = engine.run(pipe, specs[m], seed=seed, previews=False)
        wall = time.perf_counter() - t0
        im = r.images[0]
        if m == "baseline":
            base_img = im
        v = judge(im, graph)
        out.append({**item, "method": m, "physics": bool(v.physics_ok),
                    "texture": bool(v.texture_ok),
                    "drift": float(np.abs(im.astype(np.float32) - base_img).mean() / 255),
                    "model_calls": int(r.model_calls), "wall_s": wall,
                    "params": params.to_dict() if m == "lina" else None})
    return out


def run_bench(pipe: Any, predictor: Predictor, splits: list[str], n_per_category: int,
              seeds: list[int], out: str | Path, steps: int = 25, progress=print
              ) -> dict[str, Any] | None:
    """Shard, run, gather; the main process returns the merged summary (others: None)."""
    import torch
    from accelerate import PartialState
    # on machines without CUDA, processes started by `accelerate launch --multi_gpu` (torchrun)
    # form a gloo group only if the state is told it is on CPU
    state = PartialState(cpu=not torch.cuda.is_available())
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fixed = LinaParams(**predictor.meta.get("training", {}).get("best_fixed", {}))
    rho_only = fixed.rho if fixed.rho > 0 else 0.6
    items = work_items(splits, n_per_category, seeds, categories(pipe))
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    with state.split_between_processes(items) as mine:
        for j, it in enumerate(mine):
            rows.extend(run_item(pipe, it, predictor, fixed, rho_only, steps))
            if (j + 1) % 5 == 0:
                progress(f"[proc {state.process_index}] {j + 1}/{len(mine)} items "
                         f"{time.perf_counter() - t0:.0f}s")
    (out / f"rows.{state.process_index}.json").write_text(json.dumps(rows))
    state.wait_for_everyone()
    if not state.is_main_process:
        return None
    merged: list[dict[str, Any]] = []
    for i in range(state.num_processes):
        merged.extend(json.loads((out / f"rows.{i}.json").read_text()))
        (out / f"rows.{i}.json").unlink()
    key = lambda r: (r["split"], r["category"], r["index"], r["seed"],  # noqa: E731
                     METHODS.index(r["method"]))
    merged.sort(key=key)
    summary = summarise(merged)
    result = {"schema_version": 1, "splits": splits, "n_per_category": n_per_category,
              "seeds": seeds, "steps": steps, "num_processes": state.num_processes,
              "best_fixed": fixed.to_dict(), "schedule_only_rho": rho_only,
              "summary": summary, "rows": merged}
    (out / "bench.json").write_text(json.dumps(result, indent=1))
    (out / "bench.md").write_text(markdown(summary))
    return result


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    groups = sorted({(r["split"], c) for r in rows for c in (r["category"], "all")})
    for split, cat in groups:
        sel = [r for r in rows if r["split"] == split and (cat == "all" or r["category"] == cat)]
        base_wall = sum(r["wall_s"] for r in sel if r["method"] == "baseline")
        base_calls = sum(r["model_calls"] for r in sel if r["method"] == "baseline")
        for m in METHODS:
            ms = [r for r in sel if r["method"] == m]
            if not ms:
                continue
            phys = [float(r["physics"]) for r in ms]
            tex = [float(r["texture"]) for r in ms]
            drift = [r["drift"] for r in ms]
            out.append({
                "split": split, "category": cat, "method": m, "n": len(ms),
                "physics": float(np.mean(phys)), "physics_ci": bootstrap(phys),
                "texture": float(np.mean(tex)), "texture_ci": bootstrap(tex),
                "drift": float(np.mean(drift)), "drift_ci": bootstrap(drift),
                "model_calls_ratio": sum(r["model_calls"] for r in ms) / max(base_calls, 1),
                "wall_ratio": sum(r["wall_s"] for r in ms) / max(base_wall, 1e-9)})
    return out


def markdown(summary: list[dict[str, Any]], categories: bool = True) -> str:
    pct = lambda v, ci: f"{100 * v:.1f} [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"  # noqa: E731
    lines = ["| split | category | method | n | physics % | texture % | drift (mean abs, /255) "
             "| model evals / baseline | wall time / baseline |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in summary:
        if not categories and r["category"] != "all":
            continue
        lines.append(f"| {r['split']} | {r['category']} | {r['method']} | {r['n']} | "
                     f"{pct(r['physics'], r['physics_ci'])} | {pct(r['texture'], r['texture_ci'])}"
                     f" | {r['drift']:.3f} | {r['model_calls_ratio']:.2f} | "
                     f"{r['wall_ratio']:.2f} |")
    return "\n".join(lines)
