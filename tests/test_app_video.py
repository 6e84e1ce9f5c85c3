"""The Video tab on a tiny random-weight ToyWorld video model: through the app's HTTP API
(gradio_client) and through the tab's plain functions. Checks the clips have the requested
length, the files decode back to it in order, the scrubber shows frame f of each clip, the verdict
table has a row per frame, presets are held-out clip scenes, and bad inputs name their field."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from app.build import free_port

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

import gradio as gr  # noqa: E402

from lina_core import video_io  # noqa: E402
from lina_core.csg import from_prompt  # noqa: E402
from lina_core.toyworld.data import is_held_out  # noqa: E402
from lina_core.toyworld.render import render_clip  # noqa: E402
from lina_core.toyworld.verify_video import physics_frames  # noqa: E402
from tiny_pipes import api_error as _error, toyworld_video_pipeline  # noqa: E402

MIRROR = "a large yellow cube on a small round mirror"
WATER = "a metal cube in a beaker of water"
STEPS = 3          # the tiny model: a few steps exercise every path
SCALE = 8          # tab_video.FILE_SCALE: 32 px frames are 256 px in the files


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    import torch
    torch.set_num_threads(1)
    from app import build_demo, launch_kwargs
    from lina_core.__main__ import load_model
    runs = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as mp:
        # no predictor here, whatever assets/lina_predictor holds: LINA chooses "none"
        mp.setenv("LINA_PREDICTOR_DIR", str(tmp_path_factory.mktemp("no-predictor")))
        demo = build_demo(pipe=load_model(None, tiny=True), runs_dir=runs, threads=1,
                          video_pipe=toyworld_video_pipeline(tmp_path_factory.mktemp("tok"),
                                                          trained_motion=False))
        port = free_port()
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                    quiet=True, **launch_kwargs())
        client = Client(f"http://127.0.0.1:{port}/", verbose=False,
                        download_files=str(tmp_path_factory.mktemp("downloads")))
        yield client, runs, demo
        demo.close()


def _path(x) -> str:
    """A file path from an API answer or a cached output (gr.Video gives {"video": ...,
    "subtitles": ...}; the example cache gives Gradio's VideoData / FileData models)."""
    if hasattr(x, "model_dump"):
        x = x.model_dump()
    if isinstance(x, dict):
        return _path(x.get("video") or x.get("path") or x.get("value"))
    return str(x)


def _img(x) -> np.ndarray:
    return np.asarray(Image.open(_path(x)).convert("RGB"))


def _video_kwargs(**over):
    kw = dict(prompt=MIRROR, frames=8, steps=STEPS, seed=0, guidance=3.0,
              candidate="predicted")
    kw.update(over)
    return kw


def _truth(prompt: str, frames: int) -> np.ndarray:
    g = from_prompt(prompt).graph
    return np.stack([np.asarray(r.image) for r in render_clip(g, frames, 32)])


def _assert_in_order(decoded: np.ndarray, clip: np.ndarray, tol: float) -> None:
    """Each decoded frame is close to the enlarged source frame of the same index, and closer
    to it than to any other (so no frame was dropped, doubled or reordered)."""
    ref = video_io.enlarge(clip, SCALE).astype(np.float32)
    assert decoded.shape == ref.shape
    err = np.abs(decoded[:, None].astype(np.float32) - ref[None]).mean(axis=(2, 3, 4))
    assert np.all(np.diag(err) < tol), np.diag(err)
    assert list(err.argmin(axis=1)) == list(range(len(clip)))


# --------------------------------------------------------------------------- through the API


@pytest.mark.slow   # a clip pair through the app: over 4 s on 2 cores
def test_video_run_through_the_api(app):
    client, runs, _ = app
    out = client.predict(api_name="/video", **_video_kwargs())
    (base_v, lina_v, strip, scrub, f_truth, f_base, f_lina, frame_md, table, temporal, mp4, gif,
     vjson, why, md) = out
    # two players' clips and the two exports decode back to 8 frames
    for v in (base_v, lina_v):
        assert _path(v).endswith(".mp4")
        assert video_io.read_video(_path(v)).shape == (8, 32 * SCALE, 32 * SCALE, 3)
    side = (8, 32 * SCALE, (2 * 32 + 2) * SCALE, 3)        # baseline | gap | LINA
    assert video_io.read_video(_path(mp4)).shape == side
    assert video_io.read_video(_path(gif)).shape == side
    # the scrubber is back at frame 0, whose ground-truth frame is shown
    assert scrub == 0
    truth = _truth(MIRROR, 8)
    assert np.array_equal(_img(f_truth), np.repeat(np.repeat(truth[0], 8, 0), 8, 1))
    # one verdict row per frame; the at-rest frames are the verifier's physics frames
    assert [r[0] for r in table["data"]] == list(range(8))
    rest = [r[0] for r in table["data"] if r[2].startswith("at rest")]
    assert rest == physics_frames("reflection", 8)
    assert all(r[4] == "-" for r in table["data"] if r[0] not in rest)
    # the temporal question for ground truth, baseline and LINA; the renderer's clip passes
    clips = [r[0] for r in temporal["data"]]
    assert clips == ["ground truth (render)", "baseline", "LINA"]
    assert temporal["data"][0][2] == "yes" and "reflection" in temporal["data"][0][1]
    assert json.loads(vjson)["truth"]["physics_ok"] is True
    # the run is saved: filmstrip PNGs at model resolution and the exports
    run_id = md.split("`")[1]
    folder = runs / run_id
    rec = json.loads((folder / "record.json").read_text())
    assert rec["kind"] == "video" and rec["frames"] == 8 and rec["fps"] == 4
    assert np.asarray(Image.open(folder / "truth.png")).shape == (32, 8 * 32, 3)
    assert {"baseline_vs_lina.mp4", "baseline_vs_lina.gif"} <= {p.name for p in folder.iterdir()}
    # the scrubber through the API: frame 5 of the ground truth, exactly
    t5, b5, l5, text = client.predict(strip_image=handle_file(_path(strip)), f=5,
                                      verdicts_json=vjson, api_name="/video_frame")
    assert np.array_equal(_img(t5), np.repeat(np.repeat(truth[5], 8, 0), 8, 1))
    assert _img(b5).shape == _img(l5).shape == (256, 256, 3) and "Frame 5" in text
    # a video run cannot be re-run in the Runs tab (that would use the image model)
    assert "Video tab" in _error(client, "/runs_rerun", rid=run_id)
    # no predictor: LINA chose "none" (the clips are the same) and says why
    assert rec["candidate"] == "none"
    assert rec["intervention_source"] == "no predictor: no intervention"
    assert "no learned predictor found" in rec["choice"]["why"]["predictor_note"]
    assert "`none`" in md and "no intervention was chosen" in md
    assert json.loads(why)["candidate"] == "none"
    assert np.array_equal(video_io.read_video(_path(base_v)), video_io.read_video(_path(lina_v)))


def test_video_candidate_by_hand_is_explained(app):
    client, runs, _ = app
    out = client.predict(api_name="/video", **_video_kwargs(candidate="cplus_guided_k12"))
    why, md = json.loads(out[-2]), out[-1]
    assert why["candidate"] == "cplus_guided_k12" and why["choice"]["why"]["source"] == \
        "chosen by hand"
    assert why["spec"]["latent_guidance"]["mask_node"] == "reflection"
    assert "`cplus_guided_k12`" in md and "chosen by hand" in md and "Guidance mask" in md
    assert "node `reflection`, box [" in md                  # as the run placed it
    rec = json.loads((runs / md.split("`")[1] / "record.json").read_text())
    assert rec["candidate"] == "cplus_guided_k12"
    assert rec["engine_records"]["lina"]["run_mask"]["node"] == "reflection"
    assert not np.array_equal(video_io.read_video(_path(out[0])),
                              video_io.read_video(_path(out[1])))


def test_bad_inputs_name_the_field(app):
    client, _, _ = app
    assert "frames" in _error(client, "/video", **_video_kwargs(frames=17))
    assert "frames" in _error(client, "/video", **_video_kwargs(frames=7))
    assert "steps" in _error(client, "/video", **_video_kwargs(steps=1))
    assert "seed" in _error(client, "/video", **_video_kwargs(seed=-1))
    assert "guidance_scale" in _error(client, "/video", **_video_kwargs(guidance=31))
    assert "guidance_scale" in _error(client, "/video", **_video_kwargs(guidance="NaN"))
    msg = _error(client, "/video", **_video_kwargs(
        prompt="a cork cube and a metal cube on a balance"))
    assert "category" in msg and "balance" in msg and "reflection, buoyancy, shadow" in msg
    assert "prompt" in _error(client, "/video", **_video_kwargs(prompt="  "))
    # a donor for a scene without one: the field, why, and what applies instead
    msg = _error(client, "/video", **_video_kwargs(candidate="donor_k10"))
    assert "candidate" in msg and "does not apply" in msg and "allowed here" in msg
    assert "candidate" in _error(client, "/video", **_video_kwargs(candidate="bogus"))
    assert "frame" in _error(client, "/video_frame", strip_image=None, f=99, verdicts_json="")
    assert "frame" in _error(client, "/video_frame", strip_image=None, f=0, verdicts_json="")


def test_errors_never_clear_inputs(app):
    """An error leaves the outputs as they were; no input is also an output of the run."""
    _, _, demo = app
    dep = next(d for d in demo.config["dependencies"] if d.get("api_name") == "video")
    assert dep["inputs"] and not set(dep["inputs"]) & set(dep["outputs"])


# --------------------------------------------------------------------------- plain functions


def test_nan_and_range_checks_name_the_field():
    from app.tab_video import check_inputs
    nan = float("nan")
    for field, args in (("frames", (MIRROR, nan, STEPS, 0, 3.0)),
                        ("frames", (MIRROR, 8.5, STEPS, 0, 3.0)),
                        ("steps", (MIRROR, 8, nan, 0, 3.0)),
                        ("seed", (MIRROR, 8, STEPS, nan, 3.0)),
                        ("guidance_scale", (MIRROR, 8, STEPS, 0, nan)),
                        ("guidance_scale", (MIRROR, 8, STEPS, 0, -1.0))):
        with pytest.raises(gr.Error, match=field):
            check_inputs(*args)
    with pytest.raises(gr.Error, match="scale"):   # a scale scene has no clip
        check_inputs("a blue cube larger than a red ball", 8, STEPS, 0, 3.0)
    with pytest.raises(gr.Error, match="candidate"):
        check_inputs(MIRROR, 8, STEPS, 0, 3.0, "donor_k6")
    assert check_inputs(MIRROR, 8, STEPS, 0, 3.0).candidate is None       # predicted
    assert check_inputs(MIRROR, 8, STEPS, 0, 3.0, "cplus_all").candidate == "cplus_all"


@pytest.mark.slow   # encodes clips to three formats: over 4 s on 2 cores
def test_clips_files_and_scrubber_frame_by_frame(app, tmp_path):
    from app.runstore import RunStore
    from app.tab_video import (check_inputs, filmstrip, frame_from_strip, frame_rows, run_clips,
                               scrub, scrub_range)
    from app.widgets import upscale
    run = run_clips(check_inputs(WATER, 12, STEPS, 1, 3.0, "cplus_all"), RunStore(tmp_path))
    assert run.baseline.shape == run.lina.shape == run.truth.shape == (12, 32, 32, 3)
    assert run.baseline.dtype == np.uint8
    assert not np.array_equal(run.baseline, run.lina)   # c+ for every step intervenes
    assert run.out["candidate"] == "cplus_all"
    assert np.array_equal(run.truth, _truth(WATER, 12))
    # files: 12 frames each, in order, near the source pixels (H.264 crf 12, GIF palette)
    _assert_in_order(video_io.read_video(run.files["baseline"]), run.baseline, tol=12)
    _assert_in_order(video_io.read_video(run.files["lina"]), run.lina, tol=12)
    side = video_io.side_by_side(run.baseline, run.lina)
    _assert_in_order(video_io.read_video(run.files["mp4"]), side, tol=12)
    _assert_in_order(video_io.read_video(run.files["gif"]), side, tol=20)
    # the scrubber gives frame f of each clip, exactly (the filmstrip is lossless)
    strip = filmstrip(run.truth, run.baseline, run.lina)
    vjson = json.dumps(run.verdicts)
    assert scrub_range(strip)["maximum"] == 11           # the scrubber spans this clip
    for f in (0, 6, 11):
        t, b, li = frame_from_strip(strip, f)
        assert np.array_equal(t, run.truth[f]) and np.array_equal(b, run.baseline[f])
        assert np.array_equal(li, run.lina[f])
        shown = scrub(strip, f, vjson)
        assert np.array_equal(shown[1], upscale(run.baseline[f]))
        assert np.array_equal(shown[2], upscale(run.lina[f])) and f"Frame {f}" in shown[3]
    with pytest.raises(gr.Error, match="frame"):
        frame_from_strip(strip, 12)
    with pytest.raises(gr.Error, match="frame"):
        scrub(None, 0, vjson)
    # the verdict table: one row per frame; physics only where the object has settled
    rows = frame_rows(run.verdicts, 12)
    assert [r[0] for r in rows] == list(range(12))
    settled = physics_frames("buoyancy", 12)
    assert [r[0] for r in rows if r[2].startswith("at rest")] == settled
    lina_phys = run.verdicts["lina"]["frame_physics"]
    assert [r[6] for r in rows] == ["-" if p is None else ("ok" if p else "WRONG")
                                    for p in lina_phys]


def test_presets_are_held_out_clip_scenes():
    from app.presets import VIDEO_PRESETS
    assert [k for k, _, _ in VIDEO_PRESETS] == ["reflection", "buoyancy", "shadow"]
    for kind, prompt, _ in VIDEO_PRESETS:
        g = from_prompt(prompt).graph
        assert g.category == kind and is_held_out(g), prompt


def test_cached_preset_outputs_survive_the_cache(tmp_path, monkeypatch):
    """With preset caching on, a preset's outputs (videos, files, tables, the scrubber back at
    frame 0) go through the app's preset cache (:mod:`app.preset_cache`) and come back usable."""
    import torch
    torch.set_num_threads(1)
    from app import context, state, tab_video
    from app.runstore import RunStore
    from lina_core.service import ModelService, VideoService
    monkeypatch.setattr(tab_video, "DEFAULT_STEPS", STEPS)
    old = state.VIDEO
    state.set_video_handle(VideoService(
        toyworld_video_pipeline(tmp_path / "tok", trained_motion=False), threads=1))
    try:
        with gr.Blocks():
            ctx = context.Ctx(state.HANDLE or ModelService(), RunStore(tmp_path / "runs"),
                              gr.State("toyworld"), gr.State({}), cache_presets=True,
                              video=state.VIDEO)
            tab_video.build(ctx)
        ex = ctx.parts["video_presets"]
        first = ex.answer((2, None))                       # the shadow preset
        out = ex.answer((2, None))                         # from the cache
    finally:
        state.VIDEO = old
    for k in ("base_vid", "lina_vid", "gif"):
        assert out[k] != first[k]                       # served from copies of the cache's
        assert video_io.read_video(out[k]).shape[0] == tab_video.DEFAULT_FRAMES
    assert out["scrubber"] == 0                         # the scrubber back at frame 0
    assert out["table"]["frame"].tolist() == list(range(tab_video.DEFAULT_FRAMES))
    assert out["md"] == first["md"] and "saved" in out["md"]
