"""LINA's loop (lina_core.adaptive), its learned check (lina_core.check) and the benchmark's
replay of recorded tries (lina_core.bench.loop_replay): the policy, save/load identity, and the live
loop on a tiny pipeline (a run the check passes is the baseline, bit for bit)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lina_core import adaptive
from lina_core.bench import loop_replay
from lina_core.check import CheckNet, EarlyCheck, auroc, choose_threshold, p_joint, train_net
from lina_core.lina import GRAPH_FEATURES, LinaSampler, prompt_features
from lina_core.toyworld.data import sample_scene

PROMPT_DIM = len(GRAPH_FEATURES) + 128


# ---------------------------------------------------------------------- the policy


def test_a_run_the_check_passes_is_left_alone():
    d = adaptive.decide((0.9, 0.9), ["donor_k10"], lambda i: pytest.fail("tried"), 0.5, 2)
    assert d.kept == -1 and d.tries == [] and d.reason == "check passed"


def test_the_first_try_that_passes_is_kept_and_nothing_after_it_runs():
    seen = []

    def try_fn(i):
        seen.append(i)
        return [(0.3, 0.9), (0.8, 0.9), (1.0, 1.0)][i]

    d = adaptive.decide((0.2, 0.9), ["a", "b", "c"], try_fn, 0.5, 3)
    assert seen == [0, 1] and d.kept_name == "b" and d.reason == "b passed the check"
    assert [t["passed"] for t in d.tries] == [False, True]


def test_the_budget_caps_tries_and_the_best_rated_run_is_kept():
    d = adaptive.decide((0.2, 0.9), ["a", "b", "c"], lambda i: [(0.4, 0.9), (0.3, 0.9),
                                                                (1, 1)][i], 0.5, 2)
    assert len(d.tries) == 2 and d.kept_name == "a"          # 0.36 beats 0.18 and 0.27
    worse = adaptive.decide((0.4, 0.9), ["a"], lambda i: (0.1, 0.1), 0.5, 2)
    assert worse.kept == -1 and "baseline rated best" in worse.reason


def test_plan_follows_the_ranking_and_puts_the_texture_donor_first_for_texture_failures():
    ranked = ["donor_k10", "texture_k14", "cplus_half", "schedule"]
    allowed = ["none", "donor_k10", "texture_k14", "cplus_half"]
    assert adaptive.plan(ranked, (0.2, 0.9), allowed) == ["donor_k10", "texture_k14",
                                                          "cplus_half"]
    assert adaptive.plan(ranked, (0.9, 0.2), allowed)[0] == "texture_k14"
    assert adaptive.ranked_candidates({"none": 1, "a": 0.1, "b": 0.3}) == ["b", "a"]


# ---------------------------------------------------------------------- the check


def test_auroc_and_threshold():
    assert auroc(np.array([0.9, 0.8, 0.1, 0.2]), np.array([1, 1, 0, 0])) == 1.0
    assert auroc(np.array([0.5, 0.5]), np.array([1, 0])) == 0.5
    p = np.array([[0.1, 1], [0.3, 1], [0.9, 1], [0.95, 1]])
    labels = np.array([[0, 1], [0, 1], [1, 1], [1, 1]])
    thr = choose_threshold(p, labels)
    assert ((p_joint(p) < thr) == ~labels.astype(bool).all(1)).all()


def _synthetic(n=96, seed=0):
    """Red previews are right, blue ones wrong: a check must learn that from pixels."""
    rng = np.random.default_rng(seed)
    ok = rng.random(n) < 0.6
    img = np.zeros((n, 3, 32, 32, 6), np.uint8)
    img[ok, ..., 0] = 200
    img[~ok, ..., 2] = 200
    img = np.clip(img + rng.integers(0, 40, img.shape), 0, 255).astype(np.uint8)
    feats = rng.normal(size=(n, PROMPT_DIM)).astype(np.float32)
    labels = np.stack([ok, np.ones(n, bool)], 1).astype(np.float32)
    return img, feats, labels


def test_the_check_learns_from_the_preview_and_round_trips(tmp_path):
    img, feats, labels = _synthetic()
    net, mu, sd = train_net(img, feats, labels, width=8, epochs=15)
    ck = EarlyCheck(net, mu, sd, {"check_step": 8, "steps": 25, "width": 8,
                                  "n_prompt": PROMPT_DIM})
    ti, tf, tl = _synthetic(seed=1)
    p = ck.probabilities(ti[:, 1], tf)
    assert auroc(1 - p[:, 0], tl[:, 0] < 0.5) > 0.95
    ck.save(tmp_path)
    back = EarlyCheck.load(tmp_path)
    assert np.array_equal(back.probabilities(ti[:, 1], tf), p)
    assert back.step == 8 and back.step_for(50) == 16
    assert (tmp_path / "check.safetensors").is_file() and not list(tmp_path.glob("*.pt"))


# ---------------------------------------------------------------------- replay


def _base(i, ok, p, pv=(1, 1)):
    return {"split": "dev-ood", "category": "shadow", "index": i, "seed": 0, "prompt": "x",
            "physics": ok, "texture": True, "model_calls": 50, "wall_s": 1.0, "check_s": 0.01,
            "p": list(p), "p_verifier": list(pv)}


def _tries(i, base_p, tries, seeds):
    mk = lambda name, ok, p: {"name": name, "physics": ok, "texture": True, "p": list(p),  # noqa
                              "p_verifier": [float(ok), 1.0], "wall_s": 1.0,
                              "model_calls": 50}
    return {"split": "dev-ood", "category": "shadow", "index": i, "seed": 0,
            "base": {**mk("none", False, base_p), "wall_s": 1.0},
            "ranked": [t[0] for t in tries], "allowed": [t[0] for t in tries],
            "tries": [mk(*t) for t in tries], "seeds": [mk(*t) for t in seeds],
            "same_as_kept_baseline": True}


def test_replay_runs_the_loops_policy_on_recorded_tries():
    bases = [_base(0, True, (0.95, 0.95)), _base(1, False, (0.1, 0.9), (0, 1)),
             _base(2, True, (0.2, 0.9))]
    tries = [_tries(1, (0.1, 0.9), [("donor_k10", True, (0.9, 0.9))],
                    [("seed+1", False, (0.2, 0.9))]),
             _tries(2, (0.2, 0.9), [("donor_k10", False, (0.1, 0.9))],
                    [("seed+1", True, (0.9, 0.9))])]
    loop = loop_replay.replay(bases, tries, "loop", 0.5, 2)
    assert [r["joint"] for r in loop] == [True, True, True]       # item 2: baseline kept
    assert [r["kept"] for r in loop] == ["none", "donor_k10", "none"]
    assert loop[1]["calls"] == 100 and loop[0]["calls"] == 50
    seeds = loop_replay.replay(bases, tries, "best_of_n_seeds", 0.5, 2)
    # item 1: no seed passes, the one the check rates above the baseline is kept (and wrong)
    assert [r["kept"] for r in seeds] == ["none", "seed+1", "seed+1"]
    assert [r["joint"] for r in seeds] == [True, False, True]
    s = loop_replay.summarise(loop)
    assert s["repair"]["acc"] == 1.0 and s["break"]["acc"] == 0.0 and s["gain"] > 0
    with pytest.raises(ValueError, match="policy"):
        loop_replay.replay(bases, tries, "magic", 0.5, 2)


# ---------------------------------------------------------------------- the live loop


@pytest.fixture(scope="module")
def pipe():
    from lina_core.pipelines import registry
    return registry.tiny_toyworld()


def _check(threshold: float, max_tries: int = 2, dim: int = len(GRAPH_FEATURES) + 32
           ) -> EarlyCheck:
    """A random-weight check for the tiny pipeline (its text encoder is 32 wide)."""
    torch.manual_seed(0)
    return EarlyCheck(CheckNet(dim, 8), np.zeros(dim), np.ones(dim),
                      {"check_step": 2, "steps": 6, "width": 8, "n_prompt": dim,
                       "loop_threshold": threshold, "max_tries": max_tries})


def _scene():
    for i in range(40):
        s = sample_scene("test-ood", i, category="shadow")
        return s.caption(False), s.graph


def test_a_run_the_check_passes_is_the_baseline_bit_for_bit(pipe):
    prompt, graph = _scene()
    res = LinaSampler(pipe, None, steps=6, check=_check(0.0))(prompt, graph, seed=3)
    assert res.choice.candidate == "none" and res.choice.why["loop"]["tries"] == []
    assert np.array_equal(res.baseline, res.lina)
    assert "nothing changed" in res.choice.why["reason"]
    plain = LinaSampler(pipe, None, steps=6)(prompt, graph, seed=3)
    assert np.array_equal(plain.baseline, res.baseline)


def test_a_failing_check_tries_interventions_within_the_budget(pipe):
    prompt, graph = _scene()
    res = LinaSampler(pipe, None, steps=6, check=_check(1.01, max_tries=2))(prompt, graph,
                                                                           seed=3)
    loop = res.choice.why["loop"]
    assert len(loop["tries"]) == 2 and not any(t["passed"] for t in loop["tries"])
    assert loop["kept"] == res.choice.candidate
    assert res.choice.why["check_step"] == 2
    if res.choice.candidate != "none":
        assert not np.array_equal(res.baseline, res.lina)
    feats = prompt_features(pipe, prompt, graph)
    assert np.isclose(loop["base_p"][0], _check(1.01).probabilities(
        res.baseline_previews[2][0][None], feats, [graph])[0, 0])
    with pytest.raises(ValueError, match="scene graph"):
        _check(1.01).probabilities(res.baseline_previews[2][0][None], feats)
    # the runs as the check read them (the LINA tab shows them): baseline, then each try
    runs = res.tries
    assert [r["name"] for r in runs] == ["baseline"] + [t["name"] for t in loop["tries"]]
    assert [r["kept"] for r in runs].count(True) == 1
    assert runs[0]["checked_at"] == 2 and np.array_equal(runs[0]["preview"],
                                                         res.baseline_previews[2])
    assert np.array_equal(runs[0]["image"], res.baseline[:1]) and not runs[0]["passed"]
    kept = next(r for r in runs if r["kept"])
    assert np.array_equal(kept["image"], res.lina[:1])
    assert [r["p"] for r in runs[1:]] == [t["p"] for t in loop["tries"]]


def test_a_given_candidate_or_an_open_world_scene_skips_the_loop(pipe):
    s = LinaSampler(pipe, None, steps=6, check=_check(1.01))
    prompt, graph = _scene()
    assert not s.adapts(graph, "donor_k10") and s.adapts(graph, None)
    from lina_core.csg import from_prompt
    assert not s.adapts(from_prompt("a cat on a sofa next to a lamp").graph, None)


def test_cli_lina_writes_the_pair_and_the_choice(tmp_path, capsys):
    import json

    from lina_core.__main__ import main
    assert main(["lina", "--tiny", "--steps", "3", "--threads", "1", "--prompt",
                 "a red ball on the floor, lit from the left", "--out", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == {"baseline.png", "lina.png", "lina.json"}
    assert json.loads((tmp_path / "lina.json").read_text())["choice"]["candidate"] == "none"
    assert main(["lina", "--tiny", "--steps", "0", "--out", str(tmp_path)]) == 2
    assert "steps" in capsys.readouterr().err


def test_recorded_tries_replay_what_the_live_loop_does(pipe, tmp_path):
    """The benchmark's path: kept baseline runs, recorded tries rescored by a check, replayed
    by the loop's policy; on a flagged item the replay keeps what the live loop keeps."""
    from lina_core import check_data
    from lina_core.grid import categories, scene

    class Ranker:                      # a predictor stand-in: a fixed ranking
        def features(self, pipe, prompt, graph):
            return None

        def gains(self, feats):
            return {"donor_k10": 0.3, "cplus_half": 0.2, "texture_k14": 0.1, "schedule": 0.0}

    item = {"split": "test-ood", "category": "shadow", "index": 0, "seed": 0}
    rows = check_data.collect(pipe, [item], tmp_path / "kept", steps=9, progress=lambda m: None)
    ck = _check(1.01, max_tries=2)
    ck.meta.update(check_step=5, steps=9)
    out = tmp_path / "tries"
    loop_replay.record_split(pipe, tmp_path / "kept", out, ck, Ranker(), progress=lambda m: None,
                            steps=9)
    bases = loop_replay.base_probabilities(pipe, tmp_path / "kept", ck)
    tries = loop_replay.rescore(out, loop_replay.read_tries(out), ck, pipe, steps=9)
    assert len(tries) == 1 and tries[0]["same_as_kept_baseline"]
    assert np.allclose(tries[0]["base"]["p"], bases[0]["p"])
    replayed = loop_replay.replay(bases, tries, "loop", 1.01, 2)[0]
    graph = scene(item, categories(pipe)).graph
    live = LinaSampler(pipe, Ranker(), steps=9, check=ck)(rows[0]["prompt"], graph,
                                                          seed=rows[0]["noise_seed"])
    assert replayed["kept"] == live.choice.candidate
    assert [t["name"] for t in live.choice.why["loop"]["tries"]] == \
        adaptive.plan(tries[0]["ranked"], bases[0]["p"], tries[0]["allowed"])[:2]


def test_the_app_attaches_a_check_fitted_for_the_same_text_encoder(pipe, tmp_path,
                                                                    monkeypatch):
    from app import state
    from lina_core import service
    from lina_core.lina import Predictor, encoder_fingerprint
    from app.widgets import choice_markdown
    d = len(GRAPH_FEATURES) + 32
    enc = encoder_fingerprint(pipe)
    Predictor(["none", "donor_k10"], np.zeros((2, d)), np.zeros(2), np.zeros(d), np.ones(d),
              0.0, {"text_encoder": enc}).save(tmp_path)
    ck = _check(1.01)
    ck.meta["text_encoder"] = enc
    ck.save(tmp_path)
    monkeypatch.setenv("LINA_PREDICTOR_DIR", str(tmp_path))
    loaded = service.Loaded("toyworld", pipe, "tiny", False)
    service.attach_predictor(loaded)
    assert loaded.check is not None and "early check at step 2" in loaded.predictor_note
    prompt, graph = _scene()
    res = LinaSampler(pipe, loaded.predictor, steps=6, check=loaded.check)(prompt, graph, seed=1)
    md = choice_markdown(res.choice.to_dict(), None, 6)
    assert "**The loop:**" in md and "it is not the verifier" in md
    assert md.count("| `") == 1 + len(res.choice.why["loop"]["tries"])   # baseline + tries
    # the gallery of the loop's runs: each run's preview at its check step and its final picture
    gal = state.loop_gallery(res.tries)
    assert len(gal) == 2 * len(res.tries)
    assert gal[0][1].startswith("baseline: the check failed at step 2")
    assert sum("(LINA kept this)" in c for _, c in gal) == 1
    assert all(im.dtype == np.uint8 and im.ndim == 3 for im, _ in gal)
    ck.meta["text_encoder"] = "another"
    ck.save(tmp_path)
    service.attach_predictor(loaded)
    assert loaded.check is None and loaded.predictor is not None


def test_a_try_is_checked_once_the_run_is_back_on_the_users_scene():
    assert adaptive.try_step("none", 6, 25) == 6 and adaptive.try_step("cplus_half", 6, 25) == 6
    assert adaptive.try_step("donor_k10", 6, 25) == 10       # the donor's scene until step 10
    assert adaptive.try_step("donor_k6", 6, 25) == 6
    assert adaptive.try_step("donor_guided_k12", 6, 25) == 12
    assert adaptive.try_step("texture_k14", 6, 25) == 24     # it changes the picture to the end
    d = adaptive.decide((0.1, 0.9), ["donor_k10"], lambda i: (0.9, 0.9), 0.5, 2,
                        lambda n: adaptive.try_step(n, 6, 25))
    assert d.tries[0]["checked_at"] == 10 and "at step 10" in adaptive.describe(d, 6)


def test_the_schedule_measurement_runs_the_first_try_under_both_schedules(pipe, tmp_path):
    """issue 24.4's measurement: each failing kept run's first try, uniform and reallocated,
    judged; the summary's rates and the rule's decision; a test split is refused."""
    from lina_core import check_data, loop_schedule

    class Ranker:
        def features(self, pipe, prompt, graph):
            return None

        def gains(self, feats):
            return {"cplus_half": 0.3, "donor_k10": 0.2}

    items = [{"split": "dev-ood", "category": "shadow", "index": i, "seed": 0} for i in range(2)]
    check_data.collect(pipe, items, tmp_path / "dev-ood", steps=6, progress=lambda m: None)
    ck = _check(1.01)
    rows = loop_schedule.measure(pipe, tmp_path / "dev-ood", tmp_path / "sched", ck, Ranker(),
                                 steps=6, progress=lambda m: None)
    assert len(rows) == 2 and {r["name"] for r in rows} == {"cplus_half"}
    assert all(r["uniform"]["wall_s"] > 0 and "joint" in r["reallocated"] for r in rows)
    again = loop_schedule.measure(pipe, tmp_path / "dev-ood", tmp_path / "sched", ck, Ranker(),
                                  steps=6, progress=lambda m: None)
    assert again == rows                                    # resumed: nothing run twice
    fake = [dict(rows[0], uniform={"joint": False}, reallocated={"joint": True}),
            dict(rows[1], uniform={"joint": False}, reallocated={"joint": False})]
    s = loop_schedule.summary(fake)
    assert s["all"]["reallocated"]["repaired"] == 1 and s["all"]["difference"]["mean"] == 0.5
    assert "| all | 2 |" in loop_schedule.markdown(s, 0.6)
    with pytest.raises(ValueError, match="test split"):
        loop_schedule.measure(pipe, tmp_path / "test-ood", tmp_path / "x", ck, Ranker())
