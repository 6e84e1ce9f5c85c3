"""LINA, as this project defines it (DESIGN.md section 2): learned prompt-specific interventions.

For a prompt ``c`` and its causal completion ``c+`` (the scene graph's implicit effects stated):

* prompt-space guidance: condition on ``c + lambda_p (c+ - c)`` for steps ``[0, k)``, then on ``c``;
* latent-space guidance: add ``w_l * M * (eps(x, c+) - eps(x, c))`` in the same window;
* a reallocated schedule with a share ``rho`` of the steps in the high-noise phase (``rho = 0``
  keeps the scheduler's own schedule);
* a small MLP predicts ``(lambda_p, w_l, k, rho)`` from the pooled prompt embedding and scene-graph
  features, fitted on the best parameters found per training prompt against the verifier.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from . import engine
from .csg import CATEGORIES, CausalSceneGraph, from_prompt, to_prompt
from .interventions import InterventionSpec, LatentGuidance, PromptEdit, ScheduleSpec

#: search ranges; k is a fraction of the steps (so parameters transfer across step counts)
RANGES: dict[str, tuple[float, float]] = {
    "lambda_p": (0.0, 1.5), "w_l": (0.0, 3.0), "k_frac": (0.0, 0.6), "rho": (0.0, 0.8)}
PARAM_NAMES = tuple(RANGES)


@dataclass
class LinaParams:
    lambda_p: float = 0.0
    w_l: float = 0.0
    k_frac: float = 0.0
    rho: float = 0.0

    def k(self, steps: int) -> int:
        return int(round(self.k_frac * steps))

    def clipped(self) -> "LinaParams":
        return LinaParams(**{n: float(np.clip(getattr(self, n), *RANGES[n]))
                             for n in PARAM_NAMES})

    def vector(self) -> np.ndarray:
        return np.array([getattr(self, n) for n in PARAM_NAMES], np.float32)

    @classmethod
    def from_vector(cls, v: Any) -> "LinaParams":
        return cls(*[float(x) for x in v]).clipped()

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def causal_completion(graph: CausalSceneGraph) -> str:
    """``c+``: the prompt with every implicit effect stated."""
    return to_prompt(graph, explicit=True)


def lina_spec(prompt: str, graph: CausalSceneGraph, params: LinaParams, steps: int = 25,
              seed: int = 0, guidance_scale: float = 3.0, use_mask: bool = False
              ) -> InterventionSpec:
    """The intervention spec that realises ``params`` for ``prompt``."""
    p = params.clipped()
    k = p.k(steps)
    c_plus = causal_completion(graph)
    edits, lg = [], None
    if k > 0 and p.lambda_p > 0:
        edits.append(PromptEdit("interpolate", start=0, end=k, strength=p.lambda_p,
                                target_prompt=c_plus))
    if k > 0 and p.w_l > 0:
        implicit = [n for n in graph.implicit_nodes() if graph.node(n)["box"] is not None]
        lg = LatentGuidance(target_prompt=c_plus, weight=p.w_l, start=0, end=k,
                            mask_node=implicit[0] if (use_mask and implicit) else "")
    sched = ScheduleSpec("reallocated", rho=p.rho) if p.rho > 0 else ScheduleSpec()
    return InterventionSpec(prompt=prompt, steps=steps, guidance_scale=guidance_scale,
                            seed=seed, edits=edits, latent_guidance=lg, schedule=sched,
                            graph=graph.to_dict())


# ---------------------------------------------------------------------- features and predictor


def graph_features(graph: CausalSceneGraph) -> np.ndarray:
    depth = graph.hop_depths()
    implicit = graph.implicit_nodes()
    onehot = [1.0 if graph.category == c else 0.0 for c in CATEGORIES]
    deps = [depth[n] for n in implicit] or [0]
    return np.array(onehot + [max(deps), float(np.mean(deps)), len(implicit)], np.float32)


def prompt_features(pipe: Any, prompt: str, graph: CausalSceneGraph) -> np.ndarray:
    """Pooled prompt embedding (mean over tokens) + scene-graph features."""
    enc = engine.default_encoder(pipe)([prompt])["prompt_embeds"]
    pooled = enc.float().mean(dim=1)[0].cpu().numpy()
    return np.concatenate([pooled, graph_features(graph)]).astype(np.float32)


class Predictor(torch.nn.Module):
    """An MLP from prompt features to LINA parameters (outputs squashed into RANGES)."""

    def __init__(self, n_in: int, hidden: int = 64):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(n_in, hidden), torch.nn.SiLU(),
                                       torch.nn.Linear(hidden, hidden), torch.nn.SiLU(),
                                       torch.nn.Linear(hidden, len(PARAM_NAMES)))
        self.register_buffer("mu", torch.zeros(n_in))
        self.register_buffer("sd", torch.ones(n_in))
        self.register_buffer("lo", torch.tensor([RANGES[n][0] for n in PARAM_NAMES]))
        self.register_buffer("hi", torch.tensor([RANGES[n][1] for n in PARAM_NAMES]))
        self.meta: dict[str, Any] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.sigmoid(self.net((x - self.mu) / self.sd))
        return self.lo + (self.hi - self.lo) * z

    def predict(self, feats: np.ndarray) -> LinaParams:
        with torch.no_grad():
            return LinaParams.from_vector(self(torch.from_numpy(feats)[None])[0].numpy())

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.state_dict().items()},
                  folder / "predictor.safetensors")
        meta = dict(self.meta, n_in=int(self.mu.numel()), hidden=self.net[0].out_features,
                    params=list(PARAM_NAMES), ranges=RANGES)
        (folder / "predictor.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, folder: str | Path) -> "Predictor":
        folder = Path(folder)
        meta = json.loads((folder / "predictor.json").read_text())
        p = cls(meta["n_in"], meta["hidden"])
        p.load_state_dict(load_file(folder / "predictor.safetensors"))
        p.meta = meta
        return p.eval()


def train_predictor(feats: np.ndarray, targets: np.ndarray, epochs: int = 600, seed: int = 0,
                    weight_decay: float = 1e-3) -> Predictor:
    torch.manual_seed(seed)
    x = torch.from_numpy(feats).float()
    y = torch.from_numpy(targets).float()
    p = Predictor(x.shape[1])
    p.mu.copy_(x.mean(0))
    p.sd.copy_(x.std(0).clamp_min(1e-3))
    opt = torch.optim.AdamW(p.net.parameters(), lr=3e-3, weight_decay=weight_decay)
    scale = (p.hi - p.lo).clamp_min(1e-6)
    for _ in range(epochs):
        loss = (((p(x) - y) / scale) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    p.meta["train_loss"] = loss.item()
    return p.eval()


# ---------------------------------------------------------------------- the sampler


@dataclass
class LinaResult:
    baseline: np.ndarray
    lina: np.ndarray
    params: LinaParams
    features: dict[str, Any]
    spec: InterventionSpec
    baseline_record: dict[str, Any]
    lina_record: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)


class LinaSampler:
    """Baseline and LINA from the same initial noise, with the parameters used and why."""

    def __init__(self, pipe: Any, predictor: Predictor | None = None, steps: int = 25,
                 guidance_scale: float = 3.0):
        self.pipe, self.predictor = pipe, predictor
        self.steps, self.guidance_scale = steps, guidance_scale

    def params_for(self, prompt: str, graph: CausalSceneGraph) -> tuple[LinaParams,
                                                                         dict[str, Any]]:
        feats = prompt_features(self.pipe, prompt, graph)
        why = {"category": graph.category, "hop_depths": graph.hop_depths(),
               "implicit_nodes": graph.implicit_nodes(),
               "graph_features": graph_features(graph).tolist(),
               "causal_completion": causal_completion(graph)}
        if self.predictor is None:
            return LinaParams(), dict(why, source="no predictor: zero intervention")
        return self.predictor.predict(feats), dict(why, source="predictor")

    def __call__(self, prompt: str | None = None, graph: CausalSceneGraph | None = None,
                 seed: int = 0, params: LinaParams | None = None, batch: int = 1,
                 frames: int | None = None) -> LinaResult:
        """Baseline and LINA (``frames``: clip length, for video pipelines)."""
        if graph is None:
            if prompt is None:
                raise ValueError("prompt / graph: give at least one")
            graph = from_prompt(prompt).graph
        prompt = prompt or to_prompt(graph)
        why: dict[str, Any]
        if params is None:
            params, why = self.params_for(prompt, graph)
        else:
            why = {"source": "given", "causal_completion": causal_completion(graph)}
        spec = lina_spec(prompt, graph, params, self.steps, seed, self.guidance_scale)
        base_spec = InterventionSpec(prompt=prompt, steps=self.steps, seed=seed,
                                     guidance_scale=self.guidance_scale, graph=graph.to_dict())
        t0 = time.perf_counter()
        base = engine.run(self.pipe, base_spec, seed=seed, batch=batch, previews=False,
                          frames=frames)
        t1 = time.perf_counter()
        # the same noise; the trajectory cache applies when the schedule is the baseline's
        cache = base.trajectory if spec.schedule.kind == "uniform" else None
        if spec.is_baseline():
            lina = base
        else:
            lina = engine.run(self.pipe, spec, seed=seed, batch=batch, cache=cache,
                              previews=False, frames=frames)
        t2 = time.perf_counter()
        return LinaResult(base.images, lina.images, params, why, spec, base.record, lina.record,
                          {"baseline_s": t1 - t0, "lina_s": t2 - t1})


# ---------------------------------------------------------------------- fitting


def candidates(n: int, seed: int = 0) -> list[LinaParams]:
    """The zero intervention plus ``n`` random parameter sets drawn uniformly from RANGES."""
    rng = np.random.default_rng(seed)
    out = [LinaParams()]
    for _ in range(n):
        lam, w, kf = (float(rng.uniform(*RANGES[k])) for k in ("lambda_p", "w_l", "k_frac"))
        # half the candidates keep the scheduler's schedule (rho = 0: uniform, and the trajectory
        # cache applies); the rest move 40-80% of the steps above the structure split
        rho = 0.0 if rng.random() < 0.5 else float(rng.uniform(0.4, RANGES["rho"][1]))
        out.append(LinaParams(lam, w, kf, rho))
    return out


def objective(physics: float, texture_lost: float, drift_weight: float = 1.0) -> float:
    """Physics accuracy minus a penalty for texture the baseline had and the variant lost."""
    return physics - drift_weight * texture_lost


def evaluate_params(pipe: Any, graph: CausalSceneGraph, prompt: str, params: LinaParams,
                    seeds: list[int], base_images: dict[int, Any],
                    base_texture_ok: dict[int, bool], steps: int = 25) -> dict[str, Any]:
    """Physics / texture / drift of one parameter set on one prompt, over ``seeds``.

    ``base_images`` are the baseline runs per seed, ``base_texture_ok`` their texture verdicts
    (judged once per prompt, not once per candidate).
    """
    from .toyworld.verify_video import judge
    phys, tex, lost, drift, calls, wall = [], [], [], [], 0, 0.0
    for s in seeds:
        base = base_images[s]
        spec = lina_spec(prompt, graph, params, steps, s)
        t0 = time.perf_counter()
        if spec.is_baseline():
            im, c = base.images[0], base.model_calls
        else:
            r = engine.run(pipe, spec, seed=s, previews=False,
                           cache=base.trajectory if spec.schedule.kind == "uniform" else None)
            im, c = r.images[0], r.model_calls + (
                0 if spec.schedule.kind != "uniform" else
                r.record["started_at_step"] * (base.model_calls // steps))
        wall += time.perf_counter() - t0
        v = judge(im, graph)
        phys.append(v.physics_ok)
        tex.append(v.texture_ok)
        lost.append(base_texture_ok[s] and not v.texture_ok)
        drift.append(float(np.abs(im.astype(np.float32) - base.images[0]).mean() / 255))
        calls += c
    return {"physics": float(np.mean(phys)), "texture": float(np.mean(tex)),
            "texture_lost": float(np.mean(lost)), "drift": float(np.mean(drift)),
            "model_calls": calls, "wall_s": wall}


def fit(pipe: Any, n_per_category: int = 5, n_candidates: int = 12, seeds: tuple = (0, 1, 2),
        steps: int = 25, out: str | Path | None = None, search_seed: int = 0,
        progress=print) -> tuple[Predictor, dict[str, Any]]:
    """Search parameters per training prompt, then regress the best ones from prompt features."""
    from .probes import scenes
    from .toyworld.verify_video import judge
    t0 = time.perf_counter()
    cands = candidates(n_candidates, search_seed)
    train = scenes("train", n_per_category, video=engine.family(pipe) == "toyworld_video")
    scores = np.zeros((len(train), len(cands)))
    details: list[list[dict[str, Any]]] = []
    feats = []
    for i, s in enumerate(train):
        prompt = s.caption(False)
        base = {sd: engine.run(pipe, InterventionSpec(prompt=prompt, steps=steps), seed=sd,
                               previews=False) for sd in seeds}
        base_tex = {sd: judge(b.images[0], s.graph).texture_ok for sd, b in base.items()}
        row = []
        for j, p in enumerate(cands):
            r = evaluate_params(pipe, s.graph, prompt, p, list(seeds), base, base_tex, steps)
            scores[i, j] = objective(r["physics"], r["texture_lost"])
            row.append(r)
        details.append(row)
        feats.append(prompt_features(pipe, prompt, s.graph))
        progress(f"fit {i + 1}/{len(train)} [{s.category}] best "
                 f"{scores[i].max():.2f} (zero {scores[i, 0]:.2f}) "
                 f"{time.perf_counter() - t0:.0f}s")
    # ties go to the weakest intervention: sort candidates by total strength
    strength = np.array([p.lambda_p + p.w_l + p.rho for p in cands])
    best = [int(np.lexsort((strength, -scores[i]))[0]) for i in range(len(train))]
    mean = scores.mean(0)
    best_fixed = int(np.lexsort((strength, -mean))[0])
    targets = np.stack([cands[b].vector() for b in best])
    pred = train_predictor(np.stack(feats), targets)
    fit_s = time.perf_counter() - t0
    report = {
        "fit_seconds": fit_s, "n_prompts": len(train), "seeds": list(seeds), "steps": steps,
        "candidates": [c.to_dict() for c in cands], "scores": scores.tolist(),
        "best_per_prompt": best, "best_fixed": cands[best_fixed].to_dict(),
        "best_fixed_mean_objective": float(mean[best_fixed]),
        "zero_mean_objective": float(mean[0]),
        "oracle_mean_objective": float(scores.max(1).mean()),
        "prompts": [s.caption(False) for s in train],
        "categories": [s.category for s in train],
    }
    pred.meta.update({"inputs": "mean-pooled prompt_embeds (dim "
                      f"{feats[0].shape[0] - 8}) + category one-hot (5) + max hop, mean hop, "
                      "number of implicit nodes", "training": {k: report[k] for k in (
                          "fit_seconds", "n_prompts", "seeds", "steps", "prompts",
                          "best_per_prompt", "best_fixed")},
                      "candidates": report["candidates"]})
    if out is not None:
        pred.save(out)
        (Path(out) / "fit_report.json").write_text(json.dumps(report, indent=1))
    return pred, report
