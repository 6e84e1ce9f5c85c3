"""Private runs on a shared Space: each browser session lists, loads and exports only its own
runs, within a quota, and exports do not pile up (app/runstore.py)."""
from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

from app import runstore
from app.runstore import RunError, RunStore

SPEC = {"prompt": "a red ball on the floor, lit from the left", "steps": 4, "seed": 0}


def _save(store: RunStore) -> str:
    return store.save("lina", SPEC, {"model": "toyworld"},
                      {"baseline": np.zeros((4, 4, 3), np.uint8)})


def test_a_private_store_keeps_each_sessions_runs_apart(tmp_path, monkeypatch):
    store = RunStore(tmp_path, private=True)
    monkeypatch.setattr(runstore, "session_owner", lambda: "a" * 16)
    mine = _save(store)
    assert store.ids() == [mine] and store.load(mine)["record"]["model"] == "toyworld"
    monkeypatch.setattr(runstore, "session_owner", lambda: "b" * 16)
    assert store.ids() == []
    for call in (store.load, store.export_zip):
        with pytest.raises(RunError, match="does not exist in this session's runs"):
            call(mine)


def test_a_shared_store_is_one_users_folder(tmp_path):
    store = RunStore(tmp_path)
    rid = _save(store)
    assert (tmp_path / rid / "record.json").is_file() and store.ids() == [rid]


def test_quotas_drop_the_oldest_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(runstore, "MAX_RUNS_PER_OWNER", 3)
    monkeypatch.setattr(runstore, "MAX_RUNS_TOTAL", 5)
    store = RunStore(tmp_path, private=True)
    made: dict[str, list[str]] = {}
    for owner in ("a", "b", "c"):
        monkeypatch.setattr(runstore, "session_owner", lambda o=owner: o * 16)
        for _ in range(4):
            made.setdefault(owner, []).append(_save(store))
            time.sleep(0.02)     # distinct folder times within one second
        assert store.ids() == made[owner][::-1][:3]
    left = {p.name for p in tmp_path.glob("*/*") if runstore.RUN_ID.match(p.name)}
    newest = (made["a"][1:] + made["b"][1:] + made["c"][1:])[-5:]     # in the order made
    assert left == set(newest)


def test_old_exports_are_removed(tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    rid = _save(store)
    first = store.export_zip(rid)
    assert first.is_file() and tmp_path / ".exports" in first.parents
    old = time.time() - runstore.EXPORT_TTL_S - 5
    os.utime(first.parent, (old, old))
    second = store.export_zip(rid)
    assert second.is_file() and not first.exists()
    assert len(list((tmp_path / ".exports").iterdir())) == 1


@pytest.mark.slow   # serves a private app and imports a spec from two gradio_client sessions
def test_two_visitors_of_a_private_app_see_only_their_own_runs(tmp_path):
    gradio_client = pytest.importorskip("gradio_client")
    from app import build_demo, launch_kwargs
    from app.build import free_port
    from lina_core.pipelines.registry import tiny_toyworld
    demo = build_demo(pipe=tiny_toyworld(), runs_dir=tmp_path / "runs", threads=1,
                      private_runs=True)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                quiet=True, **launch_kwargs())
    try:
        url = f"http://127.0.0.1:{port}/"
        a, b = (gradio_client.Client(url, verbose=False) for _ in range(2))
        spec = tmp_path / "spec.json"
        spec.write_text(json.dumps(SPEC))
        out = a.predict(path=gradio_client.handle_file(str(spec)), api_name="/runs_import")
        rid = out[0]["value"] if isinstance(out[0], dict) else out[0]
        assert rid in json.dumps(a.predict(current=None, api_name="/runs_list"))
        assert rid not in json.dumps(b.predict(current=None, api_name="/runs_list"))
        with pytest.raises(Exception, match="does not exist in this session"):
            b.predict(rid=rid, api_name="/runs_load")
    finally:
        demo.close()
