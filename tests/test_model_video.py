"""The shipped ToyWorld video model: test_model.py's tests, on the video weights (a file of its
own, so that `pytest -n 2 --dist loadfile` samples the image and video models on different
workers), and the model card's own clips drawn again."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_model import (load_shipped, test_same_seed_same_pixels,  # noqa: F401
                        test_weights_are_safetensors_only)

from lina_core.bench.evaluate import sample_images
from lina_core.toyworld.data import sample_scene, scene_index
from lina_core.toyworld.video_data import CLIP_CATEGORIES

ROOT = Path(__file__).resolve().parents[1]
#: the card's evaluation, every clip's per-frame verdicts (docs/MODEL.md: eval --video --frames
#: 8, scenes 0-7 and 8-15 merged; each clip's noise seeded by its scene index)
CARD_EVAL = ROOT / "docs" / "results" / "video_model_eval.json"


@pytest.fixture(scope="module", params=["video"])
def shipped(request):
    return load_shipped(request.param)


def card_clips(split: str, caption: str) -> dict[tuple[str, int], dict]:
    """The card's raw rows of one (split, caption) by (category, scene index): rows are stored
    run by run (start 0, then 8), in scene order within each cell."""
    card = json.loads(CARD_EVAL.read_text())
    out: dict[tuple[str, int], dict] = {}
    seen: dict[str, int] = {}
    for r in card["raw"]:
        if (r["split"], r["caption"]) != (split, caption):
            continue
        j = seen.get(r["category"], 0)
        seen[r["category"]] = j + 1
        out[(r["category"], j)] = r
    return out


@pytest.mark.slow   # three clips of the shipped video model at 25 steps: ~60 s on one core
def test_the_cards_clips_drawn_again_get_the_cards_frame_verdicts(shipped):
    """The model card's rates are pooled from recorded clips (`video_model_eval.json`); one
    explicit test-id clip per clip kind, drawn again with the card's prompt, seed (its scene
    index), steps and guidance, gets the card's per-frame texture verdicts.  Paired, so three
    clips test what six unpaired ones tested (the card's rate inside a sample's interval).
    Frames on a verdict's edge may flip with float rounding (the card's clips were drawn in
    batches of 16, these alone; other CPUs round otherwise): 1 of 24 may differ."""
    _, _, pipe = shipped
    card = card_clips("test-id", "explicit")
    # one scene per kind, seed 7 (the card's run at start 0): its buoyancy clip has 5 of 8 frames
    # wrong in the card (11000001), so neither an always-right nor an always-wrong model passes;
    # the same clip from the next seed differed in 2 frames (01000101)
    i = 7
    samples = [sample_scene("test-id", scene_index(i, c, CLIP_CATEGORIES), category=c)
               for c in CLIP_CATEGORIES]
    rows = [card[(c, i)] for c in CLIP_CATEGORIES]
    assert [list(s.combo) for s in samples] == [r["combo"] for r in rows]   # the same scenes
    from lina_core.toyworld.verify_video import judge
    clips = [sample_images(pipe, [s.caption(True)], seed=i, frames=8)[0] for s in samples]
    got = [judge(clip, s.graph).texture for clip, s in zip(clips, samples)]
    frames = [(c, f, g[f], r["texture"][f]) for c, g, r in zip(CLIP_CATEGORIES, got, rows)
              for f in r["texture"]]
    differ = [x for x in frames if x[2] != x[3]]
    assert len(frames) == 24 and len(differ) <= 1, f"frames unlike the card's: {differ}"
