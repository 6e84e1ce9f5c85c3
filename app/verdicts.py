"""Running the ToyWorld verifiers (still and clip) for display: CPU-only and fast, so no queue
slot."""
from __future__ import annotations

from typing import Any

import numpy as np

from lina_core.csg import CausalSceneGraph

from .widgets import log


def verdict(image: np.ndarray, graph: CausalSceneGraph | dict[str, Any] | None) -> dict[str, Any]:
    """The verifier's ``to_dict()`` for an image (H x W x 3) or a clip (F x H x W x 3) against
    ``graph``; ``{"error": ...}`` when it cannot be judged (no graph, a graph the verifier has no
    questions for, an odd image), so a verifier failure never loses the pictures."""
    if graph is None:
        return {"error": "no scene graph (the prompt did not parse)"}
    try:
        from lina_core.toyworld.verify_video import judge
        g = graph if isinstance(graph, CausalSceneGraph) else CausalSceneGraph.from_dict(graph)
        return judge(np.ascontiguousarray(image), g).to_dict()
    except ValueError as exc:      # VerifyError and GraphError are ValueErrors
        return {"error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a verifier bug must not lose the images
        log.exception("verifier failed")
        return {"error": f"verifier failed ({type(exc).__name__}: {exc})"}
