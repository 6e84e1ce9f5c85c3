"""Cross-attention recording (lina_core/attention.py) on the tiny pipelines of every covered family.

What is pinned: recording changes no output; the original processor objects are back after a
run; the recorded probabilities are the ones the original processor multiplies the values by
(read back through the original processor itself, with value weights that make its output the
attention); node words; guidance masks taken from attention; the UI strip.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from lina_core import attention as A
from lina_core import engine
from lina_core.adapters import adapter_for
from lina_core.csg import from_prompt
from lina_core.interventions import LatentGuidance, SpecError
from family_suite import records_attention_and_leaves_the_pipeline
from test_engine import same_state, snapshot
from tiny_pipes import PROMPT, TARGET, adapter_of, build, engine_spec, families, tokenizer

STEPS = 4
#: every tiny pipeline whose family records attention (the adapters' table says), less FLUX
#: with a tiny T5 (the processors of FLUX with the stand-in encoder; test_attention_check runs it)
COVERED = [f for f in families() if adapter_of(f).attention_kind and f != "flux_t5"]
GRAPH = from_prompt(PROMPT).graph


@pytest.fixture(scope="module", params=COVERED)
def model(request, tmp_path_factory):
    torch.manual_seed(0)
    pipe, kw = build(request.param, tmp_path_factory.mktemp(f"tok-{request.param}"))
    return request.param, pipe, kw


def processors(pipe) -> list[int]:
    den = getattr(pipe, adapter_for(pipe).denoiser_names(pipe)[0])
    return [id(m.processor) for m in den.modules() if hasattr(m, "set_processor")]


# ---------------------------------------------------------------------- every covered family


def test_recording_changes_no_output_and_records_every_step(model):
    """Same pictures and trajectory with and without recording; one map per step and token;
    the pipeline as it was (test_engine's snapshot: processor objects included)."""
    _, pipe, kw = model
    records_attention_and_leaves_the_pipeline(pipe, kw, STEPS, processors, snapshot, same_state)


def test_processors_are_recording_during_the_run_only(model):
    """Recording goes through the processor API: during the call every recordable module has
    a RecordingProcessor wrapping its own; before and after, its own."""
    fam, pipe, kw = model
    den = getattr(pipe, adapter_for(pipe).denoiser_names(pipe)[0])
    mods = A.recordable(den, adapter_for(pipe).attention_kind)
    own = [m.processor for m in mods]
    seen = []

    def look(module, args, kwargs):
        seen.append([(type(m.processor).__name__, m.processor.original is p)
                     for m, p in zip(mods, own)])
    h = den.register_forward_pre_hook(look, with_kwargs=True)
    try:
        engine.run(pipe, engine_spec(steps=2), attention=True, **kw)
    finally:
        h.remove()
    assert mods and seen and all(x == ("RecordingProcessor", True) for s in seen for x in s)
    assert [m.processor for m in mods] == own


# ---------------------------------------------------------------------- the probabilities are right


def _through_values(call, rows_in: torch.Tensor, start: int, t: int,
                    proj: torch.nn.Linear) -> torch.Tensor:
    """Per text token j: set ``proj`` so that token j's value is all ones and every other row's
    is zero; then each output channel is its head's probability of j, and the mean over channels
    the mean over heads.  (image queries, t), read off the original processor's output."""
    cols = []
    pinv = torch.linalg.pinv(rows_in)
    for j in range(t):
        target = torch.zeros(rows_in.shape[0], proj.out_features)
        target[start + j] = 1.0
        with torch.no_grad():
            proj.weight.copy_((pinv @ target).T)
            if proj.bias is not None:
                proj.bias.zero_()
            cols.append(call().mean(-1))
    return torch.stack(cols, -1)


def _identity_out(attn) -> None:
    with torch.no_grad():
        if getattr(attn, "to_out", None) is not None:
            attn.to_out[0].weight.copy_(torch.eye(attn.to_out[0].weight.shape[0]))
            attn.to_out[0].bias.zero_()


def _zero(lin: torch.nn.Linear) -> None:
    with torch.no_grad():
        lin.weight.zero_()
        if lin.bias is not None:
            lin.bias.zero_()


def _first(out):
    return (out[0] if isinstance(out, tuple) else out)[0]


@pytest.mark.parametrize("family,kind", [("sd", "cross"), ("wan", "wan")])
def test_cross_probabilities_are_the_processors(tmp_path, family, kind):
    """UNet ``attn2`` (SD) and Wan's ``attn2`` (video tokens x text tokens): the recorded maps
    are what the module's processor weights the values by."""
    pipe, _ = build(family, tmp_path)
    den = pipe.unet if family == "sd" else pipe.transformer
    attn = copy.deepcopy(A.recordable(den, kind)[0])
    t, n = 6, 16 if family == "sd" else 8
    g = torch.Generator().manual_seed(0)
    hs = torch.randn(1, n, attn.to_q.in_features, generator=g)
    ehs = torch.randn(1, t, attn.to_k.in_features, generator=g)
    _identity_out(attn)
    ref = _through_values(lambda: _first(attn(hs, encoder_hidden_states=ehs)), ehs[0], 0, t,
                          attn.to_v)
    with torch.no_grad():
        got = A.PROBS[kind](attn, hs, ehs, A.AttentionRecorder((4, 4)), {})[0]
    assert torch.allclose(got, ref, atol=1e-5)


def test_joint_probabilities_are_the_processors(tmp_path):
    """SD3 joint attention: image queries x text keys, normalised over image and text keys."""
    pipe, _ = build("sd3", tmp_path)
    attn = copy.deepcopy(A.recordable(pipe.transformer, "joint")[0])
    t, n = 6, 16
    g = torch.Generator().manual_seed(0)
    hs = torch.randn(1, n, attn.query_dim, generator=g)
    ehs = torch.randn(1, t, attn.add_k_proj.in_features, generator=g)
    _zero(attn.to_v)
    _identity_out(attn)
    ref = _through_values(lambda: _first(attn(hs, encoder_hidden_states=ehs)), ehs[0], 0, t,
                          attn.add_v_proj)
    with torch.no_grad():
        got = A.PROBS["joint"](attn, hs, ehs, A.AttentionRecorder((4, 4)), {})[0]
    assert torch.allclose(got, ref, atol=1e-5)
    assert float(ref.sum(-1).max()) < 1 - 1e-3, "text keys should not take all the mass"


@pytest.mark.parametrize("stream", ["double", "single"])
def test_flux_probabilities_are_the_processors(tmp_path, stream):
    """FLUX double stream (text and image inputs) and single stream (one concatenated input
    whose first tokens are text), with RoPE: the image-query x text-key block."""
    pipe, _ = build("flux", tmp_path)
    mods = A.recordable(pipe.transformer, "flux")
    attn = copy.deepcopy(next(m for m in mods if (m.added_kv_proj_dim is not None) ==
                              (stream == "double")))
    hd, t, n = attn.head_dim, 4, 16
    g = torch.Generator().manual_seed(0)
    dim = attn.to_q.in_features
    hs, ehs = torch.randn(1, n, dim, generator=g), torch.randn(1, t, dim, generator=g)
    ang = torch.randn(t + n, hd, generator=g)
    rope = (ang.cos(), ang.sin())
    rec = A.AttentionRecorder((4, 4), text_len=t)
    if stream == "double":
        _zero(attn.to_v)
        _identity_out(attn)
        ref = _through_values(lambda: attn(hs, encoder_hidden_states=ehs,
                                           image_rotary_emb=rope)[0][0], ehs[0], 0, t,
                              attn.add_v_proj)
        with torch.no_grad():
            got = A.PROBS["flux"](attn, hs, ehs, rec, {"image_rotary_emb": rope})[0]
    else:
        both = torch.cat([ehs, hs], 1)
        ref = _through_values(lambda: attn(both, image_rotary_emb=rope)[0, t:], both[0], 0, t,
                              attn.to_v)
        with torch.no_grad():
            got = A.PROBS["flux"](attn, both, None, rec, {"image_rotary_emb": rope})[0]
    assert torch.allclose(got, ref, atol=1e-5)


def test_cogvideox_probabilities_are_the_processors(tmp_path):
    """CogVideoX: one [text; video] sequence, RoPE on the video part."""
    pipe, _ = build("cogvideox", tmp_path)
    attn = copy.deepcopy(A.recordable(pipe.transformer, "cog")[0])
    t, n, hd = 4, 8, attn.inner_dim // attn.heads
    g = torch.Generator().manual_seed(0)
    dim = attn.to_q.in_features
    hs, ehs = torch.randn(1, n, dim, generator=g), torch.randn(1, t, dim, generator=g)
    ang = torch.randn(n, hd, generator=g)
    rope = (ang.cos(), ang.sin())
    _identity_out(attn)
    ref = _through_values(lambda: _first(attn(hs, encoder_hidden_states=ehs,
                                              image_rotary_emb=rope)),
                          torch.cat([ehs, hs], 1)[0], 0, t, attn.to_v)
    with torch.no_grad():
        got = A.PROBS["cog"](attn, hs, ehs, A.AttentionRecorder((4, 4)),
                             {"image_rotary_emb": rope})[0]
    assert torch.allclose(got, ref, atol=1e-5)


@pytest.mark.parametrize("fam", ["toyworld", "wan"])
def test_only_the_conditional_first_sample_is_recorded(tmp_path, fam):
    """Under CFG (one batched call on ToyWorld, a separate unconditional call on Wan) the maps
    are the conditional pass's: step 0, whose input is the same noise, records the same maps
    as a run without CFG; and a batch of 2 records its first sample."""
    pipe, kw = build(fam, tmp_path)
    cfg = engine.run(pipe, engine_spec(steps=3), attention=True, **kw).extra["attention"]
    unc = engine.run(pipe, engine_spec(steps=3, guidance_scale=1.0), attention=True, **kw
                     ).extra["attention"]
    assert np.allclose(cfg["maps"][0], unc["maps"][0], atol=1e-6)
    if fam == "toyworld":
        two = engine.run(pipe, engine_spec(steps=3), batch=2, attention=True, **kw
                         ).extra["attention"]
        assert np.allclose(cfg["maps"], two["maps"], atol=1e-5)


# ---------------------------------------------------------------------- node masks


def test_node_tokens_name_each_node(tmp_path):
    tok = tokenizer(tmp_path)
    toks, keep = A.prompt_tokens(tok, PROMPT, 40)
    words = {n: [toks[p].replace("</w>", "") for p in ps]
             for n, ps in A.node_tokens(GRAPH, toks[:keep]).items()}
    assert words == {"obj0": ["large", "red", "ball"], "mirror": ["small", "round", "mirror"]}
    explicit = PROMPT + ", and its reflection appears in the mirror below it"
    toks, keep = A.prompt_tokens(tok, explicit, 40)
    assert "reflection" in A.node_tokens(from_prompt(explicit).graph, toks[:keep])
    bal = "a ice cube and a metal cube on a balance"
    toks, keep = A.prompt_tokens(tok, bal, 40)
    got = {n: [toks[p].replace("</w>", "") for p in ps]
           for n, ps in A.node_tokens(from_prompt(bal).graph, toks[:keep]).items()}
    assert got["obj0"] == ["ice", "cube"] and got["obj1"] == ["metal", "cube"]
    assert got["beam"] == ["balance"] and "tilt" not in got


def test_open_world_entities_are_named_by_their_noun(tmp_path):
    """An open-world entity's tokens are its noun (as written, singular or plural) and the
    adjectives before it that are its attributes; an implied effect no word names has none."""
    tok = tokenizer(tmp_path)
    for prompt, want in (("a black cat sitting on a mirror", {"cat": ["black", "cat"]}),
                         ("two cats on a mirror", {"cat": ["cats"]})):
        g = from_prompt(prompt).graph
        assert g.category == "open"
        toks, keep = A.prompt_tokens(tok, prompt, 40)
        named = A.node_tokens(g, toks[:keep])
        words = {n: [w for w, wp in A.words_of(toks[:keep]) if set(wp) <= set(ps)]
                 for n, ps in named.items()}
        assert {n: words[n] for n in want} == want and "mirror" in words
        assert not [n for n in g.implicit_nodes() if n in named]


def test_node_masks_are_their_tokens_maps():
    toks = ["<|startoftext|>", "a</w>", "red</w>", "ball</w>", "on</w>", "a</w>", "small</w>",
            "round</w>", "mirror</w>", "<|endoftext|>"]
    g = from_prompt("a red ball on a small round mirror").graph
    maps = np.random.default_rng(0).random((3, len(toks), 5, 5)).astype(np.float32)
    m = A.node_masks(g, {"maps": maps, "tokens": toks})
    assert set(m) == {"obj0", "mirror"}
    assert np.allclose(m["obj0"], A.normalise(maps[:, [2, 3]].mean(1)))
    assert m["obj0"].shape == (3, 5, 5) and m["obj0"].max() == pytest.approx(1.0)


def test_thresholds_and_iou():
    m = np.arange(16, dtype=float).reshape(4, 4)
    top = A.threshold(m, "topk", 3)
    assert top.sum() == 3 and top[3, 3] and top[3, 1]
    assert A.threshold(m).sum() == (m > m.mean() + m.std()).sum()
    assert A.iou(top, top) == 1.0 and A.iou(top, ~top) == 0.0


# ---------------------------------------------------------------------- masks for interventions


@pytest.mark.parametrize("fam", ["toyworld", "sd"])
def test_guidance_mask_from_attention(tmp_path, fam):
    """mask_from 'attention': the guidance mask is obj0's attention over steps [0, start), the
    steps before are untouched, and a branch from an attention-recording cache agrees."""
    pipe, kw = build(fam, tmp_path)
    lg = LatentGuidance(TARGET, weight=2.0, start=2, end=4, mask_node="obj0",
                        mask_from="attention")
    base = engine.run(pipe, engine_spec(steps=STEPS), attention=True, **kw)
    g = GRAPH.to_dict()
    r = engine.run(pipe, engine_spec(steps=STEPS, latent_guidance=lg, graph=g), **kw)
    placed = r.record["run_mask"]
    assert placed["from"] == "attention" and placed["steps"] == [0, 1]
    for i in range(3):
        assert torch.equal(base.trajectory.latents[i], r.trajectory.latents[i])
    assert not torch.equal(base.trajectory.latents[3], r.trajectory.latents[3])
    want = A.node_masks(GRAPH, {"maps": base.extra["attention"]["maps"][:2].mean(0)[None],
                                "tokens": base.extra["attention"]["tokens"]})["obj0"][0]
    assert placed["area"] == pytest.approx(float(want.mean()), abs=1e-4)
    b = engine.run(pipe, engine_spec(steps=STEPS, latent_guidance=lg, graph=g),
                   cache=base.trajectory, **kw)
    assert b.record["started_at_step"] == 2 and b.record["run_mask"]["area"] == placed["area"]
    assert torch.allclose(b.trajectory.latents[-1], r.trajectory.latents[-1], atol=1e-5)
    nocache = engine.run(pipe, engine_spec(steps=STEPS), **kw)   # no attention recorded
    c = engine.run(pipe, engine_spec(steps=STEPS, latent_guidance=lg, graph=g),
                   cache=nocache.trajectory, **kw)
    assert c.record["started_at_step"] == 0      # it had to record the steps before start


def test_guidance_mask_from_attention_is_validated(tmp_path):
    pipe, kw = build("toyworld", tmp_path)
    bad = [(dict(start=0, mask_node="obj0"), "latent_guidance.start"),
           (dict(start=2, mask_node=""), "latent_guidance.mask_node"),
           (dict(start=2, mask_node="reflection"), "latent_guidance.mask_node: no word")]
    for extra, msg in bad:
        lg = LatentGuidance(TARGET, end=4, mask_from="attention", **extra)
        with pytest.raises(SpecError, match=msg):
            engine.run(pipe, engine_spec(steps=STEPS, latent_guidance=lg,
                                         graph=GRAPH.to_dict()), **kw)
    ad = adapter_for(pipe)
    ad.attention_kind = None          # an instance attribute: a family that is not covered
    try:
        with pytest.raises(SpecError, match="latent_guidance.mask_from: 'attention' is not"):
            engine.run(pipe, engine_spec(steps=STEPS, latent_guidance=LatentGuidance(
                TARGET, start=1, end=3, mask_node="obj0", mask_from="attention"),
                graph=GRAPH.to_dict()), **kw)
        r = engine.run(pipe, engine_spec(steps=2), attention=True, **kw)
        assert r.extra["attention"]["covered"] is False and r.extra["attention"]["maps"].size == 0
    finally:
        del ad.attention_kind


def test_inpainting_mask_from_attention(tmp_path):
    """Inpainting regenerates where the reference run attended to obj0 and keeps the rest."""
    from lina_core.interventions import Inpaint, PromptEdit
    pipe, kw = build("toyworld", tmp_path)
    base = engine.run(pipe, engine_spec(steps=6), attention=True, **kw)
    ip = Inpaint(start=2, mask_node="obj0", mask_from="attention")
    s = engine_spec(steps=6, inpaint=ip, graph=GRAPH.to_dict(),
                    edits=[PromptEdit("replace", 2, 6, target_prompt=TARGET)])
    r = engine.run(pipe, s, cache=base.trajectory, **kw)
    m = A.inpaint_mask(GRAPH, "obj0", base.extra["attention"], (32, 32)).numpy()
    assert 0 < m.mean() < 0.6
    diff = np.abs(r.images[0].astype(int) - base.images[0].astype(int)).max(-1)
    assert diff[m == 0].max() <= 1, "pixels outside the attention mask moved"
    assert diff[m == 1].mean() > 0.5, "nothing was regenerated inside it"
    plain = engine.run(pipe, engine_spec(steps=6), **kw)
    with pytest.raises(SpecError, match="inpaint.mask_from"):
        engine.run(pipe, s, cache=plain.trajectory, **kw)
    with pytest.raises(SpecError, match="inpaint.mask_from"):
        Inpaint(start=2, mask_node="obj0", mask_from="run").validate(6)


# ---------------------------------------------------------------------- for the UI


def test_attention_strip_draws_one_cell_per_node_and_step():
    rng = np.random.default_rng(0)
    masks = {"obj0": rng.random((5, 8, 8)), "mirror": rng.random((5, 8, 8))}
    img = A.attention_strip(masks, [0, 2, 4], cell=20)
    assert img.dtype == np.uint8 and img.shape[0] == 40 and img.shape[2] == 3
    assert img.shape[1] == 20 * 3 + 8 * len("mirror") + 6
    other = A.attention_strip({**masks, "obj0": 1 - masks["obj0"]}, [0, 2, 4], cell=20)
    assert not np.array_equal(img[:20], other[:20]) and np.array_equal(img[20:], other[20:])
    over = A.attention_strip(masks, [0], cell=20, image=np.zeros((32, 32, 3), np.uint8))
    assert over.shape == (40, 20 + 8 * 6 + 6, 3)


def test_run_strip_shows_the_named_nodes_at_spread_steps(tmp_path):
    pipe, kw = build("toyworld", tmp_path)
    r = engine.run(pipe, engine_spec(steps=STEPS), attention=True, **kw)
    strip, shown = A.run_strip(GRAPH, r.extra["attention"], r.images[0], columns=3, cell=16)
    assert shown == [0, 2, 3]
    # obj0, mirror under a row of step numbers (issue 25: the columns carry their steps)
    assert strip.shape == (A.STEP_HEADER_PX + 2 * 16, 8 * len("mirror") + 6 + 3 * 16, 3)


def test_a_failed_recording_run_leaves_the_pipeline_as_it_was(tmp_path):
    """An error mid-call reaches the caller; the processors and the gate are gone all the same."""
    pipe, kw = build("toyworld", tmp_path)
    before, own = snapshot(pipe), processors(pipe)
    calls = []

    def fail(module, args, kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")
    h = pipe.unet.register_forward_pre_hook(fail, with_kwargs=True)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            engine.run(pipe, engine_spec(steps=STEPS), attention=True, **kw)
    finally:
        h.remove()
    assert processors(pipe) == own and same_state(snapshot(pipe), before)
