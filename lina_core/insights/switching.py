"""Insight 3(b), the switch probe: from which step on does the prompt no longer steer the image?

The paper's third insight says causal structure is fixed in the first, high-noise steps.  The
settling curve (:mod:`lina_core.insights.settling`, 3(a)) reads that passively from previews; this probe
intervenes.  Each scene's prompt ``c`` gets a *counterfactual* ``c'`` that changes one texture
attribute (a colour, a shape, a jar) and, where the category has one, the physics (the light's
side, the material that floats, which cube is heavier, which object is larger or on top, the fill
level, the place).  The baseline run of ``c`` is kept; from its cached latents at step ``k`` the
rest of the run is conditioned on ``c'`` (``PromptEdit("replace", k, steps)``, branched as
:func:`lina_core.compare.branch` branches any intervention).  The verifier judges every final
image against ``c'``'s graph (does it *follow* the switch?) and against ``c``'s (does it keep the
original?), physics and texture apart.  ``k = 0`` is a run of ``c'``; ``k = steps`` is the
baseline itself, the floor: what an image that ignored the switch scores against ``c'``.  If
physics is fixed early, physics stops following the switch at a smaller ``k`` than texture.

A factor is counted only on scenes where the verifier can tell ``c`` from ``c'`` on clean
renders (the render of ``c'`` fails ``c``'s question and the render of ``c`` fails ``c'``'s), so
"follows" is never a verdict the original image would also get.  Reflection has no physics
counterfactual that a prompt can state (every reflection scene asks for a reflection), so it adds
to texture only.

The same baseline run records attention, which :mod:`lina_core.insights.attention_settling` (3(c)) reads:
one run of the model serves both measurements.  Outputs are resumable: one line per scene in
:data:`ROWS` under the runs folder, appended as each scene finishes.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from . import runs_file
from ..csg import TOYWORLD_CATEGORIES
from .figures import interval_bars, write_figures
from ..stats import pct, rate, rounded

#: switch steps: every column of the settling table (2..12), 0 (a run of c'), the tail (16); the
#: baseline (k = steps) comes free.  Chosen before any switch was run, to compare with 3(a).
KS = (0, 2, 4, 6, 8, 10, 12, 16)
FACTORS = ("physics", "texture")
ROWS = "switch.jsonl"
KEY_FIELDS = runs_file.KEY_FIELDS
#: the shipped figure's command: its rows are shipped too (``docs/probes/switch/runs``, one line
#: per scene), so it summarises them without a model, or resumes a run that was cut short
COMMAND = ("python -m lina_core switching --split dev-ood --n 200 --runs docs/probes/switch/runs "
           "--out docs/probes/switch")


# ---------------------------------------------------------------------- counterfactual prompts


def counterfactual(prompt: str, category: str, seed: int) -> str:
    """``c'`` of a ToyWorld caption (its category's :meth:`~lina_core.toyworld.categories.
    Category.switched`; ``seed`` picks the new colour or shape)."""
    from ..csg.captions import articles
    from ..toyworld.categories import CATEGORIES
    return articles(CATEGORIES[category].switched(prompt, np.random.default_rng(seed)))


def graph_of(prompt: str, seed: int) -> Any:
    """A caption's scene graph laid out as :func:`toyworld.data.sample_scene` lays one out."""
    from ..csg import from_prompt
    from ..csg.geometry import layout
    g = from_prompt(prompt).graph
    layout(g, np.random.default_rng(seed))
    return g


def distinct(g: Any, h: Any, size: int = 32) -> dict[str, bool]:
    """Per factor: can the verifier tell the two scenes apart on clean renders (each render
    fails the other scene's questions of that factor)?"""
    from ..toyworld.render import render
    from ..toyworld.verify_video import judge
    a, b = judge(render(h, size).image, g), judge(render(g, size).image, h)
    return {"physics": not a.physics_ok and not b.physics_ok,
            "texture": not a.texture_ok and not b.texture_ok}


# ---------------------------------------------------------------------- running


def branch_spec(base_spec: Any, target: str, k: int) -> Any:
    """``base_spec`` with its prompt replaced by ``target`` from step ``k`` to the end."""
    from ..interventions import InterventionSpec, PromptEdit
    d = base_spec.to_dict()
    d["edits"] = [asdict(PromptEdit("replace", k, base_spec.steps, 1.0, target_prompt=target))]
    spec = InterventionSpec.from_dict(d)
    spec.validate()
    return spec


def _verdict(v: Any) -> dict[str, int]:
    return {"physics": int(bool(v.physics_ok)), "texture": int(bool(v.texture_ok))}


def scene_record(pipe: Any, item: dict[str, Any], ks: Iterable[int], steps: int = 25,
                 on_baseline: Callable[[dict[str, Any], Any, Any], None] | None = None
                 ) -> dict[str, Any]:
    """One scene: the baseline (the grid's, with attention recorded), a branch to ``c'`` at
    every ``k``, each final judged against ``c'`` (``cf``) and ``c`` (``src``).
    ``on_baseline(item, scene, run)`` sees the baseline run (3(c) reads its attention)."""
    from .. import engine
    from ..candidates import get, spec_for
    from ..compare import branch
    from ..grid import noise_seed, scene
    from ..toyworld.verify_video import judge
    s = scene(item, TOYWORLD_CATEGORIES)
    c = s.caption(False)
    c2 = counterfactual(c, item["category"], s.seed)
    h = graph_of(c2, s.seed)
    seed = noise_seed(item, s.seed)
    base_spec = spec_for(get("none"), c, s.graph, steps, seed)
    base = engine.run(pipe, base_spec, seed=seed, previews=False, attention=True)
    if on_baseline is not None:
        on_baseline(item, s, base)
    finals = {}
    for k in ks:
        finals[k] = branch(pipe, branch_spec(base_spec, c2, k), base, seed=seed,
                           previews=False).images[0]
    finals[steps] = base.images[0]
    return {**{f: item[f] for f in KEY_FIELDS}, "prompt": c, "cf_prompt": c2,
            "noise_seed": seed, "distinct": distinct(s.graph, h),
            "ks": sorted(finals),
            "cf": [_verdict(judge(finals[k], h)) for k in sorted(finals)],
            "src": [_verdict(judge(finals[k], s.graph)) for k in sorted(finals)]}


def read_rows(runs: str | Path, name: str = ROWS) -> list[dict[str, Any]]:
    """The scenes already run (the last line of a scene wins)."""
    return runs_file.read(Path(runs) / name)


def collect(pipe: Any, items: list[dict[str, Any]], runs: str | Path, ks: Iterable[int] = KS,
            steps: int = 25, progress: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Run the items not yet in ``runs``; the attention of each baseline goes to
    :data:`lina_core.insights.attention_settling.ROWS` beside the switch rows (both appended per scene,
    so a stopped run resumes where it stopped)."""
    from . import attention_settling as AS
    runs = Path(runs)
    runs.mkdir(parents=True, exist_ok=True)
    with open(runs / AS.ROWS, "a") as fa:
        def keep_attention(item: dict[str, Any], s: Any, run: Any) -> None:
            fa.write(json.dumps(AS.scene_row(item, s.graph, run)) + "\n")
            fa.flush()
        return runs_file.run_missing(
            items, runs / ROWS, lambda it: scene_record(pipe, it, ks, steps, keep_attention),
            progress)


# ---------------------------------------------------------------------- the numbers


def _point(k: int, r: dict[str, Any]) -> dict[str, Any]:
    return {"k": k, **rounded(r)}


def counted(rows: list[dict[str, Any]], factor: str) -> list[dict[str, Any]]:
    """The scenes whose counterfactual changes ``factor`` as the verifier sees it."""
    return [r for r in rows if r["distinct"][factor]]


def effect_left(rows: list[dict[str, Any]], factor: str, i: int,
                n_boot: int = 1000) -> dict[str, Any]:
    """The share of the switch's effect still there when switching at the ``i``-th k:
    (follow(k) - follow(steps)) / (follow(0) - follow(steps)), with a 95% bootstrap interval over
    scenes (None where the switch at k = 0 moves nothing)."""
    v = np.array([[r["cf"][j][factor] for j in (0, i, -1)] for r in rows], float)
    if len(v) == 0:
        return {"share": None, "lo": None, "hi": None}

    def share(x: np.ndarray) -> float:
        m = x.mean(0)
        return float((m[1] - m[2]) / (m[0] - m[2])) if m[0] > m[2] else float("nan")
    rng = np.random.default_rng(0)
    boots = [share(v[rng.integers(0, len(v), len(v))]) for _ in range(n_boot)]
    lo, hi = np.nanpercentile(boots, [2.5, 97.5]) if np.isfinite(boots).any() else (None, None)
    s = share(v)
    return {"share": round(s, 4) if np.isfinite(s) else None,
            "lo": None if lo is None else round(float(lo), 4),
            "hi": None if hi is None else round(float(hi), 4)}


def group_summary(rows: list[dict[str, Any]], ks: list[int]) -> dict[str, Any]:
    """Per factor: follow rate (verdict against c') and keep rate (against c) per k, and the
    share of the switch's effect left, on the scenes that count for that factor."""
    out = {}
    for f in FACTORS:
        rs = counted(rows, f)
        out[f] = {"n": len(rs),
                  "follow": [_point(k, rate(r["cf"][i][f] for r in rs)) for i, k in enumerate(ks)],
                  "keep": [_point(k, rate(r["src"][i][f] for r in rs)) for i, k in enumerate(ks)],
                  "effect_left": [{"k": k, **effect_left(rs, f, i)} for i, k in enumerate(ks)]}
    return out


def summary(rows: list[dict[str, Any]], command: str = COMMAND) -> dict[str, Any]:
    """Pooled over categories (``all``) and per category."""
    if not rows:
        raise ValueError("no switch runs to summarise")
    ks = rows[0]["ks"]
    if any(r["ks"] != ks for r in rows):
        raise ValueError("switch runs with different k values cannot be pooled")
    cats = [c for c in TOYWORLD_CATEGORIES if any(r["category"] == c for r in rows)]
    groups = {"all": rows, **{c: [r for r in rows if r["category"] == c] for c in cats}}
    return {"schema_version": 1, "command": command, "ks": ks, "steps": ks[-1],
            "splits": sorted({r["split"] for r in rows}), "n_scenes": len(rows),
            "groups": {g: group_summary(rs, ks) for g, rs in groups.items()}}


def half_k(res: dict[str, Any], factor: str, group: str = "all") -> int | None:
    """The first k at which less than half of the switch's effect is left (None: never)."""
    for p in res["groups"][group][factor]["effect_left"]:
        if p["share"] is not None and p["share"] < 0.5:
            return p["k"]
    return None


# ---------------------------------------------------------------------- figures and table


def save_png(res: dict[str, Any], path: Path) -> None:
    """Follow rate (verdict against c') per switch step, physics and texture, one panel per
    group; the dotted line is the baseline's floor (k = steps)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    groups = list(res["groups"])
    cols = 3
    rows = -(-len(groups) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(9.6, 2.5 * rows), sharex=True, sharey=True,
                             squeeze=False)
    for ax, g in zip(axes.flat, groups):
        for f, colour in zip(FACTORS, ("tab:blue", "tab:orange")):
            d = res["groups"][g][f]
            if not d["n"]:
                continue
            pts = d["follow"]
            ks = [p["k"] for p in pts]
            ax.plot(ks, [p["acc"] for p in pts], color=colour, marker=".",
                    label=f"{f} (n={d['n']})")
            ax.fill_between(ks, [p["lo"] for p in pts], [p["hi"] for p in pts], color=colour,
                            alpha=0.15, lw=0)
        ax.set_title(g, fontsize=9)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="upper right")
    for ax in axes.flat[len(groups):]:
        ax.axis("off")
    fig.supxlabel(f"switch step k of {res['steps']} (k = {res['steps']}: no switch)", fontsize=9)
    fig.supylabel("final image follows c' (verifier)", fontsize=9)
    fig.suptitle(f"Switch probe c -> c' at step k: {res['n_scenes']} scenes "
                 f"({', '.join(res['splits'])}); 95% Wilson bands", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def save_html(res: dict[str, Any], path: Path) -> None:
    """The pooled curves, follow and keep, as an interactive Plotly page."""
    import plotly.graph_objects as go
    fig = go.Figure()
    for f, colour in zip(FACTORS, ("#1f77b4", "#ff7f0e")):
        for what, dash in (("follow", None), ("keep", "dot")):
            pts = res["groups"]["all"][f][what]
            fig.add_trace(go.Scatter(
                x=[p["k"] for p in pts], y=[p["acc"] for p in pts],
                name=f"{f}: {what}s {'c′' if what == 'follow' else 'c'}",
                line=dict(color=colour, dash=dash),
                error_y=interval_bars(pts)))
    fig.update_layout(title=f"Switch probe, all categories ({res['n_scenes']} scenes): the final "
                            f"image judged against c′ and c; 95% Wilson intervals",
                      xaxis_title="switch step k", yaxis_range=[0, 1.02], height=380,
                      margin=dict(l=40, r=10, t=60, b=40))
    fig.write_html(path, include_plotlyjs="cdn")


def write(res: dict[str, Any], out: str | Path) -> dict[str, Path]:
    """switch.json (every number), switch.png, switch.html."""
    return write_figures(res, out, "switch", save_png, save_html)


def table(res: dict[str, Any]) -> str:
    """The INSIGHTS table: follow rate per k, per group and factor."""
    ks = res["ks"]
    lines = ["| group | factor | n | " + " | ".join(f"k={k}" for k in ks) + " |",
             "|---|---|---|" + "---|" * len(ks)]
    for g, d in res["groups"].items():
        for f in FACTORS:
            if d[f]["n"]:
                lines.append(f"| {g} | {f} | {d[f]['n']} | "
                             + " | ".join(pct(p, 0) for p in d[f]["follow"]) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------- command line


def add_command(sub: Any, model_args: Callable[[Any], None]) -> None:
    """``python -m lina_core switching``: run the scenes not yet in ``--runs``, then write the
    summary and figures to ``--out`` (``--summarise``: no model, only what is run)."""
    q = sub.add_parser("switching", help="insight 3(b): switch the prompt to a counterfactual "
                       "at step k (resumable; records 3(c)'s attention on the same runs)")
    model_args(q)
    q.add_argument("--split", default="dev-ood", choices=["train", "dev-ood"],
                   help="a diagnostic: never run on the test splits")
    q.add_argument("--n", type=int, default=200, help="scenes per category (seed 0)")
    q.add_argument("--ks", default=",".join(map(str, KS)),
                   help="switch steps; 'none': the baselines only (attention for 3(c))")
    q.add_argument("--runs", default="runs/switch", help="the resumable rows (gitignored)")
    q.add_argument("--out", default="docs/probes/switch")
    q.add_argument("--summarise", action="store_true", help="summarise --runs only")
    q.add_argument("--shard", type=int, default=0, help="this process's share of the scenes: "
                   "every --shards-th from --shard (processes append to the same rows; with "
                   "--shards > 1 each runs one torch thread)")
    q.add_argument("--shards", type=int, default=1)
    q.set_defaults(fn=main)


def main(a: Any) -> None:
    """The CLI's work: collect (one torch thread unless ``--threads``), summarise, write."""
    if not a.summarise:
        import torch
        from ..loading import load_model
        from ..grid import work_items
        # shards run side by side: one torch thread each (two of two threads on two cores
        # ran ten times slower)
        torch.set_num_threads(a.threads if a.shards == 1 else 1)
        pipe = load_model(a.model, a.tiny, False)
        # scene-major, so that a run stopped early still holds every category equally
        items = sorted(work_items([a.split], a.n, [0], TOYWORLD_CATEGORIES),
                       key=lambda it: (it["index"], TOYWORLD_CATEGORIES.index(it["category"])))
        items = items[a.shard::a.shards]
        # "none": baselines only (their attention for 3(c)), no switch
        ks = [] if str(a.ks).strip() == "none" else \
            sorted({int(k) for k in str(a.ks).split(",") if k.strip()})
        if (not ks and str(a.ks).strip() != "none") or (ks and (ks[0] < 0 or ks[-1] >= a.steps)):
            raise ValueError(f"--ks: switch steps must lie in [0, {a.steps}), or 'none'")
        collect(pipe, items, a.runs, ks, a.steps, lambda m: print(m, flush=True))
    cmd = (f"python -m lina_core switching --split {a.split} --n {a.n} --runs {a.runs} "
           f"--out {a.out}")
    res = summary(read_rows(a.runs), cmd)
    paths = write(res, a.out)
    print(table(res))
    print("wrote", ", ".join(str(p) for p in paths.values()))
