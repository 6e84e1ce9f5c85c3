"""Judge a model's samples with the verifier: texture and physics accuracy per cell.

A cell is (split, caption form, category).  Samples are drawn with the pipeline directly, batched
over prompts, one seed per prompt, so the figures measure the model and nothing else.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..csg import TOYWORLD_CATEGORIES
from ..engine import np_images
from ..stats import rate
from ..toyworld.data import sample_scene, scene_index


def sample_images(pipe: Any, prompts: list[str], seed: int, steps: int = 25,
                  guidance_scale: float = 3.0, batch: int = 16,
                  frames: int | None = None) -> np.ndarray:
    """N x H x W x 3 uint8 images, or N x F x H x W x 3 clips from a video pipeline."""
    out = []
    video = {"num_frames": frames} if frames else {}
    for i in range(0, len(prompts), batch):
        chunk = prompts[i:i + batch]
        gens = [torch.Generator().manual_seed(seed + i + j) for j in range(len(chunk))]
        with torch.no_grad():
            r = pipe(chunk, num_inference_steps=steps, guidance_scale=guidance_scale,
                     generator=gens, output_type="np", **video)
        out.append(np_images(r.frames if frames else r.images))
    return np.concatenate(out)


def evaluate_model(pipe: Any, n_per_cell: int = 200, splits=("test-id", "test-ood"),
                   steps: int = 25, seed: int = 0, batch: int = 16,
                   progress: Callable[[str], None] = print,
                   keep_images: int = 0, start: int = 0, frames: int = 8,
                   only: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Scenes ``start .. start + n_per_cell - 1`` of each (split, category); a later run with
    ``start=n`` adds new scenes (and new seeds) to an earlier one. ``only``: these of the
    model's categories (scenes and seeds as in a run over all of them).

    A video pipeline is judged on clips of ``frames`` frames (the clip categories only):
    ``texture`` is every frame's texture, ``physics`` the clip's temporal question, and the
    per-frame rates ``frame_texture`` and ``rest_physics`` (still physics on the frames at rest)
    pool frames over clips (frames of one clip are not independent: their intervals are too
    narrow)."""
    from ..engine import family
    from ..toyworld.verify import verify
    from ..toyworld.verify_video import verify_clip
    from ..grid import categories
    video = family(pipe) == "toyworld_video"
    cats = categories(pipe)      # the clip kinds, or the five and the v2 ones the model knows
    unknown = sorted(set(only or ()) - set(cats))
    if unknown:
        raise ValueError(f"categories: {', '.join(unknown)} not among this model's "
                         f"categories ({', '.join(cats)})")
    judge = verify_clip if video else verify
    rows, raw, grids = [], [], {}
    t0 = time.perf_counter()
    for split in splits:
        for cat in (c for c in cats if only is None or c in only):
            samples = [sample_scene(split, scene_index(i, cat, cats), category=cat)
                       for i in range(start, start + n_per_cell)]
            for explicit in (False, True):
                prompts = [s.caption(explicit) for s in samples]
                ims = sample_images(pipe, prompts, seed + start, steps, batch=batch,
                                    frames=frames if video else None)
                verdicts = [judge(im, s.graph) for im, s in zip(ims, samples)]
                cell = {"split": split, "category": cat,
                        "caption": "explicit" if explicit else "implicit"}
                rows.append({**cell, "metric": "texture", **rate(v.texture_ok for v in verdicts)})
                rows.append({**cell, "metric": "physics", **rate(v.physics_ok for v in verdicts)})
                if video:
                    rows.append({**cell, "metric": "frame_texture",
                                 **rate(t for v in verdicts for t in v.frame_texture)})
                    rows.append({**cell, "metric": "rest_physics",
                                 **rate(p for v in verdicts for p in v.frame_physics
                                        if p is not None)})
                for i, (v, s) in enumerate(zip(verdicts, samples), start):
                    at = {**cell, "i": i}      # i: the scene's index in (split, category)
                    if video:
                        raw.append({**at, "combo": list(s.combo), "reason": v.reason,
                                    "texture": v.texture, "physics": v.physics,
                                    "rest_physics": [p for p in v.frame_physics
                                                     if p is not None]})
                    else:
                        raw.append({**at, "combo": list(s.combo), "texture": v.texture,
                                    "physics": v.physics, "verdict": v.physics_verdict})
                if keep_images:   # video: the first clip's frames as a filmstrip row
                    grids[f"{split}/{cat}/{cell['caption']}"] = ims[0] if video else \
                        ims[:keep_images]
                progress(f"{split} {cat} {cell['caption']}: texture "
                         f"{rows[-2]['acc']:.3f} physics {rows[-1]['acc']:.3f} "
                         f"({time.perf_counter() - t0:.0f}s)")
    return {"rows": rows, "raw": raw, "grids": grids, "n_per_cell": n_per_cell,
            "start": start, "steps": steps, "seed": seed, "wall_s": time.perf_counter() - t0,
            **({"frames": frames} if video else {})}


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Pool the raw verdicts of several runs (disjoint ``start`` ranges) into one table."""
    raw = [r for res in results for r in res["raw"]]
    rows = []
    cells = sorted({(r["split"], r["category"], r["caption"]) for r in raw},
                   key=lambda c: (c[0], TOYWORLD_CATEGORIES.index(c[1]), c[2]))
    for split, cat, cap in cells:
        sel = [r for r in raw if (r["split"], r["category"], r["caption"]) == (split, cat, cap)]
        cell = {"split": split, "category": cat, "caption": cap}
        rows.append({**cell, "metric": "texture", **rate(all(r["texture"].values()) for r in sel)})
        rows.append({**cell, "metric": "physics", **rate(all(r["physics"].values()) for r in sel)})
        if "rest_physics" in sel[0]:      # clips: the per-frame rates too
            rows.append({**cell, "metric": "frame_texture",
                         **rate(t for r in sel for t in r["texture"].values())})
            rows.append({**cell, "metric": "rest_physics",
                         **rate(p for r in sel for p in r["rest_physics"])})
    return {"rows": rows, "raw": raw, "n_per_cell": sum(r["n_per_cell"] for r in results),
            "runs": [{k: v for k, v in r.items() if k not in ("rows", "raw", "grids")}
                     for r in results]}


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """One line per (split, category); video rows add the per-frame columns."""
    cells = {}
    for r in rows:
        cells.setdefault((r["split"], r["category"]), {})[(r["caption"], r["metric"])] = r
    f = lambda r: f"{100 * r['acc']:.1f} [{100 * r['lo']:.1f}, {100 * r['hi']:.1f}]"  # noqa
    metrics = ["texture", "physics"]
    if any(r["metric"] == "frame_texture" for r in rows):
        metrics = ["frame_texture", "texture", "rest_physics", "physics"]
    names = {"texture": "texture", "physics": "physics", "frame_texture": "per-frame texture",
             "rest_physics": "at-rest physics"}
    if len(metrics) == 4:
        names.update(texture="clip texture", physics="temporal physics")
    cols = [(m, c) for m in metrics for c in ("implicit", "explicit")]
    out = ["| split | category | n | " + " | ".join(f"{names[m]} ({c})" for m, c in cols) + " |",
           "|---|---|---|" + "---|" * len(cols)]
    for (split, cat), d in cells.items():
        out.append(f"| {split} | {cat} | {d[('implicit', 'physics')]['n']} | "
                   + " | ".join(f(d[(c, m)]) for m, c in cols) + " |")
    return "\n".join(out)


def pooled(rows_raw: list[dict[str, Any]], split: str, caption: str, metric: str) -> dict:
    sel = [all(r[metric].values()) for r in rows_raw
           if r["split"] == split and r["caption"] == caption]
    return rate(sel)


def summary(raw: list[dict[str, Any]], categories: tuple[str, ...], source: str
            ) -> dict[str, Any]:
    """The pooled rates over ``categories`` per split and caption form: a model folder's
    ``eval_summary.json``, which ``tests/test_model.py`` checks fresh samples against."""
    sel = [r for r in raw if r["category"] in categories]
    out: dict[str, Any] = {"source": source, "categories": list(categories)}
    for split in sorted({r["split"] for r in sel}):
        out[split] = {cap: {m: pooled(sel, split, cap, m) for m in ("texture", "physics")}
                      for cap in ("implicit", "explicit")}
    return out


def save_grid(grids: dict[str, np.ndarray], path: str | Path, scale: int = 2) -> None:
    """One row per cell: the first samples of each, upscaled with nearest neighbour."""
    from PIL import Image, ImageDraw
    rows = []
    for name, ims in grids.items():
        row = np.concatenate(list(ims), axis=1)
        rows.append(row)
    w = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 2), (0, w - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    grid = np.concatenate(rows, axis=0)
    label_w = 170
    img = Image.new("RGB", (label_w + grid.shape[1] * scale, grid.shape[0] * scale), "white")
    img.paste(Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale),
                                           Image.NEAREST), (label_w, 0))
    d = ImageDraw.Draw(img)
    h = rows[0].shape[0] * scale
    for i, name in enumerate(grids):
        d.text((4, i * h + h // 3), name, fill="black")
    img.save(path)


def write_json(result: dict[str, Any], path: str | Path) -> None:
    Path(path).write_text(json.dumps({k: v for k, v in result.items() if k != "grids"},
                                     indent=1))
