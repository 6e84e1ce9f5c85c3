"""LINA's loop end to end: baseline runs with previews, the learned check, the recorded tries,
the policy chosen on dev-ood, the benchmark on test-ood and test-id.

    python scripts/loop_bench.py collect --split dev-ood [--n 25 --seeds 0,1]
    python scripts/loop_bench.py fit-check            # on runs/check/{train,dev-ood}
    python scripts/loop_bench.py tries --split test-ood [--shard 0 --shards 1]
    python scripts/loop_bench.py report               # docs/results/loop/{loop.json,loop.md}

Every stage is resumable and writes under ``--root`` (default ``runs/check``); ``fit-check``
writes the shipped check to ``--check`` (default ``assets/lina_predictor``, beside the
predictor whose candidate ranking the loop uses).  Nothing reported on test-ood (or test-id) is
used to fit the check or to choose its step, threshold or budget: the check and its step are
fitted and chosen by cross-validation on train and dev-ood runs, the loop's threshold is the
check's (out-of-fold, same runs), its budget the default two tries.  One torch thread per process (run two processes on two cores).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SPLITS = ("train", "dev-ood", "test-ood", "test-id")
FIT_SPLITS = ("train", "dev-ood")


def _pipe():
    import torch
    torch.set_num_threads(1)
    from lina_core.pipelines import registry
    return registry.load("toyworld")


def cmd_collect(a):
    from lina_core import check_data, grid
    pipe = _pipe()
    items = grid.work_items([a.split], a.n, [int(s) for s in a.seeds.split(",")],
                            grid.categories(pipe))[a.shard::a.shards]
    check_data.collect(pipe, items, Path(a.root) / a.split, progress=print)


def cmd_fit_check(a):
    from lina_core.check import fit_check
    pipe = _pipe()
    ck, rep = fit_check(pipe, [Path(a.root) / s for s in FIT_SPLITS], a.check,
                        epochs=a.epochs, steps_to_try=tuple(int(x) for x in a.steps.split(",")),
                        widths=tuple(int(x) for x in a.widths.split(",")))
    print(json.dumps({k: rep[k] for k in ("check_step", "width", "threshold", "cv_auroc",
                                          "training")}, indent=1))


def cmd_tries(a):
    from lina_core.bench_loop import record_split
    from lina_core.check import EarlyCheck
    from lina_core.lina import Predictor
    pipe = _pipe()
    record_split(pipe, Path(a.root) / a.split, Path(a.root) / f"tries_{a.split}",
                 EarlyCheck.load(a.check), Predictor.load(a.check), shard=a.shard,
                 shards=a.shards, seeds={int(s) for s in a.seeds.split(",")} if a.seeds else None)


def cmd_report(a):
    from lina_core.check_report import write_report
    write_report(_pipe(), Path(a.root), Path(a.check), Path(a.out))
    print((Path(a.out) / "loop.md").read_text())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=str(ROOT / "runs" / "check"))
    ap.add_argument("--check", default=str(ROOT / "assets" / "lina_predictor"))
    sub = ap.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("collect")
    q.add_argument("--split", choices=SPLITS, required=True)
    q.add_argument("--n", type=int, default=25)
    q.add_argument("--seeds", default="0,1")
    q.add_argument("--shard", type=int, default=0)
    q.add_argument("--shards", type=int, default=1)
    q.set_defaults(fn=cmd_collect)
    q = sub.add_parser("fit-check")
    q.add_argument("--epochs", type=int, default=40)
    q.add_argument("--steps", default="4,6,8", help="check steps to choose among (dev-ood CV)")
    q.add_argument("--widths", default="16,32")
    q.set_defaults(fn=cmd_fit_check)
    q = sub.add_parser("tries")
    q.add_argument("--split", choices=SPLITS, required=True)
    q.add_argument("--seeds", default=None, help="only items of these replicate seeds")
    q.add_argument("--shard", type=int, default=0)
    q.add_argument("--shards", type=int, default=1)
    q.set_defaults(fn=cmd_tries)
    q = sub.add_parser("report")
    q.add_argument("--out", default=str(ROOT / "docs" / "results" / "loop"))
    q.set_defaults(fn=cmd_report)
    a = ap.parse_args(argv)
    a.fn(a)


if __name__ == "__main__":
    main()
