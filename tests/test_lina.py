"""LINA sampler, predictor and benchmark contracts, on a tiny random-weight ToyWorld pipeline."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lina_core.__main__ import load_model
from lina_core.csg import from_prompt
from lina_core.lina import (LinaParams, LinaSampler, Predictor, causal_completion, lina_spec,
                            prompt_features, train_predictor)

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "a large red ball on a small round mirror"


@pytest.fixture(scope="module")
def pipe():
    return load_model(None, tiny=True)


def test_causal_completion_states_the_implicit_effect():
    g = from_prompt(PROMPT).graph
    assert "reflection" in causal_completion(g)
    assert "reflection" not in PROMPT


def test_sampler_baseline_equals_plain_pipeline_call(pipe):
    res = LinaSampler(pipe, steps=6)(PROMPT, seed=5, params=LinaParams(1.0, 1.0, 0.5, 0.0))
    plain = pipe(PROMPT, num_inference_steps=6, guidance_scale=3.0,
                 generator=torch.Generator().manual_seed(5), output_type="np").images
    plain8 = (np.clip(plain, 0, 1) * 255 + 0.5).astype(np.uint8)
    assert np.array_equal(res.baseline, plain8)
    assert not np.array_equal(res.lina, res.baseline)


def test_zero_strength_uniform_schedule_equals_baseline(pipe):
    res = LinaSampler(pipe, steps=6)(PROMPT, seed=2, params=LinaParams(0.0, 0.0, 0.5, 0.0))
    assert np.array_equal(res.lina, res.baseline)
    spec = lina_spec(PROMPT, from_prompt(PROMPT).graph, LinaParams(0.0, 0.0, 0.4, 0.0), 6)
    assert spec.is_baseline()


def test_params_are_clipped_to_ranges():
    p = LinaParams(99.0, -5.0, 2.0, float("inf")).clipped()
    assert p.lambda_p == 1.5 and p.w_l == 0.0 and p.k_frac == 0.6 and p.rho == 0.8


def test_predictor_round_trip(tmp_path, pipe):
    g = from_prompt(PROMPT).graph
    f = prompt_features(pipe, PROMPT, g)
    feats = np.stack([f, f + 0.1, f - 0.1])
    targets = np.array([[1.0, 1.0, 0.3, 0.5], [0.5, 0.0, 0.2, 0.0], [0.0, 2.0, 0.4, 0.6]],
                       np.float32)
    pred = train_predictor(feats, targets, epochs=50)
    pred.save(tmp_path)
    back = Predictor.load(tmp_path)
    assert pred.predict(f) == back.predict(f)
    assert json.loads((tmp_path / "predictor.json").read_text())["params"] == [
        "lambda_p", "w_l", "k_frac", "rho"]


def _run_bench(n_proc: int, predictor: Path, out: Path) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    multi = ["--multi_gpu"] if n_proc > 1 else []   # torchrun launcher; gloo group on CPU
    cmd = [sys.executable, "-m", "accelerate.commands.launch", *multi, "--num_processes",
           str(n_proc), "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend",
           "no", "-m", "lina_core", "bench", "--tiny", "--predictor", str(predictor),
           "--splits", "test-id,test-ood", "--n", "1", "--seeds", "0,1", "--steps", "3",
           "--threads", "1", "--out", str(out)]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads((out / "bench.json").read_text())


@pytest.mark.slow
def test_bench_merged_results_do_not_depend_on_process_count(tmp_path, pipe):
    pytest.importorskip("accelerate")
    g = from_prompt(PROMPT).graph
    f = prompt_features(pipe, PROMPT, g)
    pred = train_predictor(np.stack([f, f + 1]), np.array([[1.0, 1.0, 0.4, 0.0],
                                                           [0.2, 0.5, 0.2, 0.5]], np.float32),
                           epochs=20)
    pred.meta["training"] = {"best_fixed": LinaParams(0.5, 0.5, 0.4, 0.0).to_dict()}
    pred.save(tmp_path / "pred")
    one = _run_bench(1, tmp_path / "pred", tmp_path / "one")
    two = _run_bench(2, tmp_path / "pred", tmp_path / "two")
    assert one["num_processes"] == 1 and two["num_processes"] == 2
    strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_s"} for r in rows]  # noqa
    assert len(one["rows"]) == 2 * 5 * 2 * 5   # splits x categories x seeds x methods
    assert strip(one["rows"]) == strip(two["rows"])
