"""``app.py --model-dir`` on every family: each family's tiny random-weight pipeline, saved with
``save_pretrained`` (SD3 without its T5), goes through app.py's own command-line path
(``parse_args`` + ``build_from_args``: the kind read off model_index.json, ``register_local``,
``build_demo``), is served, and answers the Scene parser, Generate, Intervene and LINA on an
open-world prompt through the HTTP API, with the "no verifier" verdicts and non-blank images.

A video folder (Wan 2.1, Wan 2.2, CogVideoX) given with --model-dir is the picker's model, as
an image one is: the image tabs run it and show its first frame (the Video tab keeps the
ToyWorld video model), so those are the endpoints a user of such a folder calls here too.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client  # noqa: E402

from test_app_api import _img, _intervene_kwargs, _lina_kwargs, _no_verifier  # noqa: E402
from test_loading import app_main  # noqa: E402
from app.tab_intervene import NO_MASK  # noqa: E402
from tiny_pipes import adapter_of, build, families, flux_pipeline  # noqa: E402

# slow: the module takes about 40 s on 2 shared CPU cores (7 app launches, ~1 s each, and
# 6 model calls of 2-3 steps per family)
pytestmark = pytest.mark.slow

#: every real family's tiny pipeline (the adapters' table), FLUX with its tiny T5 (a FLUX folder
#: has one: FLUX encodes prompts with T5)
FAMILIES = [f for f in families() if not adapter_of(f).kind.startswith("toyworld")
            and f != "flux"]
PROMPT = "a cat on a table in front of a mirror"      # open-world: an implicit reflection
STEPS = 2


def _save(fam: str, d) -> tuple[str, dict]:
    """The family's tiny pipeline saved to a folder of its own name (its picker key; SD3 saved
    without T5, text_encoder_3 None), and its size."""
    pipe, kw = build(fam, d / "tok")
    folder = d / f"tiny-{fam}"
    pipe.save_pretrained(folder, safe_serialization=True)
    return str(folder), {k: v for k, v in kw.items() if k in ("height", "width", "frames")}


@pytest.fixture(scope="module", params=FAMILIES)
def served(request, tmp_path_factory):
    """(family, client, the registered key): the app as ``app.py --model-dir`` builds it."""
    import torch
    from app import launch_kwargs, state
    from app.build import free_port
    from lina_core.pipelines import registry
    torch.set_num_threads(1)
    fam = request.param
    d = tmp_path_factory.mktemp(fam)
    folder, size = _save(fam, d)
    mod = app_main()
    args = mod.parse_args(["--model-dir", folder, "--runs-dir", str(d / "runs"),
                           "--threads", "1"])
    old = state.HANDLE, state.VIDEO          # build_demo replaces the app's model handles
    allow = dict(registry.ALLOWLIST)
    with pytest.MonkeyPatch.context() as mp:
        # the app gives no size and each model runs at its own, off its config (the tiny SD,
        # SDXL, SD3 and CogVideoX ones: 32 px, 16 px x 9 frames); FLUX's own 128 px and Wan's
        # 480 x 832 x 81 frames are slow on a CPU
        if adapter_of(fam).kind in ("flux", "wan"):
            mp.setattr(state, "_size_kwargs", lambda m: size)
        mp.setenv("LINA_PREDICTOR_DIR", str(d / "no_predictor"))
        demo = mod.build_from_args(args)
        port = free_port()
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                    quiet=True, **launch_kwargs())
        try:
            client = Client(f"http://127.0.0.1:{port}/", verbose=False,
                            download_files=str(d / "downloads"))
            yield fam, client, f"local:tiny-{fam}"
        finally:
            demo.close()
    state.HANDLE, state.VIDEO = old
    registry.ALLOWLIST.clear()
    registry.ALLOWLIST.update(allow)


def _blank(x) -> bool:
    return float(_img(x).astype(np.float32).std()) == 0.0


def test_model_dir_is_the_default_model(served):
    from lina_core.pipelines.registry import ALLOWLIST
    fam, client, key = served
    assert ALLOWLIST[key].kind == adapter_of(fam).kind and not ALLOWLIST[key].video
    status = client.predict(api_name="/model_status")
    assert f"local: tiny-{fam}" in status and "unavailable" not in status


def test_scene_parser_and_generate(served):
    fam, client, _ = served
    out = client.predict(prompt=PROMPT, api_name="/parse")
    g = json.loads(out[1])
    assert g["category"] == "open" and out[4] == "open"
    assert any(n["id"].startswith("reflection") and not n["explicit"] for n in g["nodes"])
    assert "open-world" in out[-1]
    out = client.predict(prompt=PROMPT, seed=0, steps=STEPS, api_name="/generate")
    sample, v_model, v_truth = out[-4:-1]
    assert not _blank(sample), fam
    assert _no_verifier(v_model) and _no_verifier(v_truth)


def test_intervene(served):
    fam, client, _ = served
    target = client.predict(prompt=PROMPT, api_name="/completion")
    assert "reflected in the mirror" in target and target != PROMPT
    out = client.predict(api_name="/intervene", **_intervene_kwargs(
        prompt=PROMPT, target=target, steps=STEPS, end=1, lg_weight=0.0))
    slider, vb, vi, md = out[0], out[7], out[8], out[-1]
    assert not any(_blank(x) for x in slider), fam
    assert _no_verifier(vb) and _no_verifier(vi) and "saved" in md


EARLY = "a mirror behind a cat"


def test_intervene_guided_with_a_reallocated_schedule(served):
    """Latent guidance over a reallocated schedule: over the whole image, then masked to an
    open-world node (no layout box: by the model's attention to its words)."""
    fam, client, _ = served
    target = client.predict(prompt=PROMPT, api_name="/completion")
    kw = _intervene_kwargs(prompt=PROMPT, target=target, steps=STEPS + 1, start=1, end=3,
                           strength=0.0, lg_weight=0.5, mask_node=NO_MASK,
                           schedule="reallocated")
    out = client.predict(api_name="/intervene", **kw)
    assert not any(_blank(x) for x in out[0]), fam
    spec = json.loads(out[6])
    assert spec["latent_guidance"]["weight"] == 0.5 and spec["schedule"]["kind"] == \
        "reallocated" and "saved" in out[-1]
    # a node of an open-world graph (no layout box): masked where the model attends to its word
    # (named early in the prompt: the tiny CogVideoX keeps only its first 16 text tokens)
    out = client.predict(api_name="/intervene", **dict(kw, prompt=EARLY, mask_node="mirror"))
    lg = json.loads(out[6])["latent_guidance"]
    assert lg["mask_node"] == "mirror" and lg["mask_from"] == "attention" and "saved" in out[-1]
    assert not any(_blank(x) for x in out[0]), fam


@pytest.mark.parametrize("candidate", ["predicted", "schedule"])
def test_lina(served, candidate):
    fam, client, _ = served
    out = client.predict(api_name="/lina", **_lina_kwargs(prompt=PROMPT, steps=STEPS + 1,
                                                          candidate=candidate))
    assert not _blank(out[0]) and not _blank(out[1]), fam
    assert _no_verifier(out[3]) and _no_verifier(out[4]) and "saved" in out[10]
    choice = json.loads(out[8])
    if candidate == "predicted" and adapter_of(fam).kind == "wan":
        # clips of a set length: the loop reads single runs without frames only, so LINA makes
        # its one choice before the run (CogVideoX here runs at its config's default length)
        assert "open-world default" in choice["why"]["source"]
        assert "reflected" in choice["why"]["intervention"]["causal_completion"]
    elif candidate == "predicted":
        # stills: the loop with the attention check (no ToyWorld verifier on these models)
        why = choice["why"]
        assert why["source"] == "adaptive loop" and why["check"] == "attention", why
        assert "not measured" in why["reason"] and why["attention_tests"]
        assert why["attention_tests"][0]["tests"] or fam == "cogvideox"
    else:
        assert choice["candidate"] == "schedule"


def test_flux_folder_without_t5_is_a_clear_error(tmp_path):
    """FLUX saved without T5 loads (its absent encoder passed as absent) but cannot encode a
    prompt: the run says so, naming the missing component, not diffusers' AttributeError
    (the app shows a ValueError's message as it is)."""
    import torch
    from lina_core import engine
    from lina_core.pipelines import registry
    from tiny_pipes import engine_spec
    flux_pipeline(tmp_path / "tok").save_pretrained(tmp_path / "flux", safe_serialization=True)
    pipe = registry.load(str(tmp_path / "flux"), device=torch.device("cpu"))
    with pytest.raises(ValueError, match="no T5 text encoder.*text_encoder_2"):
        engine.run(pipe, engine_spec(steps=2), height=8, width=8, previews=False)
