"""Running the ToyWorld verifiers (still and clip) for display: CPU-only and fast, so no queue
slot."""
from __future__ import annotations

from typing import Any

import numpy as np

from lina_core.csg import TOYWORLD_CATEGORIES, RELATIONAL_CATEGORIES, CausalSceneGraph
from lina_core.pipelines.registry import ALLOWLIST

from .widgets import log


def no_verifier(why: str) -> dict[str, Any]:
    """The verdict where there is no verifier to ask: shown as "no verifier" and why, not as
    an error."""
    return {"no_verifier": why}


def verifier_missing(graph: CausalSceneGraph | dict[str, Any] | None,
                     model_key: str | None = None,
                     categories: tuple[str, ...] | None = None) -> str | None:
    """Why there is no verifier for this picture (None when there is one): the verifier
    judges ToyWorld scenes drawn by a ToyWorld model only, and a ToyWorld v2 scene (roles, fill,
    place) only from a model that knows that category (``categories``, default: the model's,
    ``state.handle().categories``); the ground truth (no ``model_key``) is judged for all eight."""
    cat = graph.category if isinstance(graph, CausalSceneGraph) else (graph or {}).get(
        "category")
    if cat not in TOYWORLD_CATEGORIES or cat == "open":
        return "no verifier for open-world scenes (it judges ToyWorld scenes only)"
    if model_key and not ALLOWLIST.get(model_key, ALLOWLIST["toyworld"]).kind.startswith(
            "toyworld"):
        return (f"no verifier for {ALLOWLIST[model_key].label} (the ToyWorld verifier judges "
                f"ToyWorld pictures only)")
    if model_key and cat in RELATIONAL_CATEGORIES:
        if categories is None:
            from . import state
            categories = state.handle().categories(model_key)
        if cat not in categories:
            label = ALLOWLIST[model_key].label if model_key in ALLOWLIST else model_key
            return (f"no verifier for {cat} scenes from {label}: this model was not trained on "
                    f"them (its vocabulary lacks their words; a model fine-tuned with "
                    f"`train --finetune-from` knows them)")
    return None


def verdict(image: np.ndarray, graph: CausalSceneGraph | dict[str, Any] | None,
            model_key: str | None = None,
            categories: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The verifier's ``to_dict()`` for an image (H x W x 3) or a clip (F x H x W x 3) against
    ``graph``; :func:`no_verifier` for an open-world scene or a model that is not ToyWorld's;
    ``{"error": ...}`` when it cannot be judged (no graph, a graph the verifier has no
    questions for, an odd image), so a verifier failure never loses the pictures."""
    if graph is None:
        return {"error": "no scene graph (the prompt did not parse)"}
    why = verifier_missing(graph, model_key, categories)
    if why:
        return no_verifier(why)
    try:
        from lina_core.toyworld.verify_video import judge
        g = graph if isinstance(graph, CausalSceneGraph) else CausalSceneGraph.from_dict(graph)
        return judge(np.ascontiguousarray(image), g).to_dict()
    except ValueError as exc:      # VerifyError and GraphError are ValueErrors
        return {"error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a verifier bug must not lose the images
        log.exception("verifier failed")
        return {"error": f"verifier failed ({type(exc).__name__}: {exc})"}
