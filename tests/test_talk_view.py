"""The speaker's path (issue 25) in a real browser (headless Debian chromium) at 1920 x 1080, on
the app as ``app.py`` serves it (presets cached; here the tiny pipelines, 3 steps, and a
predictor that chooses c+): "Start here" -> the comparison shows -> the talk view, opened by
its URL parameter, shows ground truth, baseline and LINA at 512 px or more and the slider -> a
typed held-out prompt runs -> a refused prompt shows one message and empties the outputs ->
the next preset fills them all again.  Each screen is checked for what it shows, and for no
"Error" badge.  Skips (saying why) when chromium or playwright is missing."""
from __future__ import annotations

import json
import os

import pytest
from browser import MARKS, PANEL, chromium_page, tiny_preset_app

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

pytestmark = MARKS
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="the playwright python package is not installed")

#: held out: the model's training set has no stone cube in water (test-ood's kind of scene)
HELD_OUT = "a stone cube in a beaker of water"
REFUSED = "???"
#: displayed width and height of the first image in an element (0, 0 when it has none)
BOX = ("(sel) => { const i = document.querySelector(sel + ' img[src]'); if (!i) return [0, 0];"
       " const r = i.getBoundingClientRect(); return [r.width, r.height]; }")
SRC = ("(sel) => { const i = document.querySelector(sel + ' img'); "
       "return i ? (i.getAttribute('src') || '') : ''; }")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with tiny_preset_app(tmp_path_factory) as url:
        yield url


@pytest.fixture()
def page(tmp_path):
    """A 1920 x 1080 page: the size the talk view is for."""
    with chromium_page(tmp_path / "profile", 1920, 1080) as p:
        yield p


def _open(page, url: str) -> None:
    page.goto(url, wait_until="domcontentloaded", timeout=120_000)
    page.wait_for_function("document.querySelector('#model-status') && document.querySelector("
                           "'#model-status').textContent.includes('Model:')", timeout=120_000)


def _wait(page, js: str, what: str, timeout: float = 60_000) -> None:
    try:
        page.wait_for_function(js, timeout=timeout)
    except Exception:  # noqa: BLE001 - say what the page showed instead
        page.screenshot(path="/tmp/lina-talk-timeout.png", full_page=True)
        raise AssertionError(f"{what}; the page showed: {page.evaluate(PANEL)[-1500:]}") \
            from None


def _new_picture(page, sel: str, before: str) -> str:
    _wait(page, f"(({SRC})({json.dumps(sel)}) || '') !== {json.dumps(before)} && "
                f"({SRC})({json.dumps(sel)}).includes('/file=')", f"{sel} never showed a picture")
    return page.evaluate(SRC, sel)


def _no_error(page, what: str) -> None:
    panel = page.evaluate(PANEL)
    assert "Error" not in panel, f"an output says Error after {what}: {panel[-1500:]}"


def _talk_screen(page, prompt: str, what: str) -> None:
    """The talk view of a run of ``prompt``: three pictures of 512 px or more, the slider with
    both, a verdict line per run, the reason, the details folded."""
    _wait(page, f"document.querySelector('#talk-title').textContent.includes("
                f"{json.dumps(prompt)})", f"the talk view never named {prompt!r}")
    for sel in ("#talk-truth", "#talk-baseline", "#talk-lina"):
        _new_picture(page, sel, "")
        # laid out at 512 px or more once the picture has loaded (0 wide until then)
        _wait(page, f"(() => {{ const b = ({BOX})({json.dumps(sel)}); "
                    f"return b[0] >= 512 && b[1] >= 512; }})()",
              f"{sel} is {page.evaluate(BOX, sel)} px at 1920 x 1080, under 512 ({what})",
              timeout=15_000)
    assert page.locator("#talk-slider img[src]").count() == 2
    # the view is filled by a follow-up event: wait until it has applied (its queue overlay,
    # "processing | 0.1s", can show for a moment over the lines while it runs)
    _wait(page, "(() => { const t = document.querySelector('#talk-verdicts').innerText; "
                "return !t.includes('processing') && t.includes('Baseline:') && "
                "t.includes('LINA (') && t.trim().split('\\n').length === 2; })()",
          f"the talk view's verdicts never showed one line per run ({what})")
    assert page.locator("#talk-reason").inner_text().count(". ") == 0     # one sentence
    assert "cplus_all" in page.locator("#talk-reason").inner_text()
    assert not page.locator("#lina-vb").is_visible()                      # details folded
    _no_error(page, what)


def test_the_speakers_path(served, page):
    from app.presets import lina_presets
    from app.state import handle
    from app.tab_lina import start_index
    from app.talk import short_name
    presets = lina_presets(handle().categories())
    # the first screen: what the app shows, and where to start
    _open(page, served)
    assert "this app shows" in page.locator("#lina-header").inner_text()
    assert page.locator("#glossary").is_visible() and page.locator("#start-here").is_visible()
    # start here -> the LINA tab, a preset run, the comparison
    page.locator("#start-here").click()
    _wait(page, "document.querySelector('#lina-md') && document.querySelector('#lina-md')"
                ".innerText.includes('saved')", "Start here ran nothing")
    assert page.get_by_role("tab", name="LINA").get_attribute("aria-selected") == "true"
    for sel in ("#lina-truth", "#lina-baseline", "#lina-lina"):
        _new_picture(page, sel, "")
    assert page.locator("#lina-prompt textarea").input_value() == \
        presets[start_index(presets)][1]
    _no_error(page, "Start here")
    # the talk view, by its URL parameter: large pictures and the slider
    _open(page, served + "?talk=1")
    _wait(page, "document.body.classList.contains('lina-talk') && "
                "document.querySelector('#talk-view') && "
                "document.querySelector('#talk-view').offsetParent !== null",
          "?talk=1 did not open the talk view")
    assert not page.locator("#lina-header").is_visible()
    assert page.get_by_role("tab", name="LINA").get_attribute("aria-selected") == "true"
    items = page.locator("#lina-presets button.gallery-item")
    assert items.first.inner_text() == short_name(presets[0][0], presets[0][1])
    assert (items.first.get_attribute("title") or "") == presets[0][0]   # the rates on hover
    items.first.click()
    _talk_screen(page, presets[0][1], "a preset in the talk view")
    before = page.evaluate(SRC, "#talk-baseline")
    # a typed held-out prompt
    page.locator("#lina-prompt textarea").fill(HELD_OUT)
    page.locator("#lina-run").click()
    _new_picture(page, "#talk-baseline", before)
    _talk_screen(page, HELD_OUT, "a typed prompt")
    # a refused prompt: one message, every output emptied
    page.locator("#lina-prompt textarea").fill(REFUSED)
    page.locator("#lina-run").click()
    _wait(page, "document.querySelector('#lina-status').innerText.includes('Not run')",
          "the refused prompt left no status")
    _wait(page, f"({SRC})('#talk-baseline') === '' && ({SRC})('#talk-lina') === ''",
          "the refused prompt left pictures on screen")
    # emptied by the follow-up event (its "processing" overlay can show while it runs)
    _wait(page, "document.querySelector('#talk-verdicts').innerText.trim() === ''",
          "the refused prompt left verdict lines on screen")
    toasts = page.locator(".toast-body")
    assert toasts.count() == 1 and "prompt" in toasts.first.inner_text()
    _no_error(page, "a refused prompt")
    # the next preset fills everything again
    items.nth(1).click()
    _talk_screen(page, presets[1][1], "the next preset")
    assert page.locator("#lina-status").inner_text().strip() == ""
