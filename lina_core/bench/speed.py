"""How close ToyWorld sampling comes to the machine's matrix rate, old sampler path vs new.

``python -m lina_core bench-speed [--video] [--batch 1] [--repeats 5] [--threads 1] [--out F]``
(``--profile``: instead, where the new path's time goes, by operator; ``--no-compile``: the new
path without its compile, for a smoke run: the compile takes ~20-60 s on 2 cores)

In one run: the machine's fp32 matrix-product rate (1024 x 1024, 1 and 2 threads); the floating
point work of one full sample (``torch.utils.flop_counter``); the old path (the pipeline as
loaded with ``LINA_FAST=0``) and the new one (:mod:`lina_core.speed`: temporal convolutions as
Conv2d, the UNet compiled) timed in interleaved repetitions after the new path's compile; the
achieved GFLOP/s of each and its share of the 1-thread matrix rate; and the largest pixel
difference between the two paths' images from the same seed.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import time
from typing import Any

import numpy as np
import torch

from ..engine import np_images

PROMPT = "a large red ball on a small round mirror"
VIDEO_PROMPT = "a red ball rolls onto a mirror"


def matmul_rate(threads: int, n: int = 1024, repeats: int = 7) -> float:
    """GFLOP/s of an n x n fp32 matrix product on ``threads`` threads (best of ``repeats``)."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    torch.set_num_threads(old)
    return 2 * n ** 3 / best / 1e9


def sampler(pipe: Any, batch: int, steps: int, frames: int | None):
    """One full sample of ``batch`` prompts from fixed seeds, as uint8 images or clips."""
    extra = {"num_frames": frames} if frames else {}
    prompt = VIDEO_PROMPT if frames else PROMPT

    def run() -> np.ndarray:
        g = [torch.Generator().manual_seed(i) for i in range(batch)]
        with torch.no_grad():
            r = pipe([prompt] * batch, num_inference_steps=steps, guidance_scale=3.0,
                     generator=g, output_type="np", **extra)
        return np_images(r.frames if frames else r.images)
    return run


def flops(run) -> float:
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as fc:
        run()
    return float(fc.get_total_flops())


def paths(video: bool, model: str | None = None, compile: bool = True) -> tuple[Any, Any]:
    """The old path (loaded with the speed-ups off) and a copy with them on (``model``: an
    image model folder; default the shipped one; ``compile``: the UNet compiled too)."""
    from .. import speed
    from ..loading import load_model
    os.environ[speed.FLAG] = "0"
    old = load_model(None if video else model, video=video)
    os.environ[speed.FLAG] = "1"
    new = copy.deepcopy(old)
    speed.apply(new)
    if compile:
        speed.compile_denoiser(new)
    return old, new


def measure(video: bool, batch: int, steps: int, repeats: int, frames: int,
            model: str | None = None, compile: bool = True) -> dict[str, Any]:
    old, new = paths(video, model, compile)
    f = frames if video else None
    run_old, run_new = sampler(old, batch, steps, f), sampler(new, batch, steps, f)
    work = flops(run_old)
    t0 = time.perf_counter()
    im_new = run_new()                                   # compiles
    compile_s = time.perf_counter() - t0
    im_old = run_old()
    times: dict[str, list[float]] = {"old": [], "new": []}
    for _ in range(repeats):
        for name, run in (("old", run_old), ("new", run_new)):
            t0 = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"kind": "video" if video else "image", "batch": batch, "steps": steps,
            "frames": f, "gflop": work / 1e9, "compiled": compile,
            "compile_s": compile_s if compile else 0.0,
            "old_s": med["old"], "new_s": med["new"], "ratio": med["new"] / med["old"],
            "old_gflops": work / med["old"] / 1e9, "new_gflops": work / med["new"] / 1e9,
            "max_pixel_diff": int(np.abs(im_new.astype(int) - im_old.astype(int)).max()),
            "times": times}


def profile(video: bool, batch: int, steps: int, frames: int, model: str | None = None,
            rows: int = 12, compile: bool = True) -> str:
    """The new path's top operators by self time over one full sample (after its compile and a
    warm-up sample), as the torch profiler's table: where the time goes that is left."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile
    _, new = paths(video, model, compile)
    run = sampler(new, batch, steps, frames if video else None)
    run(), run()
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        run()
        wall = time.perf_counter() - t0
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)
    return f"one {'clip' if video else 'image'} sample, batch {batch}: {wall:.3f} s under " \
           f"the profiler, {flops(run) / 1e9:.1f} GFLOP; fp32 matrix product in the same " \
           f"run {matmul_rate(torch.get_num_threads()):.1f} GFLOP/s\n{table}"


def report(res: dict[str, Any]) -> str:
    mm1 = res["matmul_1t_gflops"]
    lines = [f"fp32 1024^3 matrix product: {mm1:.1f} GFLOP/s on 1 thread, "
             f"{res['matmul_2t_gflops']:.1f} on 2; sampling on {res['threads']} thread(s)", "",
             "| model | batch | GFLOP per sample | old s | new s | new / old | old GFLOP/s "
             "(share of 1-thread matmul) | new GFLOP/s (share) | compile s | max pixel diff |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        lines.append(f"| {r['kind']} | {r['batch']} | {r['gflop']:.1f} | {r['old_s']:.2f} | "
                     f"{r['new_s']:.2f} | **{r['ratio']:.2f}** | {r['old_gflops']:.1f} "
                     f"({r['old_gflops'] / mm1:.2f}) | {r['new_gflops']:.1f} "
                     f"({r['new_gflops'] / mm1:.2f}) | "
                     f"{format(r['compile_s'], '.0f') if r.get('compiled', True) else 'off'} | "
                     f"{r['max_pixel_diff']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m lina_core bench-speed",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--video", action="store_true", help="also the video model")
    ap.add_argument("--only-video", action="store_true")
    ap.add_argument("--batch", default="1", help="comma-separated batch sizes")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", help="write the figures as JSON here too")
    ap.add_argument("--model", help="the image model folder (default: the shipped one)")
    ap.add_argument("--profile", action="store_true",
                    help="instead: the new path's top operators over one sample (--video: a clip)")
    ap.add_argument("--no-compile", action="store_true",
                    help="the new path without compiling the UNet (a quicker smoke run)")
    a = ap.parse_args(argv)
    if a.profile:
        torch.set_num_threads(a.threads)
        print(profile(a.video or a.only_video, int(a.batch.split(",")[0]), a.steps, a.frames,
                      a.model, compile=not a.no_compile))
        return
    res: dict[str, Any] = {"matmul_1t_gflops": matmul_rate(1), "matmul_2t_gflops": matmul_rate(2),
                           "threads": a.threads, "rows": []}
    torch.set_num_threads(a.threads)
    kinds = ([] if a.only_video else [False]) + ([True] if a.video or a.only_video else [])
    for video in kinds:
        for b in (int(x) for x in a.batch.split(",")):
            res["rows"].append(measure(video, b, a.steps, a.repeats, a.frames, a.model,
                                       compile=not a.no_compile))
            print(report(res), flush=True)
    if a.out:
        with open(a.out, "w") as fh:
            json.dump(res, fh, indent=1)
