"""Run an intervention spec on any diffusers pipeline, through its public API only.

A run is prepare -> denoise -> record.  :func:`prepare` works out everything the call needs:
the per-step prompt embeddings (:mod:`.edits`), the initial noise the engine owns (so a branch
can start from a cached step), a per-run scheduler copy (:mod:`.samplers`), latent guidance
hooks (:mod:`.guidance`) and the per-step jobs (:mod:`.callbacks`).  :func:`denoise` makes the
one pipeline call with the scheduler copy swapped in and the hooks attached, and puts both back;
:func:`record` assembles images, trajectory and the JSON run record.  What differs between model
families is asked of their adapter (:mod:`.adapters`).  No code here assumes 4-D latents.
"""
from __future__ import annotations

import contextlib
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import torch

from . import attention as A
from . import callbacks as J
from . import schedules as S
from . import watch as W
from .adapters import Adapter, adapter_for, family, to_uint8_images  # noqa: F401 (re-exported)
from .edits import Encoder, embeddings_per_step, memo, resolve_donors  # noqa: F401
from .guidance import GuidanceHook, attached, box_mask  # noqa: F401
from .interventions import InterventionSpec, SpecError
from .samplers import Noiser, run_scheduler, schedule_call, set_schedule, starting_at_latents

# ---------------------------------------------------------------------- results


@dataclass
class Trajectory:
    """What a branch needs to start from step k: the latents entering every step."""
    latents: list[torch.Tensor]          # x_0 .. x_n (x_0 includes init_noise_sigma)
    schedule: S.Schedule
    noise: torch.Tensor
    previews: list[np.ndarray]
    attention: dict[str, Any] | None = None   # the run's attention record, if it made one


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


def np_images(images: Any) -> np.ndarray:
    """Pipeline output (PIL list, tensor, or floats in [0, 1]) -> uint8, channels last."""
    if isinstance(images, list) and images and hasattr(images[0], "convert"):
        return np.stack([np.asarray(im.convert("RGB")) for im in images])
    arr = images.cpu().numpy() if torch.is_tensor(images) else np.asarray(images)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8)
    return arr


def default_encoder(pipe: Any, device: Any = None) -> Encoder:
    """Text -> the pipeline's positive embedding kwargs, as its family encodes them, on
    ``device`` (default: the pipeline's execution device, read once here, not per text)."""
    ad = adapter_for(pipe)
    device = pipe._execution_device if device is None else device

    def enc(texts: list[str]) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            return ad.encode(pipe, texts, device)
    return enc


def make_schedule(pipe: Any, spec: InterventionSpec, scheduler: Any) -> S.Schedule:
    """The spec's schedule on ``scheduler`` (a run's copy: reading a default sets its steps)."""
    base = adapter_for(pipe).base_schedule(pipe, spec.steps)
    if spec.schedule.kind == "uniform":
        return base if base is not None else S.uniform(scheduler, spec.steps)
    return S.reallocated(scheduler, spec.steps, spec.schedule.rho, spec.schedule.split,
                         base=base)


def initial_noise(pipe: Any, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """The seed's noise, drawn as the pipeline's own ``prepare_latents`` draws it (CPU)."""
    gen = torch.Generator("cpu").manual_seed(seed)
    return adapter_for(pipe).initial_noise(pipe, shape, gen)


# ---------------------------------------------------------------------- prepare


@dataclass
class Prepared:
    """Everything one pipeline call of a run needs, worked out before any model work."""
    spec: InterventionSpec
    seed: int
    batch: int
    adapter: Adapter
    scheduler: Any                  # the run's own scheduler (pinned copy where needed)
    replaced: str | None            # the user's scheduler class, if it could not branch
    sched: S.Schedule               # the full schedule
    mu: float | None
    k: int                          # the first step this call computes
    noise: torch.Tensor
    latents: list[torch.Tensor]     # the trajectory, filled by the jobs
    previews: list[np.ndarray]
    hooks: dict[str, GuidanceHook]
    jobs: J.StepJobs
    call: dict[str, Any]
    run_mask: J.RunMask | J.AttentionMask | None = None
    donor_captions: dict[int, str] = field(default_factory=dict)
    attention: A.AttentionRun | None = None


@dataclass
class _Start:
    k: int
    latents: torch.Tensor           # the latent entering step k, init sigma included
    prefix: list[torch.Tensor]      # the latents entering steps 0 .. k-1
    previews: list[np.ndarray]
    ref: torch.Tensor | None = None
    inpaint_mask: torch.Tensor | None = None


def _graph(spec: InterventionSpec, graph: Any) -> Any:
    from .csg import CausalSceneGraph
    g = graph if graph is not None else spec.graph
    return g if isinstance(g, CausalSceneGraph) or g is None else CausalSceneGraph.from_dict(g)


def _box(g: Any, node: str, field_name: str) -> list[float]:
    box = g.node(node)["box"] if g is not None else None
    if box is None:
        raise SpecError(f"{field_name}: node {node!r} has no box")
    return box


def _start(pipe: Any, spec: InterventionSpec, noiser: Noiser, noise: torch.Tensor,
           cache: Trajectory | None, reference: torch.Tensor | None, g: Any,
           previews: bool) -> _Start:
    """Where the call starts: step 0 from the noise, the first changed step of a cached
    trajectory, or (inpainting) the reference re-noised to the inpainting's start."""
    if spec.inpaint is None:
        if cache is None:
            sigma0 = float(getattr(noiser.scheduler, "init_noise_sigma", 1.0))
            return _Start(0, noise * sigma0, [], [])
        k = min(spec.first_changed_step(), spec.steps - 1)
        return _Start(k, cache.latents[k], list(cache.latents[:k]),
                      list(cache.previews[:k]) if previews else [])
    if spec.inpaint.mask_from == "attention":
        mask = A.inpaint_mask(g, spec.inpaint.mask_node, getattr(cache, "attention", None),
                              tuple(noise.shape[-2:]))
    else:
        mask = box_mask(_box(g, spec.inpaint.mask_node, "inpaint.mask_node"),
                        tuple(noise.shape[-2:]), 0.04)
    ref = reference if reference is not None else (cache.latents[-1] if cache else None)
    if ref is None:
        raise SpecError("inpaint: needs a reference (run the baseline first)")
    ref = ref.to(device=noise.device, dtype=noise.dtype)
    k = spec.inpaint.start
    if cache is not None:
        prefix, pv = list(cache.latents[:k]), list(cache.previews[:k]) if previews else []
    else:
        prefix = [noiser.renoise(ref, noise, i) for i in range(k)]
        d = adapter_for(pipe).decode_preview(pipe, ref) if previews and k else None
        pv = [d] * k if d is not None else []
    return _Start(k, noiser.renoise(ref, noise, k), prefix, pv, ref, mask)


def _guidance(pipe: Any, spec: InterventionSpec, ad: Adapter, g: Any, encode: Encoder,
              neg: dict[str, torch.Tensor], shape: tuple[int, ...], batch: int,
              ) -> dict[str, GuidanceHook]:
    """One guidance hook per denoiser (Wan 2.2 has two), or none."""
    lg = spec.latent_guidance
    if lg is None or lg.weight == 0:
        return {}
    if lg.mask_from == "run" and not ad.pixel_latents:
        raise SpecError("latent_guidance.mask_from: 'run' needs a model whose latents are "
                        "pixels (ToyWorld); use mask_from 'graph' on this model")
    if lg.mask_from == "attention" and ad.attention_kind is None:
        raise SpecError(f"latent_guidance.mask_from: 'attention' is not recorded for "
                        f"{type(pipe).__name__}; use mask_from 'graph' on this model")
    mask = None       # with mask_from "attention", callbacks.AttentionMask places it later
    if lg.mask_node and lg.mask_from != "attention":
        mask = box_mask(_box(g, lg.mask_node, "latent_guidance.mask_node"), ad.spatial(shape),
                        lg.mask_softness)
    target = encode([lg.target_prompt])["prompt_embeds"]
    negative = _negative(ad, neg, batch)
    return {n: GuidanceHook(target, lg.weight, mask, batch, negative)
            for n in ad.denoiser_names(pipe)}


def _negative(ad: Adapter, neg: dict[str, torch.Tensor], batch: int) -> torch.Tensor | None:
    """The embedding of a separate unconditional call (Wan), as the pipeline passes it."""
    if not (ad.separate_unconditional and neg):
        return None
    return neg["prompt_embeds"].repeat_interleave(batch, 0)


def _jobs(spec: InterventionSpec, ad: Adapter, st: _Start, noise: torch.Tensor,
          noiser: Noiser, hooks: dict[str, GuidanceHook], embeds_at: list[torch.Tensor],
          latents: list[torch.Tensor], pv: list[np.ndarray] | None, g: Any,
          shape: tuple[int, ...], att: A.AttentionRun | None = None,
          ) -> tuple[J.StepJobs, J.RunMask | J.AttentionMask | None]:
    """The per-step jobs, in the order they must run."""
    k, lg, jobs = st.k, spec.latent_guidance, []
    watcher = W.current()
    if watcher is not None:
        jobs.append(J.Watch(k, spec.steps, watcher))
    if st.inpaint_mask is not None:
        jobs.append(J.KeepKnown(k, st.inpaint_mask, st.ref, noise, noiser))
    if pv is not None:
        jobs.append(J.Previews(k, latents, pv, noiser, ad))
    jobs.append(J.RecordLatents(k, latents))
    run_mask: J.RunMask | J.AttentionMask | None = None
    if att is not None:
        jobs.append(J.AttentionStep(k, att.recorder))
    if hooks and lg.mask_from == "attention":
        run_mask = J.AttentionMask(k, g, lg, list(hooks.values()), att.recorder, att.tokens)
        if k >= lg.start:   # from a cache that holds the steps before the mask step
            run_mask.place()
        else:
            jobs.append(run_mask)
    if hooks and lg.mask_from == "run":
        run_mask = J.RunMask(k, g, lg, list(hooks.values()), latents, noiser, ad.spatial(shape))
        if k >= lg.start:   # the call starts at or after the mask step (from a cache)
            run_mask.place(latents[lg.start - 1], latents[lg.start], lg.start)
        else:
            jobs.append(run_mask)
    if hooks:
        jobs.append(J.GuidanceWindow(k, list(hooks.values()), lg.start, lg.end, spec.steps))
    jobs.append(J.PromptSchedule(k, embeds_at))
    return J.StepJobs(jobs), run_mask


def _plain(st: _Start) -> bool:
    """Whether the call starts from the seed's noise at step 0 (else from given latents)."""
    return st.k == 0 and st.inpaint_mask is None


def _call_kwargs(spec: InterventionSpec, ad: Adapter, st: _Start, noise: torch.Tensor,
                 embeds_at: list[torch.Tensor], pos: dict, neg: dict,
                 batch: int) -> dict[str, Any]:
    """The pipeline call's arguments, bar the schedule, size and callback.  A call that does
    not start from the noise gets the latents entering its first step as they are, with a
    scheduler whose ``init_noise_sigma`` is 1 (:func:`samplers.starting_at_latents`)."""
    call = dict(prompt_embeds=embeds_at[st.k], guidance_scale=spec.guidance_scale,
                latents=noise if _plain(st) else st.latents, output_type="np")
    for key, v in pos.items():
        if key != "prompt_embeds":
            call[key] = v.repeat_interleave(batch, 0)
    for key, v in neg.items():
        call["negative_" + key] = v.repeat_interleave(batch, 0)
    return call


def prepare(pipe: Any, spec: InterventionSpec, seed: int, batch: int,
            cache: Trajectory | None, reference: torch.Tensor | None, encoder: Encoder | None,
            size: tuple[int | None, int | None, int | None], graph: Any, previews: bool,
            attention: bool = False) -> Prepared:
    """Everything the call needs; raises :class:`SpecError` before any denoising."""
    ad = adapter_for(pipe)
    height, width, frames = ad.size(pipe, *size)
    scheduler, replaced = run_scheduler(pipe.scheduler)
    device = pipe._execution_device
    encode = memo(encoder or default_encoder(pipe, device))
    sched = make_schedule(pipe, spec, scheduler)
    pos = encode([spec.prompt])
    c = pos["prompt_embeds"].repeat_interleave(batch, 0)
    neg = ad.encode_negative(pipe, spec.negative_prompt, encode) \
        if spec.guidance_scale > 1.0 and ad.uses_negative else {}
    edits, donor_captions = resolve_donors(spec)
    embeds_at = embeddings_per_step(pipe, spec, c, edits, encode)
    shape = ad.latent_shape(pipe, batch, height, width, frames)
    mu = ad.mu(pipe, shape)
    if cache is not None and (tuple(cache.noise.shape) != shape or
                              not torch.allclose(cache.schedule.values, sched.values)):
        raise SpecError("cache: the cached trajectory has another shape or schedule")
    noise = cache.noise if cache is not None else initial_noise(pipe, shape, seed).to(device)
    noiser = Noiser(scheduler, sched, device, mu)
    g = _graph(spec, graph) if (spec.latent_guidance and spec.latent_guidance.mask_node) \
        or spec.inpaint else None
    st = _start(pipe, spec, noiser, noise, cache, reference, g, previews)
    hooks = _guidance(pipe, spec, ad, g, encode, neg, shape, batch)
    att = A.attention_run(pipe, spec, ad, g, pos["prompt_embeds"].shape[1], shape, cache, st.k,
                          _negative(ad, neg, batch)) if attention else None
    latents, pv = st.prefix + [st.latents], st.previews
    jobs, run_mask = _jobs(spec, ad, st, noise, noiser, hooks, embeds_at, latents,
                           pv if previews else None, g, shape, att)
    run_sched = sched.tail(st.k) if st.k else sched
    if not _plain(st):
        scheduler = starting_at_latents(scheduler)
    set_schedule(scheduler, run_sched, device, mu)
    sched_kw, scheduler = schedule_call(pipe, scheduler, run_sched, mu)
    call = _call_kwargs(spec, ad, st, noise, embeds_at, pos, neg, batch)
    call.update(sched_kw, **ad.call_kwargs(height, width, frames),
                callback_on_step_end=jobs, callback_on_step_end_tensor_inputs=jobs.tensor_inputs)
    return Prepared(spec, seed, batch, ad, scheduler, replaced, sched, mu, st.k, noise, latents,
                    pv, hooks, jobs, call, run_mask, donor_captions, att)


# ---------------------------------------------------------------------- denoise and record


@contextlib.contextmanager
def swapped_scheduler(pipe: Any, scheduler: Any) -> Iterator[None]:
    """The pipeline runs with ``scheduler`` for the block (a public component assignment, which
    also updates its config), then gets its own back."""
    own = pipe.scheduler
    pipe.scheduler = scheduler
    try:
        yield
    finally:
        pipe.scheduler = own


def denoise(pipe: Any, p: Prepared, extra_call_kwargs: dict[str, Any] | None = None) -> Any:
    """The one pipeline call; the user's pipeline is as it was afterwards, even on error."""
    names = list(p.hooks)
    with swapped_scheduler(pipe, p.scheduler), \
            attached([getattr(pipe, n) for n in names], [p.hooks[n] for n in names]), \
            A.recorded(pipe, p.attention, p.batch, list(p.hooks.values())):
        return pipe(**{**p.call, **(extra_call_kwargs or {})})


def record(pipe: Any, p: Prepared, out: Any, timing: dict[str, float]) -> RunResult:
    """Images, trajectory and the run record (JSON) of a finished call."""
    images = np_images(out.frames if hasattr(out, "frames") else out.images)
    used = S.used(p.scheduler)
    cfg = p.spec.guidance_scale > 1.0
    passes = 2 if cfg and p.adapter.uses_negative else 1
    extra = sum(h.extra_calls for h in p.hooks.values())
    model_calls = (p.spec.steps - p.k) * passes * p.batch + extra * p.batch
    pinned = "num_inference_steps" in p.call
    rec = {
        "schema_version": 1, "spec": p.spec.to_dict(), "seed": p.seed, "batch": p.batch,
        "model": type(pipe).__name__, "model_path": str(getattr(pipe, "name_or_path", "") or
                                                        pipe.config.get("_name_or_path", "")),
        "schedule_requested": p.sched.to_dict(), "schedule_used": used.to_dict(),
        "schedule_passed_as": "scheduler" if pinned else p.sched.kind,
        "started_at_step": p.k, "model_calls": model_calls,
        "run_mask": (p.run_mask.placed or None) if p.run_mask else None,
        "donor_captions": p.donor_captions or None,
        "scheduler": {"class": _scheduler_class(p.scheduler), "replaced": p.replaced,
                      "mu": p.mu},
        "versions": _versions(),
    }
    att = p.attention.result() if p.attention is not None else None
    traj = Trajectory(p.latents, p.sched, p.noise, p.previews, att)
    out_extra = {"attention": att} if att is not None else {}
    return RunResult(images, p.previews, used, traj, timing, rec, model_calls, out_extra)


def _scheduler_class(scheduler: Any) -> str:
    """The class a pinned copy stands for (``PinnedX`` -> ``X``)."""
    name = type(scheduler).__name__
    return name[len("Pinned"):] if name.startswith("Pinned") else name


def _versions() -> dict[str, str]:
    import diffusers
    return {"torch": torch.__version__, "diffusers": diffusers.__version__}


_LOCKS: "weakref.WeakKeyDictionary[Any, threading.RLock]" = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def pipeline_lock(pipe: Any) -> threading.RLock:
    """The lock every run on ``pipe`` holds from :func:`prepare` to :func:`record`.

    A run swaps its own scheduler into the pipeline and attaches hooks for one call; two runs
    on one pipeline at once would step each other's scheduler (Gradio's cancel frees the queue
    slot while the cancelled call's thread still runs, so the next visitor's job started beside
    it).  Holding this lock makes runs on one pipeline one at a time by construction, whoever
    calls the engine; a cancelled run gives it up within a step, when its watcher stops it.  Kept
    beside the pipeline (weakly), never on it: a run leaves the user's pipeline as it was.
    """
    with _LOCKS_GUARD:
        lock = _LOCKS.get(pipe)
        if lock is None:
            lock = _LOCKS[pipe] = threading.RLock()
        return lock


def run(pipe: Any, spec: InterventionSpec, seed: int | None = None, batch: int = 1,
        cache: Trajectory | None = None, reference: torch.Tensor | None = None,
        encoder: Encoder | None = None, height: int | None = None, width: int | None = None,
        frames: int | None = None, graph: Any = None, previews: bool = True,
        extra_call_kwargs: dict[str, Any] | None = None, attention: bool = False) -> RunResult:
    """Run ``spec`` for ``batch`` images from ``seed`` (default: the spec's seed).

    ``cache``: a baseline :class:`Trajectory` with the same seed and schedule; the run starts from
    its latents at the first step where the spec differs, instead of recomputing the steps before.
    ``reference``: clean latents for masked inpainting (default: the cache's final latents).
    ``attention``: record per-step per-token cross-attention maps (``extra["attention"]``,
    :mod:`.attention`); on whenever latent guidance takes its mask from attention, which then
    needs a cache recorded with attention too, else the run starts from step 0.
    """
    spec.validate()
    lg = spec.latent_guidance
    attention = attention or (lg is not None and lg.mask_from == "attention")
    if attention and lg is not None and lg.mask_from == "attention" and cache is not None \
            and cache.attention is None and spec.inpaint is None:
        cache = None
    t_all = time.perf_counter()
    seed = spec.seed if seed is None else seed
    with pipeline_lock(pipe):
        p = prepare(pipe, spec, seed, batch, cache, reference, encoder, (height, width, frames),
                    graph, previews, attention)
        W.check(p.k, spec.steps)       # the client may have gone while we waited and prepared
        t0 = time.perf_counter()
        out = denoise(pipe, p, extra_call_kwargs)
        timing = {"pipeline_s": time.perf_counter() - t0}
        res = record(pipe, p, out, timing)
    timing["total_s"] = time.perf_counter() - t_all
    return res


# ---------------------------------------------------------------------- baselines and sweeps


def baseline_spec(spec: InterventionSpec) -> InterventionSpec:
    """The same prompt, seed, steps, guidance and schedule, with no intervention."""
    d = spec.to_dict()
    d.update(edits=[], latent_guidance=None, inpaint=None)
    return InterventionSpec.from_dict(d)


def sweep_k(pipe: Any, make_spec: Any, ks: list[int], seed: int, batch: int = 1,
            use_cache: bool = True, **kw: Any) -> tuple[RunResult, dict[int, RunResult]]:
    """Run the baseline once and one variant per ``k``, each from the cached step ``k``."""
    base = run(pipe, baseline_spec(make_spec(ks[0])), seed=seed, batch=batch, **kw)
    out = {}
    for k in ks:
        out[k] = run(pipe, make_spec(k), seed=seed, batch=batch,
                     cache=base.trajectory if use_cache else None, **kw)
    return base, out
