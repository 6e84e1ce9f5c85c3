"""Screenshots of the speaker's path (issue 25) in headless chromium, on the app as served
(shipped ToyWorld model, presets cached in a fresh runs folder), at 800, 1400 and 1920 px wide:

    PYTHONPATH=. python scripts/talk_screens.py --out docs/screenshots [--widths 800,1400,1920]

Per width: the first screen, after "Start here", the talk view (``?talk=1``) after a preset,
after a typed held-out prompt, after a refused prompt.  Writes ``<name>_<width>.png``
(viewport shots, scaled to at most 960 px wide so they stay small) and prints what each screen
showed (image sizes, the run line, the status line)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

HELD_OUT = "a stone cube in a beaker of water"
REFUSED = "???"
SIZES = ("(sel) => [...document.querySelectorAll(sel + ' img')].map(i => "
         "Math.round(i.getBoundingClientRect().width))")


def serve() -> str:
    from app import build_demo, launch_kwargs
    from app.build import free_port
    demo = build_demo(runs_dir=tempfile.mkdtemp(prefix="lina-shots-"), cache_presets=True,
                      threads=1)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                quiet=True, **launch_kwargs())
    return f"http://127.0.0.1:{port}/"


def shot(page, out: Path, name: str, width: int, full: bool = False) -> None:
    from PIL import Image
    path = out / f"{name}_{width}.png"
    page.wait_for_timeout(800)
    page.screenshot(path=str(path), full_page=full)
    im = Image.open(path)
    if im.width > 960:
        im = im.resize((960, round(im.height * 960 / im.width)), Image.LANCZOS)
    im.convert("P", palette=Image.ADAPTIVE, colors=256).save(path, optimize=True)
    print(f"  {path} ({path.stat().st_size // 1024} kB)")


def wait_ready(page, url: str) -> None:
    page.goto(url, wait_until="domcontentloaded", timeout=120_000)
    page.wait_for_function("document.querySelector('#model-status') && document.querySelector("
                           "'#model-status').innerText.includes('Model:')", timeout=120_000)


def wait_md(page, before: str, timeout: float = 300_000) -> str:
    try:
        page.wait_for_function(
            f"(() => {{ const e = document.querySelector('#lina-md'); return e && "
            f"e.innerText.includes('saved') && e.innerText !== {json.dumps(before)}; }})()",
            timeout=timeout)
    except Exception:
        page.screenshot(path="/tmp/talk-screens-timeout.png")
        raise AssertionError("no run line; status: "
                             + page.locator("#lina-status").inner_text()) from None
    return page.locator("#lina-md").inner_text()


def wait_talk(page, before: str, timeout: float = 300_000) -> str:
    """Wait until the talk view's baseline shows a new picture; its source."""
    js = ("(() => { const i = document.querySelector('#talk-baseline img'); "
          "return i && i.getAttribute('src') && i.getAttribute('src') !== %s; })()")
    try:
        page.wait_for_function(js % json.dumps(before), timeout=timeout)
    except Exception:
        page.screenshot(path="/tmp/talk-screens-timeout.png")
        raise AssertionError("no new talk picture; status: "
                             + page.locator("#lina-status").inner_text()) from None
    return page.locator("#talk-baseline img").get_attribute("src")


def path(page, url: str, out: Path, width: int, height: int) -> None:
    page.set_viewport_size({"width": width, "height": height})
    print(f"width {width}:")
    wait_ready(page, url)
    shot(page, out, "first_screen", width)
    for tab in ("Scene", "Intervene", "Video"):
        page.get_by_role("tab", name=tab).click()
        shot(page, out, f"tab_{tab.lower()}", width, full=True)
    page.locator("#start-here").click()
    md = wait_md(page, "")
    page.wait_for_selector("#lina-baseline img[src]", timeout=60_000)
    print("  start here ->", md[:120])
    shot(page, out, "start_here", width)
    page.locator("#lina-details").scroll_into_view_if_needed()
    page.locator("#lina-vb").scroll_into_view_if_needed()
    shot(page, out, "verifier_tables", width)
    wait_ready(page, url + "?talk=1")
    page.wait_for_selector("#talk-view", state="visible", timeout=30_000)
    page.locator("#lina-presets button.gallery-item").first.click()
    src = wait_talk(page, "")
    print("  talk view image widths:", page.evaluate(SIZES, "#talk-view"))
    shot(page, out, "talk_view", width)
    page.locator("#talk-slider").scroll_into_view_if_needed()
    shot(page, out, "talk_slider", width)
    page.locator("#lina-prompt textarea").fill(HELD_OUT)
    page.locator("#lina-run").click()
    src = wait_talk(page, src)
    print("  typed ->", page.locator("#talk-title").inner_text()[:120])
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, out, "talk_typed", width)
    page.locator("#lina-prompt textarea").fill(REFUSED)
    page.locator("#lina-run").click()
    page.wait_for_function("document.querySelector('#lina-status').innerText.includes('Not run')",
                           timeout=60_000)
    page.wait_for_timeout(1000)
    print("  refused ->", page.locator("#lina-status").inner_text()[:120])
    shot(page, out, "talk_refused", width)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="docs/screenshots")
    ap.add_argument("--widths", default="800,1400,1920")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    url = serve()
    from playwright.sync_api import sync_playwright
    from screenshots import ARGS, CHROMIUM      # the chore beside this one (same chromium)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        for w in (int(x) for x in args.widths.split(",")):
            path(page, url, out, w, 1080 if w >= 1920 else 900)
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
