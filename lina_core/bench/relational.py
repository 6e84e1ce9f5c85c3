"""The ToyWorld v2 categories on a model: the test-id -> test-ood gap per category and caption,
and on the biased-prior category (``fill``) the error toward the prior.

    python -m lina_core relational-report runs/eval_v2/eval.json [--out F.md]

Reads an ``eval.json`` (``python -m lina_core eval ... --categories roles,fill,place``); each
fill sample's asked level comes from its scene (the raw row's ``i``). Error toward the prior:
on prompts asking for less material than empty space, the share of judged samples the verifier
reads as filled above the middle (the training set's 80% side); on "more" prompts the same
share is the rate of getting it right. Rates with 95% Wilson intervals.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..csg import TOYWORLD_CATEGORIES, RELATIONAL_CATEGORIES
from ..stats import rate
from ..toyworld.data import sample_scene, scene_index


def fmt(r: dict) -> str:
    return f"{100 * r['acc']:.1f}% [{100 * r['lo']:.1f}, {100 * r['hi']:.1f}] (n = {r['n']})"


def gap_table(rows: list[dict]) -> list[str]:
    out = ["| category | caption | metric | test-id | test-ood |", "|---|---|---|---|---|"]
    cells = {(r["category"], r["caption"], r["metric"], r["split"]): r for r in rows}
    for cat in RELATIONAL_CATEGORIES:
        for cap in ("implicit", "explicit"):
            for metric in ("texture", "physics"):
                a, b = (cells.get((cat, cap, metric, s)) for s in ("test-id", "test-ood"))
                if a or b:
                    out.append(f"| {cat} | {cap} | {metric} | {fmt(a) if a else '-'} | "
                               f"{fmt(b) if b else '-'} |")
    return out


def prior_table(raw: list[dict]) -> list[str]:
    """Per split and asked level: the share of fill samples whose level was judged and read
    as "more" (for prompts asking "less", the error toward the prior), and the share the
    verifier could not judge (no jar found)."""
    out = ["| split | asked | read as more than half, of those judged | undetermined |",
           "|---|---|---|---|"]
    for split in ("test-id", "test-ood"):
        by: dict[str, list[str]] = {"more": [], "less": []}
        for r in raw:
            if r["split"] == split and r["category"] == "fill":
                s = sample_scene(split, scene_index(r["i"], "fill", TOYWORLD_CATEGORIES),
                                 category="fill")
                by[s.graph.attr("fill", "level")].append(r["verdict"])
        for asked, verdicts in by.items():
            judged = [v for v in verdicts if v != "undetermined"]
            if verdicts:
                read_more = [(v == "ok") == (asked == "more") for v in judged]
                out.append(f"| {split} | {asked} | {fmt(rate(read_more))} | "
                           f"{fmt(rate(v == 'undetermined' for v in verdicts))} |")
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m lina_core relational-report",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("eval_json")
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    res = json.loads(Path(a.eval_json).read_text())
    text = "\n".join(["### Train -> OOD on the v2 categories", ""] + gap_table(res["rows"])
                     + ["", "### The biased prior (fill)", ""] + prior_table(res["raw"]))
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
