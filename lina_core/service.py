"""The model service: which pipeline each allowlisted key means, loaded once and lazily, with what
LINA needs beside it.

Every front end (the app's tabs, the CLI) asks a :class:`ModelService` for a model rather than
deciding for itself, so the decisions live here once:

* **loading and its fallbacks**: ToyWorld is a pipeline given by the caller, else the shipped
  model, else ``$LINA_MODEL_DIR``, else a tiny random-weight one (so an app still starts, and
  says so); other families load through :func:`registry.load` (``ModelUnavailable`` when their
  weights are not on this machine);
* **memory**: ToyWorld and at most one other model stay loaded;
* **placement**: where a model goes when loaded is the host's decision (ZeroGPU puts it on
  ``cuda`` at import); the host passes it as ``placement`` and this module never imports the app;
* **predictor and check matching**: the first learned predictor fitted for this model's text
  encoder, its early check when one is shipped beside it, else the attention check for a real
  model whose attention the engine records (:func:`attach_predictor`);
* **the baseline cache**: a baseline run memoised by content, so an intervention on the same
  prompt and seed branches from it (:meth:`ModelService.baseline`);
* **which verifier applies** and **which categories a model knows**
  (:func:`verifier_missing`, :meth:`ModelService.categories`).
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .adapters import is_builtin
from .pipelines import registry
from .pipelines.registry import ALLOWLIST, ModelUnavailable

#: the shipped predictors: the image model's, then the video model's (each fitted for its
#: model's text encoder)
PREDICTOR_DIRS = (registry.ASSETS / "lina_predictor", registry.ASSETS / "lina_predictor_video")
#: what LINA does without a usable predictor: it picks the candidate "none" (no intervention),
#: and the front end says so, so "LINA" is never silently something else
NO_PREDICTOR = "LINA then runs no intervention (it picks 'none')"
#: baseline runs kept in the memo (torch tensors: a trajectory each)
BASELINES_KEPT = 8

Placement = Callable[[str], dict[str, Any]]


def no_placement(kind: str) -> dict[str, Any]:
    """The default placement: none (``registry.pick_device`` decides)."""
    return {}


@dataclass
class Loaded:
    """A loaded model and what LINA uses with it."""

    key: str
    pipe: Any
    source: str          #: where the weights came from, in words
    trained: bool        #: False for the tiny random-weight fallback
    predictor: Any = None
    predictor_note: str = ""
    #: LINA's learned early check (lina_core.check), shipped beside the predictor: with it,
    #: LINA is the adaptive loop on ToyWorld scenes
    check: Any = None


# ---------------------------------------------------------------------- predictors and checks


def predictor_dirs() -> list[Path]:
    """Where predictors are looked for: ``$LINA_PREDICTOR_DIR`` if set, else the shipped ones."""
    env = os.environ.get("LINA_PREDICTOR_DIR", "").strip()
    return [Path(env)] if env else list(PREDICTOR_DIRS)


def attach_predictor(loaded: Loaded) -> None:
    """Give ``loaded`` the first learned predictor that loads and was fitted for this model's
    text encoder (and its early check, when one fits it); else leave it None and say why in
    ``predictor_note`` (LINA then picks ``none``)."""
    from .lina import Predictor
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
        _attach_early_check(loaded, folder)
        return
    loaded.predictor_note = "; ".join(why) + f"; {NO_PREDICTOR}"
    _attach_attention_check(loaded)


def predictor_in(pipe: Any, folder: str | Path, with_check: bool = True,
                 field: str = "--predictor") -> tuple[Any, Any]:
    """The predictor in ``folder`` and, with ``with_check``, the early check shipped beside it
    (None when there is none), refused with a ``ValueError`` naming ``field`` where either was
    fitted for another text encoder: a folder the user named is never silently replaced (the
    app's :func:`attach_predictor` falls back instead, and says why)."""
    from .lina import Predictor
    folder = Path(folder)
    pred = Predictor.load(folder)
    unfit = pred.fits(pipe)
    if unfit:
        raise ValueError(f"{field}: {folder} does not fit this model: {unfit}")
    if not (with_check and (folder / "check.json").is_file()):
        return pred, None
    from .check_files import load_check
    check = load_check(folder)
    if not check.fits(pred):
        raise ValueError(f"{field}: the check in {folder} was fitted for another text encoder "
                         f"than its predictor")
    return pred, check


def _attach_early_check(loaded: Loaded, folder: Path) -> None:
    """The early check shipped beside the predictor in ``folder``, when it was fitted with it."""
    loaded.check = None
    if not (folder / "check.json").is_file():
        return
    try:
        from .check_files import load_check
        ck = load_check(folder)
    except Exception as exc:  # noqa: BLE001 - a bad check must not stop the app
        loaded.predictor_note += f"; the early check could not be loaded ({exc})"[:300]
        return
    if ck.fits(loaded.predictor):
        loaded.check = ck
        loaded.predictor_note += (f"; learned early check at step {ck.step}: LINA "
                                  f"intervenes only where the run is going wrong")


def _attach_attention_check(loaded: Loaded) -> None:
    """A model with no ToyWorld verifier (and so no learned check) whose attention the engine
    records gets the attention check: LINA's loop then reads the run's own attention against
    the scene graph.  Its accuracy on real weights is not measured, and the note says so."""
    from .adapters import adapter_for
    from .attention_check import NOT_MEASURED, AttentionCheck
    try:
        ad = adapter_for(loaded.pipe)
    except Exception:  # noqa: BLE001 - an unknown pipeline simply gets no check
        return
    if not ad.builtin and ad.attention_kind is not None:
        loaded.check = AttentionCheck()
        loaded.predictor_note += f"; LINA's loop: {NOT_MEASURED}"


# ---------------------------------------------------------------------- which verifier applies


def verifier_missing(graph: Any, model_key: str | None = None,
                     categories: Callable[[str], tuple[str, ...]] | None = None) -> str | None:
    """Why there is no verifier for a picture of ``graph`` (None when there is one): the
    verifier judges ToyWorld scenes drawn by a ToyWorld model only, and a relational scene
    (roles, fill, place) only from a model that knows that category (``categories(model_key)``,
    asked only then); the ground truth (no ``model_key``) is judged for all eight."""
    from .csg import RELATIONAL_CATEGORIES, TOYWORLD_CATEGORIES
    cat = getattr(graph, "category", None) if not isinstance(graph, dict) else \
        graph.get("category")
    if cat not in TOYWORLD_CATEGORIES or cat == "open":
        return "no verifier for open-world scenes (it judges ToyWorld scenes only)"
    if model_key and not is_builtin(ALLOWLIST.get(model_key, ALLOWLIST["toyworld"]).kind):
        return (f"no verifier for {ALLOWLIST[model_key].label} (the ToyWorld verifier judges "
                f"ToyWorld pictures only)")
    if model_key and cat in RELATIONAL_CATEGORIES and categories is not None \
            and cat not in categories(model_key):
        label = ALLOWLIST[model_key].label if model_key in ALLOWLIST else model_key
        return (f"no verifier for {cat} scenes from {label}: this model was not trained on "
                f"them (its vocabulary lacks their words; a model fine-tuned with "
                f"`train --finetune-from` knows them)")
    return None


# ---------------------------------------------------------------------- loading


def kind_of(model_key: Any) -> str:
    """The family of an allowlisted key (ToyWorld's for anything else: ZeroGPU's durations)."""
    entry = ALLOWLIST.get(model_key) if isinstance(model_key, str) else None
    return entry.kind if entry else "toyworld"


def _placed(pipe: Any, kind: str, placement: Placement) -> Any:
    """``pipe`` on the device ``placement`` names (a given or tiny pipeline too)."""
    where = placement(kind)
    if not where:
        return pipe
    return pipe.to(where["device"], where["dtype"]) if where["dtype"] else \
        pipe.to(where["device"])


def parameters(pipe: Any) -> int:
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


def _ready(pipe: Any, kind: str, placement: Placement) -> Any:
    """A freshly loaded (or given) pipeline placed, with its progress bar off."""
    pipe = _placed(pipe, kind, placement)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _set_threads(threads: int | None) -> None:
    if threads:
        import torch
        torch.set_num_threads(threads)


class ModelService:
    """The image models: loads allowlisted models on first use and keeps them (ToyWorld
    always, one other), with their predictors and a memo of baseline runs."""

    def __init__(self, default_key: str = "toyworld", pipe: Any = None,
                 pipe_source: str = "given to build_demo", threads: int | None = None,
                 placement: Placement = no_placement):
        if default_key not in ALLOWLIST:
            raise ModelUnavailable(f"model: {default_key!r} is not one of {sorted(ALLOWLIST)}")
        self.default_key = default_key
        self._given = pipe
        self._given_source = pipe_source
        self._loaded: OrderedDict[str, Loaded] = OrderedDict()
        self._lock = threading.RLock()
        self._baselines: OrderedDict[str, Any] = OrderedDict()   # run results (tensors)
        self.threads = threads
        self.placement = placement

    # ------------------------------------------------------------------ which model
    def choices(self) -> list[tuple[str, str]]:
        """Image models: the picker drives the image tabs (the Video tab has its own model)."""
        return [(e.label, e.key) for e in ALLOWLIST.values() if not e.video]

    def label(self, key: str) -> str:
        e = ALLOWLIST.get(key)
        return e.label if e else key

    def kind(self, key: str) -> str:
        return kind_of(key)

    def _load_toyworld(self) -> tuple[Any, str, bool]:
        """ToyWorld's weights: a pipeline given by the caller, else the shipped model, else
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
        """The loaded model of ``key`` (the default one for None), loading it on first use."""
        key = key or self.default_key
        if key not in ALLOWLIST:
            raise ModelUnavailable(f"model: {key!r} is not one of {sorted(ALLOWLIST)}")
        with self._lock:
            if key in self._loaded:
                self._loaded.move_to_end(key)
                return self._loaded[key]
            _set_threads(self.threads)
            entry = ALLOWLIST[key]
            if key == "toyworld":
                pipe, source, trained = self._load_toyworld()
            elif key == self.default_key and self._given is not None:
                # a pipeline given for another family (tests: a tiny SD one)
                pipe, source, trained = self._given, self._given_source, True
            else:   # ModelUnavailable when not on this machine
                pipe = registry.load(key, **self.placement(entry.kind))
                source, trained = entry.source, True
            loaded = Loaded(key, _ready(pipe, entry.kind, self.placement), source, trained)
            attach_predictor(loaded)
            # keep ToyWorld and at most one other model in memory
            for k in [k for k in self._loaded if k not in ("toyworld", key)]:
                del self._loaded[k]
            self._loaded[key] = loaded
            return loaded

    def loaded(self, key: str | None = None) -> Loaded | None:
        """The model of ``key`` if it is loaded now (never loads)."""
        return self._loaded.get(key or self.default_key)

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
        first five for the shipped model, the relational ones too for a model fine-tuned with
        their words; none for a model that is not ToyWorld's."""
        key = key or self.default_key
        if key not in ALLOWLIST or not is_builtin(self.kind(key)):
            return ()
        from .grid import categories
        return categories(self.get(key).pipe)

    # ------------------------------------------------------------------ the baseline memo
    def baseline(self, m: Loaded, spec: Any, seed: int, **run_kw: Any) -> tuple[Any, Any, bool]:
        """The baseline run of ``spec`` (:func:`lina_core.compare.baseline_of` decides what that
        is), memoised by content, attention recorded: (baseline spec, run, whether it came
        from the memo).  An intervention then branches from its cached steps."""
        from . import compare, engine
        base_spec = compare.baseline_of(spec)
        key = hashlib.sha256(json.dumps([m.key, m.source, base_spec.to_dict(), seed, run_kw],
                                        sort_keys=True, default=str).encode()).hexdigest()
        with self._lock:
            if key in self._baselines:
                self._baselines.move_to_end(key)
                return base_spec, self._baselines[key], True
        res = engine.run(m.pipe, base_spec, seed=seed, graph=None, attention=True, **run_kw)
        with self._lock:
            self._baselines[key] = res
            while len(self._baselines) > BASELINES_KEPT:
                self._baselines.popitem(last=False)
        return base_spec, res, False


class VideoService:
    """The ToyWorld video model, apart from the image models (the Video tab always uses it):
    loaded on first use, once, under a lock; a pipeline given by the caller wins."""

    key = "toyworld-video"

    def __init__(self, pipe: Any = None, threads: int | None = None,
                 placement: Placement = no_placement):
        self._given = pipe
        self._loaded: Loaded | None = None
        self._lock = threading.RLock()
        self.threads = threads
        self.placement = placement

    def get(self) -> Loaded:
        with self._lock:
            if self._loaded is None:
                _set_threads(self.threads)
                if self._given is not None:
                    pipe, source = self._given, "given to build_demo"
                else:   # ModelUnavailable when assets/toyworld_video is missing
                    pipe, source = registry.load(self.key), f"{registry.TOYWORLD_VIDEO_DIR}"
                loaded = Loaded(self.key, _ready(pipe, "toyworld_video", self.placement),
                                source, True)
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
