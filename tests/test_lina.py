"""LINA's choice: the candidate family, the predictor, the sampler, the fit protocol and the
benchmark read off the grid; on a tiny random-weight ToyWorld pipeline."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lina_core import candidates as C
from lina_core import engine
from lina_core.__main__ import load_model
from lina_core.bench.methods import method_rows, oracle_share, summarise
from lina_core.csg import from_prompt
from lina_core.donors import DonorError
from lina_core.grid import read_rows, run_item
from lina_core.interventions import InterventionSpec, SpecError
from lina_core.lina import (GRAPH_FEATURES, LinaSampler, Predictor, best_fixed, explain,
                            causal_completion, fit, graph_features, prompt_features,
                            train_predictor)
from lina_core.toyworld.data import sample_scene

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "a large red ball on a small round mirror"
SHADOW = "a red cone on the floor, lit from the left"       # a held-out (shape, side) pair


@pytest.fixture(scope="module")
def pipe():
    return load_model(None, tiny=True)


def test_causal_completion_states_the_implicit_effect():
    g = from_prompt(PROMPT).graph
    assert "reflection" in causal_completion(g)
    assert "reflection" not in PROMPT


def test_replicates_of_one_caption_are_distinct_samples():
    from lina_core.grid import noise_seed
    a = sample_scene("test-ood", 5 * 0 + 2, "buoyancy")
    b = sample_scene("test-ood", 5 * 1 + 2, "buoyancy")
    seeds = {noise_seed({"seed": r}, s.seed) for s in (a, b) for r in (0, 1, 2)}
    assert len(seeds) == 6


def test_family_applies_by_scene():
    names = lambda p: [c.name for c in C.available(from_prompt(p).graph)]  # noqa: E731
    held = names(SHADOW)
    assert "donor_k10" in held and "donor_guided_k12" in held and "none" in held
    seen = names("a red ball on the floor, lit from the left")   # a seen combination
    assert not any(n.startswith("donor") for n in seen) and "cplus_guided_k12" in seen
    scale = names("a red cube larger than a blue ball")           # no implicit effect
    assert not any("guided" in n or n.startswith("donor") for n in scale)


def test_candidate_specs_are_plain_serialisable_specs():
    g = from_prompt(SHADOW).graph
    for cand in C.available(g):
        spec = C.spec_for(cand, SHADOW, g, steps=25, seed=3)
        back = InterventionSpec.from_json(spec.to_json())
        assert back.to_dict() == spec.to_dict()
        assert spec.is_baseline() == (cand.name == "none")
    donor = C.spec_for(C.get("donor_k10"), SHADOW, g)
    assert [(e.type, e.donor, e.start, e.end) for e in donor.edits] == [
        ("donor", "structure", 0, 10)]
    edits, captions = engine.resolve_donors(donor)
    assert edits[0].type == "replace" and captions[0] == edits[0].target_prompt
    assert "ball" in captions[0] and "left" in captions[0]
    guided = C.spec_for(C.get("donor_guided_k12"), SHADOW, g).latent_guidance
    assert guided.mask_from == "run" and guided.mask_node == "shadow"


def test_donor_edits_are_checked_against_the_graph():
    g = from_prompt(SHADOW).graph.to_dict()
    from lina_core.interventions import PromptEdit
    ok = InterventionSpec(prompt=SHADOW, graph=g, edits=[PromptEdit(
        "donor", end=8, swaps={"obj0.shape": "cube"})]).validate()
    assert InterventionSpec.from_json(ok.to_json()).edits[0].swaps == {"obj0.shape": "cube"}
    for swaps, field in (({"obj0.hue": "red"}, "no attribute 'hue'"),
                         ({"obj9.shape": "cube"}, "no node 'obj9'"),
                         ({"obj0.shape": "star"}, "'star' is not one of")):
        with pytest.raises(SpecError, match=r"edits\[0\]\.swaps.*" + field):
            InterventionSpec(prompt=SHADOW, graph=g, edits=[PromptEdit(
                "donor", end=8, swaps=swaps)]).validate()
    with pytest.raises(SpecError, match=r"edits\[0\]\.donor"):
        PromptEdit("donor", end=8, donor="colour").validate(25)
    with pytest.raises(SpecError, match=r"edits\[0\]\.end"):
        PromptEdit("donor", end=40).validate(25)
    with pytest.raises(SpecError, match=r"edits\[0\]: graph: a structure donor needs"):
        scale = from_prompt("a red cube larger than a blue ball").graph.to_dict()
        InterventionSpec(prompt="x", graph=scale, edits=[PromptEdit("donor", end=8)]).validate()
    with pytest.raises(SpecError, match="needs the spec's graph"):
        InterventionSpec(prompt="x", edits=[PromptEdit("donor", end=8)]).validate()


def test_bad_candidates_name_the_field():
    with pytest.raises(SpecError, match="candidate"):
        C.get("donor_k99")
    sampler = LinaSampler(object())
    with pytest.raises(DonorError, match="candidate"):
        sampler.choose("a red cube larger than a blue ball",
                       from_prompt("a red cube larger than a blue ball").graph, "donor_k10")


def test_explicit_cell_equals_the_explicit_caption(pipe):
    """The benchmark's ``explicit`` method is the ``cplus_all`` cell: the same pixels."""
    g = from_prompt(SHADOW).graph
    a = engine.run(pipe, C.spec_for(C.get("cplus_all"), SHADOW, g, steps=4, seed=1),
                   previews=False).images
    b = engine.run(pipe, InterventionSpec(prompt=causal_completion(g), steps=4, seed=1),
                   previews=False).images
    assert np.array_equal(a, b)


def test_mask_from_the_run_is_placed_from_the_predicted_image(pipe):
    g = from_prompt(SHADOW).graph
    from lina_core.csg import layout
    layout(g, np.random.default_rng(0))
    spec = C.spec_for(C.get("donor_guided_k12"), SHADOW, g, steps=6, seed=0)
    r = engine.run(pipe, spec, previews=False)
    m = r.record["run_mask"]
    assert m["node"] == "shadow" and m["step"] == spec.latent_guidance.start
    assert len(m["box"]) == 4 and all(0 <= v <= 1 for v in m["box"])
    # from a cached baseline the run starts at the mask step and places the same mask
    base = engine.run(pipe, InterventionSpec(prompt=SHADOW, steps=6, seed=0), previews=False)
    r2 = engine.run(pipe, spec, cache=base.trajectory, previews=False)
    assert r2.record["run_mask"] == m and np.array_equal(r2.images, r.images)


def test_mask_from_run_needs_a_start_and_a_node():
    from lina_core.interventions import LatentGuidance
    with pytest.raises(SpecError, match="latent_guidance.start"):
        LatentGuidance("x", mask_node="shadow", start=0, mask_from="run").validate(25)
    with pytest.raises(SpecError, match="latent_guidance.mask_from"):
        LatentGuidance("x", mask_node="shadow", start=2, mask_from="pixels").validate(25)


def test_graph_features_name_novelty_and_donors():
    f = dict(zip(GRAPH_FEATURES, graph_features(from_prompt(SHADOW).graph)))
    assert f["category=shadow"] == 1 and f["novel"] == 1 and f["donor"] == 1
    f = dict(zip(GRAPH_FEATURES, graph_features(
        from_prompt("a red ball on the floor, lit from the left").graph)))
    assert f["novel"] == 0 and f["donor"] == 0


def test_relational_scenes_have_their_category_and_a_donor_feature():
    f = dict(zip(GRAPH_FEATURES, graph_features(
        from_prompt("a red cone close to the water and on the sand").graph)))
    assert f["category=place"] == 1 and f["novel*place"] == 1 and f["donor"] == 1
    assert f["n_implicit"] == 0


def test_a_predictor_fitted_on_fewer_categories_gets_its_own_features(pipe):
    """A predictor saved when there were five categories keeps working: its features are
    computed by the names it was fitted on, in their order."""
    five = [n for n in GRAPH_FEATURES if not any(c in n for c in ("roles", "fill", "place"))]
    g = from_prompt(SHADOW).graph
    full = dict(zip(GRAPH_FEATURES, graph_features(g)))
    assert graph_features(g, five).tolist() == [full[n] for n in five]
    d = len(five) + prompt_features(pipe, SHADOW, g).shape[0] - len(GRAPH_FEATURES)
    old = Predictor(["none"], np.zeros((1, d)), np.zeros(1), np.zeros(d), np.ones(d), 0.1,
                    {"graph_features": five})
    assert old.features(pipe, SHADOW, g).shape == (d,) and old.fits(pipe) is None


@pytest.mark.slow   # fits a predictor: over 4 s on 2 cores
def test_a_fitted_predictor_names_its_text_encoder(pipe, tmp_path):
    from lina_core.lina import encoder_fingerprint
    pred, _ = fit(pipe, _grid_rows(pipe, "dev-ood", 0), tmp_path / "pred")
    back = Predictor.load(tmp_path / "pred")
    assert back.meta["text_encoder"] == encoder_fingerprint(pipe) and back.fits(pipe) is None
    other = copy.deepcopy(pipe)
    with torch.no_grad():
        next(other.text_encoder.parameters()).add_(1e-3)
    assert "fitted for text encoder" in back.fits(other)


def _toy_table(n: int = 12, d: int = 4, seed: int = 0):
    """Features whose first column says whether candidate 1 helps."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(GRAPH_FEATURES) + d)).astype(np.float32)
    helps = x[:, 0] > 0
    gains = np.stack([np.zeros(n), np.where(helps, 0.8, -0.5), np.full(n, -0.3)], 1)
    return x, gains, np.ones_like(gains, bool), helps


def test_predictor_learns_when_to_intervene_and_round_trips(tmp_path):
    x, gains, avail, helps = _toy_table()
    pred = train_predictor(x, gains, avail, ["none", "a", "b"], alpha=1.0, threshold=0.1)
    picks = [pred.choose(f, ["none", "a", "b"])[0] for f in x]
    assert picks == ["a" if h else "none" for h in helps]
    assert pred.choose(x[int(np.argmax(helps))], ["none", "b"])[0] == "none"   # a not allowed
    pred.save(tmp_path)
    back = Predictor.load(tmp_path)
    assert [back.choose(f, ["none", "a", "b"]) for f in x] == \
        [pred.choose(f, ["none", "a", "b"]) for f in x]
    assert json.loads((tmp_path / "predictor.json").read_text())["candidates"] == [
        "none", "a", "b"]


def test_old_predictor_folders_are_refused_with_a_message(tmp_path):
    (tmp_path / "predictor.json").write_text(json.dumps({"params": ["lambda_p"]}))
    with pytest.raises(ValueError, match="refit"):
        Predictor.load(tmp_path)


def test_sampler_baseline_equals_plain_pipeline_call(pipe):
    res = LinaSampler(pipe, steps=6)(SHADOW, seed=5, candidate="donor_k6")
    plain = pipe(SHADOW, num_inference_steps=6, guidance_scale=3.0,
                 generator=torch.Generator().manual_seed(5), output_type="np").images
    plain8 = (np.clip(plain, 0, 1) * 255 + 0.5).astype(np.uint8)
    assert np.array_equal(res.baseline, plain8)
    assert not np.array_equal(res.lina, res.baseline)
    why = res.choice.why
    assert why["source"] == "chosen by hand" and why["intervention"]["window"] == [0, 1]
    assert why["intervention"]["donor"]["causal_parents_kept"] == ["light.side"]
    assert len(res.baseline_previews) == len(res.lina_previews) == 6


def test_sampler_without_predictor_runs_no_intervention(pipe):
    res = LinaSampler(pipe, steps=4)(SHADOW, seed=2)
    assert res.choice.candidate == "none" and np.array_equal(res.lina, res.baseline)
    assert "no predictor" in res.choice.why["source"]


def _grid_rows(pipe, split: str, idx: int, steps: int = 3) -> list[dict]:
    rows = []
    for cat in ("shadow", "scale"):
        for seed in (0, 1):
            rows += run_item(pipe, {"split": split, "category": cat, "index": idx, "seed": seed},
                             steps, tuple(C.available(sample_scene(
                                 split, idx * 5 + ("reflection", "shadow", "buoyancy", "balance",
                                                   "scale").index(cat), cat).graph)))
    return rows


@pytest.mark.slow   # builds and fits a candidate grid: ~7 s; the predictor and the
#                     sampler keep fast tests
def test_fit_refuses_test_ood_and_bench_reads_the_grid(pipe, tmp_path):
    dev = _grid_rows(pipe, "dev-ood", 0)
    assert {r["verdict"] for r in dev} <= {"ok", "wrong", "undetermined"}
    with pytest.raises(ValueError, match="test-ood"):
        fit(pipe, dev + [dict(dev[0], split="test-ood")])
    pred, rep = fit(pipe, dev, tmp_path / "pred")
    assert rep["best_fixed"] == best_fixed(dev, rep["candidates"])
    test = _grid_rows(pipe, "test-ood", 0)
    choices = {r["prompt"]: (pred.choose(prompt_features(pipe, r["prompt"],
                                                         from_prompt(r["prompt"]).graph),
                                         [x["candidate"] for x in test
                                          if x["prompt"] == r["prompt"]])[0], 0.0)
               for r in test}
    rows = method_rows(test, choices, rep["best_fixed"])
    from lina_core.bench.methods import cells_needed
    from lina_core.csg import CATEGORIES
    items = [{"split": "test-ood", "category": c, "index": 0, "seed": 0}
             for c in ("shadow", "scale")]
    need = cells_needed(pipe, pred, items, CATEGORIES)
    assert {"none", "cplus_all", "schedule", rep["best_fixed"]} <= need
    assert {c for c, _ in choices.values()} <= need
    by = {(r["category"], r["seed"], r["method"]): r for r in rows}
    for (cat, seed, m), r in by.items():
        cell = [x for x in test if x["category"] == cat and x["seed"] == seed and
                x["candidate"] == r["candidate"]] if m != "best_of_grid" else None
        if cell:
            assert r["joint"] == (cell[0]["physics"] and cell[0]["texture"])
        if m == "oracle":      # chosen on the other seed of the same prompt only
            other = [x for x in test if x["category"] == cat and x["seed"] != seed]
            assert r["candidate"] in {x["candidate"] for x in other}
    summary = summarise(rows)
    assert {s["method"] for s in summary} >= {"baseline", "lina", "oracle", "best_of_grid"}
    base = next(s for s in summary if s["method"] == "baseline" and s["category"] == "all")
    assert base["gain"] == 0 and base["wall_ratio"] == pytest.approx(1.0)
    assert oracle_share(summary, "test-ood") is None or np.isfinite(
        oracle_share(summary, "test-ood"))


#: two categories, two seeds: four cells, two per process (five categories tested nothing more
#: about process counts and resuming, at 2.5x the work)
GRID_CATEGORIES = "reflection,shadow"


def _run_grid_cli(n_proc: int, out: Path) -> list[dict]:
    # no torch.compile: its compile, in each of three launches, was most of this test's
    # minutes; the compiled path's equality is pinned in tests/test_speed.py
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", LINA_FAST="0")
    multi = ["--multi_gpu"] if n_proc > 1 else []   # torchrun launcher; gloo group on CPU
    cmd = [sys.executable, "-m", "accelerate.commands.launch", *multi, "--num_processes",
           str(n_proc), "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend",
           "no", "-m", "lina_core", "grid", "--tiny", "--splits", "dev-ood", "--n", "1",
           "--seeds", "0,1", "--categories", GRID_CATEGORIES, "--steps", "3", "--threads", "1",
           "--out", str(out)]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return read_rows(out)


@pytest.mark.slow
def test_grid_does_not_depend_on_process_count_and_resumes(tmp_path, monkeypatch):
    """Two accelerate processes write the rows one process writes (the one process is this
    one: the same command without a launcher, which is what accelerate runs with one process
    anyway); a rerun finds every cell done and adds nothing."""
    pytest.importorskip("accelerate")
    from cli_runner import run_cli
    monkeypatch.setenv("LINA_FAST", "0")

    def in_process() -> list[dict]:
        r = run_cli("grid", "--tiny", "--splits", "dev-ood", "--n", "1", "--seeds", "0,1",
                    "--categories", GRID_CATEGORIES, "--steps", "3", "--threads", "1",
                    "--out", str(tmp_path / "one"))
        assert r.returncode == 0, r.stderr[-2000:]
        return read_rows(tmp_path / "one")
    one = in_process()
    two = _run_grid_cli(2, tmp_path / "two")
    strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_s"} for r in rows]  # noqa
    assert {(r["category"], r["seed"]) for r in one} == {
        (c, s) for c in GRID_CATEGORIES.split(",") for s in (0, 1)}
    assert strip(one) == strip(two)
    again = in_process()
    assert strip(again) == strip(one)
    n_lines = sum(len(f.read_text().splitlines()) for f in (tmp_path / "one").glob("rows.*"))
    assert n_lines == len(one)


def test_every_candidate_leaves_the_pipeline_as_it_was(pipe):
    """After a run of every kind of intervention the user's pipeline has the same component
    objects, the same scheduler object and the same scheduler config."""
    from lina_core.csg import layout
    from lina_core.interventions import Inpaint
    g = layout(from_prompt(SHADOW).graph, np.random.default_rng(0))
    before = {k: id(v) for k, v in pipe.components.items()}
    sched = pipe.scheduler
    config = dict(pipe.scheduler.config)
    base = engine.run(pipe, InterventionSpec(prompt=SHADOW, steps=4), previews=False)
    for cand in C.available(g):
        engine.run(pipe, C.spec_for(cand, SHADOW, g, steps=4), previews=False)
    inpaint = InterventionSpec(prompt=SHADOW, steps=4, graph=g.to_dict(),
                               inpaint=Inpaint(start=2, mask_node="shadow"))
    engine.run(pipe, inpaint, cache=base.trajectory, previews=False)
    assert {k: id(v) for k, v in pipe.components.items()} == before
    assert pipe.scheduler is sched and dict(pipe.scheduler.config) == config


def test_open_world_scene_gets_the_causal_completion_and_refuses_toyworld_candidates(tmp_path):
    """On a tiny SD pipeline and an open-world prompt, LINA (with no usable predictor) runs c+
    from the open graph for the early steps, at the family's size, and says why; a candidate
    that needs ToyWorld (a donor) is refused naming the field."""
    from tiny_pipes import sd_pipeline
    sd = sd_pipeline(tmp_path)
    prompt = "a cat sitting on a mirror"
    g = from_prompt(prompt).graph
    assert g.category == "open" and not C.is_toyworld(g)
    sampler = LinaSampler(sd, predictor=None, steps=3)
    choice = sampler.choose(prompt, g)
    assert choice.candidate == "cplus_half" and "open-world" in choice.why["source"]
    with pytest.raises(DonorError, match="candidate"):
        sampler.choose(prompt, g, "donor_k10")
    res = sampler(prompt, g, seed=0, height=32, width=32)
    assert res.baseline.shape == res.lina.shape == (1, 32, 32, 3)
    assert not np.array_equal(res.baseline, res.lina)


def test_candidate_costs_are_ratios_over_the_same_items():
    from lina_core.bench.methods import candidate_costs
    item = {"split": "test-ood", "category": "shadow", "seed": 0}
    rows = [{**item, "index": i, "candidate": c, "wall_s": w, "model_calls": m}
            for i in range(2) for c, w, m in (("none", 1.0, 50), ("cplus_guided_k12", 1.5, 59))]
    rows.append({**item, "index": 5, "candidate": "schedule", "wall_s": 9.0, "model_calls": 50})
    got = {r["candidate"]: r for r in candidate_costs(rows)}
    assert got["cplus_guided_k12"]["wall_ratio"] == pytest.approx(1.5)
    assert got["cplus_guided_k12"]["calls_ratio"] == pytest.approx(59 / 50)
    assert "schedule" not in got            # its item has no baseline cell


def test_a_candidate_with_a_misspelt_op_is_an_error():
    """A candidate whose op is not one LINA knows would run as the baseline under its name."""
    from lina_core.interventions import SpecError
    with pytest.raises(SpecError, match="op 'doner' is not one of"):
        C.Candidate("donor_k8", "doner", 0.3)
    with pytest.raises(SpecError, match="k_frac"):
        C.Candidate("cplus_twice", "cplus", 2.0)
    assert all(c.op in C.OPS for c in C.FAMILY)


def test_a_new_kind_of_candidate_is_one_op_class(monkeypatch):
    """Registering one :class:`candidates.Op` subclass is all a new kind of candidate needs: its
    spec, whether it applies to an open-world scene, the loop's check step and its explanation
    come from the class."""
    from lina_core.interventions import PromptEdit
    monkeypatch.setattr(C, "OPS", dict(C.OPS))          # the table is put back afterwards

    @C.op
    class LateCPlus(C.Op):
        name, open_world = "late_cplus", True

        def edits(self, cand, graph, steps):
            return [PromptEdit("replace", start=cand.k(steps), end=steps,
                               target_prompt=C.causal_completion(graph))]

        def checked_at(self, cand, steps, check_step):
            return steps - 1

        def explain(self, cand, graph, steps):
            return {"op": self.name, "window": [cand.k(steps), steps]}
    cand = C.Candidate("late_cplus_half", "late_cplus", 0.5)
    g = from_prompt(PROMPT).graph
    spec = C.spec_for(cand, PROMPT, g, steps=10)
    assert [(e.type, e.start, e.end) for e in spec.edits] == [("replace", 5, 10)]
    assert spec.edits[0].target_prompt == C.causal_completion(g)
    assert C.OPS[cand.op].checked_at(cand, 10, 4) == 9
    assert explain(cand, g, 10) == {"op": "late_cplus", "window": [5, 10]}
    assert C.OPS["late_cplus"].open_world


def test_every_op_explains_what_it_changes():
    """Each shipped op's explanation names what the UI shows for it (donor, c+, window, mask)."""
    g = sample_scene("test-ood", 0, category="shadow").graph
    want = {"none": {"op"}, "cplus": {"op", "causal_completion", "window"},
            "donor": {"op", "donor", "window"},
            "donor_cplus": {"op", "donor", "causal_completion", "window"},
            "texture": {"op", "donor", "window"},
            "donor_guided": {"op", "donor", "window", "mask_node"},
            "cplus_guided": {"op", "causal_completion", "window", "mask_node"},
            "schedule": {"op", "rho"}}
    assert set(want) == set(C.OPS)
    for c in C.available(g):
        assert set(explain(c, g, 25)) == want[c.op], c.name
