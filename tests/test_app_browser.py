"""The app in a real browser: headless Debian chromium through playwright. Loads the page, runs
the mirror talk preset baseline vs LINA on the LINA tab, and checks the screenshot is not blank
and the two output images differ. Skips (saying why) when chromium or playwright is missing."""
from __future__ import annotations

import io
import os
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from app.build import free_port  # noqa: E402

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"Debian chromium not found at {CHROMIUM} "
                              "(apt-get install chromium, or `make chromium` as root)"),
    pytest.mark.slow,
]
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="the playwright python package is not installed")



@pytest.fixture(scope="module")
def url(tmp_path_factory):
    import torch
    torch.set_num_threads(1)
    from app import build_demo, launch_kwargs
    from lina_core.__main__ import load_model
    demo = build_demo(pipe=load_model(None, tiny=True),
                      runs_dir=tmp_path_factory.mktemp("runs"), threads=1)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                **launch_kwargs())
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture()
def page(tmp_path):
    with sync_api.sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1400, "height": 1000})
        try:
            yield ctx.new_page()
        finally:
            ctx.close()


def _fetch(src: str) -> np.ndarray:
    with urllib.request.urlopen(src, timeout=30) as r:   # the app's own local file route
        return np.asarray(Image.open(io.BytesIO(r.read())).convert("RGB"))


def test_lina_mirror_preset_in_the_browser(url, page, tmp_path):
    page.goto(url, wait_until="domcontentloaded", timeout=120_000)
    page.wait_for_function("document.querySelector('#model-status') && document.querySelector("
                           "'#model-status').innerText.includes('Model:')", timeout=120_000)
    page.get_by_role("tab", name="LINA").click()
    # the mirror talk preset fills the prompt (and seed) ...
    page.locator("#lina-presets").get_by_text("mirror", exact=True).click()
    page.wait_for_function("document.querySelector('#lina-prompt textarea').value"
                           ".includes('mirror')", timeout=30_000)
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
    assert crop_b.shape == crop_l.shape and not np.array_equal(crop_b, crop_l)
    assert "LINA" in page.locator("#lina-md").inner_text()
