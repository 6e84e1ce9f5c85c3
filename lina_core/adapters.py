"""One adapter per model family: everything the engine must know about a pipeline class.

A table keyed by pipeline class name (after pyvene's class-keyed model cards): the engine, the
registry and the app ask :func:`adapter_for` (a loaded pipeline) or :func:`adapter_for_class`
(a ``model_index.json`` class name) and never match class names themselves.  Lookup walks the
pipeline's MRO, so a user's subclass of ``StableDiffusionPipeline`` gets the SD adapter.

An adapter is the family's whole descriptor: besides what the engine asks (prompt encoding,
latent shape, initial noise, base schedule, flow shift, default size, the attention it records),
its ZeroGPU seconds per step and its tiny random-weight test pipeline (:meth:`Adapter.tiny`, one
per name in ``tiny_variants``).  The app's kinds, the ZeroGPU table and the tests' family lists
are read from :data:`KINDS`, so a family is added in one place: subclass :class:`Adapter`,
override what differs, decorate it with ``@register(...)`` naming its pipeline classes; the
shared family suite (``tests/test_family_contract.py``) then runs on it.
"""
from __future__ import annotations

import contextlib
import inspect
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from . import schedules as S
from .interventions import SpecError
from .text_tokens import prompt_tokens

Embeds = dict[str, torch.Tensor]


class Adapter:
    """The default: a UNet/transformer pipeline, 4-D latents, CLIP-style ``encode_prompt``."""

    kind: str = ""
    #: one of LINA's own ToyWorld models: the exact verifier judges its pictures, it is small
    #: (it runs on a CPU in seconds, no warning), and it stays in float32 (no torch_dtype, no
    #: bf16 on ZeroGPU)
    builtin: bool = False
    #: the diffusers (or ToyWorld) pipeline class the registry loads for this family
    pipeline_class_name: str = ""
    video: bool = False
    #: latents are pixels: previews decode for free and masks can be read off the run itself
    pixel_latents: bool = False
    #: classifier-free guidance with a negative prompt (FLUX's guidance is distilled: one pass)
    uses_negative: bool = True
    #: the unconditional pass is a call of its own, recognisable by its embeddings (Wan)
    separate_unconditional: bool = False
    #: the denoiser attributes to guide (Wan 2.2 hands the low-noise steps to ``transformer_2``)
    denoisers: tuple[str, ...] = ("unet", "transformer", "transformer_2")
    #: how :mod:`.attention` reads text attention: "cross" (UNet ``attn2``), "joint" (SD3),
    #: "flux" (double and single stream), or None (not covered: nothing is recorded)
    attention_kind: str | None = None
    #: seconds per denoising step of one run on a ZeroGPU slice (H200 share), with headroom:
    #: what a ZeroGPU call's duration is computed from (measured figures: PERFORMANCE.md)
    zerogpu_seconds_per_step: float = 1.0
    #: the tiny test pipelines of this family, by name: the keyword arguments :meth:`tiny` gets
    #: (one entry, the kind itself, unless a family has variants worth testing apart)
    tiny_variants: dict[str, dict[str, Any]] = {}

    def variants(self) -> dict[str, dict[str, Any]]:
        """:attr:`tiny_variants`, or the kind alone."""
        return self.tiny_variants or {self.kind: {}}

    def tiny(self, folder: str | Path, **options: Any) -> tuple[Any, dict[str, Any]]:
        """A tiny random-weight pipeline of this family, built offline (its tokenizer written
        to ``folder``), and the ``engine.run`` keyword arguments it runs with (its size, and
        for FLUX the stand-in T5 encoder): what the tests and the device check run on."""
        raise NotImplementedError(f"{type(self).__name__}: no tiny test pipeline")

    def pipeline_class(self) -> type:
        import diffusers
        return getattr(diffusers, self.pipeline_class_name)

    def encode(self, pipe: Any, texts: list[str], device: Any) -> Embeds:
        """Text -> the pipeline's positive embedding kwargs, on ``device`` (the caller reads
        ``pipe._execution_device`` once: it walks every module of every component, ~7 ms)."""
        pe, _ = pipe.encode_prompt(texts, device, 1, False)
        return {"prompt_embeds": pe}

    def encode_negative(self, pipe: Any, text: str, encode: Callable[[list[str]], Embeds],
                        ) -> Embeds:
        """The negative prompt's embedding kwargs, as ``__call__`` would make them."""
        return encode([text])

    def denoiser_names(self, pipe: Any) -> list[str]:
        return [n for n in self.denoisers if getattr(pipe, n, None) is not None]

    def size(self, pipe: Any, height: int | None, width: int | None, frames: int | None,
             ) -> tuple[int | None, int | None, int | None]:
        """The output size to run at: what the caller left out (None or 0) filled in, side by
        side, with :meth:`native_size`, as ``__call__``'s ``height = height or ...`` does; video
        families check the result before any model work."""
        if height and width and (frames or not self.video):
            return height, width, frames
        h, w, f = self.native_size(pipe)
        return height or h, width or w, frames or f

    def native_size(self, pipe: Any) -> tuple[int, int, int | None]:
        """(height, width, frames) the pipeline's own ``__call__`` uses when given none.

        SDXL, SD3 and FLUX (and most diffusers image pipelines): ``default_sample_size *
        vae_scale_factor``.  ``default_sample_size`` is set in ``__init__``: the denoiser
        config's ``sample_size`` (SDXL's UNet, SD3's transformer), or 128 where no config has one
        (FLUX).  A constant here would ask a small model for more than it can draw (a tiny SD3
        with ``sample_size`` 32 was asked for 1024 px); a pipeline without the attribute has no
        size of its own, and rather than guess one we ask for it."""
        n = getattr(pipe, "default_sample_size", None)
        if n is None:
            raise SpecError(f"height/width: {type(pipe).__name__} has no default size (no "
                            f"default_sample_size); give both")
        s = int(n) * pipe.vae_scale_factor
        return s, s, None

    def latent_shape(self, pipe: Any, batch: int, height: int | None, width: int | None,
                     frames: int | None) -> tuple[int, ...]:
        vsf = getattr(pipe, "vae_scale_factor", 8)
        return (batch, self._in_channels(pipe), height // vsf, width // vsf)

    def spatial(self, shape: tuple[int, ...]) -> tuple[int, int]:
        """The (h, w) grid a mask is drawn on."""
        return (shape[-2], shape[-1])

    def initial_noise(self, pipe: Any, shape: tuple[int, ...], gen: torch.Generator,
                      ) -> torch.Tensor:
        """The seed's noise, drawn as the pipeline's own ``prepare_latents`` draws it."""
        return torch.randn(shape, generator=gen, dtype=torch.float32)

    def base_schedule(self, pipe: Any, steps: int) -> S.Schedule | None:
        """A schedule the pipeline uses instead of its scheduler's own (None: the scheduler's)."""
        return None

    def mu(self, pipe: Any, shape: tuple[int, ...]) -> float | None:
        """The resolution-dependent shift of a dynamic-shifting flow scheduler (None if static)."""
        cfg = pipe.scheduler.config
        if not (S.is_flow_matching(pipe.scheduler) and cfg.get("use_dynamic_shifting", False)):
            return None
        p = int(getattr(pipe.transformer.config, "patch_size", 1) or 1)
        return _shift(cfg, (shape[-2] // p) * (shape[-1] // p), 1.16)

    def call_kwargs(self, height: int | None, width: int | None, frames: int | None,
                    ) -> dict[str, Any]:
        """Size arguments of ``__call__``."""
        out: dict[str, Any] = {}
        if height is not None:
            out["height"], out["width"] = height, width
        if frames is not None and self.video:
            out["num_frames"] = frames
        return out

    def decode_preview(self, pipe: Any, x0: torch.Tensor) -> np.ndarray | None:
        """A cheap picture of a predicted clean latent, or None (a VAE pass each step is not)."""
        return None

    def attention_tokens(self, pipe: Any, prompt: str, length: int) -> tuple[list[str], int | None]:
        """The token string at each of ``length`` text positions of ``prompt``'s embedding, and
        how many are the prompt's own (None: keep all).  CLIP's tokenizer by default."""
        tok = getattr(pipe, "tokenizer", None)
        if tok is None:
            return [f"<{i}>" for i in range(length)], None
        return prompt_tokens(tok, prompt, length)

    def attention_frames(self, pipe: Any, shape: tuple[int, ...]) -> int:
        """How many frames one attention token sequence holds (1: frames are batch rows)."""
        return 1

    def _in_channels(self, pipe: Any) -> int:
        den = pipe.unet if getattr(pipe, "unet", None) is not None else pipe.transformer
        return den.config.in_channels


ADAPTERS: dict[str, Adapter] = {}           # pipeline class name -> adapter
KINDS: dict[str, Adapter] = {}              # kind -> adapter


def register(*class_names: str) -> Callable[[type[Adapter]], type[Adapter]]:
    """Class decorator: make the adapter the one for these pipeline classes."""
    def deco(cls: type[Adapter]) -> type[Adapter]:
        inst = cls()
        KINDS[cls.kind] = inst
        for name in class_names:
            ADAPTERS[name] = inst
        return cls
    return deco


@contextlib.contextmanager
def registered(cls: type[Adapter], *class_names: str) -> Iterator[Adapter]:
    """``cls`` registered for ``class_names`` inside the block only (a test's own family)."""
    if cls.kind in KINDS or set(class_names) & set(ADAPTERS):
        raise ValueError(f"{cls.kind!r} or one of {class_names} is registered already")
    register(*class_names)(cls)
    try:
        yield KINDS[cls.kind]
    finally:
        KINDS.pop(cls.kind, None)
        for name in class_names:
            ADAPTERS.pop(name, None)


def tiny_names() -> list[str]:
    """The name of every tiny test pipeline the table names (each family's ``tiny_variants``,
    or its kind): the tests' family lists, so a new family is in them."""
    return [v for a in KINDS.values() for v in a.variants()]


def tiny_adapter(name: str) -> Adapter:
    """The adapter whose tiny test pipelines include ``name``."""
    for a in KINDS.values():
        if name in a.variants():
            return a
    raise ValueError(f"family: {name!r} is not one of {tiny_names()}")


def tiny_pipeline(name: str, folder: str | Path, on_device: bool = True
                  ) -> tuple[Any, dict[str, Any]]:
    """(pipeline, engine.run keyword arguments) of the tiny test pipeline ``name``, as its
    adapter builds it; ``on_device``: on the tests' device (``LINA_TEST_DEVICE``, cpu)."""
    from .pipelines.tiny_families import on_device as placed
    a = tiny_adapter(name)
    pipe, kw = a.tiny(folder, **a.variants()[name])
    return (placed(pipe) if on_device else pipe), kw


def adapter_for(pipe: Any) -> Adapter:
    """The adapter of a loaded pipeline (or pipeline class), by the first class in its MRO
    that the table knows."""
    cls = pipe if isinstance(pipe, type) else type(pipe)
    for c in cls.__mro__:
        if c.__name__ in ADAPTERS:
            return ADAPTERS[c.__name__]
    raise SpecError(f"model: pipeline {cls.__name__} is not supported; supported: "
                    f"{', '.join(sorted(ADAPTERS))}")


def adapter_for_class(class_name: str) -> Adapter:
    """The adapter of a pipeline class named in a ``model_index.json`` (nothing is imported)."""
    if class_name not in ADAPTERS:
        raise SpecError(f"model: pipeline {class_name} is not supported; supported: "
                        f"{', '.join(sorted(ADAPTERS))}")
    return ADAPTERS[class_name]


def is_builtin(kind: str) -> bool:
    """Whether ``kind`` is one of LINA's own ToyWorld families (:attr:`Adapter.builtin`);
    False for a kind the table does not know."""
    a = KINDS.get(kind)
    return bool(a is not None and a.builtin)


def adapter_for_kind(kind: str) -> Adapter:
    if kind not in KINDS:
        raise SpecError(f"model kind: {kind!r} is not one of {sorted(KINDS)}")
    return KINDS[kind]


def family(pipe: Any) -> str:
    """The family's short name ("toyworld", "sd", "flux", ...), for records and tables."""
    return adapter_for(pipe).kind


def _shift(cfg: Any, seq: int, max_shift: float) -> float:
    from diffusers.pipelines.flux.pipeline_flux import calculate_shift
    return float(calculate_shift(seq, cfg.get("base_image_seq_len", 256),
                                 cfg.get("max_image_seq_len", 4096), cfg.get("base_shift", 0.5),
                                 cfg.get("max_shift", max_shift)))


def to_uint8_images(x: torch.Tensor) -> np.ndarray:
    """[-1, 1] pixel latents (B, C, H, W) or (B, C, F, H, W) -> uint8 channels-last."""
    x = ((x.float().clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8)
    return x.movedim(1, -1).cpu().numpy()


# ---------------------------------------------------------------------- the families


@register("ToyWorldPipeline")
class ToyWorld(Adapter):
    kind, pixel_latents, attention_kind, builtin = "toyworld", True, "cross", True
    zerogpu_seconds_per_step = 0.05

    def tiny(self, folder: str | Path, **options: Any) -> tuple[Any, dict[str, Any]]:
        from .pipelines.tiny_families import toyworld_pipeline
        return toyworld_pipeline(folder), {}

    def pipeline_class(self) -> type:
        from .pipelines.toyworld import ToyWorldPipeline
        return ToyWorldPipeline

    def native_size(self, pipe):
        """ToyWorld draws at its UNet's ``sample_size`` (``pipe.resolution``) and nothing else:
        the size is not passed to ``__call__`` (:meth:`call_kwargs`)."""
        return pipe.resolution, pipe.resolution, None

    def latent_shape(self, pipe, batch, height, width, frames):
        r = pipe.resolution
        return (batch, pipe.unet.config.in_channels, r, r)

    def call_kwargs(self, height, width, frames):
        return {}

    def decode_preview(self, pipe, x0):
        return to_uint8_images(x0)


@register("ToyWorldVideoPipeline")
class ToyWorldVideo(ToyWorld):
    kind, video = "toyworld_video", True
    zerogpu_seconds_per_step = 0.2

    def tiny(self, folder: str | Path, **options: Any) -> tuple[Any, dict[str, Any]]:
        from .pipelines.tiny_families import toyworld_video_pipeline
        # 16 px: the engine's 5-D paths at a third of the time of the app's 32 px
        return toyworld_video_pipeline(folder, resolution=16), {"frames": 8}

    def pipeline_class(self) -> type:
        from .pipelines.toyworld_video import ToyWorldVideoPipeline
        return ToyWorldVideoPipeline

    def native_size(self, pipe):
        """Its resolution, and ``default_frames`` as ``__call__`` takes them when given None."""
        return pipe.resolution, pipe.resolution, pipe.default_frames

    def latent_shape(self, pipe, batch, height, width, frames):
        r = pipe.resolution
        return (batch, pipe.unet.config.in_channels, frames or pipe.default_frames, r, r)

    def call_kwargs(self, height, width, frames):
        return {"num_frames": frames} if frames is not None else {}


@register("StableDiffusionPipeline")
class StableDiffusion(Adapter):
    kind, pipeline_class_name, attention_kind = "sd", "StableDiffusionPipeline", "cross"
    zerogpu_seconds_per_step = 0.1

    def tiny(self, folder: str | Path, **options: Any) -> tuple[Any, dict[str, Any]]:
        from .pipelines.tiny_families import sd_pipeline
        return sd_pipeline(folder), {"height": 32, "width": 32}

    def size(self, pipe, height, width, frames):
        """``StableDiffusionPipeline.__call__``: ``if not height or not width`` both sides take
        the default, a lone height or width is dropped."""
        if not height or not width:
            height, width, _ = self.native_size(pipe)
        return height, width, frames

    def native_size(self, pipe):
        """``unet.config.sample_size * vae_scale_factor`` (SD has no ``default_sample_size``);
        ``sample_size`` may be a (height, width) pair."""
        n = pipe.unet.config.sample_size
        h, w = (n, n) if isinstance(n, int) else (n[0], n[1])
        s = pipe.vae_scale_factor
        return h * s, w * s, None


@register("StableDiffusionXLPipeline")
class StableDiffusionXL(Adapter):
    kind, pipeline_class_name = "sdxl", "StableDiffusionXLPipeline"
    zerogpu_seconds_per_step = 0.3
    attention_kind = "cross"

    def tiny(self, folder: str | Path, **options: Any) -> tuple[Any, dict[str, Any]]:
        from .pipelines.tiny_families import sdxl_pipeline
        return sdxl_pipeline(folder), {"height": 32, "width": 32}

    def encode(self, pipe, texts, device):
        pe, _, pooled, _ = pipe.encode_prompt(texts, device=device,
                                              do_classifier_free_guidance=False)
        return {"prompt_embeds": pe, "pooled_prompt_embeds": pooled}

    def encode_negative(self, pipe, text, encode):
        """An empty negative prompt is zeros where the model was trained so
        (``force_zeros_for_empty_prompt``, true for SDXL base)."""
        if text or not pipe.config.get("force_zeros_for_empty_prompt", False):
            return encode([text])
        return {k: torch.zeros_like(v) for k, v in encode([text]).items()}


@register("StableDiffusion3Pipeline")
class StableDiffusion3(Adapter):
    kind, pipeline_class_name = "sd3", "StableDiffusion3Pipeline"
    zerogpu_seconds_per_step = 0.4
    attention_kind = "joint"   # the text is CLIP's 77 tokens, then T5's

    def tiny(self, folder: str | Path, **options: Any) -> tuple[Any, dict[str, Any]]:
        from .pipelines.tiny_families import sd3_pipeline
        return sd3_pipeline(folder), {"height": 16, "width": 16}

    def encode(self, pipe, texts, device):
        pe, _, pooled, _ = pipe.encode_prompt(texts, texts, texts, device=device,
                                              do_classifier_free_guidance=False)
        return {"prompt_embeds": pe, "pooled_prompt_embeds": pooled}


@register("FluxPipeline")
class Flux(Adapter):
    kind, pipeline_class_name, uses_negative = "flux", "FluxPipeline", False
    zerogpu_seconds_per_step = 0.8
    attention_kind = "flux"

    #: flux: the stand-in T5 encoder passed to engine.run; flux_t5: a tiny T5 in the pipeline
    tiny_variants = {"flux": {}, "flux_t5": {"t5": True}}

    def tiny(self, folder: str | Path, t5: bool = False, **options: Any
             ) -> tuple[Any, dict[str, Any]]:
        from .pipelines.tiny_families import flux_encoder, flux_pipeline
        kw: dict[str, Any] = {"height": 8, "width": 8}
        if not t5:
            kw["encoder"] = flux_encoder
        return flux_pipeline(folder, t5=t5), kw

    def attention_tokens(self, pipe, prompt, length):
        """FLUX's text tokens are T5's (``tokenizer_2``)."""
        tok = getattr(pipe, "tokenizer_2", None)
        if tok is None:
            return [f"<{i}>" for i in range(length)], None
        return prompt_tokens(tok, prompt, length)

    def encode(self, pipe, texts, device):
        if getattr(pipe, "text_encoder_2", None) is None or \
                getattr(pipe, "tokenizer_2", None) is None:
            # diffusers would fail deep inside with "'NoneType' object has no attribute ..."
            raise ValueError("model: this FLUX pipeline has no T5 text encoder (text_encoder_2 "
                             "/ tokenizer_2 absent) and FLUX encodes every prompt with it; "
                             "save the folder with its T5 encoder and tokenizer, or give "
                             "engine.run an encoder")
        pe, pooled, _ = pipe.encode_prompt(texts, texts, device=device)
        return {"prompt_embeds": pe, "pooled_prompt_embeds": pooled}

    def latent_shape(self, pipe, batch, height, width, frames):
        vsf = getattr(pipe, "vae_scale_factor", 8)
        h, w = 2 * (height // (vsf * 2)), 2 * (width // (vsf * 2))
        return (batch, (h // 2) * (w // 2), pipe.transformer.config.in_channels)

    def spatial(self, shape):
        side = int(round(shape[1] ** 0.5))
        return (side, side)

    def initial_noise(self, pipe, shape, gen):
        """FLUX draws (B, C, H, W) and packs it into 2x2 patches."""
        b, n, c = shape
        h = w = int(round(n ** 0.5)) * 2
        if (h // 2) * (w // 2) != n or c % 4:
            return super().initial_noise(pipe, shape, gen)
        x = torch.randn((b, c // 4, h, w), generator=gen, dtype=torch.float32)
        return pipe._pack_latents(x, b, c // 4, h, w)

    def base_schedule(self, pipe, steps):
        """FluxPipeline's own default (it never asks the scheduler): linspace(1, 1/n, n)."""
        if not S.is_flow_matching(pipe.scheduler):
            return None
        return S.Schedule("sigmas", torch.tensor(np.linspace(1.0, 1 / steps, steps),
                                                 dtype=torch.float64))

    def mu(self, pipe, shape):
        cfg = pipe.scheduler.config
        if not (S.is_flow_matching(pipe.scheduler) and cfg.get("use_dynamic_shifting", False)):
            return None
        return _shift(cfg, shape[1], 1.15)


class _T5Video(Adapter):
    """Wan and CogVideoX: T5 prompts padded as ``__call__`` pads them, sizes from its defaults."""
    video = True

    def encode(self, pipe, texts, device):
        pe, _ = pipe.encode_prompt(texts, do_classifier_free_guidance=False,
                                   device=device,
                                   max_sequence_length=self._text_length(pipe))
        return {"prompt_embeds": pe}

    @staticmethod
    def _text_length(pipe: Any) -> int:
        """CogVideoX's transformer has a fixed text length (``max_text_seq_length``, 226); Wan
        pads to its ``__call__`` default (512), not to ``encode_prompt``'s (226)."""
        n = getattr(pipe.transformer.config, "max_text_seq_length", None)
        return int(n or inspect.signature(pipe.__call__).parameters["max_sequence_length"].default)

    def size(self, pipe, height, width, frames):
        """The pipeline's own defaults (:meth:`native_size`) for what the caller left out,
        checked against the latents' multiples."""
        height, width, frames = super().size(pipe, height, width, frames)
        p = pipe.transformer.config.patch_size
        m = pipe.vae_scale_factor_spatial * int(p[-1] if isinstance(p, (tuple, list)) else p)
        if height % m or width % m:
            raise SpecError(f"height/width: {height}x{width} must both be multiples of {m} for "
                            f"{type(pipe).__name__}")
        self._check_frames(pipe, frames)
        return height, width, frames

    def _check_frames(self, pipe: Any, frames: int) -> None:
        pass

    def _latent_frames(self, pipe: Any, frames: int) -> int:
        return (frames - 1) // pipe.vae_scale_factor_temporal + 1


@register("WanPipeline")
class Wan(_T5Video):
    kind, pipeline_class_name, separate_unconditional = "wan", "WanPipeline", True
    zerogpu_seconds_per_step = 4.0
    attention_kind = "wan"

    #: Wan 2.1, and 2.2's two transformers (the low-noise steps on ``transformer_2``)
    tiny_variants = {"wan": {}, "wan22": {"two_stage": True}}

    def tiny(self, folder: str | Path, two_stage: bool = False, **options: Any
             ) -> tuple[Any, dict[str, Any]]:
        from .pipelines.tiny_families import wan_pipeline
        return wan_pipeline(folder, two_stage=two_stage), {"height": 16, "width": 16,
                                                           "frames": 9}

    def native_size(self, pipe):
        """``WanPipeline.__call__``'s own signature defaults (480 x 832, 81 frames): no Wan
        config holds a size, so the pipeline's defaults are the model's."""
        p = inspect.signature(pipe.__call__).parameters
        return p["height"].default, p["width"].default, p["num_frames"].default

    def attention_frames(self, pipe, shape):
        return shape[2] // int(pipe.transformer.config.patch_size[0])

    def _check_frames(self, pipe, frames):
        t = pipe.vae_scale_factor_temporal
        if (frames - 1) % t:   # WanPipeline would round it, and the latents with it
            raise SpecError(f"frames: {frames} must be {t}k + 1 for WanPipeline (e.g. "
                            f"{(frames - 1) // t * t + 1})")

    def latent_shape(self, pipe, batch, height, width, frames):
        s = pipe.vae_scale_factor_spatial
        return (batch, pipe.transformer.config.in_channels, self._latent_frames(pipe, frames),
                height // s, width // s)


@register("CogVideoXPipeline")
class CogVideoX(_T5Video):
    kind, pipeline_class_name, attention_kind = "cogvideox", "CogVideoXPipeline", "cog"
    zerogpu_seconds_per_step = 4.0

    def tiny(self, folder: str | Path, **options: Any) -> tuple[Any, dict[str, Any]]:
        from .pipelines.tiny_families import cogvideox_pipeline
        return cogvideox_pipeline(folder), {"height": 16, "width": 16, "frames": 9}

    def native_size(self, pipe):
        """``CogVideoXPipeline.__call__``: the transformer's ``sample_height``/``sample_width``
        times ``vae_scale_factor_spatial`` (480 x 720 for 2B/5B) and its ``sample_frames``."""
        cfg, s = pipe.transformer.config, pipe.vae_scale_factor_spatial
        return cfg.sample_height * s, cfg.sample_width * s, cfg.sample_frames

    def attention_frames(self, pipe, shape):
        return shape[1] // int(pipe.transformer.config.patch_size_t or 1)

    def latent_shape(self, pipe, batch, height, width, frames):
        """B x F x C x H x W; CogVideoX 1.5 pads frames to a multiple of ``patch_size_t``."""
        t = self._latent_frames(pipe, frames)
        pt = pipe.transformer.config.patch_size_t
        t += -t % pt if pt else 0
        s = pipe.vae_scale_factor_spatial
        return (batch, t, pipe.transformer.config.in_channels, height // s, width // s)
