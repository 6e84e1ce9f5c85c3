"""Loading what users save: every family's tiny random-weight pipeline, written with
``save_pretrained`` (safetensors), loads through the one loader (``registry.load``) and through
``app.py --model-dir``'s path (its kind read off model_index.json), with components saved as
absent (SD3 without T5, FLUX without T5, Wan 2.1 without a second transformer) passed as absent;
the loaded pipeline has the same weights and draws the same image."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lina_core import engine, speed
from lina_core.pipelines import registry
from script_loader import load_app
from tiny_pipes import build, engine_spec, flux_pipeline

FAMILIES = ["sd", "sdxl", "sd3", "flux", "flux_t5", "wan", "wan22", "cogvideox", "toyworld",
            "toyworld_video"]
KIND = {"wan22": "wan", "flux_t5": "flux"}


def app_main():
    return load_app()


def weights(pipe) -> dict[str, torch.Tensor]:
    return {f"{name}.{k}": v for name, m in pipe.components.items()
            if isinstance(m, torch.nn.Module) for k, v in m.state_dict().items()}


@pytest.fixture(scope="module", params=FAMILIES)
def saved(request, tmp_path_factory):
    """(family, the built pipeline, its run kwargs, the folder it was saved to)."""
    d = tmp_path_factory.mktemp(request.param)
    if request.param == "flux_t5":      # FLUX with its (tiny) T5 encoder present
        pipe, kw = flux_pipeline(d / "tok", t5=True), {"height": 8, "width": 8}
    else:
        pipe, kw = build(request.param, d / "tok")
    pipe.save_pretrained(d / "model", safe_serialization=True)
    return request.param, pipe, kw, d / "model"


def test_saved_folder_loads_with_the_same_weights(saved):
    fam, pipe, _, folder = saved
    assert not list(folder.rglob("*.bin")) and list(folder.rglob("*.safetensors"))
    loaded = registry.load(str(folder), device=torch.device("cpu"))
    assert type(loaded) is type(pipe)
    assert registry.kind_of_folder(folder) == KIND.get(fam, fam)
    a, b = weights(pipe), weights(loaded)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_absent_components_stay_absent(saved):
    fam, pipe, _, folder = saved
    index = json.loads((folder / "model_index.json").read_text())
    absent = registry.absent_components(index)
    loaded = registry.load(str(folder), device=torch.device("cpu"))
    for name in absent:
        assert getattr(loaded, name, None) is None, name
    if fam == "sd3":
        assert {"text_encoder_3", "tokenizer_3"} <= set(absent)
    if fam == "wan":
        assert "transformer_2" in absent


def test_loaded_pipeline_draws_the_same_image(saved):
    fam, pipe, kw, folder = saved
    loaded = registry.load(str(folder), device=torch.device("cpu"))
    speed.apply(pipe)      # the loader applies the speed-ups: compare like with like
    s = engine_spec(steps=2)
    a = engine.run(pipe, s, previews=False, **kw)
    b = engine.run(loaded, s, previews=False, **kw)
    assert np.array_equal(a.images, b.images)


def test_app_model_dir_infers_the_kind_and_loads(saved):
    fam, _, _, folder = saved
    if fam == "toyworld_video":   # the video model has a tab of its own, not the picker
        with pytest.raises(ValueError, match="toyworld_video"):
            app_main().infer_kind(str(folder))
        return
    kind = app_main().infer_kind(str(folder))
    assert kind == KIND.get(fam, fam)
    entry = registry.register_local(str(folder), kind)
    try:
        assert type(registry.load(entry.key, device=torch.device("cpu"))).__name__.endswith(
            "Pipeline")
    finally:
        registry.ALLOWLIST.pop(entry.key, None)


def test_missing_model_messages_say_what_to_do(tmp_path):
    hub = registry.ModelEntry("x", "Some model", "sd", "someone/not-cached-here")
    msg = str(registry.unavailable(hub, OSError("not found")))
    assert "hf download someone/not-cached-here" in msg and "--model-dir" in msg
    (tmp_path / "model_index.json").write_text("{}")
    local = registry.ModelEntry("y", "My folder", "sd", str(tmp_path))
    msg = str(registry.unavailable(local, ValueError("bad")))
    assert "save_pretrained" in msg and "hf download" not in msg
