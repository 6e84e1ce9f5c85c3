"""Loading what users save: every family's tiny random-weight pipeline, written with
``save_pretrained`` (safetensors), loads through the one loader (``registry.load``) and through
``app.py --model-dir``'s path (its kind read off model_index.json), with components saved as
absent (SD3 without T5, FLUX without T5, Wan 2.1 without a second transformer) passed as absent;
the loaded pipeline has the same weights and draws the same image."""
from __future__ import annotations

import json

import pytest
import torch

from lina_core.pipelines import registry
from family_suite import loads_back
from script_loader import load_app
from tiny_pipes import adapter_of, build, families

FAMILIES = families()        # every tiny pipeline the adapters' table names


def app_main():
    return load_app()


@pytest.fixture(scope="module", params=FAMILIES)
def saved(request, tmp_path_factory):
    """(family, the built pipeline, its run kwargs, the folder it was saved to)."""
    d = tmp_path_factory.mktemp(request.param)
    pipe, kw = build(request.param, d / "tok")
    pipe.save_pretrained(d / "model", safe_serialization=True)
    return request.param, pipe, kw, d / "model"


def test_saved_folder_loads_with_the_same_weights_and_draws_the_same_image(saved):
    fam, pipe, kw, folder = saved
    loads_back(pipe, kw, folder, adapter_of(fam).kind)


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


def test_app_model_dir_infers_the_kind_and_loads(saved):
    fam, _, _, folder = saved
    if fam == "toyworld_video":   # the video model has a tab of its own, not the picker
        with pytest.raises(ValueError, match="toyworld_video"):
            app_main().infer_kind(str(folder))
        return
    kind = app_main().infer_kind(str(folder))
    assert kind == adapter_of(fam).kind
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
