"""The checks every model family passes (after diffusers' ``PipelineTesterMixin``): one function
per promise, called by the tests that run them over every family the adapters' table names
(``adapters.tiny_names()``: ``test_loading``, ``test_attention``) and by
``test_family_contract``, which runs all of them on a family defined in its own file."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from lina_core import engine, speed
from lina_core.adapters import adapter_for
from lina_core.pipelines import registry
from tiny_pipes import engine_spec


def weights(pipe: Any) -> dict[str, torch.Tensor]:
    return {f"{name}.{k}": v for name, m in pipe.components.items()
            if isinstance(m, torch.nn.Module) for k, v in m.state_dict().items()}


def loads_back(pipe: Any, kw: dict[str, Any], folder: Path, kind: str) -> Any:
    """Saved with ``save_pretrained`` (safetensors only), ``folder`` loads through the one
    loader as the same class, with its kind read off model_index.json, the same weights, and
    draws the same image.  Returns the loaded pipeline."""
    assert not list(folder.rglob("*.bin")) and list(folder.rglob("*.safetensors"))
    loaded = registry.load(str(folder), device=torch.device("cpu"))
    assert type(loaded) is type(pipe)
    assert registry.kind_of_folder(folder) == kind
    a, b = weights(pipe), weights(loaded)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    speed.apply(pipe)      # the loader applies the speed-ups: compare like with like
    s = engine_spec(steps=2)
    assert np.array_equal(engine.run(pipe, s, previews=False, **kw).images,
                          engine.run(loaded, s, previews=False, **kw).images)
    return loaded


def records_attention_and_leaves_the_pipeline(pipe: Any, kw: dict[str, Any], steps: int,
                                              processors: Any, snapshot: Any,
                                              same_state: Any) -> None:
    """A run with attention recorded gives the same pictures and trajectory as one without,
    one map per step and token, and leaves the pipeline as it was (``snapshot``: component
    objects, config, scheduler state, hooks, weights and each attention module's processor)."""
    s = engine_spec(steps=steps)
    plain = engine.run(pipe, s, **kw)
    before, snap = processors(pipe), snapshot(pipe)
    rec = engine.run(pipe, s, attention=True, **kw)
    assert processors(pipe) == before, "an original processor was not put back"
    assert same_state(snapshot(pipe), snap)
    assert np.array_equal(plain.images, rec.images)
    for a, b in zip(plain.trajectory.latents, rec.trajectory.latents):
        assert torch.allclose(a, b, atol=1e-6)
    att = rec.extra["attention"]
    assert att["covered"] and att["modules"] > 0
    maps = att["maps"]
    assert maps.shape[:2] == (steps, len(att["tokens"]))
    assert list(maps.shape[2:]) == att["grid"] == list(adapter_for(pipe).spatial(
        tuple(plain.trajectory.noise.shape)))
    assert att["steps"] == list(range(steps))
    assert np.isfinite(maps).all() and (maps >= 0).all() and (maps.sum(1) <= 1 + 1e-5).all()
    assert not np.allclose(maps[0], maps[-1]), "maps do not change over the steps"
    assert "attention" not in plain.extra
