"""The Space folder ``scripts/make_space.py`` writes: front matter the platform reads (only
documented keys, the pinned gradio, every offered Hub model preloaded), the platform's
requirements for ZeroGPU, and an app that starts from the folder."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import gradio
import pytest
from script_loader import load_script
from huggingface_hub import metadata_load

from app.build import free_port
from lina_core.pipelines.registry import ALLOWLIST



def make_space():
    return load_script("make_space")


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    ms = make_space()
    return ms, ms.build(tmp_path_factory.mktemp("space") / "space", zerogpu=True)


def test_front_matter_is_what_the_platform_reads(space):
    ms, folder = space
    meta = metadata_load(folder / "README.md")
    assert set(meta) <= set(ms.SPACE_KEYS)
    assert meta["sdk"] == "gradio" and meta["sdk_version"] == gradio.__version__
    assert meta["app_file"] == "app.py" and (folder / "app.py").is_file()
    hub = sorted(e.source for e in ALLOWLIST.values() if not Path(e.source).is_absolute())
    assert sorted(meta["preload_from_hub"]) == hub and hub


def test_zerogpu_requirements_and_the_app_and_assets_are_in_the_folder(space):
    _, folder = space
    req = (folder / "requirements.txt").read_text().splitlines()
    assert "spaces" in req and "torch==2.11.0" in req and "torch==2.13.0" not in req
    assert (folder / "assets" / "toyworld" / "model_index.json").is_file()
    assert not list(folder.rglob("__pycache__"))


@pytest.mark.slow   # starts the app from the folder in a fresh interpreter: ~15 s on 2 cores
def test_the_space_folder_starts_and_answers(space):
    _, folder = space
    port = free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False",
               OMP_NUM_THREADS="1", PYTHONPATH="")
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=folder, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    assert r.status == 200
                    return
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
                time.sleep(1)
        pytest.fail("the Space folder's app did not answer in 120 s")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
