"""Run an intervention spec on any diffusers pipeline, through its public API only.

The engine owns the initial noise (so a branch can start from a cached step), switches prompt
embeddings with ``callback_on_step_end``, passes schedules as ``timesteps``/``sigmas`` (or, where
``__call__`` takes neither, as WanPipeline's, runs the call with a scheduler pinned to the
schedule), and reads back what the scheduler used.  Latent guidance wraps the denoiser module for
the duration of one call (a forward wrapper, not an attention patch); it adds
``w * M * (eps(x, c+) - eps(x, c))`` to the conditional branch.  No code here assumes 4-D latents.
"""
from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from . import schedules as S
from .interventions import InterventionSpec, PromptEdit, SpecError

# ---------------------------------------------------------------------- model families


def family(pipe: Any) -> str:
    name = type(pipe).__name__
    for key, fam in (("ToyWorldVideo", "toyworld_video"), ("ToyWorld", "toyworld"),
                     ("StableDiffusionXL", "sdxl"), ("StableDiffusion3", "sd3"),
                     ("Flux", "flux"), ("Wan", "wan"), ("CogVideoX", "cogvideox"),
                     ("StableDiffusion", "sd")):
        if key in name:
            return fam
    raise SpecError(f"model: pipeline {name} is not supported; supported: ToyWorld, SD 1.5/2.1, "
                    f"SDXL, SD3/3.5, FLUX, Wan, CogVideoX")


def denoiser_name(pipe: Any) -> str:
    return "unet" if getattr(pipe, "unet", None) is not None else "transformer"


Encoder = Callable[[list[str]], dict[str, torch.Tensor]]


def default_encoder(pipe: Any) -> Encoder:
    """Text -> the pipeline's embedding kwargs (positive part only), for each family."""
    fam = family(pipe)
    dev = pipe._execution_device

    def enc(texts: list[str]) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            if fam in ("toyworld", "toyworld_video", "sd"):
                pe, _ = pipe.encode_prompt(texts, dev, 1, False)
                return {"prompt_embeds": pe}
            if fam == "sdxl":
                pe, _, pooled, _ = pipe.encode_prompt(texts, device=dev,
                                                      do_classifier_free_guidance=False)
                return {"prompt_embeds": pe, "pooled_prompt_embeds": pooled}
            if fam == "sd3":
                pe, _, pooled, _ = pipe.encode_prompt(texts, texts, texts, device=dev,
                                                      do_classifier_free_guidance=False)
                return {"prompt_embeds": pe, "pooled_prompt_embeds": pooled}
            if fam == "flux":
                pe, pooled, _ = pipe.encode_prompt(texts, texts, device=dev)
                return {"prompt_embeds": pe, "pooled_prompt_embeds": pooled}
            pe, _ = pipe.encode_prompt(texts, do_classifier_free_guidance=False, device=dev,
                                       max_sequence_length=_text_length(pipe))
            return {"prompt_embeds": pe}
    return enc


def _text_length(pipe: Any) -> int:
    """The T5 length the pipeline's own call pads prompts to (Wan, CogVideoX), so the engine's
    embeddings are the ones the plain call makes: CogVideoX's transformer has a fixed text length
    (``max_text_seq_length``, 226 on the released models); Wan pads to its ``__call__`` default
    (512), not to ``encode_prompt``'s (226)."""
    n = getattr(pipe.transformer.config, "max_text_seq_length", None)
    return int(n or inspect.signature(pipe.__call__).parameters["max_sequence_length"].default)


def video_size(pipe: Any, height: int | None, width: int | None, frames: int | None,
               ) -> tuple[int, int, int]:
    """Wan/CogVideoX: the pipeline's own defaults for what the caller left out (the app passes
    no frame count), checked against what the latents need before any model work."""
    fam = family(pipe)
    params = inspect.signature(pipe.__call__).parameters
    cfg, s = pipe.transformer.config, pipe.vae_scale_factor_spatial
    height = height or params["height"].default or cfg.sample_height * s
    width = width or params["width"].default or cfg.sample_width * s
    frames = frames or params["num_frames"].default or cfg.sample_frames
    p = cfg.patch_size
    m = s * int(p[-1] if isinstance(p, (tuple, list)) else p)
    if height % m or width % m:
        raise SpecError(f"height/width: {height}x{width} must both be multiples of {m} for "
                        f"{type(pipe).__name__}")
    t = pipe.vae_scale_factor_temporal
    if fam == "wan" and (frames - 1) % t:   # WanPipeline would round it, and the latents with it
        raise SpecError(f"frames: {frames} must be {t}k + 1 for WanPipeline (e.g. "
                        f"{(frames - 1) // t * t + 1})")
    return height, width, frames


def latent_shape(pipe: Any, batch: int, height: int | None, width: int | None,
                 frames: int | None = None) -> tuple[int, ...]:
    fam = family(pipe)
    if fam == "toyworld":
        r = pipe.resolution
        return (batch, pipe.unet.config.in_channels, r, r)
    if fam == "toyworld_video":
        return (batch, pipe.unet.config.in_channels, frames or pipe.default_frames,
                pipe.resolution, pipe.resolution)
    vsf = getattr(pipe, "vae_scale_factor", 8)
    if fam in ("sd", "sdxl"):
        return (batch, pipe.unet.config.in_channels, height // vsf, width // vsf)
    if fam == "sd3":
        return (batch, pipe.transformer.config.in_channels, height // vsf, width // vsf)
    if fam == "flux":
        h, w = 2 * (height // (vsf * 2)), 2 * (width // (vsf * 2))
        return (batch, (h // 2) * (w // 2), pipe.transformer.config.in_channels)
    if fam in ("wan", "cogvideox"):
        t = (frames - 1) // pipe.vae_scale_factor_temporal + 1
        c, s = pipe.transformer.config.in_channels, pipe.vae_scale_factor_spatial
        if fam == "wan":
            return (batch, c, t, height // s, width // s)
        pt = pipe.transformer.config.patch_size_t   # CogVideoX 1.5 pads frames to a multiple
        t += -t % pt if pt else 0
        return (batch, t, c, height // s, width // s)          # CogVideoX: B x F x C x H x W
    raise SpecError(f"model: latent shape of {fam} is not known")


# ---------------------------------------------------------------------- noise coefficients


def noise_coefficients(scheduler: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``x_i = a_i * x0 + b_i * eps`` at every point of the current schedule (n + 1 points)."""
    if S.is_flow_matching(scheduler):
        s = scheduler.sigmas.double().cpu()
        return 1 - s, s
    if getattr(scheduler, "sigmas", None) is not None and hasattr(scheduler, "init_noise_sigma") \
            and "Euler" in type(scheduler).__name__:
        s = scheduler.sigmas.double().cpu()
        return torch.ones_like(s), s
    acp = scheduler.alphas_cumprod.double()
    t = scheduler.timesteps.long().cpu()
    a = torch.cat([acp[t].sqrt(), torch.ones(1, dtype=torch.float64)])
    b = torch.cat([(1 - acp[t]).sqrt(), torch.zeros(1, dtype=torch.float64)])
    return a, b


def predicted_x0(x_i: torch.Tensor, x_next: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                 i: int) -> torch.Tensor:
    """Clean-image estimate at step ``i`` of a deterministic first-order sampler.

    From ``x_i`` and ``x_{i+1}`` on the same line through ``(x0, eps)``: no model output needed,
    so it works for any pipeline whose callback shows the latents.
    """
    ai, bi, an, bn = (float(v) for v in (a[i], b[i], a[i + 1], b[i + 1]))
    den = bi * an - bn * ai
    if abs(den) < 1e-12:
        return x_next / max(an, 1e-12)
    return ((bi * x_next.double() - bn * x_i.double()) / den).to(x_next.dtype)


# ---------------------------------------------------------------------- embedding edits


def _token_positions(pipe: Any, prompt: str, word: str) -> list[int]:
    tok = getattr(pipe, "tokenizer", None)
    if tok is None:
        raise SpecError("edits: scale_tokens/swap_tokens need a pipeline with a tokenizer")
    ids = tok(prompt).input_ids
    wids = tok(word, add_special_tokens=False).input_ids
    if not wids:
        return []
    out = []
    for p in range(len(ids) - len(wids) + 1):
        if ids[p:p + len(wids)] == wids:
            out.extend(range(p, p + len(wids)))
    return out


def resolve_donors(spec: InterventionSpec) -> tuple[list[PromptEdit], dict[int, str]]:
    """The spec's edits with each ``donor`` edit turned into a ``replace`` of its caption
    (computed once per run from the spec's graph), and those captions by edit index."""
    from dataclasses import replace
    if not any(e.type == "donor" for e in spec.edits):
        return list(spec.edits), {}
    from .csg import CausalSceneGraph
    from .donors import donor_for
    g = CausalSceneGraph.from_dict(spec.graph)
    out, captions = [], {}
    for i, e in enumerate(spec.edits):
        if e.type == "donor":
            captions[i] = donor_for(g, e.donor, e.swaps).caption
            e = replace(e, type="replace", target_prompt=captions[i])
        out.append(e)
    return out, captions


def apply_edit(pipe: Any, edit: PromptEdit, prompt: str, c: torch.Tensor, encode: Encoder,
               ) -> torch.Tensor:
    """The edited ``prompt_embeds`` (batch x tokens x dim) for one edit."""
    lam = edit.strength
    if edit.type == "replace":
        return encode([edit.target_prompt])["prompt_embeds"].expand_as(c).clone()
    if edit.type == "interpolate":
        t = encode([edit.target_prompt])["prompt_embeds"]
        return c + lam * (t - c)
    if edit.type == "add_direction":
        e = encode([edit.direction_from, edit.direction_to])["prompt_embeds"]
        return c + lam * (e[1:2] - e[0:1])
    out = c.clone()
    if edit.type == "scale_tokens":
        for w in edit.words:
            pos = _token_positions(pipe, prompt, w)
            if not pos:
                raise SpecError(f"edits.words: {w!r} does not occur in the prompt {prompt!r}")
            out[:, pos] = out[:, pos] * lam
        return out
    if edit.type == "swap_tokens":
        t = encode([edit.target_prompt])["prompt_embeds"]
        for src, dst in edit.pairs:
            ps, pt = _token_positions(pipe, prompt, src), _token_positions(pipe,
                                                                          edit.target_prompt, dst)
            if not ps or len(ps) != len(pt):
                raise SpecError(f"edits.pairs: {src!r} in the prompt and {dst!r} in the target "
                                f"must both occur with the same number of tokens")
            out[:, ps] = t[:, pt].to(out.dtype)
        return out
    raise SpecError(f"edits.type: {edit.type!r}")


# ---------------------------------------------------------------------- latent guidance


def box_mask(box: list[float], shape: tuple[int, int], softness: float) -> torch.Tensor:
    """A soft mask of a normalised box at ``shape`` (h, w): 1 inside, Gaussian fall-off."""
    h, w = shape
    ys = (torch.arange(h, dtype=torch.float32) + 0.5) / h
    xs = (torch.arange(w, dtype=torch.float32) + 0.5) / w
    x0, y0, x1, y1 = box
    dy = torch.clamp(torch.maximum(y0 - ys, ys - y1), min=0)
    dx = torch.clamp(torch.maximum(x0 - xs, xs - x1), min=0)
    d2 = dy[:, None] ** 2 + dx[None, :] ** 2
    if softness <= 0:
        return (d2 == 0).float()
    return torch.exp(-d2 / (2 * softness ** 2))


def _mask_like(mask: torch.Tensor | None, out: torch.Tensor) -> torch.Tensor | float:
    """Broadcast an (h, w) mask to a model output: 4-D, 5-D, or FLUX's packed 3-D tokens."""
    if mask is None:
        return 1.0
    if out.dim() == 3:   # packed (B, N, C): 2x2 patches in raster order
        n = out.shape[1]
        side = int(round(n ** 0.5))
        m = torch.nn.functional.adaptive_avg_pool2d(mask[None, None], (side, side))[0, 0]
        return m.reshape(1, n, 1).to(out)
    m = torch.nn.functional.interpolate(mask[None, None], size=out.shape[-2:], mode="bilinear",
                                        align_corners=False)[0, 0]
    return m.to(out).reshape((1,) * (out.dim() - 2) + tuple(m.shape))


class GuidedDenoiser(torch.nn.Module):
    """Wraps a UNet/transformer; in the active window adds masked target-prompt guidance."""

    def __init__(self, inner: torch.nn.Module, target: torch.Tensor, weight: float,
                 mask: torch.Tensor | None, batch: int, negative: torch.Tensor | None = None):
        super().__init__()
        self.inner = inner
        self.target, self.weight, self.mask, self.batch = target, weight, mask, batch
        #: pipelines that run the unconditional pass as a call of its own (Wan) pass this
        #: embedding to it: such a call is left unguided
        self.negative = negative
        self.active = False
        self.extra_calls = 0

    def _unconditional(self, kwargs: dict[str, Any]) -> bool:
        ehs = kwargs.get("encoder_hidden_states")
        n = self.negative
        return (n is not None and torch.is_tensor(ehs) and ehs.shape == n.shape
                and torch.equal(ehs, n.to(ehs)))

    @property
    def config(self):
        return self.inner.config

    @property
    def dtype(self):
        return self.inner.dtype

    @property
    def device(self):
        return self.inner.device

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(super().__getattr__("inner"), name)

    def forward(self, *args, **kwargs):
        out = self.inner(*args, **kwargs)
        if not self.active or self.weight == 0 or self._unconditional(kwargs):
            return out
        tensor_out = out[0] if isinstance(out, tuple) else out.sample
        full = tensor_out.shape[0]
        pos = slice(full - self.batch, full)  # the conditional half under CFG, else everything

        def cut(v):
            if torch.is_tensor(v) and v.dim() > 0 and v.shape[0] == full:
                return v[pos]
            if isinstance(v, dict):
                return {k: cut(x) for k, x in v.items()}
            return v
        a2 = [cut(a) for a in args]
        k2 = {k: cut(v) for k, v in kwargs.items()}
        k2["encoder_hidden_states"] = self.target.to(tensor_out.dtype).expand(
            self.batch, *self.target.shape[1:])
        o2 = self.inner(*a2, **k2)
        self.extra_calls += 1
        plus = o2[0] if isinstance(o2, tuple) else o2.sample
        delta = self.weight * _mask_like(self.mask, plus) * (plus - tensor_out[pos])
        guided = tensor_out.clone()
        guided[pos] = guided[pos] + delta
        if isinstance(out, tuple):
            return (guided,) + tuple(out[1:])
        out.sample = guided
        return out


# ---------------------------------------------------------------------- results


@dataclass
class Trajectory:
    """What a branch needs to start from step k: the latents entering every step."""
    latents: list[torch.Tensor]          # x_0 .. x_n (x_0 includes init_noise_sigma)
    schedule: S.Schedule
    noise: torch.Tensor
    previews: list[np.ndarray]


@dataclass
class RunResult:
    images: np.ndarray                    # N x H x W x 3 uint8 (or N x F x H x W x 3 for video)
    previews: list[np.ndarray]            # per step: the predicted clean image, decoded
    schedule_used: S.Schedule
    trajectory: Trajectory
    timings: dict[str, float]
    record: dict[str, Any]
    model_calls: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def to_uint8_images(x: torch.Tensor) -> np.ndarray:
    """[-1, 1] pixel latents (B, C, H, W) or (B, C, F, H, W) -> uint8 channels-last."""
    x = ((x.float().clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8)
    return x.movedim(1, -1).cpu().numpy()


def decode_preview(pipe: Any, x0: torch.Tensor) -> np.ndarray | None:
    if family(pipe) in ("toyworld", "toyworld_video"):
        return to_uint8_images(x0)
    return None  # VAE models: decoding every step costs a VAE pass each; done on demand


def np_images(images: Any) -> np.ndarray:
    """Pipeline output (PIL list, tensor, or floats in [0, 1]) -> uint8, channels last."""
    if isinstance(images, list) and images and hasattr(images[0], "convert"):
        return np.stack([np.asarray(im.convert("RGB")) for im in images])
    arr = images.cpu().numpy() if torch.is_tensor(images) else np.asarray(images)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8)
    return arr


# ---------------------------------------------------------------------- the sampler

#: deterministic first-order samplers that take a custom schedule: a branch can restart from any
#: cached step (no multistep history, no fresh noise) and a given schedule is used as given
BRANCHABLE = ("EulerDiscreteScheduler", "FlowMatchEulerDiscreteScheduler")
_SIGMA_FLAGS = ("use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas",
                "stochastic_sampling")


def ensure_sampler(pipe: Any) -> str | None:
    """Make ``pipe.scheduler`` one the engine can drive; return the replaced class name, if any.

    The engine passes every schedule as ``timesteps``/``sigmas`` and restarts branches from cached
    latents, which needs a deterministic first-order sampler.  PNDM (SD 1.5's default) and DDIM
    refuse custom timesteps; multistep solvers (DPM-Solver, UniPC) keep a history a branch cannot
    restore; ancestral/stochastic ones draw noise the seed does not control.  Those are replaced
    by Euler built from the same config (flow-matching Euler for flow models), and the run record
    names both.  Euler with karras/exponential/beta sigmas is rebuilt without them (they would
    rewrite a given schedule).  Where the replaced scheduler's noise levels are not what its config
    gives Euler (CogVideoX's DDIM/DPM shift the SNR), Euler is built on its ``alphas_cumprod``.
    """
    sch = pipe.scheduler
    name = type(sch).__name__
    cfg = dict(sch.config)
    flags = [f for f in _SIGMA_FLAGS if cfg.get(f)]
    if name in BRANCHABLE and not flags:
        return None
    from diffusers import EulerDiscreteScheduler, FlowMatchEulerDiscreteScheduler
    off = {f: False for f in _SIGMA_FLAGS if f in cfg}
    if name in BRANCHABLE:
        new = type(sch).from_config(cfg, **off)
    elif ("FlowMatch" in name or cfg.get("prediction_type") == "flow_prediction"
          or cfg.get("use_flow_sigmas")):
        shift = float(cfg.get("flow_shift") or cfg.get("shift") or 1.0)
        new = FlowMatchEulerDiscreteScheduler.from_config(cfg, shift=shift, **off)
    else:
        new = EulerDiscreteScheduler.from_config(cfg, **off)
        acp = getattr(sch, "alphas_cumprod", None)
        if acp is not None and not torch.allclose(new.alphas_cumprod.double(), acp.double(),
                                                  rtol=1e-4, atol=1e-6):
            a = acp.double().clamp(min=2 ** -24)   # zero terminal SNR: Euler's own floor
            betas = 1 - a / torch.cat([a.new_ones(1), a[:-1]])
            new = EulerDiscreteScheduler.from_config(cfg, **off, trained_betas=betas.tolist(),
                                                     rescale_betas_zero_snr=False)
    pipe.scheduler = new
    return name


class _Pinned:
    """Scheduler mixin: ``set_timesteps`` sets the pinned schedule, whatever step count it gets."""
    pinned: dict[str, Any]

    def set_timesteps(self, num_inference_steps: int | None = None, device: Any = None,
                      **_: Any) -> None:
        super().set_timesteps(device=device, **self.pinned)


def schedule_call(pipe: Any, sched: S.Schedule, mu: float | None) -> tuple[dict[str, Any], Any]:
    """The call arguments that select ``sched``, and the scheduler to run the call with.

    A pipeline whose ``__call__`` takes ``sigmas``/``timesteps`` gets them.  One that takes
    neither (WanPipeline asks its scheduler for ``num_inference_steps`` steps) gets the step count
    and, for that call, a copy of its scheduler pinned to ``sched``: a component swap, read back
    like any other.
    """
    if sched.kind in inspect.signature(pipe.__call__).parameters:
        return sched.kwargs(), pipe.scheduler
    base = type(pipe.scheduler)
    keys = inspect.signature(base.__init__).parameters
    cfg = {k: v for k, v in pipe.scheduler.config.items() if k in keys}
    pinned = type(f"Pinned{base.__name__}", (_Pinned, base), {}).from_config(cfg)
    pinned.pinned = dict(sched.kwargs(), **({"mu": mu} if mu is not None else {}))
    return {"num_inference_steps": len(sched)}, pinned


def _mu(pipe: Any, shape: tuple[int, ...]) -> float | None:
    """The resolution-dependent shift a dynamic-shifting flow pipeline computes (None if static)."""
    cfg = pipe.scheduler.config
    if not (S.is_flow_matching(pipe.scheduler) and cfg.get("use_dynamic_shifting", False)):
        return None
    from diffusers.pipelines.flux.pipeline_flux import calculate_shift
    fam = family(pipe)
    if fam == "flux":
        seq, max_shift = shape[1], 1.15
    else:   # SD3 and other patchified transformers: tokens of the latent image
        p = int(getattr(pipe.transformer.config, "patch_size", 1) or 1)
        seq, max_shift = (shape[-2] // p) * (shape[-1] // p), 1.16
    return float(calculate_shift(seq, cfg.get("base_image_seq_len", 256),
                                 cfg.get("max_image_seq_len", 4096), cfg.get("base_shift", 0.5),
                                 cfg.get("max_shift", max_shift)))


def _set_timesteps(pipe: Any, sched: S.Schedule, device: Any, mu: float | None) -> None:
    kw = sched.kwargs()
    if mu is not None:
        kw["mu"] = mu
    pipe.scheduler.set_timesteps(**kw, device=device)


# ---------------------------------------------------------------------- the run


def make_schedule(pipe: Any, spec: InterventionSpec) -> S.Schedule:
    base = None
    if family(pipe) == "flux" and S.is_flow_matching(pipe.scheduler):
        # FluxPipeline's own default (it never asks the scheduler): linspace(1, 1/n, n)
        n = spec.steps
        base = S.Schedule("sigmas", torch.tensor(np.linspace(1.0, 1 / n, n), dtype=torch.float64))
    if spec.schedule.kind == "uniform":
        return base if base is not None else S.uniform(pipe.scheduler, spec.steps)
    return S.reallocated(pipe.scheduler, spec.steps, spec.schedule.rho, spec.schedule.split,
                         base=base)


def _memo(encode: Encoder) -> Encoder:
    """Encode each distinct list of texts once per run (edits ask for the same target per step)."""
    cache: dict[tuple[str, ...], dict[str, torch.Tensor]] = {}

    def enc(texts: list[str]) -> dict[str, torch.Tensor]:
        key = tuple(texts)
        if key not in cache:
            cache[key] = encode(list(texts))
        return cache[key]
    return enc


def initial_noise(pipe: Any, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """The seed's noise, drawn as the pipeline's own ``prepare_latents`` draws it (CPU generator).

    FLUX draws (B, C, H, W) and packs it into 2x2 patches; the others draw the latent shape.
    """
    gen = torch.Generator("cpu").manual_seed(seed)
    if family(pipe) == "flux":
        b, n, c = shape
        h = w = int(round(n ** 0.5)) * 2
        if (h // 2) * (w // 2) == n and c % 4 == 0:
            x = torch.randn((b, c // 4, h, w), generator=gen, dtype=torch.float32)
            return pipe._pack_latents(x, b, c // 4, h, w)
    return torch.randn(shape, generator=gen, dtype=torch.float32)


def run(pipe: Any, spec: InterventionSpec, seed: int | None = None, batch: int = 1,
        cache: Trajectory | None = None, reference: torch.Tensor | None = None,
        encoder: Encoder | None = None, height: int | None = None, width: int | None = None,
        frames: int | None = None, graph: Any = None, previews: bool = True,
        extra_call_kwargs: dict[str, Any] | None = None) -> RunResult:
    """Run ``spec`` for ``batch`` images from ``seed`` (default: the spec's seed).

    ``cache``: a baseline :class:`Trajectory` with the same seed and schedule; the run starts from
    its latents at the first step where the spec differs, instead of recomputing the steps before.
    ``reference``: clean latents for masked inpainting (default: the cache's final latents).
    """
    spec.validate()
    seed = spec.seed if seed is None else seed
    t_all = time.perf_counter()
    fam = family(pipe)
    if fam in ("wan", "cogvideox"):
        height, width, frames = video_size(pipe, height, width, frames)
    replaced = ensure_sampler(pipe)
    encode = _memo(encoder or default_encoder(pipe))
    device = pipe._execution_device
    sched = make_schedule(pipe, spec)
    cfg = spec.guidance_scale > 1.0

    pos = encode([spec.prompt])
    c = pos["prompt_embeds"].repeat_interleave(batch, 0)
    neg = encode([spec.negative_prompt]) if cfg and fam not in ("flux",) else {}
    edits, donor_captions = resolve_donors(spec)
    embeds_at: list[torch.Tensor] = []
    for i in range(spec.steps):
        e = c
        for ed in edits:
            if ed.start <= i < ed.end:
                e = apply_edit(pipe, ed, spec.prompt, e, encode)
        embeds_at.append(e)

    # noise and starting point
    shape = latent_shape(pipe, batch, height, width, frames)
    mu = _mu(pipe, shape)
    if cache is not None:
        noise = cache.noise
        if tuple(noise.shape) != shape or not torch.allclose(cache.schedule.values,
                                                             sched.values):
            raise SpecError("cache: the cached trajectory has another shape or schedule")
    else:
        noise = initial_noise(pipe, shape, seed).to(device)
    k = 0
    if cache is not None:
        k = min(spec.first_changed_step(), spec.steps - 1)
    a_full, b_full = _coefficients(pipe, sched, device, mu)
    full_init_sigma = float(getattr(pipe.scheduler, "init_noise_sigma", 1.0))
    run_sched = sched.tail(k) if k else sched
    _set_timesteps(pipe, run_sched, device, mu)
    init_sigma = float(getattr(pipe.scheduler, "init_noise_sigma", 1.0))
    if cache is not None:
        start_latents = cache.latents[k]
    else:
        start_latents = noise * full_init_sigma

    gnode = graph or spec.graph
    if (spec.latent_guidance and spec.latent_guidance.mask_node) or spec.inpaint:
        from .csg import CausalSceneGraph
        g = gnode if isinstance(gnode, CausalSceneGraph) else CausalSceneGraph.from_dict(gnode)
    inpaint_mask = None
    ref = None
    if spec.inpaint is not None:
        node = spec.inpaint.mask_node
        box = g.node(node)["box"]
        if box is None:
            raise SpecError(f"inpaint.mask_node: node {node!r} has no box")
        inpaint_mask = box_mask(box, shape[-2:], 0.04)
        ref = reference if reference is not None else (cache.latents[-1] if cache else None)
        if ref is None:
            raise SpecError("inpaint: needs a reference (run the baseline first)")
        ref = ref.to(device=noise.device, dtype=noise.dtype)
        ks = spec.inpaint.start
        if cache is None or k != ks:
            # re-noise the reference to step ks and start there
            k = ks
            run_sched = sched.tail(k)
            _set_timesteps(pipe, run_sched, device, mu)
            init_sigma = float(getattr(pipe.scheduler, "init_noise_sigma", 1.0))
        start_latents = (float(a_full[k]) * ref + float(b_full[k]) * noise).to(noise.dtype)

    guides: dict[str, GuidedDenoiser] = {}
    den_name = denoiser_name(pipe)
    # Wan 2.2 hands the low-noise steps to a second transformer: guide both
    den_names = [n for n in (den_name, "transformer_2") if getattr(pipe, n, None) is not None]
    lg = spec.latent_guidance
    run_mask: dict[str, Any] = {}
    if lg is not None and lg.weight != 0:
        if lg.mask_from == "run" and fam not in ("toyworld", "toyworld_video"):
            raise SpecError("latent_guidance.mask_from: 'run' needs a model whose latents are "
                            "pixels (ToyWorld); use mask_from 'graph' on this model")
        if lg.mask_node and g.node(lg.mask_node)["box"] is None:
            raise SpecError(f"latent_guidance.mask_node: node {lg.mask_node!r} has no box")
        if lg.mask_node:
            box = g.node(lg.mask_node)["box"]
            lmask = box_mask(box, _spatial(shape, fam, pipe, height, width), lg.mask_softness)
        else:
            lmask = None
        target = encode([lg.target_prompt])["prompt_embeds"]
        negative = None
        if fam == "wan" and neg:   # separate unconditional calls, with these embeddings
            negative = neg["prompt_embeds"].repeat_interleave(batch, 0)
        guides = {n: GuidedDenoiser(getattr(pipe, n), target, lg.weight, lmask, batch, negative)
                  for n in den_names}

    # trajectory.latents[i] is always the latent entering step i, whichever step the run starts
    # at: the cached steps before k, or (inpainting without a cache) the re-noised reference
    if cache is not None:
        traj_latents: list[torch.Tensor] = list(cache.latents[:k]) + [start_latents]
        pv: list[np.ndarray] = list(cache.previews[:k]) if previews else []
    else:
        traj_latents = [(float(a_full[i]) * ref + float(b_full[i]) * noise).to(noise.dtype)
                        for i in range(k)] + [start_latents]
        pv = []
        if previews and k:
            d = decode_preview(pipe, ref)
            pv = [d] * k if d is not None else []
    timing: dict[str, float] = {}
    spatial = _spatial(shape, fam, pipe, height, width)

    def place_run_mask(x_prev: torch.Tensor, x_next: torch.Tensor, step: int) -> None:
        """Guide from here on inside the mask the run's predicted image at ``step`` places."""
        x0 = predicted_x0(x_prev, x_next, a_full, b_full, step - 1)
        run_mask.update(mask_from_run(g, lg, x0, spatial, step))
        for guided in guides.values():
            guided.mask = run_mask["mask"]
        run_mask.pop("mask")

    run_mask_pending = lg is not None and lg.mask_from == "run" and bool(guides)
    if run_mask_pending and k >= lg.start:
        # the run starts at or after the mask step (from a cache): place the mask from there
        place_run_mask(traj_latents[lg.start - 1], traj_latents[lg.start], lg.start)

    def set_step(step: int) -> None:
        for guided in guides.values():
            guided.active = lg.start <= step < lg.end

    def swap_positive(emb_in: torch.Tensor, new_pos: torch.Tensor) -> torch.Tensor:
        if emb_in.shape[0] == 2 * new_pos.shape[0]:
            return torch.cat([emb_in[: new_pos.shape[0]], new_pos.to(emb_in)])
        return new_pos.to(emb_in)

    def callback(p, i, t, kw):
        step = k + i
        x = kw["latents"]
        if inpaint_mask is not None:
            m = inpaint_mask.to(x).reshape((1,) * (x.dim() - 2) + tuple(inpaint_mask.shape))
            known = float(a_full[step + 1]) * ref + float(b_full[step + 1]) * noise
            x = m * x + (1 - m) * known.to(x)
        if previews:
            x0 = predicted_x0(traj_latents[-1], x, a_full, b_full, step)
            d = decode_preview(p, x0)
            if d is not None:
                pv.append(d)
        traj_latents.append(x.detach().clone())
        if run_mask_pending and step + 1 == lg.start:
            place_run_mask(traj_latents[-2], x, step + 1)
        out = {"latents": x}
        if step + 1 < spec.steps:
            set_step(step + 1)
            if "prompt_embeds" in kw:
                out["prompt_embeds"] = swap_positive(kw["prompt_embeds"], embeds_at[step + 1])
        return out

    set_step(k)
    sched_kw, scheduler = schedule_call(pipe, run_sched, mu)
    call = dict(prompt_embeds=embeds_at[k], guidance_scale=spec.guidance_scale,
                latents=noise if (k == 0 and inpaint_mask is None) else start_latents / init_sigma,
                output_type="np",
                callback_on_step_end=callback,
                callback_on_step_end_tensor_inputs=["latents", "prompt_embeds"],
                **sched_kw)
    for key, v in pos.items():
        if key != "prompt_embeds":
            call[key] = v.repeat_interleave(batch, 0)
    if neg:
        call["negative_prompt_embeds"] = neg["prompt_embeds"].repeat_interleave(batch, 0)
        for key, v in neg.items():
            if key != "prompt_embeds":
                call["negative_" + key] = v.repeat_interleave(batch, 0)
    if height is not None and fam not in ("toyworld", "toyworld_video"):
        call["height"], call["width"] = height, width
    if frames is not None and fam not in ("toyworld",):
        call["num_frames"] = frames
    call.update(extra_call_kwargs or {})
    for n, guided in guides.items():
        object.__setattr__(pipe, n, guided)
    own_scheduler = pipe.scheduler
    object.__setattr__(pipe, "scheduler", scheduler)
    try:
        t0 = time.perf_counter()
        out = pipe(**call)
        timing["pipeline_s"] = time.perf_counter() - t0
    finally:
        for n, guided in guides.items():
            object.__setattr__(pipe, n, guided.inner)
        object.__setattr__(pipe, "scheduler", own_scheduler)
    images = np_images(out.frames if hasattr(out, "frames") else out.images)
    used = S.used(scheduler)
    n_steps_run = spec.steps - k
    passes = (2 if cfg and fam != "flux" else 1)
    extra = sum(g.extra_calls for g in guides.values())
    model_calls = n_steps_run * passes * batch + extra * batch
    timing["total_s"] = time.perf_counter() - t_all
    record = {
        "schema_version": 1, "spec": spec.to_dict(), "seed": seed, "batch": batch,
        "model": type(pipe).__name__, "model_path": str(getattr(pipe, "name_or_path", "") or
                                                        pipe.config.get("_name_or_path", "")),
        "schedule_requested": sched.to_dict(), "schedule_used": used.to_dict(),
        "schedule_passed_as": next(iter(sched_kw)) if scheduler is own_scheduler else "scheduler",
        "started_at_step": k, "model_calls": model_calls, "run_mask": run_mask or None,
        "donor_captions": donor_captions or None,
        "scheduler": {"class": type(pipe.scheduler).__name__, "replaced": replaced, "mu": mu},
        "versions": _versions(),
    }
    traj = Trajectory(traj_latents, sched, noise, pv)
    return RunResult(images, pv, used, traj, timing, record, model_calls)


def mask_from_run(g: Any, lg: Any, x0: torch.Tensor, spatial: tuple[int, int],
                  step: int) -> dict[str, Any]:
    """The guidance mask of ``lg.mask_node`` from the run's predicted clean image: the graph's
    layout moved to where the model drew the first object (``toyworld.align``)."""
    from .toyworld.align import align_layout
    img = to_uint8_images(x0[:1])[0]
    if img.ndim == 4:                      # a clip: align on its first frame
        img = img[0]
    aligned = align_layout(g, img)
    box = aligned.node(lg.mask_node)["box"]
    return {"mask": box_mask(box, spatial, lg.mask_softness), "node": lg.mask_node,
            "box": [round(float(v), 4) for v in box], "step": step,
            "moved": box != g.node(lg.mask_node)["box"]}


def _spatial(shape: tuple[int, ...], fam: str, pipe: Any, height: int | None,
             width: int | None) -> tuple[int, int]:
    if fam == "flux":
        side = int(round(shape[1] ** 0.5))
        return (side, side)
    return (shape[-2], shape[-1])


def _coefficients(pipe: Any, sched: S.Schedule, device: Any, mu: float | None = None,
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    _set_timesteps(pipe, sched, device, mu)
    return noise_coefficients(pipe.scheduler)


def _versions() -> dict[str, str]:
    import diffusers
    return {"torch": torch.__version__, "diffusers": diffusers.__version__}


def baseline_spec(spec: InterventionSpec) -> InterventionSpec:
    """The same prompt, seed, steps, guidance and schedule, with no intervention."""
    d = spec.to_dict()
    d.update(edits=[], latent_guidance=None, inpaint=None)
    return InterventionSpec.from_dict(d)


def sweep_k(pipe: Any, make_spec: Callable[[int], InterventionSpec], ks: list[int],
            seed: int, batch: int = 1, use_cache: bool = True, **kw) -> tuple[RunResult,
                                                                                dict[int, RunResult]]:
    """Run the baseline once and one variant per ``k``, each from the cached step ``k``."""
    base = run(pipe, baseline_spec(make_spec(ks[0])), seed=seed, batch=batch, **kw)
    out = {}
    for k in ks:
        out[k] = run(pipe, make_spec(k), seed=seed, batch=batch,
                     cache=base.trajectory if use_cache else None, **kw)
    return base, out
