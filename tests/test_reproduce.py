"""`make reproduce` (scripts/reproduce.py): the stages in order, the quick mode's outputs stay in
its folder, and (slow) the quick mode runs end to end."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from script_loader import load_script

ROOT = Path(__file__).resolve().parents[1]


#: the loop on clips: on the shipped video model, not on the pipeline's; its mechanics are
#: tests/test_loop_video.py's (tiny video pipeline), so the smoke run here leaves it out (its
#: quick sizes still cost ~85 CPU-s: the video model's 8-frame clips)
VIDEO = ["video_collect_dev", "video_fit", "video_run_test_ood", "video_run_test_id",
         "video_report"]


def repro():
    return load_script("reproduce")


def test_stages_in_order_and_quick_paths_stay_in_out(tmp_path):
    mod = repro()
    names = [n for n, _ in mod.stages(tmp_path, mod.SIZES["quick"])]
    assert names == ["data_first", "train_first", "data", "train", "eval", "grid_dev", "grid_train", "fit", "grid_test_ood",
                     "grid_test_id", "bench", "probe_multihop", "probe_disentangle",
                     "probe_timing", "probe_inpaint", "verifier", "verifier_v2", "speed",
                     "loop_collect_train", "loop_collect_dev", "loop_fit_check",
                     "loop_collect_test_ood", "loop_collect_test_id", "loop_tries_test_ood",
                     "loop_tries_test_id", "loop_report", "settling", "switch",
                     "attention_settling", "insight3", "multihop", "multihop_floating",
                     "refraction_check", "separation", *VIDEO]
    for name, args in mod.stages(tmp_path, mod.SIZES["quick"]):
        outs = [args[i + 1] for i, a in enumerate(args) if a in ("--out", "--json", "--root",
                                                                 "--check")]
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


def test_a_stage_in_process_gives_its_exit_status_and_puts_the_process_back(tmp_path,
                                                                            monkeypatch):
    import os
    import torch
    mod = repro()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LINA_FAST", raising=False)
    env, threads = dict(os.environ), torch.get_num_threads()
    bad = ["data", "--out", str(tmp_path / "d"), "--n", "0"]          # refused: exit 2
    assert mod.run_in_process("data", bad, {**env, "LINA_FAST": "0"}) == 2
    assert mod.run_in_process("data", ["data", "--nope"], env) == 2   # argparse's exit
    assert mod.run_in_process("data", ["data", "--out", str(tmp_path / "d"), "--n", "1",
                                       "--size", "32"], env) == 0
    assert (tmp_path / "d").is_dir()
    assert dict(os.environ) == env and os.getcwd() == str(tmp_path)
    assert torch.get_num_threads() == threads


@pytest.mark.slow   # the whole pipeline at smoke size: ~2 min on 2 busy cores
def test_quick_mode_runs_end_to_end(tmp_path, monkeypatch):
    """Every stage, in order.  One runs as `make reproduce` runs it, a ``python -m lina_core``
    subprocess (every stage is a command of lina_core: a second one, once a module of its own,
    tested nothing more); the rest run in this process (run_in_process: the same entry points,
    without a fresh torch import each)."""
    mod = repro()
    docs_v2 = ROOT / "docs" / "results" / "v2"
    existed = docs_v2.exists()
    names = [n for n, _ in mod.stages(tmp_path, mod.SIZES["quick"])]
    ran: list[str] = []
    spawn = subprocess.run

    def spy(cmd, *a, **kw):
        if list(cmd[:2]) == [sys.executable, "-m"]:
            ran.append(cmd[2])                  # python -m <this>
        return spawn(cmd, *a, **kw)
    monkeypatch.setattr(subprocess, "run", spy)
    names = [n for n in names if n not in VIDEO]
    times = mod.run(tmp_path, quick=True, log=lambda m, **kw: None, only=names,
                    in_process=set(names) - {"data_first"})
    monkeypatch.undo()
    assert ran == ["lina_core"]                   # the one subprocess stage
    assert list(times) == names
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
    # LINA's loop: the check fitted beside this run's predictor, the report against its bench
    check = json.loads((tmp_path / "predictor" / "check.json").read_text())
    assert check["steps"] == mod.SIZES["quick"]["loop"]["steps"]
    assert set(check["training"]["splits"]) == {"train", "dev-ood"}
    loop = json.loads((tmp_path / "loop" / "loop.json").read_text())
    assert set(loop["splits"]) == {"test-ood", "test-id"}
    assert "| loop |" in (tmp_path / "loop" / "loop.md").read_text()
    assert docs_v2.exists() == existed        # the quick mode never writes docs/
    # insight 3: the settling curve, the switch probe, attention settling, side by side
    side = json.loads((tmp_path / "probes" / "insight3" / "insight3.json").read_text())
    assert {"3a physics", "3a texture", "3c attention, all nodes"} <= set(side["curves"])
    # insights 1 and 2: hop cells from this run's model, the floating scenes' second hop, the
    # refraction reading's check, the four embedding moves
    hop = json.loads((tmp_path / "probes" / "multihop" / "multihop.json").read_text())
    assert {(c["split"], c["hop"]) for c in hop["cells"]} == {("test-id", 0), ("test-id", 1)}
    fl = json.loads((tmp_path / "probes" / "multihop_floating" / "multihop.json").read_text())
    assert 2 in fl["hops"]
    assert len(json.loads((tmp_path / "verifier" / "refraction_check.json").read_text())
               ["rows"]) == 4
    sep = json.loads((tmp_path / "probes" / "separation" / "separation.json").read_text())
    assert len(sep["cells"]) == 4 and sep["n_scenes"] == 1
