"""Run an intervention spec on any diffusers pipeline, through its public API only.

The engine owns the initial noise (so a branch can start from a cached step), switches prompt
embeddings with ``callback_on_step_end``, passes schedules as ``timesteps``/``sigmas``, and reads
back what the scheduler used.  Latent guidance wraps the denoiser module for the duration of one
call (a forward wrapper, not an attention patch); it adds ``w * M * (eps(x, c+) - eps(x, c))`` to
the conditional branch.  No code here assumes 4-D latents.
"""
from __future__ import annotations

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
            pe, _ = pipe.encode_prompt(texts, do_classifier_free_guidance=False, device=dev)
            return {"prompt_embeds": pe}
    return enc


def latent_shape(pipe: Any, batch: int, height: int | None, width: int | None,
                 frames: int | None = None) -> tuple[int, ...]:
    fam = family(pipe)
    if fam == "toyworld":
        r = pipe.resolution
        return (batch, pipe.unet.config.in_channels, r, r)
    if fam == "toyworld_video":
        return (batch, pipe.unet.config.in_channels, frames or pipe.num_frames, pipe.resolution,
                pipe.resolution)
    vsf = getattr(pipe, "vae_scale_factor", 8)
    if fam in ("sd", "sdxl"):
        return (batch, pipe.unet.config.in_channels, height // vsf, width // vsf)
    if fam == "sd3":
        return (batch, pipe.transformer.config.in_channels, height // vsf, width // vsf)
    if fam == "flux":
        h, w = 2 * (height // (vsf * 2)), 2 * (width // (vsf * 2))
        return (batch, (h // 2) * (w // 2), pipe.transformer.config.in_channels)
    if fam == "wan":
        t = (frames - 1) // pipe.vae_scale_factor_temporal + 1
        return (batch, pipe.transformer.config.in_channels, t,
                height // pipe.vae_scale_factor_spatial, width // pipe.vae_scale_factor_spatial)
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
                 mask: torch.Tensor | None, batch: int):
        super().__init__()
        self.inner = inner
        self.target, self.weight, self.mask, self.batch = target, weight, mask, batch
        self.active = False
        self.extra_calls = 0

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
        if not self.active or self.weight == 0:
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
    rewrite a given schedule).
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
    pipe.scheduler = new
    return name


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
    replaced = ensure_sampler(pipe)
    encode = _memo(encoder or default_encoder(pipe))
    device = pipe._execution_device
    sched = make_schedule(pipe, spec)
    cfg = spec.guidance_scale > 1.0

    pos = encode([spec.prompt])
    c = pos["prompt_embeds"].repeat_interleave(batch, 0)
    neg = encode([spec.negative_prompt]) if cfg and fam not in ("flux",) else {}
    embeds_at: list[torch.Tensor] = []
    for i in range(spec.steps):
        e = c
        for ed in spec.edits:
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

    guided = None
    den_name = denoiser_name(pipe)
    inner = getattr(pipe, den_name)
    lg = spec.latent_guidance
    if lg is not None and lg.weight != 0:
        if lg.mask_node:
            box = g.node(lg.mask_node)["box"]
            lmask = box_mask(box, _spatial(shape, fam, pipe, height, width), lg.mask_softness)
        else:
            lmask = None
        target = encode([lg.target_prompt])["prompt_embeds"]
        guided = GuidedDenoiser(inner, target, lg.weight, lmask, batch)

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

    def set_step(step: int) -> None:
        if guided is not None:
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
        out = {"latents": x}
        if step + 1 < spec.steps:
            set_step(step + 1)
            if "prompt_embeds" in kw:
                out["prompt_embeds"] = swap_positive(kw["prompt_embeds"], embeds_at[step + 1])
        return out

    set_step(k)
    call = dict(prompt_embeds=embeds_at[k], guidance_scale=spec.guidance_scale,
                latents=noise if (k == 0 and inpaint_mask is None) else start_latents / init_sigma,
                output_type="np",
                callback_on_step_end=callback,
                callback_on_step_end_tensor_inputs=["latents", "prompt_embeds"],
                **run_sched.kwargs())
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
    if guided is not None:
        object.__setattr__(pipe, den_name, guided)
    try:
        t0 = time.perf_counter()
        out = pipe(**call)
        timing["pipeline_s"] = time.perf_counter() - t0
    finally:
        if guided is not None:
            object.__setattr__(pipe, den_name, inner)
    images = np_images(out.frames if hasattr(out, "frames") else out.images)
    used = S.used(pipe.scheduler)
    n_steps_run = spec.steps - k
    passes = (2 if cfg and fam != "flux" else 1)
    model_calls = n_steps_run * passes * batch + (guided.extra_calls * batch if guided else 0)
    timing["total_s"] = time.perf_counter() - t_all
    record = {
        "schema_version": 1, "spec": spec.to_dict(), "seed": seed, "batch": batch,
        "model": type(pipe).__name__, "model_path": str(getattr(pipe, "name_or_path", "") or
                                                        pipe.config.get("_name_or_path", "")),
        "schedule_requested": sched.to_dict(), "schedule_used": used.to_dict(),
        "started_at_step": k, "model_calls": model_calls,
        "scheduler": {"class": type(pipe.scheduler).__name__, "replaced": replaced, "mu": mu},
        "versions": _versions(),
    }
    traj = Trajectory(traj_latents, sched, noise, pv)
    return RunResult(images, pv, used, traj, timing, record, model_calls)


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
