"""What the browser tests share: the Debian chromium they drive and the marks that skip them
(saying why) where it is missing."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

MARKS = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"Debian chromium not found at {CHROMIUM} "
                              "(apt-get install chromium, or `make chromium` as root)"),
    pytest.mark.slow,   # each starts the app and a browser
]


@contextlib.contextmanager
def chromium_page(profile: Path, width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """A page of a headless chromium with its own profile folder, closed afterwards."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": width, "height": height})
        try:
            yield ctx.new_page()
        finally:
            ctx.close()


#: the visible tab panel's text (toasts live outside it)
PANEL = ("() => [...document.querySelectorAll('[role=tabpanel]')].filter(p => p.offsetParent"
         " !== null).map(p => p.innerText).join('\\n')")


@contextlib.contextmanager
def serving(demo: Any) -> Iterator[str]:
    """``demo`` launched on a free local port: its URL while the block runs, closed after."""
    from app import launch_kwargs
    from app.build import free_port
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                **launch_kwargs())
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@contextlib.contextmanager
def tiny_preset_app(tmp_path_factory: Any, video: bool = False) -> Iterator[str]:
    """The app as served (presets cached) on the tiny pipelines at 3 steps, with a test
    predictor that picks c+ (so a preset's guidance mask is legitimately empty): its URL."""
    import torch
    torch.set_num_threads(1)
    from app import build_demo, tab_lina, tab_video
    from lina_core.__main__ import load_model
    from test_app_api import fit_test_predictor
    from tiny_pipes import toyworld_video_pipeline
    pipe = load_model(None, tiny=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LINA_PREDICTOR_DIR", str(fit_test_predictor(
            pipe, tmp_path_factory.mktemp("predictor"), {"cplus_all": 0.5})))
        mp.setattr(tab_lina, "DEFAULT_STEPS", 3)
        mp.setattr(tab_video, "DEFAULT_STEPS", 3)
        vp = toyworld_video_pipeline(tmp_path_factory.mktemp("tok"), trained_motion=False) \
            if video else None
        demo = build_demo(pipe=pipe, cache_presets=True, threads=1, video_pipe=vp,
                          runs_dir=tmp_path_factory.mktemp("runs"))
        with serving(demo) as url:
            yield url
