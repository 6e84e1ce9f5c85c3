"""ToyWorld video: clip data, the clip verifier, video files, and evaluation / CLI on clips."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from lina_core.csg import GraphError
from lina_core.toyworld.data import is_held_out, sample_scene
from lina_core.toyworld.render import clip_frames, render, render_clip
from lina_core.toyworld.verify_eval import wrong_motion
from lina_core.toyworld.categories import CATEGORIES as TABLE
from lina_core.toyworld.verify_video import (ClipVerdict, judge,
                                             physics_frames, verify_clip)
from lina_core.toyworld.video_data import (CLIP_CATEGORIES, check_frames, from_strip, load_clips,
                                           sample_clip, to_strip, write_video_split)
from lina_core.video_io import read_video, side_by_side, write_video

SIZE = 32


# ---------------------------------------------------------------------- data


def test_clip_split_is_an_imagefolder_of_filmstrips_with_per_frame_masks(tmp_path):
    out = write_video_split(tmp_path / "d", "test-ood", 6, frames=8, size=SIZE)
    rows = [json.loads(x) for x in (out / "metadata.jsonl").read_text().splitlines()]
    assert [r["category"] for r in rows] == list(CLIP_CATEGORIES) * 2
    x, rows2 = load_clips(out)
    assert x.shape == (6, 3, 8, SIZE, SIZE) and x.min() >= -1 and x.max() <= 1
    for i, r in enumerate(rows):
        s = sample_clip("test-ood", i)
        assert r["seed"] == s.seed == sample_scene("test-ood", i, s.category).seed
        assert is_held_out(s.graph)                       # the image split's held-out combos
        assert r["implicit_caption"] == s.caption(False)
        assert r["explicit_caption"] == s.caption(True)
        truth = np.stack([f.image for f in render_clip(s.graph, 8, SIZE)])
        got = ((x[i].permute(1, 2, 3, 0).numpy() + 1) * 127.5).round().astype(np.uint8)
        assert np.array_equal(got, truth)
        masks = np.load(out / r["masks"])
        for f in (0, 7):
            for node in s.graph.graph.nodes:
                key = f"f{f:02d}_{node}"
                if key in masks:
                    assert masks[key].shape == (SIZE, SIZE)
        assert any(k.startswith("f07_") for k in masks.files)


def test_train_clips_avoid_held_out_combinations():
    for i in range(30):
        assert not is_held_out(sample_clip("train", i).graph)


def test_strip_round_trip_and_bad_frames():
    clip = np.random.default_rng(0).integers(0, 255, (8, 4, 5, 3), dtype=np.uint8)
    assert np.array_equal(from_strip(to_strip(list(clip)), 8), clip)
    with pytest.raises(ValueError, match="frames"):
        from_strip(to_strip(list(clip)), 3)
    for bad in (7, 17, 8.0, True, "8"):
        with pytest.raises(GraphError, match=r"frames: .* \[8, 16\]"):
            check_frames(bad)
    with pytest.raises(GraphError, match="category"):
        sample_clip("train", 0, "balance")


# ---------------------------------------------------------------------- verifier


@pytest.mark.parametrize("cat", CLIP_CATEGORIES)
def test_clip_verifier_passes_true_clips_and_rejects_wrong_motion(cat):
    """Rendered clips pass their temporal question and every frame's texture; the same scenes
    with the wrong motion fail it (the full-size figures are in docs/MODEL.md)."""
    for i in range(3):
        s = sample_scene("test-id", 3 * i + CLIP_CATEGORIES.index(cat), cat)
        for frames in (8, 12) if i == 0 else (8,):     # 12 frames once: rendering is most
            #                                             of the fast lane's time here
            truth = [render(fg, SIZE).image for fg in clip_frames(s.graph, frames)]
            v = verify_clip(truth, s.graph)
            assert v.texture_ok and v.physics_ok, v.reason
            assert list(v.temporal) == [TABLE[cat].temporal_question]
            assert [p is not None for p in v.frame_physics] == \
                [f in physics_frames(cat, frames) for f in range(frames)]
            assert all(p for p in v.frame_physics if p is not None)
        wrong = [render(fg, SIZE).image for fg in wrong_motion(s.graph, 8)]
        vw = verify_clip(wrong, s.graph)
        assert not vw.physics_ok, vw.reason


def test_still_frames_fail_the_temporal_question():
    """A model that draws the still scene in every frame has not drawn the motion."""
    for cat in CLIP_CATEGORIES:
        s = sample_scene("test-id", CLIP_CATEGORIES.index(cat), cat)
        still = render(s.graph, SIZE).image
        assert not verify_clip([still] * 8, s.graph).physics_ok


def test_judge_dispatches_on_shape_and_clip_verdicts_read_like_still_ones():
    s = sample_scene("test-id", 0, "shadow")
    clip = np.stack([f.image for f in render_clip(s.graph, 8, SIZE)])
    v = judge(clip, s.graph)
    assert isinstance(v, ClipVerdict)
    assert set(v.texture) == {f"frame{f}" for f in range(8)} and v.physics == v.temporal
    assert set(v.per_node) == set(s.graph.graph.nodes)
    assert json.loads(json.dumps(v.to_dict()))["physics_ok"] is True
    assert not isinstance(judge(clip[-1], s.graph), ClipVerdict)
    with pytest.raises(ValueError, match="category"):
        verify_clip(clip, sample_scene("test-id", 0, "balance").graph)


# ---------------------------------------------------------------------- files


@pytest.mark.parametrize("suffix", [".mp4", ".webm", ".gif"])
def test_video_files_decode_to_the_clip(tmp_path, suffix):
    s = sample_scene("test-id", 0, "reflection")
    clip = np.stack([f.image for f in render_clip(s.graph, 8, SIZE)])
    p = write_video(side_by_side(clip, clip), tmp_path / f"c{suffix}", fps=4, scale=4)
    back = read_video(p)
    assert back.shape == (8, SIZE * 4, (2 * SIZE + 2) * 4, 3)
    small = back[:, ::4, : SIZE * 4: 4].astype(np.float32)
    assert np.abs(small - clip).mean() < 6      # lossy codecs, near-lossless settings
    with pytest.raises(ValueError, match="path"):
        write_video(clip, tmp_path / "c.avi")
    with pytest.raises(ValueError, match="fps"):
        write_video(clip, tmp_path / "c.gif", fps=0)


# ---------------------------------------------------------------------- evaluation and CLI


@pytest.mark.slow   # samples clips of every kind: over 4 s on 2 cores
def test_evaluate_model_on_a_video_pipeline(tmp_path):
    from lina_core.bench.evaluate import evaluate_model, markdown_table
    from tiny_pipes import toyworld_video_pipeline
    pipe = toyworld_video_pipeline(tmp_path)
    res = evaluate_model(pipe, 1, splits=("test-ood",), steps=2, batch=2, keep_images=1,
                         frames=8, progress=lambda m: None)
    metrics = {(r["category"], r["caption"], r["metric"]) for r in res["rows"]}
    assert {m for _, _, m in metrics} == {"texture", "physics", "frame_texture", "rest_physics"}
    assert {c for c, _, _ in metrics} == set(CLIP_CATEGORIES)
    ft = [r for r in res["rows"] if r["metric"] == "frame_texture"]
    assert all(r["n"] == 8 for r in ft)                 # one clip of 8 frames per cell
    assert res["grids"]["test-ood/shadow/implicit"].shape == (8, 32, 32, 3)
    assert "per-frame texture (implicit)" in markdown_table(res["rows"])


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """``python -m lina_core`` run in this process (cli_runner; test_cli keeps the subprocess
    smoke tests)."""
    from cli_runner import run_cli as run
    return run(*args)


def test_cli_video_errors_name_the_field(tmp_path):
    r = run_cli("data", "--out", str(tmp_path / "d"), "--n", "2", "--frames", "20")
    assert r.returncode == 2 and "frames: 20" in r.stderr and "[8, 16]" in r.stderr
    r = run_cli("generate", "--tiny", "--video", "--steps", "2", "--out", str(tmp_path / "a.png"))
    assert r.returncode == 2 and "--out" in r.stderr and ".mp4" in r.stderr


@pytest.mark.slow   # samples a clip with the tiny video model; the CLI's image path stays fast
def test_cli_generates_a_clip(tmp_path):
    r = run_cli("generate", "--tiny", "--video", "--frames", "9", "--steps", "2", "--out",
                str(tmp_path / "a.gif"))
    assert r.returncode == 0, r.stderr
    assert read_video(tmp_path / "a.gif").shape[0] == 9
    rec = json.loads((tmp_path / "a.json").read_text())
    assert rec["model"] == "ToyWorldVideoPipeline"
