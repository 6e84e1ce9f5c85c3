"""`make reproduce`: data -> train -> eval -> grids -> fit -> bench -> probes -> verifier ->
speed -> LINA's loop (kept runs, the early check, tries, report) -> insight 3 (settling curve,
switch probe, attention settling, side by side) -> the loop on clips (shipped video model), and
the docs' tables and figures; each stage a ``python -m`` command (docs/RESULTS.md
"Commands", docs/MODEL.md), run in turn and timed.

    PYTHONPATH=. .venv/bin/python scripts/reproduce.py            # full (hours on 2 cores)
    QUICK=1 PYTHONPATH=. .venv/bin/python scripts/reproduce.py    # smoke run (a few minutes)

The model is the ToyWorld v2 retrain: the first model (five categories, trained from scratch by
the ``data_first`` and ``train_first`` stages) fine-tuned (``train --finetune-from``) on all
eight categories, so the first five are kept while roles, fill and place are learnt.
Everything goes under ``--out`` (full: ``runs/reproduce``, quick: ``build/reproduce_quick``);
the full run then copies the tables and figures into ``docs/results/v2/``.  Neither mode writes
``assets/`` (the retrained model and predictor are committed by hand), and the quick mode writes
nothing outside its folder.  The stage times go to ``<out>/stage_times.json``.  ``--procs``
shards the grids, ``--only`` and ``--model`` run some stages on a given model, ``--dry-run``
prints the commands only.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Collection

ROOT = Path(__file__).resolve().parents[1]
FIVE = "reflection,shadow,buoyancy,balance,scale"
VIDEO_MODEL = ROOT / "assets" / "toyworld_video"
VIDEO_PREDICTOR = ROOT / "assets" / "lina_predictor_video"
EIGHT = FIVE + ",roles,fill,place"

#: the sizes of each mode: scenes, steps, samples, grid items.  The full sizes are those of the
#: shipped model's runs (MODEL.md): 40,000 scenes and 3,000 steps for the first model (whose run
#: was stopped at 3,000 of a 3,500-step schedule, so a rerun is the recipe, not the same bits),
#: 40,000 scenes and 3,000 fine-tuning steps for the v2 one; grids of
#: 8 x 3 x 8 = 192 dev-ood items, 64 train items and 400 items (samples) per test split.
SIZES = {
    "full": dict(n_data=40000, train_steps=3000, batch=16, first_lr=1e-3, first_warmup=200,
                 first_min_lr=1e-4, lr=3e-4, warmup=100, min_lr=3e-5,
                 eval_n=50, eval_batch=20, steps=25, dev_n=8, dev_seeds="0,1,2", train_n=4,
                 test_n=25, seeds="0,1", probe_n=2, ks="0,3,6,9,12,18,25",
                 inpaint_ks="3,6,12,18", verify_n=500, speed_batch="1,8", speed_repeats=5, speed_compile=True,
                 threads=1, ckpt_every=250, categories="",
                 loop=dict(steps=25, train_n=25, train_seeds="0", n=25, seeds="0,1", epochs=40,
                           members=3, check_steps="4,6", widths="16", categories=EIGHT),
                 # insight 3(b), 3(c): dev-ood scenes per category, switch steps
                 switch=dict(n=29, ks="0,2,4,6,8,10,12,16"),
                 # insights 1 and 2: scenes per category and split (multi-hop), floating
                 # buoyancy scenes per split (its two-hop refraction), shadow scenes
                 # (separation), floating renders (the refraction reading's check)
                 insight12=dict(n=50, splits="test-id,test-ood", categories=EIGHT,
                                floating_n=300, separation_n=200, refraction_n=200),
                 # the loop on clips (shipped video model): dev-ood clips per kind to fit the
                 # clip check on, test clips per kind (the video bench's items)
                 video=dict(steps=25, fit_n=8, n=16, seeds="0", check_steps="4,6,8,10")),
    "quick": dict(n_data=16, train_steps=2, batch=2, first_lr=1e-3, first_warmup=2,
                  first_min_lr=1e-4, lr=3e-4, warmup=2, min_lr=3e-5, eval_n=2,
                  eval_batch=2, steps=2, dev_n=1, dev_seeds="0", train_n=1, test_n=1,
                  seeds="0", probe_n=1, ks="0,2", inpaint_ks="1", verify_n=2,
                  speed_batch="1", speed_repeats=1, speed_compile=False, threads=1, ckpt_every=1,
                  # eval and grids on four of the eight (a first-five one and the three
                  # relational ones): the smoke run's time goes to stages, not categories
                  categories="reflection,fill,roles,place",
                  loop=dict(steps=4, train_n=1, train_seeds="0", n=1, seeds="0", epochs=1,
                            members=1, check_steps="2", widths="16",
                            categories="reflection,roles,place"),
                  switch=dict(n=1, ks="0,1"),
                  insight12=dict(n=1, splits="test-id", categories="reflection,place",
                                 floating_n=1, separation_n=1, refraction_n=2),
                  video=dict(steps=4, fit_n=1, n=1, seeds="0", check_steps="2")),
}
#: the stages that shard over ``--procs`` processes (accelerate), each with one torch thread
SHARDED = ("grid_dev", "grid_train", "grid_test_ood", "grid_test_id")


def stages(out: Path, z: dict, model: str | None = None) -> list[tuple[str, list[str]]]:
    """(name, ``python -m lina_core`` arguments) of every stage, in order (``model``: the
    trained model the stages after ``train`` use; default: the train stage's)."""
    model, pred = model or str(out / "model" / "model"), str(out / "predictor")
    m = ["--model", model, "--threads", str(z["threads"]), "--steps", str(z["steps"])]
    cats = ["--categories", z["categories"]] if z["categories"] else []   # default: all
    grid = lambda split, n, seeds, name, *extra: (  # noqa: E731
        f"grid_{name}", ["grid", *m, "--splits", split, "--n", str(n), "--seeds", seeds,
                         *cats, "--out", str(out / f"grid_{name}"), *extra])
    return [
        # the first model: five categories from scratch (MODEL.md "Data and training")
        ("data_first", ["data", "--out", str(out / "data_first"), "--n", str(z["n_data"]),
                        "--split", "train", "--size", "32", "--categories", FIVE]),
        ("train_first", ["train", "--data", str(out / "data_first"), "--out",
                         str(out / "first"), "--steps", str(z["train_steps"]), "--batch",
                         str(z["batch"]), "--lr", str(z["first_lr"]), "--warmup",
                         str(z["first_warmup"]), "--min-lr", str(z["first_min_lr"]),
                         "--ckpt-every", str(z["ckpt_every"]), "--threads", str(z["threads"])]),
        # the shipped model: the first one fine-tuned on all eight
        ("data", ["data", "--out", str(out / "data"), "--n", str(z["n_data"]), "--split",
                  "train", "--size", "32", "--categories", EIGHT]),
        ("train", ["train", "--data", str(out / "data"), "--out", str(out / "model"),
                   "--finetune-from", str(out / "first" / "model"),
                   "--steps", str(z["train_steps"]), "--batch", str(z["batch"]),
                   "--lr", str(z["lr"]), "--warmup", str(z["warmup"]),
                   "--min-lr", str(z["min_lr"]),
                   "--ckpt-every", str(z["ckpt_every"]), "--threads", str(z["threads"])]),
        ("eval", ["eval", *m, "--n", str(z["eval_n"]), "--batch", str(z["eval_batch"]),
                  *cats, "--out", str(out / "eval")]),
        grid("dev-ood", z["dev_n"], z["dev_seeds"], "dev"),
        grid("train", z["train_n"], z["seeds"], "train"),
        ("fit", ["fit", *m, "--grid", f"{out / 'grid_dev'},{out / 'grid_train'}",
                 "--out", pred]),
        grid("test-ood", z["test_n"], z["seeds"], "test_ood"),
        grid("test-id", z["test_n"], z["seeds"], "test_id",
             "--for-bench", pred),
        ("bench", ["bench", *m, "--predictor", pred, "--grid",
                   f"{out / 'grid_test_ood'},{out / 'grid_test_id'}", "--out",
                   str(out / "bench")]),
        *[(f"probe_{name}", ["probe", name, *m, "--split", split, "--n", str(z["probe_n"]),
                             "--seeds", "0,1", "--ks", ks, "--out", str(out / "probes")])
          for name, split, ks in (("multihop", "test-ood", z["ks"]),
                                  ("disentangle", "test-id", z["ks"]),
                                  ("timing", "test-ood", z["ks"]),
                                  ("inpaint", "test-ood", z["inpaint_ks"]))],
        *module_stages(out, z, model),
        *loop_stages(out, z["loop"], model),
        *insight3_stages(out, z, model),
        *insight12_stages(out, z, model),
        *video_loop_stages(out, z["video"]),
    ]


def module_stages(out: Path, z: dict, model: str) -> list[tuple[str, list[str]]]:
    """The measurements with arguments of their own (``python -m lina_core verify-eval`` and
    ``bench-speed``): the verifier on perturbed renders (no model), and the sampler's speed on the
    trained model."""
    verify = ["verify-eval", "--n", str(z["verify_n"]), "--size", "32",
              "--seed", "5000", "--categories"]
    return [
        ("verifier", [*verify, FIVE, "--json", str(out / "verifier" / "verify_five.json")]),
        ("verifier_v2", [*verify, "roles,fill,place", "--json",
                         str(out / "verifier" / "verify_v2.json")]),
        ("speed", ["bench-speed", "--model", model, "--batch", z["speed_batch"],
                   "--repeats", str(z["speed_repeats"]), "--steps", str(z["steps"]),
                   "--out", str(out / "speed" / "speed.json"),
                   # the quick mode skips the compile (~20-60 s); test_speed compiles
                   *([] if z["speed_compile"] else ["--no-compile"])]),
    ]


def loop_stages(out: Path, z: dict, model: str) -> list[tuple[str, list[str]]]:
    """LINA's loop (``python -m lina_core bench-loop``, docs/RESULTS.md first section): kept
    baseline runs, the early check fitted on train and dev-ood beside the predictor, the tries
    of flagged test items, the report against this run's per-prompt benchmark."""
    loop = ["bench-loop", "--root", str(out / "loop_runs"), "--check",
            str(out / "predictor"), "--model", model, "--steps", str(z["steps"])]
    collect = lambda split, n, seeds: [*loop, "collect", "--split", split, "--n", str(n),  # noqa: E731
                                       "--seeds", seeds, "--categories", z["categories"]]
    return [
        ("loop_collect_train", collect("train", z["train_n"], z["train_seeds"])),
        ("loop_collect_dev", collect("dev-ood", z["n"], z["seeds"])),
        ("loop_fit_check", [*loop, "fit-check", "--epochs", str(z["epochs"]), "--members",
                            str(z["members"]), "--check-steps", z["check_steps"], "--widths",
                            z["widths"]]),
        ("loop_collect_test_ood", collect("test-ood", z["n"], z["seeds"])),
        ("loop_collect_test_id", collect("test-id", z["n"], z["seeds"])),
        ("loop_tries_test_ood", [*loop, "tries", "--split", "test-ood"]),
        ("loop_tries_test_id", [*loop, "tries", "--split", "test-id"]),
        ("loop_report", [*loop, "report", "--out", str(out / "loop"), "--bench",
                         str(out / "bench" / "bench.json")]),
    ]


def insight3_stages(out: Path, z: dict, model: str) -> list[tuple[str, list[str]]]:
    """Insight 3 three ways (docs/INSIGHTS.md): the settling curve from the loop's kept
    dev-ood runs, the switch probe on dev-ood scenes (its baselines record attention), attention
    settling read from those, and the three side by side."""
    probes, runs = out / "probes", out / "switch_runs"
    return [
        ("settling", ["settling", "--runs", str(out / "loop_runs" / "dev-ood"), "--steps",
                      str(z["loop"]["steps"]), "--out", str(probes / "settling")]),
        ("switch", ["switching", "--model", model, "--threads", str(z["threads"]), "--steps",
                    str(z["steps"]), "--split", "dev-ood", "--n", str(z["switch"]["n"]),
                    "--ks", z["switch"]["ks"], "--runs", str(runs), "--out",
                    str(probes / "switch")]),
        ("attention_settling", ["attention-settling", "--runs", str(runs), "--out",
                                str(probes / "attention_settling")]),
        ("insight3", ["insight3", "--settling", str(probes / "settling" / "settling.json"),
                      "--switch", str(probes / "switch" / "switch.json"), "--attention",
                      str(probes / "attention_settling" / "attention_settling.json"),
                      "--out", str(probes / "insight3")]),
    ]


def insight12_stages(out: Path, z: dict, model: str) -> list[tuple[str, list[str]]]:
    """Insights 1 and 2 (docs/INSIGHTS.md): physics by hop depth and caption on the test
    splits, the floating buoyancy scenes whose refraction is the second hop, the refraction
    reading checked on renders, and a colour and a light side moved in the embedding."""
    probes, q = out / "probes", z["insight12"]
    m = ["--model", model, "--threads", str(z["threads"]), "--steps", str(z["steps"])]
    hop = lambda name, *extra: ["multihop", *m, "--splits", q["splits"], *extra,  # noqa: E731
                                "--runs", str(out / f"{name}_runs"), "--out", str(probes / name)]
    return [
        ("multihop", hop("multihop", "--n", str(q["n"]), "--categories", q["categories"])),
        ("multihop_floating", hop("multihop_floating", "--n", str(q["floating_n"]),
                                  "--categories", "buoyancy", "--effect", "floating")),
        ("refraction_check", ["refraction-check", "--n", str(q["refraction_n"]), "--out",
                              str(out / "verifier" / "refraction_check.json")]),
        ("separation", ["separation", *m, "--split", "test-id", "--n", str(q["separation_n"]),
                        "--runs", str(out / "separation_runs"), "--out",
                        str(probes / "separation")]),
    ]


def video_loop_stages(out: Path, z: dict) -> list[tuple[str, list[str]]]:
    """The loop on clips (docs/RESULTS.md "the loop on clips") on the shipped video model: kept
    dev-ood clips, the clip check fitted on them beside a copy of the video predictor
    (``video_predictor``, copied by :func:`run`: nothing here writes ``assets/``), the live
    loop on each test split, the report (against the shipped per-prompt video benchmark)."""
    pred = str(out / "video_predictor")
    loop = ["bench-loop", "--root", str(out / "video_loop_runs"), "--model",
            str(VIDEO_MODEL), "--steps", str(z["steps"])]
    video = lambda stage, *extra: [*loop, "video", stage, "--predictor", pred, *extra]  # noqa: E731
    return [
        ("video_collect_dev", [*loop, "collect", "--split", "dev-ood", "--n", str(z["fit_n"]),
                               "--seeds", "0"]),
        ("video_fit", video("fit", "--image-check", str(out / "predictor"), "--check-steps",
                            z["check_steps"])),
        *[(f"video_run_{s.replace('-', '_')}", video("run", "--split", s, "--n", str(z["n"]),
                                                     "--seeds", z["seeds"]))
          for s in ("test-ood", "test-id")],
        ("video_report", video("report", "--out", str(out / "loop"))),
    ]


#: the tables and figures a full run copies into docs/results/v2 (from under --out)
DOC_FILES = ("eval/eval.md", "eval/eval.json", "eval/samples_grid.png", "bench/bench.md",
             "bench/bench.json",
             "model/loss.png", "stage_times.json")


def command(name: str, args: list[str], procs: int) -> list[str]:
    """The command line of one stage (a grid over ``procs`` accelerate processes)."""
    if name in SHARDED and procs > 1:
        return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
                "--num_processes", str(procs), "--num_machines", "1", "--mixed_precision",
                "no", "--dynamo_backend", "no", "-m", "lina_core", *args]
    return [sys.executable, "-m", "lina_core", *args]


def run_in_process(name: str, args: list[str], env: dict[str, str]) -> int:
    """One stage run by calling its entry point's ``main(args)`` in this process, with the
    stage's environment, working folder and torch thread count, all put back afterwards: what
    the command line runs, without a fresh interpreter importing torch (the tests' smoke run)."""
    import importlib
    module, argv = "lina_core.__main__", args
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    import torch
    threads = torch.get_num_threads()
    os.environ.update(env)
    os.chdir(ROOT)
    try:
        code = importlib.import_module(module).main(argv)
    except SystemExit as exc:               # argparse's errors; a main that exits
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        torch.set_num_threads(threads)
    return code or 0


def run(out: Path, quick: bool, dry: bool = False, log=print, procs: int = 1,
        only: list[str] | None = None, model: str | None = None,
        in_process: Collection[str] = ()) -> dict[str, float]:
    """Run every stage (or those in ``only``; or print them); the seconds each took, merged
    into stage_times.json (a stage run again replaces its time).  ``in_process``: stages run
    by :func:`run_in_process` instead of a subprocess (not a grid sharded over ``procs``)."""
    z = SIZES["quick" if quick else "full"]
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    if quick:       # no torch.compile (its compile time would dwarf a smoke run's work)
        env["LINA_FAST"] = "0"
    todo = stages(out, z, model)
    for sub in ("verifier", "speed"):
        (out / sub).mkdir(exist_ok=True)
    if not dry and not (out / "video_predictor").is_dir():   # the clip check is fitted beside
        shutil.copytree(VIDEO_PREDICTOR, out / "video_predictor")
    if only:
        unknown = sorted(set(only) - {n for n, _ in todo})
        if unknown:
            raise SystemExit(f"--only: {unknown} are not stages; stages: {[n for n, _ in todo]}")
        todo = [(n, a) for n, a in todo if n in only]
    st_file = out / "stage_times.json"
    times: dict[str, float] = {}
    for name, args in todo:
        cmd = command(name, args, procs)
        log(f"[{name}] {' '.join(cmd[1:])}", flush=True)
        if dry:
            continue
        t0 = time.perf_counter()
        if name in in_process and not (name in SHARDED and procs > 1):
            code = run_in_process(name, args, env)
        else:
            code = subprocess.run(cmd, cwd=ROOT, env=env).returncode
        times[name] = round(time.perf_counter() - t0, 2)
        # read again: another invocation may have written meanwhile; other keys are kept
        st = json.loads(st_file.read_text()) if st_file.is_file() else {}
        st.update(mode="quick" if quick else "full", sizes=z, procs=procs, model=model)
        st.setdefault("seconds", {})[name] = times[name]
        st_file.write_text(json.dumps(st, indent=1))
        if code != 0:
            raise SystemExit(f"reproduce: stage {name} failed (exit {code})")
    if not quick and not dry:
        docs = ROOT / "docs" / "results" / "v2"
        docs.mkdir(parents=True, exist_ok=True)
        for f in DOC_FILES:
            if (out / f).is_file():
                shutil.copy(out / f, docs / Path(f).name)
        if (out / "probes").is_dir():
            shutil.copytree(out / "probes", docs / "probes", dirs_exist_ok=True)
        for f in ("loop.md", "loop.json", "check_card.md", "loop_video.md",
                  "loop_video.json"):                              # as docs/results/v2: anew
            if (out / "loop" / f).is_file():
                shutil.copy(out / "loop" / f, ROOT / "docs" / "results" / "loop" / f)
        for sub in ("verifier", "speed"):
            for f in sorted((out / sub).glob("*.json")):
                shutil.copy(f, docs / f.name)
        grid_tables(out, docs)
    return times


def grid_tables(out: Path, docs: Path) -> None:
    """Every grid's candidate table (each candidate's rates per split and category) as
    ``<docs>/grid_<name>.md``."""
    from lina_core.bench.methods import candidate_table
    from lina_core.grid import read_rows
    for g in sorted(out.glob("grid_*")):
        rows = read_rows(g) if g.is_dir() else []
        if rows:
            (docs / f"{g.name}.md").write_text(
                f"# Candidate grid `{g.name}` (`make reproduce`, {out.name})\n\n"
                + candidate_table(rows) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", default=bool(os.environ.get("QUICK")),
                    help="the smoke mode (default when QUICK is set)")
    ap.add_argument("--out", default=None, help="output folder (full: runs/reproduce, "
                                                "quick: build/reproduce_quick)")
    ap.add_argument("--dry-run", action="store_true", help="print the commands only")
    ap.add_argument("--procs", type=int, default=int(os.environ.get("PROCS", "1")),
                    help="processes for the grid stages (accelerate; one torch thread each)")
    ap.add_argument("--only", default="", help="comma-separated stages to run (default: all)")
    ap.add_argument("--model", default=None, help="the trained model the stages after train "
                    "use (default: the train stage's, <out>/model/model)")
    a = ap.parse_args(argv)
    out = Path(a.out or ROOT / ("build/reproduce_quick" if a.quick else "runs/reproduce"))
    times = run(out, a.quick, a.dry_run, procs=a.procs,
                only=[x for x in a.only.split(",") if x], model=a.model)
    print(json.dumps(times, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
