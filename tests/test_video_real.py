"""The engine on diffusers' own video pipelines: WanPipeline (2.1, and 2.2's two-stage layout with
a second transformer for the low-noise steps) and CogVideoXPipeline.

Tiny random weights built from configs (tests/tiny_pipes.py), with the released models' default
schedulers, which the engine must replace.  As in tests/test_engine.py, every claim is read back
from what the pipeline did: the per-step latents, the embeddings and timesteps its transformer was
called with, the schedule its scheduler ran.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
import pytest
import torch

from lina_core import engine
from lina_core.samplers import run_scheduler
from lina_core.interventions import InterventionSpec, PromptEdit, ScheduleSpec, SpecError
from test_engine import every_kind_of_intervention, same_state, snapshot
from tiny_pipes import (PROMPT, TARGET, adapter_of, build, cached_baseline, cogvideox_pipeline,
                        engine_spec, families)

STEPS = 6
K = 3
#: the real video families' tiny pipelines (the adapters' table: video and not LINA's own)
FAMILIES = [f for f in families() if adapter_of(f).video and not adapter_of(f).builtin]
#: the scheduler each pipeline is built with (the released models' default), which the engine swaps
DEFAULT_SCHEDULER = {"wan": "UniPCMultistepScheduler", "wan22": "UniPCMultistepScheduler",
                     "cogvideox": "CogVideoXDDIMScheduler"}


@pytest.fixture(scope="module", params=FAMILIES)
def model(request, tmp_path_factory):
    """(family, pipeline, engine.run kwargs), built once per family for this module."""
    pipe, kw = build(request.param, tmp_path_factory.mktemp(f"tok-{request.param}"))
    return request.param, pipe, kw


@pytest.fixture(scope="module")
def baselines() -> dict[str, engine.RunResult]:
    """The baseline run per family: the first run on each pipeline, reused as cache."""
    return {}


def spec(**kw) -> InterventionSpec:
    return engine_spec(**{"steps": STEPS, **kw})


def baseline(model, baselines) -> engine.RunResult:
    return cached_baseline(model, baselines, STEPS)


def plain_call(fam: str, pipe: Any, kw: dict[str, Any], output_type: str, **extra) -> Any:
    """The pipeline called the ordinary way: a prompt, a step count and a seeded generator, with
    the sampler the engine drives in place of the released one (UniPC, CogVideoX's DDIM), set as
    a user would (``pipe.scheduler = ...``) and put back after."""
    with engine.swapped_scheduler(pipe, run_scheduler(pipe.scheduler)[0]):
        return _plain_call(fam, pipe, kw, output_type, **extra)


def _plain_call(fam: str, pipe: Any, kw: dict[str, Any], output_type: str, **extra) -> Any:
    call = dict(prompt=PROMPT, num_inference_steps=STEPS, guidance_scale=3.0, height=kw["height"],
                width=kw["width"], num_frames=kw["frames"], output_type=output_type,
                generator=torch.Generator().manual_seed(3))
    if fam == "cogvideox":   # the tiny transformer's fixed text length (226 on the real models)
        call["max_sequence_length"] = pipe.transformer.config.max_text_seq_length
    call.update(extra)
    return pipe(**{k: v for k, v in call.items() if v is not None}).frames


def to_uint8(frames: np.ndarray) -> np.ndarray:
    return (np.clip(frames, 0, 1) * 255 + 0.5).astype(np.uint8)


def maxdiff(a, b) -> float:
    return float(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).max())


@contextmanager
def denoiser_calls(pipe: Any) -> Iterator[list[dict[str, Any]]]:
    """Every transformer call, in order: which transformer, its text embeddings and timestep."""
    seen: list[dict[str, Any]] = []
    mods = [m for m in (pipe.transformer, getattr(pipe, "transformer_2", None)) if m is not None]
    hooks = []
    for idx, mod in enumerate(mods):
        def hook(m, args, kwargs, idx=idx):
            seen.append({"module": idx, "text": kwargs["encoder_hidden_states"].detach().clone(),
                         "t": kwargs["timestep"].detach().clone()})
        hooks.append(mod.register_forward_pre_hook(hook, with_kwargs=True))
    try:
        yield seen
    finally:
        for h in hooks:
            h.remove()


def per_step(fam: str, seen: list[dict[str, Any]]) -> list[tuple[dict[str, Any], torch.Tensor]]:
    """(call, negative text) per step under CFG.  CogVideoX runs one batched [neg, pos] call a
    step; Wan a conditional call, then an unconditional one."""
    if fam == "cogvideox":
        assert len(seen) == STEPS
        return [(dict(c, text=c["text"][1:]), c["text"][:1]) for c in seen]
    assert len(seen) == 2 * STEPS
    return [(seen[2 * i], seen[2 * i + 1]["text"]) for i in range(STEPS)]


# ---------------------------------------------------------------------- baseline


def test_baseline_equals_plain_pipeline_call(model, baselines):
    """The engine's no-intervention run is the pipeline's own video for the same seed, as a
    N x F x H x W x 3 uint8 array, and its trajectory ends in the pipeline's own final latents."""
    fam, pipe, kw = model
    base = baseline(model, baselines)
    assert base.record["scheduler"]["replaced"] == DEFAULT_SCHEDULER[fam]
    plain = to_uint8(plain_call(fam, pipe, kw, "np"))
    assert base.images.dtype == np.uint8
    assert base.images.shape == plain.shape == (1, kw["frames"], kw["height"], kw["width"], 3)
    # Wan (flow matching): the engine passes the unshifted default sigmas, which the scheduler
    # shifts back in float32; allow one grey level for that rounding
    assert maxdiff(base.images, plain) <= (0 if fam == "cogvideox" else 1)
    latents = plain_call(fam, pipe, kw, "latent")
    assert tuple(latents.shape) == tuple(base.trajectory.latents[-1].shape)
    assert torch.allclose(base.trajectory.latents[-1], latents, atol=1e-4, rtol=1e-4)
    assert len(base.trajectory.latents) == STEPS + 1
    assert base.record["started_at_step"] == 0


def test_wan22_runs_both_transformers(model):
    """Wan 2.2's boundary splits the steps between its two transformers; the engine's run (and so
    every intervention) goes through both."""
    fam, pipe, kw = model
    if fam != "wan22":
        pytest.skip("Wan 2.2 only")
    with denoiser_calls(pipe) as seen:
        r = engine.run(pipe, spec(), **kw)
    steps = per_step(fam, seen)
    boundary = pipe.config.boundary_ratio * pipe.scheduler.config.num_train_timesteps
    for (call, _), t in zip(steps, r.schedule_used.values * 1000):
        assert call["module"] == (0 if t >= boundary else 1)
    assert {c["module"] for c, _ in steps} == {0, 1}


# ---------------------------------------------------------------------- edits at step k


@pytest.mark.parametrize("edit_type", ["interpolate", "replace"])
def test_edit_from_k_changes_nothing_before_k(model, baselines, edit_type):
    fam, pipe, kw = model
    base = baseline(model, baselines)
    r = engine.run(pipe, spec(edits=[PromptEdit(edit_type, K, STEPS, strength=0.8,
                                                target_prompt=TARGET)]), **kw)
    lat_b, lat_r = base.trajectory.latents, r.trajectory.latents
    assert len(lat_r) == len(lat_b) == STEPS + 1
    for i in range(K + 1):          # every latent entering steps 0..k is bit-identical
        assert torch.equal(lat_b[i], lat_r[i]), f"latent {i} changed before step {K}"
    for i in range(K + 1, STEPS + 1):
        assert not torch.equal(lat_b[i], lat_r[i]), f"latent {i}: the edit changed nothing"
    assert r.images.shape == base.images.shape


def test_edit_window_end_restores_prompt(model, baselines):
    """An edit in [k, k+1) reaches the transformer at step k only; the negative is never touched."""
    fam, pipe, kw = model
    baseline(model, baselines)
    with denoiser_calls(pipe) as seen:
        engine.run(pipe, spec(edits=[PromptEdit("replace", K, K + 1, target_prompt=TARGET)]),
                   **kw)
    steps = per_step(fam, seen)
    first, neg0 = steps[0]
    for i, (call, neg) in enumerate(steps):
        assert torch.equal(neg, neg0), f"step {i}: the negative embedding changed"
        if i != K:
            assert torch.equal(call["text"], first["text"]), f"step {i} did not use the prompt"
    assert not torch.equal(steps[K][0]["text"], first["text"])


# ---------------------------------------------------------------------- schedules


def test_reallocated_schedule_is_the_one_the_scheduler_used(model, baselines):
    """Read the schedule back from the scheduler and from the timesteps the transformer saw.

    CogVideoX takes ``timesteps`` (its DDIM is replaced by Euler, which uses them as given).
    WanPipeline's call takes neither ``sigmas`` nor ``timesteps``: the engine runs the call with a
    scheduler pinned to the schedule.  Flow-matching Euler shifts given sigmas
    (``shift * s / (1 + (shift - 1) * s)``, Wan's ``flow_shift``), so the requested schedule is in
    unshifted units and the comparison is with what the scheduler's own shift makes of it.
    """
    fam, pipe, kw = model
    base = baseline(model, baselines)
    with denoiser_calls(pipe) as seen:
        r = engine.run(pipe, spec(schedule=ScheduleSpec("reallocated", rho=0.7)), **kw)
    req = torch.tensor(r.record["schedule_requested"]["values"], dtype=torch.float64)
    used = r.schedule_used.values
    assert torch.allclose(torch.tensor(r.record["schedule_used"]["values"],
                                       dtype=torch.float64), used)
    assert len(req) == len(used) == STEPS
    n_train = pipe.scheduler.config.num_train_timesteps
    if fam == "cogvideox":
        assert r.record["schedule_passed_as"] == "timesteps"
        assert r.schedule_used.kind == "timesteps"
        expected, model_t = req, used
    else:
        assert r.record["schedule_passed_as"] == "scheduler"
        shift = float(run_scheduler(pipe.scheduler)[0].config.shift)
        assert shift == 3.0          # Wan's flow_shift, carried over from its UniPC config
        expected = shift * req / (1 + (shift - 1) * req)
        sch = run_scheduler(pipe.scheduler)[0]
        sch.set_timesteps(sigmas=req.tolist())        # the scheduler's own code says the same
        assert torch.allclose(sch.sigmas[:-1].double(), expected, atol=1e-6)
        assert not torch.allclose(used, req)          # the shift is really there
        model_t = used * n_train
    assert torch.allclose(used, expected, rtol=1e-5, atol=1e-4)
    # what the transformer was called with, step by step
    seen_t = torch.stack([call["t"].double().unique() for call, _ in per_step(fam, seen)])
    assert seen_t.shape == (STEPS, 1)
    assert torch.allclose(seen_t[:, 0], model_t, rtol=1e-5, atol=1e-2)
    # 70% of the steps above the structure split (in requested noise levels), unlike uniform
    u = r.trajectory.schedule.noise_levels(n_train)
    assert (u > 0.6 + 1e-9).sum() == round(0.7 * STEPS)
    assert not torch.allclose(base.schedule_used.values, used)


def test_cogvideox_euler_keeps_the_models_noise_levels(tmp_path):
    """CogVideoX's DDIM shifts the SNR (``snr_shift_scale``), which Euler's config does not know;
    the Euler that replaces it must still denoise at the noise levels the model was trained on."""
    from diffusers import EulerDiscreteScheduler
    pipe = cogvideox_pipeline(tmp_path)
    own = pipe.scheduler
    new, replaced = run_scheduler(pipe.scheduler)
    assert replaced == "CogVideoXDDIMScheduler"
    assert pipe.scheduler is own
    assert type(new).__name__ == "EulerDiscreteScheduler"
    naive = EulerDiscreteScheduler.from_config(own.config)
    assert not torch.allclose(naive.alphas_cumprod.double(), own.alphas_cumprod.double(),
                              atol=1e-3)           # the shift matters
    # the same alphas_cumprod, except the zero-SNR end, floored as Euler floors it
    assert torch.allclose(new.alphas_cumprod.double()[:-1], own.alphas_cumprod.double()[:-1],
                          rtol=1e-5, atol=1e-7)
    assert float(own.alphas_cumprod[-1]) == 0.0
    assert float(new.alphas_cumprod[-1]) == pytest.approx(2 ** -24, rel=1e-4)
    assert new.config.prediction_type == "v_prediction"
    assert new.config.timestep_spacing == "trailing"


# ---------------------------------------------------------------------- trajectory cache


def test_cached_branch_equals_full_recomputation(model, baselines):
    """A branch started from the baseline's cached step k (Wan: on a schedule pinned to the
    tail) ends where a full recomputation ends."""
    fam, pipe, kw = model
    base = baseline(model, baselines)
    s = spec(edits=[PromptEdit("replace", K, STEPS, target_prompt=TARGET)])
    full = engine.run(pipe, s, **kw)
    cached = engine.run(pipe, s, cache=base.trajectory, **kw)
    assert full.record["started_at_step"] == 0 and cached.record["started_at_step"] == K
    assert cached.model_calls == full.model_calls * (STEPS - K) // STEPS
    assert torch.allclose(cached.schedule_used.values, full.schedule_used.values[K:])
    assert len(cached.trajectory.latents) == STEPS + 1
    for a, b in zip(full.trajectory.latents, cached.trajectory.latents):
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)
    assert maxdiff(full.images, cached.images) <= 1
    assert not torch.equal(cached.trajectory.latents[-1], base.trajectory.latents[-1])


# ---------------------------------------------------------------------- sizes and frames


def test_frames_default_to_the_pipelines_own(model):
    """Without a frame count (the app passes none) the engine makes the video the pipeline makes
    by default: WanPipeline's ``num_frames`` default, CogVideoX's transformer ``sample_frames``."""
    fam, pipe, kw = model
    if fam == "wan22":
        pytest.skip("the same frame logic as wan")
    r = engine.run(pipe, spec(steps=2), height=kw["height"], width=kw["width"])
    plain = plain_call(fam, pipe, kw, "np", num_frames=None, num_inference_steps=2)
    assert r.images.shape == plain.shape
    assert maxdiff(r.images, to_uint8(plain)) <= (0 if fam == "cogvideox" else 1)


@pytest.mark.parametrize("bad", [dict(height=24), dict(width=8), dict(frames=8)])
def test_bad_sizes_are_refused_before_model_work(model, bad):
    """Sizes the latents cannot have (sides: a multiple of the VAE factor times the patch; Wan:
    4k+1 frames, which WanPipeline rounds while decoding the latents it is given) are a SpecError
    naming the field, raised before the text encoder or the transformer runs."""
    fam, pipe, kw = model
    if "frames" in bad and fam == "cogvideox":
        pytest.skip("CogVideoXPipeline takes any frame count")
    encoded: list[Any] = []
    h = pipe.text_encoder.register_forward_hook(lambda *a: encoded.append(1))
    try:
        with denoiser_calls(pipe) as seen, pytest.raises(SpecError) as err:
            engine.run(pipe, spec(), **dict(kw, **bad))
    finally:
        h.remove()
    assert next(iter(bad)) in str(err.value)
    assert not seen and not encoded


def test_latent_guidance_guides_each_conditional_pass_once(model, baselines):
    """Latent guidance in [K, STEPS): one extra (target-prompt) call per guided step whether the
    pipeline batches [neg, pos] (CogVideoX) or runs the unconditional pass as a call of its own
    (Wan, which must be left unguided), on both of Wan 2.2's transformers; nothing changes before
    K."""
    from lina_core.interventions import LatentGuidance
    fam, pipe, kw = model
    base = baseline(model, baselines)
    lg = LatentGuidance(target_prompt=TARGET, weight=2.0, start=K, end=STEPS)
    with denoiser_calls(pipe) as seen:
        r = engine.run(pipe, spec(latent_guidance=lg), **kw)
    calls = 1 if fam == "cogvideox" else 2      # transformer calls a step (CFG batched or not)
    assert r.model_calls == STEPS * 2 + (STEPS - K)   # evaluations: cond + uncond + guided
    assert len(seen) == STEPS * calls + (STEPS - K)
    target = engine.default_encoder(pipe)([TARGET])["prompt_embeds"]
    guided = [c for c in seen if c["text"].shape == target.shape and
              torch.equal(c["text"], target.to(c["text"]))]
    assert len(guided) == STEPS - K
    if fam == "wan22":   # the guided steps are low-noise ones: the second transformer's
        assert {c["module"] for c in guided} == {1}
    for i in range(K + 1):
        assert maxdiff(r.trajectory.latents[i], base.trajectory.latents[i]) == 0
    assert maxdiff(r.images, base.images) > 0


def test_a_run_leaves_the_pipeline_exactly_as_it_was(model, baselines):
    """As ``test_engine`` pins it on the image and ToyWorld families: after a run of every kind
    of intervention, from scratch and from the cached baseline, the pipeline's components,
    config, scheduler state, hooks and weights are as they were."""
    fam, pipe, kw = model
    base = baseline(model, baselines)
    before = snapshot(pipe)
    for s in every_kind_of_intervention(fam):
        engine.run(pipe, s, **kw)
        if s.schedule.kind == "uniform":
            engine.run(pipe, s, cache=base.trajectory, **kw)
    assert same_state(snapshot(pipe), before)
