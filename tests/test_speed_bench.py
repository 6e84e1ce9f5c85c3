"""``python -m lina_core bench-speed`` (lina_core.bench.speed): the benchmark on a tiny saved
model, without its compile (the compile itself, the same ``speed.compile_denoiser``, is
test_speed's; compiling again here cost ~60-120 s of the suite)."""
from __future__ import annotations

import pytest

from lina_core.pipelines import registry


@pytest.mark.slow   # a tiny saved model, two paths, the profiler: ~10 s
def test_bench_speed_prints_rates_and_compares_the_paths(tmp_path, capsys, monkeypatch):
    """The benchmark script on a tiny saved model: in one run the matrix rates, the sample's
    work, both paths' times and the largest pixel difference between them; and the profile."""
    monkeypatch.delenv("LINA_FAST", raising=False)   # bench_speed sets it; put back after
    import json
    from lina_core.bench import speed as bench_speed
    registry.tiny_toyworld().save_pretrained(tmp_path / "tiny")
    out = tmp_path / "speed.json"
    bench_speed.main(["--model", str(tmp_path / "tiny"), "--steps", "2", "--repeats", "1",
                      "--no-compile", "--out", str(out)])
    res = json.loads(out.read_text())
    assert res["matmul_1t_gflops"] > 0 and res["matmul_2t_gflops"] > 0
    (row,) = res["rows"]
    assert row["compiled"] is False and row["compile_s"] == 0.0
    assert row["gflop"] > 0 and row["old_s"] > 0 and row["new_s"] > 0
    assert row["max_pixel_diff"] <= 1
    assert len(row["times"]["old"]) == len(row["times"]["new"]) == 1
    shown = capsys.readouterr().out
    assert "| image | 1 |" in shown and "| off |" in shown
    table = bench_speed.profile(False, 1, 2, 8, str(tmp_path / "tiny"), compile=False)
    assert "Self CPU" in table and "under the profiler" in table
