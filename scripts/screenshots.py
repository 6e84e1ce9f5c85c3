"""Save a screenshot of each tab of the app into docs/screenshots/ (tab_scene.png, ...,
video_tab.png).

    PYTHONPATH=. .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--only video]

Uses the real ToyWorld model when there is one (assets/toyworld, or $LINA_MODEL_DIR), else the
tiny random-weight model (the images then look like noise; the layout is what is shown). Drives
Debian's chromium (/usr/bin/chromium) headless through playwright; runs are saved in a temporary
folder, not in ./runs.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
ROOT = Path(__file__).resolve().parents[1]
from app.build import free_port  # noqa: E402  (run with PYTHONPATH=., as the docstring says)

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]



#: tab -> screenshot file (the runs tab is shot last: it loads the latest run)
SHOTS = {"scene": "tab_scene.png", "intervene": "tab_intervene.png", "probe": "tab_probe.png",
         "lina": "tab_lina.png", "lina_v2": "tab_lina_v2.png", "video": "video_tab.png",
         "runs": "tab_runs.png"}


def start_app(runs_dir: str, tiny: bool = False):
    import torch
    torch.set_num_threads(2)
    from app import build_demo, launch_kwargs
    pipe = video_pipe = None
    if tiny:
        from lina_core.__main__ import load_model
        from lina_core.pipelines.toyworld_video import inflate
        pipe = load_model(None, tiny=True)
        video_pipe = inflate(pipe)
    demo = build_demo(pipe=pipe, runs_dir=runs_dir, video_pipe=video_pipe)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                **launch_kwargs())
    return demo, f"http://127.0.0.1:{port}/"


def browser(pw, profile: str):
    return pw.chromium.launch_persistent_context(
        profile, executable_path=CHROMIUM, headless=True, args=ARGS,
        viewport={"width": 1400, "height": 1000})


def wait_image(page, elem_id: str, timeout: float = 120_000) -> None:
    page.wait_for_selector(f"#{elem_id} img[src]", timeout=timeout)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--tiny", action="store_true", help="use the tiny random-weight model")
    ap.add_argument("--only", nargs="+", choices=list(SHOTS), help="just these tabs")
    a = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"error: {CHROMIUM} not found (apt-get install chromium)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = tempfile.mkdtemp(prefix="lina-shot-runs-")
    demo, url = start_app(runs, a.tiny)
    failed: list[str] = []
    try:
        with sync_playwright() as pw, tempfile.TemporaryDirectory() as prof:
            ctx = browser(pw, prof)
            page = ctx.new_page()
            page.goto(url, wait_until="domcontentloaded", timeout=120_000)
            page.wait_for_selector("#model-status", timeout=60_000)
            page.wait_for_function("document.querySelector('#model-status').innerText"
                                   ".includes('Model:')", timeout=120_000)

            failed = []

            def step(name, fn):
                try:
                    fn()
                    time.sleep(1.5)   # let images fade in
                    page.screenshot(path=str(out / SHOTS[name]), full_page=True)
                except Exception as exc:  # noqa: BLE001 - keep going; report at the end
                    failed.append(name)
                    page.screenshot(path=str(out / f"debug_{name}.png"), full_page=True)
                    print(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0]}",
                          file=sys.stderr)

            def scene():
                page.get_by_role("tab", name="Scene").click()
                page.locator("#scene-prompt textarea").fill(
                    "a large red ball on a small round mirror")
                page.locator("#scene-prompt textarea").press("Enter")
                page.get_by_role("button", name="Generate").click()
                wait_image(page, "scene-sample")

            def intervene():   # the default spec: interpolate towards c+ in steps [0, 10)
                page.get_by_role("tab", name="Intervene").click()
                page.locator("#iv-run").click()
                wait_image(page, "iv-heat")

            def probe():       # the timing probe, one prompt per category, one seed
                page.get_by_role("tab", name="Probe").click()
                page.get_by_role("button", name="Run probe").click()
                page.wait_for_function(
                    "document.querySelector('#probe-md') && "
                    "document.querySelector('#probe-md').innerText.includes('rows in')",
                    timeout=300_000)
                # and the settling curve of the prompt in the box (two seeds)
                page.locator("#probe-my-run").click()
                page.wait_for_function(
                    "document.querySelector('#probe-my-md') && "
                    "document.querySelector('#probe-my-md').innerText.includes('seed(s)')",
                    timeout=300_000)

            def lina():        # the per-prompt "fixes this" preset (chosen on dev-ood), baseline vs LINA
                page.get_by_role("tab", name="LINA").click()
                page.locator("#lina-presets").get_by_text("the per-prompt choice fixes this").first.click()
                page.wait_for_function("document.querySelector('#lina-prompt textarea').value"
                                       ".includes('balance')", timeout=30_000)
                page.locator("#lina-run").click()
                wait_image(page, "lina-baseline")
                wait_image(page, "lina-lina")

            def lina_relational():     # the composed-relation preset (ToyWorld v2), its seed too
                page.get_by_role("tab", name="LINA").click()
                page.locator("#lina-presets").get_by_text("composed relation").first.click()
                page.wait_for_function("document.querySelector('#lina-prompt textarea').value"
                                       ".includes('sand')", timeout=30_000)
                page.locator("#lina-run").click()
                page.wait_for_function("document.querySelector('#lina-why').innerText"
                                       ".includes('this place scene')", timeout=120_000)
                wait_image(page, "lina-truth")
                wait_image(page, "lina-lina")

            def runs_tab():    # load the latest run
                page.get_by_role("tab", name="Runs").click()
                time.sleep(1.0)
                page.get_by_role("button", name="Load", exact=True).click()
                page.wait_for_function(
                    "document.querySelector('#runs-md') && "
                    "document.querySelector('#runs-md').innerText.includes('run, model')",
                    timeout=60_000)

            def video():       # the reflection preset (held out), scrubbed to its last frame
                page.get_by_role("tab", name="Video").click()
                page.locator("#video-presets").get_by_text("reflection", exact=True).click()
                page.locator("#video-run").click()
                page.wait_for_function(
                    "document.querySelector('#video-md') && "
                    "document.querySelector('#video-md').innerText.includes('saved')",
                    timeout=600_000)
                n = int(page.locator("#video-frames input[type=number]").input_value()) - 1
                page.wait_for_function("document.querySelector('#video-scrub input[type=range]')"
                                       f".max === '{n}'", timeout=60_000)
                last = page.locator("#video-scrub input[type=number]")
                last.fill(str(n))
                last.press("Enter")
                page.wait_for_function("document.querySelector('#video-frame-md').innerText"
                                       f".includes('Frame {n}')", timeout=60_000)

            steps = {"scene": scene, "intervene": intervene, "probe": probe, "lina": lina,
                     "lina_v2": lina_relational, "runs": runs_tab, "video": video}
            for name in a.only or SHOTS:
                step(name, steps[name])
            ctx.close()
    finally:
        demo.close()
    for name in a.only or SHOTS:
        if name not in failed:
            print(out / SHOTS[name])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
