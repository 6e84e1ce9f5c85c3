"""The tests' tiny pipelines (:mod:`lina_core.pipelines.tiny_families`, where the device
check reads them too) and the helpers the engine, app and browser tests share."""
from __future__ import annotations

from typing import Any

from lina_core.pipelines.tiny_families import (  # noqa: F401  (the tests import them from here)
    DEVICE, PROMPT, TARGET, _clip_config, _t5, _unet, _vae, _wan_transformer,
    cogvideox_pipeline, flux_encoder, flux_pipeline, on_device, sd3_pipeline,
    sd_pipeline, sdxl_pipeline, tokenizer, toyworld_pipeline, toyworld_video_pipeline,
    wan_pipeline)
from lina_core.adapters import tiny_adapter as adapter_of  # noqa: F401
from lina_core.adapters import tiny_names as families  # noqa: F401
from lina_core.adapters import tiny_pipeline as build  # noqa: F401


# ---------------------------------------------------------------------- shared test helpers


def open_graph():
    """An open-world scene by the graph model's contract (category "open", entity nodes), its
    implicit effects derived: what the open-world parser makes of a prompt."""
    from lina_core import csg
    g = csg.CausalSceneGraph("open")
    g.add_node("cat", "entity", noun="cat", color="black")
    g.add_node("sofa", "entity", noun="sofa", material="leather")
    g.add_node("lamp", "entity", noun="lamp")
    g.add_edge("cat", "sofa", "on")
    csg.add_implicit_effects(g)
    return g.validate()


def engine_spec(**kw: Any):
    """The engine tests' spec: PROMPT, seed 3, guidance 3, plus ``kw`` (``steps`` included)."""
    from lina_core.interventions import InterventionSpec
    d = dict(prompt=PROMPT, seed=3, guidance_scale=3.0)
    d.update(kw)
    return InterventionSpec(**d)


def cached_baseline(model: tuple, baselines: dict, steps: int):
    """The baseline run of a (family, pipe, run kwargs) model, computed once per module."""
    from lina_core import engine
    fam, pipe, kw = model
    if fam not in baselines:
        baselines[fam] = engine.run(pipe, engine_spec(steps=steps), **kw)
    return baselines[fam]


def api_error(client: Any, api_name: str, **kw: Any) -> str:
    """The error message an app endpoint answers with (it must raise)."""
    import pytest
    with pytest.raises(Exception) as info:
        client.predict(api_name=api_name, **kw)
    return str(info.value)
