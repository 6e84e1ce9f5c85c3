"""The intervention engine on tiny random pipelines: ToyWorld, SD 1.x, SD3 and FLUX.

Every family is driven through diffusers' public API only (DESIGN.md section 4); these tests read
back what the pipeline did (trajectory latents, the scheduler's schedule) instead of assuming it.
"""
from __future__ import annotations

import contextlib
import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from lina_core import engine
from lina_core.adapters import adapter_for
from lina_core.guidance import GuidanceHook, attached, mask_like
from lina_core.csg import from_prompt
from lina_core.interventions import (Inpaint, InterventionSpec, LatentGuidance, PromptEdit,
                                     ScheduleSpec, SpecError)
from tiny_pipes import (PROMPT, TARGET, build, cached_baseline, engine_spec, flux_encoder,
                        flux_pipeline, sd_pipeline)

STEPS = 6
K = 3
FAMILIES = ["toyworld", "toyworld_video", "sd", "sdxl", "sd3", "flux"]   # 4-D, 5-D, packed
GRAPH = from_prompt(PROMPT).graph          # nodes obj0, mirror, reflection, each with a box


# the tiny video model's cases are in the slow lane (the costliest tiny pipe: a third of the fast
# lane's time in this file); `make test` runs them all
@pytest.fixture(scope="module", params=[pytest.param(f, marks=pytest.mark.slow)
                                        if f == "toyworld_video" else f for f in FAMILIES])
def model(request, tmp_path_factory):
    """(family, pipeline, engine.run kwargs), built once per family for this module."""
    torch.manual_seed(0)
    pipe, kw = build(request.param, tmp_path_factory.mktemp(f"tok-{request.param}"))
    return request.param, pipe, kw


@pytest.fixture(scope="module")
def baselines():
    """Baseline runs per family (computed once, reused as caches and references)."""
    return {}


def spec(**kw) -> InterventionSpec:
    return engine_spec(**{"steps": STEPS, **kw})


def baseline(model, baselines) -> engine.RunResult:
    return cached_baseline(model, baselines, STEPS)


def maxdiff(a, b) -> float:
    a = torch.as_tensor(np.asarray(a) if not torch.is_tensor(a) else a).double()
    b = torch.as_tensor(np.asarray(b) if not torch.is_tensor(b) else b).double()
    return float((a - b).abs().max())


# ---------------------------------------------------------------------- baseline


def test_baseline_equals_plain_pipeline_call(model, baselines):
    """The engine's no-intervention run is the pipeline's own output for the same seed."""
    fam, pipe, kw = model
    base = baseline(model, baselines)
    call = dict(num_inference_steps=STEPS, guidance_scale=3.0, output_type="np",
                generator=torch.Generator().manual_seed(3))
    if fam == "flux":   # the stand-in T5 encoder: pass its embeddings
        e = flux_encoder([PROMPT])
        call.update(prompt_embeds=e["prompt_embeds"], pooled_prompt_embeds=e[
            "pooled_prompt_embeds"])
    else:
        call["prompt"] = PROMPT
    if "height" in kw:
        call.update(height=kw["height"], width=kw["width"])
    if "frames" in kw:
        call["num_frames"] = kw["frames"]
    out = pipe(**call)
    plain = out.frames if fam == "toyworld_video" else out.images
    plain8 = (np.clip(plain, 0, 1) * 255 + 0.5).astype(np.uint8)
    assert base.images.shape == plain8.shape
    # flow models: the engine passes the unshifted default sigmas, which the scheduler shifts
    # back in float32; allow one grey level for that rounding
    assert maxdiff(base.images, plain8) <= (0 if fam.startswith("toyworld") or fam == "sd"
                                            else 1)
    assert len(base.trajectory.latents) == STEPS + 1
    assert base.record["started_at_step"] == 0


# ---------------------------------------------------------------------- the pipeline is left as it was


def _state(v):
    """A comparable copy of one attribute value (tensors by value, modules by identity)."""
    if torch.is_tensor(v):
        return ("tensor", v.detach().clone())
    if isinstance(v, torch.nn.Module):
        return ("module", id(v))
    if isinstance(v, (list, tuple)):
        return tuple(_state(x) for x in v)
    return ("value", repr(v))


def snapshot(pipe) -> dict:
    """Everything a run could leave changed: which component objects, the pipeline's config,
    the scheduler's whole state, and each module's forward, hooks and weights, and which
    processor object each of its attention modules has (attention recording swaps them)."""
    snap = {"components": {k: id(v) for k, v in pipe.components.items()},
            "config": dict(pipe.config),
            "scheduler": {k: _state(v) for k, v in vars(pipe.scheduler).items()}}
    for name, m in pipe.components.items():
        if isinstance(m, torch.nn.Module):
            snap[name] = {"forward_in_dict": "forward" in m.__dict__,
                          "diffusers_hook": hasattr(m, "_diffusers_hook"),
                          "torch_hooks": (len(m._forward_hooks), len(m._forward_pre_hooks)),
                          "weights": sum(float(p.detach().double().sum()) for p in m.parameters()),
                          "processors": tuple((n, id(x.processor)) for n, x in m.named_modules()
                                              if hasattr(x, "set_processor"))}
    return snap


def same_state(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_state(a[k], b[k]) for k in a)
    if isinstance(a, tuple) and len(a) == 2 and a[0] == "tensor":
        return b[0] == "tensor" and a[1].shape == b[1].shape and torch.equal(a[1], b[1])
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(map(same_state, a, b))
    return a == b


def every_kind_of_intervention(fam: str) -> list[InterventionSpec]:
    g = GRAPH.to_dict()
    lg = dict(target_prompt=TARGET, weight=1.5, start=1, end=4)
    edits = [replace(e, start=min(e.start, STEPS - 1), end=min(e.end, STEPS))
             for e in full_spec().edits]    # one of each type, windows cut to STEPS
    specs = [spec(edits=[e]) for e in edits]
    specs += [spec(latent_guidance=LatentGuidance(**lg)),
              spec(latent_guidance=LatentGuidance(**lg, mask_node="obj0"), graph=g),
              spec(schedule=ScheduleSpec("reallocated", rho=0.7))]
    if fam in ("toyworld", "toyworld_video"):
        specs += [spec(latent_guidance=LatentGuidance(**lg, mask_node="reflection",
                                                      mask_from="run"), graph=g),
                  spec(edits=[PromptEdit("donor", 0, 3, donor="structure",
                                         swaps={"obj0.shape": "cube"})], graph=g)]
    return specs


def test_a_run_leaves_the_pipeline_exactly_as_it_was(model, baselines):
    """After runs of every kind of intervention (from scratch, from the cache, inpainting) the
    user's pipeline has the same components, config, scheduler state and modules."""
    fam, pipe, kw = model
    base = baseline(model, baselines)
    before = snapshot(pipe)
    for s in every_kind_of_intervention(fam):
        engine.run(pipe, s, **kw)
        # from the cache too; on the video model (the costliest tiny pipe) only the image
        # families do that, the branch code being the same
        if s.schedule.kind == "uniform" and fam != "toyworld_video":
            engine.run(pipe, s, cache=base.trajectory, **kw)
    ip = spec(inpaint=Inpaint(start=2, mask_node="obj0"), graph=GRAPH.to_dict(),
              edits=[PromptEdit("replace", 2, STEPS, target_prompt=TARGET)])
    engine.run(pipe, ip, cache=base.trajectory, **kw)
    recorded = engine.run(pipe, spec(), attention=True, **kw)
    # guidance masked by attention, too (not FLUX here: its stand-in T5 has no token strings)
    if adapter_for(pipe).attention_kind is not None and fam != "flux":
        lg = LatentGuidance(TARGET, weight=1.5, start=1, end=4, mask_node="obj0",
                            mask_from="attention")
        engine.run(pipe, spec(latent_guidance=lg, graph=GRAPH.to_dict()),
                   cache=recorded.trajectory, **kw)
        ipa = Inpaint(start=2, mask_node="obj0", mask_from="attention")
        engine.run(pipe, spec(inpaint=ipa, graph=GRAPH.to_dict()), cache=recorded.trajectory,
                   **kw)
    assert same_state(snapshot(pipe), before)


def test_a_failed_run_leaves_the_pipeline_as_it_was(model):
    """An error inside the call (here, raised by the denoiser at the third step, mid-guidance)
    reaches the caller, and the guidance hook and scheduler copy are gone all the same."""
    fam, pipe, kw = model
    before = snapshot(pipe)
    den = getattr(pipe, adapter_for(pipe).denoiser_names(pipe)[0])
    calls = []

    def fail(module, args, kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")
    h = den.register_forward_pre_hook(fail, with_kwargs=True)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            engine.run(pipe, spec(latent_guidance=LatentGuidance(TARGET, weight=1.0, start=0,
                                                                 end=STEPS)), **kw)
    finally:
        h.remove()
    assert same_state(snapshot(pipe), before)


def test_a_cancelled_run_stops_at_the_step_and_leaves_the_pipeline_as_it_was(model):
    """A watcher that stops the run after step 2 (as the app does for a client that has gone):
    the denoiser is called for no step after it, the run raises ``Cancelled``, and the
    pipeline is as it was; a watcher that does not stop sees every step, in order (that run
    comes first: a pipeline's first call may set up its own caches, e.g. FLUX's hook registry)."""
    from lina_core.watch import Cancelled, watching
    fam, pipe, kw = model
    den = getattr(pipe, adapter_for(pipe).denoiser_names(pipe)[0])
    calls, seen = [], []

    def stop_after_two(done: int, total: int) -> None:
        seen.append((done, total))
        if done == 2:
            raise Cancelled("client gone")
    with watching(lambda d, t: seen.append((d, t))):
        engine.run(pipe, spec(guidance_scale=1.0), **kw)
    before = snapshot(pipe)
    for stop in (None, stop_after_two):      # count the denoiser's calls of each run
        h = den.register_forward_pre_hook(lambda *a, **k: calls.append(stop), with_kwargs=True)
        try:
            with watching(stop or (lambda d, t: None)), \
                    pytest.raises(Cancelled) if stop else contextlib.nullcontext():
                engine.run(pipe, spec(guidance_scale=1.0), **kw)
        finally:
            h.remove()
    full_calls = calls.count(None)
    assert seen[:STEPS + 1] == [(i, STEPS) for i in range(STEPS + 1)]   # checked before step 0
    assert seen[STEPS + 1:] == [(0, STEPS), (1, STEPS), (2, STEPS)]
    assert len(calls) - full_calls == 2 * full_calls // STEPS      # two steps' calls, no more
    assert same_state(snapshot(pipe), before)


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
    assert not torch.equal(lat_b[K + 1], lat_r[K + 1]), "the edit at step k changed nothing"
    assert maxdiff(lat_b[-1], lat_r[-1]) > 0
    if fam == "toyworld":           # previews: predicted clean image at each step
        assert len(r.previews) == len(base.previews) == STEPS
        for i in range(K):
            assert np.array_equal(base.previews[i], r.previews[i])
        assert not np.array_equal(base.previews[K], r.previews[K])
        assert not np.array_equal(base.images, r.images)


def test_edit_window_end_restores_prompt(model, baselines):
    """An edit in [k, k+1) is active for exactly one step: later steps use the prompt again."""
    fam, pipe, kw = model
    seen = []
    inner = adapter_for(pipe).denoiser_names(pipe)[0]
    mod = getattr(pipe, inner)
    key = "encoder_hidden_states"

    def hook(m, args, kwargs):
        seen.append(kwargs[key].detach().clone())
    h = mod.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        engine.run(pipe, spec(edits=[PromptEdit("replace", K, K + 1, target_prompt=TARGET)]),
                   **kw)
    finally:
        h.remove()
    assert len(seen) == STEPS
    for i, e in enumerate(seen):
        if i != K:
            assert torch.equal(e, seen[0]), f"step {i} did not use the prompt"
    assert not torch.equal(seen[K], seen[0])


# ---------------------------------------------------------------------- schedules


def test_reallocated_schedule_is_the_one_the_scheduler_used(model):
    """Read the schedule back from the scheduler after the run.

    Discrete (Euler) schedulers take ``timesteps`` as given.  Flow-matching schedulers shift any
    given ``sigmas`` (SD3: ``shift * s / (1 + (shift - 1) * s)``; FLUX-dev: a resolution-
    dependent ``mu``), so the requested schedule is in *unshifted* units and the comparison is with
    what the scheduler's own shift makes of it.
    """
    fam, pipe, kw = model
    r = engine.run(pipe, spec(schedule=ScheduleSpec("reallocated", rho=0.7)), **kw)
    req = torch.tensor(r.record["schedule_requested"]["values"], dtype=torch.float64)
    used = r.schedule_used.values
    assert torch.allclose(torch.tensor(r.record["schedule_used"]["values"],
                                       dtype=torch.float64), used)
    assert len(req) == len(used) == STEPS
    if r.schedule_used.kind == "timesteps":
        expected = req
    else:
        shift = float(pipe.scheduler.config.shift)
        assert not pipe.scheduler.config.use_dynamic_shifting
        expected = shift * req / (1 + (shift - 1) * req)
        # and the scheduler's own code says the same
        sch = type(pipe.scheduler).from_config(pipe.scheduler.config)
        sch.set_timesteps(sigmas=req.tolist())
        assert torch.allclose(sch.sigmas[:-1].double(), expected, atol=1e-6)
        if fam == "sd3":
            assert shift == 3.0 and not torch.allclose(used, req)   # the shift is really there
    assert torch.allclose(used, expected, rtol=1e-5, atol=1e-4)
    # 70% of the steps above the structure split (in requested noise levels), unlike uniform
    u = r.trajectory.schedule.noise_levels()
    assert (u > 0.6 + 1e-9).sum() == round(0.7 * STEPS)
    uni = engine.run(pipe, spec(), **kw)
    assert not torch.allclose(uni.schedule_used.values, used)


# ---------------------------------------------------------------------- trajectory cache


def test_cached_branch_equals_full_recomputation(model, baselines):
    fam, pipe, kw = model
    base = baseline(model, baselines)
    s = spec(edits=[PromptEdit("replace", K, STEPS, target_prompt=TARGET)])
    full = engine.run(pipe, s, **kw)
    cached = engine.run(pipe, s, cache=base.trajectory, **kw)
    assert full.record["started_at_step"] == 0 and cached.record["started_at_step"] == K
    assert cached.model_calls < full.model_calls
    assert len(cached.trajectory.latents) == STEPS + 1
    # equal by construction (the same operations on the same shapes), so equal on every CPU:
    # a branch passes its cached latent as it is, never divided for the pipeline to scale back
    for i, (a, b) in enumerate(zip(full.trajectory.latents, cached.trajectory.latents)):
        assert torch.equal(a, b), f"latents entering step {i} differ by {maxdiff(a, b):.3g}"
    assert np.array_equal(full.images, cached.images)
    if fam == "toyworld":
        assert len(cached.previews) == STEPS
        assert np.array_equal(np.stack(full.previews), np.stack(cached.previews))


def test_cache_with_another_schedule_is_refused(model, baselines):
    fam, pipe, kw = model
    base = baseline(model, baselines)
    with pytest.raises(SpecError, match="cache"):
        engine.run(pipe, spec(schedule=ScheduleSpec("reallocated", rho=0.8),
                              edits=[PromptEdit("replace", K, STEPS, target_prompt=TARGET)]),
                   cache=base.trajectory, **kw)


# ---------------------------------------------------------------------- latent guidance


def test_latent_guidance_weight_zero_equals_baseline(model, baselines):
    fam, pipe, kw = model
    base = baseline(model, baselines)
    r = engine.run(pipe, spec(latent_guidance=LatentGuidance(TARGET, weight=0.0, start=1,
                                                             end=4)), **kw)
    assert np.array_equal(r.images, base.images)
    assert r.model_calls == base.model_calls
    for a, b in zip(r.trajectory.latents, base.trajectory.latents):
        assert torch.equal(a, b)


def test_latent_guidance_with_mask_changes_only_inside_the_mask(model, baselines):
    """At the first guided step the change is ``w * M * (eps+ - eps)`` pushed through a first-order
    step, so the next latent changes inside the mask and (numerically) nowhere else.  SD runs with
    CFG (the wrapper guides the conditional half of [neg, pos]); FLUX has no CFG batch."""
    fam, pipe, kw = model
    base = baseline(model, baselines)
    lg = LatentGuidance(TARGET, weight=2.0, start=K, end=K + 2, mask_node="obj0",
                        mask_softness=0.02)
    r = engine.run(pipe, spec(latent_guidance=lg, graph=GRAPH.to_dict()), **kw)
    assert maxdiff(r.trajectory.latents[-1], base.trajectory.latents[-1]) > 1e-4
    if fam == "toyworld":   # pixel space; the tiny random VAEs barely move pixels
        assert maxdiff(r.images, base.images) > 10
    passes = 1 if fam == "flux" else 2      # FLUX: guidance-distilled, one pass per step
    assert base.model_calls == STEPS * passes
    assert r.model_calls == STEPS * passes + 2    # one extra target pass per guided step
    for i in range(K + 1):
        assert torch.equal(r.trajectory.latents[i], base.trajectory.latents[i])
    delta = (r.trajectory.latents[K + 1] - base.trajectory.latents[K + 1]).abs()
    shape = tuple(base.trajectory.latents[0].shape)
    m = engine.box_mask(GRAPH.node("obj0")["box"], adapter_for(pipe).spatial(shape),
                        lg.mask_softness)
    m = mask_like(m, delta).expand_as(delta)
    inside, outside = delta[m > 0.5], delta[m < 1e-6]
    assert inside.numel() and outside.numel()
    assert float(inside.max()) > 0
    assert float(outside.max()) <= 1e-4 * float(inside.max()) + 1e-7


class _Fake(torch.nn.Module):
    """A denoiser whose output is a function of its text input, to check the CFG split."""

    def forward(self, x, t, encoder_hidden_states=None, return_dict=False):
        return (x * 0 + encoder_hidden_states.mean(dim=(1, 2)).reshape(-1, 1, 1, 1),)


def test_guidance_hook_guides_only_the_conditional_half():
    target = torch.full((1, 2, 4), 5.0)
    mask = torch.zeros(4, 4)
    mask[:2] = 1.0
    fake = _Fake()
    hook = GuidanceHook(target, weight=0.5, mask=mask, batch=1)
    ctx = torch.stack([torch.full((2, 4), 1.0), torch.full((2, 4), 3.0)])   # [neg, pos]
    with attached([fake], [hook]):
        hook.active = True
        out = fake(torch.zeros(2, 1, 4, 4), 10, encoder_hidden_states=ctx)[0]
        assert torch.all(out[0] == 1.0)                        # the unconditional half untouched
        assert torch.all(out[1, :, :2] == 3.0 + 0.5 * (5.0 - 3.0))   # pos + w*M*(eps+ - eps)
        assert torch.all(out[1, :, 2:] == 3.0)
        assert hook.extra_calls == 1
        hook.active = False
        assert torch.all(fake(torch.zeros(2, 1, 4, 4), 10, encoder_hidden_states=ctx)[0][1] == 3.0)
    # removed: the module is as it was (no registry, no instance forward) and unguided
    assert not hasattr(fake, "_diffusers_hook") and "forward" not in fake.__dict__
    hook.active = True
    assert torch.all(fake(torch.zeros(2, 1, 4, 4), 10, encoder_hidden_states=ctx)[0][1] == 3.0)


def test_guidance_hook_leaves_other_hooks_in_place():
    """A module that already has a diffusers hook keeps it after the run's hook is removed."""
    from diffusers.hooks import HookRegistry, ModelHook

    class AddOne(ModelHook):
        def post_forward(self, module, output):
            return (output[0] + 1,)
    fake = _Fake()
    HookRegistry.check_if_exists_or_initialize(fake).register_hook(AddOne(), "user")
    ctx = torch.stack([torch.full((2, 4), 1.0), torch.full((2, 4), 3.0)])
    hook = GuidanceHook(torch.full((1, 2, 4), 5.0), weight=1.0, mask=None, batch=1)
    hook.active = True
    with attached([fake], [hook]):
        guided = fake(torch.zeros(2, 1, 4, 4), 10, encoder_hidden_states=ctx)[0]
    assert torch.all(guided[1] == 6.0)         # (3 + 1 (5 - 3)) + 1: the user's hook ran too
    assert list(fake._diffusers_hook.hooks) == ["user"]
    assert torch.all(fake(torch.zeros(2, 1, 4, 4), 10, encoder_hidden_states=ctx)[0][1] == 4.0)


# ---------------------------------------------------------------------- inpainting (ToyWorld)


@pytest.fixture(scope="module")
def toyworld(tmp_path_factory):
    return build("toyworld", tmp_path_factory.mktemp("tok-inpaint"))[0]


def test_masked_inpainting_keeps_pixels_outside_the_mask(toyworld):
    pipe = toyworld
    base = engine.run(pipe, spec(steps=8))
    s = spec(steps=8, inpaint=Inpaint(start=2, mask_node="obj0"), graph=GRAPH.to_dict(),
             edits=[PromptEdit("replace", 2, 8, target_prompt=TARGET)])
    cached = engine.run(pipe, s, cache=base.trajectory)
    plain = engine.run(pipe, s, reference=base.trajectory.latents[-1])
    assert cached.record["started_at_step"] == plain.record["started_at_step"] == 2
    assert len(cached.trajectory.latents) == len(plain.trajectory.latents) == 9
    assert len(cached.previews) == len(plain.previews) == 8
    assert maxdiff(cached.images, plain.images) <= 1
    m = engine.box_mask(GRAPH.node("obj0")["box"], (32, 32), 0.04).numpy()
    for r in (cached, plain):
        diff = np.abs(r.images[0].astype(int) - base.images[0].astype(int)).max(-1)
        assert diff[m < 1e-3].max() <= 1, "pixels outside the mask moved"
        assert diff[m > 0.5].mean() > 0.5, "nothing was regenerated inside the mask"


def test_inpainting_without_reference_is_refused(toyworld):
    s = spec(inpaint=Inpaint(start=2, mask_node="obj0"), graph=GRAPH.to_dict())
    with pytest.raises(SpecError, match="inpaint"):
        engine.run(toyworld, s)


# ---------------------------------------------------------------------- samplers, FLUX-dev, T5


def test_sampler_without_custom_timesteps_is_replaced_and_recorded(tmp_path):
    """SD 1.5 ships PNDM, which refuses ``timesteps``; the engine swaps in Euler from the same
    config, says so in the run record, and the schedule is still read back as requested."""
    from diffusers import PNDMScheduler
    pipe = sd_pipeline(tmp_path)
    pipe.scheduler = PNDMScheduler(beta_start=0.00085, beta_end=0.012,
                                   beta_schedule="scaled_linear", skip_prk_steps=True,
                                   steps_offset=1)
    r = engine.run(pipe, spec(steps=4, schedule=ScheduleSpec("reallocated", rho=0.5)),
                   height=32, width=32)
    assert r.record["scheduler"] == {"class": "EulerDiscreteScheduler",
                                     "replaced": "PNDMScheduler", "mu": None}
    assert torch.allclose(r.schedule_used.values,
                          torch.tensor(r.record["schedule_requested"]["values"],
                                       dtype=torch.float64), atol=1e-3)
    assert type(pipe.scheduler).__name__ == "PNDMScheduler", "the user's scheduler was replaced"
    again = engine.run(pipe, spec(steps=4), height=32, width=32)
    assert again.record["scheduler"]["replaced"] == "PNDMScheduler"


def test_flux_dynamic_shifting(tmp_path):
    """FLUX.1-dev's scheduler shifts sigmas by ``mu`` from the image size; the engine computes the
    same ``mu`` as FluxPipeline, so its baseline is the plain call and a cached branch matches."""
    from diffusers.pipelines.flux.pipeline_flux import calculate_shift
    pipe = flux_pipeline(tmp_path, dynamic_shift=True)
    kw = dict(height=8, width=8, encoder=flux_encoder)
    base = engine.run(pipe, spec(), **kw)
    e = flux_encoder([PROMPT])
    plain = pipe(prompt_embeds=e["prompt_embeds"], pooled_prompt_embeds=e["pooled_prompt_embeds"],
                 num_inference_steps=STEPS, guidance_scale=3.0, height=8, width=8,
                 output_type="np", generator=torch.Generator().manual_seed(3)).images
    assert maxdiff(base.images, (np.clip(plain, 0, 1) * 255 + 0.5).astype(np.uint8)) <= 1
    mu = calculate_shift(16, 256, 4096, 0.5, 1.15)         # 8x8 px -> 4x4 packed tokens
    assert base.record["scheduler"]["mu"] == pytest.approx(mu)
    r = engine.run(pipe, spec(schedule=ScheduleSpec("reallocated", rho=0.7)), **kw)
    req = torch.tensor(r.record["schedule_requested"]["values"], dtype=torch.float64)
    expected = math.exp(mu) / (math.exp(mu) + (1 / req - 1))
    assert torch.allclose(r.schedule_used.values, expected, atol=1e-5)
    s = spec(edits=[PromptEdit("replace", K, STEPS, target_prompt=TARGET)])
    full, cached = engine.run(pipe, s, **kw), engine.run(pipe, s, cache=base.trajectory, **kw)
    assert cached.record["started_at_step"] == K
    assert torch.allclose(full.trajectory.latents[-1], cached.trajectory.latents[-1], atol=1e-5)


def test_flux_default_encoder_with_a_t5_encoder(tmp_path):
    """FLUX through the engine's own encoder (CLIP pooled + a tiny random T5 encoder behind the
    offline CLIP tokenizer, which stands in for T5's)."""
    pipe = flux_pipeline(tmp_path, t5=True)
    base = engine.run(pipe, spec(steps=3), height=8, width=8)
    r = engine.run(pipe, spec(steps=3, edits=[PromptEdit("replace", 1, 3, target_prompt=TARGET)]),
                   cache=base.trajectory, height=8, width=8)
    assert r.record["started_at_step"] == 1
    assert torch.equal(base.trajectory.latents[1], r.trajectory.latents[1])
    assert not torch.equal(base.trajectory.latents[-1], r.trajectory.latents[-1])


# ---------------------------------------------------------------------- specs


def full_spec() -> InterventionSpec:
    return InterventionSpec(
        prompt=PROMPT, negative_prompt="blurry", steps=25, guidance_scale=4.5, seed=7,
        edits=[PromptEdit("replace", 0, 5, target_prompt=TARGET),
               PromptEdit("interpolate", 3, 10, strength=0.4, target_prompt=TARGET),
               PromptEdit("add_direction", 5, 25, strength=-1.5, direction_from="red",
                          direction_to="blue"),
               PromptEdit("scale_tokens", 2, 6, strength=2.0, words=["red", "ball"]),
               PromptEdit("swap_tokens", 1, 2, target_prompt=TARGET,
                          pairs=[["red", "blue"], ["ball", "cube"]])],
        latent_guidance=LatentGuidance(TARGET, weight=1.5, start=2, end=9,
                                       mask_node="reflection", mask_softness=0.1),
        inpaint=Inpaint(start=4, mask_node="obj0"),
        schedule=ScheduleSpec("reallocated", rho=0.7, split=0.55), graph=GRAPH.to_dict())


def test_every_spec_round_trips_through_json():
    specs = [full_spec(), InterventionSpec(prompt=PROMPT)]
    for t in ("replace", "interpolate", "add_direction", "scale_tokens", "swap_tokens"):
        specs.append(InterventionSpec(prompt=PROMPT, edits=[e for e in full_spec().edits
                                                            if e.type == t]))
    specs.append(InterventionSpec(prompt=PROMPT, latent_guidance=LatentGuidance(TARGET)))
    specs.append(InterventionSpec(prompt=PROMPT, schedule=ScheduleSpec("reallocated", rho=0.0)))
    for s in specs:
        s.validate()
        text = s.to_json()
        back = InterventionSpec.from_json(text)
        assert back == s
        assert back.to_json() == text
        assert json.loads(text)["schema_version"] == 1


def _mutate(path: str, value):
    d = json.loads(full_spec().to_json())
    keys = path.split(".")
    obj = d
    for k in keys[:-1]:
        obj = obj[int(k)] if isinstance(obj, list) else obj[k]
    if value is _DELETE:
        del obj[keys[-1]]
    else:
        obj[keys[-1]] = value
    return d


_DELETE = object()

INVALID = [
    # (what is wrong, path in the JSON, new value, field the message must name)
    ("window start past the last step", "edits.0.start", 30, "edits[0].start"),
    ("window end past the steps", "edits.1.end", 26, "edits[1].end"),
    ("empty window end <= start", "edits.1.end", 3, "edits[1].end"),
    ("negative start", "latent_guidance.start", -1, "latent_guidance.start"),
    ("guidance window empty", "latent_guidance.end", 2, "latent_guidance.end"),
    ("NaN strength", "edits.1.strength", float("nan"), "edits[1].strength"),
    ("infinite strength", "edits.1.strength", float("inf"), "edits[1].strength"),
    ("strength out of range", "edits.2.strength", 99.0, "edits[2].strength"),
    ("NaN guidance weight", "latent_guidance.weight", float("nan"), "latent_guidance.weight"),
    ("unknown edit type", "edits.0.type", "warp", "edits[0].type"),
    ("unknown top-level field", "colour", "red", "colour"),
    ("unknown field in an edit", "edits.0.bogus", 1, "bogus"),
    ("unknown field in the schedule", "schedule.gamma", 1, "gamma"),
    ("missing target prompt", "edits.0.target_prompt", "", "edits[0].target_prompt"),
    ("target prompt not a string", "edits.1.target_prompt", 5, "edits[1].target_prompt"),
    ("missing guidance target", "latent_guidance.target_prompt", "",
     "latent_guidance.target_prompt"),
    ("guidance mask node not in graph", "latent_guidance.mask_node", "unicorn",
     "latent_guidance.mask_node"),
    ("inpaint mask node not in graph", "inpaint.mask_node", "unicorn", "inpaint.mask_node"),
    ("inpaint start out of range", "inpaint.start", 25, "inpaint.start"),
    ("bad schedule kind", "schedule.kind", "karras", "schedule.kind"),
    ("rho above 1", "schedule.rho", 1.5, "schedule.rho"),
    ("rho below 0", "schedule.rho", -0.1, "schedule.rho"),
    ("rho NaN", "schedule.rho", float("nan"), "schedule.rho"),
    ("split out of range", "schedule.split", 1.0, "schedule.split"),
    ("steps too many", "steps", 10_000, "steps"),
    ("steps too few", "steps", 1, "steps"),
    ("steps not an integer", "steps", 2.5, "steps"),
    ("guidance scale out of range", "guidance_scale", 1e6, "guidance_scale"),
    ("negative seed", "seed", -1, "seed"),
    ("empty prompt", "prompt", "  ", "prompt"),
    ("schema version", "schema_version", 2, "schema_version"),
    ("schedule not an object", "schedule", "uniform", "schedule"),
    ("edits not a list", "edits", {"type": "replace"}, "edits"),
    ("graph not an object", "graph", "obj0", "graph"),
]


@pytest.mark.parametrize("what,path,value,field", INVALID, ids=[x[0] for x in INVALID])
def test_invalid_spec_raises_spec_error_naming_the_field(what, path, value, field):
    d = _mutate(path, value)
    with pytest.raises(SpecError) as err:
        InterventionSpec.from_json(json.dumps(d))
    assert field in str(err.value), f"{what}: message {err.value!s:.200} does not name {field}"


def test_invalid_spec_object_raises_on_validate():
    s = full_spec()
    s.edits[0].end = s.edits[0].start
    with pytest.raises(SpecError, match=r"edits\[0\]\.end"):
        s.validate()
    with pytest.raises(SpecError, match="spec: not valid JSON"):
        InterventionSpec.from_json("{not json")


def test_bench_engine_smoke(tmp_path, capsys):
    from lina_core.bench import engine as bench_engine
    out = tmp_path / "bench.json"
    res = bench_engine.main(["--tiny", "--steps", "3", "--reps", "1", "--overhead-reps", "1",
                             "--out", str(out)])
    d = json.loads(out.read_text())
    assert d["sweep"]["model_calls"] == {"cached": 2 * (3 + 3 + 2 + 1), "full": 2 * (3 + 3 * 3)}
    assert d["sweep"]["max_pixel_diff_cached_vs_full"] <= 1 and d["overhead"]["same_image"]
    assert res["sweep"]["ratio"] == d["sweep"]["ratio"] > 0
    text = capsys.readouterr().out
    assert "tiny random ToyWorld" in text and "| k-sweep" in text
