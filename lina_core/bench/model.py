"""Sampling speed of a ToyWorld model: images (or clips) per second at batch 1 and 8 for 25
steps, and peak memory.

``python -m lina_core bench-model [--model DIR] [--video [--frames 8]] [--repeats 3]``; prints a
markdown table.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m lina_core bench-model",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--model")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--video", action="store_true", help="the shipped ToyWorld video model")
    ap.add_argument("--frames", type=int, default=8)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    from ..loading import load_model
    pipe = load_model(a.model, video=a.video)
    video = type(pipe).__name__ == "ToyWorldVideoPipeline"
    clip = {"num_frames": a.frames} if video else {}
    unit = f"clips ({a.frames} frames)" if video else "images"
    prompt = "a large red ball on a small round mirror"
    pipe(prompt, num_inference_steps=2, output_type="np", **clip)   # warm-up
    rows = []
    for batch in (1, 8):
        times = []
        for r in range(a.repeats):
            g = [torch.Generator().manual_seed(r * 100 + i) for i in range(batch)]
            t0 = time.perf_counter()
            pipe([prompt] * batch, num_inference_steps=a.steps, guidance_scale=3.0,
                 generator=g, output_type="np", **clip)
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        rows.append((batch, med, batch / med))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"| batch | seconds per call ({a.steps} steps, CFG 3, median of {a.repeats}) "
          f"| {unit}/s |")
    print("|---|---|---|")
    for b, s, ips in rows:
        print(f"| {b} | {s:.2f} | {ips:.2f} |")
    print(f"\npeak resident memory of the process: {peak_mb:.0f} MB; torch threads: {a.threads};"
          f" device: cpu")

