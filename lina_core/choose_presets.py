"""Choose the LINA tab's talk presets by measurement on the dev-ood grid (never test-ood).

    python -m lina_core choose-presets --grid runs/reproduce/grid_dev \
        --predictor assets/lina_predictor [--model DIR] [--categories roles,fill,place]

For every dev-ood prompt: the baseline's and LINA's joint success over that prompt's samples in
the grid. Prints the prompt LINA fixes best ("LINA fixes this") and, among prompts the baseline
gets wrong, the one LINA fixes least ("LINA does not fix this"), each with its measured rates and
the seed of a sample that shows it, as lines to paste into app/presets.py.  With
``--categories``, one line per category instead: the prompt of that category LINA fixes best
(for the v2 presets, ``app.presets.RELATIONAL_PRESETS``).
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


def line(label: str, p: str, st) -> str:
    b, li, n, c, seeds, _ = st
    return (f"# {label}: baseline {b:.0%} -> LINA {li:.0%} joint success over {n} dev-ood "
            f"samples; LINA chooses {c}; samples it fixes: {seeds[:3]}\n"
            f'    ("{label}: ...", "{p}", {seeds[0] if seeds else 0}),')


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
            print(line(cat, max(mine, key=gain), stats[max(mine, key=gain)]) if mine else
                  f"# {cat}: no dev-ood prompt in {a.grid}")
        return
    fixes = max(stats, key=gain)
    failing = [p for p in stats if stats[p][0] < 0.5]
    not_fixed = min(failing, key=lambda p: (stats[p][1] - stats[p][0], -stats[p][2]))
    for label, p in (("LINA fixes this", fixes), ("LINA does not fix this", not_fixed)):
        print(line(label, p, stats[p]))
