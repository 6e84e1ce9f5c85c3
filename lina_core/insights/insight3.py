"""Insight 3 three ways, side by side: do the settling curve (3a), the switch probe (3b) and
attention settling (3c) agree on when structure is fixed?

Each measurement gives, per step k, a share that rises towards 1 as the run's structure stops
changing, read from the JSON its own command wrote (nothing is run or fitted here):

- 3(a) :mod:`lina_core.insights.settling`: the share of runs whose step-k preview verdict equals the final
  verdict (physics, texture; Wilson 95%);
- 3(b) :mod:`lina_core.insights.switching`: the share of the switch's effect already gone when switching
  at k, ``1 - effect_left`` (physics, texture; bootstrap 95% over scenes);
- 3(c) :mod:`lina_core.insights.attention_settling`: the share of the prompt's nodes whose attention mask
  already overlaps its last step's (Wilson 95%).

"Fixed by" a measure is the first k at which its share reaches :data:`FIXED` (0.9, fixed before
reading any of them).  ``python -m lina_core insight3`` writes ``insight3.{json,png}``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

FIXED = 0.9
COMMAND = "python -m lina_core insight3 --out docs/probes/insight3"
SOURCES = {"settling": "docs/probes/settling/settling.json",
           "switch": "docs/probes/switch/switch.json",
           "attention": "docs/probes/attention_settling/attention_settling.json"}


def _pt(k: int, share: float | None, lo: float | None, hi: float | None, n: int) -> dict:
    return {"k": k, "share": share, "lo": lo, "hi": hi, "n": n}


def settling_curves(res: dict[str, Any], group: str = "all") -> dict[str, list[dict]]:
    """3(a): agreement with the final verdict per kept step (the final itself left out)."""
    out = {}
    for f in ("physics", "texture"):
        pts = res["scopes"]["pooled"][group][f]["agree"][:-1]
        out[f"3a {f}"] = [_pt(p["k"], p["acc"], p["lo"], p["hi"], p["n"]) for p in pts]
    return out


def switch_curves(res: dict[str, Any], group: str = "all") -> dict[str, list[dict]]:
    """3(b): the share of the switch's effect gone (1 - effect left) per switch step."""
    out = {}
    for f in ("physics", "texture"):
        d = res["groups"][group][f]
        if not d["n"]:
            continue
        out[f"3b {f}"] = [_pt(p["k"], None if p["share"] is None else round(1 - p["share"], 4),
                              None if p["hi"] is None else round(1 - p["hi"], 4),
                              None if p["lo"] is None else round(1 - p["lo"], 4), d["n"])
                          for p in d["effect_left"] if p["k"] < res["steps"]]
    return out


def attention_curves(res: dict[str, Any]) -> dict[str, list[dict]]:
    """3(c): the share of nodes settled per step, all nodes and the objects' apart."""
    out = {}
    for g, name in (("all", "3c attention, all nodes"), ("group.object", "3c attention, objects")):
        if g in res["groups"]:
            d = res["groups"][g]
            out[name] = [_pt(t, p["acc"], p["lo"], p["hi"], d["n"])
                         for t, p in enumerate(d["settled"])]
    return out


def fixed_by(curve: list[dict], level: float = FIXED) -> dict[str, Any] | None:
    """The first point whose share reaches ``level`` (None: none does)."""
    return next((p for p in curve if p["share"] is not None and p["share"] >= level), None)


def side_by_side(settling: dict, switch: dict, attention: dict) -> dict[str, Any]:
    """Every curve and its "fixed by" step."""
    curves = {**settling_curves(settling), **switch_curves(switch), **attention_curves(attention)}
    return {"schema_version": 1, "command": COMMAND, "fixed_at": FIXED, "curves": curves,
            "fixed_by": {name: fixed_by(c) for name, c in curves.items()},
            "sources": {k: d.get("command") for k, d in
                        (("settling", settling), ("switch", switch), ("attention", attention))}}


def save_png(res: dict[str, Any], path: Path) -> None:
    """All curves on one axis, 95% bands, the 0.9 line dotted."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    style = {"3a": "-", "3b": "--", "3c": ":"}
    colour = {"physics": "tab:blue", "texture": "tab:orange", "all nodes": "tab:green",
              "objects": "tab:olive"}
    fig, ax = plt.subplots(figsize=(7.2, 4.0))
    for name, pts in res["curves"].items():
        pts = [p for p in pts if p["share"] is not None]
        if not pts:         # nothing measured on this curve (a run too small to count any)
            continue
        c = next(v for k, v in colour.items() if name.endswith(k))
        ks = [p["k"] for p in pts]
        ax.plot(ks, [p["share"] for p in pts], ls=style[name[:2]], color=c, marker=".",
                label=f"{name} (n={pts[0]['n']})")
        ax.fill_between(ks, [p["lo"] for p in pts], [p["hi"] for p in pts], color=c, alpha=0.1,
                        lw=0)
    ax.axhline(FIXED, color="0.5", lw=0.8, ls=":")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("step k of 25")
    ax.set_ylabel("share already fixed")
    ax.set_title("Insight 3 three ways: 3a preview = final verdict; 3b switch effect gone; "
                 "3c attention settled", fontsize=8)
    ax.legend(fontsize=6, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for k, v in SOURCES.items():
        ap.add_argument(f"--{k}", default=v)
    ap.add_argument("--out", default="docs/probes/insight3")
    a = ap.parse_args(argv)
    try:
        res = side_by_side(*(json.loads(Path(getattr(a, k)).read_text()) for k in SOURCES))
    except (OSError, ValueError, KeyError) as e:
        print(f"insight3: an input is missing or not its command's JSON ({e}); make it with "
              f"the command its --option's default names", file=sys.stderr)
        return 2
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "insight3.json").write_text(json.dumps(res, separators=(",", ":")))
    save_png(res, out / "insight3.png")
    for name, p in res["fixed_by"].items():
        print(f"{name}: fixed by k = {p and p['k']}" + (
            f" ({100 * p['share']:.0f} [{100 * p['lo']:.0f}, {100 * p['hi']:.0f}], n = {p['n']})"
            if p else ""))
    print("wrote", out / "insight3.json", out / "insight3.png")
    return 0
