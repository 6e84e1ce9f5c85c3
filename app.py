"""LINA explorer: build the Gradio app and launch it.

    python app.py [--model KEY | --model-dir PATH [--model-kind KIND]] [--host H] [--port P]
                  [--runs-dir DIR] [--private-runs] [--no-cache-presets] [--threads N]

The default model is ToyWorld (assets/toyworld; else the folder in $LINA_MODEL_DIR; else a tiny
random-weight model so the app still starts). Bad flags exit with status 2 and one line.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

KINDS = ("toyworld", "sd", "sdxl", "sd3", "flux", "wan", "cogvideox")


def infer_kind(path: str) -> str:
    """The pipeline family of a local diffusers folder, from model_index.json's _class_name
    (the adapters' table decides)."""
    from lina_core.pipelines.registry import kind_of_folder
    try:
        kind = kind_of_folder(path)
    except ValueError as exc:
        raise ValueError(f"--model-kind: cannot infer the kind of {path} ({exc}); pass one of "
                         f"{list(KINDS)}") from None
    if kind not in KINDS:
        raise ValueError(f"--model-kind: {path} is a {kind} model, which the picker does not "
                         f"offer; pass one of {list(KINDS)}")
    return kind


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from lina_core.pipelines.registry import ALLOWLIST
    p = argparse.ArgumentParser(prog="app.py", description="LINA explorer (Gradio app)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--model", default="toyworld", choices=sorted(ALLOWLIST),
                   help="the default model (an allowlist key)")
    g.add_argument("--model-dir", help="a local diffusers model folder to add and use")
    p.add_argument("--model-kind", choices=KINDS, help="its pipeline family (default: inferred)")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                   help="default: $GRADIO_SERVER_NAME or 127.0.0.1")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)),
                   help="default: $GRADIO_SERVER_PORT or 7860")
    p.add_argument("--runs-dir", default="runs", help="where runs are saved (default ./runs)")
    p.add_argument("--private-runs", action="store_true", default=None,
                   help="each browser session sees only its own runs (default: on in a Space)")
    p.add_argument("--no-cache-presets", action="store_true",
                   help="do not cache the LINA talk presets")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    return p.parse_args(argv)


def build_from_args(args: argparse.Namespace):
    """The demo the command line asks for (a --model-dir folder registered and made the
    default), not launched. ModelUnavailable, ValueError or OSError for a bad flag or folder."""
    from lina_core.pipelines.registry import register_local
    key = args.model
    if args.model_dir:
        if not (Path(args.model_dir) / "model_index.json").is_file():
            raise ValueError(f"--model-dir: {args.model_dir} has no model_index.json "
                             f"(not a diffusers model folder)")
        kind = args.model_kind or infer_kind(args.model_dir)
        key = register_local(args.model_dir, kind).key
    if not 1 <= args.port <= 65535:
        raise ValueError(f"--port: {args.port} is out of range; allowed [1, 65535]")
    if args.threads is not None and not 1 <= args.threads <= 256:
        raise ValueError(f"--threads: {args.threads} is out of range; allowed [1, 256]")
    from app import build_demo
    return build_demo(model=key, runs_dir=args.runs_dir, private_runs=args.private_runs,
                      cache_presets=not args.no_cache_presets, threads=args.threads)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from lina_core.pipelines.registry import ModelUnavailable
    try:
        demo = build_from_args(args)
    except (ModelUnavailable, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from app import launch_kwargs
    demo.launch(server_name=args.host, server_port=args.port, **launch_kwargs())
    return 0

if __name__ == "__main__":
    sys.exit(main())
