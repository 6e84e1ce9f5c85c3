"""Insight 1, multi-hop: does the model get an effect wrong more often the more causal hops lie
between it and the words of the prompt, and does stating the effect ("explicit" caption) help?

Every scene of the eight ToyWorld categories is run twice from the same noise: with its implicit
caption ("a small red cube on the floor, lit from the left") and its explicit one ("..., casting
a shadow to the right"). The verifier judges each final image; each physics question gets the hop
depth of the effect it asks about (:data:`QUESTION_EFFECTS`, depths from
:meth:`CausalSceneGraph.hop_depths`): 0 for a relation the prompt states (larger, on top, fill
level, in the water), 1 for an effect of stated facts (shadow, reflection, float or sink, tilt).
Refraction in the buoyancy scenes is the one two-hop effect (it depends on whether the object
floats); :mod:`lina_core.refraction` says whether the verifier can judge it at 32 px.

A cell (hop x caption x split) counts images, not questions: an image passes a hop if every
physics question of that hop passes.  Refraction is asked only where the object should float;
it fails where the object does not float (the first hop failed), and is left out, counted as
"not readable", where the verifier cannot find the water or either part of the object.  Each
cell also gives the hop's rate given the hop before it passed, and how far the explicit
caption moved the picture (mean absolute pixel difference from the implicit one). The runs are the grid's baseline runs (the grid's noise
rule, 25 steps, its guidance); nothing is fitted or chosen, so test-id and test-ood are reported
as measured. Rows are appended per scene (resumable, several processes may share a run by
``--shard``); each final image is kept as a PNG beside them, so a new question can be asked of
the same images without running the model again.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from . import runs_file
from ..csg import TOYWORLD_CATEGORIES
from .figures import bars_html, write_figures
from ..stats import pct, rate, rounded

CAPTIONS = ("implicit", "explicit")
SPLITS = ("test-id", "test-ood")
ROWS = "multihop.jsonl"
KEY_FIELDS = runs_file.KEY_FIELDS
COMMAND = ("python -m lina_core multihop --splits test-id,test-ood --n 50 --runs runs/multihop "
           "--out docs/probes/multihop")

#: the effect types a physics question is about; a question not named here asks about a
#: relation the prompt states (hop 0)
QUESTION_EFFECTS = {
    "reflection_present": ("reflection",), "reflection_inside_mirror": ("reflection",),
    "shadow_side": ("shadow",), "float_or_sink": ("floating", "sinking"),
    "down_side": ("tilt",), "refraction_shift": ("refraction",),
}


def question_hop(graph: Any, question: str) -> int:
    """Hops from the prompt's words to what ``question`` asks about (the deepest such effect)."""
    types = QUESTION_EFFECTS.get(question, ())
    depth = graph.hop_depths()
    hops = [depth[e] for t in types for e in graph.effects(t)]
    return max(hops, default=0)


def _image_name(item: dict[str, Any], caption: str) -> str:
    return "{split}_{category}_{index}_{seed}_".format(**item) + caption + ".png"


def judged(graph: Any, images: dict[str, np.ndarray]) -> dict[str, Any]:
    """Per caption: its physics questions' verdicts (the verifier's and, where it applies,
    refraction's) and the texture verdict; with every question's hop."""
    from ..toyworld import refraction
    from ..toyworld.verify_video import judge
    out: dict[str, Any] = {}
    for cap, im in images.items():
        v = judge(im, graph)
        physics = {q: int(bool(ok)) for q, ok in v.physics.items()}
        two_hop = refraction.judge(im, graph, v)
        if two_hop is not None:
            physics[refraction.QUESTION] = int(two_hop)
        out[cap] = {"physics": physics, "texture_ok": int(bool(v.texture_ok)),
                    # asked but not readable (the verifier could not find a part): left out
                    "undetermined": [refraction.QUESTION] if two_hop is None and
                    refraction.applies(graph) else []}
    # every question asked, answered or not readable, with its hop
    out["hops"] = {q: question_hop(graph, q) for cap in images
                   for q in [*out[cap]["physics"], *out[cap]["undetermined"]]}
    if set(CAPTIONS) <= set(images):    # how far stating the effect moved the picture
        a, b = (np.asarray(images[c], np.float32) for c in CAPTIONS)
        out["pixel_diff"] = round(float(np.abs(a - b).mean()), 4)
    return out


def scene_record(pipe: Any, item: dict[str, Any], steps: int = 25,
                 images: Path | None = None) -> dict[str, Any]:
    """One scene, both captions from the same noise, judged (:func:`judged`)."""
    from PIL import Image
    from .. import engine
    from ..candidates import get, spec_for
    from ..grid import noise_seed, scene
    s = scene(item, TOYWORLD_CATEGORIES)
    seed = noise_seed(item, s.seed)
    finals, prompts = {}, {}
    for cap in CAPTIONS:
        prompts[cap] = s.caption(cap == "explicit")
        run = engine.run(pipe, spec_for(get("none"), prompts[cap], s.graph, steps, seed),
                         seed=seed, previews=False)
        finals[cap] = run.images[0]
        if images is not None:
            Image.fromarray(finals[cap]).save(images / _image_name(item, cap))
    out = {**{f: item[f] for f in KEY_FIELDS}, "noise_seed": seed, **judged(s.graph, finals)}
    for cap in CAPTIONS:
        out[cap]["prompt"] = prompts[cap]
    return out


def rejudge(runs: str | Path) -> list[dict[str, Any]]:
    """Judge the kept images again (after the questions change) and rewrite the rows; no
    model is run."""
    from PIL import Image
    from ..grid import scene
    runs = Path(runs)
    rows = read_rows(runs)
    for r in rows:
        s = scene(r, TOYWORLD_CATEGORIES)
        ims = {cap: np.asarray(Image.open(runs / "img" / _image_name(r, cap)).convert("RGB"))
               for cap in CAPTIONS}
        new = judged(s.graph, ims)
        for cap in CAPTIONS:
            r[cap].update(new[cap])
        r["hops"] = new["hops"]
        r["pixel_diff"] = new["pixel_diff"]
    (runs / ROWS).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def read_rows(runs: str | Path) -> list[dict[str, Any]]:
    """The scenes already run (the last line of a scene wins)."""
    return runs_file.read(Path(runs) / ROWS)


def collect(pipe: Any, items: list[dict[str, Any]], runs: str | Path, steps: int = 25,
            progress: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Run the items not yet in ``runs`` (one appended line each, images under ``img/``)."""
    runs = Path(runs)
    (runs / "img").mkdir(parents=True, exist_ok=True)
    return runs_file.run_missing(items, runs / ROWS,
                                 lambda it: scene_record(pipe, it, steps, runs / "img"), progress)


def items_for(splits: Iterable[str], n: int, categories: Iterable[str] | None = None,
              effect: str | None = None) -> list[dict[str, Any]]:
    """``n`` scenes per category and split (seed 0), scene-major so that a run stopped early
    still holds every category and split equally; ``effect``: the first ``n`` scenes of each
    whose graph holds an effect of that type."""
    from ..grid import scene, work_items
    cats = tuple(categories or TOYWORLD_CATEGORIES)
    if effect is None:
        its = work_items(list(splits), n, [0], cats)
    else:
        its = []
        for sp in splits:
            for cat in cats:
                i, got = 0, 0
                while got < n and i < 50 * n:
                    it = {"split": sp, "category": cat, "index": i, "seed": 0}
                    i += 1
                    if scene(it, TOYWORLD_CATEGORIES).graph.effects(effect):
                        its.append(it)
                        got += 1
    return sorted(its, key=lambda it: (it["index"], it["split"],
                                       TOYWORLD_CATEGORIES.index(it["category"])))


# ---------------------------------------------------------------------- the numbers


def passes(row: dict[str, Any], caption: str, hop: int) -> bool | None:
    """Whether every physics question of ``hop`` passes on the caption's image (None: the scene
    asks none at that hop)."""
    qs = [q for q, h in row["hops"].items() if h == hop and q in row[caption]["physics"]]
    return all(row[caption]["physics"][q] for q in qs) if qs else None


def _verifier_ok(row: dict[str, Any], caption: str) -> bool:
    """The verifier's own physics verdict (its questions; not the two-hop reading)."""
    from ..toyworld.refraction import QUESTION
    return all(ok for q, ok in row[caption]["physics"].items() if q != QUESTION)


def _verifier_hop(row: dict[str, Any]) -> int:
    from ..toyworld.refraction import QUESTION
    return max(h for q, h in row["hops"].items() if q != QUESTION)


def _pt(values: list[bool]) -> dict[str, Any]:
    return rounded(rate(values))


def _diff(a: np.ndarray, b: np.ndarray | None = None, n_boot: int = 2000) -> dict[str, Any]:
    """Mean of ``a`` minus mean of ``b`` (``b`` None: ``a`` holds paired differences), with a
    95% percentile bootstrap interval (resampling scenes)."""
    rng = np.random.default_rng(0)
    if len(a) == 0 or (b is not None and len(b) == 0):
        return {"diff": None, "lo": None, "hi": None}
    if b is None:
        boots = [a[rng.integers(0, len(a), len(a))].mean() for _ in range(n_boot)]
        d = a.mean()
    else:
        boots = [a[rng.integers(0, len(a), len(a))].mean() - b[rng.integers(0, len(b), len(b))]
                 .mean() for _ in range(n_boot)]
        d = a.mean() - b.mean()
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return {"diff": round(float(d), 4), "lo": round(float(lo), 4), "hi": round(float(hi), 4)}


def summary(rows: list[dict[str, Any]], command: str = COMMAND) -> dict[str, Any]:
    """Per split and hop: the pass rate of each caption, explicit minus implicit (paired on
    scenes), and test-ood minus test-id per caption; per category the physics pass rate."""
    if not rows:
        raise ValueError("no multi-hop runs to summarise")
    splits = [s for s in SPLITS if any(r["split"] == s for r in rows)] + sorted(
        {r["split"] for r in rows} - set(SPLITS))
    hops = sorted({h for r in rows for h in r["hops"].values()})
    cells, gaps = [], []
    for sp in splits:
        rs = [r for r in rows if r["split"] == sp]
        for h in hops:
            sel = [r for r in rs if any(passes(r, c, h) is not None for c in CAPTIONS)]
            both = [r for r in sel if all(passes(r, c, h) is not None for c in CAPTIONS)]
            v = {c: np.array([passes(r, c, h) for r in both], float) for c in CAPTIONS}
            each = {c: [bool(passes(r, c, h)) for r in sel if passes(r, c, h) is not None]
                    for c in CAPTIONS}
            # the hop given the one before it passed (where the scene asks both)
            given = {c: [bool(passes(r, c, h)) for r in sel if passes(r, c, h - 1)
                         and passes(r, c, h) is not None] for c in CAPTIONS}
            diffs = [r["pixel_diff"] for r in sel if "pixel_diff" in r]
            # asked of an image but not readable there (refraction: a part not found)
            unread = {c: sum(1 for r in rs if passes(r, c, h) is None and any(
                r["hops"][q] == h for q in r[c].get("undetermined", ())))
                for c in CAPTIONS}
            cells.append({"split": sp, "hop": h,
                          "categories": sorted({r["category"] for r in sel},
                                               key=TOYWORLD_CATEGORIES.index),
                          **{c: _pt(each[c]) for c in CAPTIONS},
                          # paired on the images both captions' answers were read on
                          "explicit_minus_implicit": _diff(v["explicit"] - v["implicit"]),
                          "given_previous_hop": {c: _pt(given[c]) for c in CAPTIONS},
                          "undetermined": unread,
                          "pixel_diff_mean": round(float(np.mean(diffs)), 3) if diffs else None})
    for h in hops:
        for c in CAPTIONS:
            v = {sp: np.array([passes(r, c, h) for r in rows if r["split"] == sp
                               and passes(r, c, h) is not None], float) for sp in splits}
            if "test-id" in v and "test-ood" in v:
                gaps.append({"hop": h, "caption": c,
                             "ood_minus_id": _diff(v["test-ood"], v["test-id"])})
    hop_gaps = []       # each hop against hop 0 (other categories: unpaired)
    for sp in splits:
        for h in hops[1:]:
            for c in CAPTIONS:
                v = {k: np.array([passes(r, c, k) for r in rows if r["split"] == sp
                                  and passes(r, c, k) is not None], float) for k in (0, h)}
                if len(v[0]) and len(v[h]):
                    hop_gaps.append({"split": sp, "hop": h, "caption": c,
                                     "minus_hop0": _diff(v[h], v[0])})
    per_cat = []
    for cat in TOYWORLD_CATEGORIES:
        for sp in splits:
            rs = [r for r in rows if r["split"] == sp and r["category"] == cat]
            if rs:
                per_cat.append({"category": cat, "split": sp, "hop": _verifier_hop(rs[0]),
                                **{c: _pt([_verifier_ok(r, c) for r in rs]) for c in CAPTIONS}})
    return {"schema_version": 1, "command": command, "n_scenes": len(rows), "splits": splits,
            "hops": hops, "cells": cells, "ood_gaps": gaps, "hop_gaps": hop_gaps,
            "categories": per_cat}


def _pp(d: dict[str, Any]) -> str:
    return "-" if d["diff"] is None else \
        f"{100 * d['diff']:+.1f} [{100 * d['lo']:+.1f}, {100 * d['hi']:+.1f}]"


def table(res: dict[str, Any]) -> str:
    """The INSIGHTS tables: hop x caption x split, the test-ood gap, and per category."""
    lines = ["| split | hop | categories | n | implicit | explicit | explicit - implicit (pp) "
             "| implicit, given the hop before (n) | mean abs pixel diff, explicit vs implicit |",
             "|---|---|---|---|---|---|---|---|---|"]
    for c in res["cells"]:
        g = c.get("given_previous_hop", {}).get("implicit", {"n": 0})
        unread = c.get("undetermined", {}).get("implicit", 0)
        lines.append(f"| {c['split']} | {c['hop']} | {', '.join(c['categories'])} | "
                     f"{c['implicit']['n']}{f' (+{unread} unread)' if unread else ''} | "
                     f"{pct(c['implicit'])} | {pct(c['explicit'])} | "
                     f"{_pp(c['explicit_minus_implicit'])} | "
                     f"{pct(g) + ' (' + str(g['n']) + ')' if g['n'] else '-'} | "
                     f"{c.get('pixel_diff_mean') if c.get('pixel_diff_mean') is not None else '-'} |")
    lines += ["", "| hop | caption | test-ood - test-id (pp) |", "|---|---|---|"]
    lines += [f"| {g['hop']} | {g['caption']} | {_pp(g['ood_minus_id'])} |"
              for g in res["ood_gaps"]]
    lines += ["", "| split | hop | caption | minus hop 0 (pp) |", "|---|---|---|---|"]
    lines += [f"| {g['split']} | {g['hop']} | {g['caption']} | {_pp(g['minus_hop0'])} |"
              for g in res.get("hop_gaps", [])]
    lines += ["", "| category | hop | split | n | implicit | explicit |", "|---|---|---|---|---|---|"]
    lines += [f"| {c['category']} | {c['hop']} | {c['split']} | {c['implicit']['n']} | "
              f"{pct(c['implicit'])} | {pct(c['explicit'])} |" for c in res["categories"]]
    return "\n".join(lines)


def save_png(res: dict[str, Any], path: Path) -> None:
    """Physics pass rate by hop, implicit vs explicit caption, one panel per split."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    splits = res["splits"]
    fig, axes = plt.subplots(1, len(splits), figsize=(3.6 * len(splits), 3.2), sharey=True,
                             squeeze=False)
    for ax, sp in zip(axes[0], splits):
        cells = [c for c in res["cells"] if c["split"] == sp]
        for j, (cap, colour) in enumerate(zip(CAPTIONS, ("tab:blue", "tab:orange"))):
            xs = np.arange(len(cells)) + (j - 0.5) * 0.3
            ys = [c[cap]["acc"] for c in cells]
            err = [[c[cap]["acc"] - c[cap]["lo"] for c in cells],
                   [c[cap]["hi"] - c[cap]["acc"] for c in cells]]
            ax.bar(xs, ys, 0.3, yerr=err, capsize=3, color=colour, label=cap)
        ax.set_xticks(range(len(cells)))
        ax.set_xticklabels([f"hop {c['hop']}\n(n={c['implicit']['n']})" for c in cells])
        ax.set_title(sp, fontsize=9)
        ax.set_ylim(0, 1.02)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("physics passes (verifier)")
    fig.suptitle("Insight 1: physics by hop depth, implicit vs explicit caption; 95% Wilson",
                 fontsize=9)
    fig.tight_layout(rect=(0, 0, 0.86, 1))
    fig.legend(*axes[0][0].get_legend_handles_labels(), fontsize=7, loc="center right")
    fig.savefig(path, dpi=90)
    plt.close(fig)


def save_html(res: dict[str, Any], path: Path) -> None:
    bars_html(path, "Insight 1: physics passes by hop depth and caption (95% Wilson)",
              [f"{c['split']} hop {c['hop']}" for c in res["cells"]],
              {cap: [c[cap] for c in res["cells"]] for cap in CAPTIONS})


def write(res: dict[str, Any], out: str | Path) -> dict[str, Path]:
    """multihop.json (every number), multihop.png, multihop.html."""
    return write_figures(res, out, "multihop", save_png, save_html)


# ---------------------------------------------------------------------- command line


def _names(text: str | None) -> list[str] | None:
    if not text:
        return None
    names = [c.strip() for c in text.split(",") if c.strip()]
    bad = [c for c in names if c not in TOYWORLD_CATEGORIES]
    if bad:
        raise ValueError(f"--categories: {bad} not among {list(TOYWORLD_CATEGORIES)}")
    return names


def _parser() -> argparse.ArgumentParser:
    from ..loading import image_model_args
    ap = argparse.ArgumentParser(prog="python -m lina_core multihop",
                                 description=__doc__.splitlines()[0])
    image_model_args(ap, threads=1)
    ap.add_argument("--splits", default=",".join(SPLITS))
    ap.add_argument("--n", type=int, default=50, help="scenes per category and split (seed 0)")
    ap.add_argument("--runs", default="runs/multihop", help="the resumable rows (gitignored)")
    ap.add_argument("--out", default="docs/probes/multihop")
    ap.add_argument("--summarise", action="store_true", help="summarise --runs only")
    ap.add_argument("--rejudge", action="store_true",
                    help="judge --runs' kept images again (no model), then summarise")
    ap.add_argument("--categories", help="comma-separated: only these categories")
    ap.add_argument("--effect", help="only scenes whose graph holds an effect of this type "
                    "(e.g. floating: the scenes refraction's two-hop question applies to)")
    ap.add_argument("--no-summary", action="store_true", help="collect only (a shard)")
    ap.add_argument("--shard", type=int, default=0, help="this process's share of the scenes: "
                    "every --shards-th from --shard (processes append to the same rows)")
    ap.add_argument("--shards", type=int, default=1)
    return ap


def main(argv: list[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    splits = [s.strip() for s in a.splits.split(",") if s.strip()]
    from ..toyworld.data import SPLITS as ALL_SPLITS
    bad = [s for s in splits if s not in ALL_SPLITS]
    if bad or not splits:
        print(f"multihop: --splits: {bad or splits} not among {list(ALL_SPLITS)}", file=sys.stderr)
        return 2
    from ..csg.vocabulary import EFFECT_TYPES
    if a.effect is not None and a.effect not in EFFECT_TYPES:
        print(f"multihop: --effect: {a.effect!r} not among {list(EFFECT_TYPES)}", file=sys.stderr)
        return 2
    if not 1 <= a.n <= 10000:
        print(f"multihop: --n: {a.n} must lie in [1, 10000]", file=sys.stderr)
        return 2
    if a.rejudge:
        try:
            rejudge(a.runs)
        except OSError as e:
            print(f"multihop: --runs: a kept image is missing ({e})", file=sys.stderr)
            return 2
    elif not a.summarise:
        try:
            items = items_for(splits, a.n, _names(a.categories), a.effect)[a.shard::a.shards]
        except ValueError as e:
            print(f"multihop: {e}", file=sys.stderr)
            return 2
        import torch
        from ..loading import load_model
        torch.set_num_threads(a.threads)
        pipe = load_model(a.model, a.tiny, False)
        collect(pipe, items, a.runs, a.steps, lambda m: print(m, flush=True))
    if a.no_summary:
        return 0
    cmd = (f"python -m lina_core multihop --splits {a.splits} --n {a.n} "
           + (f"--categories {a.categories} " if a.categories else "")
           + (f"--effect {a.effect} " if a.effect else "") + f"--runs {a.runs} --out {a.out}")
    try:
        res = summary(read_rows(a.runs), cmd)
    except ValueError as e:
        print(f"multihop: --runs: {a.runs}: {e}", file=sys.stderr)
        return 2
    paths = write(res, a.out)
    print(table(res))
    print("wrote", ", ".join(str(p) for p in paths.values()))
    return 0
