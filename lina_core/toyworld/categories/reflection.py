"""``reflection``: one object standing on a round or square floor mirror ("a red ball on a
large round mirror"); the implicit effect is its reflection, flipped, foreshortened and
clipped by the mirror's edge."""
from __future__ import annotations

import numpy as np

from ...csg.captions import object_phrase
from ...csg.geometry import (MIRROR_ASPECT, MIRROR_CY, MIRROR_RIM_WIDTH, MIRROR_RX,
                             OBJECT_BASE_ON_MIRROR, REFLECTION_SQUASH, object_box, put)
from ...csg.graph import CausalSceneGraph, GraphError, _short
from ...csg.vocabulary import MIRROR_SHAPES
from ..canvas import (MIRROR, MIRROR_RIM, REFLECTION_MIX, Canvas, box, draw_object,
                      object_colour)
from .base import Jitter, register
from .caused import CausedCategory


@register
class Reflection(CausedCategory):
    name = "reflection"
    cue_words = open_world_cues = frozenset({"mirror"})
    cue_rank = 40

    def add_scene(self, g: CausalSceneGraph, canon: list[str], mirror: dict[str, str]) -> None:
        mirror.setdefault("shape", "round")
        mirror.setdefault("size", "large")
        g.add_node("mirror", "surface", type="mirror", **mirror)
        g.add_edge("obj0", "mirror", "on")

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
        m = g.surface("mirror")
        rx = MIRROR_RX[g.attr(m, "size", "large")]
        cx = 0.5 + jit(0.5 - rx - 0.03)
        ry = rx * MIRROR_ASPECT
        put(g, m, [cx - rx, MIRROR_CY - ry, cx + rx, MIRROR_CY + ry])
        o = g.nodes("object")[0]
        ob = object_box(g, o, cx, OBJECT_BASE_ON_MIRROR)
        put(g, o, ob)
        for e in g.effects("reflection"):
            h = (ob[3] - ob[1]) * REFLECTION_SQUASH
            put(g, e, [ob[0], ob[3], ob[2], min(ob[3] + h, MIRROR_CY + ry)])

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
