"""LINA's attention check (lina_core/attention_check.py): the graph's edges read on attention
masks, and the loop running with it on the tiny pipelines of every image family (mechanics only:
its accuracy on real weights is not measured here)."""
from __future__ import annotations

import numpy as np
import pytest
from tiny_pipes import build

from lina_core.attention_check import NOT_MEASURED, AttentionCheck, edge_tests
from lina_core.csg import from_prompt
from lina_core.lina import LinaSampler


def blob(cx: float, cy: float, r: float = 0.15, n: int = 16) -> np.ndarray:
    """A soft round mask centred at (cx, cy) in [0, 1] of an n x n grid."""
    ys, xs = np.mgrid[0:n, 0:n] / (n - 1)
    return np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * r * r)).astype(np.float32)


def results(tests):
    return {t.name: t.passed for t in tests}


def test_a_spatial_edge_passes_where_the_masks_agree_and_fails_where_they_do_not():
    g = from_prompt("a cat sitting on a mirror").graph
    right = {"cat": blob(0.5, 0.3), "mirror": blob(0.5, 0.75, 0.25)}
    wrong = {"cat": blob(0.5, 0.8), "mirror": blob(0.5, 0.3, 0.25)}
    tests, unseen = edge_tests(g, right)
    assert results(tests)["cat on mirror"] is True
    assert results(edge_tests(g, wrong)[0])["cat on mirror"] is False
    assert unseen == ["reflection_cat"]              # implicit: no word names it
    assert results(tests)["cat and mirror drawn apart"] is True
    same = {"cat": blob(0.5, 0.5), "mirror": blob(0.5, 0.5)}
    assert results(edge_tests(g, same)[0])["cat and mirror drawn apart"] is False


def test_effects_with_a_word_are_placed_as_the_graph_says():
    # ("a lamp above a cube ..." is ToyWorld's shadow scene since categories recognise graphs)
    g = from_prompt("a lamp above a cat casting a shadow").graph     # open world: a cat
    shadow = next(n for n in g.graph.nodes if n.startswith("shadow"))
    away = {"lamp": blob(0.5, 0.1), "cat": blob(0.5, 0.5), shadow: blob(0.5, 0.85)}
    toward = {"lamp": blob(0.5, 0.1), "cat": blob(0.5, 0.5), shadow: blob(0.5, 0.2)}
    name = f"{shadow} placed as the graph says"
    assert results(edge_tests(g, away)[0])[name] is True
    assert results(edge_tests(g, toward)[0])[name] is False
    assert results(edge_tests(g, away)[0])["lamp above cat"] is True


def test_read_gives_shares_passed_and_says_what_it_could_not_test():
    g = from_prompt("a cat sitting on a mirror").graph
    ck = AttentionCheck()
    maps = np.stack([np.zeros((16, 16), np.float32), blob(0.5, 0.8), blob(0.5, 0.3, 0.25)])
    att = {"maps": maps[None].repeat(3, 0),
           "steps": [0, 1, 2], "tokens": ["a</w>", "cat</w>", "mirror</w>"]}   # CLIP BPE
    r = ck.read(g, att, 1)
    assert r["p"] == [0.0, 1.0]                       # cat under the mirror; apart
    assert ck.probabilities(g, att, 1) == (0.0, 1.0)
    none = ck.read(g, None, 1)
    assert none["p"] is None and "no attention" in none["why"]
    assert ck.probabilities(g, None, 1) == (1.0, 1.0)     # nothing says it is wrong
    assert ck.step_for(25) == 8 and ck.step_for(2) == 1


@pytest.fixture(scope="module", params=["sd", "sdxl", "sd3", "flux"])
def family(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    if request.param == "flux":     # with its tiny T5: FLUX encodes every prompt with T5
        pipe, kw = build("flux_t5", folder)
    else:
        pipe, kw = build(request.param, folder)
    return request.param, pipe, {k: v for k, v in kw.items() if k in ("height", "width")}


def test_the_loop_runs_on_every_image_family_with_the_attention_check(family):
    """The loop reads the run's attention at the check step, records each reading, tries the
    open-world candidates when a test fails, is deterministic for a seed, and says that its
    accuracy on real weights is not measured."""
    name, pipe, size = family
    prompt = "a cat sitting on a mirror"
    g = from_prompt(prompt).graph
    sampler = LinaSampler(pipe, None, steps=4, check=AttentionCheck())
    assert sampler.adapts(g, None)
    res = sampler(prompt, g, seed=1, **size)
    why = res.choice.why
    assert why["source"] == "adaptive loop" and why["check"] == "attention"
    assert NOT_MEASURED in why["reason"]
    readings = why["attention_tests"]
    assert len(readings) == 1 + len(why["loop"]["tries"])
    assert readings[0]["step"] == why["check_step"] == 1
    assert readings[0]["tests"], (name, readings[0])
    assert {t["name"] for t in readings[0]["tests"]} >= {"cat on mirror"}
    tried = [t["name"] for t in why["loop"]["tries"]]
    assert tried == ["cplus_half", "cplus_all"][:len(tried)]
    if why["loop"]["kept"] == "none":
        assert np.array_equal(res.baseline, res.lina)
    again = sampler(prompt, g, seed=1, **size)
    assert np.array_equal(again.lina, res.lina) and again.choice.why["loop"] == why["loop"]


def test_a_passing_check_leaves_the_baseline_alone_and_a_failing_one_tries():
    pipe, kw = build("sd", __import__("tempfile").mkdtemp())
    prompt = "a cat sitting on a mirror"
    g = from_prompt(prompt).graph
    passes = LinaSampler(pipe, None, steps=4, check=AttentionCheck(loop_threshold=0.0))
    r = passes(prompt, g, seed=0, height=32, width=32)
    assert r.choice.why["loop"]["tries"] == [] and np.array_equal(r.baseline, r.lina)
    fails = LinaSampler(pipe, None, steps=4, check=AttentionCheck(loop_threshold=1.01))
    r = fails(prompt, g, seed=0, height=32, width=32)
    assert [t["name"] for t in r.choice.why["loop"]["tries"]] == ["cplus_half", "cplus_all"]
