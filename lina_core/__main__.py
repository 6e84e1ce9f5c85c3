"""Command line: ``python -m lina_core <command> ...``, every runnable command of the project
in one place: the pipeline's (data, render, train, generate, eval, probe, settling, lina, fit,
grid, bench, golden), defined here, and the measurements and tools of :data:`MODULE_COMMANDS`,
each its module's own ``main(argv)`` (``python -m lina_core <command> --help``).

Bad input exits with status 2 and one line naming the field and the allowed range.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .loading import load_any, load_model  # noqa: F401  (tests and scripts read them here)


#: the commands that are a module's ``main(argv)``, its arguments and help its own: a command is
#: one module with a ``main`` and one line here.  The modules import nothing from this one
#: (:mod:`.loading` holds the model loading they share), so there is no import circle.
MODULE_COMMANDS = {
    "verify-eval": ("toyworld.verify_eval", "the verifier on perturbed renders and on "
                    "counterfactual wrong renders, per category and question"),
    "bench-loop": ("bench.loop", "LINA's loop: kept baseline runs, the early check, the tries it "
                   "could make, replayed per policy; on images and clips"),
    "bench-engine": ("bench.engine", "what the trajectory cache saves, and what the engine "
                     "costs over a plain pipeline call"),
    "bench-model": ("bench.model", "a ToyWorld model's images (or clips) per second and peak "
                    "memory"),
    "bench-speed": ("bench.speed", "ToyWorld sampling against the machine's matrix rate, old "
                    "sampler path vs new"),
    "bench-limits": ("bench.limits", "parse and graph-figure time at 1x-32x of a prompt size"),
    "bench-app": ("bench.app", "the app: start to ready, and click to a baseline + LINA pair"),
    "load-test": ("bench.load", "the app's queue under concurrent clients that leave or cancel"),
    "device-check": ("bench.device", "the engine's contract tests and timings on a device"),
    "attention-iou": ("insights.attention_iou", "when attention settles on each node: IoU of "
                      "attention masks against the renderer's"),
    "probe-tables": ("insights.tables", "markdown tables of probe results, for the docs"),
    "relational-report": ("bench.relational", "roles, fill, place on a model: the test-id -> "
                          "test-ood gap and fill's error toward the prior"),
    "choose-presets": ("choose_presets", "the LINA tab's talk presets, measured on the dev-ood "
                       "grid"),
    "multihop": ("insights.multihop", "insight 1: physics by hop depth, implicit vs explicit "
                 "caption, test-id vs test-ood (resumable, shardable)"),
    "separation": ("insights.separation", "insight 2: a texture and a physics factor moved in the "
                   "prompt embedding (token swaps, fitted directions), each judged (resumable)"),
    "refraction-check": ("toyworld.refraction", "the two-hop refraction reading on renders drawn "
                         "with and without the shift"),
    "insight3": ("insights.insight3", "insight 3 three ways side by side: the settling curve, "
                 "the switch probe, attention settling (reads their JSONs)"),
}


def _ints(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")


def cmd_data(a: argparse.Namespace) -> None:
    if a.frames:
        from .toyworld.video_data import write_video_split
        out = write_video_split(a.out, a.split, a.n, frames=a.frames, size=a.size, start=a.start)
        print(f"wrote {a.n} {a.split} clips of {a.frames} frames to {out}")
        return
    from .toyworld.data import write_split
    cats = tuple(c for c in a.categories.split(",") if c) if a.categories else None
    out = write_split(a.out, a.split, a.n, size=a.size, start=a.start, categories=cats,
                      fill_more_share=a.fill_more_share)
    print(f"wrote {a.n} {a.split} samples to {out}")


def cmd_render(a: argparse.Namespace) -> None:
    from PIL import Image
    from .csg import CausalSceneGraph, GraphError, from_prompt
    from .limits import read_json_file
    from .toyworld.render import render
    if a.graph:   # size and nesting checked before the file is read or parsed
        g = CausalSceneGraph.from_dict(read_json_file(a.graph, "graph JSON", error=GraphError))
    else:
        parsed = from_prompt(a.prompt)
        if parsed.unknown_words:
            print(f"warning: words not understood: {parsed.unknown_words}", file=sys.stderr)
        g = parsed.graph
    r = render(g, a.size)
    Image.fromarray(r.image).save(a.out)
    print(f"wrote {a.out} ({a.size}x{a.size}); nodes: {sorted(r.masks)}")


def cmd_train(a: argparse.Namespace) -> None:
    from .train import TrainConfig, train
    cfg = TrainConfig(data=a.data, out=a.out, steps=a.steps, batch=a.batch, lr=a.lr,
                      resolution=a.resolution, seed=a.seed, ckpt_every=a.ckpt_every,
                      threads=a.threads, warmup=a.warmup, min_lr=a.min_lr,
                      init_from=a.init_from, finetune_from=a.finetune_from)
    print(f"model (EMA weights) in {train(cfg)}")


def cmd_generate(a: argparse.Namespace) -> None:
    from PIL import Image
    from . import engine
    from .interventions import InterventionSpec, SpecError
    from .limits import MAX_RESOLUTION, MAX_STEPS, MIN_STEPS, check_int, read_json_file
    if a.spec:    # size and nesting checked before the file is read or parsed
        spec = InterventionSpec.from_dict(read_json_file(a.spec, "spec", error=SpecError))
    else:
        check_int("steps", a.steps, MIN_STEPS, MAX_STEPS)
        spec = InterventionSpec(prompt=a.prompt, steps=a.steps, seed=a.seed,
                                guidance_scale=a.guidance).validate()
    out = Path(a.out)
    if a.video:
        from .toyworld.video_data import check_frames
        check_frames(a.frames)
        if out.suffix.lower() not in (".mp4", ".webm", ".gif"):
            raise ValueError(f"--out: {out.name!r} must end in .mp4, .webm or .gif for a clip")
    size = {} if a.size is None else {"height": check_int("size", a.size, 8, MAX_RESOLUTION),
                                      "width": a.size}
    # limits are checked before any model work
    pipe = load_any(a.model_dir) if a.model_dir else load_model(a.model, a.tiny, a.video)
    frames = a.frames if a.video else None
    if spec.inpaint is not None:      # against its baseline, as lina_core.compare decides
        from .compare import compare
        r = compare(pipe, spec, frames=frames, **size)[2]
    else:
        r = engine.run(pipe, spec, frames=frames, **size)
    if a.video:
        from .video_io import write_video
        write_video(r.images[0], out)
    else:
        Image.fromarray(r.images[0]).save(out)
    out.with_suffix(".json").write_text(json.dumps(r.record, indent=1))
    print(f"wrote {out} and its run record {out.with_suffix('.json')}")


def cmd_eval(a: argparse.Namespace) -> None:
    import torch
    from . import speed
    from .bench.evaluate import evaluate_model, markdown_table, save_grid, summary, write_json
    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    def card(res: dict[str, Any], source: str) -> None:     # the model card's pooled rates
        cats = tuple(dict.fromkeys(r["category"] for r in res["raw"]))
        (out / "eval_summary.json").write_text(json.dumps(summary(res["raw"], cats, source),
                                                          indent=1))
    if a.merge:     # pool earlier runs over disjoint scene ranges (--start) into one table
        from .bench.evaluate import merge
        res = merge([json.loads(Path(p).read_text()) for p in a.merge.split(",")])
        write_json(res, out / "eval.json")
        card(res, f"python -m lina_core eval --merge {a.merge}")
        (out / "eval.md").write_text(markdown_table(res["rows"]) + "\n")
        print(markdown_table(res["rows"]))
        return
    pipe = load_model(a.model, a.tiny, a.video)
    speed.compile_denoiser(pipe)      # thousands of samples: the compile pays back
    res = evaluate_model(pipe, a.n, steps=a.steps, batch=a.batch, keep_images=8, start=a.start,
                         splits=tuple(a.splits.split(",")), frames=a.frames,
                         only=tuple(a.categories.split(",")) if a.categories else None)
    write_json(res, out / "eval.json")
    card(res, f"python -m lina_core eval --n {a.n} --start {a.start} --splits {a.splits}")
    (out / "eval.md").write_text(markdown_table(res["rows"]) + "\n")
    save_grid(res["grids"], out / "samples_grid.png")
    print(markdown_table(res["rows"]))
    print(f"wall {res['wall_s']:.0f}s")


def cmd_probe(a: argparse.Namespace) -> None:
    import torch
    from .insights.probes import run_probe
    torch.set_num_threads(a.threads)
    pipe = load_model(a.model, a.tiny, a.video)
    r = run_probe(a.name, pipe, a.split, a.n, a.seeds, a.ks, a.steps,
                  progress=lambda f, m: print(m, flush=True))
    paths = r.save(a.out)
    print(json.dumps(r.rows, indent=None)[:4000])
    print("wrote", ", ".join(str(p) for p in paths.values()))


def cmd_settling(a: argparse.Namespace) -> None:
    from .insights.settling import settling, table, verdicts, write
    res = settling(verdicts(a.runs, lambda m: print(m, flush=True)), a.steps)
    paths = write(res, a.out, f"python -m lina_core settling --runs {a.runs} --out {a.out}")
    print(table(res))
    print("wrote", ", ".join(str(p) for p in paths.values()))


def _grid_rows(folders: str, splits: set[str] | None = None) -> list[dict[str, Any]]:
    from .grid import read_rows
    rows = []
    for f in folders.split(","):
        if not Path(f).is_dir():
            raise FileNotFoundError(f"--grid: {f} is not a folder; make it with "
                                    f"`python -m lina_core grid --out {f}`")
        rows.extend(r for r in read_rows(f) if splits is None or r["split"] in splits)
    if not rows:
        raise ValueError(f"--grid: no rows of {sorted(splits or [])} in {folders}")
    return rows


def cmd_fit(a: argparse.Namespace) -> None:
    import torch
    from .lina import fit
    torch.set_num_threads(a.threads)
    pipe = load_model(a.model, a.tiny, a.video)
    _, rep = fit(pipe, _grid_rows(a.grid, {"dev-ood", "train", "test-id"}), a.out)
    print(f"{rep['n_prompts']} prompts, alpha {rep['alpha']}, threshold {rep['threshold']}, "
          f"best fixed {rep['best_fixed']}; fit {rep['fit_seconds']:.0f}s")


def cmd_bench(a: argparse.Namespace) -> None:
    import torch
    from .bench.methods import markdown, run_bench
    from .service import PREDICTOR_DIRS, predictor_in
    torch.set_num_threads(a.threads)
    pipe = load_model(a.model, a.tiny, a.video)
    pred, _ = predictor_in(pipe, a.predictor or PREDICTOR_DIRS[1 if a.video else 0],
                           with_check=False)
    res = run_bench(pipe, pred, _grid_rows(a.grid, set(a.splits.split(","))), a.out)
    print(markdown(res["summary"], categories=False))
    print("share of the oracle's gain LINA recovers:", res["oracle_share"])


def cmd_lina(a: argparse.Namespace) -> None:
    """Baseline and LINA for one prompt: with the shipped check, the adaptive loop."""
    import torch
    from PIL import Image
    from .csg import check_prompt, from_prompt
    from .lina import LinaSampler
    from .limits import MAX_STEPS, MIN_STEPS, check_int
    from .service import PREDICTOR_DIRS, predictor_in
    check_int("steps", a.steps, MIN_STEPS, MAX_STEPS)
    check_prompt(a.prompt)
    torch.set_num_threads(a.threads)
    pipe = load_model(a.model, a.tiny, False)
    pred = check = None
    if not a.tiny:
        pred, check = predictor_in(pipe, a.predictor or PREDICTOR_DIRS[0],
                                   with_check=not a.no_check)
    res = LinaSampler(pipe, pred, steps=a.steps, check=check)(
        a.prompt, from_prompt(a.prompt).graph, seed=a.seed, candidate=a.candidate)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    Image.fromarray(res.baseline[0]).save(out / "baseline.png")
    Image.fromarray(res.lina[0]).save(out / "lina.png")
    (out / "lina.json").write_text(json.dumps({"choice": res.choice.to_dict(),
                                               "timings": res.timings}, indent=1, default=str))
    why = res.choice.why
    print(why.get("reason") or f"{res.choice.candidate} ({why.get('source', '')})")
    print(f"wrote {out / 'baseline.png'}, {out / 'lina.png'} and {out / 'lina.json'}")


def cmd_grid(a: argparse.Namespace) -> None:
    import torch
    from .candidates import FAMILY, get
    from . import speed
    from .grid import categories, run_grid, work_items
    torch.set_num_threads(a.threads)
    pipe = load_model(a.model, a.tiny, a.video)
    cats = categories(pipe)
    if a.rejudge:
        from .grid import rejudge
        n, changed = rejudge(a.out, cats)
        print(f"{n} rows judged again in {a.out}: {changed} changed")
        return
    if a.categories:
        bad = sorted(set(a.categories.split(",")) - set(cats))
        if bad:
            raise ValueError(f"--categories: {bad} not among this model's categories {list(cats)}")
        cats = tuple(c for c in cats if c in a.categories.split(","))
    items = work_items(a.splits.split(","), a.n, a.seeds, cats, a.start)
    family = FAMILY if not a.candidates else tuple(get(n) for n in a.candidates.split(","))
    if a.for_bench:
        from .bench.methods import cells_needed
        from .lina import Predictor
        names = cells_needed(pipe, Predictor.load(a.for_bench), items, cats)
        family = tuple(c for c in family if c.name in names)
        print("cells the benchmark's methods need:", [c.name for c in family], flush=True)
    rows = run_grid(pipe, items, a.out, a.steps, family,
                    frames=a.frames if a.video else None, warm_up=speed.compile_denoiser(pipe),
                    progress=lambda m: print(m, flush=True))
    if rows is not None:
        print(f"{len(rows)} rows in {a.out}")


def cmd_golden(a: argparse.Namespace) -> int:
    """Compare ToyWorld's golden digest (or write it, on purpose), or run a recorded
    benchmark's fixed methods again; status 1 when anything differs."""
    from .toyworld import golden
    if a.bench:
        import torch
        from .bench.methods import replay
        torch.set_num_threads(a.threads)
        bench = json.loads(Path(a.bench).read_text())    # a results file of this repository
        pipe = load_model(a.model, a.tiny, False)

        def show(r: dict[str, Any]) -> None:
            print(("same " if r["same"] else "DIFF ") + f"{r['split']} {r['category']} "
                  f"{r['index']}/{r['seed']} {r['candidate']}: {r['now']}"
                  + ("" if r["same"] else f" (recorded {r['recorded']})")
                  + (f" (caption now {r['prompt']!r})" if "prompt" in r else ""), flush=True)
        rows = replay(pipe, bench, a.per_cell, a.steps, progress=show)
        diff = [r for r in rows if not r["same"]]
        print(f"{len(rows) - len(diff)} of {len(rows)} runs give the recorded verdict")
        return 1 if diff else 0
    digest = golden.compute()
    if a.write:
        print(f"wrote {golden.write(digest, a.file)}")
        return 0
    diff = golden.differences(golden.read(a.file), digest)
    print("\n".join(diff) or f"{len(digest['scenes'])} scenes: as in {a.file}")
    return 1 if diff else 0


def _model_args(q: argparse.ArgumentParser) -> None:
    """The flags of every command that loads a model."""
    from .loading import image_model_args
    image_model_args(q)
    q.add_argument("--video", action="store_true",
                   help="the ToyWorld video model (clips of --frames frames)")
    q.add_argument("--frames", type=int, default=8, help="clip length, 8-16 (video)")


def _image_commands(sub: Any) -> None:
    """The subcommands data, render, train: the data, the renderer and training."""
    q = sub.add_parser("data", help="write a PAP-Toy split as an imagefolder")
    q.add_argument("--out", required=True)
    q.add_argument("--n", type=int, required=True)
    q.add_argument("--split", default="train", choices=["train", "test-id", "dev-ood", "test-ood"])
    q.add_argument("--size", type=int, default=64)
    q.add_argument("--start", type=int, default=0)
    q.add_argument("--frames", type=int, default=0,
                   help="write clips of this many frames (8-16) instead of still images")
    q.add_argument("--categories", default=None,
                   help="comma-separated categories drawn in turn (default: the first five); "
                        "ToyWorld v2: roles,fill,place")
    q.add_argument("--fill-more-share", type=float, default=None,
                   help="share of fill scenes with more material than empty space "
                        "(default: 0.8 on train, 0.5 on the other splits)")
    q.set_defaults(fn=cmd_data)

    q = sub.add_parser("render", help="ground-truth render of a prompt or a graph JSON file")
    q.add_argument("--prompt", default="a red ball on a large round mirror")
    q.add_argument("--graph", help="a scene graph JSON file")
    q.add_argument("--size", type=int, default=64)
    q.add_argument("--out", default="render.png")
    q.set_defaults(fn=cmd_render)

    q = sub.add_parser("train", help="train (or resume) the ToyWorld model")
    q.add_argument("--data", required=True)
    q.add_argument("--out", required=True)
    q.add_argument("--steps", type=int, default=6000)
    q.add_argument("--batch", type=int, default=16)
    q.add_argument("--lr", type=float, default=1e-3)
    q.add_argument("--resolution", type=int, default=32)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--ckpt-every", type=int, default=250)
    q.add_argument("--threads", type=int, default=2)
    q.add_argument("--warmup", type=int, default=200)
    q.add_argument("--min-lr", type=float, default=1e-4)
    q.add_argument("--init-from", help="an image model folder: train the video model inflated "
                                       "from it on the clips in --data")
    q.add_argument("--finetune-from", help="an image model folder: fine-tune it on the images "
                   "in --data, its tokenizer extended with the ToyWorld v2 words (earlier ids "
                   "kept) and its text embeddings resized; UNet and text encoder train")
    q.set_defaults(fn=cmd_train)


def _model_commands(sub: Any) -> None:
    """The subcommands generate, eval, probe: one model's samples, scores and probes."""
    q = sub.add_parser("generate", help="one image from a prompt or a spec JSON")
    _model_args(q)
    q.add_argument("--prompt", default="a red ball on a large round mirror")
    q.add_argument("--spec", help="an intervention spec JSON file")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--guidance", type=float, default=3.0)
    q.add_argument("--out", default="sample.png")
    q.add_argument("--model-dir", help="a local diffusers folder of any supported family "
                                       "(SD, SDXL, SD3, FLUX, ...), loaded as the app does")
    q.add_argument("--size", type=int, help="image height and width in pixels (default: the "
                                            "model's own, from its config)")
    q.set_defaults(fn=cmd_generate)

    q = sub.add_parser("eval", help="verifier accuracy of the model's samples per cell")
    _model_args(q)
    q.add_argument("--n", type=int, default=200, help="samples per (split, category, caption)")
    q.add_argument("--batch", type=int, default=16)
    q.add_argument("--start", type=int, default=0, help="first scene index (to extend a run)")
    q.add_argument("--splits", default="test-id,test-ood")
    q.add_argument("--categories", help="comma-separated: only these of the model's categories")
    q.add_argument("--merge", help="comma-separated eval.json files of earlier runs to pool "
                                   "(no sampling)")
    q.add_argument("--out", required=True)
    q.set_defaults(fn=cmd_eval)

    q = sub.add_parser("probe", help="run one probe: multihop, disentangle, timing, inpaint")
    _model_args(q)
    q.add_argument("name", choices=["multihop", "disentangle", "timing", "inpaint"])
    q.add_argument("--split", default="test-ood", choices=["train", "test-id", "dev-ood", "test-ood"])
    q.add_argument("--n", type=int, default=4, help="prompts per category")
    q.add_argument("--seeds", type=_ints, default=[0, 1])
    q.add_argument("--ks", type=_ints, default=[0, 3, 6, 9, 12, 18, 25])
    q.add_argument("--out", required=True)
    q.set_defaults(fn=cmd_probe)

    q = sub.add_parser("settling", help="insight 3(a): preview verdict vs final verdict per "
                       "step, from kept baseline runs (no model)")
    q.add_argument("--runs", default="runs/check", help="a check_data folder or a folder of them")
    q.add_argument("--steps", type=int, default=25, help="the runs' step count (the final's k)")
    q.add_argument("--out", default="docs/probes/settling")
    q.set_defaults(fn=cmd_settling)
    from .insights import attention_settling, switching   # 3(b), 3(c): options in their modules
    switching.add_command(sub, _model_args)
    attention_settling.add_command(sub)


def _lina_commands(sub: Any) -> None:
    """The subcommands lina, fit, grid, bench: LINA on a prompt, its candidate grid, its fit
    and the benchmark."""
    q = sub.add_parser("lina", help="baseline and LINA for one prompt (the adaptive loop when "
                       "the predictor folder holds a check)")
    _model_args(q)
    q.add_argument("--prompt", default="a red ball on a large round mirror")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--candidate", default=None, help="run this candidate instead of choosing")
    q.add_argument("--predictor", default=None, help="default: assets/lina_predictor")
    q.add_argument("--no-check", action="store_true",
                   help="one choice per prompt before the run, as LINA did before the loop")
    q.add_argument("--out", default="lina_out")
    q.set_defaults(fn=cmd_lina)

    q = sub.add_parser("fit", help="fit LINA's predictor on candidate grids of dev-ood and "
                       "train (never test-ood)")
    _model_args(q)
    q.add_argument("--grid", required=True, help="comma-separated grid folders")
    q.add_argument("--out", required=True)
    q.set_defaults(fn=cmd_fit)

    q = sub.add_parser("grid", help="every candidate intervention on every item, judged "
                       "(resumable; shards over accelerate processes)")
    _model_args(q)
    q.add_argument("--splits", default="dev-ood,train")
    q.add_argument("--n", type=int, default=12, help="scenes per category and split")
    q.add_argument("--start", type=int, default=0, help="first scene index (to extend a run)")
    q.add_argument("--seeds", type=_ints, default=[0, 1])
    q.add_argument("--categories", default="", help="comma-separated: only these of the "
                   "model's categories")
    q.add_argument("--rejudge", action="store_true", help="judge the grid in --out again from "
                   "its saved images (after a change to the verifier); samples nothing")
    q.add_argument("--candidates", default="",
                   help="comma-separated candidate names (default: the whole family)")
    q.add_argument("--for-bench", default="", metavar="PREDICTOR",
                   help="only the cells the benchmark's methods need with this predictor "
                        "(baseline, explicit, schedule, best fixed, LINA's choices; no oracle)")
    q.add_argument("--out", required=True)
    q.set_defaults(fn=cmd_grid)

    q = sub.add_parser("bench", help="baseline, explicit, fixed, LINA, oracle on the grids of "
                       "the reported splits")
    _model_args(q)
    q.add_argument("--predictor", default=None, help="default: assets/lina_predictor, or "
                   "assets/lina_predictor_video with --video (each fitted for its model's text "
                   "encoder)")
    q.add_argument("--grid", required=True, help="comma-separated grid folders")
    q.add_argument("--splits", default="test-id,test-ood")
    q.add_argument("--out", required=True)
    q.set_defaults(fn=cmd_bench)


def _check_commands(sub: Any) -> None:
    """The subcommand golden: behaviour pinned across restructurings (issue 26)."""
    from .toyworld.golden import GOLDEN_FILE
    q = sub.add_parser("golden", help="ToyWorld's generated graphs, captions, renders, masks and "
                       "verdicts against the committed digest; --bench: a recorded benchmark's "
                       "fixed methods run again")
    q.add_argument("--file", default=str(GOLDEN_FILE), help="the digest (default: %(default)s)")
    q.add_argument("--write", action="store_true", help="write the digest instead of comparing "
                   "(after a change meant to alter what ToyWorld draws or judges)")
    q.add_argument("--bench", default="", metavar="BENCH_JSON", help="run again the first "
                   "--per-cell samples per split and category of this bench.json (e.g. "
                   "docs/results/v2/bench.json) with the model (default: the shipped one)")
    q.add_argument("--per-cell", type=int, default=1)
    _model_args(q)
    q.set_defaults(fn=cmd_golden)


def _module_commands(sub: Any) -> None:
    """:data:`MODULE_COMMANDS` in ``--help`` (:func:`main` hands them their arguments)."""
    for name, (_module, text) in MODULE_COMMANDS.items():
        sub.add_parser(name, help=text, add_help=False)


def _run_module(name: str, argv: list[str]) -> int:
    """A module command: its ``main(argv)``; its status when it returns one."""
    import importlib
    status = importlib.import_module(f".{MODULE_COMMANDS[name][0]}", __package__).main(argv)
    return status if isinstance(status, int) else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lina_core", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for add in (_image_commands, _model_commands, _lina_commands, _check_commands,
                _module_commands):
        add(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in MODULE_COMMANDS:     # its own parser reads the rest
        run = lambda: _run_module(argv[0], argv[1:])  # noqa: E731
    else:
        args = build_parser().parse_args(argv)
        run = lambda: args.fn(args)  # noqa: E731
    from .csg import GraphError
    from .interventions import SpecError
    from .limits import LimitError
    from .pipelines.registry import ModelUnavailable
    try:
        status = run()
    except (GraphError, SpecError, LimitError, ModelUnavailable, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
