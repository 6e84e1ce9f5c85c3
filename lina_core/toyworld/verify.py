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
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from PIL import Image
from scipy import ndimage

from ..csg import (COLOURS, DENSITY, MATERIALS, MIRROR_ASPECT, MIRROR_CY, MIRROR_RIM_WIDTH,
                   MIRROR_RX, OBJECT_BASE_ON_MIRROR, OBJECT_COUNT, REFLECTION_SQUASH,
                   REQUIRED_SURFACE, SHADOW_FROM_LIGHT, SHAPE_ASPECT, CausalSceneGraph,
                   GraphError)
from .canvas import (BEAM, FLOOR, FULCRUM, GLASS, LIGHT, MIRROR, MIRROR_RIM, REFLECTION_MIX,
                     REFRACTION_SHIFT, SHADOW, SHADOW_ALPHA, WALL, WATER, WATER_TINT)

CANON = 64                       #: every image is judged at CANON x CANON
MIN_INPUT = 32                   #: smallest accepted height / width

# --- seeing (canonical px, RGB units 0..255)
DENOISE_SIGMA = 1.0              #: Gaussian denoise before unmixing (generated images are grainy)
UNEXPLAINED = 60.0               #: RGB distance beyond which a pixel is not a ToyWorld colour
BACKGROUND_MIN = 0.3             #: share of wall/floor pixels below which nothing is judged
SHAPE_RIM = 5                    #: px around an object's core used to fit its shape

# --- reflection
MIRROR_MIN_PX = 10               #: mirror-coloured px needed to look for a mirror
TINT_WEIGHT = 0.5                #: weight of reflection px as evidence of the mirror under them
REFLECTION_MIN = 0.5             #: reflection amplitude (1 = as the renderer draws it) needed
OFF_LINE_MAX = 30.0              #: mean distance of reflection px from the mirror->object line
LEAK_AMP_MAX = 0.5               #: leak amplitude (1 = unclipped) from which it leaks ...
LEAK_MIN_PX = 10                 #: ... if at least this many px leak (amplitude x clipped area)
LEAK_SUPPORT = 6                 #: px where the two predictions differ needed to judge a leak

# --- shadow, balance
SHADOW_MIN = 0.04                #: shadow area, in object widths squared, needed to see one
SHADOW_SIDE = 0.35               #: shadow offset, in object widths, beyond which it is to a side
TILT_MIN = 0.06                  #: left-minus-right height (image fraction) that is a tilt

# --- buoyancy (fractions of the water column's height, measured from its surface)
FLOAT_TOP_MAX = 0.1              #: a floater's top is above this ...
FLOAT_BOTTOM_MAX = 0.6           #: ... and its bottom above this
SINK_BOTTOM_MIN = 0.88           #: a sinker's bottom is below this

# geometry shared with the layout and the renderer: lina_core.csg.geometry
SHADOW_BLEND = SHADOW * SHADOW_ALPHA + FLOOR * (1 - SHADOW_ALPHA)
_EIGHT = np.ones((3, 3), bool)


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


# --------------------------------------------------------------------------- unmixing


@dataclass
class _Mix:
    alpha: np.ndarray      # H x W: share of an object colour (0 where only background)
    obj: np.ndarray        # H x W int: index of that object colour, -1 for none
    share: np.ndarray      # H x W x K: share of each background colour
    names: list[str]       # object-colour index -> name it votes for
    bgcol: np.ndarray      # H x W x 3: the background colour behind the pixel
    resid: np.ndarray      # H x W: RGB distance left unexplained by the chosen model


def _unmix(img: np.ndarray, bgs: list[np.ndarray], objs: list[np.ndarray], names: list[str],
           pairs: list[tuple[int, int]], pen_obj: float = 2.0, pen_pair: float = 6.0,
           obj_over: Any = None) -> _Mix:
    """Explain each pixel as bg_i + t (bg_j - bg_i) for an allowed pair (i, j) (an edge between
    two backgrounds), or as bg_i + alpha (obj_k - bg_i) (an object colour over a background).

    The best model has the smallest residual (RGB distance) plus a small penalty: ``pen_obj *
    alpha`` for object models, ``pen_pair * 2 min(t, 1 - t)`` for background mixtures, so that
    a pure background wins ties.
    """
    h, w, _ = img.shape
    p = img.reshape(-1, 1, 3)
    a_list, b_list, kind = [], [], []     # kind: (0 bg pair / 1 object, i, j or k)
    k = len(bgs)
    for i, j in [(i, i) for i in range(k)] + [tuple(pr) for pr in pairs]:
        a_list.append(bgs[i])
        b_list.append(bgs[j])
        kind.append((0, i, j))
    for i in range(k):
        for o in range(len(objs)):
            if obj_over is not None and not obj_over(i, o):
                continue
            a_list.append(bgs[i])
            b_list.append(objs[o])
            kind.append((1, i, o))
    a = np.asarray(a_list, np.float32)[None]
    d = np.asarray(b_list, np.float32)[None] - a
    dd = np.maximum((d * d).sum(-1), 1e-6)
    t = np.clip(((p - a) * d).sum(-1) / dd, 0.0, 1.0)
    r = np.sqrt(((p - a - t[..., None] * d) ** 2).sum(-1))
    is_obj = np.array([kd[0] for kd in kind], bool)[None]
    score = r + np.where(is_obj, pen_obj * t, pen_pair * 2 * np.minimum(t, 1 - t))
    best = score.argmin(1)
    tb = t[np.arange(len(best)), best]
    kinds = np.array(kind)[best]
    alpha = np.where(kinds[:, 0] == 1, tb, 0.0)
    obj = np.where(kinds[:, 0] == 1, kinds[:, 2], -1)
    share = np.zeros((h * w, k), np.float32)
    rows = np.arange(h * w)
    pair = kinds[:, 0] == 0
    np.add.at(share, (rows[pair], kinds[pair, 1]), 1 - tb[pair])
    np.add.at(share, (rows[pair], kinds[pair, 2]), tb[pair])
    share[rows[~pair], kinds[~pair, 1]] += 1 - tb[~pair]
    ab = a[0, best]
    bgcol = np.where(pair[:, None], ab + tb[:, None] * d[0, best], ab)
    rb = r[np.arange(len(best)), best]
    lost = rb > UNEXPLAINED              # not a ToyWorld colour: neither object nor background
    alpha[lost] = 0.0
    obj[lost] = -1
    share[lost] = 0.0
    return _Mix(alpha.reshape(h, w).astype(np.float32), obj.reshape(h, w), share.reshape(h, w, k),
                names, bgcol.reshape(h, w, 3).astype(np.float32), rb.reshape(h, w))


def _alpha_lin(img: np.ndarray, bgcol: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Unclipped share of ``colour`` over the background (unbiased under noise, for fitting)."""
    d = colour - bgcol
    a = ((img - bgcol) * d).sum(-1) / np.maximum((d * d).sum(-1), 100.0)
    return np.clip(a, -0.5, 1.5)


# --------------------------------------------------------------------------- objects


@dataclass
class _Blob:
    core: np.ndarray          # bool: alpha >= 0.5, this component
    region: np.ndarray        # bool: core dilated (its soft edge)
    mass: float               # sum of alpha over region, in canonical px
    votes: dict[str, float]   # name -> alpha-weighted votes
    cx: float
    cy: float
    x0: int
    x1: int
    y0: int
    y1: int

    @property
    def colour(self) -> str:
        return max(self.votes, key=self.votes.get) if self.votes else "?"

    @property
    def width(self) -> int:
        return self.x1 - self.x0 + 1

    @property
    def height(self) -> int:
        return self.y1 - self.y0 + 1


def _blobs(mix: _Mix, where: np.ndarray | None = None, min_mass: float = 12.0,
           thr: float = 0.5) -> list[_Blob]:
    """Object components, largest mass first."""
    core_all = mix.alpha >= thr
    if where is not None:
        core_all &= where
    lab, n = ndimage.label(core_all, structure=_EIGHT)
    out = []
    for i in range(1, n + 1):
        core = lab == i
        if core.sum() < 3:
            continue
        region = ndimage.binary_dilation(core, _EIGHT, iterations=2)
        if where is not None:
            region &= where
        a = np.where(region, mix.alpha, 0.0)
        mass = float(a.sum())
        if mass < min_mass:
            continue
        votes: dict[str, float] = {}
        sel = region & (mix.obj >= 0)
        for idx, wgt in zip(mix.obj[sel], mix.alpha[sel] ** 2):
            nm = mix.names[idx]
            votes[nm] = votes.get(nm, 0.0) + float(wgt)
        ys, xs = np.nonzero(core)
        yy, xx = np.mgrid[0:a.shape[0], 0:a.shape[1]]
        out.append(_Blob(core, region, mass, votes, float((a * xx).sum() / mass),
                         float((a * yy).sum() / mass), int(xs.min()), int(xs.max()),
                         int(ys.min()), int(ys.max())))
    out.sort(key=lambda b: -b.mass)
    return out


#: a second component of an object's colour with at least this share of the first one's mass is
#: a second copy of the object (a diffusion model draws doubled objects; the other questions,
#: which read the largest component, would pass them)
COUNT_SHARE = 0.3

#: the categories whose checker asks ``count`` (buoyancy, balance and fill draw objects that a
#: colour count cannot tell apart: a ball and its water, stacked cubes, a jar and its fill);
#: ``tests/test_verify.py`` runs every checker to pin that this list says what they do
COUNTED = ("reflection", "shadow", "scale", "roles", "place")


def _colour_blobs(mix: _Mix, colour: str, thr: float = 0.5) -> list[_Blob]:
    """The components of one palette colour, largest first (none if it names no colour)."""
    if colour not in mix.names:
        return []
    return _blobs(mix, where=mix.obj == mix.names.index(colour), thr=thr)


def _copies(blobs: list[_Blob]) -> int:
    """How many separate objects a colour's components are."""
    return sum(1 for b in blobs if b.mass >= COUNT_SHARE * blobs[0].mass)


def _ask_count(g: CausalSceneGraph, mix: _Mix, ans: "_Answers", thr: float = 0.5,
               found: dict[str, list[_Blob]] | None = None) -> None:
    """The ``count`` texture question: each object drawn once (each colour as many times as the
    graph has objects of it: a missing object fails it too).  ``found``: components the
    checker already has per colour (at ``thr``), not searched again."""
    want: dict[str, int] = {}
    for n in _objects(g):
        want[g.attr(n, "colour")] = want.get(g.attr(n, "colour"), 0) + 1
    found = found or {}
    seen = {c: _copies(found[c] if c in found else _colour_blobs(mix, c, thr)) for c in want}
    ans.texture["count"] = all(seen[c] == k for c, k in want.items())
    ans.meas["copies"] = seen


# --------------------------------------------------------------------------- blur


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


def _blur_sigma(raw: np.ndarray) -> float | None:
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


_SHAPE_AR = SHAPE_ASPECT                                 # height / width (csg.geometry)
_SHAPE_AREA = {"ball": math.pi / 4, "cube": 1.0, "cone": 0.5}
_SIGMAS = (0.6, 0.9, 1.2, 1.5, 1.8, 2.2, 2.6, 3.0)     # blur grid, canonical px


def _coverage(shape: str, box: tuple[float, float, float, float], h: int, w: int,
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
class _ShapeModel:
    """How an object is drawn around its shape: plain, with its reflection below its base
    (``reflection``), or with its part below the water line shifted (``split``)."""

    reflection: bool = False
    split: tuple[float, float] | None = None      # (water line row, shift px), canonical
    sigma: float | None = None                    # the image's blur, if measured
    clip: np.ndarray | None = None                # where a reflection can show (the mirror)


def _shape_region(blob: _Blob, model: _ShapeModel, valid: np.ndarray | None) -> np.ndarray:
    """The pixels a shape is fitted on: the object's rim, its reflection's, inside ``valid``."""
    region = ndimage.binary_dilation(blob.core, _EIGHT, iterations=SHAPE_RIM)
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
    ar = _SHAPE_AR[shape]
    h, w = a.shape
    cap = 0.35 ** 2

    def err(p: tuple[float, float, float, float], shifted: bool) -> float:
        cx, cy, bw, sg = p
        bh = ar * bw
        box = (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2)
        t = ndimage.gaussian_filter(
            _coverage(shape, box, h, w, split=split if shifted else None), sg,
            mode="constant")
        if reflection:
            # the object plus its reflection at a least-squares amplitude in [0, 1]
            rbox = (box[0], box[3], box[2], box[3] + REFLECTION_SQUASH * bh)
            tr = ndimage.gaussian_filter(
                REFLECTION_MIX * _coverage(shape, rbox, h, w, flip=True) * clip, sg,
                mode="constant") * reg
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
        ar = _SHAPE_AR[shape]
        bw = math.sqrt(mass / (_SHAPE_AREA[shape] * ar))
        # the box centre sits 1/6 of the height above a cone's centroid
        init[shape] = (mx, my - (ar * bw / 6 if shape == "cone" else 0.0), bw, sigma or 1.5)
    return init


def _shape_of(soft: np.ndarray, blob: _Blob, model: _ShapeModel | None = None,
              valid: np.ndarray | None = None) -> tuple[str, dict[str, float], Any]:
    """Fit a blurred ball, cube and cone (apex up) to the blob's soft mask; best fit wins.

    Each template starts from the blob's core box; its centre, size and blur sigma are refined
    by coordinate descent on a robust squared error (residuals capped at 0.35).  With a
    reflection or a water line, the template is drawn both with and without that effect and
    the better one counts, so the shape answer does not depend on the physics answer.  Scores
    are errors relative to the object's area.
    """
    model = model or _ShapeModel()
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
        bh = _SHAPE_AR[shape] * bw
        boxes[shape] = ((x0 + cx - bw / 2, y0 + cy - bh / 2, x0 + cx + bw / 2, y0 + cy + bh / 2),
                        sg)
    win = min(scores, key=scores.get)
    return win, scores, boxes[win]


# --------------------------------------------------------------------------- helpers


@dataclass
class _Answers:
    """What a category's checker decides; :func:`verify` merges it with what it measured."""

    texture: dict[str, bool] = field(default_factory=dict)
    physics: dict[str, bool] = field(default_factory=dict)
    per_node: dict[str, str] = field(default_factory=dict)
    meas: dict[str, Any] = field(default_factory=dict)

    def add(self, obj: "_ObjectAnswer") -> Any:
        """Take one object's texture answers; its fitted (box, sigma) or None."""
        self.texture.update(obj.texture)
        self.per_node[obj.node] = obj.note
        self.meas.update(obj.meas)
        return obj.box


@dataclass
class _ObjectAnswer:
    """One object's texture answers: colour or material, and shape when asked."""

    node: str
    texture: dict[str, bool]
    note: str
    meas: dict[str, Any] = field(default_factory=dict)
    box: Any = None              # the fitted (box, sigma), canonical px, when a shape was fitted


def _objects(g: CausalSceneGraph) -> list[str]:
    return g.nodes("object")


def _obj_colour_name(g: CausalSceneGraph, n: str) -> str:
    return g.attr(n, "colour") or g.attr(n, "material") or "?"


def _colour_palette() -> tuple[list[np.ndarray], list[str]]:
    return [np.array(c, np.float32) for c in COLOURS.values()], list(COLOURS)


def _fmt(x: float) -> str:
    return f"{x:.2f}"


def _palette_rgb(name: str) -> np.ndarray:
    return np.array(COLOURS.get(name) or MATERIALS.get(name) or (0, 0, 0), np.float32)


def _texture_single(g: CausalSceneGraph, img: np.ndarray, mix: _Mix, blob: _Blob | None, n: str,
                    key: str, prefix: str = "", soft: np.ndarray | None = None,
                    model: _ShapeModel | None = None, ask_shape: bool = True,
                    valid: np.ndarray | None = None) -> _ObjectAnswer:
    """Judge ``texture[prefix+key]`` (colour/material) and ``texture[prefix+'shape']`` of
    object ``n`` seen as ``blob`` (None: not found)."""
    want = _obj_colour_name(g, n)
    want_shape = g.attr(n, "shape")
    if blob is None:
        texture = {prefix + key: False}
        if ask_shape and want_shape:
            texture[prefix + "shape"] = False
        return _ObjectAnswer(n, texture, f"not found (expected a {want} "
                                         f"{want_shape or 'object'})")
    seen = blob.colour
    out = _ObjectAnswer(n, {prefix + key: seen == want}, "")
    out.meas[prefix + "centre"] = (blob.cx / CANON, blob.cy / CANON)   # tracked across frames
    parts = [f"{key} {seen}" + ("" if seen == want else f" (expected {want})")]
    out.meas[prefix + key] = seen
    if ask_shape and want_shape:
        if soft is None:
            soft = _alpha_lin(img, mix.bgcol, _palette_rgb(seen))
        shape, scores, out.box = _shape_of(soft, blob, model, valid)
        out.texture[prefix + "shape"] = shape == want_shape
        parts.append(f"shape {shape}" + ("" if shape == want_shape else
                                          f" (expected {want_shape})"))
        out.meas[prefix + "shape"] = shape
        out.meas[prefix + "shape_scores"] = scores
    out.note = ", ".join(parts) + f", at x={_fmt(blob.cx / CANON)} y={_fmt(blob.cy / CANON)}"
    return out


def _left_right(g: CausalSceneGraph) -> tuple[str, str]:
    objs = _objects(g)
    a, b = objs[0], objs[1]
    for u, v, rel in g.graph.edges(data="relation"):
        if rel == "left of":
            return u, v
        if rel == "right of":
            return v, u
    return a, b


# --------------------------------------------------------------------------- categories


def _reflection_mix(img: np.ndarray) -> tuple[_Mix, list[str]]:
    """Unmix a reflection scene: wall, floor, mirror, rim and the object colours' reflections."""
    cols, names = _colour_palette()
    tints = [c * REFLECTION_MIX + MIRROR * (1 - REFLECTION_MIX) for c in cols]
    # the rim is thinner than a pixel at 32 px: it shows as a blend of rim, mirror and floor
    rim_edge = (MIRROR_RIM + MIRROR + FLOOR) / 3
    bgs = [WALL, FLOOR, MIRROR, MIRROR_RIM] + tints + [rim_edge]
    # wall 0, floor 1, mirror 2, rim 3, tints 4..8, rim edge 9
    pairs = [(0, 1), (1, 2), (1, 3), (2, 3), (9, 1), (9, 2), (9, 3)] + \
        [(q, 4 + i) for i in range(5) for q in (1, 2, 3)]
    # an object stands over wall, floor, mirror, rim or its own reflection
    mix = _unmix(img, bgs, cols, names, pairs,
                 obj_over=lambda b, o: b in (0, 1, 2, 3) or b == 4 + o)
    mix.share[..., 3] += mix.share[..., 9]
    return mix, names


def _reflection_soft(raw: np.ndarray, mix: _Mix, blob: _Blob, names: list[str]) -> np.ndarray:
    """The object's share: against the mirror colour on the mirror (the object is 1 there and
    its reflection REFLECTION_MIX: the shape template draws both), else against the background."""
    c = _palette_rgb(blob.colour)
    on_mirror = (mix.share[..., 2] + mix.share[..., 4 + names.index(blob.colour)]) >= 0.5
    return np.where(on_mirror, _alpha_lin(raw, MIRROR[None, None], c),
                    _alpha_lin(raw, mix.bgcol, c))


@dataclass
class _MirrorFit:
    """The mirror found in the picture: its outline (canonical px) and where it clips."""

    shape: str                                   # "round" or "square", as the graph says
    fit: tuple[float, float, float] | None       # (cx, cy, rx); ry = MIRROR_ASPECT * rx
    clip: np.ndarray | None                      # its coverage, where a reflection can show
    meas: dict[str, Any]
    note: str


def _find_mirror(g: CausalSceneGraph, m: str, mix: _Mix, blob: _Blob | None,
                 ci: int | None) -> _MirrorFit:
    """An ellipse (round) or rectangle (square) with ry = MIRROR_ASPECT * rx, fitted to the
    visible mirror pixels; the object counts for nothing, its reflection a little."""
    shape = g.attr(m, "shape", "round")
    wts = mix.share[..., 2] + mix.share[..., 3] - mix.share[..., 0] - mix.share[..., 1]
    if ci is not None:       # the reflection lies on the mirror: weak evidence of it
        wts = wts + TINT_WEIGHT * mix.share[..., 4 + ci]
    wts = np.where(mix.alpha >= 0.3, 0.0, wts)   # hidden behind the object: unknown
    fit = None
    n_mirror = int((mix.share[..., 2] >= 0.5).sum())
    meas: dict[str, Any] = {"mirror_px": n_mirror}
    if blob is not None and n_mirror >= MIRROR_MIN_PX:
        rx_said = MIRROR_RX.get(g.attr(m, "size", "large"), 0.4) * CANON
        # the object stands at the mirror's centre, its base a little above the centre line
        fit = _fit_mirror(wts, shape == "round", (blob.x0 + blob.x1 + 1) / 2,
                          blob.y1 + 1 + (MIRROR_CY - OBJECT_BASE_ON_MIRROR) * CANON,
                          0.85 * rx_said, 1.2 * rx_said, 0.2 * blob.width)
    if fit is None:
        return _MirrorFit(shape, None, None, meas, "mirror not found")
    mcx, mcy, mrx = fit
    mry = mrx * MIRROR_ASPECT
    clip = _coverage("ball" if shape == "round" else "cube",
                     (mcx - mrx, mcy - mry, mcx + mrx, mcy + mry), CANON, CANON)
    meas["mirror"] = {"cx": mcx / CANON, "cy": mcy / CANON, "rx": mrx / CANON,
                      "bottom": (mcy + mry) / CANON}
    note = (f"{shape} mirror found, centre x={_fmt(mcx / CANON)}, "
            f"bottom edge y={_fmt((mcy + mry) / CANON)}")
    return _MirrorFit(shape, fit, clip, meas, note)


def _reflection_seen(raw: np.ndarray, mix: _Mix, blob: _Blob, fitted: Any, mirror: _MirrorFit,
                     shp: str) -> tuple[bool, bool, dict[str, Any]]:
    """Is the object's colour at REFLECTION_MIX on the mirror, in the flipped shape under the
    object's base (present), and no such tint outside the mirror (inside)?  With the
    measurements."""
    mcx, mcy, mrx = mirror.fit
    mry = mrx * MIRROR_ASPECT
    round_ = mirror.shape == "round"
    obox = fitted[0] if fitted else (blob.x0, blob.y0, blob.x1 + 1.0, blob.y1 + 1.0)
    bx0, by0, bx1, by1 = obox
    bh = by1 - by0
    yy, xx = np.mgrid[0:CANON, 0:CANON] + 0.5

    def in_mirror(grow: float) -> np.ndarray:
        rx, ry = mrx + grow, mry + grow
        if round_:
            return ((xx - mcx) / rx) ** 2 + ((yy - mcy) / ry) ** 2 <= 1.0
        return (np.abs(xx - mcx) <= rx) & (np.abs(yy - mcy) <= ry)

    sig = fitted[1] if fitted else 1.5
    rbox = (bx0, by1, bx1, by1 + REFLECTION_SQUASH * bh)
    # least-squares amplitude of the expected reflection (1: as drawn, 0: none) in the
    # object's share against the mirror colour, after the object's own blurred edge
    t_obj = ndimage.gaussian_filter(_coverage(shp, obox, CANON, CANON), sig, mode="constant")
    t_ref = ndimage.gaussian_filter(
        REFLECTION_MIX * _coverage(shp, rbox, CANON, CANON, flip=True) * in_mirror(0.0),
        sig, mode="constant")
    zone = (t_ref >= 0.1 * REFLECTION_MIX) & in_mirror(-0.5) & (yy > by1)
    c = _palette_rgb(blob.colour)
    a_m = _alpha_lin(raw, MIRROR[None, None], c)
    den = float((t_ref[zone] ** 2).sum())
    strength = float(((a_m - t_obj)[zone] * t_ref[zone]).sum() / den) if den > 1.0 else 0.0
    # and the zone's colours must lie on the mirror -> object line (a dark shadow also has
    # a positive share there, but far off the line)
    perp = np.linalg.norm(raw - MIRROR - a_m[..., None] * (c - MIRROR), axis=-1)
    off_line = float(np.average(perp[zone], weights=t_ref[zone])) if den > 1.0 else 0.0
    present = strength >= REFLECTION_MIN and off_line <= OFF_LINE_MAX
    # leak: predict the colours around the mirror twice, reflection clipped by the mirror
    # (as it must be) and not clipped, and fit the picture as clipped + amplitude x
    # (unclipped - clipped) (0: clipped, 1: leaks as far as the object's height takes it),
    # letting the mirror's outline move a little to absorb the error of its fit
    leak_amp, clip_px = _leak_fit(raw, mix.alpha < 0.5, shp, rbox, sig, (mcx, mcy, mrx),
                                  round_, c)
    inside = leak_amp < LEAK_AMP_MAX or leak_amp * clip_px < LEAK_MIN_PX
    meas = {"reflection_off_line": off_line, "reflection_strength": strength,
            "reflection_leak": leak_amp, "reflection_clipped_px": clip_px}
    return present, inside, meas


def _reflection_margin(meas: dict[str, Any], inside: bool) -> float:
    """How clearly the reflection is there and stays inside the mirror (< 0: it does not)."""
    return min((meas["reflection_strength"] - REFLECTION_MIN) / REFLECTION_MIN,
               (LEAK_AMP_MAX - meas["reflection_leak"]) / LEAK_AMP_MAX if not inside or
               meas["reflection_leak"] * meas["reflection_clipped_px"] >= LEAK_MIN_PX else 1.0)


def _verify_reflection(g: CausalSceneGraph, img: np.ndarray, raw: np.ndarray) -> _Answers:
    mix, names = _reflection_mix(img)
    o = _objects(g)[0]
    m = g.surface("mirror")
    # the reflection is the object's colour at REFLECTION_MIX over the mirror: cut the object's
    # core above that, half-way to the object's own colour
    blobs = _blobs(mix, thr=(1 + REFLECTION_MIX) / 2) or _blobs(mix)
    blob = blobs[0] if blobs else None
    known = blob is not None and blob.colour in names
    soft = _reflection_soft(raw, mix, blob, names) if known else None
    ci = names.index(blob.colour) if known else None
    mirror = _find_mirror(g, m, mix, blob, ci)
    ans = _Answers(meas=dict(mirror.meas))
    ans.per_node[m] = mirror.note
    # the object: colour, and shape fitted together with its reflection (clipped by the
    # mirror) at a free amplitude
    model = _ShapeModel(reflection=True, sigma=_blur_sigma(raw), clip=mirror.clip)
    fitted = ans.add(_texture_single(g, raw, mix, blob, o, "colour", soft=soft, model=model))
    _ask_count(g, mix, ans, thr=(1 + REFLECTION_MIX) / 2)     # the reflection is not a copy
    present = inside = False
    judged = blob is not None and mirror.fit is not None and ci is not None
    if judged:
        shp = ans.meas.get("shape") if ans.meas.get("shape") in _SHAPE_AR else "cube"
        present, inside, seen = _reflection_seen(raw, mix, blob, fitted, mirror, shp)
        ans.meas.update(seen)
    ans.physics["reflection_present"] = bool(present)
    ans.physics["reflection_inside_mirror"] = bool(inside)
    if not judged:
        ans.meas["undetermined"] = ["reflection_present", "reflection_inside_mirror"]
    else:
        ans.meas["physics_margin"] = _reflection_margin(ans.meas, inside)
    msg = ("present under the object" if present else "missing under the object") + \
        (", inside the mirror" if inside else ", extends beyond the mirror's edge")
    refl = g.effects("reflection")
    for e in refl:
        ans.per_node[e] = msg
    if not refl:
        ans.meas["reflection_note"] = "graph has no reflection node; judged as " + msg
    return ans


def _leak_fit(raw: np.ndarray, free: np.ndarray, shp: str, rbox, sig: float,
              mirror: tuple[float, float, float], round_: bool, colour: np.ndarray
              ) -> tuple[float, float]:
    """Least-squares amplitude of a reflection leaking past the mirror's edge (0 when leaking
    could not show), and the area (canonical px) of reflection the mirror must clip."""
    mcx, mcy, mrx = mirror
    h, w = raw.shape[:2]
    x0, x1 = int(max(mcx - mrx - 6, 0)), int(min(mcx + mrx + 7, w))
    y0, y1 = int(max(rbox[1] - 2, 0)), h
    if x1 - x0 < 4 or y1 - y0 < 4:
        return 0.0, 0.0
    obs = raw[y0:y1, x0:x1]
    ok = free[y0:y1, x0:x1]
    floor = np.median(raw[int(0.955 * h):].reshape(-1, 3), 0)
    tint = colour * REFLECTION_MIX + MIRROR * (1 - REFLECTION_MIX)
    shift = (rbox[0] - x0, rbox[1] - y0, rbox[2] - x0, rbox[3] - y0)
    full = _coverage(shp, shift, y1 - y0, x1 - x0, flip=True)
    cov = "ball" if round_ else "cube"
    rim = MIRROR_RIM_WIDTH * CANON
    best = (np.inf, 0.0, 0.0)
    for dcy in (-1.5, -0.75, 0.0, 0.75, 1.5):
        for f in (0.94, 1.0, 1.06):
            cx, cy, rx = mcx - x0, mcy + dcy - y0, mrx * f
            ry = rx * MIRROR_ASPECT
            inner = _coverage(cov, (cx - rx, cy - ry, cx + rx, cy + ry), y1 - y0, x1 - x0)
            outer = _coverage(cov, (cx - rx - rim, cy - ry - rim, cx + rx + rim,
                                    cy + ry + rim), y1 - y0, x1 - x0)
            ground = (floor * (1 - outer)[..., None] + MIRROR_RIM * (outer - inner)[..., None]
                      + MIRROR * inner[..., None])
            pred = []
            for r in (full * inner, full):
                im = ground * (1 - r)[..., None] + tint * r[..., None]
                pred.append(np.stack([ndimage.gaussian_filter(im[..., k], sig, mode="nearest")
                                      for k in range(3)], -1))
            diff = pred[1] - pred[0]
            lz = (np.abs(diff).sum(-1) >= 10.0) & ok
            res = (obs - pred[0])[ok]
            if lz.sum() < LEAK_SUPPORT:
                amp = 0.0
                sse = float((res ** 2).sum())
            else:
                d = diff[ok]
                amp = float((res * d).sum() / (d * d).sum())
                amp_c = min(max(amp, 0.0), 1.5)
                sse = float(((res - amp_c * d) ** 2).sum())
            if sse < best[0]:
                best = (sse, amp, float((full * (1 - inner)).sum()))
    return best[1], best[2]


def _fit_mirror(wts: np.ndarray, round_: bool, cx0: float, cy0: float, rx_lo: float,
                rx_hi: float, dx: float) -> tuple[float, float, float] | None:
    """(cx, cy, rx) of the mirror (ry = MIRROR_ASPECT * rx) whose outline, grown by the rim,
    maximises the sum of ``wts`` inside it (+1 mirror or rim, -1 floor or wall, 0 unknown or
    occluded).

    The object stands on the mirror, so the centre is searched within ``dx`` of ``cx0`` and
    a few px of ``cy0``; ties go to the centre nearest (cx0, cy0)."""
    if (wts > 0.5).sum() < 3:
        return None
    rim = MIRROR_RIM_WIDTH * CANON
    h, w = wts.shape
    pref = np.concatenate([np.zeros((h, 1)), np.cumsum(wts, 1)], 1)
    rows = np.arange(h) + 0.5

    def score(cx: np.ndarray, cy: np.ndarray, rx: np.ndarray) -> np.ndarray:
        ry = rx * MIRROR_ASPECT + rim
        rx = rx + rim
        dy = (rows[None] - cy[:, None]) / ry[:, None]
        inside = np.abs(dy) <= 1.0
        hw = rx[:, None] * (np.sqrt(np.clip(1 - dy * dy, 0, 1)) if round_ else np.ones_like(dy))
        xs0 = np.clip(np.ceil(cx[:, None] - hw - 0.5), 0, w).astype(int)
        xs1 = np.clip(np.floor(cx[:, None] + hw - 0.5) + 1, 0, w).astype(int)
        xs1 = np.maximum(xs1, xs0)
        r = np.broadcast_to(np.arange(h)[None], xs0.shape)
        sums = pref[r, xs1] - pref[r, xs0]
        return np.where(inside, sums, 0.0).sum(1) - 0.01 * (np.abs(cx - cx0) + np.abs(cy - cy0))

    best = None
    for step, span in ((1.0, None), (0.25, 1.0)):
        if span is None:
            cxs = np.arange(cx0 - dx, cx0 + dx + 0.01, step)
            cys = np.arange(cy0 - 4, cy0 + 4.01, step)
            rxs = np.arange(rx_lo, rx_hi + 0.01, step)
        else:
            f = np.arange(-span, span + 0.01, step)
            cxs, cys, rxs = best[0] + f, best[1] + f, np.clip(best[2] + f, rx_lo, rx_hi)
        g = np.stack(np.meshgrid(cxs, cys, rxs, indexing="ij"), -1).reshape(-1, 3)
        best = g[int(np.argmax(score(g[:, 0], g[:, 1], g[:, 2])))]
    return float(best[0]), float(best[1]), float(best[2])


def _shadow_seen(mix: _Mix, blob: _Blob, expected: str | None) -> tuple[str, dict[str, Any]]:
    """Where the shadow lies (left, right, below or none) from the floor's shadow share near
    the object's base, with its offset and mass in object widths and the physics margin."""
    meas: dict[str, Any] = {}
    seen = "none"
    s = np.clip((mix.share[..., 3] - 0.15) / 0.85, 0, 1)
    yy, xx = np.mgrid[0:CANON, 0:CANON]
    w = blob.width
    region = (yy >= blob.y0 + 0.3 * blob.height) & (yy <= blob.y1 + 0.6 * w + 3) & \
        (np.abs(xx + 0.5 - blob.cx) <= 2.2 * w)
    s = np.where(region, s, 0.0)
    mass = float(s.sum())
    if mass >= SHADOW_MIN * w * w:
        sx = float((s * (xx + 0.5)).sum() / mass)
        off = (sx - blob.cx) / w
        seen = "left" if off < -SHADOW_SIDE else "right" if off > SHADOW_SIDE else "below"
        meas["shadow_offset"] = off
    meas["shadow_mass"] = mass / (w * w)
    if "shadow_offset" in meas:
        off = meas["shadow_offset"]
        signed = {"left": -off - SHADOW_SIDE, "right": off - SHADOW_SIDE,
                  "below": SHADOW_SIDE - abs(off)}.get(expected, 0.0)
        meas["physics_margin"] = signed / SHADOW_SIDE
    else:
        meas["physics_margin"] = -1.0      # an object with no shadow at all
    return seen, meas


def _verify_shadow(g: CausalSceneGraph, img: np.ndarray, raw: np.ndarray) -> _Answers:
    cols, names = _colour_palette()
    bgs = [WALL, FLOOR, LIGHT, SHADOW_BLEND]
    mix = _unmix(img, bgs, cols, names, pairs=[(0, 1), (1, 3), (0, 2)])
    o = _objects(g)[0]
    blobs = _blobs(mix)
    blob = blobs[0] if blobs else None
    ans = _Answers()
    ans.add(_texture_single(g, raw, mix, blob, o, "colour"))
    _ask_count(g, mix, ans)
    light = g.nodes("light")
    lside = g.attr(light[0], "side") if light else None
    sh = g.effects("shadow")
    expected = g.attr(sh[0], "side") if sh else SHADOW_FROM_LIGHT.get(lside)
    ok = False
    seen = "none"
    if blob is not None:
        seen, shadow_meas = _shadow_seen(mix, blob, expected)
        ans.meas.update(shadow_meas)
        ok = seen == expected
    else:
        ans.meas["undetermined"] = ["shadow_side"]
    lit = mix.share[..., 2] >= 0.5
    lit[CANON // 2:] = False          # the light hangs on the wall
    if lit.sum() >= 3:                # where it is: clips move it across the scene
        ans.meas["light_x"] = float((np.nonzero(lit)[1] + 0.5).mean() / CANON)
    ans.physics["shadow_side"] = bool(ok)
    where = {"left": "to the left", "right": "to the right", "below": "beneath the object",
             "none": "not found"}
    for e in sh:
        ans.per_node[e] = f"shadow {where[seen]}" + ("" if ok else
                                                     f" (expected {where.get(expected)})")
    for li in light:
        ans.per_node[li] = f"light from {lside}: shadow expected {where.get(expected)}, seen " \
                           f"{where[seen]}"
    for f in g.nodes("surface"):
        ans.per_node.setdefault(f, "floor")
    return ans


def _water_column(mix: _Mix) -> tuple[float, float, float, float] | None:
    """(left, right, top, bottom) of the water in the beaker, canonical px; None if unseen."""
    wsh = mix.share[..., 2] + np.where(mix.obj >= 5, mix.alpha, 0.0)
    wmask = ndimage.binary_opening(wsh >= 0.5, _EIGHT)
    lab, n = ndimage.label(wmask, structure=_EIGHT)
    if not n:
        return None
    sizes = ndimage.sum(wmask, lab, range(1, n + 1))
    wm = lab == (int(np.argmax(sizes)) + 1)
    r = np.nonzero(wm.any(1))[0]
    c = np.nonzero(wm.any(0))[0]
    colfrac = wm[r[0]:r[-1] + 1].mean(0)
    rowfrac = wm[:, c[0]:c[-1] + 1].mean(1)
    wc = np.nonzero(colfrac >= 0.5)[0] + r[0] * 0
    wr = np.nonzero(rowfrac >= 0.4)[0]
    if not (len(wc) and len(wr)):
        return None
    return float(wc[0]), float(wc[-1] + 1), float(wr[0]), float(wr[-1] + 1)


def _in_beaker_mix(img: np.ndarray, top: float, mats: list[np.ndarray],
                   subs: list[np.ndarray], names: list[str]) -> _Mix:
    """Inside the beaker there is no floor and no glass: unmix again against wall and water,
    with the materials above the surface and their water-tinted colours below."""
    yy = np.mgrid[0:CANON, 0:CANON][0]
    bg2 = [WALL, WATER]
    pr2 = [(0, 1)]
    up = _unmix(img, bg2, mats, names, pr2)
    down = _unmix(img, bg2, subs, names, pr2)
    below = (yy >= top)
    return _Mix(np.where(below, down.alpha, up.alpha), np.where(below, down.obj, up.obj),
                np.where(below[..., None], down.share, up.share), names,
                np.where(below[..., None], down.bgcol, up.bgcol),
                np.where(below, down.resid, up.resid))


def _fate_seen(blob: _Blob, top: float, hgt: float, floats_exp: bool
               ) -> tuple[str, dict[str, Any]]:
    """Floating, sinking or suspended from the object's place in the water column."""
    otop, obot = blob.y0, blob.y1 + 1.0
    meas: dict[str, Any] = {"object_top": (otop - top) / hgt, "object_bottom": (obot - top) / hgt}
    if otop <= top + FLOAT_TOP_MAX * hgt and obot <= top + FLOAT_BOTTOM_MAX * hgt:
        state = "floating"
    elif obot >= top + SINK_BOTTOM_MIN * hgt:
        state = "sinking"
    else:
        state = "suspended"
    bot = meas["object_bottom"]
    meas["physics_margin"] = (FLOAT_BOTTOM_MAX - bot) / FLOAT_BOTTOM_MAX \
        if floats_exp else (bot - SINK_BOTTOM_MIN) / (1 - SINK_BOTTOM_MIN)
    return state, meas


def _verify_buoyancy(g: CausalSceneGraph, img: np.ndarray, raw: np.ndarray) -> _Answers:
    mats = [np.array(c, np.float32) for c in MATERIALS.values()]
    subs = [c * (1 - WATER_TINT) + WATER * WATER_TINT for c in mats]
    names = list(MATERIALS) * 2
    mix = _unmix(img, [WALL, FLOOR, WATER, GLASS], mats + subs, names,
                 pairs=[(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)])
    o = _objects(g)[0]
    water = g.surface("water")
    floats_exp = bool(g.effects("floating")) or (
        not g.effects("sinking") and DENSITY.get(g.attr(o, "material"), 1.0) < 1.0)
    ans = _Answers()
    ok = False
    state = "unknown"
    blob = inside_glass = None
    column = _water_column(mix)
    if column is not None:
        left, right, top, bottom = column
        hgt = bottom - top
        yy, xx = np.mgrid[0:CANON, 0:CANON]
        # inside the glass (its walls blur into the water's edge columns)
        inside_glass = (xx >= left + 3) & (xx < right - 3) & (yy < bottom - 1)
        mix = _in_beaker_mix(img, top, mats, subs, names[:5])
        blobs = _blobs(mix, inside_glass & (yy >= top - 0.6 * hgt))
        blob = blobs[0] if blobs else None
        ans.meas["water"] = {"left": left / CANON, "right": right / CANON, "top": top / CANON,
                             "bottom": bottom / CANON}
        ans.per_node[water] = f"water found, surface at y={_fmt(top / CANON)}"
        if blob is not None:
            state, fate_meas = _fate_seen(blob, top, hgt, floats_exp)
            ans.meas.update(fate_meas)
            ok = state == ("floating" if floats_exp else "sinking")
    if blob is None:
        ans.meas["undetermined"] = ["float_or_sink"]
    ans.per_node.setdefault(water, "water not found")
    shift = None
    if "water" in ans.meas:
        shift = (int(round(ans.meas["water"]["top"] * CANON)), REFRACTION_SHIFT * CANON)
    soft = None
    if blob is not None and shift is not None:
        k = names.index(blob.colour)
        below = (np.arange(CANON) >= shift[0])[:, None, None]
        soft = _alpha_lin(raw, mix.bgcol, np.where(below, subs[k], mats[k]))
    ans.add(_texture_single(g, raw, mix, blob, o, "material", soft=soft,
                            model=None if shift is None else _ShapeModel(split=shift),
                            valid=inside_glass))
    ans.physics["float_or_sink"] = bool(ok)
    want = "floating" if floats_exp else "sinking"
    for e in g.effects("floating") + g.effects("sinking"):
        ans.per_node[e] = f"object {state}" + ("" if ok else f" (expected {want})")
    for e in g.effects("refraction"):
        ans.per_node[e] = "not checked (refraction is drawn as a small sideways shift)"
    return ans


def _expected_tilt(g: CausalSceneGraph, left_n: str, right_n: str) -> str:
    """The side the graph's tilt says; with no tilt node, the denser cube's side."""
    tilt = g.effects("tilt")
    expected = g.attr(tilt[0], "side") if tilt else None
    if expected is None:
        dl = DENSITY.get(g.attr(left_n, "material"), 1.0)
        dr = DENSITY.get(g.attr(right_n, "material"), 1.0)
        expected = "left" if dl > dr else "right" if dr > dl else "level"
    return expected


def _verify_balance(g: CausalSceneGraph, img: np.ndarray, raw: np.ndarray) -> _Answers:
    mats = [np.array(c, np.float32) for c in MATERIALS.values()]
    names = list(MATERIALS)
    bgs = [WALL, FLOOR, BEAM, FULCRUM]
    mix = _unmix(img, bgs, mats, names, pairs=[(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)])
    fg = mix.alpha + mix.share[..., 2] + mix.share[..., 3]
    fmask = fg >= 0.5
    left_n, right_n = _left_right(g)
    beam = g.surface("beam")
    expected = _expected_tilt(g, left_n, right_n)
    ans = _Answers()
    seen = "unknown"
    ok = False
    yy, xx = np.mgrid[0:CANON, 0:CANON]
    side_blobs: dict[str, _Blob | None] = {left_n: None, right_n: None}
    if fmask.sum() >= 20:
        xs = xx[fmask]
        x_lo, x_hi = np.percentile(xs, 2), np.percentile(xs, 98)
        cx = (x_lo + x_hi) / 2
        half = (x_hi - x_lo) / 2
        lm = fmask & (xx < cx - 0.25 * half)
        rm = fmask & (xx > cx + 0.25 * half)
        if lm.sum() >= 8 and rm.sum() >= 8:
            yl = float(np.average(yy[lm], weights=fg[lm]))
            yr = float(np.average(yy[rm], weights=fg[rm]))
            diff = (yl - yr) / CANON
            seen = "left" if diff > TILT_MIN else "right" if diff < -TILT_MIN else "level"
            ans.meas["left_minus_right_y"] = diff
            ok = seen == expected
            signed = {"left": diff - TILT_MIN, "right": -diff - TILT_MIN,
                      "level": TILT_MIN - abs(diff)}[expected]
            ans.meas["physics_margin"] = signed / (3 * TILT_MIN)
        for n, region in ((left_n, xx < cx), (right_n, xx >= cx)):
            bl = _blobs(mix, region)
            side_blobs[n] = bl[0] if bl else None
        ans.per_node[beam] = f"beam found, centre x={_fmt(cx / CANON)}"
    else:
        ans.per_node[beam] = "beam not found"
    for n in (left_n, right_n):
        ans.add(_texture_single(g, raw, mix, side_blobs[n], n, "material", prefix=f"{n}.",
                                ask_shape=False))
    ans.physics["down_side"] = bool(ok)
    if seen == "unknown":
        ans.meas["undetermined"] = ["down_side"]
    for e in g.effects("tilt"):
        ans.per_node[e] = f"beam down on the {seen}" + ("" if ok else f" (expected {expected})")
    return ans


def _verify_scale(g: CausalSceneGraph, img: np.ndarray, raw: np.ndarray) -> _Answers:
    cols, names = _colour_palette()
    mix = _unmix(img, [WALL, FLOOR], cols, names, pairs=[(0, 1)])
    blobs = _blobs(mix)
    ans = _Answers()
    found: dict[str, _Blob | None] = {}
    for n in _objects(g):
        want = g.attr(n, "colour")
        cand = [b for b in blobs if b.colour == want]
        found[n] = cand[0] if cand else None
        ans.add(_texture_single(g, raw, mix, found[n], n, "colour", prefix=f"{n}."))
    _ask_count(g, mix, ans)
    pairs = [(u, v) for u, v, r in g.graph.edges(data="relation") if r == "larger than"]
    if not pairs:
        objs = _objects(g)
        big = [n for n in objs if g.attr(n, "size") == "large"]
        small = [n for n in objs if g.attr(n, "size") != "large"]
        pairs = [(big[0], small[0])] if big and small else []
    ok = bool(pairs)
    margins = []
    for u, v in pairs:
        bu, bv = found.get(u), found.get(v)
        if bu is None or bv is None:
            ok = False
            ans.meas["undetermined"] = ["larger"]
            continue
        ratio = bu.mass / max(bv.mass, 1e-6)
        ans.meas[f"area_ratio_{u}_{v}"] = ratio
        ok = ok and ratio > 1.0
        margins.append(math.log(max(ratio, 1e-6)) / math.log(4.0))
    if margins and "undetermined" not in ans.meas:
        ans.meas["physics_margin"] = min(margins)
    ans.physics["larger"] = bool(ok)
    for f in g.nodes("surface"):
        ans.per_node.setdefault(f, "floor")
    return ans


#: each category's checker; roles, fill and place add theirs from :mod:`.verify_relational`
#: (``toyworld/__init__`` imports it), so this module never imports it
CHECKERS: dict[str, Callable[[CausalSceneGraph, np.ndarray, np.ndarray], _Answers]] = {
    "reflection": _verify_reflection, "shadow": _verify_shadow,
    "buoyancy": _verify_buoyancy, "balance": _verify_balance, "scale": _verify_scale}

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
    img = np.stack([ndimage.gaussian_filter(raw[..., c], DENOISE_SIGMA, mode="nearest")
                    for c in range(3)], -1)
    cat = graph.category
    n_obj, surface = OBJECT_COUNT[cat], REQUIRED_SURFACE.get(cat)
    if len(_objects(graph)) < n_obj or (surface and graph.surface(surface) is None):
        raise VerifyError(f"graph: a {cat} scene needs {n_obj} object(s)"
                          + (f" and a {surface} surface" if surface else ""))
    # every ToyWorld picture is mostly wall and floor; without them it is not one
    ground = _unmix(img, [WALL, FLOOR], [], [], [(0, 1)])
    bg_frac = float((ground.resid < 25.0).mean())
    meas: dict[str, Any] = {"white_balanced": balanced, "wall_floor_fraction": bg_frac}
    ans = CHECKERS[cat](graph, img, raw)
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
