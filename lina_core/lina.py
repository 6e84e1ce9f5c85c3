"""LINA, as this project defines it (DESIGN.md section 2): a learned, prompt-specific choice of
intervention.

For a prompt and its scene graph, LINA picks one candidate of the intervention family
(:mod:`lina_core.candidates`: none, the causal completion ``c+`` for a window, a structure donor
for a window, latent guidance masked to the effect's region as the run drew it, the reallocated
schedule) or none at all.  The predictor is a ridge regression per candidate from scene-graph
features (category, hop depths, whether the attribute combination is novel, whether a donor
exists) and the pooled prompt embedding to the candidate's expected gain in joint success over
the baseline; it picks the best candidate whose predicted gain clears a threshold.

It is fitted on the candidate grid (:mod:`lina_core.grid`) of the dev-ood split (held-out
combinations disjoint from test-ood) and of train prompts (where it should learn to do nothing).
LINA sees the prompt, its graph, what the training data contained and the run's own states; never
a verdict or a ground-truth render.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from . import candidates as C
from . import compare, engine
from .csg import TOYWORLD_CATEGORIES as CATEGORIES, CausalSceneGraph, from_prompt, to_prompt
from .donors import DonorError, structure_donor
from .interventions import InterventionSpec

causal_completion = C.causal_completion
GRAPH_FEATURES = (*[f"category={c}" for c in CATEGORIES], "novel",
                  *[f"novel*{c}" for c in CATEGORIES], "donor", "max_hop", "mean_hop",
                  "n_implicit")
#: weight of a candidate's continuous physics margin in the fit target (joint success is 1)
MARGIN_WEIGHT = 0.25


def joint_ok(row: dict[str, Any]) -> bool:
    """A grid row's joint success: physics and texture right in the same sample."""
    return bool(row["physics"] and row["texture"])


def objective(row: dict[str, Any]) -> float:
    """What the fit maximises per sample: joint success plus the weighted physics margin."""
    return float(joint_ok(row)) + MARGIN_WEIGHT * row["margin"]


def graph_features(graph: CausalSceneGraph, names: tuple[str, ...] | list[str] = GRAPH_FEATURES
                   ) -> np.ndarray:
    """Scene-graph features, in the order of ``names`` (a predictor fitted when there were
    fewer categories names fewer of them; :data:`GRAPH_FEATURES` holds every one)."""
    from .toyworld.data import is_held_out
    try:
        novel = float(is_held_out(graph))
    except Exception:  # noqa: BLE001 - an open-world graph has no ToyWorld combination
        novel = 0.0
    try:
        structure_donor(graph)
        donor = 1.0
    except Exception:  # noqa: BLE001 - DonorError, or an open-world graph the lookup cannot read
        donor = 0.0
    depth = graph.hop_depths()
    deps = [depth[n] for n in graph.implicit_nodes()] or [0]
    cat = {c: float(graph.category == c) for c in CATEGORIES}
    f = {**{f"category={c}": v for c, v in cat.items()}, "novel": novel,
         **{f"novel*{c}": novel * v for c, v in cat.items()}, "donor": donor,
         "max_hop": max(deps), "mean_hop": float(np.mean(deps)),
         "n_implicit": len(graph.implicit_nodes())}
    return np.array([f[n] for n in names], np.float32)


def prompt_features(pipe: Any, prompt: str, graph: CausalSceneGraph,
                    names: tuple[str, ...] | list[str] = GRAPH_FEATURES) -> np.ndarray:
    """Scene-graph features (``names``), then the pooled prompt embedding (mean over tokens)."""
    enc = engine.default_encoder(pipe)([prompt])["prompt_embeds"]
    pooled = enc.float().mean(dim=1)[0].cpu().numpy()
    return np.concatenate([graph_features(graph, names), pooled]).astype(np.float32)


def encoder_fingerprint(pipe: Any) -> str | None:
    """A short hash of the text encoder's weights: a predictor's embedding features mean
    something only for the encoder it was fitted with (None: a pipeline with none)."""
    import hashlib
    te = getattr(pipe, "text_encoder", None)
    if te is None:
        return None
    h = hashlib.sha256()
    for name, t in sorted(te.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------- the predictor


class Predictor:
    """Ridge regression per candidate: features -> expected gain over ``none``."""

    def __init__(self, names: list[str], weights: np.ndarray, bias: np.ndarray, mu: np.ndarray,
                 sd: np.ndarray, threshold: float, meta: dict[str, Any] | None = None):
        f32 = lambda v: np.asarray(v, np.float32)  # noqa: E731  (as saved: save/load identity)
        self.names, self.weights, self.bias = list(names), f32(weights), f32(bias)
        self.mu, self.sd, self.threshold = f32(mu), f32(sd), float(threshold)
        self.meta = dict(meta or {})

    @property
    def n_features(self) -> int:
        return int(self.mu.shape[0])

    @property
    def graph_feature_names(self) -> list[str]:
        """The scene-graph features it was fitted on (older fits: fewer categories)."""
        return list(self.meta.get("graph_features", GRAPH_FEATURES))

    def features(self, pipe: Any, prompt: str, graph: CausalSceneGraph) -> np.ndarray:
        """This predictor's features for ``prompt`` on ``pipe``."""
        return prompt_features(pipe, prompt, graph, self.graph_feature_names)

    def fits(self, pipe: Any) -> str | None:
        """None if this predictor was fitted for ``pipe``'s text encoder, else why not.  The
        feature count is compared first: one short encoding, where hashing a large model's
        text encoder (SD's, FLUX's) would read all its weights; older fits name no encoder."""
        probe = "a red ball on a large round mirror"
        n = int(self.features(pipe, probe, from_prompt(probe).graph).shape[0])
        if n != self.n_features:
            return (f"it expects {self.n_features} features, this model gives {n} (it was "
                    f"fitted for another text encoder)")
        want = self.meta.get("text_encoder")
        have = encoder_fingerprint(pipe) if want is not None else want
        return None if have == want else (f"it was fitted for text encoder {want}, this "
                                          f"model's is {have}")

    def gains(self, feats: np.ndarray) -> dict[str, float]:
        z = (feats - self.mu) / self.sd
        return {n: float(z @ self.weights[i] + self.bias[i]) for i, n in enumerate(self.names)}

    def choose(self, feats: np.ndarray, allowed: list[str]) -> tuple[str, dict[str, float]]:
        """The allowed candidate with the highest predicted gain, or ``none`` below threshold."""
        g = self.gains(feats)
        options = [n for n in self.names if n in allowed and n != "none"]
        best = max(options, key=lambda n: g[n], default="none")
        return (best if best != "none" and g[best] > self.threshold else "none"), g

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        t = {k: torch.from_numpy(np.ascontiguousarray(v, np.float32)) for k, v in
             (("weights", self.weights), ("bias", self.bias), ("mu", self.mu), ("sd", self.sd))}
        save_file(t, folder / "predictor.safetensors")
        meta = dict(self.meta, kind="candidate-choice", candidates=self.names,
                    threshold=self.threshold, n_features=self.n_features,
                    graph_features=self.graph_feature_names)
        (folder / "predictor.json").write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, folder: str | Path) -> "Predictor":
        folder = Path(folder)
        meta = json.loads((folder / "predictor.json").read_text())
        if meta.get("kind") != "candidate-choice":
            raise ValueError(f"predictor: {folder} holds an older kind of predictor; refit it "
                             f"with `python -m lina_core fit`")
        t = {k: v.numpy() for k, v in load_file(folder / "predictor.safetensors").items()}
        return cls(meta["candidates"], t["weights"], t["bias"], t["mu"], t["sd"],
                   meta["threshold"], meta)


def ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """Weights and bias minimising ``|x w + b - y|^2 + alpha |w|^2`` (x standardised)."""
    if len(y) == 0:
        return np.zeros(x.shape[1]), 0.0
    xm, ym = x.mean(0), float(y.mean())
    xc = x - xm
    w = np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ (y - ym))
    return w, ym - float(xm @ w)


def train_predictor(feats: np.ndarray, gains: np.ndarray, avail: np.ndarray, names: list[str],
                    alpha: float, threshold: float, embed_scale: float = 0.1,
                    meta: dict[str, Any] | None = None) -> Predictor:
    """One ridge per candidate on the prompts where it applies.  The prompt-embedding features
    are scaled by ``embed_scale`` after standardising, so they refine rather than dominate."""
    mu = feats.mean(0)
    sd = feats.std(0)
    sd = np.where(sd < 1e-6, 1.0, sd)
    ng = len(GRAPH_FEATURES)
    sd[ng:] = sd[ng:] / embed_scale
    z = (feats - mu) / sd
    w = np.zeros((len(names), feats.shape[1]))
    b = np.zeros(len(names))
    for i in range(len(names)):
        m = avail[:, i]
        w[i], b[i] = ridge(z[m], gains[m, i], alpha)
    return Predictor(names, w, b, mu, sd, threshold, meta)


# ---------------------------------------------------------------------- fitting


def fit_table(rows: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    """Group grid rows by prompt: per prompt and candidate the mean joint success, margin, and
    the fit target (gain over ``none``)."""
    by: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for r in rows:
        by.setdefault(r["prompt"], {}).setdefault(r["candidate"], []).append(r)
    prompts = sorted(by)
    joint = np.full((len(prompts), len(names)), np.nan)
    target = np.zeros_like(joint)
    for i, p in enumerate(prompts):
        for j, n in enumerate(names):
            rs = by[p].get(n)
            if rs:
                joint[i, j] = np.mean([joint_ok(r) for r in rs])
                target[i, j] = np.mean([objective(r) for r in rs])
    target = target - target[:, [names.index("none")]]
    cats = {p: by[p]["none"][0]["category"] for p in prompts}
    splits = {p: by[p]["none"][0]["split"] for p in prompts}
    return {"prompts": prompts, "joint": joint, "target": target, "avail": ~np.isnan(joint),
            "category": [cats[p] for p in prompts], "split": [splits[p] for p in prompts]}


def _groups(table: dict[str, Any]) -> list[str]:
    """Cross-validation groups: a prompt's category and split (so a fold holds out whole
    held-out parts, as test-ood holds out combinations the fit never saw)."""
    return [f"{c}/{s}" for c, s in zip(table["category"], table["split"])]


def choose_hyper(feats: np.ndarray, table: dict[str, Any], names: list[str],
                 alphas=(1.0, 10.0, 100.0), thresholds=(0.0, 0.05, 0.1, 0.2)
                 ) -> tuple[float, float, dict[str, float]]:
    """Ridge strength and threshold by leave-one-group-out joint success on the fit set."""
    groups = np.array(_groups(table))
    scores = {}
    for a in alphas:
        for t in thresholds:
            got = []
            for gname in sorted(set(groups)):
                tr, te = groups != gname, groups == gname
                pred = train_predictor(feats[tr], table["target"][tr], table["avail"][tr],
                                       names, a, t)
                for i in np.nonzero(te)[0]:
                    ok = [n for j, n in enumerate(names) if table["avail"][i, j]]
                    c, _ = pred.choose(feats[i], ok)
                    got.append(table["joint"][i, names.index(c)])
            scores[f"alpha={a},threshold={t}"] = float(np.mean(got))
    best = max(scores, key=scores.get)
    a, t = (float(kv.split("=")[1]) for kv in best.split(","))
    return a, t, scores


def fit(pipe: Any, rows: list[dict[str, Any]], out: str | Path | None = None
        ) -> tuple[Predictor, dict[str, Any]]:
    """Fit the predictor on grid rows of dev-ood and train (never test-ood)."""
    if any(r["split"] == "test-ood" for r in rows):
        raise ValueError("fit: rows from test-ood are reported only, never fitted on")
    t0 = time.perf_counter()
    names = [c.name for c in C.FAMILY if any(r["candidate"] == c.name for r in rows)]
    table = fit_table(rows, names)
    feats = np.stack([prompt_features(pipe, p, from_prompt(p).graph)
                      for p in table["prompts"]])
    alpha, thr, cv = choose_hyper(feats, table, names)
    mean_joint = np.nanmean(np.where(table["avail"], table["joint"], np.nan), 0)
    report = {
        "fit_seconds": 0.0, "n_prompts": len(table["prompts"]), "n_rows": len(rows),
        "splits": sorted(set(table["split"])), "candidates": names,
        "alpha": alpha, "threshold": thr, "cv_joint_success": cv,
        "mean_joint_by_candidate": dict(zip(names, [float(x) for x in mean_joint])),
        "best_fixed": best_fixed(rows, names),
        "prompts": table["prompts"], "categories": table["category"],
    }
    pred = train_predictor(feats, table["target"], table["avail"], names, alpha, thr,
                           meta={"training": {k: report[k] for k in (
                               "n_prompts", "n_rows", "splits", "alpha", "threshold",
                               "best_fixed")}, "text_encoder": encoder_fingerprint(pipe),
                               "graph_features": list(GRAPH_FEATURES)})
    report["fit_seconds"] = time.perf_counter() - t0
    if out is not None:
        pred.save(out)
        (Path(out) / "fit_report.json").write_text(json.dumps(report, indent=1))
    return pred, report


def best_fixed(rows: list[dict[str, Any]], names: list[str]) -> str:
    """The one candidate with the best mean joint success over the dev-ood rows (a candidate
    that does not apply to a prompt counts as ``none`` there)."""
    dev = [r for r in rows if r["split"] == "dev-ood"] or rows
    base = {(r["prompt"], r["index"], r["seed"]): r for r in dev if r["candidate"] == "none"}
    best, score = "none", -1.0
    for n in names:
        cell = {(r["prompt"], r["index"], r["seed"]): r for r in dev if r["candidate"] == n}
        s = np.mean([joint_ok(cell.get(k) or b) for k, b in base.items()])
        if s > score + 1e-12:
            best, score = n, float(s)
    return best


# ---------------------------------------------------------------------- the sampler


@dataclass
class Choice:
    """What LINA runs for a prompt, and why."""
    candidate: str
    spec: InterventionSpec
    why: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"candidate": self.candidate, "spec": self.spec.to_dict(), "why": self.why}


@dataclass
class LinaResult:
    baseline: np.ndarray
    lina: np.ndarray
    choice: Choice
    baseline_record: dict[str, Any]
    lina_record: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    #: per step, the predicted clean image of each run (ToyWorld; empty for VAE models)
    baseline_previews: list[np.ndarray] = field(default_factory=list)
    lina_previews: list[np.ndarray] = field(default_factory=list)
    #: the loop's runs, baseline first, each as the check read it: ``name``, ``checked_at``
    #: (its check step), ``preview`` (the predicted clean image there, N x H x W x 3 uint8;
    #: None for VAE models, whose previews are not kept), ``image`` (its final picture),
    #: ``p`` and ``passed``, ``kept``, ``model_calls`` (and, for a try, ``wall_s``); empty
    #: when LINA made one choice before the run
    tries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def spec(self) -> InterventionSpec:
        return self.choice.spec


def _loop_runs(base: Any, runs: list[Any], d: Any, step: int, walls: list[float] | None = None
               ) -> list[dict[str, Any]]:
    """:attr:`LinaResult.tries`: the baseline and each try as the loop's check read them, with
    each try's model calls and wall time (what the loop spent on it)."""
    from .adaptive import joint

    def entry(name, run, p, passed, at, kept):
        prev = run.previews[at] if at < len(run.previews) else None
        return {"name": name, "checked_at": at, "preview": prev, "image": run.images[:1],
                "p": [float(x) for x in p], "passed": passed, "kept": kept,
                "model_calls": int(run.model_calls)}
    out = [entry("baseline", base, d.base_p, joint(d.base_p) >= d.threshold, step, d.kept < 0)]
    for i, (t, run) in enumerate(zip(d.tries, runs)):
        out.append(entry(t["name"], run, t["p"], t["passed"], t.get("checked_at", step),
                         d.kept == i))
        if walls is not None and i < len(walls):
            out[-1]["wall_s"] = walls[i]
    return out


def explain(cand: C.Candidate, graph: CausalSceneGraph, steps: int) -> dict[str, Any]:
    """The human-readable part of a choice: the donor, the window, the mask node (each op's
    :meth:`candidates.Op.explain`)."""
    return C.OPS[cand.op].explain(cand, graph, steps)


#: what LINA runs on an open-world scene when asked to choose (:meth:`LinaSampler.choose`)
OPEN_WORLD_DEFAULT = "cplus_half"


class LinaSampler:
    """Baseline and LINA from the same initial noise, with the choice made and why.

    With a learned ``check`` (:class:`lina_core.check.EarlyCheck`) LINA is the loop of
    :mod:`lina_core.adaptive` on ToyWorld scenes (and on ToyWorld clips with a check that reads
    clips, :class:`lina_core.clip_check.ClipCheck`): it reads the run's own preview at the check
    step, leaves a run the check expects to come out right alone (LINA's picture is then the
    baseline's), and otherwise tries the predictor's interventions in turn.  Without one, or
    when a candidate is given, it runs the one choice :meth:`choose` makes before the run."""

    def __init__(self, pipe: Any, predictor: Predictor | None = None, steps: int = 25,
                 guidance_scale: float = 3.0, check: Any = None):
        self.pipe, self.predictor, self.check = pipe, predictor, check
        self.steps, self.guidance_scale = steps, guidance_scale

    def choose(self, prompt: str, graph: CausalSceneGraph, candidate: str | None = None
               ) -> Choice:
        """The predictor's choice for ``prompt`` (or ``candidate``, if given).  On an open-world
        scene the predictor (fitted on ToyWorld scenes), donors and layout masks do not apply:
        LINA then runs :data:`OPEN_WORLD_DEFAULT`, c+ from the open graph for the early steps."""
        allowed = [c.name for c in C.available(graph)]
        toy = C.is_toyworld(graph)
        why: dict[str, Any] = {"category": graph.category, "hop_depths": graph.hop_depths(),
                               "implicit_nodes": graph.implicit_nodes(), "available": allowed}
        if toy:
            names = self.predictor.graph_feature_names if self.predictor else GRAPH_FEATURES
            why["graph_features"] = dict(zip(names, graph_features(graph, names).tolist()))
        if candidate is not None:
            C.get(candidate)
            if candidate not in allowed:
                where = "this scene" if toy else ("this open-world scene (donors and guidance "
                                                  "masks need ToyWorld)")
                raise DonorError(f"candidate: {candidate!r} does not apply to {where}; "
                                 f"allowed here: {allowed}")
            why["source"] = "chosen by hand"
        elif not toy:
            candidate = OPEN_WORLD_DEFAULT
            why["source"] = ("open-world default (the predictor is fitted on ToyWorld scenes): "
                             "c+ from the open graph for the early steps")
        elif self.predictor is None:
            candidate, why["source"] = "none", "no predictor: no intervention"
        else:
            feats = self.predictor.features(self.pipe, prompt, graph)
            candidate, gains = self.predictor.choose(feats, allowed)
            why.update(source="predictor", threshold=self.predictor.threshold,
                       predicted_gain={k: round(v, 4) for k, v in gains.items() if k in allowed})
        cand = C.get(candidate)
        why["intervention"] = explain(cand, graph, self.steps)
        spec = C.spec_for(cand, prompt, graph, self.steps, 0, self.guidance_scale)
        return Choice(candidate, spec, why)

    def __call__(self, prompt: str | None = None, graph: CausalSceneGraph | None = None,
                 seed: int = 0, candidate: str | None = None, batch: int = 1,
                 frames: int | None = None, height: int | None = None,
                 width: int | None = None) -> LinaResult:
        """Baseline and LINA (``frames``: clip length, for video pipelines; ``height``/``width``
        for families that take a size, ToyWorld draws at its own)."""
        if graph is None:
            if prompt is None:
                raise ValueError("prompt / graph: give at least one")
            graph = from_prompt(prompt).graph
        prompt = prompt or to_prompt(graph)
        size = dict(frames=frames, height=height, width=width)
        if self.adapts(graph, candidate, batch, frames):
            return self._loop(prompt, graph, seed, size)
        t0 = time.perf_counter()
        choice = self.choose(prompt, graph, candidate)
        choice.spec.seed = seed
        t1 = time.perf_counter()
        base_spec = InterventionSpec(prompt=prompt, steps=self.steps, seed=seed,
                                     guidance_scale=self.guidance_scale, graph=graph.to_dict())
        base = engine.run(self.pipe, base_spec, seed=seed, batch=batch, previews=True, **size)
        t2 = time.perf_counter()
        # the same noise; prompt-space candidates differ from step 0, guided ones start from
        # the baseline's cached steps
        lina = compare.branch(self.pipe, choice.spec, base, seed=seed, batch=batch,
                              previews=True, **size)
        t3 = time.perf_counter()
        return LinaResult(base.images, lina.images, choice, base.record, lina.record,
                          {"choose_s": t1 - t0, "baseline_s": t2 - t1, "lina_s": t3 - t2},
                          base.previews, lina.previews)

    def adapts(self, graph: CausalSceneGraph, candidate: str | None, batch: int = 1,
               frames: int | None = None) -> bool:
        """Whether a call runs the loop: a check is attached, LINA chooses, one sample (a still
        image, or a clip where the check reads clips), and the check reads this scene on this
        model (the learned check: ToyWorld scenes; the clip check: ToyWorld clips on the
        video model; the attention check: models whose attention is recorded)."""
        return (self.check is not None and candidate is None and batch == 1
                and (frames is None or getattr(self.check, "reads_clips", False))
                and self.check.applies(self.pipe, graph))

    def _ranked(self, prompt: str, graph: CausalSceneGraph, allowed: list[str]
                ) -> tuple[list[str], dict[str, float]]:
        """The loop's candidates, best first, and the predicted gains they were ranked by: the
        predictor's ranking on a ToyWorld scene; on an open-world one (the predictor is fitted
        on ToyWorld scenes; no gains) :data:`OPEN_WORLD_DEFAULT` first, then the others in the
        family's order."""
        from . import adaptive
        if self.predictor is not None and C.is_toyworld(graph):
            gains = adaptive.predictor_gains(self.predictor, self.pipe, prompt, graph, allowed)
            return adaptive.ranked_candidates(gains), gains
        first = [OPEN_WORLD_DEFAULT] if OPEN_WORLD_DEFAULT in allowed else []
        return first + [n for n in allowed if n not in first and n != "none"], {}

    def _loop(self, prompt: str, graph: CausalSceneGraph, seed: int,
              size: dict[str, Any]) -> LinaResult:
        """The adaptive loop (:mod:`lina_core.adaptive`), live: the baseline, then
        :meth:`adapt`."""
        t0 = time.perf_counter()
        base = engine.run(self.pipe, self.baseline_spec(prompt, graph, seed), seed=seed,
                          **self.run_kwargs(size))
        return self.adapt(base, prompt, graph, seed, size, time.perf_counter() - t0)

    def baseline_spec(self, prompt: str, graph: CausalSceneGraph, seed: int) -> InterventionSpec:
        return InterventionSpec(prompt=prompt, steps=self.steps, seed=seed,
                                guidance_scale=self.guidance_scale, graph=graph.to_dict())

    def run_kwargs(self, size: dict[str, Any]) -> dict[str, Any]:
        """What every run of the loop records (previews, and what the check reads)."""
        return dict(previews=True, **self.check.run_kwargs, **size)

    def adapt(self, base: Any, prompt: str, graph: CausalSceneGraph, seed: int,
              size: dict[str, Any], baseline_s: float = 0.0) -> LinaResult:
        """The loop after its baseline run ``base`` (:meth:`baseline_spec`, recorded with
        :meth:`run_kwargs`): check, and intervene where the check expects a wrong result.  The
        benchmark calls this with the baseline it keeps, so it measures the live code."""
        from . import adaptive
        base_spec = self.baseline_spec(prompt, graph, seed)
        rec = self.run_kwargs(size)
        t1 = time.perf_counter()
        step = self.check.step_for(self.steps)
        read = self.check.reader(self.pipe, prompt, graph)
        base_p = read(base, step)
        allowed = [c.name for c in C.available(graph)]
        ranked, gains = self._ranked(prompt, graph, allowed)
        names = adaptive.plan(ranked, base_p, allowed)
        runs: list[Any] = []
        walls: list[float] = []

        def try_fn(i: int):
            spec = C.spec_for(C.get(names[i]), prompt, graph, self.steps, seed,
                              self.guidance_scale)
            t = time.perf_counter()
            runs.append((spec, compare.branch(self.pipe, spec, base, seed=seed, **rec)))
            walls.append(time.perf_counter() - t)
            return read(runs[-1][1], adaptive.try_step(names[i], step, self.steps))

        d = adaptive.decide(base_p, names, try_fn, self.check.loop_threshold,
                            self.check.max_tries, lambda n: adaptive.try_step(n, step, self.steps))
        t2 = time.perf_counter()
        kept = d.kept_name
        spec, lina = (base_spec, base) if d.kept < 0 else runs[d.kept]
        why: dict[str, Any] = {"category": graph.category, "source": "adaptive loop",
                               "available": allowed, "check": self.check.kind,
                               "check_step": step, "loop": d.to_dict(),
                               "reason": adaptive.describe(d, step),
                               "intervention": explain(C.get(kept), graph, self.steps)}
        if self.check.kind == "attention":
            from .attention_check import NOT_MEASURED
            why["attention_tests"] = self.check.readings
            why["reason"] += f" ({NOT_MEASURED})"
        elif self.predictor is not None:
            why["predicted_gain"] = {k: round(v, 4) for k, v in gains.items()}
        return LinaResult(base.images, lina.images, Choice(kept, spec, why), base.record,
                          lina.record, {"choose_s": 0.0, "baseline_s": baseline_s,
                                        "lina_s": t2 - t1}, base.previews, lina.previews,
                          _loop_runs(base, [r for _, r in runs], d, step, walls))
