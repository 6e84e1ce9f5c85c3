"""An honest queue, through Gradio's own queue protocol (raw HTTP, as ``python -m lina_core
load-test`` drives it), on a tiny random-weight ToyWorld model: a client that leaves mid-run
has its run stopped within a step or two, one that leaves while queued never has its run
started, and one that stays is told its queue position, sees a progress bar step by step, and
is served."""
from __future__ import annotations

import json
import logging
import os
import threading
import time

import pytest
from app.build import free_port

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def load_test_module():
    from lina_core.bench import load as load_test
    return load_test


class Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[dict] = []

    def emit(self, record):
        self.lines.append(json.loads(record.getMessage()))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    import torch
    torch.set_num_threads(1)
    from app import build_demo, launch_kwargs
    from lina_core.pipelines.registry import tiny_toyworld
    qlog, lines = logging.getLogger("lina.queue"), Lines()
    qlog.addHandler(lines)
    level, qlog.level = qlog.level, logging.DEBUG
    demo = build_demo(pipe=tiny_toyworld(), runs_dir=tmp_path_factory.mktemp("runs"), threads=1)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                **launch_kwargs())
    yield f"http://127.0.0.1:{port}", lines.lines
    demo.close()
    qlog.removeHandler(lines)
    qlog.setLevel(level)


@pytest.mark.slow   # builds and serves the app, then three 100-step runs: ~10 s on 2 cores
def test_left_clients_are_not_worked_for_and_the_stayer_sees_its_place(served):
    from app.waiting import STATS
    base, lines = served
    lt = load_test_module()
    fn = lt.endpoint(base, "generate")
    outs: dict[str, object] = {}

    def go(name: str, plan: str, steps: int, leave_at: int) -> None:
        outs[name] = lt.one_client(base, fn, len(outs), plan, steps, leave_at=leave_at,
                                   timeout=120)
    cancelled_before = STATS["cancelled"]
    # the runner leaves late enough (step 60 of 100) that the other two have joined behind
    # it, whatever the machine's speed: the test's premise, checked below
    plan = [("runner", "leave_running", 100, 60), ("queued", "leave_queued", 100, 0),
            ("stayer", "stay", 20, 0)]
    threads = [threading.Thread(target=go, args=p) for p in plan]
    for t in threads:
        t.start()
        time.sleep(0.3)        # in this order on the queue
    for t in threads:
        t.join(180)
    runner, queued, stayer = outs["runner"], outs["queued"], outs["stayer"]
    time.sleep(1.0)
    per = {}
    for d in lines:
        per.setdefault(d["event_id"], {})[d["event"]] = d
    # the premise: both others joined the queue while the runner ran
    assert queued.ranks and stayer.ranks and queued.t_left < (runner.t_left or 0), \
        (queued, runner)
    # the runner left after step 60: its run stopped long before step 100, within two steps
    assert runner.result == "left" and runner.progress[-1] >= 60
    stop = per[runner.event_id]["cancelled"]
    assert stop["total"] == 100 and stop["step"] < 70, stop
    assert sum(t > runner.t_left for t in stop["step_ends"]) <= 2, stop
    assert "done" not in per[runner.event_id]
    assert STATS["cancelled"] == cancelled_before + 1
    # the client that left while queued: its run never started
    assert queued.result == "left" and queued.event_id not in per
    # the stayer: told its place, a progress bar in steps up to 20, served
    assert stayer.result == "served", stayer
    # told its place: next in line behind the runner, or behind the leaving client too
    # when Gradio had not yet dropped it (it sends no new estimate after the drop)
    assert stayer.ranks and stayer.ranks[-1] in (0, 1), stayer
    # a bar that moves in steps of the 20: Gradio coalesces progress updates (it sends the
    # latest pending one at an interval), so the last ones can be overtaken by the result
    p = stayer.progress
    assert len(p) >= 2 and p == sorted(set(p)) and 1 <= p[0] and p[-1] <= 20, p
    assert "done" in per[stayer.event_id]


def _lina(client, seed: int, steps: int):
    return client.submit(prompt="a red cone on the floor, lit from the left", use_scene=False,
                         seed=seed, steps=steps, candidate="none", api_name="/lina")


def _pixels(result) -> list:
    """The baseline and LINA images of a /lina result, as arrays."""
    import numpy as np
    from PIL import Image
    return [np.asarray(Image.open(r["path"] if isinstance(r, dict) else r).convert("RGB"))
            for r in result[:2]]


@pytest.mark.slow   # the served app, a cancelled 100-step run and two 8-step pairs: ~20 s
def test_a_cancelled_run_stops_and_the_next_visitor_gets_the_solo_result(served):
    """gradio_client's ``cancel()`` of a running /lina frees Gradio's queue slot at once, while
    the model call's thread runs on: the run must stop within a step (its event has left the
    queue's active jobs), and the next visitor's run, started behind it, must never share the
    pipeline with it: its images are bit-identical to the same request made alone."""
    from gradio_client import Client
    from app.waiting import STATS
    base, lines = served
    a, b = Client(base, verbose=False), Client(base, verbose=False)
    cancelled_before = STATS["cancelled"]
    job = _lina(a, 1, 100)
    t0 = time.time()
    while time.time() - t0 < 60:      # wait until the run is really denoising
        st = job.status()
        if st.progress_data and any(p.unit == "steps" and (p.index or 0) >= 3
                                    for p in st.progress_data):
            break
        time.sleep(0.05)
    else:
        pytest.fail("the 100-step run never reported its steps")
    job.cancel()
    behind = _lina(b, 2, 8).result(timeout=120)
    deadline = time.time() + 30
    while STATS["cancelled"] == cancelled_before and time.time() < deadline:
        time.sleep(0.1)
    stop = [d for d in lines if d["event"] == "cancelled"]
    assert STATS["cancelled"] > cancelled_before and stop, "the cancelled run was not stopped"
    assert stop[-1]["step"] < stop[-1]["total"]
    solo = _lina(b, 2, 8).result(timeout=120)
    for x, y in zip(_pixels(behind), _pixels(solo)):
        assert (x == y).all()


def test_every_model_run_has_a_stop_button():
    """Each tab that runs a model has a Stop button whose click cancels that tab's run events
    (what the cancel test above drives through gradio_client, the button sends from the page)."""
    from app import build_demo
    from lina_core.pipelines.registry import tiny_toyworld
    demo = build_demo(pipe=tiny_toyworld(), runs_dir="/tmp/lina-stop-test", threads=1,
                      cache_presets=False)
    deps = demo.config["dependencies"]
    ids = {d.get("api_name"): d["id"] for d in deps}
    cancelled = {c for d in deps for c in d.get("cancels") or ()}
    for name in ("lina", "lina_batch", "intervene", "intervene_json", "probe", "video"):
        assert ids[name] in cancelled, f"/{name} has no Stop button"
