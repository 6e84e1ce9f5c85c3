"""The command line: bad input exits with status 2 and one line naming the field.  The commands
run in this process (cli_runner: ``main(argv)``, output captured); a rendered PNG and a refused
``--model-dir`` go through a real ``python -m lina_core`` subprocess (exit status, one error
line, no traceback)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import run_cli

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, cwd: Path = ROOT, spawn: bool = False) -> subprocess.CompletedProcess:
    return run_cli(*args, cwd=cwd, spawn=spawn)


def _one_error_line(r: subprocess.CompletedProcess, *needles: str) -> None:
    assert r.returncode == 2, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.startswith("error:")]
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.mark.slow   # a python -m subprocess: over 4 s on 2 cores
def test_render_writes_png(tmp_path):
    out = tmp_path / "r.png"
    r = cli("render", "--prompt", "a wood ball in a beaker of water", "--size", "32",
            "--out", str(out), spawn=True)          # the python -m lina_core smoke test
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 100


@pytest.mark.parametrize("graph,needles", [
    ("{not json", ("graph JSON",)),
    (json.dumps({"schema_version": 1, "category": "shadow", "nodes": [
        {"id": "a", "kind": "effect", "attrs": {"type": "shadow"}},
        {"id": "b", "kind": "effect", "attrs": {"type": "shadow"}}],
        "edges": [{"source": "a", "target": "b", "relation": "casts"},
                  {"source": "b", "target": "a", "relation": "casts"}]}), ("cycle",)),
    (json.dumps({"schema_version": 1, "category": "shadow", "nodes": [
        {"id": "a", "kind": "ghost"}], "edges": []}), ("kind", "ghost")),
])
def test_render_rejects_bad_graphs(tmp_path, graph, needles):
    f = tmp_path / "g.json"
    f.write_text(graph)
    _one_error_line(cli("render", "--graph", str(f), "--out", str(tmp_path / "x.png")), *needles)


def test_render_rejects_oversized_resolution(tmp_path):
    _one_error_line(cli("render", "--size", "4096", "--out", str(tmp_path / "x.png")),
                    "size", "512")


def test_data_rejects_bad_n(tmp_path):
    _one_error_line(cli("data", "--out", str(tmp_path / "d"), "--n", "0"), "n:", "1")


def test_generate_rejects_steps_out_of_range(tmp_path):
    _one_error_line(cli("generate", "--tiny", "--steps", "1000", "--out",
                        str(tmp_path / "x.png")), "steps", "100")


def test_generate_rejects_nan_strength_in_spec(tmp_path):
    spec = {"prompt": "a red ball on a large round mirror", "edits": [
        {"type": "interpolate", "start": 0, "end": 5, "strength": float("nan"),
         "target_prompt": "a blue cube on a large round mirror"}]}
    f = tmp_path / "spec.json"
    f.write_text(json.dumps(spec))
    _one_error_line(cli("generate", "--tiny", "--spec", str(f), "--out",
                        str(tmp_path / "x.png")), "edits[0].strength")


@pytest.mark.slow   # samples the tiny model; the CLI's argument errors stay in the fast lane
def test_generate_with_tiny_model_writes_image_and_record(tmp_path):
    out = tmp_path / "x.png"
    r = cli("generate", "--tiny", "--steps", "3", "--out", str(out))
    assert r.returncode == 0, r.stderr
    rec = json.loads(out.with_suffix(".json").read_text())
    assert rec["spec"]["steps"] == 3 and len(rec["schedule_used"]["values"]) == 3


@pytest.mark.slow   # builds, saves and loads a tiny SD folder
def test_generate_loads_a_real_family_from_model_dir(tmp_path):
    """``--model-dir`` takes any family the app takes (here a tiny random SD 1.x saved with
    ``save_pretrained``), loaded by ``registry.load`` as the app loads it."""
    sys.path.insert(0, str(ROOT / "tests"))
    from tiny_pipes import sd_pipeline
    sd_pipeline(tmp_path / "tok").save_pretrained(tmp_path / "tiny-sd")
    assert not list((tmp_path / "tiny-sd").rglob("*.bin"))        # safetensors only
    out = tmp_path / "sd.png"
    r = cli("generate", "--model-dir", str(tmp_path / "tiny-sd"), "--size", "32", "--steps",
            "2", "--out", str(out))
    assert r.returncode == 0, r.stderr
    rec = json.loads(out.with_suffix(".json").read_text())
    assert rec["model"] == "StableDiffusionPipeline" and rec["spec"]["steps"] == 2
    assert rec["model_path"].endswith("tiny-sd")
    from PIL import Image
    assert Image.open(out).size == (32, 32)


@pytest.mark.slow   # a CLI subprocess that imports torch: ~6 s on 2 loaded cores
def test_generate_model_dir_errors_name_the_field(tmp_path):
    _one_error_line(cli("generate", "--model-dir", str(tmp_path), "--out",
                        str(tmp_path / "x.png"), spawn=True), "--model-dir", "model_index.json")
    _one_error_line(cli("generate", "--tiny", "--size", "4096", "--out",
                        str(tmp_path / "x.png")), "size", "1024")


def test_command_errors_exit_2_naming_the_field(tmp_path):
    """Errors of a command's input (here an unknown category) exit with status 2 and one line
    naming the flag, as argparse's do (they raised SystemExit with a message: status 1)."""
    r = run_cli("grid", "--tiny", "--categories", "nope", "--n", "1", "--steps", "2",
                "--out", str(tmp_path / "g"))
    assert r.returncode == 2 and "--categories" in r.stderr, r.stderr
    from lina_core.bench.loop import main as loop_main
    assert loop_main(["--root", str(tmp_path), "collect", "--split", "train", "--categories",
                      "nope", "--n", "1"]) == 2
