"""The loop on clips (issue 24.5): the clip check chosen on dev-ood clips, the live loop on the
test splits, the report.

``python -m lina_core bench-loop video fit`` reads baseline clips kept by ``collect`` (train and
dev-ood only) and chooses how the image check reads a clip (:mod:`lina_core.clip_check`: check
step, frame combination, prompt embedding, the loop's threshold), writing the clip check beside
the video model's predictor.  ``video run`` runs the *live* loop (:meth:`LinaSampler.adapt`,
the code the app runs) on each work item of a test split, keeping its baseline run so the
verifier-as-check bound (an upper bound, labelled so) can reuse the loop's tries and run only
the ones it alone needs.  ``video report`` writes ``loop_video.{md,json}``: baseline, per-prompt
LINA (the shipped video benchmark's rows for the same items and noise), the loop and the bound,
with 95% intervals, repair and break rates, model calls and wall time against the baseline.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .. import adaptive, compare, engine
from ..candidates import get, spec_for
from ..grid import categories, key, noise_seed, scene

FRAMES = 8
STEPS_TO_TRY = (4, 6, 8, 10)
ROOT = Path(__file__).resolve().parents[2]
SHIPPED_BENCH = ROOT / "docs" / "results" / "bench_video.json"


def verifier_p(clip: np.ndarray, graph: Any) -> tuple[float, float]:
    """The clip verifier read as a check (0 or 1 per question): the upper bound."""
    from ..toyworld.verify_video import judge
    v = judge(clip, graph)
    return float(bool(v.physics_ok)), float(bool(v.texture_ok))


def verdict(clip: np.ndarray, graph: Any) -> dict[str, bool]:
    from ..toyworld.verify_video import judge
    v = judge(clip, graph)
    return {"physics": bool(v.physics_ok), "texture": bool(v.texture_ok)}


# ---------------------------------------------------------------------- fit (train, dev-ood)


def kept_clips(pipe: Any, folders: list[Path]) -> tuple[list[dict[str, Any]], np.ndarray]:
    """The baseline clips ``collect`` kept in ``folders``: their previews (steps x F x H x W x
    3), prompt, graph and category, and labels (physics, texture right on the final clip)."""
    from ..check_data import item_file, read_rows
    cats = categories(pipe)
    clips, labels = [], []
    for folder in folders:
        for r in read_rows(folder):
            clips.append({"previews": np.load(item_file(folder, r))["previews"],
                          "prompt": r["prompt"], "graph": scene(r, cats).graph,
                          "category": r["category"], "split": r["split"]})
            labels.append([r["physics"], r["texture"]])
    return clips, np.array(labels, np.float32).reshape(-1, 2)


def fit(pipe: Any, folders: list[Path], image_check: Path, out: Path,
        steps_to_try: tuple[int, ...] = STEPS_TO_TRY) -> dict[str, Any]:
    """Choose the clip check's settings on ``folders`` (never a test split) and save it."""
    from ..check import EarlyCheck
    from ..clip_check import ClipCheck, choose, frame_table, setting_probabilities
    from ..adaptive import MAX_TRIES
    from ..lina import encoder_fingerprint
    for f in folders:
        if "test" in Path(f).name:
            raise ValueError(f"video fit: {f} looks like a test split; the clip check is chosen "
                             f"on train and dev-ood clips only")
    t0 = time.perf_counter()
    image = EarlyCheck.load(image_check)
    clips, labels = kept_clips(pipe, folders)
    if not clips:
        raise FileNotFoundError(f"video fit: no kept clips in {[str(f) for f in folders]} "
                                f"(run collect first)")
    table = frame_table(image, pipe, clips, steps_to_try)
    cats = [c["category"] for c in clips]
    chosen, scores = choose(table, cats, labels)
    fails = ~labels.astype(bool).all(1)
    p = setting_probabilities(table, chosen, cats)
    fit_info = {"splits": sorted({c["split"] for c in clips}), "n": len(clips),
                "failures": int(fails.sum()),
                "prompts": len({c["prompt"] for c in clips}), "options": scores,
                "diagnostics": diagnostics(p, fails, np.array(cats), chosen["loop_threshold"]),
                "chose": "highest AUROC for final failure on these clips (ties: the earlier "
                         "step); threshold by Youden's J on the chosen setting's probabilities",
                "fit_seconds": time.perf_counter() - t0}
    ck = ClipCheck.from_image_check(
        image, check_step=chosen["check_step"], steps=25, combine=chosen["combine"],
        embedding=chosen["embedding"], loop_threshold=chosen["loop_threshold"],
        threshold=chosen["loop_threshold"], max_tries=MAX_TRIES,
        loop_chosen=f"check step, frame combination, embedding and threshold chosen on "
                    f"{'/'.join(fit_info['splits'])} clips (n = {len(clips)}) before any test "
                    f"run; {MAX_TRIES} tries (the default)",
        text_encoder=encoder_fingerprint(pipe), fit=fit_info,
        dev_auroc=chosen["auroc"], dev_auroc_ci=chosen["auroc_ci"])
    ck.save(out)
    return {"chosen": chosen, **fit_info}


def diagnostics(p: np.ndarray, fails: np.ndarray, cats: np.ndarray, threshold: float
                ) -> dict[str, Any]:
    """What the chosen setting reads on the fitting clips beyond the clip kind: its AUROC within
    each kind, and the AUROC of the kind alone (each clip scored by its kind's failure rate on
    these same clips): a check that only tells the kinds apart scores that much."""
    from ..check import auroc, p_joint
    score = 1 - p_joint(p)
    prior = np.array([fails[cats == c].mean() for c in cats])
    flag = score > 1 - threshold
    return {"kind_alone_auroc": auroc(prior, fails),
            "per_kind": {str(c): {"n": int((cats == c).sum()),
                                  "failures": int(fails[cats == c].sum()),
                                  "auroc": _or_none(auroc(score[cats == c], fails[cats == c])),
                                  "flagged": int(flag[cats == c].sum())}
                         for c in sorted(set(cats))},
            "precision": float((flag & fails).sum() / max(1, flag.sum())),
            "recall": float((flag & fails).sum() / max(1, fails.sum()))}


def _or_none(x: float) -> float | None:
    """NaN (an AUROC of one class) as JSON's null: json.dumps would write a bare NaN."""
    return None if x != x else x


# ---------------------------------------------------------------------- the live loop


def run_item(sampler: Any, item: dict[str, Any], frames: int = FRAMES, bound: bool = True
             ) -> dict[str, Any]:
    """One work item through the live loop; with ``bound``, the verifier-as-check loop too
    (reusing the live loop's tries, running only those it alone asks for)."""
    pipe = sampler.pipe
    s = scene(item, categories(pipe))
    prompt, graph, seed = s.caption(False), s.graph, noise_seed(item, s.seed)
    size = {"frames": frames, "height": None, "width": None}
    t0 = time.perf_counter()
    base = engine.run(pipe, sampler.baseline_spec(prompt, graph, seed), seed=seed,
                      **sampler.run_kwargs(size))
    base_s = time.perf_counter() - t0
    res = sampler.adapt(base, prompt, graph, seed, size, base_s)
    why = res.choice.why
    step = why["check_step"]
    tries = [{"name": r["name"], "checked_at": r["checked_at"], "p": r["p"],
              "passed": r["passed"], "p_verifier": list(verifier_p(r["preview"][0], graph)),
              "model_calls": r["model_calls"], "wall_s": r.get("wall_s", 0.0),
              **verdict(r["image"][0], graph)} for r in res.tries[1:]]
    row = {**item, "prompt": prompt, "noise_seed": seed, "check_step": step,
           "base": {**verdict(base.images[0], graph), "p": why["loop"]["base_p"],
                    "p_verifier": list(verifier_p(base.previews[step][0], graph)),
                    "model_calls": int(base.model_calls), "wall_s": base_s},
           "loop": {**verdict(res.lina[0], graph), "kept": why["loop"]["kept"],
                    "reason": why["reason"], "tries": tries, "wall_s": res.timings["lina_s"],
                    "bit_identical_when_kept_none": bool(np.array_equal(res.lina, base.images))
                    if why["loop"]["kept"] == "none" else None},
           "ranked": adaptive.ranked_candidates(adaptive.predictor_gains(
               sampler.predictor, pipe, prompt, graph, why["available"])),
           "allowed": why["available"]}
    if bound:
        row["bound_runs"] = bound_runs(sampler, base, row, prompt, graph, seed, size)
    return row


def bound_runs(sampler: Any, base: Any, row: dict[str, Any], prompt: str, graph: Any,
               seed: int, size: dict[str, Any]) -> list[dict[str, Any]]:
    """The tries the verifier-as-check loop asks for that the live loop did not make."""
    have = {t["name"] for t in row["loop"]["tries"]}
    extra: list[dict[str, Any]] = []
    pv = row["base"]["p_verifier"]
    names = adaptive.plan(row["ranked"], pv, row["allowed"])
    step = row["check_step"]

    def try_fn(i: int):
        n = names[i]
        for t in row["loop"]["tries"] + extra:
            if t["name"] == n:
                return t["p_verifier"]
        spec = spec_for(get(n), prompt, graph, sampler.steps, seed, sampler.guidance_scale)
        t0 = time.perf_counter()
        r = compare.branch(sampler.pipe, spec, base, seed=seed, **sampler.run_kwargs(size))
        at = adaptive.try_step(n, step, sampler.steps)
        extra.append({"name": n, "checked_at": at,
                      "p_verifier": list(verifier_p(r.previews[at][0], graph)),
                      "model_calls": int(r.model_calls), "wall_s": time.perf_counter() - t0,
                      **verdict(r.images[0], graph)})
        return extra[-1]["p_verifier"]

    adaptive.decide(pv, names, try_fn, sampler.check.loop_threshold, sampler.check.max_tries)
    return [t for t in extra if t["name"] not in have]


def run_split(pipe: Any, check: Any, predictor: Any, split: str, n: int, seeds: list[int],
              out: Path, shard: int = 0, shards: int = 1, frames: int = FRAMES,
              bound: bool = True, progress: Callable[[str], None] = print,
              steps: int = 25) -> None:
    """:func:`run_item` on the split's work items (the video benchmark's: ``n`` per clip
    kind), into ``out/rows.<shard>.<pid>.jsonl``; resumable.  Items go index by index across
    the clip kinds (a run stopped early still has every kind), and each process claims an item
    before running it (:func:`claim`), so processes started together share the work."""
    import os
    from ..grid import work_items
    from ..lina import LinaSampler
    out.mkdir(parents=True, exist_ok=True)
    sampler = LinaSampler(pipe, predictor, steps=steps, check=check)
    items = sorted(work_items([split], n, seeds, categories(pipe)),
                   key=lambda it: (it["index"], it["seed"]))[shard::shards]
    done = {key(r) for r in read_rows(out)}
    todo = [it for it in items if key(it) not in done]
    t0 = time.perf_counter()
    with open(out / f"rows.{shard}.{os.getpid()}.jsonl", "a") as f:
        for j, it in enumerate(todo):
            if not claim(out, it):
                continue
            f.write(json.dumps(run_item(sampler, it, frames, bound)) + "\n")
            f.flush()
            progress(f"{split} {j + 1}/{len(todo)} clips {time.perf_counter() - t0:.0f}s")


def claim(out: Path, item: dict[str, Any]) -> bool:
    """Claim ``item`` for this process: False when a live process claimed it first."""
    import os
    d = out / "claims"
    d.mkdir(exist_ok=True)
    path = d / ("%s_%s_%d_%d" % key(item))
    try:
        with open(path, "x") as f:
            f.write(str(os.getpid()))
        return True
    except FileExistsError:
        try:
            pid = int(path.read_text() or 0)
            if pid <= 0:
                raise ValueError("no claimant")
            os.kill(pid, 0)
            return False                       # its claimant is still running
        except (ProcessLookupError, ValueError):
            path.write_text(str(os.getpid()))  # a stale claim of a stopped process
            return True


def read_rows(out: Path) -> list[dict[str, Any]]:
    seen = {}
    for f in sorted(Path(out).glob("rows.*.jsonl")):
        for line in f.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                seen[key(r)] = r
    return [seen[k] for k in sorted(seen)]


# ---------------------------------------------------------------------- policies and report


def _row(r: dict[str, Any], method: str, ok: dict[str, Any], calls: float, wall: float,
         n_tries: int = 0, kept: str = "none") -> dict[str, Any]:
    """One item's outcome under ``method`` in the shape :func:`loop_replay.summarise` reads."""
    b = r["base"]
    return {**{k: r[k] for k in ("split", "category", "index", "seed", "prompt")},
            "method": method, "joint": bool(ok["physics"] and ok["texture"]),
            "physics": ok["physics"], "texture": ok["texture"],
            "base_joint": bool(b["physics"] and b["texture"]), "calls": calls,
            "base_calls": b["model_calls"], "wall": wall, "base_wall": b["wall_s"],
            "n_tries": n_tries, "kept": kept}


def loop_row(r: dict[str, Any]) -> dict[str, Any]:
    lp, b = r["loop"], r["base"]
    return _row(r, "loop", lp, b["model_calls"] + sum(t["model_calls"] for t in lp["tries"]),
                b["wall_s"] + lp["wall_s"], len(lp["tries"]), lp["kept"])


def bound_row(r: dict[str, Any], threshold: float, max_tries: int) -> dict[str, Any]:
    """The verifier-as-check loop, replayed by :func:`adaptive.decide` on the recorded runs."""
    runs = {t["name"]: t for t in r["loop"]["tries"] + r.get("bound_runs", [])}
    b = r["base"]
    names = [n for n in adaptive.plan(r["ranked"], b["p_verifier"], r["allowed"])]
    names = names[:max_tries]
    missing = [n for n in names if n not in runs]
    d = adaptive.decide(b["p_verifier"], names,
                        lambda i: runs[names[i]]["p_verifier"] if names[i] in runs else
                        _missing(r, missing), threshold, max_tries)
    used = [runs[t["name"]] for t in d.tries]
    kept = b if d.kept < 0 else runs[d.kept_name]
    return _row(r, "loop_verifier_check", kept,
                b["model_calls"] + sum(t["model_calls"] for t in used),
                b["wall_s"] + sum(t["wall_s"] for t in used), len(used), d.kept_name)


def _missing(r: dict[str, Any], names: list[str]):
    raise ValueError(f"video report: item {key(r)} has no recorded run of {names} for the "
                     f"verifier-as-check bound (run `video run` with the bound)")


def shipped_rows(rows: list[dict[str, Any]], bench: Path, method: str
                 ) -> list[dict[str, Any]]:
    """``method``'s rows of the shipped video benchmark for the same items (calls and wall time
    against that benchmark's own baseline run of the item)."""
    d = json.loads(Path(bench).read_text())
    by = {(key(x), x["method"]): x for x in d["rows"]}
    out = []
    for r in rows:
        m, b = by.get((key(r), method)), by.get((key(r), "baseline"))
        if m is None or b is None:
            raise ValueError(f"video report: {bench} has no {method!r} row for {key(r)}")
        row = _row(r, method, m, m["model_calls"] / b["model_calls"] * r["base"]["model_calls"],
                   m["wall_s"] / b["wall_s"] * r["base"]["wall_s"], kept=m.get("candidate", ""))
        row["base_joint"] = bool(r["base"]["physics"] and r["base"]["texture"])
        out.append(row)
    return out


def agreement(rows: list[dict[str, Any]], bench: Path) -> float:
    """Share of items whose baseline verdict here equals the shipped benchmark's."""
    d = json.loads(Path(bench).read_text())
    by = {key(x): x for x in d["rows"] if x["method"] == "baseline"}
    same = [by[key(r)]["joint"] == (r["base"]["physics"] and r["base"]["texture"])
            for r in rows if key(r) in by]
    return float(np.mean(same)) if same else float("nan")


def check_accuracy(rows: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    """The clip check on the baselines of a test split (reported only): AUROC for final
    failure with its interval, precision and recall of flagging at the loop's threshold."""
    from ..check import report
    p = np.array([r["base"]["p"] for r in rows])
    labels = np.array([[r["base"]["physics"], r["base"]["texture"]] for r in rows], np.float32)
    rep = report(p, labels, threshold)
    pv = np.array([r["base"]["p_verifier"] for r in rows])
    fail = ~labels.astype(bool).all(1)
    flag = pv.prod(1) < threshold
    rep["verifier_on_preview"] = {
        "precision": float((flag & fail).sum() / max(1, flag.sum())),
        "recall": float((flag & fail).sum() / max(1, fail.sum()))}
    return rep


METHODS = {"baseline": "baseline", "lina": "per-prompt LINA (one choice before the run)",
           "loop": "**LINA loop** (clip check)",
           "loop_verifier_check": "loop with the verifier as its check (upper bound)"}


def summaries(rows: list[dict[str, Any]], check: Any, bench: Path) -> dict[str, Any]:
    """Every method's rows and summary on one split."""
    from .loop_replay import summarise
    base = [_row(r, "baseline", r["base"], r["base"]["model_calls"], r["base"]["wall_s"])
            for r in rows]
    per = {"baseline": base, "lina": shipped_rows(rows, bench, "lina"),
           "loop": [loop_row(r) for r in rows]}
    if all("bound_runs" in r for r in rows):
        per["loop_verifier_check"] = [bound_row(r, check.loop_threshold, check.max_tries)
                                      for r in rows]
    cats = sorted({r["category"] for r in rows})
    return {"n": len(rows), "agreement_with_shipped_baseline": agreement(rows, bench),
            "methods": {m: summarise(v) for m, v in per.items()},
            "per_category": {m: {c: float(np.mean([x["joint"] for x in v
                                                   if x["category"] == c])) for c in cats}
                             for m, v in per.items()},
            "kept": {m: _counts([x["kept"] for x in v]) for m, v in per.items()},
            "check": check_accuracy(rows, check.loop_threshold),
            "identical_when_passed": all(r["loop"]["bit_identical_when_kept_none"]
                                         for r in rows if r["loop"]["kept"] == "none")}


def _counts(xs: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for x in xs:
        out[x] = out.get(x, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def markdown(res: dict[str, Any], check: Any) -> str:
    """loop_video.md: the settings, then per split the methods' table, per category, and the
    clip check's accuracy."""
    m = check.meta
    fit_ = m.get("fit", {})
    out = [f"Clip check (chosen on {', '.join(fit_.get('splits', []))} clips only, n = "
           f"{fit_.get('n')}, {fit_.get('failures')} final failures): the image check's nets "
           f"read every preview frame at step {check.step} of {check.steps}, frames combined by "
           f"`{check.how}`, prompt embedding `{check.embedding}`; AUROC for final failure there "
           f"{m.get('dev_auroc', float('nan')):.3f} "
           f"[{m.get('dev_auroc_ci', [0, 0])[0]:.3f}, {m.get('dev_auroc_ci', [0, 0])[1]:.3f}]. "
           f"The loop flags a clip when P(physics right) x P(texture right) < "
           f"{check.loop_threshold:.3f}, at most {check.max_tries} tries. 8-frame clips, 25 "
           f"steps, CFG 3, the video benchmark's items and noise seeds.", ""]
    for split, s in res["splits"].items():
        out += [f"### {split} (n = {s['n']} clips)", "",
                "| method | joint success [95% CI] | gain [95% CI] | repair | break | "
                "model calls (x baseline) | wall (x baseline, mean / p95) |",
                "|---|---|---|---|---|---|---|"]
        for meth, label in METHODS.items():
            if meth not in s["methods"]:
                continue
            x = s["methods"][meth]
            out.append(
                f"| {label} | {_pct(x['joint'])} [{_pct(x['joint_ci'][0])}, "
                f"{_pct(x['joint_ci'][1])}] | {100 * x['gain']:+.1f} [{100 * x['gain_ci'][0]:+.1f}"
                f", {100 * x['gain_ci'][1]:+.1f}] | {_pct(x['repair']['acc'])}% of "
                f"{x['repair']['n']} | {_pct(x['break']['acc'])}% of {x['break']['n']} | "
                f"{x['calls_ratio']:.2f} | {x['wall_ratio']:.2f} / {x['wall_p95']:.2f} |")
        cats = list(next(iter(s["per_category"].values())))
        out += ["", f"Baseline verdicts agree with the shipped video benchmark's on "
                f"{_pct(s['agreement_with_shipped_baseline'])}% of items (per-prompt LINA's row "
                f"is that benchmark's; its calls and wall time are against its own baseline). "
                f"A clip the check passed is the baseline bit for bit: "
                f"{'yes' if s['identical_when_passed'] else 'NO'}.", "",
                "| method | " + " | ".join(cats) + " |", "|---|" + "---|" * len(cats)]
        for meth in s["per_category"]:
            out.append(f"| {meth} | " + " | ".join(_pct(s["per_category"][meth][c])
                                                  for c in cats) + " |")
        c = s["check"]
        out += ["", f"Kept by the loop: {s['kept']['loop']}.", "",
                f"The clip check on {split} (reported only): AUROC for final failure "
                f"{c['auroc']:.3f} [{c['auroc_ci'][0]:.3f}, {c['auroc_ci'][1]:.3f}] (n = {c['n']}, "
                f"{c['failures']} failures; physics {c['auroc_physics']:.3f}, texture "
                f"{c['auroc_texture']:.3f}); at the loop's threshold precision "
                f"{c['precision']:.2f}, recall {c['recall']:.2f}; the verifier reading the same "
                f"preview: precision {c['verifier_on_preview']['precision']:.2f}, recall "
                f"{c['verifier_on_preview']['recall']:.2f}.", ""]
    return "\n".join(out)


def report(check_dir: Path, root: Path, out: Path, bench: Path = SHIPPED_BENCH,
           splits: tuple[str, ...] = ("test-ood", "test-id")) -> dict[str, Any]:
    from ..check_files import load_check
    check = load_check(check_dir)
    res: dict[str, Any] = {"check": {k: v for k, v in check.meta.items()
                                     if k not in ("cv_report",)}, "splits": {}, "rows": {}}
    for split in splits:
        rows = read_rows(root / f"video_{split}")
        if rows:
            res["splits"][split] = summaries(rows, check, bench)
            res["rows"][split] = rows
    out.mkdir(parents=True, exist_ok=True)
    (out / "loop_video.json").write_text(json.dumps(res, indent=1, default=float))
    (out / "loop_video.md").write_text(markdown(res, check) + "\n")
    return res
