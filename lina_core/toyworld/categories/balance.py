"""``balance``: two cubes of two materials on a balance beam ("a wood cube and a metal cube on
a balance"); the implicit effect is the beam's tilt, down on the denser cube's side."""
from __future__ import annotations

import re

import numpy as np

from ...csg.geometry import BEAM_HALF, BEAM_TILT, BEAM_Y, balance_cube_box, put
from ...csg.graph import CausalSceneGraph
from ...csg.vocabulary import DENSITY, MATERIALS
from ..answers import Answers, fmt, left_right, texture_single
from ..blobs import Blob, find_blobs
from ..canvas import BEAM, FLOOR, FULCRUM, WALL, Canvas, box, draw_object
from ..counterfactual import Counterfactual, remove, texture
from ..render import render
from ..unmix import CANON, unmix
from .base import Jitter, register
from .caused import CausedCategory
from .open_scene import OpenScene


# --- the questions (canonical px, RGB units 0..255)
TILT_MIN = 0.06                  #: left-minus-right height (image fraction) that is a tilt


def _expected_tilt(g: CausalSceneGraph, left_n: str, right_n: str) -> str:
    """The side the graph's tilt says; with no tilt node, the denser cube's side."""
    tilt = g.effects("tilt")
    expected = g.attr(tilt[0], "side") if tilt else None
    if expected is None:
        dl = DENSITY.get(g.attr(left_n, "material"), 1.0)
        dr = DENSITY.get(g.attr(right_n, "material"), 1.0)
        expected = "left" if dl > dr else "right" if dr > dl else "level"
    return expected


def _on_beam(g: CausalSceneGraph, cx: float) -> None:
    """A cube at each end of the beam centred at ``cx``, tilted as the tilt effect says (the
    layout's rule, and a counterfactual's refit)."""
    tilt = g.effects("tilt")
    down = g.attr(tilt[0], "side") if tilt else None
    for n, sgn in zip(g.nodes("object"), (-1, 1)):
        put(g, n, balance_cube_box(cx, sgn, down))
    for e in tilt:
        put(g, e, [cx - BEAM_HALF, BEAM_Y - BEAM_TILT - 0.02, cx + BEAM_HALF,
                   BEAM_Y + BEAM_TILT + 0.02])


@register
class Balance(CausedCategory):
    name = "balance"
    cue_words = open_world_cues = frozenset({"balance"})
    cue_rank = 60
    objects = 2
    surface = "beam"
    by_material = True
    object_shape = "cube"

    def side_word(self, c: str, stated: set[str]) -> bool:
        return c in ("left", "right") and "tilt" in stated

    def add_scene(self, g: CausalSceneGraph, canon: list[str], mirror: dict[str, str]) -> None:
        g.add_node("beam", "surface", type="beam")
        g.add_edge("obj0", "beam", "on")
        g.add_edge("obj1", "beam", "on")
        g.add_edge("obj0", "obj1", "left of")

    def find(self, scene: OpenScene) -> tuple[list[dict[str, str]], list[str],
                                               dict[str, str]] | None:
        """Two cubes (told by material) on one balance (a scale, a seesaw), the first named
        on the left; another shape is refused (the scene would draw a cube).  "The beam" is
        the balance's own (its side is checked in :meth:`recognise`)."""
        objs, balances = scene.shaped(), scene.named("balance")
        if len(objs) != 2 or len(balances) != 1 or not scene.plain(balances[0]) or \
                not all(scene.plain(b, ("side",)) for b in scene.named("beam")):
            return None
        on = [scene.has(o, "on", balances[0]) for o in objs]
        found = [scene.object(o, self.by_material) for o in objs]
        if not all(on) or any(o is None or o["shape"] != self.object_shape for o in found):
            return None
        return found, [], {}   # type: ignore[return-value]

    def recognise(self, og: CausalSceneGraph
                  ) -> tuple[CausalSceneGraph, list[dict[str, str]]] | None:
        """As the other caused categories, and a side said of the beam ("the beam tilting
        down on the right") must be the side the materials tilt it to."""
        found = super().recognise(og)
        said = {og.attr(n, "side") for n in og.nodes("entity") if og.attr(n, "noun") == "beam"}
        if found is None or len(said - {None}) > 1:
            return None
        tilt = found[0].attr(found[0].effects("tilt")[0], "side")
        return found if said <= {None, tilt} else None

    def caption(self, g: CausalSceneGraph, explicit: bool) -> str:
        objs = g.nodes("object")
        s = (f"a {g.attr(objs[0], 'material')} cube and a {g.attr(objs[1], 'material')} cube "
             f"on a balance")
        if explicit:
            s += f", the beam tilting down on the {g.attr(g.effects('tilt')[0], 'side')}"
        return s

    def check(self, g: CausalSceneGraph) -> None:
        """Nothing beyond the shared checks (the beam is the required surface)."""

    def layout(self, g: CausalSceneGraph, jit: Jitter) -> None:
        cx = 0.5 + jit(0.04)
        put(g, g.surface("beam"), [cx - BEAM_HALF, BEAM_Y - BEAM_TILT, cx + BEAM_HALF,
                                   BEAM_Y + BEAM_TILT])
        _on_beam(g, cx)

    def draw(self, cv: Canvas, g: CausalSceneGraph, floor: np.ndarray) -> None:
        """A fulcrum, the beam tilted as its tilt effect says, and a cube at each end."""
        b = g.surface("beam")
        bb = box(g, b)
        cx = (bb[0] + bb[2]) / 2
        cy = (bb[1] + bb[3]) / 2
        tilt = g.effects("tilt")
        dy = (bb[3] - bb[1]) / 2
        down = g.attr(tilt[0], "side") if tilt else None
        yl, yr = (cy + dy, cy - dy) if down == "left" else (cy - dy, cy + dy) if down else (cy, cy)
        ful = cv.triangle([cx - 0.08, cy, cx + 0.08, 0.93])
        cv.paint(ful, FULCRUM)
        beam = cv.segment((bb[0], yl), (bb[2], yr), 0.022)
        cv.paint(beam, BEAM)
        cv.mark(b, beam | ful)
        for e in tilt:
            cv.mark(e, beam)
        for o in g.nodes("object"):
            draw_object(cv, g, o, shape="cube")

    def questions(self, g: CausalSceneGraph, img: np.ndarray, raw: np.ndarray) -> Answers:
        mats = [np.array(c, np.float32) for c in MATERIALS.values()]
        names = list(MATERIALS)
        bgs = [WALL, FLOOR, BEAM, FULCRUM]
        mix = unmix(img, bgs, mats, names, pairs=[(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)])
        fg = mix.alpha + mix.share[..., 2] + mix.share[..., 3]
        fmask = fg >= 0.5
        left_n, right_n = left_right(g)
        beam = g.surface("beam")
        expected = _expected_tilt(g, left_n, right_n)
        ans = Answers()
        seen = "unknown"
        ok = False
        yy, xx = np.mgrid[0:CANON, 0:CANON]
        side_blobs: dict[str, Blob | None] = {left_n: None, right_n: None}
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
                bl = find_blobs(mix, region)
                side_blobs[n] = bl[0] if bl else None
            ans.per_node[beam] = f"beam found, centre x={fmt(cx / CANON)}"
        else:
            ans.per_node[beam] = "beam not found"
        for n in (left_n, right_n):
            ans.add(texture_single(g, raw, mix, side_blobs[n], n, "material", prefix=f"{n}.",
                                    ask_shape=False))
        ans.physics["down_side"] = bool(ok)
        if seen == "unknown":
            ans.meas["undetermined"] = ["down_side"]
        for e in g.effects("tilt"):
            ans.per_node[e] = f"beam down on the {seen}" + ("" if ok else f" (expected {expected})")
        return ans

    def refit(self, g: CausalSceneGraph) -> CausalSceneGraph:
        bb = g.node(g.surface("beam"))["box"]
        _on_beam(g, (bb[0] + bb[2]) / 2)
        return g

    def counterfactuals(self, g: CausalSceneGraph, size: int, rng: np.random.Generator
                        ) -> list[Counterfactual]:
        """The beam tilted the wrong way; level; another material (the cubes stay cubes)."""
        h = g.copy()
        for e in h.effects("tilt"):
            h.graph.nodes[e]["attrs"]["side"] = {"left": "right", "right": "left"}[
                h.attr(e, "side")]
        self.refit(h)
        out = [("down_side", "tilts the wrong way", render(h, size).image, g)]
        h = self.refit(remove(g, g.effects("tilt")))
        out.append(("down_side", "level beam", render(h, size).image, g))
        return out + texture(self, g, size, rng, per_object=True)

    def random_prompt(self, rng: np.random.Generator, more_share: float) -> str:
        mats = list(MATERIALS)
        a, b = rng.choice(len(mats), 2, replace=False)
        return f"a {mats[a]} cube and a {mats[b]} cube on a balance"

    def held_out_key(self, g: CausalSceneGraph) -> tuple[str, ...]:
        """The two materials, in either order."""
        return ("+".join(sorted(g.attr(o, "material") for o in g.nodes("object"))),)

    def switched(self, prompt: str, rng: np.random.Generator) -> str:
        """The two cubes' materials swapped: the beam tilts the other way, both textures
        change."""
        m = re.match(r"an? (\w+) cube and an? (\w+) cube on a balance", prompt)
        return f"a {m.group(2)} cube and a {m.group(1)} cube on a balance"
