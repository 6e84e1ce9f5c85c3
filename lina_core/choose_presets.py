"""Choose the LINA tab's talk presets by measurement on the dev-ood grid (never test-ood).

    python -m lina_core choose-presets --grid runs/reproduce/grid_dev \
        --predictor assets/lina_predictor [--model DIR] [--categories roles,fill,place]

For every dev-ood prompt: the baseline's and LINA's joint success over that prompt's samples in
the grid. Prints the prompt LINA fixes best ("LINA fixes this") and, among prompts the baseline
gets wrong, the one LINA fixes least ("LINA does not fix this"), each with its measured rates and
the seed of a sample that shows it, as ``MeasuredPreset`` entries to paste into
:mod:`lina_core.presets` (which makes the app's labels from the numbers).  With
``--categories``, one entry per category instead: the prompt of that category LINA fixes best
(for ``lina_core.presets.RELATIONAL``).
"""
from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def prompt_stats(rows, choices, fixed):
    """Per prompt: (baseline rate, LINA rate, samples, LINA's candidate, seeds LINA fixes,
    category)."""
    import numpy as np
    from .bench.methods import method_rows
    m = method_rows(rows, choices, fixed)
    stats = {}
    for p in choices:
        b = [r for r in m if r["prompt"] == p and r["method"] == "baseline"]
        li = [r for r in m if r["prompt"] == p and r["method"] == "lina"]
        fixes = [r["noise_seed"] for r in b for x in li if x["index"] == r["index"] and
                 x["seed"] == r["seed"] and x["joint"] and not r["joint"]]
        stats[p] = (np.mean([r["joint"] for r in b]), np.mean([r["joint"] for r in li]), len(b),
                    choices[p][0], fixes, b[0]["category"])
    return stats


def line(label: str, p: str, st, category: str | None = None) -> str:
    """An entry for :mod:`lina_core.presets` (its label is made from these numbers there): the
    headline, ``how`` and ``note`` are left for a person to write after looking at the seed."""
    from .presets import MeasuredPreset
    b, li, n, c, seeds, _ = st
    entry = MeasuredPreset(label, p, int(seeds[0]) if seeds else 0, round(float(b), 4),
                           round(float(li), 4), int(n), how=f"LINA chooses {c}",
                           category=category)
    return f"# samples LINA fixes: {seeds[:3]}\n    {entry!r},"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m lina_core choose-presets",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--grid", default="runs/reproduce/grid_dev")
    ap.add_argument("--predictor", default=str(ROOT / "assets" / "lina_predictor"))
    ap.add_argument("--model", default=None, help="default: the shipped image model")
    ap.add_argument("--categories", default="", help="one preset per category, these ones")
    a = ap.parse_args(argv)
    from .bench.methods import lina_choices
    from .grid import read_rows
    from .lina import Predictor
    from .loading import load_model
    rows = [r for r in read_rows(a.grid) if r["split"] == "dev-ood"]
    pred = Predictor.load(a.predictor)
    allowed: dict[str, list[str]] = {}
    for r in rows:
        allowed.setdefault(r["prompt"], []).append(r["candidate"])
    choices = lina_choices(load_model(a.model), pred, sorted(allowed), allowed)
    stats = prompt_stats(rows, choices, pred.meta["training"]["best_fixed"])
    gain = lambda p: (stats[p][1] - stats[p][0], stats[p][2])  # noqa: E731
    if a.categories:
        for cat in a.categories.split(","):
            mine = [p for p in stats if stats[p][5] == cat]
            print(line(cat, max(mine, key=gain), stats[max(mine, key=gain)], cat) if mine else
                  f"# {cat}: no dev-ood prompt in {a.grid}")
        return
    fixes = max(stats, key=gain)
    failing = [p for p in stats if stats[p][0] < 0.5]
    not_fixed = min(failing, key=lambda p: (stats[p][1] - stats[p][0], -stats[p][2]))
    for label, p in (("LINA fixes this", fixes), ("LINA does not fix this", not_fixed)):
        print(line(label, p, stats[p]))
