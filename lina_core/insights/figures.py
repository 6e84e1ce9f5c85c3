"""What the measured figures of insight 3 share (:mod:`.settling`, :mod:`.switching`,
:mod:`.attention_settling`): interval bars for Plotly and the JSON + PNG + HTML triple each
command writes, so a fourth measurement writes its files the same way."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable


#: the measured figures the Probe tab shows (in this order) and the Space copies: key -> (its
#: folder under ``docs/probes``, its file stem (``<stem>.png`` and ``<stem>.json``), the command
#: that makes it); a new measured figure is one line here and its caption in ``app/tab_probe``
MEASURED = {
    "multihop": ("multihop", "multihop", "python -m lina_core multihop"),
    "multihop_floating": ("multihop_floating", "multihop",
                          "python -m lina_core multihop --categories buoyancy --effect floating"),
    "separation": ("separation", "separation", "python -m lina_core separation"),
    "insight3": ("insight3", "insight3", "python -m lina_core insight3"),
    "settling": ("settling", "settling", "python -m lina_core settling"),
    "switch": ("switch", "switch", "python -m lina_core switching"),
    "attention_settling": ("attention_settling", "attention_settling",
                           "python -m lina_core attention-settling"),
}


def interval_bars(pts: list[dict[str, Any]]) -> dict[str, Any]:
    """Plotly ``error_y`` for points with ``acc``, ``lo`` and ``hi`` (an asymmetric interval)."""
    return dict(type="data", symmetric=False, thickness=1,
                array=[p["hi"] - p["acc"] for p in pts],
                arrayminus=[p["acc"] - p["lo"] for p in pts])


def write_figures(res: dict[str, Any], out: str | Path, stem: str,
                  save_png: Callable[[dict[str, Any], Path], None],
                  save_html: Callable[[dict[str, Any], Path], None]) -> dict[str, Path]:
    """``<stem>.json`` (every number), ``<stem>.png`` and ``<stem>.html`` under ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {ext: out / f"{stem}.{ext}" for ext in ("json", "png", "html")}
    paths["json"].write_text(json.dumps(res, separators=(",", ":")))
    save_png(res, paths["png"])
    save_html(res, paths["html"])
    return paths


def bars_html(path: str | Path, title: str, xs: list[str],
              series: dict[str, list[dict[str, Any]]]) -> None:
    """Grouped bars with their intervals (one bar per x of each series) as a Plotly page."""
    import plotly.graph_objects as go
    fig = go.Figure()
    for name, pts in series.items():
        fig.add_trace(go.Bar(x=xs, y=[p["acc"] for p in pts], name=name,
                             error_y=interval_bars(pts)))
    fig.update_layout(title=title, barmode="group", yaxis_range=[0, 1.02], height=380,
                      margin=dict(l=40, r=10, t=60, b=40))
    fig.write_html(path, include_plotlyjs="cdn")
