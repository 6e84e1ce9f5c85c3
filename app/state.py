"""The app's model calls: each function at the bottom of this module is the whole of one call.

The models themselves, and every decision about them (loading and its fallbacks, memory,
predictors, the baseline memo, which verifier applies), are :mod:`lina_core.service`'s;
``build_demo`` makes the two services (:func:`set_handle`, :func:`set_video_handle`) with the
host's placement (:func:`zerogpu.placement`).  The functions are wrapped in ``spaces.GPU`` when
the ``spaces`` package is importable (Hugging Face ZeroGPU) and run as plain functions
otherwise; only CPU objects cross their boundary (numpy arrays, dicts, strings, lists), never
tensors or pipelines. The trajectory cache (torch tensors) stays inside.
"""
from __future__ import annotations

import json
import time
from typing import Any, Callable

import numpy as np

from lina_core.service import Loaded, ModelService, VideoService, kind_of

#: the value of the intervention dropdowns meaning "let LINA choose"
PREDICTED = "predicted"
#: the per-step previews strip: cell size (px, nearest-neighbour), white gap, most columns
PREVIEW_CELL, PREVIEW_GAP, PREVIEW_MAX_COLS = 96, 4, 13
STEP_HEADER_PX = 12        #: the row of step numbers over the previews strip


try:  # Hugging Face ZeroGPU: a GPU for each model call, for a duration computed from it
    import spaces  # type: ignore

    def gpu(fn: Callable) -> Callable:
        """The call runs in ZeroGPU's worker process, where this process's queue cannot be
        watched: no per-step progress or cancellation there (ZeroGPU bounds it by duration)."""
        from .zerogpu import on_gpu
        return on_gpu(spaces, fn, kind_of)
    ON_SPACES_GPU = True
except ImportError:  # a plain machine: per-step progress, and stopped when its client leaves
    def gpu(fn: Callable) -> Callable:
        from .waiting import watched
        return watched(fn, show_steps=fn.__name__ != "probe")   # a probe shows its items
    ON_SPACES_GPU = False


HANDLE: ModelService | None = None
VIDEO: VideoService | None = None


def handle() -> ModelService:
    if HANDLE is None:
        raise RuntimeError("model service: build_demo() sets it up first")
    return HANDLE


def set_handle(h: ModelService) -> ModelService:
    global HANDLE
    HANDLE = h
    return h


def video_handle() -> VideoService:
    if VIDEO is None:
        raise RuntimeError("video service: build_demo() sets it up first")
    return VIDEO


def set_video_handle(h: VideoService) -> VideoService:
    global VIDEO
    VIDEO = h
    return h


# --------------------------------------------------------------------------- helpers


def _size_kwargs(loaded: Loaded) -> dict[str, int]:
    """The size the app asks of ``loaded``: none, so every model runs at its pipeline's own
    default (:meth:`lina_core.adapters.Adapter.native_size`, from its config, as diffusers'
    ``__call__`` computes it). The one place every tab's size comes from, so a host (or a test
    driving a tiny real model) asks for another size here alone."""
    return {}


def _first(images: np.ndarray) -> np.ndarray:
    """The first image of a batch (the first frame of a video)."""
    a = np.asarray(images)
    while a.ndim > 3:
        a = a[0]
    return np.ascontiguousarray(a)


def _plain(obj: Any) -> Any:
    """JSON-able plain data (numpy scalars, tuples and the like become str / lists)."""
    return json.loads(json.dumps(obj, default=str))


def _candidate(candidate: str | None) -> str | None:
    """The dropdown's "predicted" (or None / empty) means: let LINA choose."""
    return None if candidate in (None, "", PREDICTED) else candidate


def _choice(m: Loaded, choice: Any) -> dict[str, Any]:
    """A ``Choice`` as plain data, with the predictor note when there was no predictor."""
    d = _plain(choice.to_dict())
    if m.predictor is None and d["why"].get("source") == "no predictor: no intervention":
        d["why"]["predictor_note"] = m.predictor_note
    return d


def previews_strip(base: list[np.ndarray], lina: list[np.ndarray],
                   max_cols: int = PREVIEW_MAX_COLS, cell: int = PREVIEW_CELL,
                   gap: int = PREVIEW_GAP) -> tuple[np.ndarray | None, list[int]]:
    """Both runs' per-step predicted clean images as one picture: two rows (baseline on top,
    LINA below) under a row of step numbers, one column per shown step (every step, or every other one or more so at most
    ``max_cols`` columns; the last step always), each enlarged by nearest neighbour to about
    ``cell`` px, white gaps.  Returns the image (None when the model gives no previews) and the
    steps shown."""
    n = min(len(base), len(lina))
    if n == 0:
        return None, []
    every = max(1, -(-n // max_cols))
    steps = list(range(0, n, every))
    if steps[-1] != n - 1:
        steps.append(n - 1)
    rows = [[_first(r[i]) for i in steps] for r in (base, lina)]
    h, w = rows[0][0].shape[:2]
    f = max(1, cell // max(h, w))
    ch, cw = h * f, w * f
    top = STEP_HEADER_PX
    out = np.full((top + 2 * ch + gap, len(steps) * cw + (len(steps) - 1) * gap, 3), 255,
                  np.uint8)
    _step_numbers(out, steps, cw, gap)
    for r, row in enumerate(rows):
        for c, img in enumerate(row):
            a = np.asarray(img)
            if a.dtype != np.uint8:
                a = (np.clip(a.astype(np.float32), 0, 1) * 255 + 0.5).astype(np.uint8)
            if a.ndim == 2:
                a = np.repeat(a[..., None], 3, axis=-1)
            big = np.repeat(np.repeat(a[..., :3], f, axis=0), f, axis=1)
            y, x = top + r * (ch + gap), c * (cw + gap)
            out[y:y + ch, x:x + cw] = big
    return out, steps


def _step_numbers(out: np.ndarray, steps: list[int], cw: int, gap: int) -> None:
    """The step of each column written over it (the strip's top :data:`STEP_HEADER_PX` rows)."""
    from PIL import Image, ImageDraw
    head = Image.fromarray(out[:STEP_HEADER_PX])
    draw = ImageDraw.Draw(head)
    for c, s in enumerate(steps):
        draw.text((c * (cw + gap) + 2, 0), f"step {s}" if cw >= 40 else str(s), fill="black")
    out[:STEP_HEADER_PX] = np.asarray(head)


def _graph(graph: dict[str, Any] | None):
    from lina_core.csg import CausalSceneGraph
    return None if graph is None else CausalSceneGraph.from_dict(graph)


# --------------------------------------------------------------------------- model work
# Each function below is the whole of one model call; arguments and results are plain data.


@gpu
def predict_choice(model_key: str, prompt: str, graph: dict[str, Any],
                   candidate: str | None = None, steps: int = 25) -> dict[str, Any]:
    """LINA's choice for a prompt and its graph (``Choice.to_dict()`` as plain JSON): the
    predictor's, ``none`` without a predictor, or ``candidate`` when given (a candidate that
    does not apply to the scene raises ``DonorError``, naming the field "candidate")."""
    from lina_core.lina import LinaSampler
    m = handle().get(model_key)
    choice = LinaSampler(m.pipe, m.predictor, steps=steps).choose(prompt, _graph(graph),
                                                                   _candidate(candidate))
    return _choice(m, choice)


@gpu
def lina_pair(model_key: str, prompt: str, graph: dict[str, Any], seed: int, steps: int,
              candidate: str | None = None) -> dict[str, Any]:
    """Baseline and LINA from the same noise; ``candidate`` None (or "predicted") lets LINA
    choose.  Returns the first image of each, the candidate, the choice (with why), the spec,
    both engine records, timings, and the per-step previews strip (see
    :func:`previews_strip`)."""
    from lina_core.lina import LinaSampler
    m = handle().get(model_key)
    t0 = time.perf_counter()
    sampler = LinaSampler(m.pipe, m.predictor, steps=steps, check=m.check)
    res = sampler(prompt, _graph(graph), seed=seed, candidate=_candidate(candidate),
                  **_size_kwargs(m))
    strip, shown = previews_strip(res.baseline_previews, res.lina_previews)
    return {"baseline": _first(res.baseline), "lina": _first(res.lina),
            "candidate": res.choice.candidate, "choice": _choice(m, res.choice),
            "spec": _plain(res.spec.to_dict()),
            "baseline_record": _plain(res.baseline_record),
            "lina_record": _plain(res.lina_record),
            "timings": dict(res.timings, total_s=time.perf_counter() - t0),
            "previews": {"image": strip, "steps": shown, "rows": ["baseline", "LINA"]},
            "loop_runs": loop_gallery(res.tries)}


def loop_gallery(runs: list[dict[str, Any]]) -> list[tuple[np.ndarray, str]]:
    """The loop's runs for a gallery, in the order they ran: each run's preview at its check
    step (what the check read; VAE models keep none) and its final picture, captioned with the
    check's verdict, its probability and whether LINA kept it.  Empty when LINA chose before
    the run."""
    from lina_core.adaptive import joint
    out = []
    for r in runs:
        verdict = "passed" if r["passed"] else "failed"
        head = f"{r['name']}: the check {verdict} at step {r['checked_at']} ({joint(r['p']):.0%})"
        if r["preview"] is not None:
            out.append((_first(r["preview"]), f"{head}: the preview it read"))
        out.append((_first(r["image"]), f"{r['name']}: final picture"
                    + (" (LINA kept this)" if r["kept"] else "")))
    return out


@gpu
def intervene(model_key: str, spec_dict: dict[str, Any]) -> dict[str, Any]:
    """The spec's baseline (memoised) and the spec itself, same seed; previews of both.  What
    runs (which baseline, whether from its cached steps, what inpainting keeps) is
    :mod:`lina_core.compare`'s decision."""
    from lina_core import compare
    from lina_core.interventions import InterventionSpec
    m = handle().get(model_key)
    spec = InterventionSpec.from_dict(spec_dict)
    t0 = time.perf_counter()
    base_spec, base, hit = handle().baseline(m, spec, spec.seed, **_size_kwargs(m))
    t1 = time.perf_counter()
    res = compare.branch(m.pipe, spec, base, seed=spec.seed, attention=True, **_size_kwargs(m))
    t2 = time.perf_counter()
    timings = {"baseline_s": 0.0 if hit else t1 - t0, "baseline_cached": hit,
               "intervened_s": t2 - t1, "started_at_step": res.record["started_at_step"],
               "total_s": t2 - t0}
    return _comparison(m, spec, base_spec, base, res, timings)


def _comparison(m: Loaded, spec, base_spec, base, res, timings: dict[str, Any]
                ) -> dict[str, Any]:
    """:func:`intervene`'s answer, as plain data."""
    from lina_core.schedules import uniform
    return {
        "baseline": _first(base.images), "intervened": _first(res.images),
        "baseline_previews": [_first(p) for p in base.previews],
        "previews": [_first(p) for p in res.previews],
        "schedules": {"baseline (uniform)": base.schedule_used.to_dict(),
                      "requested": res.record["schedule_requested"],
                      "used": res.schedule_used.to_dict()},
        "baseline_spec": base_spec.to_dict(), "spec": spec.to_dict(),
        "baseline_record": base.record, "record": res.record, "timings": timings,
        "num_train_timesteps": int(getattr(m.pipe.scheduler.config, "num_train_timesteps",
                                           1000)),
        "uniform": uniform(m.pipe.scheduler, spec.steps).to_dict(),
        "attention": attention_strips(spec, base, res),
    }


def _strip(spec: Any, res: Any, columns: int = 6) -> np.ndarray | None:
    """Each node a word of the prompt names: its cross-attention mask at ``columns`` evenly
    spaced steps (None where the family's attention is not recorded or there is no graph)."""
    from lina_core import attention as A
    from lina_core.csg import GraphError, from_prompt
    att = res.extra.get("attention")
    if not (att and att.get("covered")):
        return None
    try:
        g = _graph(spec.graph) if spec.graph else from_prompt(spec.prompt).graph
    except GraphError:
        return None
    image = res.images[0] if res.images.ndim == 4 else None     # clips: no backdrop
    return A.run_strip(g, att, image, columns)[0]


def attention_strips(spec: Any, base: Any, res: Any) -> dict[str, Any] | None:
    """The baseline's strip above the intervened run's (:func:`_strip`), one picture."""
    top, bottom = _strip(spec, base), _strip(spec, res)
    if top is None or bottom is None:
        return None
    width = max(top.shape[1], bottom.shape[1])
    pad = [np.pad(x, ((0, 0), (0, width - x.shape[1]), (0, 0)), constant_values=255)
           for x in (top, bottom)]
    return {"image": np.concatenate([pad[0], np.full((6, width, 3), 255, np.uint8), pad[1]])}


@gpu
def generate(model_key: str, spec_dict: dict[str, Any]) -> dict[str, Any]:
    """One image for a spec (used by the Scene tab and to reproduce a saved run); an inpainting
    spec runs against its (memoised) baseline, as :func:`lina_core.compare.branch` decides."""
    from lina_core import compare, engine
    from lina_core.interventions import InterventionSpec
    m = handle().get(model_key)
    spec = InterventionSpec.from_dict(spec_dict)
    if spec.inpaint is not None:
        _, base, _ = handle().baseline(m, spec, spec.seed, **_size_kwargs(m))
        res = compare.branch(m.pipe, spec, base, seed=spec.seed, previews=False,
                             **_size_kwargs(m))
    else:
        res = engine.run(m.pipe, spec, previews=False, attention=True, **_size_kwargs(m))
    return {"image": _first(res.images), "record": res.record, "timings": res.timings,
            "attention": _strip(spec, res)}


@gpu
def probe(model_key: str, name: str, split: str, n: int, seeds: list[int], ks: list[int],
          steps: int, progress: Callable[[float, str], None] | None = None):
    """Run one diagnostic probe; returns the (CPU-only) ProbeResult."""
    from lina_core.insights.probes import run_probe
    m = handle().get(model_key)
    return run_probe(name, m.pipe, split, n, seeds, ks, steps, progress=progress)


@gpu
def prompt_settling(model_key: str, prompt: str, seeds: list[int], steps: int,
                    progress: Callable[[float, str], None] | None = None) -> dict[str, Any]:
    """The settling curve of the user's own ToyWorld prompt (``settling.prompt_curve``)."""
    from lina_core.insights.settling import prompt_curve
    from lina_core.insights.switching import graph_of
    g = graph_of(prompt, 0)
    if not g.is_toyworld:
        raise ValueError(f"prompt: {prompt[:80]!r} is an open-world scene; the verifier judges "
                         f"ToyWorld scenes only (try one of the presets' prompts)")
    m = handle().get(model_key)
    return prompt_curve(m.pipe, prompt, g, seeds, steps, progress)


@gpu
def lina_video(prompt: str, graph: dict[str, Any], seed: int, steps: int, guidance: float,
               frames: int, candidate: str | None = None) -> dict[str, Any]:
    """Baseline and LINA clips of the video model from the same noise (``frames`` long), in one
    call; ``candidate`` None (or "predicted") lets LINA choose (``none`` without a predictor).
    Returns F x H x W x 3 uint8 clips and plain data only.  With the clip check shipped beside
    the video predictor (:class:`lina_core.clip_check.ClipCheck`), LINA is the loop: the choice's
    ``why`` holds what the check read at which step, what was tried and why it stopped."""
    from lina_core.lina import LinaSampler
    m = video_handle().get()
    t0 = time.perf_counter()
    sampler = LinaSampler(m.pipe, m.predictor, steps=steps, guidance_scale=guidance,
                          check=m.check)
    res = sampler(prompt, _graph(graph), seed=seed, candidate=_candidate(candidate),
                  frames=frames)
    choice = _choice(m, res.choice)
    if choice["why"].get("source") == "predictor":
        choice["why"]["predictor_note"] = ("fitted on the image model's stills; its text "
                                           "encoder is the video model's")
    return {"baseline": np.ascontiguousarray(res.baseline[0]),
            "lina": np.ascontiguousarray(res.lina[0]),
            "candidate": res.choice.candidate, "choice": choice,
            "spec": _plain(res.spec.to_dict()),
            "baseline_record": _plain(res.baseline_record),
            "lina_record": _plain(res.lina_record),
            "timings": dict(res.timings, total_s=time.perf_counter() - t0),
            "model_source": m.source}
