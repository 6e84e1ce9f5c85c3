"""Shape fitting: which of ToyWorld's shapes (ball, cube, cone) a blob is, by least squares of
blurred templates to its soft mask (centre, size and blur free), and the picture's blur.

A building block of every category's texture questions (:mod:`.answers`); imports no category.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from scipy import ndimage

from ..csg.geometry import REFLECTION_SQUASH, SHAPE_ASPECT
from .blobs import EIGHT, Blob
from .blur import blur
from .canvas import FLOOR, REFLECTION_MIX, WALL
from .unmix import CANON

SHAPE_RIM = 5                    #: px around an object's core used to fit its shape


def _erf_table(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Blurred unit steps on rows 0..n-1: [sigma, position, row] for a grid of both."""
    from scipy.special import erf
    sig = np.arange(0.5, 4.01, 0.1)
    pos = np.arange(n / 2 - 2.0, n / 2 + 2.01, 0.1)
    c = np.arange(n) + 0.5
    tab = 0.5 * (1 + erf((c[None, None] - pos[None, :, None]) /
                         (sig[:, None, None] * math.sqrt(2))))
    return sig, tab


_ERF_SIGMAS, _ERF_TABLE = _erf_table(12)


def blur_sigma(raw: np.ndarray) -> float | None:
    """The image's blur, in canonical px, measured on the wall/floor edge (a straight
    horizontal step across the picture); None if no clean edge is found."""
    lum = raw.mean(-1)
    d = 6
    lo, hi = int(0.25 * CANON), int(0.85 * CANON)
    rows = lum[lo:hi]
    prof = np.median(rows, axis=1)
    grad = prof[:-2 * d] - prof[2 * d:]
    if len(grad) == 0:
        return None
    e = int(np.argmax(grad)) + d + lo
    step = float(np.max(grad))
    wall_floor = float(np.mean(WALL) - np.mean(FLOOR))
    if step < 0.5 * wall_floor:
        return None
    top = lum[e - d:e - 2].mean(0)
    bot = lum[e + 2:e + d].mean(0)
    cols = np.abs((top - bot) - step) <= 0.35 * step
    if cols.sum() < 8:
        return None
    seg = lum[e - d:e + d, cols].mean(1)
    a, b = seg[:3].mean(), seg[-3:].mean()
    if a - b < 0.5 * wall_floor:
        return None
    y = (a - seg) / (a - b)
    e2 = ((y[None, None] - _ERF_TABLE) ** 2).sum(-1)
    i, _ = np.unravel_index(int(np.argmin(e2)), e2.shape)
    return float(_ERF_SIGMAS[i])


# --------------------------------------------------------------------------- shape


SHAPE_ASPECT = SHAPE_ASPECT                                 # height / width (csg.geometry)
_SHAPE_AREA = {"ball": math.pi / 4, "cube": 1.0, "cone": 0.5}
_SIGMAS = (0.6, 0.9, 1.2, 1.5, 1.8, 2.2, 2.6, 3.0)     # blur grid, canonical px


def coverage(shape: str, box: tuple[float, float, float, float], h: int, w: int,
              flip: bool = False, split: tuple[float, float] | None = None) -> np.ndarray:
    """Approximate area share of ``shape`` (apex up for a cone, down if ``flip``) in each pixel
    of an h x w grid, from its signed distance (pixel units).  ``split=(y, dx)``: the part
    below row y is drawn shifted right by dx."""
    x0, y0, x1, y1 = box
    yy = (np.arange(h) + 0.5)[:, None]
    xx = (np.arange(w) + 0.5)[None, :]
    if split is not None:
        xx = np.where(yy >= split[0], xx - split[1], xx)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    rx, ry = max((x1 - x0) / 2, 1e-3), max((y1 - y0) / 2, 1e-3)
    if shape == "ball":
        sd = (np.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2) - 1.0) * min(rx, ry)
    elif shape == "cube":
        sd = np.maximum(np.abs(xx - cx) - rx, np.abs(yy - cy) - ry)
    else:
        hh = y1 - y0
        t = (y1 - yy) if flip else (yy - y0)          # distance below the apex
        side = (np.abs(xx - cx) * hh - rx * t) / math.hypot(hh, rx)
        sd = np.maximum(side, t - hh)
    return np.clip(0.5 - sd, 0.0, 1.0)


@dataclass
class ShapeModel:
    """How an object is drawn around its shape: plain, with its reflection below its base
    (``reflection``), or with its part below the water line shifted (``split``)."""

    reflection: bool = False
    split: tuple[float, float] | None = None      # (water line row, shift px), canonical
    sigma: float | None = None                    # the image's blur, if measured
    clip: np.ndarray | None = None                # where a reflection can show (the mirror)


def _shape_region(blob: Blob, model: ShapeModel, valid: np.ndarray | None) -> np.ndarray:
    """The pixels a shape is fitted on: the object's rim, its reflection's, inside ``valid``."""
    region = ndimage.binary_dilation(blob.core, EIGHT, iterations=SHAPE_RIM)
    if model.reflection:                 # and its reflection
        down = int(round(REFLECTION_SQUASH * blob.height)) + 2
        region |= ndimage.shift(region, (down, 0), order=0, cval=False) & \
            (np.arange(region.shape[0])[:, None] > blob.y1)
    if valid is not None:
        region &= valid
    return region


def _sigma_range(sigma: float | None) -> tuple[list[float] | tuple[float, ...], float, float]:
    """The blur grid to start from and the bounds of the search (tight when measured)."""
    if sigma is None:
        return _SIGMAS, 0.3, 5.0
    return [sigma * f for f in (0.8, 0.9, 1.0, 1.1, 1.2)], 0.75 * sigma, 1.3 * sigma


def _template_error(shape: str, a: np.ndarray, reg: np.ndarray, clip: Any,
                    split: tuple[float, float] | None, reflection: bool
                    ) -> Callable[[tuple[float, float, float, float], bool], float]:
    """Robust squared error (residuals capped at 0.35) of a blurred ``shape`` template with
    parameters (centre x, centre y, width, sigma), drawn with or without the water-line shift."""
    ar = SHAPE_ASPECT[shape]
    h, w = a.shape
    cap = 0.35 ** 2
    seen: dict[tuple[tuple[float, float, float, float], bool], float] = {}

    def err(p: tuple[float, float, float, float], shifted: bool) -> float:
        """Remembered: the descent comes back to points it tried (a step and its reverse),
        about one call in six."""
        if (p, shifted) not in seen:
            seen[(p, shifted)] = drawn(p, shifted)
        return seen[(p, shifted)]

    def drawn(p: tuple[float, float, float, float], shifted: bool) -> float:
        cx, cy, bw, sg = p
        bh = ar * bw
        box = (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2)
        t = blur(coverage(shape, box, h, w, split=split if shifted else None), sg)
        if reflection:
            # the object plus its reflection at a least-squares amplitude in [0, 1]
            rbox = (box[0], box[3], box[2], box[3] + REFLECTION_SQUASH * bh)
            tr = blur(REFLECTION_MIX * coverage(shape, rbox, h, w, flip=True) * clip, sg) * reg
            den = float((tr * tr).sum())
            if den > 0:
                amp = float(((a - t) * tr).sum()) / den
                t = t + min(max(amp, 0.0), 1.0) * tr
        return float(np.minimum(((a - t) * reg) ** 2, cap).sum())

    return err


def _descend(err: Callable[[tuple[float, float, float, float]], float],
             best: tuple[float, float, float, float], sig_grid: Any, sig_lo: float,
             sig_hi: float) -> tuple[float, tuple[float, float, float, float]]:
    """Coordinate descent on (sigma, width, x, y) at shrinking steps; (error, parameters)."""
    best_e = err(best)
    for step in (1.0, 0.5, 0.25):
        for _ in range(4):
            improved = False
            for i in (3, 2, 0, 1):
                if i == 3:
                    vals = list(sig_grid) if step == 1.0 else \
                        [best[3] * f for f in (0.85, 1.18)]
                    vals = [v for v in vals if sig_lo <= v <= sig_hi]
                elif i == 2:
                    vals = [best[2] + f * step for f in (-1.2, 1.2)]
                else:
                    vals = [best[i] + f * step for f in (-0.6, 0.6)]
                for v in vals:
                    q = list(best)
                    q[i] = v
                    e = err(tuple(q))
                    if e < best_e - 1e-9:
                        best, best_e, improved = tuple(q), e, True
            if not improved:
                break
    return best_e, best


def _initial_boxes(pos: np.ndarray, mass: float, sigma: float | None
                   ) -> dict[str, tuple[float, float, float, float]]:
    """Per shape, the start (x, y, width, sigma) that matches the mass and centroid of the
    object's part above its base (both survive blur)."""
    h, w = pos.shape
    gy, gx = np.mgrid[0:h, 0:w] + 0.5
    mx, my = float((pos * gx).sum() / mass), float((pos * gy).sum() / mass)
    init = {}
    for shape in ("ball", "cube", "cone"):
        ar = SHAPE_ASPECT[shape]
        bw = math.sqrt(mass / (_SHAPE_AREA[shape] * ar))
        # the box centre sits 1/6 of the height above a cone's centroid
        init[shape] = (mx, my - (ar * bw / 6 if shape == "cone" else 0.0), bw, sigma or 1.5)
    return init


def shape_of(soft: np.ndarray, blob: Blob, model: ShapeModel | None = None,
              valid: np.ndarray | None = None) -> tuple[str, dict[str, float], Any]:
    """Fit a blurred ball, cube and cone (apex up) to the blob's soft mask; best fit wins.

    Each template starts from the blob's core box; its centre, size and blur sigma are refined
    by coordinate descent on a robust squared error (residuals capped at 0.35).  With a
    reflection or a water line, the template is drawn both with and without that effect and
    the better one counts, so the shape answer does not depend on the physics answer.  Scores
    are errors relative to the object's area.
    """
    model = model or ShapeModel()
    region = _shape_region(blob, model, valid)
    ys, xs = np.nonzero(region)
    if len(ys) < 6:
        return "?", {}, None
    y0, y1 = max(ys.min() - 1, 0), min(ys.max() + 2, soft.shape[0])
    x0, x1 = max(xs.min() - 1, 0), min(xs.max() + 2, soft.shape[1])
    a = np.where(region, soft, 0.0)[y0:y1, x0:x1].astype(np.float64)
    reg = region[y0:y1, x0:x1]
    clip = 1.0 if model.clip is None else model.clip[y0:y1, x0:x1]
    h = a.shape[0]
    split = None if model.split is None else (model.split[0] - y0, model.split[1])
    sig_grid, sig_lo, sig_hi = _sigma_range(model.sigma)
    pos = np.clip(a, 0, 1) * (np.arange(h)[:, None] <= blob.y1 + 1 - y0)
    mass = max(float(pos.sum()), 1.0)
    init = _initial_boxes(pos, mass, model.sigma)
    scores: dict[str, float] = {}
    boxes: dict[str, tuple[tuple[float, float, float, float], float]] = {}
    # with a water line the object is fitted both as drawn (the part below the line shifted
    # by refraction) and unshifted; each is its own descent (the two optima lie apart)
    variants = [False] + ([True] if split is not None else [])
    below = float(pos[int(max(split[0], 0)):].sum()) / mass if split is not None else 0.0
    for shape in ("ball", "cube", "cone"):
        err = _template_error(shape, a, reg, clip, split, model.reflection)
        results = []
        for shifted in variants:
            start = init[shape]
            if shifted:
                start = (start[0] - below * split[1],) + start[1:]
            e, p = _descend(lambda q, s=shifted: err(q, s), start, sig_grid, sig_lo, sig_hi)
            results.append((e, p, shifted))
        best_e, best, _ = min(results, key=lambda r: r[0])
        scores[shape] = best_e / max(float(np.clip(a, 0, 1).sum()), 1.0)
        cx, cy, bw, sg = best
        bh = SHAPE_ASPECT[shape] * bw
        boxes[shape] = ((x0 + cx - bw / 2, y0 + cy - bh / 2, x0 + cx + bw / 2, y0 + cy + bh / 2),
                        sg)
    win = min(scores, key=scores.get)
    return win, scores, boxes[win]
