"""The model picker: a switch that fails keeps the previous model selected and working; a real
model on a machine without CUDA loads with a warning about its size and the small model to use.
``picker.select`` is what the dropdown's event runs (its first answer is the dropdown's value)."""
from __future__ import annotations

import json
import types

import numpy as np
import pytest
import torch

from app import picker, state
from lina_core.service import ModelService
from lina_core.interventions import InterventionSpec
from lina_core.pipelines import registry
from tiny_pipes import sd_pipeline

PROMPT = "a large red ball on a small round mirror"


@pytest.fixture()
def ctx(tmp_path, monkeypatch):
    """A handle on a tiny ToyWorld model, a tiny SD folder and a broken one on the picker."""
    torch.set_num_threads(1)
    monkeypatch.setattr(state, "HANDLE", None)
    monkeypatch.setenv("LINA_PREDICTOR_DIR", str(tmp_path / "no_predictor"))
    h = state.set_handle(ModelService("toyworld", pipe=registry.tiny_toyworld()))
    sd_pipeline(tmp_path / "tok").save_pretrained(tmp_path / "tiny-sd")
    broken = tmp_path / "broken-sd"
    broken.mkdir()
    (broken / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"]}))
    keys = {}
    for name in ("tiny-sd", "broken-sd"):
        e = registry.folder_entry(tmp_path / name, "sd")
        monkeypatch.setitem(registry.ALLOWLIST, e.key, e)
        keys[name] = e.key
    monkeypatch.setattr(state, "_size_kwargs", lambda m: {} if m.key == "toyworld" else
                        {"height": 32, "width": 32})
    return types.SimpleNamespace(handle=h), keys


def _works(key: str) -> None:
    """The model behind ``key`` still samples an image."""
    out = state.generate(key, InterventionSpec(prompt=PROMPT, steps=2, seed=0).to_dict())
    assert np.asarray(out["image"]).ndim == 3 and np.asarray(out["image"]).std() > 0


def test_a_failed_switch_keeps_the_previous_model(ctx, monkeypatch):
    c, keys = ctx
    # a folder that does not load (a component missing): the dropdown goes back to ToyWorld
    value, current, status = picker.select(keys["broken-sd"], "toyworld", c)
    assert value == current == "toyworld"
    assert "Could not switch" in status and "broken-sd" in status and "ToyWorld" in status
    _works("toyworld")
    # a real model: loads, says it is on the CPU and names the small one
    value, current, status = picker.select(keys["tiny-sd"], "toyworld", c)
    assert value == current == keys["tiny-sd"]
    if not torch.cuda.is_available():
        assert "runs on the CPU" in status and "ToyWorld (built in, CPU)" in status
    # an unexpected error while loading (say, out of memory) keeps the tiny SD model
    real_load = registry.load

    def oom(key, *a, **k):
        if key == keys["broken-sd"]:
            raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return real_load(key, *a, **k)
    monkeypatch.setattr(registry, "load", oom)
    value, current, status = picker.select(keys["broken-sd"], keys["tiny-sd"], c)
    assert value == current == keys["tiny-sd"]
    assert "could not be loaded" in status and "out of memory" in status
    assert "local: tiny-sd" in status                      # the status still names the model
    assert keys["tiny-sd"] in c.handle._loaded and keys["broken-sd"] not in c.handle._loaded
    _works(keys["tiny-sd"])
    _works("toyworld")
