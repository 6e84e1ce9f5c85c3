"""Which models the app offers, where their weights are, and the one place a pipeline is loaded.

Real models load only from local files (``local_files_only=True``, safetensors only, never
``trust_remote_code``); a missing model answers with :class:`ModelUnavailable`, not a traceback.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

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


def register_local(path: str, kind: str) -> ModelEntry:
    """Add a local model folder given on the command line (``app.py --model PATH``)."""
    p = Path(path).expanduser().resolve()
    if not (p / "model_index.json").is_file():
        raise ModelUnavailable(f"--model: {p} has no model_index.json (a diffusers folder)")
    entry = ModelEntry(f"local:{p.name}", f"local: {p.name}", kind, str(p))
    ALLOWLIST[entry.key] = entry
    return entry


def _pipeline_class(kind: str):
    import diffusers
    from .toyworld import ToyWorldPipeline
    from .toyworld_video import ToyWorldVideoPipeline
    return {"toyworld": ToyWorldPipeline, "toyworld_video": ToyWorldVideoPipeline,
            "sd": diffusers.StableDiffusionPipeline,
            "sdxl": diffusers.StableDiffusionXLPipeline,
            "sd3": diffusers.StableDiffusion3Pipeline, "flux": diffusers.FluxPipeline,
            "wan": diffusers.WanPipeline, "cogvideox": diffusers.CogVideoXPipeline}[kind]


def load(key: str = "toyworld", device: torch.device | None = None) -> Any:
    """Load an allowlisted model from local files only."""
    if key not in ALLOWLIST:
        raise ModelUnavailable(f"model: {key!r} is not one of {sorted(ALLOWLIST)}")
    e = ALLOWLIST[key]
    dev, dtype = pick_device()
    dev = device or dev
    cls = _pipeline_class(e.kind)
    kwargs: dict[str, Any] = dict(local_files_only=True, use_safetensors=True)
    if not e.kind.startswith("toyworld"):
        kwargs["torch_dtype"] = dtype
    try:
        pipe = cls.from_pretrained(e.source, **kwargs)
    except (OSError, ValueError, EnvironmentError) as exc:
        raise ModelUnavailable(
            f"model: {e.label} is not available on this machine ({e.source}); download it "
            f"yourself (e.g. `hf download {e.source}`) or pass a local folder with --model. "
            f"Details: {str(exc).splitlines()[0][:200]}") from None
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(dev)
