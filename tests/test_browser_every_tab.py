"""Every tab in a real browser (headless Debian chromium) on a model that is not ToyWorld: a tiny
random-weight Stable Diffusion 1.x saved with ``save_pretrained`` and loaded by the app from its
folder (``registry.load``, as ``app.py --model-dir`` does).  Each tab gets one refused input;
afterwards the input is still as typed, the message names the field, and no output box of the
tab says "Error".  A switch to a folder that does not load keeps the tiny SD model selected.
Skips (saying why) when chromium or playwright is missing."""
from __future__ import annotations

import json
import os
import time

import pytest
from browser import MARKS, PANEL, serving

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

pytestmark = MARKS
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="the playwright python package is not installed")

#: the text of the error toasts on screen
TOASTS = ("() => [...document.querySelectorAll('.toast-body')].map(t => t.innerText)"
          ".join('\\n')")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    import torch
    torch.set_num_threads(1)
    from app import build_demo, state
    from lina_core.pipelines import registry
    from tiny_pipes import sd_pipeline
    root = tmp_path_factory.mktemp("models")
    sd_pipeline(root / "tok").save_pretrained(root / "tiny-sd")
    (root / "broken-sd").mkdir()
    (root / "broken-sd" / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"]}))
    old = state.HANDLE, state.VIDEO, dict(registry.ALLOWLIST)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(state, "_size_kwargs", lambda m: {"height": 32, "width": 32})
        mp.setenv("LINA_PREDICTOR_DIR", str(tmp_path_factory.mktemp("no_predictor")))
        key = registry.register_local(str(root / "tiny-sd"), "sd").key
        broken = registry.register_local(str(root / "broken-sd"), "sd").key
        demo = build_demo(model=key, runs_dir=tmp_path_factory.mktemp("runs"), threads=1)
        with serving(demo) as url:
            yield url, key, broken
    state.HANDLE, state.VIDEO = old[:2]
    registry.ALLOWLIST.clear()
    registry.ALLOWLIST.update(old[2])


def _refused(page, field: str, timeout: float = 60_000) -> str:
    """Wait for the error toast naming ``field``; dismiss it; the tab's text afterwards."""
    try:
        page.wait_for_function(f"({TOASTS})().includes({json.dumps(field)})", timeout=timeout)
    except Exception:  # noqa: BLE001 - say what the page showed instead
        page.screenshot(path="/tmp/lina-refused-timeout.png", full_page=True)
        raise AssertionError(f"no toast naming {field!r}; toasts {page.evaluate(TOASTS)!r}; "
                             f"panel {page.evaluate(PANEL)[-1500:]!r}") from None
    time.sleep(0.5)                                   # outputs settle after the event
    toasts = page.evaluate(TOASTS)
    for close in page.locator(".toast-close").all():
        try:
            close.click(timeout=2_000)
        except Exception:  # noqa: BLE001 - a toast may close by itself
            pass
    panel = page.evaluate(PANEL)
    assert "Error" not in panel, f"an output box says Error after refusing {field}: {panel}"
    assert "Traceback" not in toasts and "internal error" not in toasts, toasts
    return toasts

def _refused_as_typed(page, box: str, text: str, button: str, field: str) -> None:
    """Type ``text`` into the ``box`` element, press ``button``: refused naming ``field``, and
    the box still holds what was typed."""
    # a tab's content renders on its first visit; on a busy machine a box typed into before
    # that is drawn again with its default (seen once: the Video tab ran its preset prompt)
    page.locator(f"#{button}").wait_for(state="visible")
    for _ in range(3):
        _type_box(page, box, text)
        time.sleep(0.3)
        if _value(page, f"#{box} textarea, #{box} input") == text:
            break
    page.locator(f"#{button}").click()
    _refused(page, field)
    assert _value(page, f"#{box} textarea, #{box} input") == text


def _value(page, selector: str) -> str:
    return page.locator(selector).input_value()


def _type_box(page, elem: str, text: str) -> None:
    box = page.locator(f"#{elem} textarea, #{elem} input").first
    box.fill(text)


def test_every_tab_refuses_bad_input_and_keeps_it(served, page, tmp_path):
    url, key, broken = served
    page.goto(url, wait_until="domcontentloaded", timeout=120_000)
    page.wait_for_function("document.querySelector('#model-status') && document.querySelector("
                           "'#model-status').innerText.includes('tiny-sd')", timeout=120_000)
    assert "runs on the CPU" in page.locator("#model-status").inner_text()
    # Scene: a prompt the parser refuses
    page.get_by_role("tab", name="Scene").click()
    bad = "the the the"
    _type_box(page, "scene-prompt", bad)
    page.locator("#scene-prompt textarea").press("Enter")
    page.wait_for_function("document.querySelector('#scene-status').innerText"
                           ".includes('Not applied')", timeout=60_000)
    assert "Error" not in page.evaluate(PANEL)
    assert _value(page, "#scene-prompt textarea") == bad
    # Intervene: a pasted spec with too many steps
    page.get_by_role("tab", name="Intervene").click()
    spec = json.dumps({"prompt": "a red ball", "steps": 500})
    page.get_by_text("paste a spec JSON").first.click() if \
        not page.locator("#iv-spec-in .cm-content").is_visible() else None
    page.locator("#iv-spec-in .cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(spec)
    page.locator("#iv-run-json").click()
    assert "100" in _refused(page, "steps")
    assert "500" in page.locator("#iv-spec-in .cm-content").inner_text()
    # Probe: a seed that is not a number
    page.get_by_role("tab", name="Probe").click()
    _refused_as_typed(page, "probe-seeds", "0, x", "probe-run", "seeds")
    # LINA: a batch seed that is not a number
    page.get_by_role("tab", name="LINA").click()
    page.get_by_text("batch: a few seeds").click()
    page.locator("#lina-batch-run").wait_for(state="visible")     # the accordion has opened
    _refused_as_typed(page, "lina-seeds", "1, two", "lina-batch-run", "seeds")
    # Video: an empty prompt
    page.get_by_role("tab", name="Video").click()
    _refused_as_typed(page, "video-prompt", "   ", "video-run", "prompt")
    # Runs: Load with no run chosen
    page.get_by_role("tab", name="Runs").click()
    page.locator("#runs-load").click()
    _refused(page, "run id")
    page.screenshot(path=str(tmp_path / "runs.png"), full_page=True)
    # the picker: a folder that does not load keeps the tiny SD model selected
    page.locator("#model-picker input").click()
    page.locator("li[data-testid=dropdown-option]", has_text="broken-sd").first.click()
    page.wait_for_function("document.querySelector('#model-status').innerText"
                           ".includes('Could not switch')", timeout=60_000)
    page.wait_for_function("document.querySelector('#model-picker input').value"
                           ".includes('tiny-sd')", timeout=30_000)
    # the picker's revert is an event of its own: Gradio's "processing" overlay sits on the
    # status until it ends (a clean-clone CI run read it there once)
    page.wait_for_function("!document.querySelector('#model-status').innerText"
                           ".startsWith('processing')", timeout=30_000)
    status = page.locator("#model-status").inner_text()      # diffusers' own words may say
    assert status.startswith("Model: local: tiny-sd"), status   # "Error"; the model stays
