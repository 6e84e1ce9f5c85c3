"""Markdown tables of probe results (the JSON each probe writes), for the docs.

    python -m lina_core probe-tables runs/reproduce/probes/*.json

One table per file: its rows with every field but the interval bounds, the rate written as
``acc% [lo, hi] (n)``; the disentangle probe's linear-probe scores follow it.
"""
from __future__ import annotations

import json
from pathlib import Path


def table(path: Path) -> str:
    d = json.loads(path.read_text())
    rows = d["rows"]
    cols = list(dict.fromkeys(k for r in rows for k in r if k not in ("acc", "n", "lo", "hi")))
    out = [f"**{d['name']}** (`{path.name}`)", "",
           "| " + " | ".join(cols) + " | rate % [95% CI] (n) |",
           "|" + "---|" * (len(cols) + 1)]
    for r in rows:
        out.append("| " + " | ".join(str(r.get(c, "")) for c in cols) +
                   f" | {100 * r['acc']:.0f} [{100 * r['lo']:.0f}, {100 * r['hi']:.0f}] "
                   f"({r['n']}) |")
    lin = d.get("meta", {}).get("linear_probe")
    if lin:
        out += ["", "| linear probe | accuracy | test n | chance |", "|---|---|---|---|"]
        out += [f"| {k} | {v['acc']:.2f} | {v['n_test']} | {v['chance']:.2f} |"
                for k, v in lin.items()]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="python -m lina_core probe-tables",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", help="probe result JSON files")
    for f in ap.parse_args(argv).files:
        print(table(Path(f)) + "\n")
    return 0
