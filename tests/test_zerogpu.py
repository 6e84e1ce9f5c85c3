"""ZeroGPU's rules, checked with a stand-in ``spaces`` module: every model call is wrapped with a
duration computed from its arguments, and an error raised in the GPU worker reaches the caller
with its class and message (not gradio's bare "Error")."""
from __future__ import annotations

import types

import pytest

from app import zerogpu
from lina_core.interventions import SpecError


def fake_spaces(log: list):
    """``spaces.GPU(duration=f)(fn)``: records ``f``, runs ``fn`` in process."""
    def GPU(duration=60):
        def deco(fn):
            def run(*a, **k):
                log.append(duration(*a, **k) if callable(duration) else duration)
                return fn(*a, **k)
            return run
        return deco
    return types.SimpleNamespace(GPU=GPU)


def intervene(model_key: str, spec_dict: dict) -> dict:
    if spec_dict.get("steps", 0) > 100:
        raise SpecError("steps: 500 is out of range; allowed [1, 100]")
    return {"ok": True}


def lina_video(prompt: str, graph: dict, seed: int, steps: int, guidance: float, frames: int,
               candidate: str | None = None) -> dict:
    return {"ok": True}


KINDS = {"toyworld": "toyworld", "sdxl": "sdxl", "wan": "wan"}


def test_duration_grows_with_steps_and_model_and_stays_in_bounds():
    log: list = []
    call = zerogpu.on_gpu(fake_spaces(log), intervene, KINDS.get)
    for key, steps in (("toyworld", 10), ("sdxl", 50), ("sdxl", 100), ("wan", 100)):
        assert call(key, {"steps": steps}) == {"ok": True}
    toy, xl50, xl100, wan = log
    assert toy == zerogpu.MIN_S and wan == zerogpu.MAX_S      # clamped both ways
    assert toy < xl50 < xl100 < wan
    video: list = []
    zerogpu.on_gpu(fake_spaces(video), lina_video, KINDS.get)("p", {}, 0, 50, 3.0, 8)
    assert video[0] > toy                              # the video model, by the function's name

    def prompt_settling(model_key, prompt, seeds, steps, progress=None):
        return {"ok": True}
    per_seed: list = []
    settle = zerogpu.on_gpu(fake_spaces(per_seed), prompt_settling, KINDS.get)
    settle("sdxl", "p", [0], 50)
    settle("sdxl", "p", [0, 1, 2, 3], 50)
    assert per_seed[1] > per_seed[0]                   # one run per seed


def test_errors_keep_their_class_and_message_across_the_worker():
    call = zerogpu.on_gpu(fake_spaces([]), intervene, KINDS.get)
    with pytest.raises(SpecError, match=r"steps: 500 is out of range; allowed \[1, 100\]"):
        call("toyworld", {"steps": 500})
    assert call.__name__ == "intervene"


def test_the_apps_model_calls_are_wrapped_when_spaces_is_there(monkeypatch):
    """With a ``spaces`` module importable, ``app.state.gpu`` is the ZeroGPU wrapper."""
    import importlib
    import sys
    log: list = []
    monkeypatch.setitem(sys.modules, "spaces", fake_spaces(log))
    import app.state as state
    kept = {k: v for k, v in vars(state).items() if k.isupper()}   # handles, caches
    try:
        fresh = importlib.reload(state)
        assert fresh.ON_SPACES_GPU
        wrapped = fresh.gpu(intervene)
        assert wrapped("toyworld", {"steps": 10}) == {"ok": True} and log
    finally:
        monkeypatch.delitem(sys.modules, "spaces")
        importlib.reload(state)
        vars(state).update(kept)


def _recording(pipe, log: list):
    """``pipe`` whose ``.to(...)`` is recorded (and moves nothing: there is no GPU here)."""
    def to(*args, **kwargs):
        log.append((args, kwargs))
        return pipe
    pipe.to = to
    return pipe


def test_on_zero_gpu_models_go_to_cuda_at_import(monkeypatch, tmp_path):
    """With ``SPACES_ZERO_GPU`` set, ``build_demo`` loads the image and video models at once and
    moves them to cuda in this process (before any event); a real model is loaded straight to
    cuda in bf16.  Without it, nothing is moved."""
    import torch
    from app import build_demo, state
    from lina_core.service import ModelService
    from lina_core.pipelines import registry
    from tiny_pipes import toyworld_video_pipeline
    kept = state.HANDLE, state.VIDEO
    image, video = [], []
    pipe = _recording(registry.tiny_toyworld(), image)
    vpipe = _recording(toyworld_video_pipeline(tmp_path / "tok", trained_motion=False), video)
    monkeypatch.setenv("LINA_PREDICTOR_DIR", str(tmp_path / "none"))
    try:
        ModelService("toyworld", pipe=pipe).get()
        assert image == []                                   # not on ZeroGPU: left alone
        monkeypatch.setenv("SPACES_ZERO_GPU", "true")
        build_demo(pipe=pipe, video_pipe=vpipe, runs_dir=tmp_path / "runs")
        assert image == [(("cuda",), {})] and video == [(("cuda",), {})]
        asked = []
        monkeypatch.setattr(registry, "load", lambda key, **kw: asked.append((key, kw)) or
                            _recording(registry.tiny_toyworld(), []))
        state.handle().get("sdxl")
        assert asked == [("sdxl", {"device": "cuda", "dtype": torch.bfloat16})]
    finally:
        state.HANDLE, state.VIDEO = kept


def test_seconds_per_step_are_the_adapters():
    """A family's ZeroGPU seconds per step live in its adapter (one place per family)."""
    from lina_core.adapters import KINDS as ADAPTERS
    assert {k: zerogpu.seconds_per_step(k) for k in ADAPTERS} == \
        {k: a.zerogpu_seconds_per_step for k, a in ADAPTERS.items()}
    assert zerogpu.seconds_per_step("toyworld") < zerogpu.seconds_per_step("wan")
    assert zerogpu.seconds_per_step("unknown") == 1.0
