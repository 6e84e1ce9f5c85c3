"""``balance``: two cubes of two materials on a balance beam ("a wood cube and a metal cube on
a balance"); the implicit effect is the beam's tilt, down on the denser cube's side."""
from __future__ import annotations

import numpy as np

from ...csg.geometry import BEAM_HALF, BEAM_TILT, BEAM_Y, balance_cube_box, put
from ...csg.graph import CausalSceneGraph
from ..canvas import BEAM, FULCRUM, Canvas, box, draw_object
from .base import Jitter, register
from .caused import CausedCategory


@register
class Balance(CausedCategory):
    name = "balance"
    cue_words = open_world_cues = frozenset({"balance"})
    cue_rank = 60
    object_shape = "cube"

    def side_word(self, c: str, stated: set[str]) -> bool:
        return c in ("left", "right") and "tilt" in stated

    def add_scene(self, g: CausalSceneGraph, canon: list[str], mirror: dict[str, str]) -> None:
        g.add_node("beam", "surface", type="beam")
        g.add_edge("obj0", "beam", "on")
        g.add_edge("obj1", "beam", "on")
        g.add_edge("obj0", "obj1", "left of")

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
        tilt = g.effects("tilt")
        down = g.attr(tilt[0], "side") if tilt else None
        for n, sgn in zip(g.nodes("object"), (-1, 1)):
            put(g, n, balance_cube_box(cx, sgn, down))
        for e in tilt:
            put(g, e, [cx - BEAM_HALF, BEAM_Y - BEAM_TILT - 0.02, cx + BEAM_HALF,
                       BEAM_Y + BEAM_TILT + 0.02])

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
