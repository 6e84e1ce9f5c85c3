"""The model handle: which pipeline each allowlisted key means, loaded once and lazily.

Everything the UI asks of a model goes through the functions at the bottom of this module. They
are wrapped in ``spaces.GPU`` when the ``spaces`` package is importable (Hugging Face ZeroGPU) and
run as plain functions otherwise; only CPU objects cross their boundary (numpy arrays, dicts,
strings, lists), never tensors or pipelines. The trajectory cache (torch tensors) stays inside.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from lina_core.pipelines import registry
from lina_core.pipelines.registry import ALLOWLIST, ModelUnavailable

from .zerogpu import placement

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"
PREDICTOR_DIRS = (ASSETS / "lina_predictor", ASSETS / "lina_predictor_video")

#: what LINA does without a usable predictor: it picks the candidate "none" (no intervention),
#: and the UI says so, so "LINA" is never silently something else
NO_PREDICTOR = "LINA then runs no intervention (it picks 'none')"
#: the value of the intervention dropdowns meaning "let LINA choose"
PREDICTED = "predicted"
#: the per-step previews strip: cell size (px, nearest-neighbour), white gap, most columns
PREVIEW_CELL, PREVIEW_GAP, PREVIEW_MAX_COLS = 96, 4, 13
STEP_HEADER_PX = 12        #: the row of step numbers over the previews strip


def _kind_of(model_key: Any) -> str:
    """The family of an allowlisted key (ToyWorld's for none), for ZeroGPU durations."""
    entry = ALLOWLIST.get(model_key) if isinstance(model_key, str) else None
    return entry.kind if entry else "toyworld"


try:  # Hugging Face ZeroGPU: a GPU for each model call, for a duration computed from it
    import spaces  # type: ignore

    def gpu(fn: Callable) -> Callable:
        """The call runs in ZeroGPU's worker process, where this process's queue cannot be
        watched: no per-step progress or cancellation there (ZeroGPU bounds it by duration)."""
        from .zerogpu import on_gpu
        return on_gpu(spaces, fn, _kind_of)
    ON_SPACES_GPU = True
except ImportError:  # a plain machine: per-step progress, and stopped when its client leaves
    def gpu(fn: Callable) -> Callable:
        from .waiting import watched
        return watched(fn, show_steps=fn.__name__ != "probe")   # a probe shows its items
    ON_SPACES_GPU = False


@dataclass
class Loaded:
    key: str
    pipe: Any
    source: str          # where the weights came from, in words
    trained: bool        # False for the tiny random-weight fallback
    predictor: Any = None
    predictor_note: str = ""
    #: LINA's learned early check (lina_core.check), shipped beside the predictor: with it,
    #: LINA is the adaptive loop on ToyWorld scenes
    check: Any = None


def predictor_dirs() -> list[Path]:
    """Where predictors are looked for: ``$LINA_PREDICTOR_DIR`` if set, else the shipped ones
    (the image model's, then the video model's: each fitted for its model's text encoder)."""
    env = os.environ.get("LINA_PREDICTOR_DIR", "").strip()
    return [Path(env)] if env else list(PREDICTOR_DIRS)


def attach_predictor(loaded: Loaded) -> None:
    """Give ``loaded`` the first learned predictor that loads and was fitted for this model's
    text encoder; else leave it None and say why in ``predictor_note`` (LINA then picks
    ``none``)."""
    from lina_core.lina import Predictor
    loaded.predictor, why = None, []
    for folder in predictor_dirs():
        if not (folder / "predictor.json").is_file():
            why.append(f"no learned predictor found ({folder})")
            continue
        try:
            pred = Predictor.load(folder)       # ValueError for an older kind of predictor
            unfit = pred.fits(loaded.pipe)
        except Exception as exc:  # noqa: BLE001 - a bad predictor must not stop the app
            first = (str(exc).splitlines() or [""])[0][:300]
            why.append(f"the predictor in {folder} could not be used "
                       f"({type(exc).__name__}: {first})")
            continue
        if unfit:
            why.append(f"the predictor in {folder} does not fit this model: {unfit}")
            continue
        loaded.predictor = pred
        loaded.predictor_note = (f"learned predictor ({folder.name}: {len(pred.names)} "
                                 f"candidates, threshold {pred.threshold:g})")
        loaded.check = None
        if (folder / "check.json").is_file():
            try:
                from lina_core.check import EarlyCheck
                ck = EarlyCheck.load(folder)
            except Exception as exc:  # noqa: BLE001 - a bad check must not stop the app
                loaded.predictor_note += f"; the early check could not be loaded ({exc})"[:300]
                return
            if ck.fits(pred):
                loaded.check = ck
                loaded.predictor_note += (f"; learned early check at step {ck.step}: LINA "
                                          f"intervenes only where the run is going wrong")
        return
    loaded.predictor_note = "; ".join(why) + f"; {NO_PREDICTOR}"
    _attach_attention_check(loaded)


def _attach_attention_check(loaded: Any) -> None:
    """A model with no ToyWorld verifier (and so no learned check) whose attention the engine
    records gets the attention check: LINA's loop then reads the run's own attention against
    the scene graph.  Its accuracy on real weights is not measured, and the note says so."""
    from lina_core.adapters import adapter_for
    from lina_core.attention_check import NOT_MEASURED, AttentionCheck
    try:
        ad = adapter_for(loaded.pipe)
    except Exception:  # noqa: BLE001 - an unknown pipeline simply gets no check
        return
    if ad.kind not in ("toyworld", "toyworld_video") and ad.attention_kind is not None:
        loaded.check = AttentionCheck()
        loaded.predictor_note += f"; LINA's loop: {NOT_MEASURED}"


class ModelHandle:
    """Loads allowlisted models on first use and keeps them (ToyWorld always, one other)."""

    def __init__(self, default_key: str = "toyworld", pipe: Any = None,
                 pipe_source: str = "given to build_demo", threads: int | None = None):
        if default_key not in ALLOWLIST:
            raise ModelUnavailable(f"model: {default_key!r} is not one of {sorted(ALLOWLIST)}")
        self.default_key = default_key
        self._given = pipe
        self._given_source = pipe_source
        self._loaded: OrderedDict[str, Loaded] = OrderedDict()
        self._lock = threading.RLock()
        self._cache: OrderedDict[str, Any] = OrderedDict()   # trajectory cache (tensors)
        self.threads = threads

    # ------------------------------------------------------------------ which model
    def choices(self) -> list[tuple[str, str]]:
        """Image models: the picker drives the image tabs (the Video tab has its own model)."""
        return [(e.label, e.key) for e in ALLOWLIST.values() if not e.video]

    def label(self, key: str) -> str:
        e = ALLOWLIST.get(key)
        return e.label if e else key

    def kind(self, key: str) -> str:
        return ALLOWLIST[key].kind

    def _load_toyworld(self) -> tuple[Any, str, bool]:
        """ToyWorld's weights: a pipeline given to build_demo, else the shipped model, else
        $LINA_MODEL_DIR, else a tiny random-weight one (so the app still starts)."""
        if self._given is not None:
            return self._given, self._given_source, True
        if (registry.TOYWORLD_DIR / "model_index.json").is_file():
            return registry.load("toyworld"), "shipped model (assets/toyworld)", True
        env = os.environ.get("LINA_MODEL_DIR", "").strip()
        if env and not os.environ.get("LINA_TINY"):
            if not (Path(env) / "model_index.json").is_file():
                raise ModelUnavailable(f"LINA_MODEL_DIR: {env} has no model_index.json "
                                       f"(a ToyWorld model folder)")
            if _kind_or_none(env) != "toyworld":
                raise ModelUnavailable(f"LINA_MODEL_DIR: {env} is not a ToyWorld model folder "
                                       f"(its model_index.json names another pipeline)")
            return registry.load(env), f"LINA_MODEL_DIR ({env})", True
        return (registry.tiny_toyworld(),
                "tiny random-weight model (no trained ToyWorld model found: assets/toyworld "
                "is missing and LINA_MODEL_DIR is unset); images are noise-like", False)

    def get(self, key: str | None = None) -> Loaded:
        key = key or self.default_key
        if key not in ALLOWLIST:
            raise ModelUnavailable(f"model: {key!r} is not one of {sorted(ALLOWLIST)}")
        with self._lock:
            if key in self._loaded:
                self._loaded.move_to_end(key)
                return self._loaded[key]
            if self.threads:
                import torch
                torch.set_num_threads(self.threads)
            entry = ALLOWLIST[key]
            if key == "toyworld":
                pipe, source, trained = self._load_toyworld()
            elif key == self.default_key and self._given is not None:
                # a pipeline given to build_demo for another family (tests: a tiny SD one)
                pipe, source, trained = self._given, self._given_source, True
            else:   # ModelUnavailable when not on this machine
                pipe = registry.load(key, **placement(entry.kind))
                source, trained = entry.source, True
            pipe = _placed(pipe, entry.kind)
            pipe.set_progress_bar_config(disable=True)
            loaded = Loaded(key, pipe, source, trained)
            self._attach_predictor(loaded)
            # keep ToyWorld and at most one other model in memory
            for k in [k for k in self._loaded if k not in ("toyworld", key)]:
                del self._loaded[k]
            self._loaded[key] = loaded
            return loaded

    def _attach_predictor(self, loaded: Loaded) -> None:
        attach_predictor(loaded)

    def describe(self, key: str | None = None) -> str:
        key = key or self.default_key
        try:
            m = self.get(key)
        except ModelUnavailable as exc:
            return f"**{self.label(key)}**: unavailable. {exc}"
        warn = "" if m.trained else " **(untrained: for testing the app only)**"
        cpu = self.cpu_note(key)
        return (f"**Model:** {self.label(key)} from {m.source}{warn}. "
                f"**LINA predictor:** {m.predictor_note}." + (f"\n\n**{cpu}**" if cpu else ""))

    def cpu_note(self, key: str | None = None) -> str:
        """A warning for a real (non-ToyWorld) model on a machine without CUDA: its size, and
        the small model to use instead; empty where there is nothing to warn about."""
        import torch
        key = key or self.default_key
        kind = ALLOWLIST[key].kind if key in ALLOWLIST else "toyworld"
        if kind.startswith("toyworld") or torch.cuda.is_available():
            return ""
        m = self._loaded.get(key)
        n = _parameters(m.pipe) if m is not None else 0
        size = f" ({n / 1e9:.2f} B parameters)" if n >= 1e8 else \
            f" ({n / 1e6:.1f} M parameters)" if n else ""
        return (f"{self.label(key)}{size} runs on the CPU here (no CUDA): a run can take "
                f"minutes. For a quick look, pick {ALLOWLIST['toyworld'].label}, which is "
                f"small and runs on the CPU in seconds.")

    def fingerprint(self, key: str | None = None) -> str:
        """Identifies the default weights and predictor without loading them (for caches of
        precomputed outputs): where they come from, and the size and mtime of their files."""
        key = key or self.default_key
        h = hashlib.sha256(key.encode())
        folders: list[Path] = predictor_dirs()
        if key != "toyworld":
            folders.append(Path(ALLOWLIST[key].source))
        elif self._given is not None:
            h.update(f"given:{id(self._given)}".encode())
        elif (registry.TOYWORLD_DIR / "model_index.json").is_file():
            folders.append(registry.TOYWORLD_DIR)
        elif os.environ.get("LINA_MODEL_DIR") and not os.environ.get("LINA_TINY"):
            folders.append(Path(os.environ["LINA_MODEL_DIR"]))
        else:
            h.update(b"tiny")
        _hash_files(h, folders)
        return h.hexdigest()[:16]

    def categories(self, key: str | None = None) -> tuple[str, ...]:
        """The ToyWorld categories this model knows (:func:`lina_core.grid.categories`): the
        first five for the shipped model, the v2 ones too for a model fine-tuned with their
        words; none for a model that is not ToyWorld's."""
        key = key or self.default_key
        if key not in ALLOWLIST or not self.kind(key).startswith("toyworld"):
            return ()
        from lina_core.grid import categories
        return categories(self.get(key).pipe)

    # ------------------------------------------------------------------ trajectory cache
    def cached(self, key: str) -> Any:
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            return None

    def remember(self, key: str, value: Any, keep: int = 8) -> None:
        with self._lock:
            self._cache[key] = value
            while len(self._cache) > keep:
                self._cache.popitem(last=False)


def _placed(pipe: Any, kind: str) -> Any:
    """``pipe`` on the device :func:`zerogpu.placement` names (a given or tiny pipeline too)."""
    where = placement(kind)
    if not where:
        return pipe
    return pipe.to(where["device"], where["dtype"]) if where["dtype"] else \
        pipe.to(where["device"])


def _parameters(pipe: Any) -> int:
    """How many weights the pipeline's modules hold."""
    import torch
    return sum(p.numel() for c in getattr(pipe, "components", {}).values()
               if isinstance(c, torch.nn.Module) for p in c.parameters())


def _kind_or_none(folder: str) -> str | None:
    try:
        return registry.kind_of_folder(folder)
    except ValueError:
        return None


def _hash_files(h: Any, folders: list[Path]) -> None:
    """Feed the path, size and mtime of every weight/config file under ``folders`` to ``h``."""
    for base in folders:
        h.update(str(base).encode())
        if base.is_dir():
            for p in sorted(base.rglob("*")):
                if p.suffix in (".safetensors", ".json"):
                    st = p.stat()
                    h.update(f"{p}|{st.st_size}|{st.st_mtime_ns}".encode())


class VideoHandle:
    """The ToyWorld video model, apart from the picker's image model (the Video tab always uses
    it): loaded on first use, once, under a lock; a pipeline given to ``build_demo`` wins."""

    key = "toyworld-video"

    def __init__(self, pipe: Any = None, threads: int | None = None):
        self._given = pipe
        self._loaded: Loaded | None = None
        self._lock = threading.RLock()
        self.threads = threads

    def get(self) -> Loaded:
        with self._lock:
            if self._loaded is None:
                if self.threads:
                    import torch
                    torch.set_num_threads(self.threads)
                if self._given is not None:
                    pipe, source = self._given, "given to build_demo"
                else:   # ModelUnavailable when assets/toyworld_video is missing
                    pipe, source = registry.load(self.key), f"{registry.TOYWORLD_VIDEO_DIR}"
                pipe = _placed(pipe, "toyworld_video")
                pipe.set_progress_bar_config(disable=True)
                loaded = Loaded(self.key, pipe, source, True)
                attach_predictor(loaded)
                self._loaded = loaded
            return self._loaded

    def fingerprint(self) -> str:
        """Identifies the video weights and predictor without loading them (preset cache)."""
        h = hashlib.sha256(self.key.encode())
        folders = predictor_dirs()
        if self._given is not None:
            h.update(f"given:{id(self._given)}".encode())
        else:
            folders.append(registry.TOYWORLD_VIDEO_DIR)
        _hash_files(h, folders)
        return h.hexdigest()[:16]


HANDLE: ModelHandle | None = None
VIDEO: VideoHandle | None = None


def handle() -> ModelHandle:
    if HANDLE is None:
        raise RuntimeError("model handle: build_demo() sets it up first")
    return HANDLE


def set_handle(h: ModelHandle) -> ModelHandle:
    global HANDLE
    HANDLE = h
    return h


def video_handle() -> VideoHandle:
    if VIDEO is None:
        raise RuntimeError("video handle: build_demo() sets it up first")
    return VIDEO


def set_video_handle(h: VideoHandle) -> VideoHandle:
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


def _baseline(m: Loaded, spec, seed: int):
    """The baseline run of ``spec`` (:func:`lina_core.compare.baseline_of` decides what that is),
    memoised here by content: (baseline spec, run, whether it came from the memo)."""
    from lina_core import compare, engine
    base_spec = compare.baseline_of(spec)
    key = hashlib.sha256(json.dumps([m.key, m.source, base_spec.to_dict(), seed],
                                    sort_keys=True, default=str).encode()).hexdigest()
    hit = handle().cached(key)
    if hit is not None:
        return base_spec, hit, True
    res = engine.run(m.pipe, base_spec, seed=seed, graph=None, attention=True,
                     **_size_kwargs(m))
    handle().remember(key, res)
    return base_spec, res, False


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
    base_spec, base, hit = _baseline(m, spec, spec.seed)
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
        _, base, _ = _baseline(m, spec, spec.seed)
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
    from lina_core.probes import run_probe
    m = handle().get(model_key)
    return run_probe(name, m.pipe, split, n, seeds, ks, steps, progress=progress)


@gpu
def prompt_settling(model_key: str, prompt: str, seeds: list[int], steps: int,
                    progress: Callable[[float, str], None] | None = None) -> dict[str, Any]:
    """The settling curve of the user's own ToyWorld prompt (``settling.prompt_curve``)."""
    from lina_core.settling import prompt_curve
    from lina_core.switching import graph_of
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
