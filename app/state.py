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

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"
PREDICTOR_DIR = ASSETS / "lina_predictor"

#: shown (and used) when no learned predictor is available: a fixed, moderate intervention,
#: labelled as such in the UI, so "LINA" is never silently the baseline
DEFAULT_PARAMS = {"lambda_p": 1.0, "w_l": 1.0, "k_frac": 0.4, "rho": 0.4}

#: image size passed to non-ToyWorld pipelines (ToyWorld draws at its own resolution)
DEFAULT_SIZE = {"sd": 512, "sdxl": 1024, "sd3": 1024, "flux": 1024, "wan": 480,
                "cogvideox": 480}

try:  # Hugging Face ZeroGPU: allocate a GPU for the duration of each model call
    import spaces  # type: ignore

    def gpu(fn: Callable) -> Callable:
        return spaces.GPU(fn)
    ON_SPACES_GPU = True
except ImportError:  # a plain machine: a no-op decorator
    def gpu(fn: Callable) -> Callable:
        return fn
    ON_SPACES_GPU = False


@dataclass
class Loaded:
    key: str
    pipe: Any
    source: str          # where the weights came from, in words
    trained: bool        # False for the tiny random-weight fallback
    predictor: Any = None
    predictor_note: str = ""


def attach_predictor(loaded: Loaded) -> None:
    """Give ``loaded`` the learned predictor if its features fit this model's text encoder;
    else leave it None and say why in ``predictor_note`` (LINA then uses DEFAULT_PARAMS)."""
    from lina_core.lina import Predictor, prompt_features
    from lina_core.csg import from_prompt
    folder = PREDICTOR_DIR if (PREDICTOR_DIR / "predictor.json").is_file() else None
    env = os.environ.get("LINA_PREDICTOR_DIR", "").strip()
    if folder is None and env:
        folder = Path(env)
    if folder is None or not (folder / "predictor.json").is_file():
        loaded.predictor_note = ("no learned predictor found (assets/lina_predictor); "
                                 "LINA uses fixed default parameters")
        return
    try:
        pred = Predictor.load(folder)
        probe = "a red ball on a large round mirror"
        feats = prompt_features(loaded.pipe, probe, from_prompt(probe).graph)
        if feats.shape[0] != pred.mu.numel():
            loaded.predictor_note = (f"predictor in {folder} expects {pred.mu.numel()} "
                                     f"features, this model gives {feats.shape[0]}; LINA "
                                     f"uses fixed default parameters")
            return
        loaded.predictor = pred
        loaded.predictor_note = f"learned predictor ({folder.name})"
    except Exception as exc:  # noqa: BLE001 - a bad predictor must not stop the app
        loaded.predictor_note = f"predictor in {folder} could not be used ({exc}); " \
                                f"LINA uses fixed default parameters"


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
        from lina_core.__main__ import load_model
        if self._given is not None:
            return self._given, self._given_source, True
        if (registry.TOYWORLD_DIR / "model_index.json").is_file():
            return registry.load("toyworld"), "shipped model (assets/toyworld)", True
        env = os.environ.get("LINA_MODEL_DIR", "").strip()
        if env and not os.environ.get("LINA_TINY"):
            if not (Path(env) / "model_index.json").is_file():
                raise ModelUnavailable(f"LINA_MODEL_DIR: {env} has no model_index.json "
                                       f"(a ToyWorld model folder)")
            return load_model(env), f"LINA_MODEL_DIR ({env})", True
        return (load_model(None, tiny=True),
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
            else:
                pipe = registry.load(key)       # ModelUnavailable when not on this machine
                source, trained = entry.source, True
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
        return (f"**Model:** {self.label(key)} from {m.source}{warn}. "
                f"**LINA parameters:** {m.predictor_note}.")

    def fingerprint(self, key: str | None = None) -> str:
        """Identifies the default weights and predictor without loading them (for caches of
        precomputed outputs): where they come from, and the size and mtime of their files."""
        key = key or self.default_key
        h = hashlib.sha256(key.encode())
        folders: list[Path] = [PREDICTOR_DIR]
        if os.environ.get("LINA_PREDICTOR_DIR"):
            folders.append(Path(os.environ["LINA_PREDICTOR_DIR"]))
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
                pipe.set_progress_bar_config(disable=True)
                loaded = Loaded(self.key, pipe, source, True)
                attach_predictor(loaded)
                self._loaded = loaded
            return self._loaded

    def fingerprint(self) -> str:
        """Identifies the video weights and predictor without loading them (preset cache)."""
        h = hashlib.sha256(self.key.encode())
        folders = [PREDICTOR_DIR]
        if os.environ.get("LINA_PREDICTOR_DIR"):
            folders.append(Path(os.environ["LINA_PREDICTOR_DIR"]))
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
    kind = ALLOWLIST[loaded.key].kind
    if kind == "toyworld":
        return {}
    s = DEFAULT_SIZE.get(kind, 512)
    return {"height": s, "width": s}


def _first(images: np.ndarray) -> np.ndarray:
    """The first image of a batch (the first frame of a video)."""
    a = np.asarray(images)
    while a.ndim > 3:
        a = a[0]
    return np.ascontiguousarray(a)


def _graph(graph: dict[str, Any] | None):
    from lina_core.csg import CausalSceneGraph
    return None if graph is None else CausalSceneGraph.from_dict(graph)


# --------------------------------------------------------------------------- model work
# Each function below is the whole of one model call; arguments and results are plain data.


@gpu
def predict_params(model_key: str, prompt: str, graph: dict[str, Any]) -> tuple[dict, dict]:
    """LINA parameters for a prompt and its graph: learned if a predictor is loaded."""
    from lina_core.lina import LinaParams, LinaSampler
    m = handle().get(model_key)
    g = _graph(graph)
    params, why = LinaSampler(m.pipe, m.predictor).params_for(prompt, g)
    if m.predictor is None:
        params = LinaParams(**DEFAULT_PARAMS).clipped()
        why = dict(why, source=m.predictor_note)
    return params.to_dict(), json.loads(json.dumps(why, default=str))


@gpu
def lina_pair(model_key: str, prompt: str, graph: dict[str, Any], seed: int, steps: int,
              params: dict[str, float]) -> dict[str, Any]:
    """Baseline and LINA from the same noise, with the given parameters."""
    from lina_core.lina import LinaParams, LinaSampler
    m = handle().get(model_key)
    t0 = time.perf_counter()
    g = _graph(graph)
    sampler = LinaSampler(m.pipe, m.predictor, steps=steps)
    res = sampler(prompt, g, seed=seed, params=LinaParams(**params))
    return {"baseline": _first(res.baseline), "lina": _first(res.lina),
            "params": res.params.to_dict(), "spec": res.spec.to_dict(),
            "baseline_record": res.baseline_record, "lina_record": res.lina_record,
            "timings": dict(res.timings, total_s=time.perf_counter() - t0),
            "why": json.loads(json.dumps(res.features, default=str))}


def _baseline(m: Loaded, spec, seed: int):
    """The baseline run of ``spec`` (no interventions, uniform schedule), cached by content."""
    from lina_core import engine
    from lina_core.interventions import InterventionSpec, ScheduleSpec
    d = engine.baseline_spec(spec).to_dict()
    d["schedule"] = ScheduleSpec().__dict__.copy()
    base_spec = InterventionSpec.from_dict(d)
    key = hashlib.sha256(json.dumps([m.key, m.source, base_spec.to_dict(), seed],
                                    sort_keys=True, default=str).encode()).hexdigest()
    hit = handle().cached(key)
    if hit is not None:
        return base_spec, hit, True
    res = engine.run(m.pipe, base_spec, seed=seed, graph=None, **_size_kwargs(m))
    handle().remember(key, res)
    return base_spec, res, False


@gpu
def intervene(model_key: str, spec_dict: dict[str, Any]) -> dict[str, Any]:
    """The spec's baseline (cached) and the spec itself, same seed; previews of both."""
    from lina_core import engine
    from lina_core.interventions import InterventionSpec
    from lina_core.schedules import uniform
    m = handle().get(model_key)
    spec = InterventionSpec.from_dict(spec_dict)
    seed = spec.seed
    t0 = time.perf_counter()
    base_spec, base, hit = _baseline(m, spec, seed)
    t1 = time.perf_counter()
    cache = base.trajectory if spec.schedule.kind == "uniform" else None
    if spec.is_baseline():
        res = base
    else:
        res = engine.run(m.pipe, spec, seed=seed, cache=cache,
                         reference=base.trajectory.latents[-1] if spec.inpaint else None,
                         **_size_kwargs(m))
    t2 = time.perf_counter()
    return {
        "baseline": _first(base.images), "intervened": _first(res.images),
        "baseline_previews": [_first(p) for p in base.previews],
        "previews": [_first(p) for p in res.previews],
        "schedules": {"baseline (uniform)": base.schedule_used.to_dict(),
                      "requested": res.record["schedule_requested"],
                      "used": res.schedule_used.to_dict()},
        "baseline_spec": base_spec.to_dict(), "spec": spec.to_dict(),
        "baseline_record": base.record, "record": res.record,
        "timings": {"baseline_s": 0.0 if hit else t1 - t0, "baseline_cached": hit,
                    "intervened_s": t2 - t1, "started_at_step": res.record["started_at_step"],
                    "total_s": t2 - t0},
        "num_train_timesteps": int(getattr(m.pipe.scheduler.config, "num_train_timesteps",
                                           1000)),
        "uniform": uniform(m.pipe.scheduler, spec.steps).to_dict(),
    }


@gpu
def generate(model_key: str, spec_dict: dict[str, Any]) -> dict[str, Any]:
    """One image for a spec (used by the Scene tab and to reproduce a saved run)."""
    from lina_core import engine
    from lina_core.interventions import InterventionSpec
    m = handle().get(model_key)
    spec = InterventionSpec.from_dict(spec_dict)
    if spec.inpaint is not None:
        _, base, _ = _baseline(m, spec, spec.seed)
        res = engine.run(m.pipe, spec, reference=base.trajectory.latents[-1], previews=False,
                         **_size_kwargs(m))
    else:
        res = engine.run(m.pipe, spec, previews=False, **_size_kwargs(m))
    return {"image": _first(res.images), "record": res.record, "timings": res.timings}


@gpu
def probe(model_key: str, name: str, split: str, n: int, seeds: list[int], ks: list[int],
          steps: int, progress: Callable[[float, str], None] | None = None):
    """Run one diagnostic probe; returns the (CPU-only) ProbeResult."""
    from lina_core.probes import run_probe
    m = handle().get(model_key)
    return run_probe(name, m.pipe, split, n, seeds, ks, steps, progress=progress)


@gpu
def lina_video(prompt: str, graph: dict[str, Any], seed: int, steps: int, guidance: float,
               frames: int, params: dict[str, float] | None) -> dict[str, Any]:
    """Baseline and LINA clips of the video model from the same noise (``frames`` long), in one
    call; ``params`` None means predicted (or the labelled defaults when there is no predictor).
    Returns F x H x W x 3 uint8 clips and plain data only."""
    from lina_core.lina import LinaParams, LinaSampler
    m = video_handle().get()
    g = _graph(graph)
    t0 = time.perf_counter()
    sampler = LinaSampler(m.pipe, m.predictor, steps=steps, guidance_scale=guidance)
    if params is not None:
        chosen, why = LinaParams(**params), {"source": "given in the fields"}
    elif m.predictor is None:
        chosen, why = LinaParams(**DEFAULT_PARAMS).clipped(), {"source": m.predictor_note}
    else:
        chosen, why = sampler.params_for(prompt, g)
        why["source"] = ("learned predictor (fitted on the image model's stills; its text "
                         "encoder is the video model's)")
    res = sampler(prompt, g, seed=seed, params=chosen, frames=frames)
    return {"baseline": np.ascontiguousarray(res.baseline[0]),
            "lina": np.ascontiguousarray(res.lina[0]),
            "params": res.params.to_dict(), "spec": res.spec.to_dict(),
            "baseline_record": res.baseline_record, "lina_record": res.lina_record,
            "timings": dict(res.timings, total_s=time.perf_counter() - t0),
            "why": json.loads(json.dumps(dict(res.features, **why), default=str)),
            "model_source": m.source}
