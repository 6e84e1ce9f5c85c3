"""``shadow``: one object on the floor, lit from the left, the right or above; the implicit
effect is its shadow, cast away from the light ("a red ball on the floor, lit from the left")."""
from __future__ import annotations

import numpy as np

from ...csg.captions import object_phrase
from ...csg.geometry import FLOOR_Y, LIGHT_X, object_box, put
from ...csg.graph import CausalSceneGraph, GraphError
from ...csg.vocabulary import LIGHT_SIDES
from ..canvas import Canvas, draw_floor_scene
from .base import Jitter, register
from .caused import CausedCategory


@register
class Shadow(CausedCategory):
    name = "shadow"
    cue_words = open_world_cues = frozenset({"lit", "light", "lighting"})
    cue_rank = 80

    def side_word(self, c: str, stated: set[str]) -> bool:
        return c in ("left", "right", "above")

    def add_scene(self, g: CausalSceneGraph, canon: list[str], mirror: dict[str, str]) -> None:
        g.add_node("floor", "surface", type="floor")
        g.add_edge("obj0", "floor", "on")
        side = next((c for c in canon if c in LIGHT_SIDES), "above")
        # "lit from the left ..., casting a shadow to the right": the light side comes first
        g.add_node("light", "light", side=side)

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
        base = 0.80 + jit(0.04)
        o = g.nodes("object")[0]
        ob = object_box(g, o, cx, base)
        put(g, o, ob)
        put(g, g.surface("floor"), [0.0, FLOOR_Y, 1.0, 1.0])
        light = g.nodes("light")[0]
        lx = LIGHT_X[g.attr(light, "side")]
        put(g, light, [lx - 0.08, 0.04, lx + 0.08, 0.20])
        w = ob[2] - ob[0]
        for e in g.effects("shadow"):
            off = {"left": -0.75, "right": 0.75, "below": 0.0}[g.attr(e, "side")] * w
            put(g, e, [ob[0] + off - 0.05 * (off != 0), ob[3] - 0.06,
                       ob[2] + off + 0.05 * (off != 0), ob[3] + 0.07])

    def draw(self, cv: Canvas, g: CausalSceneGraph, floor: np.ndarray) -> None:
        draw_floor_scene(cv, g, floor)
