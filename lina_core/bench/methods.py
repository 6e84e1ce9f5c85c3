"""The LINA benchmark, read off the candidate grid (:mod:`lina_core.grid`) of the reported splits.

Methods, each a cell of the grid (a standalone run) or a choice among cells:

* ``baseline``: the ``none`` cell; ``explicit``: the ``cplus_all`` cell (the explicit caption);
* ``schedule_only``: the reallocated schedule alone;
* ``best_fixed``: the one candidate with the best joint success on dev-ood, for every prompt;
* ``lina``: the predictor's choice per prompt (its wall time includes choosing);
* ``oracle``: per sample, the candidate with the best joint success on the *other* samples of
  the same prompt (other seeds and scenes; ties broken by the physics margin): the ceiling for a
  per-prompt choice; ``oracle_objective`` chooses by the fit's objective instead (joint success
  plus 0.25 x margin), which can trade joint success for physics margin;
* ``best_of_grid``: right if any candidate is right for this very sample: selection by the
  verifier, an upper bound that LINA is not allowed to be.

``oracle`` and ``best_of_grid`` need every applicable candidate on the prompt's samples; a split
whose grid ran only some candidates (``grid --candidates``) reports the other methods only.

The headline is joint success (physics and texture right in the same sample).  Physics verdicts
are three-valued; the undetermined rate is reported per method.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..candidates import FAMILY, available
from ..csg import from_prompt
from ..grid import key
from ..lina import Predictor, joint_ok, objective
from ..stats import bootstrap

METHODS = ("baseline", "explicit", "schedule_only", "best_fixed", "lina", "oracle",
           "oracle_objective", "best_of_grid")
FIXED_CELLS = {"baseline": "none", "explicit": "cplus_all", "schedule_only": "schedule"}




def lina_choices(pipe: Any, predictor: Predictor, prompts: list[str],
                 allowed: dict[str, list[str]]) -> dict[str, tuple[str, float]]:
    """The predictor's candidate per prompt and the seconds it took to choose."""
    out = {}
    for p in prompts:
        t0 = time.perf_counter()
        c, _ = predictor.choose(predictor.features(pipe, p, from_prompt(p).graph), allowed[p])
        out[p] = (c, time.perf_counter() - t0)
    return out


def cells_needed(pipe: Any, predictor: Predictor, items: list[dict[str, Any]],
                 cats: tuple[str, ...]) -> set[str]:
    """The candidates the methods need on ``items`` (every method but the oracles)."""
    from ..grid import scene
    prompts = {}
    for it in items:
        s = scene(it, cats)
        prompts[s.caption(False)] = [c.name for c in available(s.graph)]
    picks = lina_choices(pipe, predictor, sorted(prompts), prompts)
    fixed = predictor.meta.get("training", {}).get("best_fixed", "none")
    return set(FIXED_CELLS.values()) | {fixed} | {c for c, _ in picks.values()}


def method_rows(rows: list[dict[str, Any]], choices: dict[str, tuple[str, float]],
                fixed: str) -> list[dict[str, Any]]:
    """One row per sample and method, from the grid rows of one or more splits."""
    cells: dict[tuple, dict[str, dict[str, Any]]] = {}
    for r in rows:
        cells.setdefault(key(r), {})[r["candidate"]] = r
    by_prompt: dict[str, list[tuple]] = {}
    for k, cs in cells.items():
        by_prompt.setdefault(cs["none"]["prompt"], []).append(k)
    out = []
    applies = {p: {c.name for c in available(from_prompt(p).graph)} for p in by_prompt}
    # the oracles need every applicable cell on every sample of the split
    partial = {k[0] for k, cs in cells.items() if not applies[cs["none"]["prompt"]] <= set(cs)}
    for k, cs in sorted(cells.items()):
        prompt = cs["none"]["prompt"]
        others = [o for o in by_prompt[prompt] if o != k]
        pick = {m: c for m, c in FIXED_CELLS.items() if c in applies[prompt]}
        pick["best_fixed"] = fixed if fixed in applies[prompt] else "none"
        pick["lina"] = choices[prompt][0]
        missing = sorted({c for c in pick.values() if c not in cs})
        if missing:
            raise ValueError(f"grid: sample {k} has no cell for {missing}; run `python -m "
                             f"lina_core grid --candidates {','.join(missing)}` on it")
        complete = k[0] not in partial
        if others and complete:
            joint = {c: np.mean([joint_ok(cells[o][c]) for o in others]) for c in cs}
            margin = {c: np.mean([cells[o][c]["margin"] for o in others]) for c in cs}
            score = {c: np.mean([objective(cells[o][c]) for o in others]) for c in cs}
            pick["oracle"] = max(cs, key=lambda c: (joint[c], margin[c], c == "none"))
            pick["oracle_objective"] = max(cs, key=lambda c: (score[c], c == "none"))
        for m in METHODS:
            if m == "best_of_grid" and complete:
                any_ok = [c for c in cs if joint_ok(cs[c])]
                r = cs[any_ok[0]] if any_ok else cs["none"]
                extra = {"candidate": "+".join(sorted(cs)) if any_ok else "none",
                         "wall_s": sum(x["wall_s"] for x in cs.values())}
            elif m in pick and m != "best_of_grid":
                r = cs[pick[m]]
                extra = {"candidate": pick[m]}
                if m == "lina":
                    extra["wall_s"] = r["wall_s"] + choices[prompt][1]
            else:
                continue
            out.append({"split": r["split"], "category": r["category"], "index": r["index"],
                        "seed": r["seed"], "noise_seed": r.get("noise_seed", r["seed"]),
                        "prompt": prompt, "method": m,
                        "physics": bool(r["physics"]), "texture": bool(r["texture"]),
                        "joint": joint_ok(r), "verdict": r["verdict"], "drift": r["drift"],
                        "model_calls": r["model_calls"], "wall_s": r["wall_s"], **extra})
    return out


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for split, cat in sorted({(r["split"], c) for r in rows for c in (r["category"], "all")}):
        sel = [r for r in rows if r["split"] == split and cat in ("all", r["category"])]
        base = {key(r): r for r in sel if r["method"] == "baseline"}
        base_wall = sum(r["wall_s"] for r in base.values())
        base_calls = sum(r["model_calls"] for r in base.values())
        for m in METHODS:
            ms = [r for r in sel if r["method"] == m]
            if not ms:
                continue
            j = [float(r["joint"]) for r in ms]
            gain = [float(r["joint"]) - float(base[key(r)]["joint"]) for r in ms]
            out.append({
                "split": split, "category": cat, "method": m, "n": len(ms),
                "prompts": len({r["prompt"] for r in ms}),
                "joint": float(np.mean(j)), "joint_ci": bootstrap(j),
                "gain": float(np.mean(gain)), "gain_ci": bootstrap(gain),
                "physics": float(np.mean([r["physics"] for r in ms])),
                "texture": float(np.mean([r["texture"] for r in ms])),
                "texture_ci": bootstrap([float(r["texture"]) for r in ms]),
                "undetermined": float(np.mean([r["verdict"] == "undetermined" for r in ms])),
                "drift": float(np.mean([r["drift"] for r in ms])),
                "model_calls_ratio": sum(r["model_calls"] for r in ms) / max(base_calls, 1),
                "wall_ratio": sum(r["wall_s"] for r in ms) / max(base_wall, 1e-9)})
    return out


def oracle_share(summary: list[dict[str, Any]], split: str) -> float | None:
    """How much of the oracle's gain over the baseline LINA recovers (all categories)."""
    s = {r["method"]: r for r in summary if r["split"] == split and r["category"] == "all"}
    if "oracle" not in s or s["oracle"]["gain"] <= 0:
        return None
    return s["lina"]["gain"] / s["oracle"]["gain"]


def targets(summary: list[dict[str, Any]], share: float | None) -> str:
    """Markdown: issue 11's targets against what was measured (all categories)."""
    s = {(r["split"], r["method"]): r for r in summary if r["category"] == "all"}
    rows = []

    def pts(a: str, b: str, split: str) -> float | None:
        if (split, a) in s and (split, b) in s:
            return 100 * (s[(split, a)]["joint"] - s[(split, b)]["joint"])
        return None

    def tex(split: str) -> float | None:
        if (split, "lina") in s:
            return 100 * (s[(split, "lina")]["texture"] - s[(split, "baseline")]["texture"])
        return None
    checks = [
        ("LINA joint success vs baseline, test-ood", pts("lina", "baseline", "test-ood"),
         ">= +15 points", lambda v: v >= 15),
        ("LINA vs best fixed intervention, test-ood", pts("lina", "best_fixed", "test-ood"),
         ">= +5 points", lambda v: v >= 5),
        ("LINA joint success vs baseline, test-id", pts("lina", "baseline", "test-id"),
         ">= -1 point", lambda v: v >= -1),
        ("LINA texture vs baseline, test-ood", tex("test-ood"), ">= -2 points",
         lambda v: v >= -2),
        ("LINA texture vs baseline, test-id", tex("test-id"), ">= -2 points",
         lambda v: v >= -2),
        ("share of the oracle's gain LINA recovers, test-ood",
         None if share is None else 100 * share, ">= 70%", lambda v: v >= 70),
        ("LINA wall time / baseline, test-ood", s.get(("test-ood", "lina"), {}).get(
            "wall_ratio"), "<= 1.5", lambda v: v <= 1.5),
        ("LINA wall time / baseline, test-id", s.get(("test-id", "lina"), {}).get(
            "wall_ratio"), "<= 1.5", lambda v: v <= 1.5),
    ]
    rows = ["| measure | measured | target | met |", "|---|---|---|---|"]
    for name, v, target, ok in checks:
        got = "not measured" if v is None else f"{v:+.1f}" if "point" in target else \
            f"{v:.2f}" if "wall" in name else f"{v:.0f}%"
        rows.append(f"| {name} | {got} | {target} | "
                    f"{'-' if v is None else 'yes' if ok(v) else 'no'} |")
    return "\n".join(rows)


def choice_counts(rows: list[dict[str, Any]], method: str = "lina") -> dict[str, dict]:
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        if r["method"] == method:
            c = out.setdefault(f"{r['split']}/{r['category']}", {})
            c[r["candidate"]] = c.get(r["candidate"], 0) + 1
    return out


def run_bench(pipe: Any, predictor: Predictor, grid_rows: list[dict[str, Any]],
              out: str | Path | None = None) -> dict[str, Any]:
    """Methods, summary and the share of the oracle's gain, written to ``out``."""
    allowed: dict[str, list[str]] = {}
    for r in grid_rows:
        allowed.setdefault(r["prompt"], []).append(r["candidate"])
    allowed = {p: sorted(set(v)) for p, v in allowed.items()}
    choices = lina_choices(pipe, predictor, sorted(allowed), allowed)
    fixed = predictor.meta.get("training", {}).get("best_fixed", "none")
    rows = method_rows(grid_rows, choices, fixed)
    summary = summarise(rows)
    splits = sorted({r["split"] for r in rows})
    result = {"schema_version": 2, "splits": splits, "best_fixed": fixed,
              "predictor": {k: predictor.meta.get("training", {}).get(k)
                            for k in ("alpha", "threshold", "splits", "n_prompts")},
              "oracle_share": {s: oracle_share(summary, s) for s in splits},
              "lina_choices": choice_counts(rows), "summary": summary, "rows": rows}
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "bench.json").write_text(json.dumps(result, indent=0))
        (out / "bench.md").write_text(
            "## Targets\n\n" + targets(summary, result["oracle_share"].get("test-ood")) +
            "\n\n## All methods\n\n" + markdown(summary) + "\n\n## LINA's choices\n\n" +
            "\n".join(f"- {k}: {v}" for k, v in sorted(result["lina_choices"].items())) + "\n")
    return result


#: the methods whose cell is the same for every prompt (no predictor, no oracle): a recorded
#: row of these is one standalone run, so running it again must give the recorded verdict
REPLAYED = ("baseline", "explicit", "schedule_only", "best_fixed")


def replay(pipe: Any, bench: dict[str, Any], per_cell: int = 1, steps: int = 25,
           progress: Any = None) -> list[dict[str, Any]]:
    """Run again the first ``per_cell`` samples of every (split, category) of a recorded
    benchmark (``bench.json``) for the fixed methods (:data:`REPLAYED`) and compare each
    verdict (physics, texture, physics verdict) with the recorded one: the benchmark's half of
    issue 26's golden equality.  Returns one row per run with ``recorded``, ``now``, ``same``
    (the verdicts agree) and ``prompt`` (the caption now, when it is not the recorded one: the
    shipped benchmark predates issue 25's "an ice cube"); a candidate two methods share runs
    once."""
    from ..candidates import get
    from ..grid import run_item
    fields = ("physics", "texture", "verdict")
    cells: dict[tuple, list[dict[str, Any]]] = {}
    for r in bench["rows"]:
        if r["method"] in REPLAYED:
            cells.setdefault((r["split"], r["category"]), []).append(r)
    out = []
    for (split, cat), rows in sorted(cells.items()):
        for k in sorted({key(r) for r in rows})[:per_cell]:
            recorded = {r["candidate"]: r for r in rows if key(r) == k}
            item = dict(zip(("split", "category", "index", "seed"), k))
            for now in run_item(pipe, item, steps, tuple(get(c) for c in sorted(recorded))):
                rec = recorded[now["candidate"]]
                row = {**item, "candidate": now["candidate"],
                       "recorded": {f: rec[f] for f in fields},
                       "now": {f: now[f] for f in fields}}
                row["same"] = row["recorded"] == row["now"]
                if rec["prompt"] != now["prompt"]:
                    row["prompt"] = now["prompt"]
                out.append(row)
                if progress:
                    progress(row)
    return out


def markdown(summary: list[dict[str, Any]], categories: bool = True) -> str:
    pct = lambda v, ci: f"{100 * v:.1f} [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"  # noqa: E731
    lines = ["| split | category | method | n (prompts) | joint success % | gain vs baseline "
             "(points) | physics % | texture % | undetermined % | wall / baseline |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in summary:
        if not categories and r["category"] != "all":
            continue
        lines.append(
            f"| {r['split']} | {r['category']} | {r['method']} | {r['n']} ({r['prompts']}) | "
            f"{pct(r['joint'], r['joint_ci'])} | {pct(r['gain'], r['gain_ci'])} | "
            f"{100 * r['physics']:.1f} | {pct(r['texture'], r['texture_ci'])} | "
            f"{100 * r['undetermined']:.1f} | {r['wall_ratio']:.2f} |")
    return "\n".join(lines)


def candidate_table(grid_rows: list[dict[str, Any]]) -> str:
    """Markdown: every candidate of the grid per split and category (n, physics, texture, joint
    success with 95% Wilson intervals, undetermined share)."""
    from ..candidates import FAMILY
    from ..stats import wilson
    order = {c.name: i for i, c in enumerate(FAMILY)}
    pct = lambda k, n: "%.0f [%.0f, %.0f]" % (100 * k / n, *(100 * x for x in wilson(k, n)))  # noqa
    lines = ["| split | category | candidate | n (prompts) | physics % | texture % | "
             "joint success % | undetermined % |", "|---|---|---|---|---|---|---|---|"]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in grid_rows:
        groups.setdefault((r["split"], r["category"], r["candidate"]), []).append(r)
    for (sp, cat, cand), rs in sorted(groups.items(),
                                      key=lambda kv: (kv[0][0], kv[0][1], order[kv[0][2]])):
        n = len(rs)
        lines.append(f"| {sp} | {cat} | {cand} | {n} ({len({r['prompt'] for r in rs})}) | "
                     f"{pct(sum(r['physics'] for r in rs), n)} | "
                     f"{pct(sum(r['texture'] for r in rs), n)} | "
                     f"{pct(sum(joint_ok(r) for r in rs), n)} | "
                     f"{100 * np.mean([r['verdict'] == 'undetermined' for r in rs]):.0f} |")
    return "\n".join(lines)


def candidate_costs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per candidate of a grid: its cells, and its wall time and model evaluations over the
    baseline's on the same items (PERFORMANCE.md "LINA's candidates: what each costs")."""
    base = {key(r): r for r in rows if r["candidate"] == "none"}
    out = []
    for c in FAMILY:
        mine = [r for r in rows if r["candidate"] == c.name and key(r) in base]
        if mine:
            b = [base[key(r)] for r in mine]
            out.append({"candidate": c.name, "cells": len(mine),
                        "wall_ratio": sum(r["wall_s"] for r in mine) / sum(r["wall_s"] for r in b),
                        "calls_ratio": sum(r["model_calls"] for r in mine) /
                        sum(r["model_calls"] for r in b)})
    return out
