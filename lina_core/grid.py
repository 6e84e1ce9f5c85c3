"""The candidate grid: every candidate of the family on every work item, judged, resumable.

Both the fit (on dev-ood and train) and the benchmark (on test-id and test-ood) read this grid, so
the methods they compare are the same runs: ``baseline`` is the ``none`` cell, ``explicit`` the
``cplus_all`` cell (bit-identical to sampling the explicit caption; a test pins it), ``lina`` the
predictor's cell, ``oracle`` the best cell on the prompt's other seeds.  Each cell is a standalone
:func:`engine.run` without the trajectory cache, so its wall time is honest.

Work items (split, category, index, seed) are dealt round-robin to accelerate's processes (so
each gets every category's share: categories differ 3x in how many candidates apply, and
contiguous chunks left one process idle for a quarter of the run); every cell depends on its
own seed alone, so results do not depend on the number of processes.  Each process appends
finished items to ``rows.<process>.jsonl`` and their images to ``images/``; a rerun runs only
the (item, candidate) cells not yet in any rows file, so a long run resumes where it stopped and
a candidate added to the family is filled in, and :func:`read_rows` merges what is there.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from . import engine
from .candidates import FAMILY, Candidate, available, spec_for
from .csg import CATEGORIES

ItemKey = tuple[str, str, int, int]
SEED_STRIDE = 100_000_000      #: replicate r of a scene draws noise seed scene_seed + r * stride


def categories(pipe: Any) -> tuple[str, ...]:
    """The categories a model is judged on: the clip kinds for the video model; for an image
    model the first five, and the v2 ones its vocabulary covers
    (:func:`tokenizer.known_categories`: none for the shipped model)."""
    from .pipelines.tokenizer import known_categories
    from .toyworld.video_data import CLIP_CATEGORIES
    if engine.family(pipe) == "toyworld_video":
        return CLIP_CATEGORIES
    tok = getattr(pipe, "tokenizer", None)
    return known_categories(tok) if tok is not None else CATEGORIES


def work_items(splits: Iterable[str], n_per_category: int, seeds: Iterable[int],
               cats: tuple[str, ...] = CATEGORIES, start: int = 0) -> list[dict[str, Any]]:
    return [{"split": sp, "category": c, "index": i, "seed": s}
            for sp in splits for c in cats for i in range(start, start + n_per_category)
            for s in seeds]


def key(row: dict[str, Any]) -> ItemKey:
    return (row["split"], row["category"], int(row["index"]), int(row["seed"]))


def scene(item: dict[str, Any], cats: tuple[str, ...]):
    from .toyworld.data import sample_scene, scene_index
    from .toyworld.video_data import CLIP_CATEGORIES, sample_clip
    cat = item["category"]
    draw = sample_clip if cats == CLIP_CATEGORIES else sample_scene
    return draw(item["split"], scene_index(item["index"], cat, cats), category=cat)


def noise_seed(item: dict[str, Any], scene_seed: int) -> int:
    """The initial noise of an item: its scene's seed (unique across splits and scenes) and its
    replicate, so two scenes with the same caption are two samples, not one sample twice."""
    return int(scene_seed) + SEED_STRIDE * int(item["seed"])


def todo(item: dict[str, Any], family: tuple[Candidate, ...], cats: tuple[str, ...],
         done: set[tuple]) -> list[Candidate]:
    """The candidates of ``family`` that apply to ``item``'s scene and are not in ``done``."""
    return [c for c in available(scene(item, cats).graph, family)
            if key(item) + (c.name,) not in done]


def verdict_fields(v: Any) -> dict[str, Any]:
    """The judged fields of a grid row, from a verifier verdict."""
    return {"physics": bool(v.physics_ok), "texture": bool(v.texture_ok),
            "verdict": v.physics_verdict, "margin": v.physics_margin}


def run_item(pipe: Any, item: dict[str, Any], steps: int, family: tuple[Candidate, ...],
             images: Path | None = None, frames: int | None = None) -> list[dict[str, Any]]:
    """The given candidates on one item: one judged row per candidate.  Images are kept in
    ``images`` (one ``.npz`` per item, merged with what an earlier run left there)."""
    from .toyworld.verify_video import judge
    s = scene(item, categories(pipe))
    prompt, graph, seed = s.caption(False), s.graph, noise_seed(item, s.seed)
    path = images / ("%s_%s_%d_%d.npz" % key(item)) if images is not None else None
    pics: dict[str, np.ndarray] = dict(np.load(path)) if path and path.is_file() else {}
    rows = []
    for cand in family:
        spec = spec_for(cand, prompt, graph, steps, seed)
        t0 = time.perf_counter()
        r = engine.run(pipe, spec, seed=seed, previews=False, frames=frames)
        wall = time.perf_counter() - t0
        im = r.images[0]
        pics[cand.name] = im
        base = pics.get("none", im)
        rows.append({**item, "prompt": prompt, "candidate": cand.name, "noise_seed": seed,
                     **verdict_fields(judge(im, graph)),
                     "drift": float(np.abs(im.astype(np.float32) - base).mean() / 255),
                     "model_calls": int(r.model_calls), "wall_s": wall,
                     "run_mask": (r.record.get("run_mask") or {}).get("box")})
    if path is not None:
        images.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **pics)
    return rows


def rejudge(out: str | Path, cats: tuple[str, ...]) -> tuple[int, int]:
    """Judge every row of the grid in ``out`` again from its saved images (after a change to
    the verifier), rewriting the rows files in place; (rows, rows whose verdict changed)."""
    from .toyworld.verify_video import judge
    out = Path(out)
    n = changed = 0
    for f in sorted(out.glob("rows.*.jsonl")):
        rows, pics = [], {}
        for line in f.read_text().splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            path = out / "images" / ("%s_%s_%d_%d.npz" % key(r))
            if path not in pics:
                pics[path] = dict(np.load(path))
            new = verdict_fields(judge(pics[path][r["candidate"]], scene(r, cats).graph))
            changed += any(r[k] != new[k] for k in ("physics", "texture", "verdict"))
            rows.append({**r, **new})
            n += 1
        tmp = f.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
        tmp.replace(f)
    return n, changed


def read_rows(out: str | Path) -> list[dict[str, Any]]:
    """All rows under ``out`` (every process's file, every resumed run), one per item and
    candidate, sorted so the result does not depend on how the work was split."""
    seen: dict[tuple, dict[str, Any]] = {}
    for f in sorted(Path(out).glob("rows.*.jsonl")):
        for line in f.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                seen[key(r) + (r["candidate"],)] = r
    order = {c.name: i for i, c in enumerate(FAMILY)}
    return sorted(seen.values(), key=lambda r: key(r) + (order.get(r["candidate"], 99),))


def run_grid(pipe: Any, items: list[dict[str, Any]], out: str | Path, steps: int = 25,
             family: tuple[Candidate, ...] = FAMILY, frames: int | None = None,
             progress=print, warm_up: bool = False) -> list[dict[str, Any]] | None:
    """Run the items not yet in ``out``; the main process returns the merged rows.
    ``warm_up``: run each process's first item once untimed and unsaved first, so a compiled
    denoiser's compile time is not in any cell's ``wall_s``."""
    import torch
    from accelerate import PartialState
    state = PartialState(cpu=not torch.cuda.is_available())
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    done = {key(r) + (r["candidate"],) for r in read_rows(out)}
    cats = categories(pipe)
    work = [(it, c) for it in items for c in [todo(it, family, cats, done)] if c]
    state.wait_for_everyone()
    t0 = time.perf_counter()
    mine = work[state.process_index::state.num_processes]
    if warm_up and mine:
        run_item(pipe, mine[0][0], steps, tuple(mine[0][1]), None, frames)
    with open(out / f"rows.{state.process_index}.jsonl", "a") as f:
        for j, (it, cands) in enumerate(mine):
            for row in run_item(pipe, it, steps, tuple(cands), out / "images", frames):
                f.write(json.dumps(row) + "\n")
            f.flush()
            if (j + 1) % 5 == 0 or j + 1 == len(mine):
                progress(f"[proc {state.process_index}] {j + 1}/{len(mine)} items "
                         f"({len(done)} cells done before) {time.perf_counter() - t0:.0f}s")
    state.wait_for_everyone()
    return read_rows(out) if state.is_main_process else None
