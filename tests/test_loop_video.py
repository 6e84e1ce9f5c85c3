"""LINA's loop on clips (issue 24.5): the clip check reads each preview frame, a clip it passes is
the baseline bit for bit, a flagged clip tries candidates and the record says what happened, the
same seed gives the same loop; the benchmark's verifier-as-check replay and the settings' choice.

Tiny random-weight video pipeline, 3 steps: the mechanics, not the accuracy (that is
``docs/results/loop/loop_video.md``)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lina_core import adaptive, engine
from lina_core.check import CheckNet, EarlyCheck
from lina_core.check_files import load_check
from lina_core.clip_check import ClipCheck, choose, combine
from lina_core.lina import GRAPH_FEATURES, LinaSampler
from lina_core.toyworld.video_data import sample_clip

STEPS, FRAMES = 3, 8


@pytest.fixture(scope="module")
def vpipe():
    from lina_core.pipelines import registry
    return registry.tiny_toyworld(video=True)


def _clip_check(threshold: float, max_tries: int = 2, how: str = "min") -> ClipCheck:
    """Random-weight nets for the tiny pipeline (its text encoder is 32 wide)."""
    dim = len(GRAPH_FEATURES) + 32
    torch.manual_seed(0)
    return ClipCheck(CheckNet(dim, 8), np.zeros(dim), np.ones(dim),
                     {"kind": "clip-check", "check_step": 1, "steps": STEPS, "width": 8,
                      "n_prompt": dim, "loop_threshold": threshold, "max_tries": max_tries,
                      "combine": how, "embedding": "encoder"})


def _scene():
    s = sample_clip("test-ood", 0, "shadow")
    return s.caption(False), s.graph


@pytest.fixture(scope="module")
def flagged(vpipe):
    """A clip every check flags (threshold above 1), two tries."""
    prompt, graph = _scene()
    return LinaSampler(vpipe, None, steps=STEPS, check=_clip_check(1.01))(
        prompt, graph, seed=5, frames=FRAMES)


def test_combining_frames():
    p = np.array([[0.9, 0.8], [0.2, 0.9], [0.6, 0.3]])
    assert combine(p, "min", "shadow") == (0.2, 0.3)
    assert combine(p, "last", "shadow") == (0.6, 0.3)
    assert np.allclose(combine(p, "mean", "shadow"), p.mean(0))
    # reflection's still physics holds on the last frame only (verify_video.physics_frames)
    assert combine(p, "rest", "reflection") == (0.6, 0.3)
    with pytest.raises(ValueError, match="combine"):
        combine(p, "max", "shadow")


def test_a_clip_the_check_passes_is_the_baseline_bit_for_bit(vpipe):
    prompt, graph = _scene()
    s = LinaSampler(vpipe, None, steps=STEPS, check=_clip_check(0.0))
    assert s.adapts(graph, None, 1, FRAMES)
    res = s(prompt, graph, seed=5, frames=FRAMES)
    assert res.choice.why["loop"]["tries"] == [] and res.choice.candidate == "none"
    base = engine.run(vpipe, s.baseline_spec(prompt, graph, 5), seed=5, frames=FRAMES)
    assert res.lina.shape == (1, FRAMES, 32, 32, 3)
    assert np.array_equal(res.lina, base.images) and np.array_equal(res.baseline, base.images)


def test_a_flagged_clip_tries_candidates_and_says_why(vpipe, flagged):
    prompt, graph = _scene()
    why = flagged.choice.why
    loop = why["loop"]
    assert why["source"] == "adaptive loop" and why["check_step"] == 1
    assert len(loop["tries"]) == 2 and not any(t["passed"] for t in loop["tries"])
    assert loop["reason"].startswith("no try passed") and loop["kept"] == flagged.choice.candidate
    # what was checked, with what probability: the clip check on the baseline's preview clip
    ck = _clip_check(1.01)
    want = ck.read_clip(flagged.baseline_previews[1][0], ck.features(vpipe, prompt, graph), graph)
    assert np.allclose(loop["base_p"], want)
    runs = flagged.tries
    assert [r["name"] for r in runs] == ["baseline"] + [t["name"] for t in loop["tries"]]
    assert runs[1]["preview"].shape == (1, FRAMES, 32, 32, 3)
    assert all(r["model_calls"] > 0 for r in runs) and all("wall_s" in r for r in runs[1:])
    assert [r["checked_at"] for r in runs[1:]] == [adaptive.try_step(t["name"], 1, STEPS)
                                                  for t in loop["tries"]]
    kept = next(r for r in runs if r["kept"])
    assert np.array_equal(kept["image"], flagged.lina[:1])
    assert "tried" in why["reason"]


def test_the_loop_on_clips_is_deterministic_for_a_seed(vpipe, flagged):
    prompt, graph = _scene()
    again = LinaSampler(vpipe, None, steps=STEPS, check=_clip_check(1.01))(
        prompt, graph, seed=5, frames=FRAMES)
    assert again.choice.why["loop"] == flagged.choice.why["loop"]
    assert np.array_equal(again.lina, flagged.lina)


def test_which_check_reads_clips(vpipe, tmp_path):
    prompt, graph = _scene()
    image = EarlyCheck(*[getattr(_clip_check(0.5), k) for k in ("nets", "mu", "sd")],
                       {"check_step": 1, "steps": STEPS, "width": 8})
    # the image check never reads a clip; the clip check reads clip kinds only
    assert not LinaSampler(vpipe, None, steps=STEPS, check=image).adapts(graph, None, 1, FRAMES)
    ck = _clip_check(0.5)
    assert ck.applies(vpipe, graph) and not ck.applies(vpipe, _still_graph())
    ck.meta["text_encoder"] = "abc"
    ck.save(tmp_path)
    back = load_check(tmp_path)
    assert isinstance(back, ClipCheck) and back.how == "min" and back.reads_clips
    with pytest.raises(ValueError, match="clip-check"):     # not silently the image check
        EarlyCheck.load(tmp_path)
    clip = np.random.default_rng(0).integers(0, 255, (FRAMES, 32, 32, 3), dtype=np.uint8)
    feats = ck.features(vpipe, prompt, graph)
    assert back.read_clip(clip, feats, graph) == ck.read_clip(clip, feats, graph)

    class Pred:
        meta = {"text_encoder": "abc"}
    assert back.fits(Pred()) and not back.fits(None)


def _still_graph():
    from lina_core.toyworld.data import sample_scene
    return sample_scene("test-ood", 0, category="balance").graph


# ---------------------------------------------------------------------- the benchmark's logic


def _row(base_ok, pv, tries, bound=()):
    mk = lambda n, ok, pv_: {"name": n, "physics": ok, "texture": True, "p_verifier": pv_,  # noqa
                             "model_calls": 6, "wall_s": 1.0, "p": [0.1, 0.1]}
    return {"split": "test-ood", "category": "shadow", "index": 0, "seed": 0, "prompt": "x",
            "check_step": 1, "ranked": ["donor_k10", "cplus_half", "texture_k14"],
            "allowed": ["none", "donor_k10", "cplus_half", "texture_k14"],
            "base": {"physics": base_ok, "texture": True, "p": [0.1, 0.1], "p_verifier": pv,
                     "model_calls": 6, "wall_s": 2.0},
            "loop": {"physics": base_ok, "texture": True, "kept": "none", "wall_s": 0.5,
                     "tries": [mk(*t) for t in tries]},
            "bound_runs": [mk(*t) for t in bound]}


def test_the_bound_replays_the_loop_with_the_verifier_reading_the_previews():
    from lina_core.bench.loop_video import bound_row, loop_row
    # the verifier flags the base; the loop's first try (donor_k10) fails it, cplus_half passes
    r = _row(False, [0.0, 1.0], [("donor_k10", False, [0.0, 1.0])],
             [("cplus_half", True, [1.0, 1.0])])
    b = bound_row(r, 0.5, 2)
    assert b["kept"] == "cplus_half" and b["joint"] and b["n_tries"] == 2
    assert b["calls"] == 18 and b["wall"] == 4.0 and not b["base_joint"]
    lp = loop_row(r)
    assert lp["calls"] == 12 and lp["wall"] == 2.5 and lp["n_tries"] == 1
    # a base the verifier passes is kept with no try
    ok = bound_row(_row(True, [1.0, 1.0], []), 0.5, 2)
    assert ok["kept"] == "none" and ok["calls"] == 6 and ok["joint"]
    with pytest.raises(ValueError, match="no recorded run"):
        bound_row(_row(False, [0.0, 1.0], []), 0.5, 2)


def test_the_settings_are_the_best_on_the_fitting_clips():
    rng = np.random.default_rng(0)
    n, f = 40, FRAMES
    labels = np.stack([rng.random(n) < 0.5, np.ones(n, bool)], 1).astype(np.float32)
    noise = {(s, e): [rng.random((f, 2)) for _ in range(n)] for s in (2, 4)
             for e in ("encoder", "mean")}
    # at step 4 with the mean embedding, the last frame's physics says the label
    for i in range(n):
        noise[(4, "mean")][i][-1, 0] = 0.9 if labels[i, 0] else 0.05
        noise[(4, "mean")][i][:, 1] = 1.0
    chosen, scores = choose(noise, ["shadow"] * n, labels)
    assert (chosen["check_step"], chosen["embedding"]) == (4, "mean")
    assert chosen["combine"] in ("last", "rest") and chosen["auroc"] == 1.0
    assert len(scores) == 2 * 4 * 2
    p = np.array([combine(x, chosen["combine"], "shadow") for x in noise[(4, "mean")]])
    assert ((p[:, 0] * p[:, 1] < chosen["loop_threshold"]) == (labels[:, 0] < 0.5)).all()


def test_processes_share_a_split_by_claiming_items(tmp_path):
    """Two processes started together never run the same clip; a stopped one's claim is
    taken over."""
    from lina_core.bench.loop_video import claim
    item = {"split": "test-ood", "category": "shadow", "index": 0, "seed": 0}
    assert claim(tmp_path, item) and not claim(tmp_path, item)   # this process holds it
    (tmp_path / "claims" / "test-ood_shadow_0_0").write_text("0")  # no claimant
    assert claim(tmp_path, item)


def test_fit_diagnostics_say_what_the_check_reads_beyond_the_clip_kind():
    """The fit record's diagnostics: the kind alone (each clip scored by its kind's failure
    rate), the check's AUROC within each kind (null where a kind has one outcome: JSON has no
    NaN), and precision / recall at the loop's threshold."""
    import json
    from lina_core.bench.loop_video import diagnostics
    cats = np.array(["a"] * 4 + ["b"] * 4)
    fails = np.array([1, 1, 1, 1, 0, 0, 1, 0], bool)     # kind a always fails
    # P(physics), P(texture): joint 0.1 on a's clips and b's failure, 0.9 elsewhere
    p = np.array([[0.5, 0.2]] * 4 + [[0.95, 0.95], [0.95, 0.95], [0.5, 0.2], [0.95, 0.95]])
    d = diagnostics(p, fails, cats, threshold=0.5)
    assert d["per_kind"]["a"] == {"n": 4, "failures": 4, "auroc": None, "flagged": 4}
    assert d["per_kind"]["b"]["auroc"] == 1.0 and d["per_kind"]["b"]["flagged"] == 1
    assert d["kind_alone_auroc"] == pytest.approx((4 * 3 + 0.5 * 1 * 3) / 15)
    assert d["precision"] == 1.0 and d["recall"] == 1.0
    json.loads(json.dumps(d, allow_nan=False))            # every number JSON can hold
