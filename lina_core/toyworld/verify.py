"""ToyWorld verifier: does an image show what its scene graph asks, texture and physics?

Built for *generated* images (blurry, grainy, colour-cast, objects wherever the model put them),
so it never reads the graph's layout boxes: it finds the mirror, water, beam, objects, reflection
and shadow in the pixels, and takes from the graph only what is asked (category, colours,
materials, shapes, mirror shape and size, light side, the expected effect).

How it sees (details and measured accuracy in ``docs/VERIFIER.md``):

* the image is resized to a canonical 64 x 64, white-balanced against the wall (top rows) and
  floor (bottom rows), and lightly denoised;
* every pixel is *unmixed* against the category's palette (render.py / csg colours): either a
  mixture of two background colours (wall, floor, mirror, water, ...) or an object colour over
  one background colour, with the object's share ``alpha``.  Blurred edges are mixtures, so
  they are explained rather than misclassified;
* objects are connected components of ``alpha >= 0.5``; their colour (or material) is an
  alpha-weighted vote over the palette; their shape is the best of three blurred templates
  (ball, cube, cone) fitted to their soft mask by least squares (centre, size and blur free);
* physics is measured against explicit predictions: the reflection's least-squares amplitude
  in the flipped shape under the object, a leak amplitude from two predicted pictures (clipped
  / not clipped by the fitted mirror outline), the shadow's offset from the object in object
  widths, the object's place in the water column, the beam's left/right heights, the two
  objects' areas.

Here: the input (canonical size, white balance, denoising), the verdict, and :func:`verify`,
which asks the graph's category its questions (:meth:`.categories.Category.questions`, in the
category's module) built from the shared blocks :mod:`.unmix`, :mod:`.blobs`,
:mod:`.shape_fit` and :mod:`.answers`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from ..csg.graph import CausalSceneGraph, GraphError
from .answers import object_nodes
from .blur import blur_channels
from .canvas import FLOOR, WALL
from .categories.base import CATEGORIES
from .unmix import CANON, unmix

MIN_INPUT = 32                   #: smallest accepted height / width

# --- seeing (canonical px, RGB units 0..255)
DENOISE_SIGMA = 1.0              #: Gaussian denoise before unmixing (generated images are grainy)
BACKGROUND_MIN = 0.3             #: share of wall/floor pixels below which nothing is judged


class VerifyError(ValueError):
    """The image (or graph) cannot be verified: wrong shape, dtype or category."""


@dataclass
class Verdict:
    """Answers to the category's texture and physics questions (True = as the graph says)."""

    category: str
    texture: dict[str, bool]
    physics: dict[str, bool]
    per_node: dict[str, str]
    measurements: dict[str, Any] = field(default_factory=dict)

    @property
    def texture_ok(self) -> bool:
        return all(self.texture.values())

    @property
    def physics_ok(self) -> bool:
        return all(self.physics.values())

    @property
    def physics_verdict(self) -> str:
        """``ok``, ``wrong`` (a question judged and failed) or ``undetermined`` (the verifier
        could not find what a failed question is about: the object, the mirror, the water...)."""
        if self.physics_ok:
            return "ok"
        unsure = set(self.measurements.get("undetermined", ()))
        failed = [q for q, ok in self.physics.items() if not ok]
        return "undetermined" if failed and all(q in unsure for q in failed) else "wrong"

    @property
    def physics_margin(self) -> float:
        """How clearly the physics is right (> 0) or wrong (< 0), in [-1, 1]; 0 when
        undetermined.  For fitting: it breaks the ties a binary verdict leaves."""
        m = self.measurements.get("physics_margin")
        return 0.0 if m is None or not math.isfinite(m) else float(np.clip(m, -1.0, 1.0))

    def to_dict(self) -> dict[str, Any]:
        def clean(v: Any) -> Any:
            if isinstance(v, (bool, np.bool_)):
                return bool(v)
            if isinstance(v, (int, np.integer)):
                return int(v)
            if isinstance(v, (float, np.floating)):
                return round(float(v), 4) if math.isfinite(float(v)) else None
            if isinstance(v, dict):
                return {str(k): clean(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [clean(x) for x in v]
            return v if v is None or isinstance(v, str) else str(v)
        return {"category": self.category, "texture": clean(self.texture),
                "physics": clean(self.physics), "texture_ok": self.texture_ok,
                "physics_ok": self.physics_ok, "physics_verdict": self.physics_verdict,
                "physics_margin": round(self.physics_margin, 4),
                "per_node": dict(self.per_node),
                "measurements": clean(self.measurements)}


# --------------------------------------------------------------------------- input


def canonical(image: Any) -> np.ndarray:
    """``image`` (H x W x 3 uint8, H, W >= 32) as a float32 CANON x CANON x 3 array."""
    if not isinstance(image, np.ndarray):
        raise VerifyError(f"image: expected a numpy array (H x W x 3 uint8), got "
                          f"{type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise VerifyError(f"image: expected shape (H, W, 3) (RGB), got {tuple(image.shape)}")
    if image.shape[0] < MIN_INPUT or image.shape[1] < MIN_INPUT:
        raise VerifyError(f"image: {image.shape[0]} x {image.shape[1]} is too small; height and "
                          f"width must be >= {MIN_INPUT}")
    if image.dtype != np.uint8:
        raise VerifyError(f"image: expected dtype uint8 (0..255), got {image.dtype}")
    if image.shape[:2] == (CANON, CANON):
        return image.astype(np.float32)
    pil = Image.fromarray(np.ascontiguousarray(image))
    down = image.shape[0] > CANON and image.shape[1] > CANON
    pil = pil.resize((CANON, CANON), Image.Resampling.BOX if down else Image.Resampling.BILINEAR)
    return np.asarray(pil, dtype=np.float32)


def white_balance(img: np.ndarray) -> tuple[np.ndarray, bool]:
    """Undo a per-channel colour cast (gain and offset) using the two surfaces every ToyWorld
    picture shows: the wall along the top rows and the floor along the bottom rows (only the
    pixels there that are within 45 of the wall / floor colour count).  Returns the corrected
    image and whether a correction was applied (only when both references are found and the
    cast is at most about +-20 %)."""
    h = img.shape[0]

    def ref(rows: np.ndarray, colour: np.ndarray) -> np.ndarray | None:
        px = rows.reshape(-1, 3)
        near = np.abs(px - colour).max(1) <= 45.0
        return np.median(px[near], 0) if near.sum() >= max(8, 0.15 * len(px)) else None

    top = ref(img[:max(int(0.18 * h), 1)], WALL)
    bot = ref(img[int(0.86 * h):], FLOOR)
    if top is None or bot is None:
        return img, False
    gain = (top - bot) / (WALL - FLOOR)
    if not np.all((gain > 0.8) & (gain < 1.25)):
        return img, False
    off = top - gain * WALL
    if np.any(np.abs(off) > 40):
        return img, False
    return (img - off) / gain, True


def verify(image: np.ndarray, graph: CausalSceneGraph) -> Verdict:
    """Judge ``image`` (H x W x 3 uint8, H, W >= 32) against ``graph``.

    Raises :class:`VerifyError` for an image of the wrong shape or dtype, or a graph whose
    category lacks the nodes its questions need.
    """
    if not isinstance(graph, CausalSceneGraph):
        raise VerifyError(f"graph: expected a CausalSceneGraph, got {type(graph).__name__}")
    try:
        graph.validate()
    except GraphError as exc:
        raise VerifyError(f"graph: {exc}") from None
    raw, balanced = white_balance(canonical(image))
    img = blur_channels(raw, DENOISE_SIGMA)
    cat = graph.category
    n_obj, surface = CATEGORIES[cat].objects, CATEGORIES[cat].surface
    if len(object_nodes(graph)) < n_obj or (surface and graph.surface(surface) is None):
        raise VerifyError(f"graph: a {cat} scene needs {n_obj} object(s)"
                          + (f" and a {surface} surface" if surface else ""))
    # every ToyWorld picture is mostly wall and floor; without them it is not one
    ground = unmix(img, [WALL, FLOOR], [], [], [(0, 1)])
    bg_frac = float((ground.resid < 25.0).mean())
    meas: dict[str, Any] = {"white_balanced": balanced, "wall_floor_fraction": bg_frac}
    ans = CATEGORIES[cat].questions(graph, img, raw)
    texture, physics, per_node = ans.texture, ans.physics, ans.per_node
    meas.update(ans.meas)
    if bg_frac < BACKGROUND_MIN:
        texture = {k: False for k in texture}
        physics = {k: False for k in physics}
        meas["undetermined"] = list(physics)
        meas.pop("physics_margin", None)
        per_node = {n: "not judged: the picture shows no wall and floor (not a ToyWorld scene)"
                    for n in graph.graph.nodes}
    for n in graph.graph.nodes:
        per_node.setdefault(n, "not checked")
    return Verdict(cat, texture, physics, {n: per_node[n] for n in graph.graph.nodes}, meas)
