"""Insight 3(a), the settling curve: when does a run's verdict stop changing?

The paper's third insight says causal structure is fixed in the first, high-noise steps.  The
engine's own previews (the predicted clean image at each step, kept by
:mod:`lina_core.check_data`) let that be measured without any intervention: judge each preview
with the same verifier that judges the final image, and count how often the two verdicts agree.
If physics is fixed early, the physics verdict on an early preview already agrees with the final
one; texture (colour, size) may settle later.  Nothing is fitted: the verifier, blurry early
previews included, is part of what is measured, so every split, test splits too, can be read.

For each run: the verdict on previews ``k = 0 .. 12`` and on the final image (``k = steps``),
physics and texture apart and joint (both right).  The curve is, per step, the share of runs
whose preview verdict agrees with the final verdict, per category and pooled, with 95% Wilson
intervals; beside it, precision and recall at detecting a final failure from a preview failure.
Each is reported per split and pooled over every split in the runs folder.

Judging costs about 40 ms an image, so each run folder keeps its runs' verdicts in
:data:`CACHE` (resumable; delete it after a change to the verifier).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..csg import TOYWORLD_CATEGORIES
from .figures import interval_bars, write_figures
from ..stats import rate, rounded

FACTORS = ("physics", "texture", "joint")
#: the verdicts of a folder's runs, one line per run (written beside rows.jsonl)
CACHE = "settling_verdicts.jsonl"
#: the command that makes the shipped curve (written into settling.json)
COMMAND = "python -m lina_core settling --runs runs/check --out docs/probes/settling"
KEY_FIELDS = ("split", "category", "index", "seed")
SPLITS = ("train", "dev-ood", "test-id", "test-ood")


# ---------------------------------------------------------------------- judging


def run_folders(runs: str | Path) -> list[Path]:
    """The check_data folders under ``runs``: ``runs`` itself if it holds rows.jsonl, else its
    subfolders that do.  A folder with none is an error (the CLI exits 2)."""
    runs = Path(runs)
    if not runs.is_dir():
        raise FileNotFoundError(f"--runs: {runs} is not a folder")
    if (runs / "rows.jsonl").is_file():
        return [runs]
    found = sorted(p for p in runs.iterdir() if (p / "rows.jsonl").is_file())
    if not found:
        raise ValueError(f"--runs: no rows.jsonl in {runs} or its subfolders (make runs with "
                         f"`python -m lina_core bench-loop collect`)")
    return found


def judge_run(folder: Path, row: dict[str, Any]) -> dict[str, Any]:
    """One run's verdicts: physics and texture right (0/1) on each preview, then the final.

    The graph is rebuilt from the row's item as the run was made (:func:`grid.scene`); a prompt
    that no longer matches means the scenes changed since the runs were kept, and is an error
    rather than a silently wrong label."""
    from ..check_data import item_file
    from ..grid import scene
    from ..toyworld.verify_video import judge
    s = scene(row, TOYWORLD_CATEGORIES)     # scene seeds depend only on the first five's order
    if s.caption(False) != row["prompt"]:
        raise ValueError(f"{folder}: run {row['prompt']!r} is now scene {s.caption(False)!r}")
    z = np.load(item_file(folder, row))
    verdicts = [judge(im, s.graph) for im in list(z["previews"]) + [z["final"]]]
    return {**{k: row[k] for k in KEY_FIELDS},
            "physics": [int(bool(v.physics_ok)) for v in verdicts],
            "texture": [int(bool(v.texture_ok)) for v in verdicts],
            "stale": bool(verdicts[-1].physics_ok) != row["physics"]
            or bool(verdicts[-1].texture_ok) != row["texture"]}


def _key(r: dict[str, Any]) -> tuple:
    return tuple(r[k] for k in KEY_FIELDS)


def folder_verdicts(folder: Path, progress=print) -> list[dict[str, Any]]:
    """Every run of a check_data folder, judged; runs already in its :data:`CACHE` are read,
    the others judged and appended."""
    from ..check_data import read_rows
    path = folder / CACHE
    done = {}
    if path.is_file():
        done = {_key(r): r for r in map(json.loads, filter(str.strip, path.read_text()
                                                           .splitlines()))}
    rows = read_rows(folder)
    todo = [r for r in rows if _key(r) not in done]
    with open(path, "a") as f:
        for j, r in enumerate(todo):
            rec = judge_run(folder, r)
            done[_key(rec)] = rec
            f.write(json.dumps(rec) + "\n")
            if (j + 1) % 100 == 0 or j + 1 == len(todo):
                f.flush()
                progress(f"{folder.name}: judged {j + 1}/{len(todo)}")
    return [done[_key(r)] for r in rows]


def verdicts(runs: str | Path, progress=print) -> list[dict[str, Any]]:
    """Every run under ``runs`` (:func:`run_folders`), judged at every kept step."""
    return [rec for f in run_folders(runs) for rec in folder_verdicts(f, progress)]


# ---------------------------------------------------------------------- the numbers


def right(rec: dict[str, Any], factor: str) -> list[bool]:
    """A run's verdicts of one factor per step (the final last); joint: both right."""
    if factor == "joint":
        return [bool(p and t) for p, t in zip(rec["physics"], rec["texture"])]
    return [bool(x) for x in rec[factor]]


def _point(k: int | None, r: dict[str, Any]) -> dict[str, Any]:
    """A rate rounded for the JSON (acc None when n is 0: JSON has no NaN), with its step
    (None: not a step's)."""
    p = rounded(r)
    return p if k is None else {"k": k, **p}


def curve(recs: list[dict[str, Any]], factor: str, ks: list[int]) -> list[dict[str, Any]]:
    """Per step: the share of runs whose preview verdict equals their final verdict."""
    v = [right(r, factor) for r in recs]
    return [_point(k, rate(x[i] == x[-1] for x in v)) for i, k in enumerate(ks)]


def detection(recs: list[dict[str, Any]], factor: str, ks: list[int]) -> list[dict[str, Any]]:
    """Per step, a preview failure read as a prediction of a final failure: precision (of the
    runs failing at step k, the share that fail at the end) and recall (of the runs failing at
    the end, the share already failing at step k)."""
    v = [right(r, factor) for r in recs]
    out = []
    for i, k in enumerate(ks):
        prec = rate(not x[-1] for x in v if not x[i])
        rec = rate(not x[i] for x in v if not x[-1])
        out.append({"k": k, "precision": _point(k, prec), "recall": _point(k, rec)})
    return out


def final_ok(recs: list[dict[str, Any]], factor: str) -> dict[str, Any]:
    """The share of runs right at the end: agreement by always guessing the majority verdict is
    ``max(acc, 1 - acc)``, the floor a curve must be read against."""
    return _point(None, rate(right(r, factor)[-1] for r in recs))


def _ordered(names: set[str], order: tuple[str, ...]) -> list[str]:
    """``names`` in ``order``, any others after them alphabetically."""
    return sorted(names, key=lambda n: (order.index(n) if n in order else len(order), n))


def summary(recs: list[dict[str, Any]], ks: list[int]) -> dict[str, Any]:
    """Curves and final-ok rates per category and for all categories; detection for all
    categories only (per category its n of failures is small, and the JSON stays small)."""
    cats = _ordered({r["category"] for r in recs}, TOYWORLD_CATEGORIES)
    groups = {"all": recs, **{c: [r for r in recs if r["category"] == c] for c in cats}}
    out = {g: {f: {"agree": curve(rs, f, ks), "final_ok": final_ok(rs, f)} for f in FACTORS}
           for g, rs in groups.items()}
    for f in FACTORS:
        out["all"][f]["detect"] = detection(recs, f, ks)
    return out


def settling(recs: list[dict[str, Any]], steps: int = 25) -> dict[str, Any]:
    """The whole measurement: pooled over every split (``"pooled"``) and per split."""
    if not recs:
        raise ValueError("no runs to measure")
    n_kept = len(recs[0]["physics"]) - 1
    ks = list(range(n_kept)) + [steps]
    splits = _ordered({r["split"] for r in recs}, SPLITS)
    scopes = {"pooled": recs, **{s: [r for r in recs if r["split"] == s] for s in splits}}
    return {"schema_version": 1, "ks": ks, "steps": steps, "pooled_over": splits,
            "n_runs": {s: len(rs) for s, rs in scopes.items()},
            "stale_rows": sum(bool(r.get("stale")) for r in recs),
            "scopes": {s: summary(rs, ks) for s, rs in scopes.items()}}


def at(res: dict[str, Any], k: int, factor: str, group: str = "all",
       scope: str = "pooled") -> dict[str, Any]:
    """One point of the agreement curve (acc, n, lo, hi)."""
    return res["scopes"][scope][group][factor]["agree"][res["ks"].index(k)]


# ---------------------------------------------------------------------- one prompt, live


def prompt_curve(pipe: Any, prompt: str, graph: Any, seeds: list[int], steps: int = 25,
                 progress: Any = None) -> dict[str, Any]:
    """The settling curve of one ToyWorld prompt: a baseline run per seed (every step's preview
    kept), each preview and the final judged against ``graph``; per step, the share of seeds
    whose preview verdict agrees with the final one (physics and texture), with the final pass
    rates.  What the Probe tab runs on the user's own prompt, beside the measured curve."""
    from .. import engine
    from ..interventions import InterventionSpec
    from ..toyworld.verify_video import judge
    recs = []
    for j, seed in enumerate(seeds):
        run = engine.run(pipe, InterventionSpec(prompt=prompt, steps=steps), seed=seed,
                         previews=True)
        ims = [np.asarray(p)[0] for p in run.previews] + [run.images[0]]
        v = [judge(im, graph) for im in ims]
        recs.append({"seed": seed, "physics": [int(bool(x.physics_ok)) for x in v],
                     "texture": [int(bool(x.texture_ok)) for x in v]})
        if progress:
            progress((j + 1) / len(seeds), f"seed {seed}: {j + 1}/{len(seeds)}")
    ks = list(range(steps)) + [steps]
    return {"prompt": prompt, "seeds": list(seeds), "steps": steps, "ks": ks,
            "curves": {f: curve(recs, f, ks) for f in ("physics", "texture")},
            "final_ok": {f: final_ok(recs, f) for f in ("physics", "texture")}}


def prompt_figure(res: dict[str, Any]):
    """Plotly: agreement with the final verdict per step for one prompt (Wilson bands)."""
    import plotly.graph_objects as go
    fig = go.Figure()
    for f, colour in (("physics", "#1f77b4"), ("texture", "#ff7f0e")):
        pts = res["curves"][f][:-1]
        fig.add_trace(go.Scatter(x=[p["k"] for p in pts], y=[p["acc"] for p in pts], name=f,
                                 line=dict(color=colour), error_y=interval_bars(pts)))
    fig.update_layout(title=f"Your prompt: preview verdict = final verdict, {len(res['seeds'])} "
                            f"seed(s); 95% Wilson intervals", xaxis_title="step k",
                      yaxis_range=[0, 1.05], height=340, margin=dict(l=40, r=10, t=50, b=40))
    return fig


# ---------------------------------------------------------------------- figures


def _panels(res: dict[str, Any], scope: str) -> list[str]:
    return list(res["scopes"][scope])


def save_png(res: dict[str, Any], path: Path, scope: str = "pooled") -> None:
    """Agreement with the final verdict per step, one panel per category (Wilson bands)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    groups = _panels(res, scope)
    cols = 3
    rows = -(-len(groups) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(9.6, 2.5 * rows), sharex=True, sharey=True,
                             squeeze=False)
    for ax, g in zip(axes.flat, groups):
        for f, colour in zip(FACTORS, ("tab:blue", "tab:orange", "0.5")):
            pts = res["scopes"][scope][g][f]["agree"][:-1]        # the final agrees by definition
            ks = [p["k"] for p in pts]
            ax.plot(ks, [p["acc"] for p in pts], color=colour, marker=".", label=f,
                    ls="--" if f == "joint" else "-")
            ax.fill_between(ks, [p["lo"] for p in pts], [p["hi"] for p in pts], color=colour,
                            alpha=0.15, lw=0)
        ax.set_title(f"{g} (n={pts[0]['n']})", fontsize=9)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(groups):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="lower right")
    fig.supxlabel(f"step k of {res['steps']} (preview = predicted clean image)", fontsize=9)
    fig.supylabel("preview verdict = final verdict", fontsize=9)
    fig.suptitle(f"Settling curve, {scope} over {', '.join(res['pooled_over'])}: "
                 f"{res['n_runs'][scope]} runs; 95% Wilson bands", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def save_html(res: dict[str, Any], path: Path, scope: str = "pooled") -> None:
    """The same curves as an interactive Plotly page (plotly.js from its CDN: a small file)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots
    groups = _panels(res, scope)
    cols = 3
    fig = make_subplots(rows=-(-len(groups) // cols), cols=cols, shared_xaxes=True,
                        shared_yaxes=True, subplot_titles=[
                            f"{g} (n={res['scopes'][scope][g]['physics']['agree'][0]['n']})"
                            for g in groups])
    for i, g in enumerate(groups):
        for f, colour in zip(FACTORS, ("#1f77b4", "#ff7f0e", "#7f7f7f")):
            pts = res["scopes"][scope][g][f]["agree"][:-1]
            fig.add_trace(go.Scatter(
                x=[p["k"] for p in pts], y=[p["acc"] for p in pts], name=f, legendgroup=f,
                showlegend=i == 0, line=dict(color=colour, dash="dash" if f == "joint" else None),
                error_y=interval_bars(pts)),
                row=i // cols + 1, col=i % cols + 1)
    fig.update_yaxes(range=[0, 1.02])
    fig.update_layout(title=f"Settling curve ({scope}, {res['n_runs'][scope]} runs): preview "
                            f"verdict = final verdict per step; 95% Wilson intervals",
                      height=260 * (-(-len(groups) // cols)), margin=dict(l=40, r=10, t=70, b=40))
    fig.write_html(path, include_plotlyjs="cdn")


def write(res: dict[str, Any], out: str | Path, command: str = COMMAND) -> dict[str, Path]:
    """settling.json (every number), settling.png and settling.html (pooled over splits)."""
    return write_figures({"command": command, **res}, out, "settling", save_png, save_html)


def table(res: dict[str, Any], ks: Iterable[int] = (2, 4, 6, 8, 10, 12),
          scope: str = "pooled") -> str:
    """The INSIGHTS table: per category and all, physics / texture agreement at those of
    ``ks`` the runs have (a run of few steps has few)."""
    ks = [k for k in ks if k in res["ks"]]
    lines = ["| category | factor | n | " + " | ".join(f"k={k}" for k in ks) + " | final ok |",
             "|---|---|---|" + "---|" * (len(ks) + 1)]
    for g in res["scopes"][scope]:
        for f in ("physics", "texture"):
            pts = [at(res, k, f, g, scope) for k in ks]
            ok = res["scopes"][scope][g][f]["final_ok"]
            lines.append(f"| {g} | {f} | {pts[0]['n']} | " + " | ".join(
                f"{100 * p['acc']:.0f} [{100 * p['lo']:.0f}, {100 * p['hi']:.0f}]"
                for p in pts) + f" | {100 * ok['acc']:.0f} |")
    return "\n".join(lines)
