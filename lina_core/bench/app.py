"""Measure the app: start to ready, and click to a baseline + LINA pair.

    LINA_MODEL_DIR=/path/to/toyworld/model .venv/bin/python -m lina_core bench-app

Starts ``python app.py`` as a subprocess on a free port (runs saved in a temporary folder),
times how long until the HTTP page answers 200, then calls the LINA endpoint (``/lina``, 25
steps, predicted parameters) through gradio_client: once cold (the model loads on first use) and
``--repeats`` times warm. Prints a small table and a JSON line. Not a test: timings depend on
the machine and its load.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 300) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"app exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return time.perf_counter() - t0
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} not ready after {timeout} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lina_core bench-app",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt", default="a large red ball on a small round mirror")
    a = ap.parse_args(argv)
    from app.build import free_port          # the app's, run from the repository root
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", PYTHONPATH=str(ROOT))
    model = env.get("LINA_MODEL_DIR") or "(assets/toyworld or the tiny fallback)"
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    runs = tempfile.mkdtemp(prefix="lina-bench-runs-")
    t_spawn = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port),
                             "--runs-dir", runs, "--no-cache-presets", "--threads",
                             str(a.threads)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        ready = wait_ready(url, proc)
        from gradio_client import Client
        client = Client(url, verbose=False, download_files=False)
        kw = dict(prompt=a.prompt, use_scene=False, seed=0, steps=a.steps,
                  candidate="predicted", api_name="/lina")
        times = []
        for i in range(a.repeats + 1):
            kw["seed"] = i
            t0 = time.perf_counter()
            out = client.predict(**kw)
            times.append(time.perf_counter() - t0)
        md = out[-1]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    cold, warm = times[0], times[1:]
    res = {"model": model, "steps": a.steps, "threads": a.threads,
           "start_to_ready_s": round(ready, 2),
           "spawn_to_ready_s": round(time.perf_counter() - t_spawn - sum(times), 2),
           "pair_cold_s": round(cold, 2),
           "pair_warm_s": [round(t, 2) for t in warm],
           "pair_warm_median_s": round(statistics.median(warm), 2) if warm else None,
           "load_avg": os.getloadavg()[0], "cpus": os.cpu_count()}
    print(f"model                  {model}")
    print(f"app start -> HTTP 200  {res['start_to_ready_s']:.2f} s")
    print(f"click -> pair (cold)   {res['pair_cold_s']:.2f} s   (includes loading the model)")
    print(f"click -> pair (warm)   median {res['pair_warm_median_s']} s over {a.repeats}: "
          f"{res['pair_warm_s']}  ({a.steps} steps, {a.threads} threads)")
    print(f"last run: {md}")
    print(json.dumps(res))
    return 0
