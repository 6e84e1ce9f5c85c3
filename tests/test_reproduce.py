"""`make reproduce` (scripts/reproduce.py): the stages in order, the quick mode's outputs stay in
its folder, and (slow) the quick mode runs end to end."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from script_loader import load_script

ROOT = Path(__file__).resolve().parents[1]


def repro():
    return load_script("reproduce")


def test_stages_in_order_and_quick_paths_stay_in_out(tmp_path):
    mod = repro()
    names = [n for n, _ in mod.stages(tmp_path, mod.SIZES["quick"])]
    assert names == ["data_first", "train_first", "data", "train", "eval", "grid_dev", "grid_train", "fit", "grid_test_ood",
                     "grid_test_id", "bench", "probe_multihop", "probe_disentangle",
                     "probe_timing", "probe_inpaint", "verifier", "verifier_v2", "speed"]
    for name, args in mod.stages(tmp_path, mod.SIZES["quick"]):
        outs = [args[i + 1] for i, a in enumerate(args) if a in ("--out", "--json")]
        assert outs and all(Path(o).is_relative_to(tmp_path) for o in outs), name
    train = dict(mod.stages(tmp_path, mod.SIZES["full"]))["train"]
    assert train[train.index("--finetune-from") + 1] == str(tmp_path / "first" / "model")
    data = dict(mod.stages(tmp_path, mod.SIZES["full"]))["data"]
    assert data[data.index("--categories") + 1].split(",") == [
        "reflection", "shadow", "buoyancy", "balance", "scale", "roles", "fill", "place"]
    lines: list[str] = []
    assert mod.run(tmp_path / "dry", quick=True, dry=True,
                   log=lambda m, **kw: lines.append(m)) == {}
    assert len(lines) == len(names) and not (tmp_path / "dry" / "stage_times.json").exists()


def test_only_some_stages_on_a_given_model_and_grids_over_processes(tmp_path):
    mod = repro()
    lines: list[str] = []
    mod.run(tmp_path, quick=True, dry=True, log=lambda m, **kw: lines.append(m), procs=2,
            only=["grid_dev", "fit"], model="some/model")
    assert [ln.split("]")[0] for ln in lines] == ["[grid_dev", "[fit"]
    assert "accelerate.commands.launch" in lines[0] and "--num_processes 2" in lines[0]
    assert "accelerate" not in lines[1]                 # fit is one process
    assert all("--model some/model" in ln for ln in lines)
    with pytest.raises(SystemExit, match="--only"):
        mod.run(tmp_path, quick=True, dry=True, only=["nope"])


@pytest.mark.slow   # the whole pipeline at smoke size: ~2 min on 2 busy cores
def test_quick_mode_runs_end_to_end(tmp_path):
    mod = repro()
    docs_v2 = ROOT / "docs" / "results" / "v2"
    existed = docs_v2.exists()
    times = mod.run(tmp_path, quick=True, log=lambda m, **kw: None)
    assert list(times) == [n for n, _ in mod.stages(tmp_path, mod.SIZES["quick"])]
    st = json.loads((tmp_path / "stage_times.json").read_text())
    assert st["mode"] == "quick" and st["seconds"] == times
    from lina_core.grid import categories, read_rows
    from lina_core.pipelines.toyworld import ToyWorldPipeline
    pipe = ToyWorldPipeline.from_pretrained(tmp_path / "model" / "model", local_files_only=True)
    assert "fill" in categories(pipe)
    assert "| fill |" in (tmp_path / "eval" / "eval.md").read_text()
    assert {r["category"] for r in read_rows(tmp_path / "grid_dev")} >= {"roles", "place"}
    assert (tmp_path / "bench" / "bench.md").is_file()
    assert (tmp_path / "probes" / "multihop.json").is_file()
    assert (tmp_path / "predictor").is_dir()
    assert docs_v2.exists() == existed        # the quick mode never writes docs/
