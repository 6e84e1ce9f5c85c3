"""LINA's early check on clips: the image check (:mod:`lina_core.check`) read frame by frame.

A video run's preview at a step is the model's predicted clean *clip* (F frames).  No check was
trained on clips: the clip data this project can afford on a CPU (a clip run is ~10-20 s) is a
few dozen runs, too few to train a CNN, so the clip check reuses the image check's weights and
reads each preview frame as a still scene: frame ``f`` beside the layout of that frame's graph
(:func:`toyworld.render.clip_frames`: the ball part-way down, the light part-way across), the
prompt's features beside it.  The per-frame probabilities are combined into one (P(physics
right), P(texture right)) for the clip (:data:`COMBINE`).

Two things about the image check do not carry over, and the clip check says which way it goes:

* the prompt embedding.  The image check was trained with the v2 image model's text encoder;
  the video model has another (the first model's), so its pooled embedding means something
  else to the check.  ``embedding = "encoder"`` feeds it anyway; ``"mean"`` replaces it by its
  training mean (the check then reads the preview, the layout and the scene-graph features).
* how frames combine: ``min`` (the clip is as wrong as its worst frame: the clip's texture
  fails when any frame's does), ``mean``, ``last`` (the settled frame), ``rest`` (physics from
  the frames where the still scene's physics holds, as the clip verifier asks it; texture the
  minimum over all frames).

The check step, the combination, the embedding and the loop's threshold are chosen on train and
dev-ood clips only (:func:`choose`, run by ``python -m lina_core bench-loop video fit``); the
test splits are reported only.  Saved beside the video model's predictor as ``check.json``
(``kind: clip-check``) and ``check.safetensors`` (the image check's weights, unchanged).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .check import EarlyCheck, auroc, auroc_ci, choose_threshold, p_joint

KIND = "clip-check"
COMBINE = ("min", "mean", "last", "rest")
EMBEDDING = ("encoder", "mean")


def combine(p: np.ndarray, how: str, category: str) -> tuple[float, float]:
    """Per-frame probabilities (F x 2: physics, texture) -> the clip's (physics, texture)."""
    from .toyworld.verify_video import physics_frames
    if how == "min":
        out = p.min(0)
    elif how == "mean":
        out = p.mean(0)
    elif how == "last":
        out = p[-1]
    elif how == "rest":
        rest = physics_frames(category, len(p)) or list(range(len(p)))
        out = np.array([p[rest, 0].min(), p[:, 1].min()])
    else:
        raise ValueError(f"combine: {how!r} is not one of {COMBINE}")
    return float(out[0]), float(out[1])


class ClipCheck(EarlyCheck):
    """The image check's nets reading a clip's preview frame by frame (module docstring)."""

    reads_clips = True
    kind = KIND

    @property
    def how(self) -> str:
        return str(self.meta.get("combine", "min"))

    @property
    def embedding(self) -> str:
        return str(self.meta.get("embedding", "encoder"))

    def applies(self, pipe: Any, graph: Any) -> bool:
        """ToyWorld clip scenes (reflection, buoyancy, shadow) on the ToyWorld video model."""
        from . import engine
        from .candidates import is_toyworld
        from .toyworld.render import CLIP_KINDS
        return (is_toyworld(graph) and graph.category in CLIP_KINDS
                and engine.family(pipe) == "toyworld_video")

    def fits(self, predictor: Any) -> bool:
        """Whether this check was set up for ``predictor``'s text encoder (the video model's:
        :attr:`meta` ``text_encoder``; its nets' own training encoder is ``trained_with``)."""
        return (predictor is not None
                and self.meta.get("text_encoder") == predictor.meta.get("text_encoder"))

    def features(self, pipe: Any, prompt: str, graph: Any) -> np.ndarray:
        """The prompt features the nets read (:attr:`embedding` decides the embedding's)."""
        from .lina import GRAPH_FEATURES, prompt_features
        f = prompt_features(pipe, prompt, graph)
        if self.embedding == "mean":
            f = f.copy()
            f[len(GRAPH_FEATURES):] = self.mu[len(GRAPH_FEATURES):]
        return f

    def frame_probabilities(self, clip: np.ndarray, feats: np.ndarray, graph: Any
                            ) -> np.ndarray:
        """F x 2 for a preview clip F x H x W x 3: each frame read beside its frame's graph."""
        from .toyworld.render import clip_frames
        graphs = clip_frames(graph, len(clip))
        return self.probabilities(np.asarray(clip), np.repeat(feats[None], len(clip), 0), graphs)

    def read_clip(self, clip: np.ndarray, feats: np.ndarray, graph: Any) -> tuple[float, float]:
        return combine(self.frame_probabilities(clip, feats, graph), self.how, graph.category)

    def reader(self, pipe: Any, prompt: str, graph: Any) -> Callable[[Any, int], tuple]:
        """``read(run, step)``: the clip's (P(physics right), P(texture right)) at ``step``."""
        feats = self.features(pipe, prompt, graph)
        return lambda run, step: self.read_clip(run.previews[step][0], feats, graph)

    @classmethod
    def from_image_check(cls, image: EarlyCheck, **meta: Any) -> "ClipCheck":
        """The image check's nets and standardisation, with the clip settings in ``meta``."""
        drop = ("cv_report", "cv_auroc", "training", "fit_seconds", "loop_chosen", "threshold",
                "loop_threshold")   # the image check's fit, kept under ``image_check``
        base = {k: v for k, v in image.meta.items() if k not in drop}
        return cls(image.nets, image.mu, image.sd,
                   {**base, "image_check": {k: image.meta.get(k) for k in (
                       "check_step", "loop_threshold", "training", "text_encoder",
                       "cv_auroc")},
                    "trained_with": image.meta.get("text_encoder"), **meta, "kind": KIND})


# ---------------------------------------------------------------------- choosing on clips


def options(steps: Sequence[int]) -> list[dict[str, Any]]:
    """Every setting :func:`choose` compares: check step x combination x embedding."""
    return [{"check_step": s, "combine": c, "embedding": e}
            for s in steps for c in COMBINE for e in EMBEDDING]


def frame_table(image: EarlyCheck, pipe: Any, clips: list[dict[str, Any]],
                steps: Sequence[int]) -> dict[tuple[int, str], list[np.ndarray]]:
    """Per (step, embedding), each clip's per-frame probabilities (F x 2).  ``clips``: dicts
    with ``previews`` (steps x F x H x W x 3), ``prompt`` and ``graph``."""
    ck = ClipCheck.from_image_check(image)
    out: dict[tuple[int, str], list[np.ndarray]] = {}
    for emb in EMBEDDING:
        ck.meta["embedding"] = emb
        feats = [ck.features(pipe, c["prompt"], c["graph"]) for c in clips]
        for s in steps:
            out[(s, emb)] = [ck.frame_probabilities(c["previews"][s], f, c["graph"])
                             for c, f in zip(clips, feats)]
    return out


def setting_probabilities(table: dict[tuple[int, str], list[np.ndarray]],
                          setting: dict[str, Any], categories: list[str]) -> np.ndarray:
    """Each clip's (P(physics right), P(texture right)) under one setting (check step,
    embedding, frame combination) of :func:`options`."""
    return np.array([combine(f, setting["combine"], c) for f, c in
                     zip(table[(setting["check_step"], setting["embedding"])], categories)])


def choose(table: dict[tuple[int, str], list[np.ndarray]], categories: list[str],
           labels: np.ndarray) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The setting with the highest AUROC for final failure on these (train / dev-ood) clips,
    ties to the earlier step (cheaper to act on), then the order of :func:`options`; the loop's
    threshold by Youden's J on its probabilities.  Returns it and every setting's score."""
    fail = ~labels.astype(bool).all(1)
    scores = []
    for o in options(sorted({s for s, _ in table})):
        p = setting_probabilities(table, o, categories)
        a = auroc(1 - p_joint(p), fail)
        scores.append({**o, "auroc": a, "auroc_ci": list(auroc_ci(1 - p_joint(p), fail)),
                       "p": p})
    best = max(scores, key=lambda s: (np.nan_to_num(s["auroc"], nan=-1), -s["check_step"]))
    chosen = {k: best[k] for k in ("check_step", "combine", "embedding", "auroc", "auroc_ci")}
    chosen["loop_threshold"] = choose_threshold(best["p"], labels)
    return chosen, [{k: v for k, v in s.items() if k != "p"} for s in scores]
