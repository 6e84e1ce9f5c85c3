"""Measure the ToyWorld verifier on renders perturbed to look generated, and on counterfactuals.

For every category, scenes are drawn from the three splits (train, test-id, test-ood in turn).
Each scene is rendered, perturbed (Gaussian blur, colour jitter, a small shift with edge padding,
Gaussian noise) and verified: every question should answer True ("accuracy on correct renders").
Then each question is asked of *counterfactual* renders, the same scene drawn with that one thing
wrong, and should answer False ("rejection of wrong renders"):

* physics: the reflection removed / leaking past the mirror's edge; the shadow removed / on the
  wrong side; the object floating when it should sink (and the reverse) / hanging mid-water;
  the beam tilted the wrong way / level; the sizes of the two objects swapped.
* texture: an object drawn in another colour or material, or as another shape.

Run ``python -m lina_core verify-eval --n 500 --size 32 --seed 5000`` (seeds 0-299 were
used to tune the verifier; see docs/VERIFIER.md).  The ToyWorld v2 categories (roles, fill,
place) are measured with ``--categories roles,fill`` and ``--categories place``
(docs/VERIFIER.md, "ToyWorld v2").  Each category draws its own counterfactuals, in its module
(:mod:`.categories`); the shared ones are in :mod:`.counterfactual`.
"""
from __future__ import annotations

import argparse
import json
import time
from typing import Any, Callable

import numpy as np

from ..csg import CATEGORIES, TOYWORLD_CATEGORIES, CausalSceneGraph
from .blur import blur_channels
from .categories.base import category
from .counterfactual import Counterfactual, doubled
from .render import clip_frames, render
from .data import SPLITS, sample_scene
from .verify import verify
from ..stats import wilson

# --------------------------------------------------------------------------- counterfactuals


def counterfactuals(g: CausalSceneGraph, size: int, rng: np.random.Generator
                    ) -> list[Counterfactual]:
    """Renders of ``g`` with one thing wrong, each with the question that should say False:
    the category's own (:meth:`.categories.Category.counterfactuals`), then, where its
    checker counts objects, one object drawn twice."""
    out = category(g.category).counterfactuals(g, size, rng)
    if category(g.category).counted:
        img = doubled(g, size, rng)
        if img is not None:
            out.append(("count", "an object drawn twice", img, g))
    return out


# --------------------------------------------------------------------------- perturbation


def perturb(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Make a clean render look generated: blur (sigma 0.5-1.0 px at 32 px), colour jitter
    (per-channel gain +-4 %, offset +-4), a shift of up to 2 px (at 32 px) with edge padding,
    Gaussian noise (std 6-10 of 255)."""
    size = img.shape[0]
    k = size / 32.0
    x = img.astype(np.float32)
    sigma = rng.uniform(0.5, 1.0) * k
    x = blur_channels(x, sigma)
    x = x * rng.uniform(0.96, 1.04, size=3)[None, None] + rng.uniform(-4, 4)
    smax = int(round(2 * k))
    dy, dx = (int(v) for v in rng.integers(-smax, smax + 1, size=2))
    p = smax
    x = np.pad(x, ((p, p), (p, p), (0, 0)), mode="edge")[p - dy:p - dy + size, p - dx:p - dx + size]
    x = x + rng.normal(0.0, rng.uniform(6.0, 10.0), size=x.shape)
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- evaluation


def _base_question(q: str) -> str:
    return q.split(".", 1)[1] if "." in q else q


def evaluate(n_per_category: int, size: int = 32, seed: int = 0,
             categories: tuple[str, ...] = CATEGORIES,
             on_failure: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Accuracy of the verifier per category and question, at ``size`` px.

    Scene ``i`` of a category is ``sample_scene(SPLITS[i % 3], seed + i, category)``.  Returns
    ``{"size", "n_per_category", "seed", "seconds", "results": {category: {question: {...}}}}``
    where each question has ``n_correct``, ``ok_correct`` (said True on correct renders),
    ``n_wrong``, ``ok_wrong`` (said False on counterfactuals), both rates and Wilson 95 %
    intervals; objects' texture questions (obj0.colour, obj1.colour) are pooled.
    """
    t0 = time.time()
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for cat in categories:
        res: dict[str, dict[str, Any]] = {}

        def tally(q: str, key: str, ok: bool) -> None:
            r = res.setdefault(_base_question(q), {"n_correct": 0, "ok_correct": 0,
                                                   "n_wrong": 0, "ok_wrong": 0,
                                                   "variants": {}})
            r["n_" + key] += 1
            r["ok_" + key] += int(ok)

        for i in range(n_per_category):
            split = SPLITS[i % len(SPLITS)]
            s = sample_scene(split, seed + i, cat)
            g = s.graph
            rng = np.random.default_rng([seed, i, TOYWORLD_CATEGORIES.index(cat), size])
            v = verify(perturb(render(g, size).image, rng), g)
            for q, ans in {**v.texture, **v.physics}.items():
                tally(q, "correct", ans)
                if not ans and on_failure:
                    on_failure({"category": cat, "index": i, "split": split, "question": q,
                                "kind": "correct", "verdict": v.to_dict()})
            for q, variant, img, cg in counterfactuals(g, size, rng):
                vv = verify(perturb(img, rng), cg)
                ans = {**vv.texture, **vv.physics}[q]
                tally(q, "wrong", not ans)
                var = res[_base_question(q)]["variants"].setdefault(variant, [0, 0])
                var[0] += 1
                var[1] += int(not ans)
                if ans and on_failure:
                    on_failure({"category": cat, "index": i, "split": split, "question": q,
                                "kind": variant, "verdict": vv.to_dict()})
        for r in res.values():
            for key in ("correct", "wrong"):
                n, k = r["n_" + key], r["ok_" + key]
                r["acc_" + key] = k / n if n else float("nan")
                r["ci_" + key] = wilson(k, n) if n else (float("nan"), float("nan"))
        results[cat] = res
    return {"size": size, "n_per_category": n_per_category, "seed": seed,
            "seconds": round(time.time() - t0, 1), "results": results}


def table(report: dict[str, Any]) -> str:
    """The report as a markdown table."""
    def pct(x: float) -> str:
        return "-" if x != x else f"{100 * x:.1f}%"
    lines = [f"Size {report['size']} px, {report['n_per_category']} scenes per category "
             f"(seed {report['seed']}), {report['seconds']} s.", "",
             "| category | question | n correct | accuracy on correct renders (95% CI) | "
             "n wrong | rejection of wrong renders (95% CI) |",
             "|---|---|---|---|---|---|"]
    for cat, res in report["results"].items():
        for q, r in res.items():
            lo, hi = r["ci_correct"]
            lo2, hi2 = r["ci_wrong"]
            lines.append(f"| {cat} | {q} | {r['n_correct']} | {pct(r['acc_correct'])} "
                         f"({pct(lo)}-{pct(hi)}) | {r['n_wrong']} | {pct(r['acc_wrong'])} "
                         f"({pct(lo2)}-{pct(hi2)}) |")
    lines += ["", "Counterfactual variants (rejected / n):", ""]
    for cat, res in report["results"].items():
        for q, r in res.items():
            vs = ", ".join(f"{k}: {v[1]}/{v[0]}" for k, v in r["variants"].items())
            lines.append(f"- {cat} / {q}: {vs}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- clips


def wrong_motion(g: CausalSceneGraph, frames: int) -> list[CausalSceneGraph]:
    """Per-frame graphs of the clip with the wrong motion (the category's
    :meth:`~.categories.Category.wrong_motion`: played backwards, the shadow moving with the
    light, the other material's ending)."""
    return category(g.category).wrong_motion(g, frames)


def evaluate_clips(n: int, frames: int = 8, size: int = 32, seed: int = 0) -> dict[str, Any]:
    """The clip verifier on test-id clips per kind: true clips (clean and perturbed frame by
    frame) should pass, clips with the wrong motion and still clips should fail."""
    from .verify_video import verify_clip
    from .video_data import CLIP_CATEGORIES
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {"n": n, "frames": frames, "size": size, "rows": {}}
    for cat in CLIP_CATEGORIES:
        counts = dict(true=0, true_texture=0, perturbed=0, wrong_rejected=0, still_rejected=0)
        for i in range(n):
            g = sample_scene("test-id", i * 3 + CLIP_CATEGORIES.index(cat), cat).graph
            truth = [render(fg, size).image for fg in clip_frames(g, frames)]
            v = verify_clip(truth, g)
            counts["true"] += v.physics_ok
            counts["true_texture"] += v.texture_ok
            counts["perturbed"] += verify_clip([perturb(f, rng) for f in truth], g).physics_ok
            wrong = [render(fg, size).image for fg in wrong_motion(g, frames)]
            counts["wrong_rejected"] += not verify_clip(wrong, g).physics_ok
            counts["still_rejected"] += not verify_clip([render(g, size).image] * frames,
                                                        g).physics_ok
        out["rows"][cat] = {k: c / n for k, c in counts.items()}
    return out


def clip_table(report: dict[str, Any]) -> str:
    lines = [f"Clip verifier, {report['n']} test-id clips per kind, {report['frames']} frames "
             f"at {report['size']} px", "",
             "| clip | true clip passes | every frame's texture | perturbed clip passes "
             "| wrong motion rejected | still frames rejected |", "|---|---|---|---|---|---|"]
    for cat, r in report["rows"].items():
        lines.append(f"| {cat} | {100 * r['true']:.1f}% | {100 * r['true_texture']:.1f}% | "
                     f"{100 * r['perturbed']:.1f}% | {100 * r['wrong_rejected']:.1f}% | "
                     f"{100 * r['still_rejected']:.1f}% |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m lina_core verify-eval",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=500, help="scenes per category")
    ap.add_argument("--size", type=int, default=32, help="render size in px")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--categories", default=",".join(CATEGORIES))
    ap.add_argument("--clips", type=int, default=0,
                    help="judge the clip verifier instead, on clips of this many frames")
    ap.add_argument("--json", default=None, help="also write the report as JSON here")
    args = ap.parse_args(argv)
    if args.clips:
        report = evaluate_clips(args.n, args.clips, args.size, args.seed)
        print(clip_table(report))
    else:
        report = evaluate(args.n, args.size, args.seed, tuple(args.categories.split(",")))
        print(table(report))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
