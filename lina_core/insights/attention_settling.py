"""Insight 3(c), attention settling: at which step does the model's attention on each node stop
moving, and where does it land against ToyWorld's own masks?

If causal structure is fixed in the first steps, the cross-attention of the words that name a node
should find that node's place early and then stay.  For each baseline run of the switch probe
(:mod:`.switching` records attention on it: one model run serves both), every node the
prompt names gets its per-step soft mask (the mean map of its tokens, :func:`attention.node_masks`
with the relational categories' surfaces named too: the jar, its fill, the sand), thresholded to
its ground truth's area of highest attention (``topk``: judges *where* only, the rule of
``scripts/attention_iou.py``).  Per step two numbers:

- ``truth``: IoU with the renderer's mask of the node, the graph laid out where the model drew
  its first object (:func:`toyworld.align.align_layout`; a scene whose first object is not found
  is left out and counted);
- ``self``: IoU with the node's own mask at the last step; a node has *settled* at step t when
  that IoU is at least :data:`SETTLED` (0.5, fixed before any run), so the share settled per step
  is the attention analogue of the settling curve 3(a), a rate with a Wilson interval.

Means carry 95% bootstrap intervals over nodes; ``chance`` is the expected IoU of that many random
pixels.  Rows: :data:`ROWS` in the runs folder, one line per scene.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..csg import TOYWORLD_CATEGORIES
from .figures import interval_bars, write_figures
from ..stats import bootstrap, rate

ROWS = "attention.jsonl"
#: a node's mask has settled at step t when its IoU with the last step's mask reaches this
SETTLED = 0.5
#: the shipped figure: the switch probe's rows are shipped (``docs/probes/switch/runs``)
COMMAND = ("python -m lina_core attention-settling --runs docs/probes/switch/runs "
           "--out docs/probes/attention_settling")
KEY_FIELDS = ("split", "category", "index", "seed")
#: the v2 surfaces :data:`attention.TYPE_WORDS` does not name, by type (fill: its material)
SURFACE_WORDS = {"jar": ("jar",), "sand": ("sand",)}


def node_tokens(graph: Any, tokens: list[str]) -> dict[str, list[int]]:
    """:func:`attention.node_tokens`, plus the jar (with its shape), the fill (its material word)
    and the sand, which a relational category's prompt names."""
    from .. import attention as A
    out = A.node_tokens(graph, tokens)
    words = A.words_of(tokens)
    for n in graph.graph.nodes:
        d = graph.node(n)
        if n in out or d["kind"] != "surface":
            continue
        t = d["attrs"].get("type", "")
        names = (d["attrs"].get("material"),) if t == "fill" else SURFACE_WORDS.get(t, ())
        pos = [p for i, (w, _) in enumerate(words) if w in names
               for p in A._with_adjectives(words, i, d["attrs"])]
        if pos:
            out[n] = sorted(set(pos))
    return out


def node_masks(graph: Any, attention: dict[str, Any]) -> dict[str, np.ndarray]:
    """{node: steps x h x w} soft masks, as :func:`attention.node_masks` with :func:`node_tokens`."""
    from .. import attention as A
    maps = np.asarray(attention["maps"], np.float32)
    out = {}
    for n, pos in node_tokens(graph, attention["tokens"]).items():
        pos = [p for p in pos if p < maps.shape[1]]
        if pos:
            out[n] = A.normalise(maps[:, pos].mean(1))
    return out


def resize(m: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of the last two axes (an attention grid to the image's size)."""
    ys = (np.arange(shape[0]) * m.shape[-2] // shape[0])
    xs = (np.arange(shape[1]) * m.shape[-1] // shape[1])
    return m[..., ys[:, None], xs[None, :]]


def group_of(graph: Any, node: str) -> str:
    """Objects together, the light, else the surface's type (mirror, water, jar, fill, sand...)."""
    d = graph.node(node)
    return "object" if d["kind"] == "object" else "light" if d["kind"] == "light" \
        else d["attrs"].get("type", d["kind"])


def node_ious(m: np.ndarray, truth: np.ndarray) -> dict[str, list[float]]:
    """Per step: IoU of the top-k mask (k = the truth's area) with the truth and with the last
    step's top-k mask."""
    from .. import attention as A
    a = int(truth.sum())
    tops = [A.threshold(m[t], "topk", a) for t in range(len(m))]
    return {"truth": [round(A.iou(x, truth), 4) for x in tops],
            "self": [round(A.iou(x, tops[-1]), 4) for x in tops]}


def ground_truth(graph: Any, image: np.ndarray) -> dict[str, np.ndarray] | None:
    """The renderer's masks with the graph laid out on the picture; None when the first object
    is not found in it.  A scene without objects (fill) keeps its layout."""
    from ..toyworld.align import align_layout, find_object
    from ..toyworld.render import render
    if graph.nodes("object"):
        if find_object(image, graph, "obj0") is None:
            return None
        graph = align_layout(graph, image)
    return {k: np.asarray(v, bool) for k, v in render(graph, image.shape[0]).masks.items()}


def scene_row(item: dict[str, Any], graph: Any, run: Any) -> dict[str, Any]:
    """One baseline run's nodes, each with its per-step IoUs (``found`` False: obj0 not in the
    picture, no nodes)."""
    image = run.images[0]
    gt = ground_truth(graph, image)
    row = {**{f: item[f] for f in KEY_FIELDS}, "found": gt is not None, "nodes": []}
    if gt is None:
        return row
    for node, m in node_masks(graph, run.extra["attention"]).items():
        truth = gt.get(node)
        if truth is None or not truth.any():
            continue
        m = resize(m, truth.shape)
        a, n = int(truth.sum()), truth.size
        row["nodes"].append({"node": node, "group": group_of(graph, node), "area": a,
                             "chance": round((a * a / n) / (2 * a - a * a / n), 4),
                             **node_ious(m, truth)})
    return row


# ---------------------------------------------------------------------- the numbers


def read_rows(runs: str | Path) -> list[dict[str, Any]]:
    """The scenes' rows (the last line of a scene wins)."""
    path = Path(runs) / ROWS
    if not path.is_file():
        raise FileNotFoundError(f"--runs: no {ROWS} in {runs} (made by `python -m lina_core "
                                f"switching`)")
    rows = {tuple(r[f] for f in KEY_FIELDS): r
            for r in map(json.loads, filter(str.strip, path.read_text().splitlines()))}
    return [rows[k] for k in sorted(rows)]


def nodes_of(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every measured node, with its scene's category."""
    return [{**nd, "category": r["category"]} for r in rows for nd in r["nodes"]]


def _mean(values: list[float]) -> dict[str, Any]:
    lo, hi = bootstrap(values)
    return {"mean": round(float(np.mean(values)), 4), "lo": round(lo, 4), "hi": round(hi, 4)}


def curves(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """Per step: mean IoU with the truth and with the last step (bootstrap 95%), and the share
    of nodes settled (self IoU >= :data:`SETTLED`, Wilson 95%)."""
    steps = len(nodes[0]["truth"])
    return {"n": len(nodes), "chance": round(float(np.mean([n["chance"] for n in nodes])), 4),
            "truth": [_mean([n["truth"][t] for n in nodes]) for t in range(steps)],
            "self": [_mean([n["self"][t] for n in nodes]) for t in range(steps)],
            "settled": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in
                         rate(n["self"][t] >= SETTLED for n in nodes).items()}
                        for t in range(steps)]}


def summary(rows: list[dict[str, Any]], command: str = COMMAND) -> dict[str, Any]:
    """All nodes pooled, per node group, per category, and the relational categories' nodes."""
    nodes = nodes_of(rows)
    if not nodes:
        raise ValueError("no attention nodes to summarise")
    groups: dict[str, list[dict[str, Any]]] = {"all": nodes}
    for g in sorted({n["group"] for n in nodes}):
        groups[f"group.{g}"] = [n for n in nodes if n["group"] == g]
    for c in TOYWORLD_CATEGORIES:
        sel = [n for n in nodes if n["category"] == c]
        if sel:
            groups[f"category.{c}"] = sel
    return {"schema_version": 1, "command": command, "settled_at": SETTLED,
            "steps": len(nodes[0]["truth"]), "n_scenes": len(rows),
            "obj0_not_found": sum(not r["found"] for r in rows),
            "splits": sorted({r["split"] for r in rows}),
            "groups": {g: curves(ns) for g, ns in groups.items()}}


def settle_step(res: dict[str, Any], group: str = "all", share: float = 0.9) -> int | None:
    """The first step at which at least ``share`` of the group's nodes have settled."""
    for t, p in enumerate(res["groups"][group]["settled"]):
        if p["acc"] >= share:
            return t
    return None


# ---------------------------------------------------------------------- figures and table


PANELS = ("all", "group.object", "category.roles", "category.fill", "category.place")


def save_png(res: dict[str, Any], path: Path, panels: Iterable[str] = PANELS) -> None:
    """Per panel: share settled (Wilson band), mean IoU with the truth (bootstrap band) and
    chance (dotted), per step."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    panels = [p for p in panels if p in res["groups"]]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels), 2.9), sharey=True,
                             squeeze=False)
    x = np.arange(res["steps"])
    for ax, g in zip(axes.flat, panels):
        d = res["groups"][g]
        for key, colour, label in (("settled", "tab:green", f"settled (self IoU>={SETTLED})"),
                                   ("truth", "tab:purple", "IoU with truth")):
            pts = d[key]
            y = [p["acc"] if key == "settled" else p["mean"] for p in pts]
            ax.plot(x, y, color=colour, label=label)
            ax.fill_between(x, [p["lo"] for p in pts], [p["hi"] for p in pts], color=colour,
                            alpha=0.15, lw=0)
        ax.axhline(d["chance"], ls=":", color="0.4", lw=0.9)
        ax.set_title(f"{g} (n={d['n']} nodes)", fontsize=8)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=6, loc="center right")
    fig.supxlabel(f"denoising step (of {res['steps']})", fontsize=9)
    fig.suptitle(f"Attention settling: {res['n_scenes']} baseline runs "
                 f"({', '.join(res['splits'])}); 95% bands", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def save_html(res: dict[str, Any], path: Path) -> None:
    """Share settled per step for every group, as an interactive Plotly page."""
    import plotly.graph_objects as go
    fig = go.Figure()
    for g, d in res["groups"].items():
        pts = d["settled"]
        fig.add_trace(go.Scatter(
            x=list(range(len(pts))), y=[p["acc"] for p in pts], name=f"{g} (n={d['n']})",
            visible=True if g in PANELS[:2] else "legendonly",
            error_y=interval_bars(pts)))
    fig.update_layout(title=f"Attention settling: share of nodes whose top-k mask has IoU >= "
                            f"{SETTLED} with its last step's; 95% Wilson intervals",
                      xaxis_title="denoising step", yaxis_range=[0, 1.02], height=380,
                      margin=dict(l=40, r=10, t=60, b=40))
    fig.write_html(path, include_plotlyjs="cdn")


def write(res: dict[str, Any], out: str | Path) -> dict[str, Path]:
    """attention_settling.json (every number), .png and .html."""
    return write_figures(res, out, "attention_settling", save_png, save_html)


def table(res: dict[str, Any], ks: Iterable[int] = (0, 2, 4, 6, 8, 12, 16, 24)) -> str:
    """The INSIGHTS table: share settled and mean IoU with the truth at ``ks``, per group."""
    ks = [k for k in ks if k < res["steps"]]
    lines = ["| nodes | n | measure | " + " | ".join(f"k={k}" for k in ks) + " |",
             "|---|---|---|" + "---|" * len(ks)]
    for g, d in res["groups"].items():
        s = [d["settled"][k] for k in ks]
        t = [d["truth"][k] for k in ks]
        lines.append(f"| {g} | {d['n']} | settled | " + " | ".join(
            f"{100 * p['acc']:.0f} [{100 * p['lo']:.0f}, {100 * p['hi']:.0f}]" for p in s) + " |")
        lines.append(f"| {g} | {d['n']} | IoU truth (chance {d['chance']:.2f}) | " + " | ".join(
            f"{p['mean']:.2f} [{p['lo']:.2f}, {p['hi']:.2f}]" for p in t) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------- command line


def add_command(sub: Any) -> None:
    """``python -m lina_core attention-settling``: summarise the attention rows the switch
    probe's baselines recorded (no model)."""
    q = sub.add_parser("attention-settling", help="insight 3(c): per-node attention IoU per "
                       "step, from the switch probe's baseline runs (no model)")
    q.add_argument("--runs", default="runs/switch", help="made by `python -m lina_core switching`")
    q.add_argument("--out", default="docs/probes/attention_settling")
    q.set_defaults(fn=main)


def main(a: Any) -> None:
    res = summary(read_rows(a.runs), f"python -m lina_core attention-settling --runs {a.runs} "
                                     f"--out {a.out}")
    paths = write(res, a.out)
    print(table(res))
    print("wrote", ", ".join(str(p) for p in paths.values()))
