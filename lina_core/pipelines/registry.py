"""Which models the app offers, where their weights are, and the one place a pipeline is loaded.

Real models load only from local files (``local_files_only=True``, safetensors only, never
``trust_remote_code``); a missing model answers with :class:`ModelUnavailable`, not a traceback.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .. import speed

ASSETS = Path(__file__).resolve().parents[2] / "assets"
TOYWORLD_DIR = ASSETS / "toyworld"
TOYWORLD_VIDEO_DIR = ASSETS / "toyworld_video"


class ModelUnavailable(RuntimeError):
    """The model's weights are not on this machine (nothing is downloaded at run time)."""


@dataclass(frozen=True)
class ModelEntry:
    key: str
    label: str
    kind: str           # "toyworld", "toyworld_video", "sd", "sdxl", "sd3", "flux", "wan", ...
    source: str         # a Hub id (looked up in the local cache only) or a local folder
    video: bool = False


ALLOWLIST: dict[str, ModelEntry] = {e.key: e for e in [
    ModelEntry("toyworld", "ToyWorld (built in, CPU)", "toyworld", str(TOYWORLD_DIR)),
    ModelEntry("toyworld-video", "ToyWorld video (built in, CPU)", "toyworld_video",
               str(TOYWORLD_VIDEO_DIR), video=True),
    ModelEntry("sd15", "Stable Diffusion 1.5", "sd",
               "stable-diffusion-v1-5/stable-diffusion-v1-5"),
    ModelEntry("sdxl", "Stable Diffusion XL base 1.0", "sdxl",
               "stabilityai/stable-diffusion-xl-base-1.0"),
    ModelEntry("sd35m", "Stable Diffusion 3.5 Medium", "sd3",
               "stabilityai/stable-diffusion-3.5-medium"),
    ModelEntry("flux-schnell", "FLUX.1 schnell", "flux", "black-forest-labs/FLUX.1-schnell"),
    ModelEntry("wan21-1.3b", "Wan 2.1 T2V 1.3B", "wan", "Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
               video=True),
    ModelEntry("cogvideox-2b", "CogVideoX 2B", "cogvideox", "THUDM/CogVideoX-2b", video=True),
]}


def pick_device() -> tuple[torch.device, torch.dtype]:
    """CUDA (bf16 if supported, else fp16) when present, else CPU in fp32: the one decision."""
    if torch.cuda.is_available():
        dt = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.device("cuda"), dt
    return torch.device("cpu"), torch.float32


def kind_of_folder(path: str | Path) -> str:
    """The family of a local diffusers folder, from its model_index.json ``_class_name`` (the
    adapters' table decides; nothing here matches names). ValueError when it has none or the
    class is not supported."""
    import json
    from ..adapters import adapter_for_class
    index = Path(path).expanduser() / "model_index.json"
    try:
        name = json.loads(index.read_text()).get("_class_name", "")
    except (OSError, ValueError, AttributeError):
        raise ValueError(f"model: {path} has no readable model_index.json "
                         f"(not a diffusers model folder)") from None
    return adapter_for_class(name).kind        # SpecError (a ValueError) names the class


def folder_entry(path: str | Path, kind: str | None = None) -> ModelEntry:
    """The entry of a local model folder (``kind`` inferred from its model_index.json)."""
    p = Path(path).expanduser().resolve()
    if not (p / "model_index.json").is_file():
        raise ModelUnavailable(f"--model: {p} has no model_index.json (a diffusers folder)")
    return ModelEntry(f"local:{p.name}", f"local: {p.name}", kind or kind_of_folder(p), str(p))


def register_local(path: str, kind: str | None = None) -> ModelEntry:
    """Add a local model folder given on the command line (``app.py --model-dir PATH``)."""
    entry = folder_entry(path, kind)
    ALLOWLIST[entry.key] = entry
    return entry


def entry(key: str) -> ModelEntry:
    """The allowlist entry of ``key``, or of a local model folder given by its path."""
    if key in ALLOWLIST:
        return ALLOWLIST[key]
    if isinstance(key, (str, Path)) and (Path(key).expanduser() / "model_index.json").is_file():
        return folder_entry(key)
    raise ModelUnavailable(f"model: {key!r} is not one of {sorted(ALLOWLIST)}")


def model_index(source: str) -> dict[str, Any]:
    """A model's ``model_index.json``: from a local folder, or from the local Hub cache for a
    Hub id (nothing is downloaded); empty when it is not on this machine."""
    import json
    folder = Path(source).expanduser()
    path: Any = folder / "model_index.json"
    if not folder.is_dir():
        from huggingface_hub import try_to_load_from_cache
        path = try_to_load_from_cache(source, "model_index.json")
        if not isinstance(path, str):
            return {}
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def absent_components(index: dict[str, Any]) -> dict[str, None]:
    """Components saved as absent (``[null, null]``, e.g. SD3 without its T5 encoder), passed
    to ``from_pretrained`` as ``None``: diffusers refuses the folder otherwise."""
    return {k: None for k, v in index.items()
            if not k.startswith("_") and isinstance(v, list) and v and v[0] is None}


def unavailable(e: ModelEntry, exc: Exception) -> ModelUnavailable:
    """What to do about a model that did not load, for a local folder or a Hub id."""
    detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    if Path(e.source).expanduser().is_dir():
        how = (f"the folder {e.source} did not load as a {e.kind} pipeline; save it with "
               f"`pipe.save_pretrained(folder)` (safetensors) and pass that folder")
    else:
        how = (f"{e.source} is not in this machine's Hub cache; download it where you have "
               f"network (`hf download {e.source}`), or pass a local folder with --model-dir")
    return ModelUnavailable(f"model: {e.label}: {how}. Details: {detail}")


def load(key: str = "toyworld", device: torch.device | str | None = None,
         dtype: torch.dtype | None = None) -> Any:
    """The one loader: an allowlisted model (or a local model folder, by its path) from local
    files only, safetensors only, its pipeline class the family adapter's, components saved as
    absent passed as absent; progress bars off.  ``device``/``dtype`` override
    :func:`pick_device` (ZeroGPU places models on ``cuda`` before CUDA is visible)."""
    from ..adapters import adapter_for_kind
    e = entry(key)
    dev, picked = pick_device()
    dev, dtype = device or dev, dtype or picked
    cls = adapter_for_kind(e.kind).pipeline_class()
    kwargs: dict[str, Any] = dict(local_files_only=True, use_safetensors=True,
                                  **absent_components(model_index(e.source)))
    if not adapter_for_kind(e.kind).builtin:
        kwargs["torch_dtype"] = dtype
    try:
        pipe = cls.from_pretrained(e.source, **kwargs)
    except (OSError, ValueError, EnvironmentError) as exc:
        raise unavailable(e, exc) from None
    pipe.set_progress_bar_config(disable=True)
    speed.apply(pipe)
    return pipe.to(dev)


def tiny_toyworld(video: bool = False, seed: int = 0) -> Any:
    """A tiny random-weight ToyWorld pipeline (image, or ``video``), built, not loaded: for
    tests, smoke runs and the app when no trained model is on this machine."""
    import tempfile
    from .tokenizer import write_tokenizer
    from .toyworld import build_pipeline
    d = tempfile.mkdtemp(prefix="lina-tok-")
    write_tokenizer(d)
    pipe = build_pipeline(d, 32, small=True, seed=seed)
    if video:
        from .toyworld_video import inflate
        pipe = inflate(pipe)
    pipe.set_progress_bar_config(disable=True)
    speed.apply(pipe)
    return pipe
