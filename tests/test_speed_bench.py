"""lina_core.bench_speed: the benchmark script on a tiny saved model (split from test_speed.py:
it compiles, as test_speed's compile test does, and a file of its own lets the two compiles run
on different workers under `pytest -n 2 --dist loadfile`)."""
from __future__ import annotations

import pytest

from lina_core.pipelines import registry


@pytest.mark.slow   # compiles a tiny UNet: ~30-60 s on 2 cores
def test_bench_speed_prints_rates_and_compares_the_paths(tmp_path, capsys, monkeypatch):
    """The benchmark script on a tiny saved model: in one run the matrix rates, the sample's
    work, both paths' times and the largest pixel difference between them; and the profile."""
    monkeypatch.delenv("LINA_FAST", raising=False)   # bench_speed sets it; put back after
    import json
    from lina_core import bench_speed
    registry.tiny_toyworld().save_pretrained(tmp_path / "tiny")
    out = tmp_path / "speed.json"
    bench_speed.main(["--model", str(tmp_path / "tiny"), "--steps", "2", "--repeats", "1",
                      "--out", str(out)])
    res = json.loads(out.read_text())
    assert res["matmul_1t_gflops"] > 0 and res["matmul_2t_gflops"] > 0
    (row,) = res["rows"]
    assert row["gflop"] > 0 and row["old_s"] > 0 and row["new_s"] > 0
    assert row["max_pixel_diff"] <= 1
    assert len(row["times"]["old"]) == len(row["times"]["new"]) == 1
    assert "| image | 1 |" in capsys.readouterr().out
    table = bench_speed.profile(False, 1, 2, 8, str(tmp_path / "tiny"))
    assert "Self CPU" in table and "under the profiler" in table
