"""Choose the LINA tab's talk presets by measurement on the dev-ood grid (never test-ood).

    PYTHONPATH=. .venv/bin/python scripts/choose_presets.py --grid runs/grid_dev \
        --predictor assets/lina_predictor

For every dev-ood prompt: the baseline's and LINA's joint success over that prompt's samples in
the grid. Prints the prompt LINA fixes best ("LINA fixes this") and, among prompts the baseline
gets wrong, the one LINA fixes least ("LINA does not fix this"), each with its measured rates and
the seed of a sample that shows it, as lines to paste into app/presets.py.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--grid", default="runs/grid_dev")
    ap.add_argument("--predictor", default=str(ROOT / "assets" / "lina_predictor"))
    a = ap.parse_args()
    import numpy as np
    from lina_core.__main__ import load_model
    from lina_core.bench import lina_choices, method_rows
    from lina_core.grid import read_rows
    from lina_core.lina import Predictor
    rows = [r for r in read_rows(a.grid) if r["split"] == "dev-ood"]
    pred = Predictor.load(a.predictor)
    allowed: dict[str, list[str]] = {}
    for r in rows:
        allowed.setdefault(r["prompt"], []).append(r["candidate"])
    choices = lina_choices(load_model(None), pred, sorted(allowed), allowed)
    m = method_rows(rows, choices, pred.meta["training"]["best_fixed"])
    stats = {}
    for p in allowed:
        b = [r for r in m if r["prompt"] == p and r["method"] == "baseline"]
        li = [r for r in m if r["prompt"] == p and r["method"] == "lina"]
        fixed = [r["noise_seed"] for r in b for x in li if x["index"] == r["index"] and
                 x["seed"] == r["seed"] and x["joint"] and not r["joint"]]
        stats[p] = (np.mean([r["joint"] for r in b]), np.mean([r["joint"] for r in li]), len(b),
                    choices[p][0], fixed)
    fixes = max(stats, key=lambda p: (stats[p][1] - stats[p][0], stats[p][2]))
    failing = [p for p in stats if stats[p][0] < 0.5]
    not_fixed = min(failing, key=lambda p: (stats[p][1] - stats[p][0], -stats[p][2]))
    for label, p in (("LINA fixes this", fixes), ("LINA does not fix this", not_fixed)):
        b, li, n, c, seeds = stats[p]
        print(f"# {label}: baseline {b:.0%} -> LINA {li:.0%} joint success over {n} dev-ood "
              f"samples; LINA chooses {c}; samples it fixes: {seeds[:3]}")
        print(f'    ("{label.split(" this")[0].lower()}: ...", "{p}", '
              f'{seeds[0] if seeds else 0}),')


if __name__ == "__main__":
    main()
