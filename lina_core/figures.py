"""What the measured figures of insight 3 share (:mod:`.settling`, :mod:`.switching`,
:mod:`.attention_settling`): interval bars for Plotly and the JSON + PNG + HTML triple each
command writes, so a fourth measurement writes its files the same way."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable


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
