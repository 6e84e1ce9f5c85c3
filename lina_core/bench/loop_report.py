"""The loop's report: the check's card figures and the benchmark table, from recorded runs.

Reads what ``python -m lina_core bench-loop`` recorded under a root folder (the kept baseline
runs per split, the tries of flagged items) and the shipped check, and reports test-ood and test-id with
the loop's settings from the check's card (its threshold: Youden's J on out-of-fold train and
dev-ood probabilities; two tries): nothing on a test split chooses anything.  Methods of the per-prompt benchmark (best fixed,
per-prompt LINA, best of grid) are read from its shipped rows (``docs/results/v2/bench.json``:
the same items and noise seeds), and the share of items whose baseline verdict agrees with the
runs here is reported, so the two can be compared.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from . import loop_replay as B
from ..check import EarlyCheck, report as check_report
from ..grid import key
from ..stats import rate

SHIPPED_BENCH = Path(__file__).resolve().parents[2] / "docs" / "results" / "v2" / "bench.json"
SHIPPED_METHODS = ("best_fixed", "lina", "best_of_grid")
LABELS = {"baseline": "baseline", "best_fixed": "best fixed intervention (per-prompt bench)",
          "lina": "per-prompt LINA (one choice before the run)",
          "loop": "**LINA loop** (learned check)",
          "best_of_n_seeds": "best-of-N seeds by the same check, no intervention",
          "loop_verifier_check": "loop with the verifier as its check (upper bound)",
          "best_of_grid": "best of the candidate grid per sample (upper bound, 8.7x time)"}


def shipped_rows(split: str, bench: Path = SHIPPED_BENCH
                 ) -> dict[str, dict[tuple, dict[str, Any]]]:
    if not bench.is_file():
        return {}
    rows = json.loads(bench.read_text())["rows"]
    out: dict[str, dict[tuple, dict[str, Any]]] = {}
    for r in rows:
        if r["split"] == split:
            out.setdefault(r["method"], {})[key(r)] = r
    return out


def _from_shipped(bases: list[dict[str, Any]], rows: dict[tuple, dict[str, Any]],
                  shipped_base: dict[tuple, dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """A shipped method's rows on ``bases``; its wall times against the shipped baseline's
    (timed on the same machine)."""
    out = []
    for b in bases:
        r = rows[key(b)]
        out.append({"category": b["category"], "policy": name, "joint": bool(r["joint"]),
                    "base_joint": bool(b["physics"] and b["texture"]),
                    "calls": r["model_calls"], "base_calls": b["model_calls"],
                    "wall": r["wall_s"], "base_wall": shipped_base[key(b)]["wall_s"]})
    return out


def method_table(bases: list[dict[str, Any]], tries: list[dict[str, Any]], split: str,
                 threshold: float, max_tries: int, bench: Path = SHIPPED_BENCH
                 ) -> dict[str, Any]:
    """Every method's per-item rows and summary on one split (``bench``: the per-prompt
    benchmark's rows, read for the methods it ran on the same items)."""
    methods: dict[str, list[dict[str, Any]]] = {}
    methods["baseline"] = [{"category": b["category"], "joint": bool(b["physics"] and b["texture"]),
                            "base_joint": bool(b["physics"] and b["texture"]),
                            "calls": b["model_calls"], "base_calls": b["model_calls"],
                            "wall": b["wall_s"], "base_wall": b["wall_s"]} for b in bases]
    for pol in B.POLICIES:
        methods[pol] = B.replay(bases, tries, pol, threshold, max_tries)
    ship = shipped_rows(split, bench)
    agree = None
    if ship and all(key(b) in ship.get("baseline", {}) for b in bases):
        sb = ship["baseline"]
        agree = float(np.mean([bool(sb[key(b)]["joint"]) == bool(b["physics"] and b["texture"])
                               for b in bases]))
        for m in SHIPPED_METHODS:
            if m in ship:
                methods[m] = _from_shipped(bases, ship[m], sb, m)
    summary = {m: B.summarise(rows) for m, rows in methods.items()}
    cats = sorted({b["category"] for b in bases})
    per_cat = {m: {c: rate(r["joint"] for r in rows if r["category"] == c)["acc"]
                   for c in cats} for m, rows in methods.items()}
    return {"summary": summary, "per_category": per_cat, "baseline_agrees_with_shipped": agree,
            "rows": {m: rows for m, rows in methods.items() if m in B.POLICIES}}


def check_figures(bases: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    p = np.array([b["p"] for b in bases])
    labels = np.array([[b["physics"], b["texture"]] for b in bases], np.float32)
    out = check_report(p, labels, threshold)
    cats = sorted({b["category"] for b in bases})
    out["per_category"] = {}
    for c in cats:
        m = np.array([b["category"] == c for b in bases])
        r = check_report(p[m], labels[m], threshold)
        out["per_category"][c] = {k: r[k] for k in ("n", "failures", "auroc", "precision",
                                                    "recall")}
    pv = np.array([b["p_verifier"] for b in bases])
    fail = ~labels.astype(bool).all(1)
    flag_v = (pv[:, 0] * pv[:, 1]) < 1
    out["verifier_on_preview"] = {"agreement": float(np.mean(flag_v == fail)),
                                  "precision": float((flag_v & fail).sum() / max(1, flag_v.sum())),
                                  "recall": float((flag_v & fail).sum() / max(1, fail.sum()))}
    return out


def _pct(x: float | None) -> str:
    return "-" if x is None or x != x else f"{100 * x:.1f}"


def markdown(res: dict[str, Any]) -> str:
    pol = res["policy"]
    lines = [f"Loop settings ({pol['chosen']}): flag a run when "
             f"P(physics right) x P(texture right) < {pol['threshold']:.3f}, at most "
             f"{pol['max_tries']} tries; check step {res['check']['check_step']} of 25.", ""]
    for split in ("test-ood", "test-id"):
        if split not in res["splits"]:
            continue
        t = res["splits"][split]
        lines += [f"### {split} (n = {t['summary']['baseline']['n']})", "",
                  "| method | joint success [95% CI] | gain [95% CI] | repair | break | "
                  "model calls (x baseline) | wall (x baseline, mean / p95) |",
                  "|---|---|---|---|---|---|---|"]
        for m in ("baseline", "best_fixed", "lina", "best_of_n_seeds", "loop",
                  "loop_verifier_check", "best_of_grid"):
            s = t["summary"].get(m)
            if s is None:
                continue
            lines.append(
                f"| {LABELS[m]} | {_pct(s['joint'])} [{_pct(s['joint_ci'][0])}, "
                f"{_pct(s['joint_ci'][1])}] | {100 * s['gain']:+.1f} [{100 * s['gain_ci'][0]:+.1f}, "
                f"{100 * s['gain_ci'][1]:+.1f}] | {_pct(s['repair']['acc'])}% of "
                f"{s['repair']['n']} | {_pct(s['break']['acc'])}% of {s['break']['n']} | "
                f"{s['calls_ratio']:.2f} | {s['wall_ratio']:.2f} / {s['wall_p95']:.2f} |")
        agree = t.get("baseline_agrees_with_shipped")
        if agree is not None:
            lines += ["", f"Baseline verdicts here agree with the shipped benchmark's rows on "
                          f"{100 * agree:.1f}% of items (rows for best fixed, per-prompt LINA and "
                          f"best of grid are the shipped ones; their wall ratios are against the "
                          f"shipped baseline's times)."]
        cats = list(t["per_category"]["baseline"])
        lines += ["", "| category | " + " | ".join(cats) + " |",
                  "|---|" + "---|" * len(cats)]
        for m in ("baseline", "loop", "best_of_n_seeds", "loop_verifier_check"):
            lines.append(f"| {m} | " + " | ".join(_pct(t["per_category"][m][c]) for c in cats)
                         + " |")
        c = t["check"]
        lines += ["", f"The check on {split} (reported only): AUROC for final failure "
                      f"{c['auroc']:.3f} [{c['auroc_ci'][0]:.3f}, {c['auroc_ci'][1]:.3f}] "
                      f"(n = {c['n']}, {c['failures']} failures); at the loop's threshold, "
                      f"precision {c['precision']:.2f}, recall {c['recall']:.2f}; the verifier "
                      f"reading the same preview: precision "
                      f"{c['verifier_on_preview']['precision']:.2f}, recall "
                      f"{c['verifier_on_preview']['recall']:.2f}.", "",
                  "| category | n | failures | AUROC | precision | recall |",
                  "|---|---|---|---|---|---|"]
        for cat, r in c["per_category"].items():
            lines.append(f"| {cat} | {r['n']} | {r['failures']} | {r['auroc']:.2f} | "
                         f"{r['precision']:.2f} | {r['recall']:.2f} |")
        lines.append("")
    return "\n".join(lines)


def _split(pipe: Any, root: Path, split: str, ck: EarlyCheck, seeds: set[int] | None = None
           ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A split's kept baselines (read by ``ck``) and its recorded tries, rescored by ``ck``."""
    folder = root / f"tries_{split}"
    bases = [b for b in B.base_probabilities(pipe, root / split, ck)
             if seeds is None or int(b["seed"]) in seeds]
    return bases, B.rescore(folder, B.read_tries(folder), ck, pipe, ck.steps)


def write_report(pipe: Any, root: Path, check_dir: Path, out: Path,
                 bench: Path = SHIPPED_BENCH) -> dict[str, Any]:
    """The loop's settings come from the check's card (chosen on train and dev-ood before any
    test run); each test split's methods, check figures and per-category rates."""
    ck = EarlyCheck.load(check_dir)
    pol = {"threshold": ck.loop_threshold, "max_tries": ck.max_tries,
           "chosen": ck.meta.get("loop_chosen", "the check's card")}
    res: dict[str, Any] = {"check": {k: ck.meta[k] for k in ("check_step", "width", "members",
                                                               "training", "cv_auroc",
                                                               "cv_report") if k in ck.meta},
                           "policy": pol, "splits": {}}
    for split in ("test-ood", "test-id"):
        if not (root / f"tries_{split}").is_dir():
            continue
        bases, tries = _split(pipe, root, split, ck)
        t = method_table(bases, tries, split, pol["threshold"], pol["max_tries"], bench)
        t["check"] = check_figures(bases, pol["threshold"])
        t["recorded"] = {"flagged_items": len(tries),
                         "rerun_baseline_agrees": float(np.mean(
                             [x["same_as_kept_baseline"] for x in tries])) if tries else None}
        res["splits"][split] = t
    out.mkdir(parents=True, exist_ok=True)
    (out / "loop.json").write_text(json.dumps(res, indent=1))
    (out / "loop.md").write_text(markdown(res))
    (out / "check_card.md").write_text(card(res))
    return res


def card(res: dict[str, Any]) -> str:
    """The check's card (docs/CHECK.md): what it reads, its data, its figures."""
    c = res["check"]
    cv = c.get("cv_report") or {}
    tr = c.get("training", {})
    lines = [
        "# LINA's early check: card", "",
        "Made by `python -m lina_core bench-loop fit-check` (train and dev-ood baseline runs "
        "kept by `python -m lina_core bench-loop collect`); figures on the test splits by "
        "`python -m lina_core bench-loop report` (reported only, never used to choose).", "",
        "**What it is.** An ensemble of "
        f"{c.get('members', 1)} small CNNs (width {c['width']}) that read a run's predicted clean "
        f"image at step {c['check_step']} of 25 beside three layout masks of the scene graph "
        "(objects, implicit effects, the rest) placed where the run drew its first object, with "
        "the prompt's features (the predictor's: scene-graph features and pooled prompt "
        "embedding), and give P(physics right) and P(texture right) for the run's *final* image. "
        "It never runs the verifier and never sees a ground-truth picture; the verifier labels "
        "its training data (its verdict on each run's final image).", "",
        f"**Data.** {tr.get('n')} baseline runs ({', '.join(tr.get('splits', []))}; "
        f"{tr.get('prompts')} prompts, {tr.get('failures')} final failures), 25 Euler steps, "
        "guidance 3, the grid's items and noise seeds. The check step and width were chosen by "
        "5-fold cross-validation grouped by prompt: "
        + ", ".join(f"{k}: AUROC {v:.3f}" for k, v in (c.get("cv_auroc") or {}).items()) + ".",
        "",
        f"**Out of fold** (train + dev-ood, n = {cv.get('n')}): AUROC for final failure "
        f"{cv.get('auroc', float('nan')):.3f} [{cv.get('auroc_ci', [0, 0])[0]:.3f}, "
        f"{cv.get('auroc_ci', [0, 0])[1]:.3f}] (physics {cv.get('auroc_physics', 0):.3f}, "
        f"texture {cv.get('auroc_texture', 0):.3f}); at the loop's threshold "
        f"{res['policy']['threshold']:.3f}, precision {cv.get('precision', 0):.2f}, recall "
        f"{cv.get('recall', 0):.2f}, accuracy {cv.get('accuracy', 0):.3f}.", ""]
    for split, t in res["splits"].items():
        k = t["check"]
        lines += [f"**{split}** (held out, reported only; n = {k['n']}, {k['failures']} final "
                  f"failures): AUROC {k['auroc']:.3f} [{k['auroc_ci'][0]:.3f}, "
                  f"{k['auroc_ci'][1]:.3f}] (physics {k['auroc_physics']:.3f}, texture "
                  f"{k['auroc_texture']:.3f}); precision {k['precision']:.2f}, recall "
                  f"{k['recall']:.2f}, accuracy {k['accuracy']:.3f} "
                  f"[{k['accuracy_ci'][0]:.3f}, {k['accuracy_ci'][1]:.3f}].", "",
                  "Calibration (P(both right) predicted vs observed):", "",
                  "| bin | n | predicted | observed |", "|---|---|---|---|"]
        lines += [f"| {b['bin'][0]:.1f}-{b['bin'][1]:.1f} | {b['n']} | {b['predicted']:.2f} | "
                  f"{b['observed']:.2f} |" for b in k["calibration"]]
        lines.append("")
    lines += ["**Limits.** Trained on a few hundred runs of one ToyWorld model; it is "
              "overconfident (see the calibration tables) and reads physics worse than texture. "
              "On other models (SD, FLUX, ...) there is no learned check: LINA runs its single "
              "per-prompt choice there, and nothing here measures a check on real weights.", ""]
    return "\n".join(lines)
