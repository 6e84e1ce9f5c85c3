"""The app in a real browser: headless Debian chromium through playwright. Loads the page, runs
the mirror talk preset baseline vs LINA on the LINA tab (an intervention picked in the dropdown),
and checks the screenshot is not blank, the two output images differ and the per-step previews
show two rows; runs a Video-tab preset and checks both clips load, play
together with "Play both", and seek to the scrubbed frame. Skips (saying why) when chromium or
playwright is missing."""
from __future__ import annotations

import io
import json
import os
import time
import urllib.request

import numpy as np
import pytest
from PIL import Image
from browser import MARKS, serving

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

pytestmark = MARKS
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="the playwright python package is not installed")



@pytest.fixture(scope="module")
def url(tmp_path_factory):
    import torch
    torch.set_num_threads(1)
    from app import build_demo
    from lina_core.__main__ import load_model
    demo = build_demo(pipe=load_model(None, tiny=True),
                      runs_dir=tmp_path_factory.mktemp("runs"), threads=1)
    with serving(demo) as url:
        yield url


def _fetch(src: str) -> np.ndarray:
    with urllib.request.urlopen(src, timeout=30) as r:   # the app's own local file route
        return np.asarray(Image.open(io.BytesIO(r.read())).convert("RGB"))


def test_lina_mirror_preset_in_the_browser(url, page, tmp_path):
    page.goto(url, wait_until="domcontentloaded", timeout=120_000)
    page.wait_for_function("document.querySelector('#model-status') && document.querySelector("
                           "'#model-status').innerText.includes('Model:')", timeout=120_000)
    page.get_by_role("tab", name="LINA").click()
    # the mirror talk preset fills the prompt (and seed) ...
    page.locator("#lina-presets").get_by_text("mirror (example, not measured)",
                                              exact=True).click()
    page.wait_for_function("document.querySelector('#lina-prompt textarea').value"
                           ".includes('mirror')", timeout=30_000)
    # no predictor here (LINA would choose "none"): pick an intervention by hand ...
    page.locator("#lina-candidate input").click()
    page.locator("li[data-testid=dropdown-option]", has_text="cplus_all").first.click()
    page.wait_for_function("document.querySelector('#lina-candidate input').value"
                           " === 'cplus_all'", timeout=30_000)
    # ... and "Run" gives baseline and LINA from the same noise
    page.locator("#lina-run").click()
    page.wait_for_function("document.querySelector('#lina-md') && document.querySelector("
                           "'#lina-md').innerText.includes('saved')", timeout=180_000)
    page.wait_for_selector("#lina-baseline img[src]", timeout=60_000)
    page.wait_for_selector("#lina-lina img[src]", timeout=60_000)
    time.sleep(1.5)                                       # the images fade in
    shot = tmp_path / "lina.png"
    page.screenshot(path=str(shot), full_page=True)

    full = np.asarray(Image.open(shot).convert("RGB")).astype(np.float32)
    assert full.std() > 10 and len(np.unique(full.reshape(-1, 3), axis=0)) > 50, "blank page"
    base = _fetch(page.locator("#lina-baseline img").get_attribute("src"))
    lina = _fetch(page.locator("#lina-lina img").get_attribute("src"))
    assert base.shape == lina.shape == (256, 256, 3)
    assert base.std() > 1 and lina.std() > 1, "an output image is blank"
    assert not np.array_equal(base, lina), "baseline and LINA images are identical"
    # and what is on screen differs too (crops of the screenshot, not just the files)
    crop_b = np.asarray(Image.open(io.BytesIO(
        page.locator("#lina-baseline img").screenshot())).convert("RGB"))
    crop_l = np.asarray(Image.open(io.BytesIO(
        page.locator("#lina-lina img").screenshot())).convert("RGB"))
    # (five images share the row, so the two may differ by a pixel of layout rounding)
    h, w = min(crop_b.shape[0], crop_l.shape[0]), min(crop_b.shape[1], crop_l.shape[1])
    assert abs(crop_b.shape[1] - crop_l.shape[1]) <= 1 and h > 100 and w > 100
    assert not np.array_equal(crop_b[:h, :w], crop_l[:h, :w])
    assert "LINA" in page.locator("#lina-md").inner_text()
    # the choice is explained, and both runs' per-step previews are shown: two rows
    assert "cplus_all" in page.locator("#lina-md").inner_text()
    assert "chosen by hand" in page.locator("#lina-why").inner_text()
    page.wait_for_selector("#lina-previews img[src]", timeout=60_000)
    strip = _fetch(page.locator("#lina-previews img").get_attribute("src"))
    assert strip.shape[0] == 12 + 2 * 96 + 4 and (strip[12 + 96:12 + 100] == 255).all()


#: per player: loaded enough to show a frame, its length, and whether / where it plays
_VIDEOS = ("() => ['video-baseline', 'video-lina'].map(id => { const v = document"
           ".querySelector(`#${id} video`); return v && {ready: v.readyState, duration: "
           "v.duration, paused: v.paused, t: v.currentTime, src: v.currentSrc}; })")


def _open_video_tab(url, page) -> None:
    page.goto(url, wait_until="domcontentloaded", timeout=120_000)
    page.wait_for_function("document.querySelector('#model-status') && document.querySelector("
                           "'#model-status').innerText.includes('Model:')", timeout=120_000)
    page.get_by_role("tab", name="Video").click()


@pytest.fixture(scope="module")
def cached_url(tmp_path_factory):
    """The app as ``app.py`` serves it: talk presets cached lazily (here with 3-step presets)."""
    import torch
    torch.set_num_threads(1)
    from app import build_demo, tab_video
    from lina_core.__main__ import load_model
    from tiny_pipes import toyworld_video_pipeline
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tab_video, "DEFAULT_STEPS", 3)          # the presets' steps (tiny model)
        demo = build_demo(pipe=load_model(None, tiny=True), cache_presets=True,
                          runs_dir=tmp_path_factory.mktemp("runs"), threads=1,
                          video_pipe=toyworld_video_pipeline(tmp_path_factory.mktemp("tok"),
                                                            trained_motion=False))
    with serving(demo) as url:
        yield url


def _run_id(page) -> str:
    page.wait_for_function("document.querySelector('#video-md') && document.querySelector("
                           "'#video-md').innerText.includes('saved')", timeout=180_000)
    return page.locator("#video-md code").first.inner_text()


def test_video_preset_plays_both_clips_in_sync(cached_url, page):
    _open_video_tab(cached_url, page)
    # the shadow talk preset fills the prompt, frames, steps, seed and guidance, and shows its
    # clips (computed on this first click, then served from the preset cache)
    from app.tab_video import preset_labels
    shadow = next(label for label in preset_labels() if label.startswith("shadow:"))
    page.locator("#video-presets").get_by_text(shadow, exact=True).click()
    page.wait_for_function("document.querySelector('#video-prompt textarea').value"
                           ".includes('lit from')", timeout=30_000)
    preset_run = _run_id(page)
    page.wait_for_function(f"({_VIDEOS})().every(v => v && v.ready >= 2 && v.duration > 0)",
                           timeout=60_000)
    page.wait_for_function("document.querySelector('#video-scrub input[type=range]')"
                           ".max === '7'", timeout=30_000)      # the scrubber spans 8 frames
    vids = page.evaluate(_VIDEOS)
    assert all(v["src"].endswith(".mp4") for v in vids)          # H.264 plays in chromium
    assert vids[0]["src"] != vids[1]["src"] and all(v["paused"] for v in vids)
    assert abs(vids[0]["duration"] - 8 / 4) < 0.2               # 8 frames at 4 fps
    # "Play both": both run, from the start, on one clock
    play = page.locator("#video-play")
    play.click()
    page.wait_for_function(f"({_VIDEOS})().every(v => !v.paused && v.t > 0.3)", timeout=10_000)
    vids = page.evaluate(_VIDEOS)
    assert abs(vids[0]["t"] - vids[1]["t"]) < 0.25, vids
    assert play.inner_text() == "Pause both"
    play.click()
    page.wait_for_function(f"({_VIDEOS})().every(v => v.paused)", timeout=10_000)
    assert play.inner_text() == "Play both"
    # the scrubber: frame 5 in both players (its middle, 5.5 / 4 s) and in the frame images
    frame = page.locator("#video-scrub input[type=number]")
    frame.fill("5")
    frame.press("Enter")
    page.wait_for_function(f"({_VIDEOS})().every(v => Math.abs(v.t - 5.5 / 4) < 0.05)",
                           timeout=10_000)
    page.wait_for_function("document.querySelector('#video-frame-md').innerText"
                           ".includes('Frame 5')", timeout=30_000)
    # the Run button computes the same inputs afresh (a new run, not the cached one)
    page.locator("#video-run").click()
    page.wait_for_function(f"document.querySelector('#video-md code').innerText !== "
                           f"'{preset_run}'", timeout=180_000)
    assert "3 steps" in page.locator("#video-md").inner_text()
    page.wait_for_function(f"({_VIDEOS})().every(v => v && v.ready >= 2 && v.duration > 0)",
                           timeout=60_000)


#: texts the prompt parser refuses (the first it refuses is typed into the Scene tab)
REFUSED = ("", "the of and", "%%% ### 12345")
OPEN_PROMPT = "a black cat sleeping on a sofa under a lamp"
TOY_PROMPT = "a green cone on the floor, lit from the left"


def _refused_text() -> str:
    from lina_core.csg import GraphError, from_prompt
    for text in REFUSED[1:]:
        try:
            from_prompt(text)
        except GraphError:
            return text
    return REFUSED[0]


def _scene_prompt(page) -> str:
    return page.evaluate("document.querySelector('#scene-prompt textarea').value")


def _submit_scene(page, text: str) -> None:
    box = page.locator("#scene-prompt textarea")
    box.fill(text)
    box.press("Enter")


def _open_graph_json() -> str:
    from tiny_pipes import open_graph
    return open_graph().to_json()


def _parses_open_world() -> bool:
    from lina_core.csg import GraphError, from_prompt
    try:
        return from_prompt(OPEN_PROMPT).graph.category == "open"
    except GraphError:
        return False


def _show_open_world_scene(page) -> str:
    """An open-world scene in the Scene tab: typed as a prompt where the parser reads prose,
    else pasted into the graph JSON box; returns the prompt the tab then shows."""
    if _parses_open_world():
        _submit_scene(page, OPEN_PROMPT)
    else:
        page.locator("#scene-json .cm-content").click()
        page.keyboard.press("Control+A")
        page.keyboard.insert_text(_open_graph_json())
        page.get_by_role("button", name="Apply JSON").click()
    page.wait_for_function("document.querySelector('#scene-info').innerText"
                           ".includes('open-world')", timeout=60_000)
    return _scene_prompt(page)


def test_scene_tab_keeps_the_prompt_after_a_refusal(url, page, tmp_path):
    page.goto(url, wait_until="domcontentloaded", timeout=120_000)
    page.wait_for_function("document.querySelector('#model-status') && document.querySelector("
                           "'#model-status').innerText.includes('Model:')", timeout=120_000)
    page.get_by_text("edit the graph: JSON (the source of truth)").click()
    page.wait_for_function("document.querySelector('#scene-json .cm-content') && document"
                           ".querySelector('#scene-json .cm-content').innerText.includes("
                           "'schema_version')", timeout=30_000)
    prompt = _show_open_world_scene(page)
    assert "cat" in prompt, prompt
    page.wait_for_function(f"({_PLOTTED})().includes('cat')", timeout=30_000)
    page.wait_for_selector("#scene-plot .js-plotly-plot", timeout=30_000)
    time.sleep(1.0)
    page.screenshot(path=str(tmp_path / "scene.png"), full_page=True)
    info, graph_json = page.locator("#scene-info").inner_text(), _json_box(page)
    assert "sofa" in graph_json and "open-world" in info and "c+" in info
    # a refused prompt: the message, the status line says so, and the text is still there
    bad = _refused_text()
    _submit_scene(page, bad)
    page.wait_for_function("document.querySelector('#scene-status').innerText"
                           ".includes('Not applied')", timeout=30_000)
    assert _scene_prompt(page) == bad, "the refused prompt was wiped"
    assert "Error" not in page.locator("#scene-prompt").inner_text()
    # nothing of the last scene stays shown under the new text; the status line names the
    # scene the editor keeps (issue 25)
    assert page.locator("#scene-info").inner_text().strip() == "" and _json_box(page) == ""
    assert prompt in page.locator("#scene-status").inner_text()
    assert "sofa" in graph_json and "open-world" in info
    # a good edit: the graph follows (the cat marked implicit) and the status line says so
    box = page.locator("#scene-prompt textarea")
    box.fill(prompt)
    node = page.locator("#ed-node input")
    node.fill("cat")
    node.press("Enter")
    page.locator("#ed-mark_implicit").click()
    page.wait_for_function("document.querySelector('#scene-status').innerText"
                           ".includes('implicit (unstated)')", timeout=30_000)
    edited = _json_box(page)
    assert "cat" in dict(json.loads(edited))["implicit nodes"], edited
    # a refused edit (a node id that exists) changes nothing, and says so
    page.locator("#ed-add_node").click()
    page.wait_for_function("document.querySelector('#scene-status').innerText"
                           ".includes('Not applied')", timeout=30_000)
    assert _json_box(page) == edited and node.input_value() == "cat"
    page.screenshot(path=str(tmp_path / "scene_edited.png"), full_page=True)


#: the graph as the figure draws it: each node trace's name and node ids (the JSON box is a
#: CodeMirror editor, which draws only the lines in view)
_PLOTTED = ("() => { const p = document.querySelector('#scene-plot .js-plotly-plot'); "
            "return p && p.data ? JSON.stringify(p.data.filter(t => t.customdata)"
            ".map(t => [t.name, t.customdata])) : ''; }")


def _json_box(page) -> str:
    """The graph the tab shows (the figure's nodes), to compare before and after."""
    return page.evaluate(_PLOTTED)
