"""Load test of the app's queue: N concurrent clients, some of which leave mid-run.

    OMP_NUM_THREADS=1 .venv/bin/python -m lina_core load-test --clients 12 \\
        --leave 0.5 --steps 25 --out build/load_test

Starts the app (the ToyWorld model: assets/toyworld, or ``--tiny`` for a random-weight one) in a
subprocess with its ``lina.queue`` log on, then drives ``--clients`` clients at once through
Gradio's queue protocol over raw HTTP (``POST /gradio_api/queue/join``, then the SSE stream
``GET /gradio_api/queue/data``), each asking the Scene tab's ``/generate`` for one image of
``--steps`` steps.  A share ``--leave`` of them close their stream early: half after their run
has done a few steps (mid-run), half while still queued; a share ``--cancel`` press cancel
instead (Gradio's ``POST /gradio_api/cancel``, what ``job.cancel()`` and the Stop button send),
half mid-run, half queued, and keep their stream open.  Reports:

- served: stayed, and got their image; errors: stayed and got an error; lost: stayed and got
  neither within ``--timeout`` s; wrong: served images that differ from the same request made
  alone after the load (``--check`` of them are re-run; every pixel must match);
- cancelled: left or cancelled mid-run and the app logged the run stopped; dropped: left or
  cancelled while queued and the app never started their run; leaked: left or cancelled, yet
  their run went on to the end;
- peak memory of the app process (its VmHWM, MiB), after the load and, with ``--hostile``, after
  a round of oversized inputs (a 100 kB prompt, a 31 MB spec, 5,000-deep JSON, a PNG whose
  header claims 13,000 x 13,000 pixels, each answered with its message's length and time);
- steps after leaving: per cancelled run, denoising steps that ended after the client closed
  its stream (from the app's log of the run's step ends; the target is at most one, the step
  in progress);
- latency of the served clients (p50 / p90 / max, s), and a last probe request after the
  load, to show nothing is stuck.

Writes ``load_test.json`` (every client) and prints the summary as JSON.  Not a test: timings
depend on the machine; ``tests/test_queue.py`` checks the behaviour on a tiny model.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "a large red ball on a small round mirror"
API = "/gradio_api"


@dataclass
class Outcome:
    """What one client saw."""
    client: int
    plan: str                      # "stay", "leave_running" or "leave_queued"
    event_id: str | None = None
    result: str = "lost"           # served / error / left / lost / refused
    latency_s: float | None = None
    t_left: float | None = None    # wall clock (time.time()) when it closed its stream
    ranks: list[int] = field(default_factory=list)    # queue positions it was told
    progress: list[int] = field(default_factory=list)  # steps done, as the progress bar said
    message: str = ""
    seed: int = 0
    images: list[str] = field(default_factory=list)    # URLs of the served images


def endpoint(base: str, api_name: str) -> tuple[int, list[bool]]:
    """The fn_index of ``api_name`` and, per input, whether it is a gr.State (sent as null:
    the server uses the session's value)."""
    cfg = httpx.get(base + "/config", timeout=30).json()
    kinds = {c["id"]: c.get("type") for c in cfg["components"]}
    for i, dep in enumerate(cfg["dependencies"]):
        if dep.get("api_name") == api_name:
            return dep.get("id", i), [kinds.get(x) == "state" for x in dep["inputs"]]
    raise KeyError(f"{api_name} is not an endpoint of {base}")


def join(http: httpx.Client, base: str, fn_index: int, data: list[Any], session: str) -> str:
    """Put one event on the queue; its event id (HTTP 503 when the queue is full)."""
    r = http.post(f"{base}{API}/queue/join", json={
        "data": data, "fn_index": fn_index, "session_hash": session, "event_data": None,
        "trigger_id": None})
    r.raise_for_status()
    return r.json()["event_id"]


def messages(http: httpx.Client, base: str, session: str, timeout: float):
    """The session's SSE stream as (message dict, stream response); closing the response is how
    a client goes away."""
    with http.stream("GET", f"{base}{API}/queue/data", params={"session_hash": session},
                     timeout=httpx.Timeout(timeout, connect=30)) as resp:
        for line in resp.iter_lines():
            if line.startswith("data:"):
                yield json.loads(line[5:]), resp


def _steps(msg: dict[str, Any]) -> int | None:
    for p in msg.get("progress_data") or []:
        if p.get("index") is not None and p.get("unit") == "steps":
            return int(p["index"])
    return None


def cancel(http: httpx.Client, base: str, fn_index: int, session: str, event_id: str) -> None:
    """What gradio_client's ``job.cancel()`` and a Stop button send."""
    http.post(f"{base}{API}/cancel", json={"session_hash": session, "fn_index": fn_index,
                                           "event_id": event_id}).raise_for_status()


def _image_urls(output: Any) -> list[str]:
    """The image files in a completed event's output data."""
    found: list[str] = []

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            url = x.get("url")
            if isinstance(url, str) and url.endswith(".png"):
                found.append(url)
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(output)
    return found


def one_client(base: str, fn: tuple[int, list[bool]], i: int, plan: str, steps: int,
               leave_at: int, timeout: float, seed: int | None = None) -> Outcome:
    """One client's whole life: join, read its stream, maybe leave or cancel, note what it
    saw."""
    out, session, t0 = Outcome(i, plan), uuid.uuid4().hex[:11], time.perf_counter()
    out.seed = i if seed is None else seed
    values = [PROMPT, None, out.seed, steps, None]    # prompt, scene, seed, steps, model
    data = [None if st else v for st, v in zip(fn[1], values)]
    with httpx.Client(timeout=30) as http:
        try:
            out.event_id = join(http, base, fn[0], data, session)
        except httpx.HTTPStatusError as exc:
            out.result, out.message = "refused", f"HTTP {exc.response.status_code}"
            return out
        for msg, resp in messages(http, base, session, timeout):
            kind = msg.get("msg")
            if kind == "estimation" and msg.get("rank") is not None:
                out.ranks.append(int(msg["rank"]))
                if plan == "leave_queued":        # still waiting: its run has not started
                    out.t_left, out.result = time.time(), "left"
                    resp.close()
                    return out
                if plan == "cancel_queued" and out.t_left is None:
                    out.t_left, out.result = time.time(), "left"
                    cancel(http, base, fn[0], session, out.event_id)
            elif kind == "progress" and _steps(msg) is not None:
                out.progress.append(_steps(msg))
                if plan == "leave_running" and out.progress[-1] >= leave_at:
                    out.t_left, out.result = time.time(), "left"
                    resp.close()
                    return out
                if plan == "cancel_running" and out.progress[-1] >= leave_at \
                        and out.t_left is None:
                    out.t_left, out.result = time.time(), "left"
                    cancel(http, base, fn[0], session, out.event_id)
            elif kind == "process_completed":
                if out.t_left is not None:        # the cancel's own completion message
                    return out
                ok = bool(msg.get("success"))
                out.result = "served" if ok else "error"
                out.message = "" if ok else str((msg.get("output") or {}).get("error"))[:200]
                out.images = _image_urls((msg.get("output") or {}).get("data"))
                out.latency_s = time.perf_counter() - t0
                return out
    return out


def serve(port: int, log_file: str, tiny: bool, runs: str) -> None:
    """The app in this process (the child side of :func:`start_app`)."""
    import logging
    handler = logging.FileHandler(log_file)
    handler.setFormatter(logging.Formatter("%(message)s"))
    qlog = logging.getLogger("lina.queue")
    qlog.addHandler(handler)
    qlog.setLevel(logging.DEBUG)
    import torch
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    from app import build_demo, launch_kwargs          # the app, run from the repository root
    from ..pipelines.registry import tiny_toyworld
    demo = build_demo(pipe=tiny_toyworld() if tiny else None, runs_dir=runs)
    demo.launch(server_name="127.0.0.1", server_port=port, quiet=True, **launch_kwargs())


def start_app(log_file: str, tiny: bool) -> tuple[subprocess.Popen, str]:
    """The app in a subprocess; (process, base URL) once it answers."""
    from app.build import free_port
    port = free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1",
               PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "lina_core", "load-test", "--serve", str(port), "--log", log_file,
           "--runs", tempfile.mkdtemp(prefix="lina-load-runs-")] + (["--tiny"] if tiny else [])
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=open(log_file + ".stderr", "w"))
    base = f"http://127.0.0.1:{port}"
    t0 = time.time()
    while time.time() - t0 < 300:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited ({proc.returncode}); see {log_file}.stderr")
        try:
            if httpx.get(base + "/config", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise TimeoutError("the app did not answer in 300 s")


def read_log(log_file: str) -> dict[str, dict[str, Any]]:
    """The app's queue log, per event id: {"start": line, "done": line, "cancelled": line}."""
    per: dict[str, dict[str, Any]] = {}
    for line in Path(log_file).read_text().splitlines():
        try:
            d = json.loads(line)
        except ValueError:
            continue
        per.setdefault(d.get("event_id") or "", {})[d["event"]] = d
    return per


def _pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))], 2)


def summarise(outs: list[Outcome], log: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The report's figures (see the module docstring)."""
    s: dict[str, Any] = {k: 0 for k in ("served", "errors", "lost", "refused", "cancelled",
                                        "dropped", "leaked", "left_unaccounted")}
    s["by_plan"] = {p: sum(o.plan == p for o in outs) for p in sorted({o.plan for o in outs})}
    after: list[int] = []
    for o in outs:
        ev = log.get(o.event_id or "", {})
        if o.result in ("served", "lost", "refused"):
            s[o.result] += 1
        elif o.result == "error":
            s["errors"] += 1
        elif "cancelled" in ev:
            s["cancelled"] += 1
            after.append(sum(t > o.t_left for t in ev["cancelled"]["step_ends"]))
        elif "start" not in ev:
            s["dropped"] += 1
        elif "done" in ev:
            s["leaked"] += 1
        else:
            s["left_unaccounted"] += 1
    lat = [o.latency_s for o in outs if o.result == "served"]
    s.update(clients=len(outs), steps_after_leaving={"max": max(after, default=None),
                                                     "per_run": after},
             latency_s={"p50": _pct(lat, 0.5), "p90": _pct(lat, 0.9),
                        "max": _pct(lat, 1.0), "n": len(lat)},
             max_rank_seen=max((r for o in outs for r in o.ranks), default=None),
             progress_bar_seen=sum(bool(o.progress) for o in outs))
    return s


def plans(n: int, leave: float, seed: int, cancel_share: float = 0.0) -> list[str]:
    """Which clients stay, leave or cancel mid-run, or leave or cancel while queued (shuffled,
    reproducibly)."""
    k, c = int(round(n * leave)), int(round(n * cancel_share))
    p = (["leave_running"] * (k - k // 2) + ["leave_queued"] * (k // 2) +
         ["cancel_running"] * (c - c // 2) + ["cancel_queued"] * (c // 2) +
         ["stay"] * max(0, n - k - c))
    random.Random(seed).shuffle(p)
    return p


def _pixels(http: httpx.Client, urls: list[str]) -> list[bytes]:
    """The decoded RGB pixels of each image URL (PNG bytes may differ in metadata)."""
    import io
    import numpy as np
    from PIL import Image
    return [np.asarray(Image.open(io.BytesIO(http.get(u).content)).convert("RGB")).tobytes()
            for u in urls]


def check_served(base: str, outs: list[Outcome], steps: int, n: int, timeout: float) -> dict:
    """Re-run up to ``n`` served requests alone, after the load; a served image that differs
    in any pixel from its solo re-run is wrong."""
    fn = endpoint(base, "generate")
    checked = wrong = 0
    with httpx.Client(timeout=60) as http:
        for o in [o for o in outs if o.result == "served" and o.images][:n]:
            solo = one_client(base, fn, 1000 + o.client, "stay", steps, 0, timeout, o.seed)
            if solo.result != "served":
                continue
            checked += 1
            wrong += _pixels(http, o.images) != _pixels(http, solo.images)
    return {"checked": checked, "wrong": wrong}


def peak_mib(pid: int) -> float | None:
    """A process's peak resident memory (VmHWM), MiB; None where /proc does not say."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _big_png(path: Path, side: int = 13000) -> Path:
    """A small file (1-bit, one colour) whose header claims ``side`` x ``side`` pixels."""
    from PIL import Image
    Image.new("1", (side, side)).save(path, optimize=True)
    return path


def hostile(base: str, folder: Path) -> list[dict[str, Any]]:
    """Oversized inputs a careless or hostile visitor might send; what each got back."""
    from gradio_client import Client, handle_file
    client = Client(base, verbose=False)
    deep = "[" * 5000 + "]" * 5000
    spec31 = '{"prompt": "' + "a" * 31_000_000 + '"}'
    png = str(_big_png(folder / "big.png"))
    calls = [("parse", "/parse", ("a red ball " * 9500,)),
             ("load_spec deep", "/load_spec", (deep,)),
             ("intervene_json 31 MB", "/intervene_json", (spec31, "toyworld")),
             ("apply_json deep", "/apply_json", (deep,)),
             ("video_frame 169 MP", "/video_frame", (handle_file(png), 0, "{}"))]
    out = []
    for name, api, args in calls:
        t0 = time.perf_counter()
        try:
            client.predict(*args, api_name=api)
            answer = "accepted"
        except Exception as exc:  # noqa: BLE001 - the refusal is the figure
            answer = str(exc)
        out.append({"input": name, "seconds": round(time.perf_counter() - t0, 2),
                    "answer_chars": len(answer), "answer": answer[:160]})
    return out


def drive(base: str, n: int, leave: float, steps: int, leave_at: int, timeout: float,
          seed: int = 0, cancel_share: float = 0.0) -> list[Outcome]:
    """``n`` clients at once (a thread each), started 50 ms apart."""
    fn = endpoint(base, "generate")
    outs: list[Outcome | None] = [None] * n

    def go(i: int, plan: str) -> None:
        try:
            outs[i] = one_client(base, fn, i, plan, steps, leave_at, timeout)
        except Exception as exc:  # noqa: BLE001 - a client failure is a figure, not a crash
            outs[i] = Outcome(i, plan, result="lost", message=f"{type(exc).__name__}: {exc}")
    threads = [threading.Thread(target=go, args=(i, p)) for i, p in
               enumerate(plans(n, leave, seed, cancel_share))]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join()
    return [o for o in outs if o is not None]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lina_core load-test",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=12)
    ap.add_argument("--leave", type=float, default=0.5, help="share of clients that leave")
    ap.add_argument("--cancel", type=float, default=0.0,
                    help="share of clients that press cancel (half mid-run, half queued)")
    ap.add_argument("--hostile", action="store_true",
                    help="after the load, send oversized inputs and report the peak memory")
    ap.add_argument("--check", type=int, default=4,
                    help="served requests re-run alone after the load (every pixel must match)")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--leave-at", type=int, default=3, help="steps seen before leaving")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--tiny", action="store_true", help="a random-weight ToyWorld model")
    ap.add_argument("--out", default="build/load_test")
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--log", help=argparse.SUPPRESS)
    ap.add_argument("--runs", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.serve:
        serve(a.serve, a.log, a.tiny, a.runs)
        return 0
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    log_file = str(out / "queue.log")
    Path(log_file).write_text("")
    proc, base = start_app(log_file, a.tiny)
    try:
        t0 = time.perf_counter()
        outs = drive(base, a.clients, a.leave, a.steps, a.leave_at, a.timeout,
                     cancel_share=a.cancel)
        wall = time.perf_counter() - t0
        time.sleep(2.0)                     # the last cancellations reach the log
        probe = one_client(base, endpoint(base, "generate"), 999, "stay", 2, 0, 120)
        checked = check_served(base, outs, a.steps, a.check, a.timeout)
        peak = peak_mib(proc.pid)
        bad = hostile(base, out) if a.hostile else None
        peak_hostile = peak_mib(proc.pid) if a.hostile else None
    finally:
        proc.terminate()
        proc.wait(30)
    summary = summarise(outs, read_log(log_file))
    summary.update(wall_s=round(wall, 1), steps=a.steps, tiny=a.tiny, wrong=checked["wrong"],
                   checked_against_solo=checked["checked"], app_peak_mib=peak,
                   hostile=bad, app_peak_mib_after_hostile=peak_hostile,
                   after_load_probe={"result": probe.result,
                                     "latency_s": round(probe.latency_s or -1, 2)},
                   command=" ".join(["python -m lina_core load-test",
                                     *(sys.argv[2:] if argv is None else argv)]))
    (out / "load_test.json").write_text(json.dumps(
        {"summary": summary, "clients": [asdict(o) for o in outs]}, indent=1))
    print(json.dumps(summary))
    return 0
