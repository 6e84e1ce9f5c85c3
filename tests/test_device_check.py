"""``python -m lina_core device-check`` on the CPU with tiny settings: the report has its fields, and every
timing case ran (on a GPU machine the same command, without --device, checks cuda)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _module():
    from lina_core.bench import device as device_check
    return device_check


def _check_report(out: Path) -> dict:
    report = json.loads((out / "device_check.json").read_text())
    assert report["schema_version"] == 1 and report["device"]["device"] == "cpu"
    assert {"torch", "diffusers", "python"} <= set(report["device"])
    models = [c["model"] for c in report["timings"]]
    assert models[0].startswith("toyworld") and "tiny sd" in models
    for c in report["timings"]:
        assert c["ok"], c
        assert c["dtype"] == "float32" and c["steps"] == 2 and c["run_s"] > 0
        assert c["step_ms"] > 0 and c["finite"] and len(c["image_shape"]) == 4
    md = (out / "device_check.md").read_text()
    assert "## Contract tests" in md and "| tiny sd | float32 | 2 |" in md
    return report


@pytest.mark.slow   # loads the shipped ToyWorld model and times it and a tiny SD: ~10 s on 2 cores
def test_device_check_timings_on_cpu(tmp_path):
    rc = _module().main(["--device", "cpu", "--steps", "2", "--repeats", "1", "--families",
                         "sd", "--no-tests", "--out", str(tmp_path)])
    assert rc == 0
    assert _check_report(tmp_path)["tests"] == {"skipped": "--no-tests"}


@pytest.mark.slow   # the command's pytest subprocess imports torch and builds tiny pipelines
def test_device_check_command_runs_the_contract_tests(tmp_path):
    """The command through ``python -m lina_core``'s parser (in this process: a fresh
    interpreter only to import torch again cost ~15 s); the contract tests in their subprocess."""
    from cli_runner import run_cli
    r = run_cli("device-check", "--device", "cpu", "--steps", "2", "--repeats", "1",
                "--families", "sd", "--tests-k",
                "baseline_equals_plain_pipeline_call and toyworld", "--out", str(tmp_path))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    tests = _check_report(tmp_path)["tests"]
    assert tests["returncode"] == 0 and tests["device"] == "cpu"
    assert tests["counts"]["passed"] == 2 and not tests["counts"].get("failed")
