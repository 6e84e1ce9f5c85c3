"""Baseline runs kept with their early previews, for LINA's learned check (:mod:`lina_core.check`).

A run's own predicted clean image at an early step already shows whether it is going wrong
(insight 3), so the check is trained on that image, labelled by the verifier's verdict on the
run's *final* image.  This module makes those examples: one standalone baseline run per work item
(the grid's items and noise seeds, so the same sample is the same run everywhere), its previews
at steps ``0 .. PREVIEW_STEPS - 1`` and its final image in ``images/<item>.npz``, its verdict in
``rows.jsonl``.  Resumable: a rerun runs only the items not yet in ``rows.jsonl``.

The verifier labels; it never feeds the check's input.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import engine
from .grid import categories, key, noise_seed, scene, verdict_fields
from .candidates import get, spec_for

#: previews kept per run: the check step is chosen among these on dev-ood
PREVIEW_STEPS = 13


def item_file(out: Path, item: dict[str, Any]) -> Path:
    return out / "images" / ("%s_%s_%d_%d.npz" % key(item))


def baseline_run(pipe: Any, item: dict[str, Any], steps: int = 25,
                 guidance_scale: float = 3.0) -> tuple[dict[str, Any], Any]:
    """One work item's baseline, judged: (row, engine result with previews)."""
    from .toyworld.verify_video import judge
    s = scene(item, categories(pipe))
    prompt, seed = s.caption(False), noise_seed(item, s.seed)
    spec = spec_for(get("none"), prompt, s.graph, steps, seed, guidance_scale)   # the grid's
    t0 = time.perf_counter()
    r = engine.run(pipe, spec, seed=seed, previews=True)
    row = {**item, "prompt": prompt, "noise_seed": seed, "wall_s": time.perf_counter() - t0,
           "model_calls": int(r.model_calls), **verdict_fields(judge(r.images[0], s.graph))}
    return row, r


def collect(pipe: Any, items: list[dict[str, Any]], out: str | Path, steps: int = 25,
            progress: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Run and keep the items of ``items`` not yet in ``out``; every row in ``out``."""
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    done = {key(r) for r in read_rows(out)}
    todo = [it for it in items if key(it) not in done]
    t0 = time.perf_counter()
    with open(out / "rows.jsonl", "a") as f:
        for j, it in enumerate(todo):
            row, r = baseline_run(pipe, it, steps)
            prev = np.stack([p[0] for p in r.previews[:PREVIEW_STEPS]])
            np.savez_compressed(item_file(out, it), previews=prev, final=r.images[0])
            f.write(json.dumps(row) + "\n")
            f.flush()
            if (j + 1) % 20 == 0 or j + 1 == len(todo):
                progress(f"{j + 1}/{len(todo)} items {time.perf_counter() - t0:.0f}s")
    return read_rows(out)


def read_rows(out: str | Path) -> list[dict[str, Any]]:
    path = Path(out) / "rows.jsonl"
    if not path.is_file():
        return []
    rows = {key(r): r for r in map(json.loads, filter(str.strip, path.read_text().splitlines()))}
    return [rows[k] for k in sorted(rows)]
