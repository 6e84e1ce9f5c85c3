"""Issue 25, items 1 and 2, on the app as ``build_demo`` serves it (caching on, as ``app.py``
does), driven click by click as the browser fires its events (:mod:`event_chain`), on the tiny
pipelines: every LINA and Video talk preset answers every output (an empty one included: the
test predictor chooses c+ everywhere, which has no guidance mask) from an empty and from a
warm cache; and one click leaves one consistent screen (a refusal after a good run, predict
after a run, a Scene preset after an edit, a removed node no longer offered)."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
pytest.importorskip("gradio_client")

from event_chain import Screen  # noqa: E402

STEPS = 3
#: the test predictor: c+ for the whole run, which applies to every scene and has no mask
GAINS = {"cplus_all": 0.5}
MIRROR = "a large red ball on a small round mirror"


def _find(demo, elem_id: str):
    return next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == elem_id)


def _labelled(demo, label: str):
    return next(b for b in demo.blocks.values() if getattr(b, "label", None) == label)


@pytest.fixture(scope="module")
def pipes(tmp_path_factory):
    import torch
    torch.set_num_threads(1)
    from lina_core.__main__ import load_model
    from test_app_api import fit_test_predictor
    from tiny_pipes import toyworld_video_pipeline
    pipe = load_model(None, tiny=True)
    video = toyworld_video_pipeline(tmp_path_factory.mktemp("tok"), trained_motion=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LINA_PREDICTOR_DIR", str(fit_test_predictor(
            pipe, tmp_path_factory.mktemp("predictor"), GAINS)))
        from app import tab_lina, tab_video
        mp.setattr(tab_lina, "DEFAULT_STEPS", STEPS)
        mp.setattr(tab_video, "DEFAULT_STEPS", STEPS)
        yield pipe, video, tmp_path_factory.mktemp("runs")


def _demo(pipes, cache: bool = True):
    from app import build_demo
    pipe, video, runs = pipes
    return build_demo(pipe=pipe, video_pipe=video, runs_dir=runs, cache_presets=cache,
                      threads=1)


def _image(value) -> np.ndarray:
    assert value and value.get("path"), value
    return np.asarray(Image.open(value["path"]).convert("RGB"))


def _click_preset(screen: Screen, dataset, index: int) -> None:
    screen.set(dataset, index)
    assert screen.fire(dataset), screen.errors
    assert screen.errors == []


def _lina_screen(demo, screen: Screen) -> dict:
    """The LINA tab's outputs on screen, by the names of the ``/lina`` API's outputs."""
    from app.tab_lina import PAIR_OUTPUTS
    fn = next(f for f in demo.default_config.fns.values() if f.api_name == "lina")
    comps = dict(zip(PAIR_OUTPUTS, fn.outputs))
    out = {k: screen.value(c) for k, c in comps.items()}
    out["mask_visible"] = screen.visible[comps["mask_img"]._id]
    out["status"] = screen.value(_find(demo, "lina-status"))
    return out


def _check_lina_preset(out: dict, prompt: str) -> None:
    assert "saved" in out["md"] and "`cplus_all`" in out["md"], out["md"]
    assert out["status"] == ""
    assert json.loads(out["spec"])["prompt"] == prompt
    for k in ("base_img", "lina_img", "truth"):
        assert _image(out[k]).shape[0] == 256, k
    assert out["mask_img"] is None and out["mask_visible"] is False   # c+ has no mask
    assert out["vb"]["data"] and "`cplus_all`" in out["explain"]


def _values(demo, screen: Screen, ids: dict[str, str]) -> dict:
    """What the components with these elem_ids show, by the given names."""
    return {name: screen.value(_find(demo, elem_id)) for name, elem_id in ids.items()}


def _video_screen(demo, screen: Screen) -> dict:
    return _values(demo, screen, {"md": "video-md", "base": "video-baseline",
                                  "lina": "video-lina", "frame": "video-frame-lina",
                                  "table": "video-verdicts", "gif": "video-gif",
                                  "status": "video-status"})


def _check_video_preset(out: dict, frames: int) -> None:
    assert "saved" in out["md"] and out["status"] == "", out["md"]
    for k in ("base", "lina"):
        assert os.path.isfile((out[k].get("video") or out[k])["path"]), out[k]
    assert os.path.isfile(out["gif"]["path"])
    assert _image(out["frame"]).size
    assert [r[0] for r in out["table"]["data"]] == list(range(frames))


def _every_preset(demo, fail_if_computed: bool, monkeypatch) -> tuple[list, list]:
    """Click every LINA and Video preset in one session; the screens after each."""
    from app import presets, state, tab_video
    if fail_if_computed:               # a warm cache answers without a model call
        def boom(*a, **k):
            raise AssertionError("a warm preset ran the model")
        monkeypatch.setattr(state, "lina_pair", boom)
        monkeypatch.setattr(state, "lina_video", boom)
    screen = Screen(demo)
    lina, video = [], []
    rows = presets.lina_presets(state.handle().categories())
    for i, (_, prompt, seed) in enumerate(rows):
        _click_preset(screen, _find(demo, "lina-presets"), i)
        fn = next(f for f in demo.default_config.fns.values() if f.api_name == "lina")
        fields = dict(zip(fn.input_keyword_names, fn.inputs))   # the inputs: the run's
        assert [screen.value(fields[k]) for k in ("prompt", "seed", "steps", "candidate")] \
            == [prompt, seed, STEPS, "predicted"]
        out = _lina_screen(demo, screen)
        _check_lina_preset(out, prompt)
        lina.append(out)
    for i, _ in enumerate(presets.VIDEO_PRESETS):
        _click_preset(screen, _find(demo, "video-presets"), i)
        out = _video_screen(demo, screen)
        _check_video_preset(out, tab_video.DEFAULT_FRAMES)
        video.append(out)
    monkeypatch.undo()
    return lina, video


@pytest.mark.slow   # every LINA and Video preset, twice: over 4 s on 2 cores
def test_every_cached_preset_from_an_empty_and_a_warm_cache(pipes, monkeypatch):
    """Every preset through the served path, on a first app start (empty cache), then on a
    second start over the same runs folder (warm: no model call), the same answers."""
    cold = _every_preset(_demo(pipes), False, monkeypatch)
    warm = _every_preset(_demo(pipes), True, monkeypatch)
    for a, b in zip(cold[0], warm[0]):
        assert a["md"] == b["md"] and a["spec"] == b["spec"] and a["vb"] == b["vb"]
        assert np.array_equal(_image(a["lina_img"]), _image(b["lina_img"]))
    for a, b in zip(cold[1], warm[1]):
        assert a["md"] == b["md"] and a["table"] == b["table"]


def test_preset_cache_keeps_empty_outputs(tmp_path):
    """An empty output (None) stays empty through the cache, beside every other kind."""
    import gradio as gr
    import pandas as pd
    from app.preset_cache import PresetCache
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00mp4")
    with gr.Blocks():
        comps = {"none": gr.Image(), "img": gr.Image(), "table": gr.Dataframe(),
                 "text": gr.Markdown(), "n": gr.Slider(), "clip": gr.Video(),
                 "tries": gr.Gallery()}
    tries = [(np.full((4, 4, 3), 9, np.uint8), "baseline: the check failed at step 6 (20%)"),
             (np.full((4, 4, 3), 3, np.uint8), "donor_k10: final picture (LINA kept this)")]
    answer = {"none": None, "img": np.full((4, 4, 3), 7, np.uint8), "n": 0, "text": "hi",
              "table": pd.DataFrame([[1, "a"]], columns=["x", "y"]), "clip": str(clip),
              "tries": tries}
    cache = PresetCache(tmp_path / "cache")
    first = cache.get({"tab": "t", "request": {"a": 1}}, comps, lambda: answer)
    again = cache.get({"tab": "t", "request": {"a": 1}}, comps, lambda: 1 / 0)
    assert first is answer and again["none"] is None and again["n"] == 0
    assert np.array_equal(again["img"], answer["img"]) and again["text"] == "hi"
    assert again["table"].values.tolist() == [[1, "a"]]
    assert open(again["clip"], "rb").read() == b"\x00mp4"
    assert [c for _, c in again["tries"]] == [c for _, c in tries]     # the loop's gallery
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(again["tries"], tries))


# --------------------------------------------------------------------------- one screen


@pytest.fixture(scope="module")
def served(pipes):
    return _demo(pipes, cache=False)


def _lina_run(demo, screen: Screen, **values) -> bool:
    """Type ``values`` into the LINA tab's fields (by the ``/lina`` API's names) and Run."""
    fn = next(f for f in demo.default_config.fns.values() if f.api_name == "lina")
    fields = dict(zip(fn.input_keyword_names, fn.inputs))
    for name, v in {"steps": STEPS, **values}.items():
        screen.set(fields[name], v)
    return screen.fire(_find(demo, "lina-run"))


def test_lina_refusal_after_a_good_run_clears_every_output(served):
    screen = Screen(served)
    assert _lina_run(served, screen, prompt=MIRROR, candidate="cplus_guided_k12")
    out = _lina_screen(served, screen)
    assert "saved" in out["md"] and out["mask_img"] and out["mask_visible"]
    screen.set(_find(served, "lina-candidate"), "donor_k10")      # refused: no donor here
    assert not _lina_run(served, screen)
    out = _lina_screen(served, screen)
    assert out["status"].startswith("**Not run**") and out["md"] == ""
    assert all(out[k] is None for k in ("base_img", "lina_img", "mask_img", "truth",
                                        "previews"))
    assert out["vb"]["data"] == [] and out["spec"] == "" and out["mask_visible"] is False


def test_predict_after_a_run_leaves_no_picture_of_the_run(served):
    screen = Screen(served)
    assert _lina_run(served, screen, prompt=MIRROR, candidate="cplus_all")
    assert "saved" in _lina_screen(served, screen)["md"]
    screen.set(_find(served, "lina-prompt"), "a wood ball in a beaker of water")
    screen.set(_find(served, "lina-candidate"), "predicted")
    assert screen.fire(_find(served, "lina-predict"))
    out = _lina_screen(served, screen)
    assert out["md"].startswith("**Predicted, not run:**") and "wood ball" in out["md"]
    assert "predictor" in out["explain"] and out["status"] == ""
    assert all(out[k] is None for k in ("base_img", "lina_img", "mask_img", "previews"))
    assert out["vb"]["data"] == [] and out["spec"] == ""


def _scene(demo, screen: Screen) -> dict:
    return {**_values(demo, screen, {"sample": "scene-sample", "attn": "scene-attn",
                                     "plot": "scene-plot", "info": "scene-info",
                                     "status": "scene-status"}),
            "v_model": screen.value(_labelled(demo, "verifier: model sample")),
            "node": _find(demo, "ed-node")}


def test_scene_preset_after_an_edit_leaves_no_sample_of_the_scene_before(served):
    screen = Screen(served)
    screen.set(_find(served, "scene-prompt"), MIRROR)
    gen = next(b for b in served.blocks.values() if getattr(b, "value", None) == "Generate")
    fn = next(f for f in served.default_config.fns.values() if f.api_name == "generate")
    screen.set(fn.inputs[3], STEPS)                                  # the steps slider
    assert screen.fire(gen)
    s = _scene(served, screen)
    assert s["sample"] and s["attn"] and any("reflection" in r[0] for r in s["v_model"]["data"])
    node, source = s["node"], _labelled(served, "edge source")
    screen.set(node, "reflection")
    screen.set(source, "reflection")
    assert screen.fire(_find(served, "ed-remove_node"))
    s = _scene(served, screen)
    assert "removed node `reflection`" in s["status"] and s["sample"] is None
    assert s["attn"] is None and s["v_model"]["data"] == []
    for picker in (node, source):                 # the removed node is not offered, nor picked
        assert screen.value(picker) is None
        assert "reflection" not in json.dumps(screen.choices.get(picker._id))
    # a preset after the edit: the new scene, and nothing of the sample before
    assert screen.fire(gen)
    _click_preset(screen, _find(served, "scene-presets"), 1)         # shadow
    s = _scene(served, screen)
    assert "shadow" in s["info"] and s["sample"] is None and s["attn"] is None
    assert s["v_model"]["data"] == [] and s["status"] == ""


def test_scene_refused_text_shows_nothing_of_the_scene_before(served):
    from lina_core.csg import GraphError, from_prompt
    bad = "the of and"
    with pytest.raises(GraphError):
        from_prompt(bad)
    screen = Screen(served)
    prompt = _find(served, "scene-prompt")
    screen.set(prompt, MIRROR)
    assert screen.fire(prompt, "submit")
    assert "reflection" in _scene(served, screen)["info"]
    screen.set(prompt, bad)
    assert not screen.fire(prompt, "submit")
    s = _scene(served, screen)
    assert s["plot"] is None and s["info"] == "" and "Not applied" in s["status"]
    assert MIRROR in s["status"] and screen.value(prompt) == bad     # the editor's scene, named


def test_the_preset_cache_is_keyed_by_the_core_code_too(tmp_path, monkeypatch):
    """A change to what the app runs (lina_core, e.g. LINA's loop), not only to the app's own
    code, gives the presets a new cache folder: old answers are never served."""
    from app import preset_cache
    before = preset_cache.source_hash()
    real = preset_cache.Path.read_bytes

    def edited(self):
        data = real(self)
        return data + b"\n# edited" if self.name == "adaptive.py" else data
    monkeypatch.setattr(preset_cache.Path, "read_bytes", edited)
    assert preset_cache.source_hash() != before


def test_probe_refusal_after_a_good_probe_clears_its_outputs(served):
    """The Probe tab: a refused probe after a good one leaves no plot, rows or summary of the
    good one under the new inputs (they kept the last run's before)."""
    screen = Screen(served)
    fn = next(f for f in served.default_config.fns.values() if f.api_name == "probe")
    name, split, n, seeds, ks, steps = fn.inputs[:6]
    plot, rows, md = fn.outputs
    for comp, v in ((name, "timing"), (seeds, "0"), (ks, "0, 1"), (steps, 2)):
        screen.set(comp, v)
    assert screen.fire(_find(served, "probe-run")), screen.errors
    assert screen.value(plot) is not None and screen.value(rows)["data"]
    assert "timing" in screen.value(md)
    screen.set(seeds, "zero")                                   # refused: not a seed list
    assert not screen.fire(_find(served, "probe-run"))
    assert screen.value(plot) is None and screen.value(md) == ""
    assert screen.value(rows)["headers"] == ["the probe's rows appear here after a run"]
    assert screen.value(_find(served, "probe-status")).startswith("**Not run**")


def test_runs_tab_failed_load_leaves_nothing_of_the_run_before(served):
    """The Runs tab: a run that cannot be loaded leaves no picture, spec or record of the one
    shown before under the new id."""
    screen = Screen(served)
    assert _lina_run(served, screen, prompt=MIRROR, candidate="cplus_all")
    rid = screen.value(_find(served, "lina-md")).split("`")[1]      # "**Run** `<id>` saved"
    fn = next(f for f in served.default_config.fns.values() if f.api_name == "runs_load")
    (run_id,), (images, spec, _, md) = fn.inputs, fn.outputs
    screen.set(run_id, rid)
    assert screen.fire(_find(served, "runs-load")), screen.errors
    assert screen.value(images) and rid in screen.value(md)
    screen.set(run_id, "20990101-000000-lina-000000")         # no such run
    assert not screen.fire(_find(served, "runs-load"))
    assert not screen.value(images) and screen.value(md) == "" and screen.value(spec) == ""
    assert screen.value(_find(served, "runs-status")).startswith("**Not run**")
