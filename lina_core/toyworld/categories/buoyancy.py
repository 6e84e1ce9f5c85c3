"""``buoyancy``: one object of a material in a beaker of water ("a cork ball in a beaker of
water"); the implicit effects are its fate (floating or sinking, by density) and the
refraction of its submerged part."""
from __future__ import annotations

import re
from typing import Any

import numpy as np
from scipy import ndimage

from ...csg.captions import object_phrase, to_prompt
from ...csg.geometry import OBJECT_W, WATER_BOX, aspect, layout, put
from ...csg.grammar import from_prompt
from ...csg.graph import CausalSceneGraph
from ...csg.vocabulary import DENSITY, MATERIALS, SHAPES
from ..answers import Answers, fmt, object_nodes, texture_single
from ..blobs import EIGHT, Blob, find_blobs
from ..canvas import (FLOOR, GLASS, REFRACTION_SHIFT, WALL, WATER, WATER_TINT, Canvas, box,
                      object_colour)
from ..counterfactual import Counterfactual, texture
from ..prompt_edits import other_word, reshape, words_pattern
from ..render import clip_frames, render
from ..shape_fit import ShapeModel
from ..unmix import CANON, Mix, alpha_lin, unmix
from ..verify import Verdict
from ..verify_video import FALL_MIN, Tracks
from .base import Jitter, register
from .caused import CausedCategory
from .open_scene import OpenScene


# --- the questions (fractions of the water column's height, measured from its surface)
FLOAT_TOP_MAX = 0.1              #: a floater's top is above this ...
FLOAT_BOTTOM_MAX = 0.6           #: ... and its bottom above this
SINK_BOTTOM_MIN = 0.88           #: a sinker's bottom is below this


def _water_column(mix: Mix) -> tuple[float, float, float, float] | None:
    """(left, right, top, bottom) of the water in the beaker, canonical px; None if unseen."""
    wsh = mix.share[..., 2] + np.where(mix.obj >= 5, mix.alpha, 0.0)
    wmask = ndimage.binary_opening(wsh >= 0.5, EIGHT)
    lab, n = ndimage.label(wmask, structure=EIGHT)
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
                   subs: list[np.ndarray], names: list[str]) -> Mix:
    """Inside the beaker there is no floor and no glass: unmix again against wall and water,
    with the materials above the surface and their water-tinted colours below."""
    yy = np.mgrid[0:CANON, 0:CANON][0]
    bg2 = [WALL, WATER]
    pr2 = [(0, 1)]
    up = unmix(img, bg2, mats, names, pr2)
    down = unmix(img, bg2, subs, names, pr2)
    below = (yy >= top)
    return Mix(np.where(below, down.alpha, up.alpha), np.where(below, down.obj, up.obj),
                np.where(below[..., None], down.share, up.share), names,
                np.where(below[..., None], down.bgcol, up.bgcol),
                np.where(below, down.resid, up.resid))


def _fate_seen(blob: Blob, top: float, hgt: float, floats_exp: bool
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


@register
class Buoyancy(CausedCategory):
    name = "buoyancy"
    cue_words = open_world_cues = frozenset({"water", "beaker"})
    cue_rank = 50
    objects = 1
    surface = "water"
    by_material = True
    #: the submerged part's sideways shift as drawn (a fraction of the width); the verifier
    #: predicts :data:`REFRACTION_SHIFT`, and the refraction check (``toyworld.refraction``)
    #: draws scenes without it to see that the reading tells them apart
    drawn_shift = REFRACTION_SHIFT
    clip = "an object dropped into water"
    clip_rank = 1
    temporal_question = "settles_as_material_says"
    temporal_words = "does {obj} end up floating or sunk as its material says?"

    def add_scene(self, g: CausalSceneGraph, canon: list[str], mirror: dict[str, str]) -> None:
        g.add_node("water", "surface", type="water")
        g.add_edge("obj0", "water", "in")

    def find(self, scene: OpenScene) -> tuple[list[dict[str, str]], list[str],
                                               dict[str, str]] | None:
        """One object (told by material, or by nothing: wood) in water, or in a beaker (a
        glass, a tank) that holds the water."""
        objs, waters, vessels = scene.shaped(), scene.named("water"), scene.named("beaker")
        if len(objs) != 1 or len(waters) != 1 or len(vessels) > 1 or not scene.plain(waters[0]):
            return None
        o, w = objs[0], waters[0]
        in_water = scene.has(o, "in", w)
        if vessels:   # "in a beaker of water", "a beaker of water holding a cork ball"
            v = vessels[0]
            held = scene.plain(v) and all(
                any([scene.has(x, "in", v), scene.has(v, "hold", x), scene.has(v, "contain", x)])
                for x in (o, w))
        else:
            held = in_water
        obj = scene.object(o, self.by_material)
        return ([obj], [], {}) if held and obj is not None else None

    def caption(self, g: CausalSceneGraph, explicit: bool) -> str:
        s = f"a {object_phrase(g, g.nodes('object')[0], with_size=False)} in a beaker of water"
        if explicit:
            s += ", floating at the surface" if g.effects("floating") else ", sunk to the bottom"
            s += ", its submerged part bent by refraction"
        return s

    def check(self, g: CausalSceneGraph) -> None:
        """Nothing beyond the shared checks (the water is the required surface)."""

    def layout(self, g: CausalSceneGraph, jit: Jitter) -> None:
        wb = list(WATER_BOX)
        wb[0] += jit(0.02)
        wb[2] += jit(0.02)
        put(g, g.surface("water"), wb)
        o = g.nodes("object")[0]
        cx = (wb[0] + wb[2]) / 2 + jit(0.08)
        w = OBJECT_W["small"] * 1.1
        h = w * aspect(g.attr(o, "shape"))
        if g.effects("floating"):
            top = wb[1] - h * (1.0 - DENSITY[g.attr(o, "material")]) - 0.01
        else:
            top = wb[3] - h - 0.01
        put(g, o, [cx - w / 2, top, cx + w / 2, top + h])
        for e in g.effects("floating") + g.effects("sinking"):
            put(g, e, [cx - w / 2, top, cx + w / 2, top + h])
        for e in g.effects("refraction"):
            put(g, e, [cx - w / 2, max(top, wb[1]), cx + w / 2 + 0.06, top + h])

    def draw(self, cv: Canvas, g: CausalSceneGraph, floor: np.ndarray) -> None:
        """A beaker of water and the object, its submerged part tinted and shifted sideways."""
        w = g.surface("water")
        wb = box(g, w)
        glass_box = [wb[0] - 0.025, wb[1] - 0.12, wb[2] + 0.025, wb[3] + 0.025]
        glass = cv.rect(glass_box) & ~cv.rect([wb[0], glass_box[1] - 0.01, wb[2], wb[3]])
        water = cv.rect(wb)
        cv.paint(glass, GLASS)
        cv.paint(water, WATER)
        cv.mark(w, water | glass)
        o = g.nodes("object")[0]
        ob = box(g, o)
        col = object_colour(g, o)
        shape = g.attr(o, "shape")
        above = cv.shape(shape, ob) & (cv.y < wb[1])
        shift = self.drawn_shift
        below = cv.shape(shape, [ob[0] + shift, ob[1], ob[2] + shift, ob[3]]) \
            & (cv.y >= wb[1]) & water
        cv.occlude(above | below)
        cv.paint(above, col)
        cv.paint(below, col * (1 - WATER_TINT) + WATER * WATER_TINT)
        cv.mark(o, above | below)
        for e in g.effects("floating") + g.effects("sinking"):
            cv.mark(e, above | below)
        for e in g.effects("refraction"):
            cv.mark(e, below)

    def questions(self, g: CausalSceneGraph, img: np.ndarray, raw: np.ndarray) -> Answers:
        mats = [np.array(c, np.float32) for c in MATERIALS.values()]
        subs = [c * (1 - WATER_TINT) + WATER * WATER_TINT for c in mats]
        names = list(MATERIALS) * 2
        mix = unmix(img, [WALL, FLOOR, WATER, GLASS], mats + subs, names,
                     pairs=[(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)])
        o = object_nodes(g)[0]
        water = g.surface("water")
        floats_exp = bool(g.effects("floating")) or (
            not g.effects("sinking") and DENSITY.get(g.attr(o, "material"), 1.0) < 1.0)
        ans = Answers()
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
            blobs = find_blobs(mix, inside_glass & (yy >= top - 0.6 * hgt))
            blob = blobs[0] if blobs else None
            ans.meas["water"] = {"left": left / CANON, "right": right / CANON, "top": top / CANON,
                                 "bottom": bottom / CANON}
            ans.per_node[water] = f"water found, surface at y={fmt(top / CANON)}"
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
            soft = alpha_lin(raw, mix.bgcol, np.where(below, subs[k], mats[k]))
        ans.add(texture_single(g, raw, mix, blob, o, "material", soft=soft,
                                model=None if shift is None else ShapeModel(split=shift),
                                valid=inside_glass))
        ans.physics["float_or_sink"] = bool(ok)
        want = "floating" if floats_exp else "sinking"
        for e in g.effects("floating") + g.effects("sinking"):
            ans.per_node[e] = f"object {state}" + ("" if ok else f" (expected {want})")
        for e in g.effects("refraction"):
            ans.per_node[e] = "not checked (refraction is drawn as a small sideways shift)"
        return ans

    def refit(self, g: CausalSceneGraph, state: str | None = None) -> CausalSceneGraph:
        """``state`` draws the object "floating", "sinking" or "suspended" (hanging
        mid-water) whatever its material (None: as its fate effect says)."""
        wb = g.node(g.surface("water"))["box"]
        o = g.nodes("object")[0]
        b = g.node(o)["box"]
        cx = (b[0] + b[2]) / 2
        state = state or ("floating" if g.effects("floating") else "sinking")
        w = OBJECT_W["small"] * 1.1
        h = w * aspect(g.attr(o, "shape"))
        if state == "floating":
            dens = DENSITY[g.attr(o, "material")]
            dens = dens if dens < 1.0 else 0.6          # a sinker drawn floating: as wood
            top = wb[1] - h * (1.0 - dens) - 0.01
        elif state == "sinking":
            top = wb[3] - h - 0.01
        else:                                           # hanging mid-water
            top = (wb[1] + wb[3]) / 2 - h / 2
        put(g, o, [cx - w / 2, top, cx + w / 2, top + h])
        for e in g.effects("floating") + g.effects("sinking"):
            put(g, e, [cx - w / 2, top, cx + w / 2, top + h])
        for e in g.effects("refraction"):
            put(g, e, [cx - w / 2, max(top, wb[1]), cx + w / 2 + 0.06, top + h])
        return g

    def counterfactuals(self, g: CausalSceneGraph, size: int, rng: np.random.Generator
                        ) -> list[Counterfactual]:
        """The other fate (a floater sunk, a sinker floating); hanging mid-water; another
        material or shape."""
        floats = bool(g.effects("floating"))
        h = self.refit(g.copy(), "sinking" if floats else "floating")
        out = [("float_or_sink", "sinks instead" if floats else "floats instead",
                render(h, size).image, g)]
        h = self.refit(g.copy(), "suspended")
        out.append(("float_or_sink", "hangs mid-water", render(h, size).image, g))
        return out + texture(self, g, size, rng, per_object=False)

    def random_prompt(self, rng: np.random.Generator, more_share: float) -> str:
        pick = lambda xs: xs[int(rng.integers(len(xs)))]  # noqa: E731
        return f"a {pick(list(MATERIALS))} {pick(SHAPES)} in a beaker of water"

    def held_out_key(self, g: CausalSceneGraph) -> tuple[str, ...]:
        """(material, shape)."""
        o = g.nodes("object")[0]
        return (g.attr(o, "material"), g.attr(o, "shape"))

    def switched(self, prompt: str, rng: np.random.Generator) -> str:
        """The other side of water's density (a floating material for a sinking one), and a
        shape."""
        mat = re.search(rf"\b({words_pattern(DENSITY)})\b", prompt).group(1)
        floats = DENSITY[mat] < 1.0
        new = other_word([m for m, d in DENSITY.items() if (d < 1.0) != floats], [], rng)
        return reshape(re.sub(rf"\b{mat}\b", new, prompt, count=1), rng)

    def move(self, g: CausalSceneGraph, fg: CausalSceneGraph, t: float, last: bool) -> None:
        """The object drops from the top and has settled from ``t = 0.8`` on."""
        nodes = fg.graph.nodes
        o = g.nodes("object")[0]
        ob = g.node(o)["box"]
        h = ob[3] - ob[1]
        start = 0.02
        y0 = start + (ob[1] - start) * min(1.0, t * 1.25)
        nodes[o]["box"] = [ob[0], y0, ob[2], y0 + h]
        water_top = g.node(g.surface("water"))["box"][1]
        for e in g.effects():
            eb = g.node(e)["box"]
            top = max(y0, water_top) if g.attr(e, "type") == "refraction" else y0
            nodes[e]["box"] = [eb[0], top, eb[2], max(top, y0 + h)]

    def rest_frames(self, frames: int) -> list[int]:
        """The object has settled from t = 0.8 on."""
        last = frames - 1
        return [f for f in range(frames) if f / last * 1.25 >= 1.0]

    def temporal(self, verdicts: list[Verdict], tracks: Tracks, obj: str = "object"
                 ) -> tuple[bool, str]:
        """The object starts above the water, goes down, and ends floating or sunk as its
        material says."""
        last = len(verdicts) - 1
        water = verdicts[0].measurements.get("water")
        ys = tracks["object_y"]
        above = water is not None and ys[0] is not None and ys[0] < water["top"]
        seen = [y for y in ys if y is not None]
        # the deepest point reached: a floater ends barely below where it fell to
        drop = max(seen) - ys[0] if ys[0] is not None else 0.0
        settles = verdicts[last].physics_ok
        ok = above and drop >= FALL_MIN and settles
        state = [p for p in verdicts[last].per_node.values() if p.startswith("object ")]
        return ok, (("starts above the water" if above else "does not start above the water")
                    + f", drops {drop:.2f} of the frame (needs {FALL_MIN}); at the end "
                    + (state[0] if state else "object not found"))

    def wrong_motion(self, g: CausalSceneGraph, frames: int) -> list[CausalSceneGraph]:
        """The other material's ending: a sinker floats, a floater sinks."""
        o = g.nodes("object")[0]
        floats = DENSITY[g.attr(o, "material")] < 1
        g2 = g.copy()
        g2.graph.nodes[o]["attrs"]["material"] = next(m for m in DENSITY
                                                      if (DENSITY[m] < 1) != floats)
        g2 = from_prompt(to_prompt(g2)).graph
        layout(g2, np.random.default_rng(0))
        return clip_frames(g2, frames)
