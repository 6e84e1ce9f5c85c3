"""The loop's benchmark records: every try the loop could make, recorded once, then replayed per
policy (the command is :mod:`lina_core.bench.loop`).

For each work item of a split (the grid's items and noise seeds, so a sample is the same run
everywhere) the baseline run kept by :mod:`lina_core.check_data` says what the check sees at the
check step.  For every item some check might flag (the learned check below ``FLAG_MAX``, or the
verifier reading the same preview), this module reruns the baseline and records every try the
policies could make: the predictor's top candidates (as :func:`adaptive.plan` orders them, for
either check) and fresh noise seeds with no intervention (best-of-N), each with its final
verdict, the learned check's and the verifier's reading of its preview at the check step, its
wall time and model calls.  :func:`replay` then runs :func:`adaptive.decide`, the loop's own
policy, over the recorded probabilities: the same decisions the live loop makes, for any
threshold and budget, without rerunning anything.  Wall times are measured per run in the
process that made it; the baseline's, for flagged items, in the same process as its tries.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .. import adaptive, compare, engine
from ..candidates import available, get, spec_for
from ..check import EarlyCheck
from ..check_data import item_file, read_rows
from ..csg import from_prompt
from ..grid import SEED_STRIDE, categories, key, scene, verdict_fields

#: items the learned check rates below this get their tries recorded (at least the shipped
#: check's threshold, chosen on train and dev-ood)
FLAG_MAX = 0.3
TRIES_RECORDED = 2      #: candidates per ordering, and fresh seeds, recorded per flagged item
RESEED_OFFSET = 7       #: fresh seed j of an item: replicate seed + RESEED_OFFSET + j


def verifier_p(image: np.ndarray, graph: Any) -> tuple[float, float]:
    """The verifier read as a check (0 or 1 per question): the upper bound, labelled so."""
    from ..toyworld.verify_video import judge
    v = judge(image, graph)
    return (float(bool(v.physics_ok)), float(bool(v.texture_ok)))


def keep_steps(steps: int = 25) -> tuple[int, ...]:
    """The previews kept per recorded run of ``steps`` steps (4 .. 24 of 25): the check step,
    and the later steps at which a try is checked (:func:`adaptive.try_step`), are among them."""
    return tuple(range(round(4 * steps / 25), steps))


def _judged(r: engine.RunResult, graph: Any, name: str, wall: float,
            previews: dict[str, np.ndarray], steps: int) -> dict[str, Any]:
    from ..toyworld.verify_video import judge
    previews[name] = np.stack([r.previews[k][0] for k in keep_steps(steps)
                               if k < len(r.previews)])
    return {"name": name, **verdict_fields(judge(r.images[0], graph)),
            "wall_s": wall, "model_calls": int(r.model_calls)}


def record_item(pipe: Any, item: dict[str, Any], base_row: dict[str, Any], predictor: Any,
                out: Path, steps: int = 25) -> dict[str, Any]:
    """Every try for one flagged item (see the module docstring); the previews of each run at
    :func:`keep_steps` go to ``out/previews/<item>.npz`` so any check can be replayed."""
    s = scene(item, categories(pipe))
    prompt, graph, seed = s.caption(False), s.graph, int(base_row["noise_seed"])
    spec = spec_for(get("none"), prompt, graph, steps, seed)
    previews: dict[str, np.ndarray] = {}
    t0 = time.perf_counter()
    base = engine.run(pipe, spec, seed=seed, previews=True)
    bj = _judged(base, graph, "none", time.perf_counter() - t0, previews, steps)
    allowed = [c.name for c in available(graph)]
    ranked = adaptive.ranked_candidates(adaptive.predictor_gains(predictor, pipe, prompt, graph,
                                                                 allowed))
    names: list[str] = []
    for p in ((1.0, 0.0), (0.0, 1.0)):          # texture-first and the ranking itself
        for n in adaptive.plan(ranked, p, allowed)[:TRIES_RECORDED]:
            if n not in names:
                names.append(n)
    tries = []
    for n in names:
        cspec = spec_for(get(n), prompt, graph, steps, seed)
        t0 = time.perf_counter()
        r = compare.branch(pipe, cspec, base, seed=seed, previews=True)
        tries.append(_judged(r, graph, n, time.perf_counter() - t0, previews, steps))
    seeds = []
    for j in range(TRIES_RECORDED):
        sd = seed + SEED_STRIDE * (RESEED_OFFSET + j)
        t0 = time.perf_counter()
        r = engine.run(pipe, spec_for(get("none"), prompt, graph, steps, sd), seed=sd,
                       previews=True)
        seeds.append(_judged(r, graph, f"seed+{j + 1}", time.perf_counter() - t0, previews, steps))
    (out / "previews").mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "previews" / ("%s_%s_%d_%d.npz" % key(item)), **previews)
    return {**item, "prompt": prompt, "noise_seed": seed, "base": bj,
            "ranked": ranked, "allowed": allowed, "tries": tries, "seeds": seeds,
            "same_as_kept_baseline": bj["physics"] == base_row["physics"]
            and bj["texture"] == base_row["texture"]}


def rescore(out: str | Path, tries: list[dict[str, Any]], check: EarlyCheck, pipe: Any,
            steps: int = 25) -> list[dict[str, Any]]:
    """The recorded tries with the check's and the verifier's reading (``p``,
    ``p_verifier``) of each run's preview at its check step (:func:`adaptive.try_step`)."""
    from ..lina import prompt_features
    cats = categories(pipe)
    for t in tries:
        prev = np.load(Path(out) / "previews" / ("%s_%s_%d_%d.npz" % key(t)))
        graph = scene(t, cats).graph
        feats = prompt_features(pipe, t["prompt"], graph)
        for r in [t["base"], *t["tries"], *t["seeds"]]:
            name = "none" if r["name"].startswith("seed+") else r["name"]
            r["check_step"] = adaptive.try_step(name, check.step, steps)
            img = prev[r["name"]][keep_steps(steps).index(r["check_step"])]
            r["p"] = check.probabilities(img[None], feats, [graph])[0].tolist()
            r["p_verifier"] = list(verifier_p(img, graph))
    return tries


def base_probabilities(pipe: Any, folder: str | Path, check: EarlyCheck
                       ) -> list[dict[str, Any]]:
    """Each kept baseline run of ``folder`` with the learned check's and the verifier's
    reading of its preview at the check step."""
    from ..lina import prompt_features
    folder = Path(folder)
    out, cache = [], {}
    for r in read_rows(folder):
        prev = np.load(item_file(folder, r))["previews"][check.step]
        if r["prompt"] not in cache:
            cache[r["prompt"]] = prompt_features(pipe, r["prompt"], from_prompt(r["prompt"]).graph)
        graph = scene(r, categories(pipe)).graph
        t0 = time.perf_counter()
        p = check.probabilities(prev[None], cache[r["prompt"]], [graph])[0]
        out.append({**r, "p": p.tolist(), "check_s": time.perf_counter() - t0,
                    "p_verifier": list(verifier_p(prev, graph))})
    return out


def flagged(b: dict[str, Any]) -> bool:
    return adaptive.joint(b["p"]) < FLAG_MAX or adaptive.joint(b["p_verifier"]) < 1


def record_split(pipe: Any, folder: str | Path, out: str | Path, check: EarlyCheck,
                 predictor: Any, progress: Callable[[str], None] = print, shard: int = 0,
                 shards: int = 1, seeds: set[int] | None = None, steps: int = 25) -> None:
    """Record the tries of every item of the baseline runs in ``folder`` that ``check`` (or
    the verifier on the same preview) flags, into ``out/tries.<shard>.jsonl`` (resumable:
    rerun with a refitted check, it records only the newly flagged items)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    bases = [b for b in base_probabilities(pipe, folder, check)
             if seeds is None or int(b["seed"]) in seeds]
    done = {key(r) for r in read_tries(out)}
    # the items the learned check flags first (the verifier-as-check bound needs the rest);
    # dealt to shards before what is done is removed, so shards started apart never overlap
    mine = sorted((b for b in bases if flagged(b)),
                  key=lambda b: adaptive.joint(b["p"]) >= FLAG_MAX)[shard::shards]
    todo = [b for b in mine if key(b) not in done]
    t0 = time.perf_counter()
    with open(out / f"tries.{shard}.jsonl", "a") as f:
        for j, b in enumerate(todo):
            item = {k: b[k] for k in ("split", "category", "index", "seed")}
            f.write(json.dumps(record_item(pipe, item, b, predictor, out, steps)) + "\n")
            f.flush()
            if (j + 1) % 5 == 0 or j + 1 == len(todo):
                progress(f"{j + 1}/{len(todo)} flagged items {time.perf_counter() - t0:.0f}s")


def read_tries(out: str | Path) -> list[dict[str, Any]]:
    seen = {}
    for f in sorted(Path(out).glob("tries.*.jsonl")):
        for line in f.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                seen[key(r)] = r
    return [seen[k] for k in sorted(seen)]



# ---------------------------------------------------------------------- replay and summary

POLICIES = ("loop", "loop_verifier_check", "best_of_n_seeds")


def replay(bases: list[dict[str, Any]], tries: list[dict[str, Any]], policy: str,
           threshold: float, max_tries: int) -> list[dict[str, Any]]:
    """One row per item: what ``policy`` ends with, run through :func:`adaptive.decide` on
    the recorded probabilities.  ``loop``: the learned check and the predictor's
    interventions; ``loop_verifier_check``: the same with the verifier reading the previews
    (an upper bound); ``best_of_n_seeds``: the learned check, fresh seeds instead of
    interventions (selection among samples, no intervention)."""
    if policy not in POLICIES:
        raise ValueError(f"policy: {policy!r} is not one of {POLICIES}")
    pkey = "p_verifier" if policy == "loop_verifier_check" else "p"
    rec = {key(t): t for t in tries}
    rows = []
    for b in bases:
        t = rec.get(key(b))
        base_ok = bool(b["physics"] and b["texture"])
        out = {k: b[k] for k in ("split", "category", "index", "seed", "prompt")}
        out.update(policy=policy, base_joint=base_ok, base_calls=b["model_calls"],
                   base_wall=b["wall_s"])
        if t is None:
            if adaptive.joint(b[pkey]) < threshold:
                raise ValueError(f"replay: item {key(b)} is flagged at threshold {threshold} "
                                 f"but its tries were not recorded (FLAG_MAX {FLAG_MAX})")
            out.update(joint=base_ok, physics=b["physics"], texture=b["texture"], kept="none",
                       n_tries=0, calls=b["model_calls"], wall=b["wall_s"] + b["check_s"])
            rows.append(out)
            continue
        runs = t["seeds"] if policy == "best_of_n_seeds" else t["tries"]
        by = {r["name"]: r for r in runs}
        names = ([r["name"] for r in runs] if policy == "best_of_n_seeds" else
                 adaptive.plan(t["ranked"], b[pkey], t["allowed"]))
        names = [n for n in names if n in by]
        d = adaptive.decide(b[pkey], names, lambda i: by[names[i]][pkey], threshold,
                            max_tries)
        kept = t["base"] if d.kept < 0 else by[d.kept_name]
        used = [by[x["name"]] for x in d.tries]
        # the kept baseline's verdict is the one the check data recorded for this run
        kb = b if d.kept < 0 else kept
        scale = b["wall_s"] / max(t["base"]["wall_s"], 1e-9)   # tries timed with their base
        out.update(joint=bool(kb["physics"] and kb["texture"]), physics=kb["physics"],
                   texture=kb["texture"], kept=d.kept_name, n_tries=len(used),
                   calls=b["model_calls"] + sum(r["model_calls"] for r in used),
                   wall=b["wall_s"] + b["check_s"] * (1 + len(used))
                   + scale * sum(r["wall_s"] for r in used), reason=d.reason)
        rows.append(out)
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Joint success with its interval, the gain over the baseline (paired bootstrap), the
    repair and break rates, compute relative to the baseline (mean and p95)."""
    from ..stats import bootstrap, rate
    j = [float(r["joint"]) for r in rows]
    b = [float(r["base_joint"]) for r in rows]
    fails = [r for r in rows if not r["base_joint"]]
    oks = [r for r in rows if r["base_joint"]]
    calls = np.array([r["calls"] / r["base_calls"] for r in rows])
    wall = np.array([r["wall"] / r["base_wall"] for r in rows])
    jr = rate(j)
    return {"n": len(rows), "joint": jr["acc"], "joint_ci": [jr["lo"], jr["hi"]],
            "baseline": float(np.mean(b)),
            "gain": float(np.mean(j) - np.mean(b)),
            "gain_ci": list(bootstrap([x - y for x, y in zip(j, b)])),
            "repair": rate(r["joint"] for r in fails),
            "break": rate(not r["joint"] for r in oks),
            "calls_ratio": float(calls.mean()), "calls_p95": float(np.percentile(calls, 95)),
            "wall_ratio": float(sum(r["wall"] for r in rows) / sum(r["base_wall"] for r in rows)),
            "wall_p95": float(np.percentile(wall, 95)),
            "tried": float(np.mean([r.get("n_tries", 0) > 0 for r in rows]))}
