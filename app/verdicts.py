"""Running the ToyWorld verifiers (still and clip) for display: CPU-only and fast, so no queue
slot."""
from __future__ import annotations

from typing import Any

import numpy as np

from lina_core import service
from lina_core.csg import CausalSceneGraph

from .widgets import log


def no_verifier(why: str) -> dict[str, Any]:
    """The verdict where there is no verifier to ask: shown as "no verifier" and why, not as
    an error."""
    return {"no_verifier": why}


def verifier_missing(graph: CausalSceneGraph | dict[str, Any] | None,
                     model_key: str | None = None,
                     categories: tuple[str, ...] | None = None) -> str | None:
    """:func:`lina_core.service.verifier_missing`, a relational scene judged by the categories
    given, else by those the app's model service says ``model_key`` knows."""
    def known(key: str) -> tuple[str, ...]:
        if categories is not None:
            return categories
        from . import state
        return state.handle().categories(key)
    return service.verifier_missing(graph, model_key, known)


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
