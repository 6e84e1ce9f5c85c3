"""Probes on a tiny random-weight pipeline: structure, counts, intervals and saved files."""
from __future__ import annotations

import json

import numpy as np
import pytest

from lina_core.__main__ import load_model
from lina_core.csg import from_prompt
from lina_core.insights.probes import ProbeResult, run_probe
from lina_core.stats import rate, wilson
from lina_core.toyworld.align import align_layout, find_object
from lina_core.toyworld.render import render


@pytest.fixture(scope="module")
def pipe():
    return load_model(None, tiny=True)


def test_wilson_interval_contains_the_rate_and_shrinks_with_n():
    lo, hi = wilson(8, 10)
    assert lo < 0.8 < hi
    lo2, hi2 = wilson(80, 100)
    assert hi2 - lo2 < hi - lo
    assert rate([True, False, True, True])["acc"] == 0.75


@pytest.mark.slow   # a probe with its files: over 4 s on 2 cores
def test_timing_probe_rows_and_files(pipe, tmp_path):
    r = run_probe("timing", pipe, "test-id", 1, seeds=[0], ks=[0, 2, 4], steps=4)
    assert isinstance(r, ProbeResult)
    ks = sorted({row["k"] for row in r.rows})
    assert ks == [0, 2, 4]
    for row in r.rows:
        assert row["n"] == 5          # one prompt per category, one seed
        assert row["lo"] <= row["acc"] <= row["hi"]
    raw = r.meta["raw"]
    # k == steps means no switch: c->c+ at k=4 must equal the plain c run judged at k=4 ...
    # and c->c+ at k=0 is c+ from the start, so it equals c+->c at k=4 (c+ all the way)
    for cat in {x["category"] for x in raw}:
        a = [x for x in raw if x["category"] == cat and x["direction"] == "c->c+" and x["k"] == 0]
        b = [x for x in raw if x["category"] == cat and x["direction"] == "c+->c" and x["k"] == 4]
        assert a[0]["physics"] == b[0]["physics"] and a[0]["texture"] == b[0]["texture"]
    paths = r.save(tmp_path)
    assert json.loads(paths["json"].read_text())["name"] == "timing"
    assert paths["png"].stat().st_size > 1000 and paths["html"].stat().st_size > 1000


@pytest.mark.slow   # 25-step runs of the shipped video model for every k: ~12 s; the image one is lighter
def test_timing_probe_runs_unchanged_on_the_video_pipeline(tmp_path):
    """The same probe on clips: the clip categories, each clip judged by its temporal
    question, the trajectory cache on 5-D latents (a switch at k == steps is the base clip)."""
    video = load_model(None, tiny=True, video=True)
    r = run_probe("timing", video, "test-ood", 1, seeds=[0], ks=[0, 3], steps=3)
    raw = r.meta["raw"]
    assert {x["category"] for x in raw} == {"reflection", "buoyancy", "shadow"}
    assert all(row["n"] == 3 for row in r.rows)
    for cat in {x["category"] for x in raw}:
        a = [x for x in raw if x["category"] == cat and x["direction"] == "c->c+" and x["k"] == 0]
        b = [x for x in raw if x["category"] == cat and x["direction"] == "c+->c" and x["k"] == 3]
        assert a[0]["physics"] == b[0]["physics"] and a[0]["texture"] == b[0]["texture"]


def test_multihop_and_inpaint_probes_run(pipe):
    m = run_probe("multihop", pipe, "test-ood", 1, seeds=[0], steps=3)
    assert {row["caption"] for row in m.rows} == {"implicit", "explicit"}
    i = run_probe("inpaint", pipe, "test-ood", 1, seeds=[0], ks=[1, 2], steps=3)
    assert {row["k"] for row in i.rows} == {1, 2}


def test_disentangle_probe_has_linear_probe(pipe):
    d = run_probe("disentangle", pipe, "test-id", 1, seeds=[0], steps=3)
    lin = d.meta["linear_probe"]
    assert set(lin) == {"colour from colour token", "light side from colour token",
                        "colour from light token", "light side from light token"}
    assert {row["swap"] for row in d.rows} == {"texture (colour)", "physics (light side)"}


def test_unknown_probe_is_rejected(pipe):
    with pytest.raises(ValueError, match="probe"):
        run_probe("nonsense", pipe)


def test_align_layout_moves_boxes_to_the_drawn_object():
    g = from_prompt("a large red ball on a large round mirror").graph
    img = render(g, 64).image
    shifted = np.roll(img, 6, axis=1)
    box = find_object(shifted, g)
    ga = align_layout(g, shifted)
    assert abs(((ga.node("obj0")["box"][0] + ga.node("obj0")["box"][2]) / 2)
               - ((box[0] + box[2]) / 2)) < 1e-6
    dx = ga.node("reflection")["box"][0] - g.node("reflection")["box"][0]
    assert dx == pytest.approx(6 / 64, abs=1.5 / 64)
