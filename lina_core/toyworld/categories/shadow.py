"""``shadow``: one object on the floor, lit from the left, the right or above; the implicit
effect is its shadow, cast away from the light ("a red ball on the floor, lit from the left")."""
from __future__ import annotations

import re
from typing import Any

import numpy as np

from ...csg.captions import object_phrase
from ...csg.geometry import FLOOR_Y, LIGHT_X, object_box, put
from ...csg.graph import CausalSceneGraph, GraphError
from ...csg.rules import SHADOW_FROM_LIGHT
from ...csg.vocabulary import COLOURS, LIGHT_SIDES, SHAPES
from ..answers import Answers, colour_palette, single_object
from ..blobs import Blob
from ..canvas import FLOOR, LIGHT, SHADOW, SHADOW_ALPHA, WALL, Canvas, draw_floor_scene
from ..counterfactual import Counterfactual, remove, texture
from ..prompt_edits import recolour
from ..render import clip_frames, render
from ..unmix import CANON, Mix, unmix
from ..verify import Verdict
from ..verify_video import Tracks, track
from .base import Jitter, register
from .caused import CausedCategory
from .open_scene import OpenScene


# --- the questions (canonical px, RGB units 0..255)
SHADOW_MIN = 0.04                #: shadow area, in object widths squared, needed to see one
SHADOW_SIDE = 0.35               #: shadow offset, in object widths, beyond which it is to a side
SHADOW_BLEND = SHADOW * SHADOW_ALPHA + FLOOR * (1 - SHADOW_ALPHA)


def _shadow_seen(mix: Mix, blob: Blob, expected: str | None) -> tuple[str, dict[str, Any]]:
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


LIGHT_MOVE_MIN = 0.2     #: in its clip the light moves this much (fraction of frame width)
SHADOW_MOVE_MIN = 0.4    #: ... and the shadow the other way this much (object widths)


def _standing(g: CausalSceneGraph, cx: float, base: float) -> None:
    """The object standing on ``base`` at ``cx`` and its shadow on its side (the layout's rule,
    and a counterfactual's refit)."""
    o = g.nodes("object")[0]
    ob = object_box(g, o, cx, base)
    put(g, o, ob)
    w = ob[2] - ob[0]
    for e in g.effects("shadow"):
        off = {"left": -0.75, "right": 0.75, "below": 0.0}[g.attr(e, "side")] * w
        put(g, e, [ob[0] + off - 0.05 * (off != 0), ob[3] - 0.06,
                   ob[2] + off + 0.05 * (off != 0), ob[3] + 0.07])


@register
class Shadow(CausedCategory):
    name = "shadow"
    cue_words = open_world_cues = frozenset({"lit", "light", "lighting"})
    cue_rank = 80
    objects = 1
    counted = True
    clip = "a light moving across the scene"
    clip_rank = 2
    temporal_question = "shadow_moves_opposite_light"
    temporal_words = "does the shadow move opposite the light?"

    def side_word(self, c: str, stated: set[str]) -> bool:
        return c in ("left", "right", "above")

    def add_scene(self, g: CausalSceneGraph, canon: list[str], mirror: dict[str, str]) -> None:
        g.add_node("floor", "surface", type="floor")
        g.add_edge("obj0", "floor", "on")
        side = next((c for c in canon if c in LIGHT_SIDES), "above")
        # "lit from the left ..., casting a shadow to the right": the light side comes first
        g.add_node("light", "light", side=side)

    def find(self, scene: OpenScene) -> tuple[list[dict[str, str]], list[str],
                                               dict[str, str]] | None:
        """One object (told by colour), perhaps on the floor, and one light (a lamp, a torch),
        on the side its own attribute or its relation to the object says ("a lamp on the left
        of", "under a lamp"), above when neither says; two sides that disagree are refused."""
        objs, lights = scene.shaped(), scene.lights()
        if len(objs) != 1 or len(lights) != 1 or not scene.floor(objs):
            return None
        o, light = objs[0], lights[0]
        obj = scene.object(o, self.by_material)
        if obj is None or not scene.plain(light, ("side",)):
            return None
        scene.has(light, "lights", o)
        sides = {scene.og.attr(light, "side")} - {None}
        for u, rel, v, side in ((light, "left of", o, "left"), (o, "right of", light, "left"),
                                (light, "right of", o, "right"), (o, "left of", light, "right"),
                                (light, "above", o, "above"), (o, "under", light, "above")):
            if scene.has(u, rel, v):
                sides.add(side)
        if len(sides) > 1 or not sides <= set(LIGHT_SIDES):
            return None
        return [obj], list(sides), {}

    def caption(self, g: CausalSceneGraph, explicit: bool) -> str:
        side = g.attr(g.nodes("light")[0], "side")
        s = f"a {object_phrase(g, g.nodes('object')[0])} on the floor, lit from " + (
            "above" if side == "above" else f"the {side}")
        if explicit and g.effects("shadow"):     # an edited graph may have lost its shadow node
            sh = g.attr(g.effects("shadow")[0], "side")
            s += ", casting a shadow " + ("beneath it" if sh == "below" else f"to the {sh}")
        return s

    def check(self, g: CausalSceneGraph) -> None:
        lights = g.nodes("light")
        if len(lights) != 1 or "side" not in g.graph.nodes[lights[0]]["attrs"]:
            raise GraphError(f"nodes: a shadow scene needs one light node with attribute "
                             f"'side' (one of {list(LIGHT_SIDES)})")

    def layout(self, g: CausalSceneGraph, jit: Jitter) -> None:
        cx = 0.5 + jit(0.18)
        _standing(g, cx, 0.80 + jit(0.04))
        put(g, g.surface("floor"), [0.0, FLOOR_Y, 1.0, 1.0])
        light = g.nodes("light")[0]
        lx = LIGHT_X[g.attr(light, "side")]
        put(g, light, [lx - 0.08, 0.04, lx + 0.08, 0.20])

    def draw(self, cv: Canvas, g: CausalSceneGraph, floor: np.ndarray) -> None:
        draw_floor_scene(cv, g, floor)

    def questions(self, g: CausalSceneGraph, img: np.ndarray, raw: np.ndarray) -> Answers:
        cols, names = colour_palette()
        bgs = [WALL, FLOOR, LIGHT, SHADOW_BLEND]
        mix = unmix(img, bgs, cols, names, pairs=[(0, 1), (1, 3), (0, 2)])
        o, blob, ans = single_object(g, raw, mix)
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

    def refit(self, g: CausalSceneGraph) -> CausalSceneGraph:
        b = g.node(g.nodes("object")[0])["box"]
        _standing(g, (b[0] + b[2]) / 2, b[3])
        return g

    def counterfactuals(self, g: CausalSceneGraph, size: int, rng: np.random.Generator
                        ) -> list[Counterfactual]:
        """No shadow; the shadow on the wrong side; another colour or shape."""
        out = [("shadow_side", "no shadow", render(remove(g, g.effects("shadow")), size).image,
                g)]
        h = g.copy()
        for e in h.effects("shadow"):
            side = h.attr(e, "side")
            wrong = {"left": "right", "right": "left"}.get(side) or \
                ("left" if rng.random() < 0.5 else "right")
            h.graph.nodes[e]["attrs"]["side"] = wrong
        self.refit(h)
        out.append(("shadow_side", "shadow on the wrong side", render(h, size).image, g))
        return out + texture(self, g, size, rng, per_object=False)

    def random_prompt(self, rng: np.random.Generator, more_share: float) -> str:
        pick = lambda xs: xs[int(rng.integers(len(xs)))]  # noqa: E731
        side = pick(LIGHT_SIDES)
        return (f"a {pick(list(COLOURS))} {pick(SHAPES)} on the floor, lit from "
                + ("above" if side == "above" else f"the {side}"))

    def held_out_key(self, g: CausalSceneGraph) -> tuple[str, ...]:
        """(shape, light side)."""
        return (g.attr(g.nodes("object")[0], "shape"), g.attr(g.nodes("light")[0], "side"))

    def switched(self, prompt: str, rng: np.random.Generator) -> str:
        """The light from the other side (a light from above: from the left), another
        colour."""
        flip = {"from the left": "from the right", "from the right": "from the left",
                "from above": "from the left"}
        side = re.search(r"from (the left|the right|above)", prompt).group(0)
        return recolour(prompt.replace(side, flip[side]), rng)

    def move(self, g: CausalSceneGraph, fg: CausalSceneGraph, t: float, last: bool) -> None:
        """The light crosses the scene to its stated side; the shadow moves the other way."""
        nodes = fg.graph.nodes
        li = g.nodes("light")[0]
        lb = g.node(li)["box"]
        end = LIGHT_X[g.attr(li, "side")]
        begin = 0.9 if end < 0.5 else 0.1
        lx = begin + (end - begin) * t
        nodes[li]["box"] = [lx - 0.08, lb[1], lx + 0.08, lb[3]]
        o = g.nodes("object")[0]
        ob = g.node(o)["box"]
        w = ob[2] - ob[0]
        off = -(lx - 0.5) / 0.4 * 0.75 * w
        for e in g.effects("shadow"):
            eb = g.node(e)["box"]
            pad = 0.05 * min(1.0, abs(off) / (0.75 * w))
            nodes[e]["box"] = [float(np.clip(ob[0] + off - pad, 0, 1)), eb[1],
                               float(np.clip(ob[2] + off + pad, 0, 1)), eb[3]]
            nodes[e]["attrs"]["side"] = "left" if off < -0.2 * w else \
                "right" if off > 0.2 * w else "below"
        if not last:
            nodes[li]["attrs"]["side"] = "left" if lx < 0.4 else "right" if lx > 0.6 else "above"

    def clip_tracks(self, verdicts: list[Verdict]) -> Tracks:
        """The light's x and the shadow's offset from the object, per frame."""
        return {"light_x": track(verdicts, "light_x"),
                "shadow_offset": track(verdicts, "shadow_offset")}

    def temporal(self, verdicts: list[Verdict], tracks: Tracks, obj: str = "object"
                 ) -> tuple[bool, str]:
        """The light moves across and the shadow's offset moves the other way."""
        last = len(verdicts) - 1
        lx, so = tracks["light_x"], tracks["shadow_offset"]
        if None in (lx[0], lx[last], so[0], so[last]):
            return False, "light or shadow not found in the first or last frame"
        dl, ds = lx[last] - lx[0], so[last] - so[0]
        ok = abs(dl) >= LIGHT_MOVE_MIN and ds * np.sign(dl) <= -SHADOW_MOVE_MIN
        return bool(ok), (f"light moves {dl:+.2f} of the frame (needs {LIGHT_MOVE_MIN}), shadow "
                          f"{ds:+.2f} object widths (needs {SHADOW_MOVE_MIN} the other way)")

    def wrong_motion(self, g: CausalSceneGraph, frames: int) -> list[CausalSceneGraph]:
        """The shadow mirrored about the object: it moves with the light."""
        fgs = clip_frames(g, frames)
        for fg in fgs:
            ob = fg.node(fg.nodes("object")[0])["box"]
            cx = (ob[0] + ob[2]) / 2
            for e in fg.effects("shadow"):
                b = fg.node(e)["box"]
                put(fg, e, [2 * cx - b[2], b[1], 2 * cx - b[0], b[3]])
        return fgs
