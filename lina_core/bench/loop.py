"""``python -m lina_core bench-loop``: LINA's loop measured.  Collect the kept baseline runs,
fit the early check, record the tries (:mod:`lina_core.bench.loop_replay`), replay them per policy and
write the report; ``video ...`` does the same on clips (:mod:`lina_core.bench.loop_video`).
The library pieces live in the modules named; this one only reads arguments and calls them, so
nothing imports it back."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..check_files import load_check
from ..loading import load_model
from ..lina import Predictor
from .loop_replay import record_split

# ------------------------------------------------------------------------------ the command
SPLITS = ("train", "dev-ood", "test-ood", "test-id")
FIT_SPLITS = ("train", "dev-ood")      #: the check is fitted and chosen on these only


def _pipe(a: Any) -> Any:
    import torch
    torch.set_num_threads(a.threads)
    return load_model(a.model)


def cmd_collect(a: Any) -> None:
    from .. import check_data, grid
    pipe = _pipe(a)
    known = grid.categories(pipe)
    cats = tuple(a.categories.split(",")) if a.categories else known
    if unknown := sorted(set(cats) - set(known)):
        raise ValueError(f"--categories: {unknown} not among the model's {list(known)}")
    items = grid.work_items([a.split], a.n, [int(s) for s in a.seeds.split(",")],
                            cats)[a.shard::a.shards]
    check_data.collect(pipe, items, Path(a.root) / a.split, steps=a.steps, progress=print)


def cmd_fit_check(a: Any) -> None:
    from ..check import fit_check
    _, rep = fit_check(_pipe(a), [Path(a.root) / s for s in FIT_SPLITS], a.check,
                       epochs=a.epochs, steps=a.steps, members=a.members,
                       steps_to_try=tuple(int(x) for x in a.check_steps.split(",")),
                       widths=tuple(int(x) for x in a.widths.split(",")))
    print(json.dumps({k: rep[k] for k in ("check_step", "width", "threshold", "cv_auroc",
                                          "training")}, indent=1))


def cmd_tries(a: Any) -> None:
    record_split(_pipe(a), Path(a.root) / a.split, Path(a.root) / f"tries_{a.split}",
                 load_check(a.check), Predictor.load(a.check), shard=a.shard,
                 shards=a.shards, steps=a.steps,
                 seeds={int(s) for s in a.seeds.split(",")} if a.seeds else None)


def cmd_schedule(a: Any) -> None:
    from .. import loop_schedule as LS
    out = Path(a.root) / f"schedule_{a.split}"
    rows = LS.measure(_pipe(a), Path(a.root) / a.split, out, load_check(a.check),
                      Predictor.load(a.check), rho=a.rho, steps=a.steps)
    s = LS.summary(rows)
    (out / "summary.json").write_text(json.dumps(s, indent=1))
    (out / "schedule.md").write_text(LS.markdown(s, a.rho) + "\n")
    print(LS.markdown(s, a.rho))


def cmd_report(a: Any) -> None:
    from .loop_report import SHIPPED_BENCH, write_report
    write_report(_pipe(a), Path(a.root), Path(a.check), Path(a.out),
                 bench=Path(a.bench) if a.bench else SHIPPED_BENCH)
    print((Path(a.out) / "loop.md").read_text())


def cmd_video(a: Any) -> None:
    """The loop on clips (:mod:`lina_core.bench.loop_video`): ``fit`` the clip check on kept
    train / dev-ood clips, ``run`` the live loop on a test split, ``report``."""
    from . import loop_video as V
    root = Path(a.root)
    if a.stage == "report":
        V.report(Path(a.predictor), root, Path(a.out), Path(a.bench) if a.bench
                 else V.SHIPPED_BENCH)
        print((Path(a.out) / "loop_video.md").read_text())
        return
    import torch
    torch.set_num_threads(a.threads)
    pipe = load_model(a.model, video=True)
    if a.stage == "fit":
        rep = V.fit(pipe, [root / s for s in FIT_SPLITS if (root / s).is_dir()],
                    Path(a.image_check), Path(a.predictor),
                    tuple(int(x) for x in a.check_steps.split(",")))
        print(json.dumps(rep["chosen"], indent=1))
        return
    if a.split in FIT_SPLITS:
        raise ValueError("--split: the loop on clips is measured on test-ood and test-id")
    V.run_split(pipe, load_check(a.predictor), Predictor.load(a.predictor), a.split, a.n,
                [int(s) for s in a.seeds.split(",")], root / f"video_{a.split}", a.shard,
                a.shards, bound=not a.no_bound, steps=a.steps)


def parser() -> Any:
    """``python -m lina_core bench-loop {collect,fit-check,tries,schedule,report,video}``: the
    loop's benchmark end to end, every stage resumable under ``--root``."""
    import argparse
    root = Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(prog="python -m lina_core bench-loop",
                                 description="LINA's loop: kept baseline runs, the early check, "
                                 "the recorded tries, the report")
    ap.add_argument("--root", default=str(root / "runs" / "check"),
                    help="where the kept runs and tries go (default runs/check)")
    ap.add_argument("--check", default=str(root / "assets" / "lina_predictor"),
                    help="the predictor's folder; fit-check writes the check beside it")
    ap.add_argument("--model", default=None, help="a ToyWorld model folder (default: shipped)")
    ap.add_argument("--steps", type=int, default=25, help="denoising steps of every run")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (one per process)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("collect", help="keep baseline runs with their previews")
    q.add_argument("--split", choices=SPLITS, required=True)
    q.add_argument("--n", type=int, default=25, help="items per category")
    q.add_argument("--seeds", default="0,1", help="replicate seeds, comma-separated")
    q.add_argument("--categories", default=None,
                   help="comma-separated categories (default: every one the model knows)")
    q.add_argument("--shard", type=int, default=0)
    q.add_argument("--shards", type=int, default=1)
    q.set_defaults(fn=cmd_collect)
    q = sub.add_parser("fit-check", help="fit the early check on train and dev-ood runs")
    q.add_argument("--epochs", type=int, default=40)
    q.add_argument("--members", type=int, default=3, help="networks in the ensemble")
    q.add_argument("--check-steps", default="4,6,8",
                   help="check steps to choose among (cross-validation on train and dev-ood)")
    q.add_argument("--widths", default="16,32")
    q.set_defaults(fn=cmd_fit_check)
    q = sub.add_parser("tries", help="record the tries of the items a check flags")
    q.add_argument("--split", choices=SPLITS, required=True)
    q.add_argument("--seeds", default=None, help="only items of these replicate seeds")
    q.add_argument("--shard", type=int, default=0)
    q.add_argument("--shards", type=int, default=1)
    q.set_defaults(fn=cmd_tries)
    q = sub.add_parser("schedule", help="the loop's first try under the uniform and the "
                       "reallocated schedule, on failing runs of a fitting split (issue 24.4)")
    q.add_argument("--split", choices=FIT_SPLITS, default="dev-ood")
    q.add_argument("--rho", type=float, default=0.6,
                   help="share of steps above the structure split (uniform: 0.4)")
    q.set_defaults(fn=cmd_schedule)
    q = sub.add_parser("report", help="replay the loop's policy; write loop.md and the card")
    q.add_argument("--out", default=str(root / "docs" / "results" / "loop"))
    q.add_argument("--bench", default=None, help="the per-prompt benchmark's bench.json "
                   "(default: the shipped docs/results/v2/bench.json)")
    q.set_defaults(fn=cmd_report)
    q = sub.add_parser("video", help="the loop on clips (issue 24.5): fit the clip check on "
                       "kept train / dev-ood clips (collect with --model assets/toyworld_video), "
                       "run the live loop on a test split, report")
    q.add_argument("stage", choices=("fit", "run", "report"))
    q.add_argument("--split", choices=SPLITS, default="test-ood")
    q.add_argument("--n", type=int, default=16, help="clips per clip kind (the video bench's)")
    q.add_argument("--seeds", default="0", help="replicate seeds, comma-separated")
    q.add_argument("--shard", type=int, default=0)
    q.add_argument("--shards", type=int, default=1)
    q.add_argument("--no-bound", action="store_true",
                   help="skip the verifier-as-check bound's extra tries")
    q.add_argument("--check-steps", default=",".join(map(str, (4, 6, 8, 10))))
    q.add_argument("--image-check", default=str(root / "assets" / "lina_predictor"),
                   help="the image model's early check, whose nets the clip check reads with")
    q.add_argument("--predictor", default=str(root / "assets" / "lina_predictor_video"),
                   help="the video model's predictor; fit writes the clip check beside it")
    q.add_argument("--out", default=str(root / "docs" / "results" / "loop"))
    q.add_argument("--bench", default=None, help="the per-prompt video benchmark's json "
                   "(default: the shipped docs/results/bench_video.json)")
    q.set_defaults(fn=cmd_video)
    return ap


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    if a.cmd in ("collect", "tries", "video") and not 0 <= a.shard < a.shards:
        parser().error(f"--shard: {a.shard} must be in [0, --shards={a.shards})")
    try:
        a.fn(a)
    except (ValueError, FileNotFoundError) as exc:   # input errors, named by their field: 2
        import sys
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
