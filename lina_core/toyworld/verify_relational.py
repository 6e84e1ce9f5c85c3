"""The ToyWorld v2 checkers (issue 16): ``roles``, ``fill``, ``place``.

Same contract as the first five (:mod:`.verify`): a checker takes the graph, the denoised and
the raw canonical image, finds everything in the pixels (never the layout boxes) and returns
its answers, measurements, a signed physics margin and the questions it could not judge.  The
three are added to ``verify.CHECKERS`` when this module is imported (``toyworld/__init__``
imports it; ``verify`` never does).

* roles: each object is the largest component of its stated colour.  ``on_top``: the stated
  top object's centre is above the other's by a third of their mean height, and they overlap
  horizontally; ``touching``: the rows between the top one's lowest core row and the bottom
  one's highest are at most :data:`TOUCH_GAP` canonical px, and they overlap horizontally.
* fill: the jar's inside is the largest component of (empty-glass share + fill share) >= 0.5;
  the level is the fill's share of that inside over its central columns, soft (a blurred edge
  counts half).  ``fill_level``: above 1/2 is "more", below is "less".  Texture: the fill's
  material (vote) and the jar's shape (its inside taller than wide or not).
* place: the shore is found from the water's share of the floor, column by column; the object
  is the largest coloured component.  ``in_water``: its centre is on the water's side;
  ``on_sand``: on the sand's side; ``close_to_water``: its edge is within :data:`NEAR_MAX`
  object widths of the shore; ``far_from_water``: at least :data:`FAR_MIN` widths from it.
"""
from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from scipy import ndimage

from ..csg import FILL_MATERIALS, CausalSceneGraph
from .categories.roles import top_bottom
from .canvas import FLOOR, GLASS, WALL, WATER
from .categories.fill import JAR_EMPTY, LID_COLOUR, fill_colour, fill_of
from .categories.place import SAND, place_of
from .verify import (CANON, CHECKERS, _EIGHT, _Answers, _ask_count, _blobs, _colour_palette,
                     _fmt, _objects, _texture_single, _unmix)

TOUCH_GAP = 5.0        #: canonical px between the two objects' cores that still touch
ON_TOP_MIN = 1 / 3     #: centre height difference, in mean object heights, that is "on top"
NEAR_MAX = 0.45        #: object widths from the shore within which the object is close to it
FAR_MIN = 0.7          #: object widths from the shore from which it is far from it
TALL_MIN = 1.1         #: height / width of a jar's inside from which it is tall
MATERIAL_MIN = 1.0     #: alpha^2-weighted px of fill needed to name its material


# --------------------------------------------------------------------------- roles


def _verify_roles(g: CausalSceneGraph, img: np.ndarray, raw: np.ndarray) -> _Answers:
    cols, names = _colour_palette()
    mix = _unmix(img, [WALL, FLOOR], cols, names, pairs=[(0, 1)])
    ans = _Answers()
    top, bottom = top_bottom(g)
    found, per_colour = {}, {}
    for n in (top, bottom):
        colour = g.attr(n, "colour")
        per_colour[colour] = blobs = _blobs(mix, where=mix.obj == names.index(colour))
        found[n] = blobs[0] if blobs else None
    for n in _objects(g):
        other = found[bottom if n == top else top]
        valid = None if other is None else \
            ~ndimage.binary_dilation(other.core, _EIGHT, iterations=1)
        ans.add(_texture_single(g, raw, mix, found[n], n, "colour", prefix=f"{n}.",
                                valid=valid))
    _ask_count(g, mix, ans, found=per_colour)
    bt, bb = found[top], found[bottom]
    if bt is None or bb is None:
        ans.physics.update(on_top=False, touching=False)
        ans.meas["undetermined"] = ["on_top", "touching"]
    else:
        rise = (bb.cy - bt.cy) / (0.5 * (bt.height + bb.height))
        overlap = abs(bt.cx - bb.cx) <= 0.5 * max(bt.width, bb.width)
        gap = float(bb.y0 - bt.y1 - 1)
        ans.physics["on_top"] = bool(overlap and rise >= ON_TOP_MIN)
        ans.physics["touching"] = bool(overlap and gap <= TOUCH_GAP)
        ans.meas.update(rise=rise, gap_px=gap, overlap=bool(overlap))
        side = 1.0 if overlap else -1.0
        ans.meas["physics_margin"] = min(side, (rise - ON_TOP_MIN) / ON_TOP_MIN,
                                         (TOUCH_GAP - gap) / TOUCH_GAP)
        seen = "on top" if ans.physics["on_top"] else "not on top"
        ans.per_node[top] += f"; {seen} of {bottom}, gap {gap:.0f} px"
    for f in g.nodes("surface"):
        ans.per_node.setdefault(f, "floor")
    return ans


# --------------------------------------------------------------------------- fill


def _jar_mix(img: np.ndarray) -> Any:
    bgs = [WALL, FLOOR, GLASS, JAR_EMPTY, LID_COLOUR]
    mats = [fill_colour(m) for m in FILL_MATERIALS]
    pairs = list(itertools.combinations(range(len(bgs)), 2))
    return _unmix(img, bgs, mats, list(FILL_MATERIALS), pairs,
                  obj_over=lambda i, o: i in (2, 3))       # a fill shows over glass or empty


def _jar_inside(mix: Any) -> tuple[np.ndarray | None, dict[str, Any]]:
    """The jar's inside (its central columns: a bool mask) and its measurements: the level
    share and the inside's height / width."""
    inside = mix.share[..., 3] + mix.alpha
    lab, n = ndimage.label(inside >= 0.5, structure=_EIGHT)
    if n == 0:
        return None, {}
    sizes = ndimage.sum(np.ones_like(inside), lab, range(1, n + 1))
    comp = lab == int(np.argmax(sizes)) + 1
    if comp.sum() < 12:
        return None, {}
    counts = comp.sum(0)
    central = counts >= 0.5 * counts.max()
    ys = np.nonzero(comp.any(1))[0]
    xs = np.nonzero(central)[0]
    rows = slice(max(ys.min() - 1, 0), ys.max() + 2)
    filled = float(mix.alpha[rows][:, central].sum())
    empty = float(mix.share[..., 3][rows][:, central].sum())
    share = filled / max(filled + empty, 1e-6)
    aspect = (ys.max() - ys.min() + 1) / (xs.max() - xs.min() + 1)
    core = np.zeros_like(comp)
    core[rows, xs.min() + 1:xs.max()] = True      # the central columns, less the glass's blur
    return comp & core, {"fill_share": share, "jar_aspect": float(aspect)}


def _verify_fill(g: CausalSceneGraph, img: np.ndarray, raw: np.ndarray) -> _Answers:
    mix = _jar_mix(img)
    ans = _Answers()
    jar, fill = g.surface("jar"), fill_of(g)
    want_mat, level = g.attr(fill, "material"), g.attr(fill, "level")
    want_shape = g.attr(jar, "shape")
    comp, meas = _jar_inside(mix)
    ans.meas.update(meas)
    if comp is None:
        ans.texture.update(material=False, jar_shape=False)
        ans.physics["fill_level"] = False
        ans.meas["undetermined"] = ["fill_level"]
        ans.per_node[jar] = "no jar found"
        return ans
    votes: dict[str, float] = {}
    sel = comp & (mix.obj >= 0)       # a thin fill at 32 px is a blurred line: every share votes
    for idx, wgt in zip(mix.obj[sel], mix.alpha[sel] ** 2):
        votes[mix.names[idx]] = votes.get(mix.names[idx], 0.0) + float(wgt)
    seen_mat = max(votes, key=votes.get) if sum(votes.values()) >= MATERIAL_MIN else "none"
    seen_shape = "tall" if meas["jar_aspect"] >= TALL_MIN else "wide"
    share = meas["fill_share"]
    seen_level = "more" if share > 0.5 else "less"
    ans.texture.update(material=seen_mat == want_mat, jar_shape=seen_shape == want_shape)
    ans.meas.update(material=seen_mat, jar_shape=seen_shape)
    ans.physics["fill_level"] = seen_level == level
    ans.meas["physics_margin"] = (share - 0.5) / 0.5 * (1 if level == "more" else -1)
    ans.per_node[jar] = f"{seen_shape} jar (inside {_fmt(meas['jar_aspect'])} x as tall as " \
                        f"wide)" + ("" if seen_shape == want_shape else f", expected {want_shape}")
    ans.per_node[fill] = f"{seen_mat}, {100 * share:.0f}% of the jar: {seen_level} than " \
                         f"empty space" + ("" if seen_level == level else f" (expected {level})")
    return ans


# --------------------------------------------------------------------------- place


def _shore(mix: Any, blob: Any) -> tuple[str, float] | None:
    """Which side the water is on and the shore's x (canonical px), from the water's share of
    the floor rows, the object's pixels left out."""
    sand, water = mix.share[..., 1], mix.share[..., 2]
    floor = sand + water
    rows = floor.mean(1) >= 0.6
    keep = np.ones_like(floor, bool) if blob is None else \
        ~ndimage.binary_dilation(blob.region, _EIGHT, iterations=1)
    keep &= rows[:, None]
    wf = (water * keep).sum(0) / np.maximum((floor * keep).sum(0), 1e-6)
    width = float(wf.sum())
    if width < 3 or width > CANON - 3:
        return None
    half = CANON // 2
    side = "right" if wf[half:].sum() > wf[:half].sum() else "left"
    return side, (CANON - width if side == "right" else width)


def _verify_place(g: CausalSceneGraph, img: np.ndarray, raw: np.ndarray) -> _Answers:
    cols, names = _colour_palette()
    mix = _unmix(img, [WALL, SAND, WATER], cols, names, pairs=[(0, 1), (0, 2), (1, 2)])
    o = _objects(g)[0]
    blobs = _blobs(mix)
    blob = blobs[0] if blobs else None
    ans = _Answers()
    ans.add(_texture_single(g, raw, mix, blob, o, "colour"))
    _ask_count(g, mix, ans)
    place = place_of(g)
    asked = {"near": ("on_sand", "close_to_water"), "far": ("on_sand", "far_from_water"),
             "water": ("in_water",)}[place]
    shore = _shore(mix, blob)
    if blob is None or shore is None:
        ans.physics.update({q: False for q in asked})
        ans.meas["undetermined"] = list(asked)
        ans.per_node[g.surface("water")] = "no shore found" if shore is None else "water"
        return ans
    side, x = shore
    toward = 1.0 if side == "right" else -1.0
    depth = toward * (blob.cx - x) / blob.width           # > 0: centre on the water's side
    gap = (x - (blob.x1 + 1) if side == "right" else blob.x0 - x) / blob.width
    seen = {"in_water": depth > 0, "on_sand": depth <= 0,
            "close_to_water": depth <= 0 and gap <= NEAR_MAX,
            "far_from_water": depth <= 0 and gap >= FAR_MIN}
    ans.physics.update({q: bool(seen[q]) for q in asked})
    margins = {"in_water": depth / 0.5, "on_sand": -depth / 0.5,
               "close_to_water": (NEAR_MAX - gap) / NEAR_MAX, "far_from_water": gap - FAR_MIN}
    ans.meas.update(water_side=side, shore_x=x / CANON, gap_widths=gap, depth_widths=depth,
                    physics_margin=min(margins[q] for q in asked))
    where = "in the water" if depth > 0 else f"on the sand, {gap:.2f} widths from the water"
    ans.per_node[o] += f"; {where}"
    ans.per_node[g.surface("water")] = f"water on the {side}, shore at x={_fmt(x / CANON)}"
    ans.per_node[g.surface("sand")] = "sand"
    return ans


CHECKERS.update({"roles": _verify_roles, "fill": _verify_fill, "place": _verify_place})
