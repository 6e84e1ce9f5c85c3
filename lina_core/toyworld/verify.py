"""ToyWorld verifier: does an image show what its scene graph asks, texture and physics?

Built for *generated* images (blurry, grainy, objects wherever the model put them), so it never
reads the graph's layout boxes: it finds the mirror, water, beam, objects, reflection and shadow
in the pixels, and takes from the graph only what is asked (category, colours, materials, shapes,
light side, the expected effect).

How it sees: the image is resized to a canonical 64 x 64 and every pixel is *unmixed* against
the category's palette (render.py / csg.py colours): it is explained either as a mixture of two
background colours (wall, floor, mirror, water, ...) or as an object colour over one background
colour, with the object's share ``alpha``.  Blurred edges are mixtures, so they are explained,
not misclassified.  Objects are the connected components of ``alpha >= 0.5``; their colour is an
alpha-weighted vote; their shape is fitted from their row and column profiles (blur-aware
templates of ball, cube, cone).  See ``docs/VERIFIER.md`` for every question and its accuracy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage

from ..csg import (COLOURS, DENSITY, MATERIALS, MIRROR_ASPECT, CausalSceneGraph, GraphError)
from .render import (BEAM, FLOOR, FULCRUM, GLASS, LIGHT, MIRROR, MIRROR_RIM, REFLECTION_MIX,
                     REFRACTION_SHIFT, SHADOW, SHADOW_ALPHA, WALL, WATER, WATER_TINT)

CANON = 64                       #: every image is judged at CANON x CANON
MIN_INPUT = 32
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
                "physics_ok": self.physics_ok, "per_node": dict(self.per_node),
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


# --------------------------------------------------------------------------- unmixing


@dataclass
class _Mix:
    alpha: np.ndarray      # H x W: share of an object colour (0 where only background)
    obj: np.ndarray        # H x W int: index of that object colour, -1 for none
    share: np.ndarray      # H x W x K: share of each background colour
    names: list[str]       # object-colour index -> name it votes for


def _unmix(img: np.ndarray, bgs: list[np.ndarray], objs: list[np.ndarray], names: list[str],
           pairs: list[tuple[int, int]], pen_obj: float = 2.0, pen_pair: float = 6.0) -> _Mix:
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
    return _Mix(alpha.reshape(h, w).astype(np.float32), obj.reshape(h, w), share.reshape(h, w, k),
                names)


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


# --------------------------------------------------------------------------- shape


_SHAPE_AR = {"ball": 1.0, "cube": 1.0, "cone": 1.1}
_SHAPE_AREA = {"ball": math.pi / 4, "cube": 1.0, "cone": 0.5}
_SIGMAS = (0.6, 0.9, 1.2, 1.5, 1.8, 2.2, 2.6, 3.0)
_SS = 4


def _coverage(shape: str, box: tuple[float, float, float, float], h: int, w: int) -> np.ndarray:
    """Area share of ``shape`` (apex up for a cone) in each pixel of an h x w grid."""
    x0, y0, x1, y1 = box
    c = (np.arange(_SS * max(h, w)) + 0.5) / _SS
    yy, xx = c[:h * _SS, None], c[None, :w * _SS]
    cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    if shape == "ball":
        m = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
    elif shape == "cube":
        m = (xx >= x0) & (xx <= x1) & (yy >= y0) & (yy <= y1)
    else:
        t = (yy - y0) / (y1 - y0)
        m = (t >= 0) & (t <= 1) & (np.abs(xx - cx) <= rx * t)
    return m.reshape(h, _SS, w, _SS).mean(axis=(1, 3))


def _shape_of(alpha: np.ndarray, blob: _Blob, shift_below: tuple[int, float] | None = None
              ) -> tuple[str, dict[str, float]]:
    """Fit a blurred ball, cube and cone (apex up) to the blob's soft mask; best fit wins.

    Each template has the blob's mass and centroid (both survive blur); the blur sigma is
    fitted from a grid.  Scores are squared errors relative to the mass.
    """
    region = ndimage.binary_dilation(blob.core, _EIGHT, iterations=4)
    a = np.where(region, np.clip(alpha, 0, 1), 0.0).astype(np.float64)
    if shift_below is not None:          # undo a refraction shift of the submerged part
        row, dx = shift_below
        if dx and row < a.shape[0]:
            xs = np.arange(a.shape[1], dtype=np.float64)
            for r in range(max(row, 0), a.shape[0]):
                a[r] = np.interp(xs + dx, xs, a[r], left=0.0, right=0.0)
    ys, xs = np.nonzero(region)
    y0, y1 = max(ys.min() - 1, 0), min(ys.max() + 2, a.shape[0])
    x0, x1 = max(xs.min() - 1, 0), min(xs.max() + 2, a.shape[1])
    a = a[y0:y1, x0:x1]
    reg = region[y0:y1, x0:x1]
    mass = float(a.sum())
    if mass < 4:
        return "?", {}
    gy, gx = np.mgrid[0:a.shape[0], 0:a.shape[1]] + 0.5
    mx, my = float((a * gx).sum() / mass), float((a * gy).sum() / mass)
    scores = {}
    for shape in ("ball", "cube", "cone"):
        best = np.inf
        for scale in (0.95, 1.0, 1.05):
            ar = _SHAPE_AR[shape]
            bw = math.sqrt(mass / (_SHAPE_AREA[shape] * ar)) * scale
            bh = ar * bw
            top = my - (2 / 3 if shape == "cone" else 0.5) * bh
            cov = _coverage(shape, (mx - bw / 2, top, mx + bw / 2, top + bh), *a.shape)
            for s in _SIGMAS:
                t = ndimage.gaussian_filter(cov, s, mode="constant")
                err = float((((a - t) * reg) ** 2).sum())
                best = min(best, err)
        scores[shape] = best / mass
    return min(scores, key=scores.get), scores


# --------------------------------------------------------------------------- helpers


def _objects(g: CausalSceneGraph) -> list[str]:
    return g.nodes("object")


def _obj_colour_name(g: CausalSceneGraph, n: str) -> str:
    return g.attr(n, "colour") or g.attr(n, "material") or "?"


def _colour_palette() -> tuple[list[np.ndarray], list[str]]:
    return [np.array(c, np.float32) for c in COLOURS.values()], list(COLOURS)


def _fmt(x: float) -> str:
    return f"{x:.2f}"


def _texture_single(g: CausalSceneGraph, mix: _Mix, blob: _Blob | None, n: str,
                    key: str, texture: dict[str, bool], per_node: dict[str, str],
                    meas: dict[str, Any], prefix: str = "", shift_below=None,
                    ask_shape: bool = True) -> None:
    """Fill ``texture[prefix+key]`` (colour/material) and ``texture[prefix+'shape']``."""
    want = _obj_colour_name(g, n)
    want_shape = g.attr(n, "shape")
    if blob is None:
        texture[prefix + key] = False
        if ask_shape and want_shape:
            texture[prefix + "shape"] = False
        per_node[n] = f"not found (expected a {want} {want_shape or 'object'})"
        return
    seen = blob.colour
    texture[prefix + key] = seen == want
    parts = [f"{key} {seen}" + ("" if seen == want else f" (expected {want})")]
    meas[prefix + key] = seen
    if ask_shape and want_shape:
        shape, scores = _shape_of(mix.alpha, blob, shift_below)
        texture[prefix + "shape"] = shape == want_shape
        parts.append(f"shape {shape}" + ("" if shape == want_shape else
                                          f" (expected {want_shape})"))
        meas[prefix + "shape"] = shape
        meas[prefix + "shape_scores"] = scores
    per_node[n] = ", ".join(parts) + f", at x={_fmt(blob.cx / CANON)} y={_fmt(blob.cy / CANON)}"


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


def _verify_reflection(g, img, texture, physics, per_node, meas) -> None:
    cols, names = _colour_palette()
    tints = [c * REFLECTION_MIX + MIRROR * (1 - REFLECTION_MIX) for c in cols]
    bgs = [WALL, FLOOR, MIRROR, MIRROR_RIM] + tints
    # wall 0, floor 1, mirror 2, rim 3, tints 4..8
    pairs = [(0, 1), (1, 2), (1, 3), (2, 3)] + [(q, 4 + i) for i in range(5) for q in (1, 2, 3)]
    mix = _unmix(img, bgs, cols, names, pairs)
    o = _objects(g)[0]
    m = g.surface("mirror")
    blobs = _blobs(mix)
    blob = blobs[0] if blobs else None
    _texture_single(g, mix, blob, o, "colour", texture, per_node, meas)

    # --- the mirror: visible mirror / rim / tint pixels, extent per row
    tint_share = mix.share[..., 4:].sum(-1)
    mir = mix.share[..., 2] + mix.share[..., 3] + tint_share
    mir_mask = mir >= 0.5
    lab, nlab = ndimage.label(mir_mask, structure=_EIGHT)
    mirror_found = nlab > 0
    shape = g.attr(m, "shape", "round")
    if mirror_found:
        sizes = ndimage.sum(mir_mask, lab, range(1, nlab + 1))
        keep = np.zeros(nlab + 1, bool)
        keep[1:] = sizes >= max(6.0, 0.15 * sizes.max())
        mir_mask = keep[lab]
        rows = np.nonzero(mir_mask.any(1))[0]
        lefts = np.array([np.nonzero(mir_mask[r])[0][0] for r in rows], np.float64)
        rights = np.array([np.nonzero(mir_mask[r])[0][-1] for r in rows], np.float64)
        widths = rights - lefts + 1
        wmax = float(np.sort(widths)[-min(3, len(widths))])
        wide = widths >= 0.9 * wmax
        mcx = float(np.median((lefts[wide] + rights[wide]) / 2)) + 0.5
        rx = wmax / 2
        if shape == "round":
            mcy = float(rows[wide].mean()) + 0.5
            ry = rx * MIRROR_ASPECT
            bottom = mcy + ry
        else:
            full = widths >= 0.8 * wmax
            bottom = float(rows[full].max()) + 1.0
            top = float(rows[full].min())
            mcy = (top + bottom) / 2
            ry = (bottom - top) / 2
        meas["mirror"] = {"cx": mcx / CANON, "cy": mcy / CANON, "rx": rx / CANON,
                          "bottom": bottom / CANON}
        per_node[m] = (f"{shape} mirror found, centre x={_fmt(mcx / CANON)}, "
                       f"bottom edge y={_fmt(bottom / CANON)}")
    else:
        per_node[m] = "mirror not found"

    # --- the reflection: pixels on the mirror -> object-colour line, at about REFLECTION_MIX
    present = inside = False
    refl = g.effects("reflection")
    if blob is not None and mirror_found:
        ci = names.index(blob.colour) if blob.colour in names else 0
        tinted = mix.share[..., 4 + ci] >= 0.5
        base = blob.y1 + 1.0                     # first row under the object's core
        yy, xx = np.mgrid[0:CANON, 0:CANON]
        under = (xx >= blob.x0) & (xx <= blob.x1) & (yy >= base + 2) & \
            (yy <= base + 2 + 0.8 * blob.height)
        below_mass = float((tinted & under).sum())
        need = 0.9 * blob.width
        present = below_mass >= need
        # outside the mirror: tinted pixels under the object beyond the mirror's outline
        margin = 2.0
        cand = tinted & (yy >= base + 1) & (np.abs(xx + 0.5 - blob.cx) <= blob.width)
        if shape == "round":
            outside = ((xx + 0.5 - mcx) / (rx + margin)) ** 2 + \
                ((yy + 0.5 - mcy) / (ry + margin)) ** 2 > 1.0
        else:
            outside = (yy + 0.5 > bottom + margin) | (np.abs(xx + 0.5 - mcx) > rx + margin)
        out_mass = float((cand & outside).sum())
        inside = out_mass < 4.0
        meas.update(reflection_mass=below_mass, reflection_need=need,
                    reflection_outside_mass=out_mass)
    physics["reflection_present"] = bool(present)
    physics["reflection_inside_mirror"] = bool(inside)
    msg = ("present under the object" if present else "missing under the object") + \
        (", inside the mirror" if inside else ", extends beyond the mirror's edge")
    for e in refl:
        per_node[e] = msg
    if not refl:
        meas["reflection_note"] = "graph has no reflection node; judged as " + msg


def _verify_shadow(g, img, texture, physics, per_node, meas) -> None:
    cols, names = _colour_palette()
    bgs = [WALL, FLOOR, LIGHT, SHADOW_BLEND]
    mix = _unmix(img, bgs, cols, names, pairs=[(0, 1), (1, 3), (0, 2)])
    o = _objects(g)[0]
    blobs = _blobs(mix)
    blob = blobs[0] if blobs else None
    _texture_single(g, mix, blob, o, "colour", texture, per_node, meas)
    light = g.nodes("light")
    lside = g.attr(light[0], "side") if light else None
    sh = g.effects("shadow")
    expected = g.attr(sh[0], "side") if sh else \
        {"left": "right", "right": "left", "above": "below"}.get(lside)
    ok = False
    seen = "none"
    if blob is not None:
        s = np.clip((mix.share[..., 3] - 0.15) / 0.85, 0, 1)
        yy, xx = np.mgrid[0:CANON, 0:CANON]
        w = blob.width
        region = (yy >= blob.y0 + 0.3 * blob.height) & (yy <= blob.y1 + 0.6 * w + 3) & \
            (np.abs(xx + 0.5 - blob.cx) <= 2.2 * w)
        s = np.where(region, s, 0.0)
        mass = float(s.sum())
        if mass >= 0.12 * w * w:
            sx = float((s * (xx + 0.5)).sum() / mass)
            off = (sx - blob.cx) / w
            seen = "left" if off < -0.35 else "right" if off > 0.35 else "below"
            meas["shadow_offset"] = off
        meas["shadow_mass"] = mass / (w * w)
        ok = seen == expected
    physics["shadow_side"] = bool(ok)
    where = {"left": "to the left", "right": "to the right", "below": "beneath the object",
             "none": "not found"}
    for e in sh:
        per_node[e] = f"shadow {where[seen]}" + ("" if ok else f" (expected {where.get(expected)})")
    for li in light:
        per_node[li] = f"light from {lside}: shadow expected {where.get(expected)}, seen " \
                       f"{where[seen]}"
    for f in g.nodes("surface"):
        per_node.setdefault(f, "floor")


def _verify_buoyancy(g, img, texture, physics, per_node, meas) -> None:
    mats = [np.array(c, np.float32) for c in MATERIALS.values()]
    subs = [c * (1 - WATER_TINT) + WATER * WATER_TINT for c in mats]
    names = list(MATERIALS) * 2
    bgs = [WALL, FLOOR, WATER, GLASS]
    mix = _unmix(img, bgs, mats + subs, names,
                 pairs=[(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)])
    o = _objects(g)[0]
    wsh = mix.share[..., 2] + np.where(mix.obj >= 5, mix.alpha, 0.0)
    wmask = ndimage.binary_opening(wsh >= 0.5, _EIGHT)
    lab, n = ndimage.label(wmask, structure=_EIGHT)
    water = g.surface("water")
    floats_exp = bool(g.effects("floating")) or (
        not g.effects("sinking") and DENSITY.get(g.attr(o, "material"), 1.0) < 1.0)
    ok = False
    state = "unknown"
    blob = None
    if n:
        sizes = ndimage.sum(wmask, lab, range(1, n + 1))
        wm = lab == (int(np.argmax(sizes)) + 1)
        r = np.nonzero(wm.any(1))[0]
        c = np.nonzero(wm.any(0))[0]
        colfrac = wm[r[0]:r[-1] + 1].mean(0)
        rowfrac = wm[:, c[0]:c[-1] + 1].mean(1)
        wc = np.nonzero(colfrac >= 0.5)[0] + r[0] * 0
        wr = np.nonzero(rowfrac >= 0.4)[0]
        if len(wc) and len(wr):
            left, right = float(wc[0]), float(wc[-1] + 1)
            top, bottom = float(wr[0]), float(wr[-1] + 1)
            hgt = bottom - top
            yy, xx = np.mgrid[0:CANON, 0:CANON]
            where = (xx >= left) & (xx < right) & (yy >= top - 0.6 * hgt) & (yy < bottom)
            # inside the beaker there is no floor: unmix again against wall, water and glass,
            # with the materials above the surface and their water-tinted colours below it
            bg2 = [WALL, WATER, GLASS]
            pr2 = [(0, 1), (0, 2), (1, 2)]
            up = _unmix(img, bg2, mats, names[:5], pr2)
            down = _unmix(img, bg2, subs, names[:5], pr2)
            below = (yy >= top)
            mix = _Mix(np.where(below, down.alpha, up.alpha), np.where(below, down.obj, up.obj),
                       np.where(below[..., None], down.share, up.share), names[:5])
            blobs = _blobs(mix, where)
            blob = blobs[0] if blobs else None
            meas["water"] = {"left": left / CANON, "right": right / CANON, "top": top / CANON,
                             "bottom": bottom / CANON}
            per_node[water] = f"water found, surface at y={_fmt(top / CANON)}"
            if blob is not None:
                otop, obot = blob.y0, blob.y1 + 1.0
                meas.update(object_top=(otop - top) / hgt, object_bottom=(obot - top) / hgt)
                if otop <= top + 0.1 * hgt and obot <= top + 0.6 * hgt:
                    state = "floating"
                elif obot >= bottom - 0.12 * hgt:
                    state = "sinking"
                else:
                    state = "suspended"
                ok = state == ("floating" if floats_exp else "sinking")
    if water not in per_node:
        per_node[water] = "water not found"
    shift = None
    if "water" in meas:
        shift = (int(round(meas["water"]["top"] * CANON)), REFRACTION_SHIFT * CANON)
    _texture_single(g, mix, blob, o, "material", texture, per_node, meas, shift_below=shift)
    physics["float_or_sink"] = bool(ok)
    want = "floating" if floats_exp else "sinking"
    for e in g.effects("floating") + g.effects("sinking"):
        per_node[e] = f"object {state}" + ("" if ok else f" (expected {want})")
    for e in g.effects("refraction"):
        per_node[e] = "not checked (refraction is drawn as a small sideways shift)"


def _verify_balance(g, img, texture, physics, per_node, meas) -> None:
    mats = [np.array(c, np.float32) for c in MATERIALS.values()]
    names = list(MATERIALS)
    bgs = [WALL, FLOOR, BEAM, FULCRUM]
    mix = _unmix(img, bgs, mats, names, pairs=[(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)])
    fg = mix.alpha + mix.share[..., 2] + mix.share[..., 3]
    fmask = fg >= 0.5
    left_n, right_n = _left_right(g)
    beam = g.surface("beam")
    tilt = g.effects("tilt")
    expected = g.attr(tilt[0], "side") if tilt else None
    if expected is None:
        objs = _objects(g)
        dl = DENSITY.get(g.attr(left_n, "material"), 1.0)
        dr = DENSITY.get(g.attr(right_n, "material"), 1.0)
        expected = "left" if dl > dr else "right" if dr > dl else "level"
        del objs
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
            seen = "left" if diff > 0.03 else "right" if diff < -0.03 else "level"
            meas["left_minus_right_y"] = diff
            ok = seen == expected
        for n, region in ((left_n, xx < cx), (right_n, xx >= cx)):
            bl = _blobs(mix, region)
            side_blobs[n] = bl[0] if bl else None
        per_node[beam] = f"beam found, centre x={_fmt(cx / CANON)}"
    else:
        per_node[beam] = "beam not found"
    for n in (left_n, right_n):
        _texture_single(g, mix, side_blobs[n], n, "material", texture, per_node, meas,
                        prefix=f"{n}.", ask_shape=False)
    physics["down_side"] = bool(ok)
    for e in tilt:
        per_node[e] = f"beam down on the {seen}" + ("" if ok else f" (expected {expected})")


def _verify_scale(g, img, texture, physics, per_node, meas) -> None:
    cols, names = _colour_palette()
    mix = _unmix(img, [WALL, FLOOR], cols, names, pairs=[(0, 1)])
    blobs = _blobs(mix)
    found: dict[str, _Blob | None] = {}
    for n in _objects(g):
        want = g.attr(n, "colour")
        cand = [b for b in blobs if b.colour == want]
        found[n] = cand[0] if cand else None
        _texture_single(g, mix, found[n], n, "colour", texture, per_node, meas, prefix=f"{n}.")
    pairs = [(u, v) for u, v, r in g.graph.edges(data="relation") if r == "larger than"]
    if not pairs:
        objs = _objects(g)
        big = [n for n in objs if g.attr(n, "size") == "large"]
        small = [n for n in objs if g.attr(n, "size") != "large"]
        pairs = [(big[0], small[0])] if big and small else []
    ok = bool(pairs)
    for u, v in pairs:
        bu, bv = found.get(u), found.get(v)
        if bu is None or bv is None:
            ok = False
            continue
        ratio = bu.mass / max(bv.mass, 1e-6)
        meas[f"area_ratio_{u}_{v}"] = ratio
        ok = ok and ratio > 1.0
    physics["larger"] = bool(ok)
    for f in g.nodes("surface"):
        per_node.setdefault(f, "floor")


_CATEGORY = {"reflection": _verify_reflection, "shadow": _verify_shadow,
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
    img = canonical(image)
    cat = graph.category
    need = {"reflection": (1, "mirror"), "shadow": (1, None), "buoyancy": (1, "water"),
            "balance": (2, "beam"), "scale": (2, None)}[cat]
    objs = _objects(graph)
    if len(objs) < need[0] or (need[1] and graph.surface(need[1]) is None):
        raise VerifyError(f"graph: a {cat} scene needs {need[0]} object(s)"
                          + (f" and a {need[1]} surface" if need[1] else ""))
    texture: dict[str, bool] = {}
    physics: dict[str, bool] = {}
    per_node: dict[str, str] = {}
    meas: dict[str, Any] = {}
    _CATEGORY[cat](graph, img, texture, physics, per_node, meas)
    for n in graph.graph.nodes:
        per_node.setdefault(n, "not checked")
    return Verdict(cat, texture, physics, {n: per_node[n] for n in graph.graph.nodes}, meas)
