"""lina_core.speed: the speed-ups compute what the plain modules compute, attach once, obey the
one flag, and leave weights and saving alone."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from lina_core import speed
from lina_core.pipelines import registry


@pytest.mark.parametrize("k,pad", [(3, 1), (1, 0), (5, 2), (3, 0)])
def test_temporal_conv2d_equals_conv3d(k, pad):
    torch.manual_seed(0)
    conv = torch.nn.Conv3d(6, 4, (k, 1, 1), padding=(pad, 0, 0))
    x = torch.randn(2, 6, 7, 5, 3)
    want = conv(x)
    assert speed.is_temporal(conv)
    got = speed.TemporalConv2d().new_forward(conv, x)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)


@pytest.mark.parametrize("conv", [
    torch.nn.Conv3d(4, 4, (3, 3, 3), padding=1),
    torch.nn.Conv3d(4, 4, (3, 1, 1), stride=(2, 1, 1)),
    torch.nn.Conv3d(4, 4, (3, 1, 1), groups=2),
    torch.nn.Conv3d(4, 4, (3, 1, 1), padding=(1, 0, 0), padding_mode="circular"),
    torch.nn.Conv3d(4, 4, (3, 1, 1), padding="same"),
    torch.nn.Conv2d(4, 4, 3),
    type("CausalConv3d", (torch.nn.Conv3d,), {})(4, 4, (3, 1, 1)),   # a forward of its own
])
def test_only_frame_only_convs_are_rewritten(conv):
    assert not speed.is_temporal(conv)


def _frames(pipe, seed=0):
    return pipe("a red ball on a mirror", num_inference_steps=2, num_frames=8, output_type="pt",
                generator=torch.Generator().manual_seed(seed)).frames


def test_apply_attaches_once_and_changes_nothing_but_speed(monkeypatch):
    monkeypatch.setenv(speed.FLAG, "0")
    plain = registry.tiny_toyworld(video=True)
    assert speed.apply(plain) == 0                        # the flag turns it off
    monkeypatch.setenv(speed.FLAG, "1")
    fast = registry.tiny_toyworld(video=True)             # the loader applies it
    n = len(speed.temporal_convs(fast.unet))
    assert n > 0 and all(c._diffusers_hook.get_hook(speed.HOOK_NAME) is not None
                         for c in speed.temporal_convs(fast.unet))
    assert speed.apply(fast) == 0                         # again: nothing more
    assert fast.unet.state_dict().keys() == plain.unet.state_dict().keys()
    torch.testing.assert_close(_frames(fast), _frames(plain), rtol=0, atol=1e-5)


def test_saving_a_sped_up_pipeline_saves_the_same_weights(tmp_path, monkeypatch):
    monkeypatch.setenv(speed.FLAG, "1")
    pipe = registry.tiny_toyworld(video=True)
    pipe.save_pretrained(tmp_path)
    from safetensors.torch import load_file
    saved = load_file(tmp_path / "unet" / "diffusion_pytorch_model.safetensors")
    assert saved.keys() == pipe.unet.state_dict().keys()
    assert all(torch.equal(saved[k], v) for k, v in pipe.unet.state_dict().items())


@pytest.mark.slow   # compiles a tiny UNet with inductor: ~40-80 s on one core
def test_compiled_denoiser_matches_eager_and_guidance_does_not_recompile(monkeypatch):
    """One graph is compiled: with classifier-free guidance off, the guided pass runs on the
    whole batch, the shape of the plain pass.  (Under CFG it runs on the conditional half, a
    second shape and so a second graph: twice the compile time, and nothing more is checked.)"""
    from torch._dynamo.utils import counters
    from lina_core import candidates, engine
    from lina_core.csg import from_prompt
    import torch._inductor.freezing as freezing
    monkeypatch.setenv(speed.FLAG, "1")
    frozen: list[int] = []
    inline = freezing.replace_params_with_constants

    def spy(gm, flat_params, fw_metadata):
        kept = inline(gm, flat_params, fw_metadata)
        frozen.append(sum(1 for i in range(len(flat_params)) if i not in kept))
        return kept
    monkeypatch.setattr(freezing, "replace_params_with_constants", spy)
    eager, fast = registry.tiny_toyworld(), registry.tiny_toyworld()
    assert speed.compile_denoiser(fast) and speed.compile_denoiser(fast)  # one hook either way
    assert list(fast.unet._diffusers_hook.hooks) == [speed.COMPILE_HOOK]
    graph = from_prompt("a red ball on a mirror").graph
    before = counters["stats"]["unique_graphs"]
    spec = dataclasses.replace(
        candidates.spec_for(candidates.get("cplus_guided_k12"), "a red ball on a mirror",
                            graph, steps=6, seed=3), guidance_scale=1.0)
    # compiled, not a cache hit; scalar C++ kernels (no SIMD headers): a third less compile
    # time, and what is pinned here (weights frozen, eager's pixels, no recompile) is the same
    with torch.compiler.config.patch(force_disable_caches=True), \
            torch._inductor.config.patch({"cpp.vec_isa_ok": False}):
        warm = engine.run(fast, spec, previews=False)
    # the latent guidance ran: its target-prompt passes are model calls beyond one per step
    assert warm.record["model_calls"] > spec.steps - warm.record["started_at_step"]
    assert counters["stats"]["unique_graphs"] == before + 1
    n_weights = len(list(fast.unet.parameters()))
    # every compiled graph took the weights as constants
    assert frozen and min(frozen) >= n_weights
    graphs = counters["stats"]["unique_graphs"]
    for s in (spec, dataclasses.replace(spec, seed=4)):
        a = engine.run(eager, s, previews=False).images[0].astype(int)
        b = engine.run(fast, s, previews=False).images[0].astype(int)
        assert abs(a - b).max() <= 1
    assert counters["stats"]["unique_graphs"] == graphs    # a new hook instance: no recompile
    assert list(fast.unet._diffusers_hook.hooks) == [speed.COMPILE_HOOK]


# test_speed_bench.py: the benchmark script (another compile), in a file of its own so that
# `pytest -n 2 --dist loadfile` can run the two compiles on different workers
