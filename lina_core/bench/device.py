"""A device check in one command: the engine's contracts re-run on the device, and timings.

    .venv/bin/python -m lina_core device-check --out build/device_check
    .venv/bin/python -m lina_core device-check --device cpu --steps 2 --repeats 1 \\
        --families sd --tests-k "baseline_equals_plain and toyworld" --out /tmp/dc   # smoke

1. **contracts**: ``tests/test_engine.py`` and ``tests/test_pipeline_contract.py`` in a pytest
   subprocess with ``LINA_TEST_DEVICE`` set, so their tiny pipelines are on the device
   (``tiny_families.on_device``); ``--tests-k`` picks a subset, ``--no-tests`` skips them.
2. **timings**: ``engine.run`` on ToyWorld (assets/toyworld, else the tiny random one) and on
   the tiny random real-architecture pipelines of :mod:`.pipelines.tiny_families` (SD, SDXL,
   SD3, FLUX, Wan, CogVideoX), in each dtype (on cuda: fp32, bf16 where supported, fp16; on
   cpu: fp32), one warm-up run then ``--repeats`` timed runs of ``--steps`` steps.  A case that fails is
   reported with its error, not fatal.

Writes ``device_check.json`` and ``device_check.md`` to ``--out``.  Default device: cuda when
present, else cpu.  Exit status: 0 when the contract tests passed (or were skipped) and every
timing case ran, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TESTS = ["tests/test_engine.py", "tests/test_pipeline_contract.py"]


def real_families() -> list[str]:
    """The real families the adapters' table knows (each kind's own tiny pipeline)."""
    from ..adapters import KINDS
    return [k for k, a in KINDS.items() if not a.builtin]


PROMPT = "a large red ball on a small round mirror"


def device_info(device: str) -> dict[str, Any]:
    """What the device and the software are."""
    import diffusers
    import torch
    info: dict[str, Any] = {"device": device, "torch": torch.__version__,
                            "diffusers": diffusers.__version__, "python": platform.python_version(),
                            "cpu_threads": torch.get_num_threads()}
    if device.startswith("cuda"):
        p = torch.cuda.get_device_properties(torch.device(device))
        info.update(gpu=p.name, capability=f"{p.major}.{p.minor}",
                    memory_gib=round(p.total_memory / 2**30, 1),
                    bf16=torch.cuda.is_bf16_supported(), cuda=torch.version.cuda)
    return info


def dtypes_for(device: str) -> list[str]:
    import torch
    if not device.startswith("cuda"):
        return ["float32"]
    return ["float32"] + (["bfloat16"] if torch.cuda.is_bf16_supported() else []) + ["float16"]


def run_tests(device: str, k: str | None, timeout: float) -> dict[str, Any]:
    """The contract tests in a subprocess on ``device``: counts, exit status, the tail."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS]
    if k:
        cmd += ["-k", k]
    env = dict(os.environ, LINA_TEST_DEVICE=device, HF_HUB_OFFLINE="1",
               GRADIO_ANALYTICS_ENABLED="False", PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=timeout)
        out, rc = r.stdout + r.stderr, r.returncode
    except subprocess.TimeoutExpired as exc:
        out, rc = f"{exc.stdout or ''}\ntimed out after {timeout} s", 124
    counts = {}
    for line in reversed(out.splitlines()):
        if " passed" in line or " failed" in line or " error" in line:
            import re
            counts = {m[1]: int(m[0]) for m in re.findall(r"(\d+) (passed|failed|errors?|"
                                                             r"skipped|deselected)", line)}
            break
    return {"command": " ".join(["pytest", *cmd[3:]]), "device": device, "returncode": rc,
            "counts": counts, "seconds": round(time.perf_counter() - t0, 1),
            "tail": out.splitlines()[-15:]}


def _sync(device: str) -> None:
    import torch
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_case(name: str, make: Any, device: str, dtype: str, steps: int,
              repeats: int) -> dict[str, Any]:
    """One model in one dtype: warm-up, then ``repeats`` timed ``engine.run`` calls."""
    import torch
    from .. import engine
    from ..interventions import InterventionSpec
    case: dict[str, Any] = {"model": name, "dtype": dtype, "steps": steps, "repeats": repeats}
    try:
        pipe, kw = make()
        pipe = pipe.to(device, getattr(torch, dtype))
        spec = InterventionSpec(prompt=PROMPT, steps=steps, seed=0, guidance_scale=3.0)
        engine.run(pipe, spec, previews=False, **kw)            # warm-up (kernels, caches)
        times = []
        for _ in range(repeats):
            _sync(device)
            t0 = time.perf_counter()
            res = engine.run(pipe, spec, previews=False, **kw)
            _sync(device)
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        case.update(ok=True, run_s=round(med, 4), step_ms=round(1000 * med / steps, 2),
                    runs_s=[round(t, 4) for t in times], image_shape=list(res.images.shape),
                    finite=bool(torch.isfinite(torch.as_tensor(res.images).float()).all()))
    except Exception as exc:  # noqa: BLE001 - a failing case is a figure of the report
        case.update(ok=False, error=f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
                    [:300])
    return case


def makers(families: list[str]) -> dict[str, Any]:
    """name -> () -> (pipeline, engine.run kwargs): ToyWorld, then the tiny families."""
    from ..adapters import tiny_pipeline
    from ..pipelines import registry

    def toyworld():
        if (registry.TOYWORLD_DIR / "model_index.json").is_file():
            return registry.load("toyworld", device="cpu"), {}
        return registry.tiny_toyworld(), {}
    out: dict[str, Any] = {"toyworld" + ("" if (registry.TOYWORLD_DIR / "model_index.json")
                                         .is_file() else " (tiny random)"): toyworld}
    for fam in families:
        out[f"tiny {fam}"] = (lambda f=fam: tiny_pipeline(f, tempfile.mkdtemp(), on_device=False))
    return out


def markdown(report: dict[str, Any]) -> str:
    """The report as a short markdown page."""
    d, t = report["device"], report["tests"]
    lines = [f"# Device check: {d.get('gpu', d['device'])}", "",
             f"`{report['command']}`", "",
             f"torch {d['torch']}, diffusers {d['diffusers']}, python {d['python']}; "
             f"{report['when']}", "", "## Contract tests", ""]
    if t.get("skipped"):
        lines.append(f"skipped: {t['skipped']}")
    else:
        lines.append(f"`{t['command']}` on {t['device']}: exit {t['returncode']}, "
                     f"{t['counts']}, {t['seconds']} s")
    lines += ["", "## Timings (engine.run, median)", "",
              "| model | dtype | steps | s / run | ms / step | ok |", "|---|---|---|---|---|---|"]
    for c in report["timings"]:
        lines.append(f"| {c['model']} | {c['dtype']} | {c['steps']} | {c.get('run_s', '')} | "
                     f"{c.get('step_ms', '')} | {'yes' if c['ok'] else c['error']} |")
    return "\n".join(lines) + "\n"


def parse(argv: list[str] | None) -> argparse.Namespace:
    import torch
    ap = argparse.ArgumentParser(prog="python -m lina_core device-check",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", required=True, help="folder for device_check.json and .md")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--families", default=",".join(real_families()))
    ap.add_argument("--dtypes", default="", help="comma-separated (default: by device)")
    ap.add_argument("--tests-k", default=None, help="pytest -k for the contract tests")
    ap.add_argument("--no-tests", action="store_true")
    ap.add_argument("--tests-timeout", type=float, default=540)
    a = ap.parse_args(argv)
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        ap.error("--device cuda: no CUDA device here; pass --device cpu")
    if not 1 <= a.steps <= 100 or not 1 <= a.repeats <= 20:
        ap.error("--steps must be in [1, 100] and --repeats in [1, 20]")
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse(argv)
    import torch
    torch.manual_seed(0)
    families = [f for f in a.families.split(",") if f]
    tests = {"skipped": "--no-tests"} if a.no_tests else run_tests(a.device, a.tests_k,
                                                                   a.tests_timeout)
    timings = [time_case(name, make, a.device, dt, a.steps, a.repeats)
               for name, make in makers(families).items()
               for dt in (a.dtypes.split(",") if a.dtypes else dtypes_for(a.device))]
    report = {"schema_version": 1, "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
              "command": " ".join(["python -m lina_core device-check",
                                   *(sys.argv[2:] if argv is None else argv)]),
              "device": device_info(a.device), "tests": tests, "timings": timings}
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "device_check.json").write_text(json.dumps(report, indent=1))
    (out / "device_check.md").write_text(markdown(report))
    print(markdown(report))
    ok = (tests.get("skipped") or tests["returncode"] == 0) and all(c["ok"] for c in timings)
    return 0 if ok else 1
