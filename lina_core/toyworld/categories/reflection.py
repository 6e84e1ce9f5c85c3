"""``reflection``: one object standing on a round or square floor mirror ("a red ball on a
large round mirror"); the implicit effect is its reflection, flipped, foreshortened and
clipped by the mirror's edge."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...csg.captions import object_phrase
from ...csg.geometry import (FLOOR_Y, MIRROR_ASPECT, MIRROR_CY, MIRROR_RIM_WIDTH, MIRROR_RX,
                             OBJECT_BASE_ON_MIRROR, REFLECTION_SQUASH, SHAPE_ASPECT, object_box,
                             put)
from ...csg.graph import CausalSceneGraph, GraphError, _short
from ...csg.vocabulary import COLOURS, MIRROR_SHAPES, SHAPES, SIZES
from ..answers import (Answers, ask_count, colour_palette, fmt, object_nodes, palette_rgb,
                       texture_single)
from ..blobs import Blob, find_blobs
from ..blur import blur, blur_channels
from ..canvas import (FLOOR, MIRROR, MIRROR_RIM, REFLECTION_MIX, WALL, Canvas, box, draw_object,
                      object_colour)
from ..counterfactual import Counterfactual, remove, texture
from ..prompt_edits import recolour
from ..render import clip_frames, render
from ..shape_fit import ShapeModel, blur_sigma, coverage
from ..unmix import CANON, Mix, alpha_lin, unmix
from ..verify import Verdict
from ..verify_video import FALL_MIN, Tracks
from .base import Jitter, register
from .caused import CausedCategory
from .open_scene import OpenScene, canonical


# --- the questions (canonical px, RGB units 0..255)
MIRROR_MIN_PX = 10               #: mirror-coloured px needed to look for a mirror
TINT_WEIGHT = 0.5                #: weight of reflection px as evidence of the mirror under them
REFLECTION_MIN = 0.5             #: reflection amplitude (1 = as the renderer draws it) needed
OFF_LINE_MAX = 30.0              #: mean distance of reflection px from the mirror->object line
LEAK_AMP_MAX = 0.5               #: leak amplitude (1 = unclipped) from which it leaks ...
LEAK_MIN_PX = 10                 #: ... if at least this many px leak (amplitude x clipped area)
LEAK_SUPPORT = 6                 #: px where the two predictions differ needed to judge a leak


def _reflection_mix(img: np.ndarray) -> tuple[Mix, list[str]]:
    """Unmix a reflection scene: wall, floor, mirror, rim and the object colours' reflections."""
    cols, names = colour_palette()
    tints = [c * REFLECTION_MIX + MIRROR * (1 - REFLECTION_MIX) for c in cols]
    # the rim is thinner than a pixel at 32 px: it shows as a blend of rim, mirror and floor
    rim_edge = (MIRROR_RIM + MIRROR + FLOOR) / 3
    bgs = [WALL, FLOOR, MIRROR, MIRROR_RIM] + tints + [rim_edge]
    # wall 0, floor 1, mirror 2, rim 3, tints 4..8, rim edge 9
    pairs = [(0, 1), (1, 2), (1, 3), (2, 3), (9, 1), (9, 2), (9, 3)] + \
        [(q, 4 + i) for i in range(5) for q in (1, 2, 3)]
    # an object stands over wall, floor, mirror, rim or its own reflection
    mix = unmix(img, bgs, cols, names, pairs,
                 obj_over=lambda b, o: b in (0, 1, 2, 3) or b == 4 + o)
    mix.share[..., 3] += mix.share[..., 9]
    return mix, names


def _reflection_soft(raw: np.ndarray, mix: Mix, blob: Blob, names: list[str]) -> np.ndarray:
    """The object's share: against the mirror colour on the mirror (the object is 1 there and
    its reflection REFLECTION_MIX: the shape template draws both), else against the background."""
    c = palette_rgb(blob.colour)
    on_mirror = (mix.share[..., 2] + mix.share[..., 4 + names.index(blob.colour)]) >= 0.5
    return np.where(on_mirror, alpha_lin(raw, MIRROR[None, None], c),
                    alpha_lin(raw, mix.bgcol, c))


@dataclass
class _MirrorFit:
    """The mirror found in the picture: its outline (canonical px) and where it clips."""

    shape: str                                   # "round" or "square", as the graph says
    fit: tuple[float, float, float] | None       # (cx, cy, rx); ry = MIRROR_ASPECT * rx
    clip: np.ndarray | None                      # its coverage, where a reflection can show
    meas: dict[str, Any]
    note: str


def _find_mirror(g: CausalSceneGraph, m: str, mix: Mix, blob: Blob | None,
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
    clip = coverage("ball" if shape == "round" else "cube",
                     (mcx - mrx, mcy - mry, mcx + mrx, mcy + mry), CANON, CANON)
    meas["mirror"] = {"cx": mcx / CANON, "cy": mcy / CANON, "rx": mrx / CANON,
                      "bottom": (mcy + mry) / CANON}
    note = (f"{shape} mirror found, centre x={fmt(mcx / CANON)}, "
            f"bottom edge y={fmt((mcy + mry) / CANON)}")
    return _MirrorFit(shape, fit, clip, meas, note)


def _reflection_seen(raw: np.ndarray, mix: Mix, blob: Blob, fitted: Any, mirror: _MirrorFit,
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
    t_obj = blur(coverage(shp, obox, CANON, CANON), sig)
    t_ref = blur(REFLECTION_MIX * coverage(shp, rbox, CANON, CANON, flip=True) * in_mirror(0.0),
                 sig)
    zone = (t_ref >= 0.1 * REFLECTION_MIX) & in_mirror(-0.5) & (yy > by1)
    c = palette_rgb(blob.colour)
    a_m = alpha_lin(raw, MIRROR[None, None], c)
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
    full = coverage(shp, shift, y1 - y0, x1 - x0, flip=True)
    cov = "ball" if round_ else "cube"
    rim = MIRROR_RIM_WIDTH * CANON
    best = (np.inf, 0.0, 0.0)
    for dcy in (-1.5, -0.75, 0.0, 0.75, 1.5):
        for f in (0.94, 1.0, 1.06):
            cx, cy, rx = mcx - x0, mcy + dcy - y0, mrx * f
            ry = rx * MIRROR_ASPECT
            inner = coverage(cov, (cx - rx, cy - ry, cx + rx, cy + ry), y1 - y0, x1 - x0)
            outer = coverage(cov, (cx - rx - rim, cy - ry - rim, cx + rx + rim,
                                    cy + ry + rim), y1 - y0, x1 - x0)
            ground = (floor * (1 - outer)[..., None] + MIRROR_RIM * (outer - inner)[..., None]
                      + MIRROR * inner[..., None])
            pred = []
            for r in (full * inner, full):
                im = ground * (1 - r)[..., None] + tint * r[..., None]
                pred.append(blur_channels(im, sig))
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


def render_unclipped(g: CausalSceneGraph, size: int) -> np.ndarray:
    """A reflection scene whose reflection is *not* clipped by the mirror (it leaks onto the
    floor): the renderer cannot draw this, so it is drawn here on the renderer's canvas."""
    cv = Canvas(size)
    cv.rgb[:] = WALL
    cv.paint(cv.y >= FLOOR_Y, FLOOR)
    m = g.surface("mirror")
    mb = g.node(m)["box"]
    rnd = g.attr(m, "shape") == "round"
    inner = cv.ellipse(mb) if rnd else cv.rect(mb)
    rim = 0.018
    ob_ = [mb[0] - rim, mb[1] - rim, mb[2] + rim, mb[3] + rim]
    cv.paint(cv.ellipse(ob_) if rnd else cv.rect(ob_), MIRROR_RIM)
    cv.paint(inner, MIRROR)
    o = g.nodes("object")[0]
    col = object_colour(g, o)
    ob = g.node(o)["box"]
    shape = g.attr(o, "shape")
    full_h = (ob[3] - ob[1]) * REFLECTION_SQUASH
    refl = cv.shape(shape, [ob[0], ob[3], ob[2], ob[3] + full_h], flip=True)
    cv.paint(refl, col * REFLECTION_MIX + MIRROR * (1 - REFLECTION_MIX))
    cv.paint(cv.shape(shape, ob), col)
    return cv.finish().image


RISE_TOL = 0.1           #: in its clip the ball never rises more than this between frames
                         #: (fraction of frame height; 3 px at 32)


def _on_mirror(g: CausalSceneGraph, cx: float) -> None:
    """The mirror centred at ``cx``, the object standing on it, its reflection below its
    base, clipped to the mirror (the layout's rule, and a counterfactual's refit)."""
    m = g.surface("mirror")
    rx = MIRROR_RX[g.attr(m, "size", "large")]
    ry = rx * MIRROR_ASPECT
    put(g, m, [cx - rx, MIRROR_CY - ry, cx + rx, MIRROR_CY + ry])
    o = g.nodes("object")[0]
    ob = object_box(g, o, cx, OBJECT_BASE_ON_MIRROR)
    put(g, o, ob)
    for e in g.effects("reflection"):
        h = (ob[3] - ob[1]) * REFLECTION_SQUASH
        put(g, e, [ob[0], ob[3], ob[2], min(ob[3] + h, MIRROR_CY + ry)])


def _stated_mirror(scene: OpenScene, m: str) -> dict[str, str] | None:
    """The mirror entity's size and shape as stated (size first, as the template reader keeps
    them), claimed; None for anything else said of it (a colour, "cracked")."""
    attrs = scene.attrs(m)
    out = {"size": attrs["size"]} if "size" in attrs else {}
    if "state" in attrs:
        out["shape"] = canonical(attrs["state"])
    ok = out.get("size", "small") in SIZES and out.get("shape", "round") in MIRROR_SHAPES
    return out if ok and scene.plain(m, ("size", "state")) else None


@register
class Reflection(CausedCategory):
    name = "reflection"
    cue_words = open_world_cues = frozenset({"mirror"})
    cue_rank = 40
    objects = 1
    surface = "mirror"
    counted = True
    clip = "a ball falling onto a mirror"
    clip_rank = 0
    temporal_question = "reflection_meets_ball_at_contact"
    temporal_words = "does the reflection meet {obj} at contact?"

    def add_scene(self, g: CausalSceneGraph, canon: list[str], mirror: dict[str, str]) -> None:
        mirror.setdefault("shape", "round")
        mirror.setdefault("size", "large")
        g.add_node("mirror", "surface", type="mirror", **mirror)
        g.add_edge("obj0", "mirror", "on")

    def find(self, scene: OpenScene) -> tuple[list[dict[str, str]], list[str],
                                               dict[str, str]] | None:
        """One object (told by colour) on one mirror, which may be small or large, round or
        square."""
        objs, mirrors = scene.shaped(), scene.named("mirror")
        if len(objs) != 1 or len(mirrors) != 1 or not scene.has(objs[0], "on", mirrors[0]):
            return None
        obj, mirror = scene.object(objs[0], self.by_material), _stated_mirror(scene, mirrors[0])
        return None if obj is None or mirror is None else ([obj], [], mirror)

    def caption(self, g: CausalSceneGraph, explicit: bool) -> str:
        m = g.node(g.surface("mirror"))["attrs"]
        s = (f"a {object_phrase(g, g.nodes('object')[0])} on a {m.get('size', 'large')} "
             f"{m['shape']} mirror")
        if explicit:
            s += ", and its reflection appears in the mirror below it"
        return s

    def check(self, g: CausalSceneGraph) -> None:
        if g.attr(g.surface("mirror"), "shape") not in MIRROR_SHAPES:
            raise GraphError(f"node {_short(g.surface('mirror'))}: a mirror needs attribute "
                             f"'shape' (one of {list(MIRROR_SHAPES)})")

    def layout(self, g: CausalSceneGraph, jit: Jitter) -> None:
        rx = MIRROR_RX[g.attr(g.surface("mirror"), "size", "large")]
        _on_mirror(g, 0.5 + jit(0.5 - rx - 0.03))

    def draw(self, cv: Canvas, g: CausalSceneGraph, floor: np.ndarray) -> None:
        """A mirror with its rim, the object's flipped reflection clipped by it, then the
        object."""
        m = g.surface("mirror")
        mb = box(g, m)
        inner = cv.ellipse(mb) if g.attr(m, "shape") == "round" else cv.rect(mb)
        rim_w = MIRROR_RIM_WIDTH
        outer_box = [mb[0] - rim_w, mb[1] - rim_w, mb[2] + rim_w, mb[3] + rim_w]
        outer = cv.ellipse(outer_box) if g.attr(m, "shape") == "round" else cv.rect(outer_box)
        cv.paint(outer, MIRROR_RIM)
        cv.paint(inner, MIRROR)
        cv.mark(m, outer)
        o = g.nodes("object")[0]
        col = object_colour(g, o)
        for e in g.effects("reflection"):
            rb = box(g, e)
            ob = box(g, o)
            # the object flipped about its base and foreshortened, clipped by the mirror's edge
            full_h = (ob[3] - ob[1]) * REFLECTION_SQUASH
            refl = cv.shape(g.attr(o, "shape"), [rb[0], rb[1], rb[2], rb[1] + full_h], flip=True)
            refl &= inner & (cv.y <= rb[3] + 1e-6)
            cv.paint(refl, col * REFLECTION_MIX + MIRROR * (1 - REFLECTION_MIX))
            cv.mark(e, refl)
        draw_object(cv, g, o)

    def questions(self, g: CausalSceneGraph, img: np.ndarray, raw: np.ndarray) -> Answers:
        mix, names = _reflection_mix(img)
        o = object_nodes(g)[0]
        m = g.surface("mirror")
        # the reflection is the object's colour at REFLECTION_MIX over the mirror: cut the object's
        # core above that, half-way to the object's own colour
        blobs = find_blobs(mix, thr=(1 + REFLECTION_MIX) / 2) or find_blobs(mix)
        blob = blobs[0] if blobs else None
        known = blob is not None and blob.colour in names
        soft = _reflection_soft(raw, mix, blob, names) if known else None
        ci = names.index(blob.colour) if known else None
        mirror = _find_mirror(g, m, mix, blob, ci)
        ans = Answers(meas=dict(mirror.meas))
        ans.per_node[m] = mirror.note
        # the object: colour, and shape fitted together with its reflection (clipped by the
        # mirror) at a free amplitude
        model = ShapeModel(reflection=True, sigma=blur_sigma(raw), clip=mirror.clip)
        fitted = ans.add(texture_single(g, raw, mix, blob, o, "colour", soft=soft, model=model))
        ask_count(g, mix, ans, thr=(1 + REFLECTION_MIX) / 2)     # the reflection is not a copy
        present = inside = False
        judged = blob is not None and mirror.fit is not None and ci is not None
        if judged:
            shp = ans.meas.get("shape") if ans.meas.get("shape") in SHAPE_ASPECT else "cube"
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

    def refit(self, g: CausalSceneGraph) -> CausalSceneGraph:
        mb = g.node(g.surface("mirror"))["box"]
        _on_mirror(g, (mb[0] + mb[2]) / 2)
        return g

    def counterfactuals(self, g: CausalSceneGraph, size: int, rng: np.random.Generator
                        ) -> list[Counterfactual]:
        """No reflection; a large object on a small mirror whose reflection is not clipped by
        the mirror's edge (judged against that scene's graph); another colour or shape."""
        out = [("reflection_present", "no reflection",
                render(remove(g, g.effects("reflection")), size).image, g)]
        h = g.copy()
        h.graph.nodes[h.nodes("object")[0]]["attrs"]["size"] = "large"
        h.graph.nodes[h.surface("mirror")]["attrs"]["size"] = "small"
        self.refit(h)
        out.append(("reflection_inside_mirror", "reflection leaks past the mirror",
                    render_unclipped(h, size), h))
        return out + texture(self, g, size, rng, per_object=False)

    def random_prompt(self, rng: np.random.Generator, more_share: float) -> str:
        pick = lambda xs: xs[int(rng.integers(len(xs)))]  # noqa: E731
        colours = list(COLOURS)
        return (f"a {pick(SIZES)} {pick(colours)} {pick(SHAPES)} on a {pick(SIZES)} "
                f"{pick(MIRROR_SHAPES)} mirror")

    def held_out_key(self, g: CausalSceneGraph) -> tuple[str, ...]:
        """(object size, mirror size)."""
        return (g.attr(g.nodes("object")[0], "size"), g.attr(g.surface("mirror"), "size"))

    def switched(self, prompt: str, rng: np.random.Generator) -> str:
        """Another colour only: every reflection scene asks for a reflection, so no prompt
        states another physics."""
        return recolour(prompt, rng)

    def move(self, g: CausalSceneGraph, fg: CausalSceneGraph, t: float, last: bool) -> None:
        """The ball falls with constant acceleration; its reflection mirrors its height below the
        base."""
        nodes = fg.graph.nodes
        o = g.nodes("object")[0]
        ob = g.node(o)["box"]
        h = ob[3] - ob[1]
        lift = (1 - t * t) * (ob[1] - 0.02)
        nodes[o]["box"] = [ob[0], ob[1] - lift, ob[2], ob[3] - lift]
        for e in g.effects("reflection"):
            mb = g.node(g.surface("mirror"))["box"]
            top = ob[3] + lift * REFLECTION_SQUASH
            bottom = min(top + h * REFLECTION_SQUASH, mb[3])
            nodes[e]["box"] = [ob[0], min(top, 1.0), ob[2], max(min(bottom, 1.0), min(top, 1.0))]

    def rest_frames(self, frames: int) -> list[int]:
        """At contact only: the last frame."""
        return [frames - 1]

    def temporal(self, verdicts: list[Verdict], tracks: Tracks, obj: str = "object"
                 ) -> tuple[bool, str]:
        """The object (``obj``: its shape, "ball" in the clip's name) falls, never rises much, and
        at contact its reflection is under it."""
        ys, last = tracks["object_y"], len(verdicts) - 1
        if ys[0] is None or ys[last] is None:
            return False, f"{obj} not found in the first or last frame"
        seen = [y for y in ys if y is not None]
        fall = ys[last] - ys[0]
        rise = max([0.0] + [y0 - y1 for y0, y1 in zip(seen, seen[1:])])
        at_contact = verdicts[last].physics_ok
        ok = fall >= FALL_MIN and rise <= RISE_TOL and at_contact
        return ok, (f"{obj} falls {fall:.2f} of the frame (needs {FALL_MIN}), rises at most "
                    f"{rise:.2f} (allowed {RISE_TOL}); at contact the reflection is "
                    + ("under it" if at_contact else "missing or outside the mirror"))

    def wrong_motion(self, g: CausalSceneGraph, frames: int) -> list[CausalSceneGraph]:
        """Played backwards: the ball rises off the mirror."""
        return clip_frames(g, frames)[::-1]
