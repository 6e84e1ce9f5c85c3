"""Insight 2: are texture and physics kept apart in the prompt embedding?

On shadow scenes lit from the left or the right, one texture factor (the object's colour) and one
physics factor (the light's side) are moved in the embedding, two ways, from the same noise as the
scene's baseline run:

- **token swap**: the colour word's (or the side word's) token embedding is replaced by the
  other value's, taken from the prompt with that word changed (``PromptEdit("swap_tokens")``);
- **fitted direction**: ``c + (mean over train pairs of e(p with the new value) - e(p))``, the
  mean difference of the whole embedding over up to :data:`PAIRS` train prompts of the same
  template that hold the old value (the scene's own prompt left out), applied over every step
  (one ``add_direction`` edit per pair, each with strength ``1 / pairs``; strength 1 in all, set
  before any run).

The verifier judges each final image against the scene's graph and against the graph of the
prompt with the factor changed.  A move *follows* when the image passes the changed graph's
question of that factor and fails the original's; it *keeps* the other factor when the other
factor's verdict against the original graph is the baseline's.  If the embedding keeps the two
apart, a texture move follows and keeps physics, and a physics move follows and keeps texture.
Nothing is fitted on the scenes measured (test-id by default); rows are appended per scene.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from . import runs_file
from ..stats import pct, rate, rounded

ROWS = "separation.jsonl"
KEY_FIELDS = runs_file.KEY_FIELDS
PAIRS = 32
FACTORS = {"texture": "colour", "physics": "light side"}
MOVES = ("swap", "direction")
COMMAND = ("python -m lina_core separation --split test-id --n 200 --runs runs/separation "
           "--out docs/probes/separation")


def _sides(prompt: str) -> tuple[str, str]:
    side = "left" if prompt.endswith("the left") else "right"
    return side, {"left": "right", "right": "left"}[side]


def changed(prompt: str, factor: str, colour: str, new_colour: str) -> tuple[str, str, str]:
    """(old word, new word, the prompt with the factor changed)."""
    if factor == "texture":
        return colour, new_colour, prompt.replace(f" {colour} ", f" {new_colour} ", 1)
    old, new = _sides(prompt)
    return old, new, prompt[: -len(old)] + new


@lru_cache(maxsize=1)
def _train_shadow(n: int = 40 * PAIRS) -> tuple[tuple[str, str, str], ...]:
    """(prompt, colour, side) of the first ``n`` train shadow scenes lit from a side."""
    from ..toyworld.data import sample_scene
    out = []
    for i in range(n):
        s = sample_scene("train", i, category="shadow")
        side = s.graph.attr("light", "side")
        if side in ("left", "right"):
            out.append((s.caption(False), s.graph.attr("obj0", "colour"), side))
    return tuple(out)


def train_pairs(prompt: str, factor: str, old: str, new: str, n: int = PAIRS
                ) -> list[tuple[str, str]]:
    """Up to ``n`` distinct train shadow prompts of ``prompt``'s template holding ``old``
    (``prompt`` itself left out), each with its changed twin."""
    out: list[tuple[str, str]] = []
    seen = {prompt}
    for p, col, side in _train_shadow():
        if p in seen or len(p.split()) != len(prompt.split()) or \
                (col if factor == "texture" else side) != old:
            continue
        seen.add(p)
        out.append((p, changed(p, factor, col, new)[2]))
        if len(out) == n:
            break
    return out


def edits_for(move: str, factor: str, prompt: str, old: str, new: str, target: str,
              steps: int) -> list[Any]:
    from ..interventions import PromptEdit
    if move == "swap":
        return [PromptEdit("swap_tokens", 0, steps, 1.0, target_prompt=target,
                           pairs=[[old, new]])]
    pairs = train_pairs(prompt, factor, old, new)
    if not pairs:
        raise ValueError(f"no train prompt of {prompt!r}'s template holds {old!r}")
    return [PromptEdit("add_direction", 0, steps, 1.0 / len(pairs), direction_from=a,
                       direction_to=b) for a, b in pairs]


def items_for(split: str, n: int) -> list[dict[str, Any]]:
    """The first ``n`` shadow scenes of ``split`` lit from the left or the right (seed 0)."""
    from ..csg import TOYWORLD_CATEGORIES
    from ..grid import scene
    out, i = [], 0
    while len(out) < n and i < 50 * n:
        it = {"split": split, "category": "shadow", "index": i, "seed": 0}
        i += 1
        if scene(it, TOYWORLD_CATEGORIES).graph.attr("light", "side") in ("left", "right"):
            out.append(it)
    return out


def _verdicts(v: Any) -> dict[str, int]:
    return {"colour": int(bool(v.texture.get("colour", False))),
            "texture": int(bool(v.texture_ok)), "physics": int(bool(v.physics_ok))}


def scene_record(pipe: Any, item: dict[str, Any], steps: int = 25) -> dict[str, Any]:
    """The baseline and the four moves (swap and direction, texture and physics) of one scene,
    each final judged against the original graph (``src``) and the changed one (``cf``)."""
    from .. import engine
    from ..candidates import get, spec_for
    from ..compare import branch
    from ..csg import TOYWORLD_CATEGORIES
    from ..grid import noise_seed, scene
    from ..interventions import InterventionSpec
    from .switching import distinct, graph_of
    from ..toyworld.verify_video import judge
    s = scene(item, TOYWORLD_CATEGORIES)
    prompt = s.caption(False)
    seed = noise_seed(item, s.seed)
    colour = s.graph.attr("obj0", "colour")
    new_colour = sorted({"red", "blue", "green", "yellow", "purple"} - {colour})[
        int(np.random.default_rng(s.seed).integers(4))]
    base_spec = spec_for(get("none"), prompt, s.graph, steps, seed)
    base = engine.run(pipe, base_spec, seed=seed, previews=False)
    row: dict[str, Any] = {**{f: item[f] for f in KEY_FIELDS}, "prompt": prompt,
                           "noise_seed": seed, "base": _verdicts(judge(base.images[0], s.graph))}
    for factor in FACTORS:
        old, new, target = changed(prompt, factor, colour, new_colour)
        h = graph_of(target, s.seed)
        row[factor] = {"target": target, "distinct": distinct(s.graph, h)}
        for move in MOVES:
            d = base_spec.to_dict()
            d["edits"] = [asdict(e) for e in edits_for(move, factor, prompt, old, new, target,
                                                       steps)]
            spec = InterventionSpec.from_dict(d)
            spec.validate()
            im = branch(pipe, spec, base, seed=seed, previews=False).images[0]
            row[factor][move] = {"src": _verdicts(judge(im, s.graph)),
                                 "cf": _verdicts(judge(im, h))}
    return row


def read_rows(runs: str | Path) -> list[dict[str, Any]]:
    return runs_file.read(Path(runs) / ROWS)


def collect(pipe: Any, items: list[dict[str, Any]], runs: str | Path, steps: int = 25,
            progress: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Run the scenes not yet in ``runs`` (one appended line each)."""
    return runs_file.run_missing(items, Path(runs) / ROWS,
                                 lambda it: scene_record(pipe, it, steps), progress)


# ---------------------------------------------------------------------- the numbers


def _pt(values: Iterable[bool]) -> dict[str, Any]:
    return rounded(rate(values))


def _other(factor: str) -> str:
    return "physics" if factor == "texture" else "texture"


def follows(r: dict[str, Any], factor: str, move: str) -> bool:
    """The image passes the changed graph's question of ``factor`` and fails the original's."""
    q = "colour" if factor == "texture" else "physics"
    m = r[factor][move]
    return bool(m["cf"][q]) and not m["src"][q]


def keeps(r: dict[str, Any], factor: str, move: str) -> bool:
    """The other factor's verdict against the original graph is the baseline's."""
    o = _other(factor)
    return r[factor][move]["src"][o] == r["base"][o]


def summary(rows: list[dict[str, Any]], command: str = COMMAND,
            linear: dict[str, Any] | None = None) -> dict[str, Any]:
    """Per factor and move, on the scenes where the verifier tells the two values apart on
    clean renders: follow rate, keep rate, both."""
    if not rows:
        raise ValueError("no separation runs to summarise")
    cells = []
    for factor in FACTORS:
        rs = [r for r in rows if r[factor]["distinct"][
            "texture" if factor == "texture" else "physics"]]
        for move in MOVES:
            cells.append({"factor": factor, "what": FACTORS[factor], "move": move,
                          "follows": _pt(follows(r, factor, move) for r in rs),
                          "keeps_other": _pt(keeps(r, factor, move) for r in rs),
                          "both": _pt(follows(r, factor, move) and keeps(r, factor, move)
                                      for r in rs)})
    return {"schema_version": 1, "command": command, "n_scenes": len(rows),
            "splits": sorted({r["split"] for r in rows}),
            "baseline": {k: _pt(r["base"][k] for r in rows) for k in ("physics", "texture")},
            "cells": cells, "linear_probe": linear}


def table(res: dict[str, Any]) -> str:
    lines = ["| factor moved | how | n | follows the move | keeps the other factor | both |",
             "|---|---|---|---|---|---|"]
    for c in res["cells"]:
        lines.append(f"| {c['factor']} ({c['what']}) | {c['move']} | {c['follows']['n']} | "
                     f"{pct(c['follows'])} | {pct(c['keeps_other'])} | {pct(c['both'])} |")
    return "\n".join(lines)


def save_png(res: dict[str, Any], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    cells = res["cells"]
    for j, (what, colour) in enumerate(zip(("follows", "keeps_other"),
                                           ("tab:blue", "tab:green"))):
        xs = np.arange(len(cells)) + (j - 0.5) * 0.35
        pts = [c[what] for c in cells]
        ax.bar(xs, [p["acc"] for p in pts], 0.35, color=colour,
               yerr=[[p["acc"] - p["lo"] for p in pts], [p["hi"] - p["acc"] for p in pts]],
               capsize=3, label="follows the move" if what == "follows" else
               "keeps the other factor")
    ax.set_xticks(range(len(cells)))
    ax.set_xticklabels([f"{c['factor']}\n{c['move']} (n={c['follows']['n']})" for c in cells],
                       fontsize=7)
    ax.set_ylim(0, 1.02)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("Insight 2: one factor moved in the embedding (shadow scenes); 95% Wilson",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def save_html(res: dict[str, Any], path: Path) -> None:
    from .figures import bars_html
    bars_html(path, "Insight 2: texture and physics moved apart in the embedding",
              [f"{c['factor']} {c['move']}" for c in res["cells"]],
              {what: [c[what] for c in res["cells"]] for what in ("follows", "keeps_other")})


def write(res: dict[str, Any], out: str | Path) -> dict[str, Path]:
    from .figures import write_figures
    return write_figures(res, out, "separation", save_png, save_html)


# ---------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lina_core separation",
                                 description=__doc__.splitlines()[0])
    from ..loading import image_model_args
    image_model_args(ap, threads=1)
    ap.add_argument("--split", default="test-id", choices=["dev-ood", "test-id", "test-ood"])
    ap.add_argument("--n", type=int, default=200, help="shadow scenes lit from a side")
    ap.add_argument("--runs", default="runs/separation", help="the resumable rows (gitignored)")
    ap.add_argument("--out", default="docs/probes/separation")
    ap.add_argument("--summarise", action="store_true", help="summarise --runs only")
    ap.add_argument("--no-summary", action="store_true", help="collect only (a shard)")
    ap.add_argument("--shard", type=int, default=0)
    ap.add_argument("--shards", type=int, default=1)
    a = ap.parse_args(argv)
    if not 1 <= a.n <= 5000:
        print(f"separation: --n: {a.n} must lie in [1, 5000]", file=sys.stderr)
        return 2
    import torch
    torch.set_num_threads(a.threads)
    from ..loading import load_model
    pipe = None
    if not a.summarise:
        pipe = load_model(a.model, a.tiny, False)
        items = items_for(a.split, a.n)[a.shard::a.shards]
        collect(pipe, items, a.runs, a.steps, lambda m: print(m, flush=True))
    if a.no_summary:
        return 0
    rows = read_rows(a.runs)
    if not rows:
        print(f"separation: --runs: {a.runs} holds no rows (run without --summarise first)",
              file=sys.stderr)
        return 2
    from .probes import linear_probe
    linear = linear_probe(pipe or load_model(a.model, a.tiny, False), n=1000)
    cmd = f"python -m lina_core separation --split {a.split} --n {a.n} --runs {a.runs} " \
          f"--out {a.out}"
    res = summary(rows, cmd, linear)
    paths = write(res, a.out)
    print(table(res))
    for k, v in linear.items():
        print(f"linear probe: {k}: {100 * v['acc']:.1f}% of {v['n_test']} (chance "
              f"{100 * v['chance']:.0f}%)")
    print("wrote", ", ".join(str(p) for p in paths.values()))
    return 0
