"""The Space folder ``scripts/make_space.py`` writes: front matter the platform reads (only
documented keys, the pinned gradio, and per preloaded model only the files its pipeline loads,
in the ``repo file1,file2`` form), an estimated preload within the disk budget, a README of its
own (gated models' owner step included), the platform's requirements for ZeroGPU, and an app
that starts from the folder.

The file lists (``lina_core/pipelines/hub_files.py``) are checked against each family's tiny
random-weight pipeline saved with ``save_pretrained``: the same folders, configs and weight files
(the loader's default, non-variant files). What a tiny model cannot reproduce is compared
otherwise: sharded weights by their names modulo the shard count (the tiny pipeline is saved
again with a tiny ``max_shard_size`` to get the libraries' shard naming), and tokenizer files by
the names the tokenizer class reads (transformers' ``save_pretrained`` writes tokenizer.json
where these repositories keep the older vocab.json/merges.txt/spiece.model)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import gradio
import pytest
import yaml
from script_loader import load_script
from huggingface_hub import metadata_load

from app.build import free_port
from lina_core.pipelines.registry import ALLOWLIST

#: the offered Hub models (local folders are not preloaded), by allowlist key
HUB_KEYS = [k for k, e in ALLOWLIST.items() if not Path(e.source).is_absolute()]


def make_space():
    return load_script("make_space")


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    ms = make_space()
    return ms, ms.build(tmp_path_factory.mktemp("space") / "space", zerogpu=True)


def _split(readme: str) -> tuple[dict, str]:
    """(front matter parsed by a plain YAML parser, the body after it)."""
    m = re.fullmatch(r"---\n(.*?)\n---\n(.*)", readme, flags=re.S)
    assert m, "README.md does not start with a --- front matter block"
    return yaml.safe_load(m.group(1)), m.group(2)


def test_front_matter_is_what_the_platform_reads(space):
    from lina_core.pipelines.hub_files import HUB_FILES
    ms, folder = space
    meta = metadata_load(folder / "README.md")
    assert meta == _split((folder / "README.md").read_text())[0]
    assert set(meta) <= set(ms.SPACE_KEYS)
    assert meta["sdk"] == "gradio" and meta["sdk_version"] == gradio.__version__
    assert meta["app_file"] == "app.py" and (folder / "app.py").is_file()
    entries = [e.split() for e in meta["preload_from_hub"]]
    assert entries and all(len(e) == 2 for e in entries), "each item: 'repo file1,file2,...'"
    repos = [r for r, _ in entries]
    assert len(set(repos)) == len(repos) and set(repos) <= {ALLOWLIST[k].source for k in HUB_KEYS}
    by_repo = {m.repo: m for m in HUB_FILES.values()}
    for repo, files in entries:
        listed = files.split(",")
        assert listed == by_repo[repo].files() and "model_index.json" in listed
        assert not any(".fp16." in f or f.endswith((".ckpt", ".bin")) for f in listed)


@pytest.mark.parametrize("key", HUB_KEYS)
def test_listed_files_are_what_the_family_saves(key, tmp_path):
    """Every listed file is one the family's ``save_pretrained`` layout writes, and every file
    of that layout is listed (names modulo sharding and tokenizer files: see the module doc)."""
    from transformers import CLIPTokenizer, T5Tokenizer
    from transformers.tokenization_utils_base import (ADDED_TOKENS_FILE, SPECIAL_TOKENS_MAP_FILE,
                                                      TOKENIZER_CONFIG_FILE)
    from lina_core.pipelines.hub_files import HUB_FILES
    assert key in HUB_FILES and HUB_FILES[key].repo == ALLOWLIST[key].source
    model = HUB_FILES[key]
    pipe = _tiny(ALLOWLIST[key].kind, tmp_path)
    plain, sharded = _layout(pipe, tmp_path / "plain"), _layout(pipe, tmp_path / "sharded", 2000)
    folders = {p.split("/")[0] for p in plain if "/" in p}
    assert {p.folder for p in model.parts} == folders
    toks = {p.folder for p in model.parts if p.layout == "tokenizer"}
    reads = {"clip": CLIPTokenizer, "t5": T5Tokenizer, "t5-spm": T5Tokenizer}
    listed = {"model_index.json"}
    for part in model.parts:
        files = part.files()
        if part.layout == "tokenizer":
            assert f"{part.folder}/{TOKENIZER_CONFIG_FILE}" in plain
            ok = set(reads[part.tokenizer].vocab_files_names.values()) | {
                TOKENIZER_CONFIG_FILE, SPECIAL_TOKENS_MAP_FILE, ADDED_TOKENS_FILE}
            assert {f.split("/", 1)[1] for f in files} <= ok, part
        elif part.shards > 1:
            saved = {_unshard(f) for f in sharded if f.startswith(part.folder + "/")}
            assert {_unshard(f) for f in files} == saved, part
            assert len([f for f in files if re.search(r"-\d{5}-of-\d{5}\.", f)]) == part.shards
            listed |= {f for f in plain if f.startswith(part.folder + "/")}
        else:
            listed |= set(files)
    assert listed == {f for f in plain if f.split("/")[0] not in toks}


def test_the_builder_prints_the_estimated_preload_within_the_disk_budget(tmp_path, capsys):
    from lina_core.pipelines.hub_files import HUB_FILES
    ms = make_space()
    assert ms.main(["--out", str(tmp_path / "space")]) == 0
    out = capsys.readouterr().out
    m = re.search(r"estimated preload: ([\d.]+) GB", out)
    assert m, out
    meta = metadata_load(tmp_path / "space" / "README.md")
    repos = {e.split()[0] for e in meta["preload_from_hub"]}
    expected = sum(h.size_gb() for h in HUB_FILES.values() if h.repo in repos)
    assert float(m.group(1)) == pytest.approx(expected, abs=0.05)
    assert 0 < expected <= ms.PRELOAD_BUDGET_GB < ms.SPACE_DISK_GB
    # every weight file is counted: a model folder with no parameters would weigh nothing
    assert all(p.params > 0 for h in HUB_FILES.values() for p in h.parts
               if p.layout in ("diffusers", "transformers"))


def test_the_space_readme_is_its_own(space):
    from lina_core.pipelines.hub_files import HUB_FILES
    _, folder = space
    meta, body = _split((folder / "README.md").read_text())
    repo_readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "make run" not in body and repo_readme not in body
    for k in HUB_KEYS:
        assert ALLOWLIST[k].label in body and HUB_FILES[k].repo in body
    assert "estimate" in body and "app.py" in body
    preloaded = {e.split()[0] for e in meta["preload_from_hub"]}
    gated = [h.repo for h in HUB_FILES.values() if h.gated and h.repo in preloaded]
    assert gated, "SD3.5 Medium, gated on the Hub, is preloaded: its owner step must be shown"
    assert "`HF_TOKEN`" in body
    for repo in gated:
        assert f"https://huggingface.co/{repo}" in body


def test_zerogpu_requirements_and_the_app_and_assets_are_in_the_folder(space):
    ms, folder = space
    req = (folder / "requirements.txt").read_text().splitlines()
    assert "spaces" in req and "torch==2.11.0" in req and "torch==2.13.0" not in req
    assert not any("make run" in s or "make test" in s or "CPU install" in s for s in req)
    assert [s for s in req if s.startswith("#")] == req[:1]      # one header comment
    cpu = ms.requirements(zerogpu=False).splitlines()
    assert "torch==2.13.0" in cpu and "spaces" not in cpu and "CPU install" not in "".join(cpu)
    assert (folder / "assets" / "toyworld" / "model_index.json").is_file()
    assert not list(folder.rglob("__pycache__"))
    # the Probe tab's measured curves travel with the app (app/tab_probe.py reads them from
    # docs/): every one made, the settling curve always
    made = [f for f in ms.MEASURED if (ms.ROOT / f).is_file()]
    assert "docs/probes/settling/settling.png" in made
    for f in made:
        assert (folder / f).is_file(), f


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


# ---------------------------------------------------------------- tiny pipelines and layouts


def _tiny(kind: str, d: Path):
    """The family's tiny random-weight pipeline with the components the released model's
    model_index.json names: SD 1.5's safety checker and feature extractor, SD3's T5, FLUX's T5
    (the shared tiny pipelines leave them out)."""
    import torch
    from tiny_pipes import _t5, build, flux_pipeline, sd3_pipeline, sd_pipeline
    torch.manual_seed(0)
    if kind == "flux":
        return flux_pipeline(d / "tok", t5=True)
    if kind == "sd3":
        pipe = sd3_pipeline(d / "tok")
        pipe.register_modules(text_encoder_3=_t5(len(pipe.tokenizer)), tokenizer_3=pipe.tokenizer)
        return pipe
    if kind == "sd":
        from diffusers.pipelines.stable_diffusion.safety_checker import (
            StableDiffusionSafetyChecker)
        from transformers import CLIPConfig, CLIPImageProcessor
        pipe = sd_pipeline(d / "tok")
        small = dict(hidden_size=32, intermediate_size=37, num_attention_heads=4,
                     num_hidden_layers=1)
        cfg = CLIPConfig(text_config=dict(small, vocab_size=99, bos_token_id=0, eos_token_id=1,
                                          pad_token_id=1),
                         vision_config=dict(small, image_size=32, patch_size=8), projection_dim=32)
        pipe.register_modules(safety_checker=StableDiffusionSafetyChecker(cfg),
                              feature_extractor=CLIPImageProcessor(size=32, crop_size=32))
        return pipe
    return build(kind, d / "tok")[0]


def _layout(pipe, folder: Path, max_shard_size: int | None = None) -> set[str]:
    """The relative paths ``save_pretrained`` writes (safetensors, no variant: what the app's
    loader reads)."""
    pipe.save_pretrained(folder, safe_serialization=True, max_shard_size=max_shard_size)
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def _unshard(name: str) -> str:
    """A weight file's name with its shard count taken out (``-00002-of-00003`` -> ``-N-of-M``)."""
    return re.sub(r"-\d{5}-of-\d{5}\.", "-N-of-M.", name)
