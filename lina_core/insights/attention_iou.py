"""When does the model's attention settle on each node?  IoU of attention masks vs ground truth.

For ``--n`` test-id scenes (all five categories in turn) and both captions (the user's implicit
one and the explicit ``c+``), one run of the shipped ToyWorld model records per-step
cross-attention (``engine.run(..., attention=True)``); each node gets the soft mask of the tokens
naming it (``attention.node_masks``).  The ground truth is the renderer's mask of the node with
the graph laid out where the model drew the first object (``toyworld.align``: the model places
objects where it likes; scenes where obj0 is not found in the picture are left out and counted).
Masks are thresholded by two fixed rules, neither tuned here: ``topk`` (the ground truth's area
of highest-attention pixels: judges *where* only) and ``mean+std`` (uses nothing of the ground
truth).  ``chance`` is the expected IoU of that many random pixels.  Intervals: 95% bootstrap over
nodes (2000 resamples).

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 python -m lina_core attention-iou --n 100

writes ``docs/results/attention_iou.json`` and ``docs/figures/attention_iou.png``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from .. import attention as A
from .. import engine
from ..interventions import InterventionSpec
from ..toyworld import data
from ..toyworld.align import align_layout, find_object
from ..toyworld.render import render

ROOT = Path(__file__).resolve().parents[1]


def group_of(g, node: str) -> str:
    """The row a node is reported in: objects together, else its surface/effect type."""
    d = g.node(node)
    return "object" if d["kind"] == "object" else "light" if d["kind"] == "light" \
        else d["attrs"]["type"]


def scene_rows(pipe, i: int, steps: int, explicit: bool) -> tuple[list[dict], bool]:
    """IoU rows (one per node) of scene ``i``, and whether obj0 was found in the picture."""
    s = data.sample_scene("test-id", i)
    g = s.graph
    r = engine.run(pipe, InterventionSpec(prompt=s.caption(explicit), seed=i, steps=steps),
                   attention=True)
    img = r.images[0]
    if find_object(img, g, "obj0") is None:
        return [], False
    att = r.extra["attention"]
    gt = render(align_layout(g, img), img.shape[0]).masks
    rows = []
    for node, m in A.node_masks(g, att).items():
        truth = gt.get(node)
        if truth is None or truth.sum() == 0:
            continue
        a, n = int(truth.sum()), truth.size
        rows.append({"scene": i, "category": s.category, "node": node,
                     "group": group_of(g, node), "explicit": explicit, "area": a,
                     "chance": (a * a / n) / (2 * a - a * a / n), "truth": truth,
                     "topk": [A.iou(A.threshold(m[t], "topk", a), truth) for t in range(len(m))],
                     "meanstd": [A.iou(A.threshold(m[t]), truth) for t in range(len(m))]})
    return rows, True


def add_prior(rows: list[dict]) -> None:
    """``prior``: the IoU of the top-k of the *other* scenes' mean ground truth of the same node
    group and caption (where such nodes usually are): what attention must beat to say more
    than "the object is usually there"."""
    by = defaultdict(list)
    for r in rows:
        by[(r["explicit"], r["group"])].append(r)
    for rs in by.values():
        total = np.sum([r["truth"] for r in rs], 0).astype(float)
        for r in rs:
            other = (total - r["truth"]) / max(len(rs) - 1, 1)
            r["prior"] = A.iou(A.threshold(other, "topk", r["area"]), r["truth"]) \
                if len(rs) > 1 else float("nan")


def boot(x: np.ndarray, rng: np.random.Generator, n: int = 2000) -> tuple[float, float, float]:
    """Mean and 95% bootstrap interval of ``x`` (NaNs dropped)."""
    x = x[~np.isnan(x)]
    if len(x) == 0:
        return float("nan"), float("nan"), float("nan")
    means = rng.choice(x, (n, len(x))).mean(1)
    return float(x.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def summarise(rows: list[dict], steps: int) -> dict:
    """Per (caption, group, rule): mean IoU and interval per step, n, chance, settle step (first
    step whose mean reaches 90% of the best step's)."""
    rng = np.random.default_rng(0)
    by = defaultdict(list)
    for r in rows:
        cap = "explicit" if r["explicit"] else "implicit"
        by[(cap, r["group"])].append(r)
        if r["group"] == "object":      # objects also by category and by node (obj0 is aligned)
            by[(cap, f"object.{r['category']}")].append(r)
            by[(cap, f"object.{r['node']}")].append(r)
    out = {}
    for (cap, grp), rs in sorted(by.items()):
        for rule in ("topk", "meanstd"):
            arr = np.array([r[rule] for r in rs], float)
            stats = [boot(arr[:, t], rng) for t in range(steps)]
            means = np.array([s[0] for s in stats])
            settle = int(np.argmax(means >= 0.9 * np.nanmax(means)))
            out[f"{cap}/{grp}/{rule}"] = {
                "n": len(rs), "chance": float(np.mean([r["chance"] for r in rs])),
                "prior": boot(np.array([r["prior"] for r in rs], float), rng),
                "mean": [round(s[0], 4) for s in stats], "lo": [round(s[1], 4) for s in stats],
                "hi": [round(s[2], 4) for s in stats], "settle_step": settle}
    return out


EFFECTS = ("reflection", "shadow", "floating", "sinking", "refraction", "tilt")


def figure(summary: dict, steps: int, path: Path) -> None:
    """Three panels of top-k IoU vs step (95% bands; dotted: the position prior): the nodes
    of user prompts, objects by category, the effects an explicit caption names."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    panels = [("implicit caption: nodes", "implicit", lambda g: "." not in g),
              ("implicit caption: objects by category", "implicit",
               lambda g: g.startswith("object.") and not g.startswith("object.obj")),
              ("explicit caption: effects", "explicit", lambda g: g in EFFECTS)]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), sharey=True)
    x = np.arange(steps)
    for ax, (title, cap, keep) in zip(axes, panels):
        for key, s in summary.items():
            c, grp, rule = key.split("/")
            if c != cap or rule != "topk" or not keep(grp):
                continue
            line = ax.plot(x, s["mean"], label=f"{grp.replace('object.', '')} ({s['n']})")[0]
            ax.fill_between(x, s["lo"], s["hi"], alpha=0.15, color=line.get_color())
            ax.axhline(s["prior"][0], ls=":", lw=0.9, color=line.get_color())
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("denoising step")
        ax.legend(fontsize=6, ncol=2)
    axes[0].set_ylabel("IoU, attention top-k vs truth")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=72)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m lina_core attention-iou",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--json", default=str(ROOT / "docs/results/attention_iou.json"))
    ap.add_argument("--figure", default=str(ROOT / "docs/figures/attention_iou.png"))
    a = ap.parse_args(argv)
    from ..pipelines import registry
    pipe = registry.load("toyworld")
    rows, missed, t0 = [], defaultdict(int), time.time()
    for i in range(a.n):
        for explicit in (False, True):
            rs, found = scene_rows(pipe, i, a.steps, explicit)
            rows += rs
            missed["explicit" if explicit else "implicit"] += not found
        if i % 10 == 9:
            print(f"{i + 1}/{a.n} scenes, {len(rows)} rows, {time.time() - t0:.0f} s",
                  file=sys.stderr, flush=True)
    add_prior(rows)
    summary = summarise(rows, a.steps)
    for r in rows:
        r.pop("truth")
        for k in ("topk", "meanstd"):
            r[k] = [round(v, 3) for v in r[k]]
        r["chance"], r["prior"] = round(r["chance"], 4), round(r["prior"], 3)
    out = {"n_scenes": a.n, "steps": a.steps, "split": "test-id", "obj0_not_found": missed,
           "summary": summary, "rows": rows}
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(out))
    figure(summary, a.steps, Path(a.figure))
    for k, s in summary.items():
        print(f"{k:34s} n={s['n']:3d} chance={s['chance']:.3f} prior={s['prior'][0]:.3f} "
              f"step0={s['mean'][0]:.3f} mid={s['mean'][a.steps // 2]:.3f} last={s['mean'][-1]:.3f} "
              f"[{s['lo'][-1]:.3f}, {s['hi'][-1]:.3f}] settle={s['settle_step']}")
