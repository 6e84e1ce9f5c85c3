"""Judge a ToyWorld clip: every frame's texture, and the motion's physics.

Each frame is judged by :func:`verify.verify` against that frame's graph
(:func:`render.clip_frames`), so a frame's texture questions are the still scene's.  A still
physics question only makes sense where the scene is at rest (the ball on the mirror, the object
settled in the water, the light at either end of its path), so per-frame physics is asked on
those frames and left ``None`` on the others.  The clip's physics is one temporal question per
clip kind, measured from the pixels of every frame (object centre, light position, shadow offset,
water line: never the layout):

* ``reflection`` - *does the reflection meet the ball at contact?*  The ball falls (its centre
  drops by at least ``FALL_MIN`` of the frame, and never rises by more than ``RISE_TOL``) and in
  the last frame its reflection is under it, inside the mirror.
* ``buoyancy`` - *does the object end up floating or sunk as its material says?*  It starts
  above the water line, goes down (its deepest point at least ``FALL_MIN`` below its start) and,
  in the last frame, floats or lies on the bottom as its material says.
* ``shadow`` - *does the shadow move opposite the light?*  The light moves by at least
  ``LIGHT_MOVE_MIN`` of the frame and the shadow's offset from the object moves the other way by
  at least ``SHADOW_MOVE_MIN`` object widths.

Accuracy on rendered clips and on counterfactual clips with the wrong motion: ``docs/MODEL.md``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..csg.graph import CausalSceneGraph
from .categories.base import CATEGORIES
from .render import CLIP_KINDS, clip_frames
from .verify import Verdict, VerifyError, verify

#: an object that falls (the ball onto the mirror, the object into the water) must drop this
#: much (fraction of frame height); each clip's own thresholds are in its category's module
FALL_MIN = 0.1



@dataclass
class ClipVerdict:
    category: str
    frames: list[Verdict]
    physics_frames: list[int]            #: frames at rest, where the still physics is asked
    temporal: dict[str, bool]
    tracks: dict[str, list[float | None]]
    reason: str
    #: each temporal question in words, naming the scene's object (:data:`QUESTION_TEXT`)
    questions: dict[str, str] = field(default_factory=dict)

    @property
    def frame_texture(self) -> list[bool]:
        return [v.texture_ok for v in self.frames]

    @property
    def frame_physics(self) -> list[bool | None]:
        return [v.physics_ok if f in self.physics_frames else None
                for f, v in enumerate(self.frames)]

    # the same questions a still Verdict answers, so probes and LINA judge clips unchanged
    @property
    def texture(self) -> dict[str, bool]:
        return {f"frame{f}": ok for f, ok in enumerate(self.frame_texture)}

    @property
    def physics(self) -> dict[str, bool]:
        return dict(self.temporal)

    @property
    def per_node(self) -> dict[str, str]:
        return self.frames[-1].per_node

    @property
    def texture_ok(self) -> bool:
        return all(self.frame_texture)

    @property
    def physics_ok(self) -> bool:
        return all(self.temporal.values())

    @property
    def physics_verdict(self) -> str:
        """``ok``, ``wrong``, or ``undetermined`` when the temporal question failed and the
        last frame's object could not be found."""
        if self.physics_ok:
            return "ok"
        return "undetermined" if self.frames[-1].physics_verdict == "undetermined" else "wrong"

    @property
    def physics_margin(self) -> float:
        """The still margin of the frames at rest (their mean), signed by the clip's verdict."""
        ms = [abs(self.frames[f].physics_margin) for f in self.physics_frames]
        m = float(np.mean(ms)) if ms else 0.0
        return m if self.physics_ok else -m

    def to_dict(self) -> dict[str, Any]:
        return {"category": self.category, "texture_ok": self.texture_ok,
                "physics_ok": self.physics_ok, "physics_verdict": self.physics_verdict,
                "temporal": dict(self.temporal), "questions": dict(self.questions),
                "reason": self.reason, "frame_texture": self.frame_texture,
                "frame_physics": self.frame_physics, "physics_frames": self.physics_frames,
                "tracks": self.tracks, "frames": [v.to_dict() for v in self.frames]}


def physics_frames(category: str, frames: int) -> list[int]:
    """The frames of a clip at which the still scene's physics holds (see ``clip_frames``):
    the category's :meth:`~.categories.Category.rest_frames`."""
    return CATEGORIES[category].rest_frames(frames)


def track(verdicts: list[Verdict], key: str, index: int | None = None) -> list[float | None]:
    out: list[float | None] = []
    for v in verdicts:
        x = v.measurements.get(key)
        if x is not None and index is not None:
            x = x[index]
        out.append(None if x is None else float(x))
    return out


Tracks = dict[str, list[float | None]]


def verify_clip(frames: np.ndarray | list[np.ndarray], graph: CausalSceneGraph) -> ClipVerdict:
    """Judge ``frames`` (F x H x W x 3 uint8) as the clip of ``graph``'s category."""
    frames = list(frames)
    if graph.category not in CLIP_KINDS:
        raise VerifyError(f"graph: category {graph.category!r} has no clip; clips exist for "
                          f"{sorted(CLIP_KINDS)}")
    try:
        graphs = clip_frames(graph, len(frames))
    except ValueError as exc:
        raise VerifyError(str(exc)) from None
    verdicts = [verify(np.asarray(im), g) for im, g in zip(frames, graphs)]
    cat, this = graph.category, CATEGORIES[graph.category]
    phys = physics_frames(cat, len(frames))
    tracks: Tracks = {"object_x": track(verdicts, "centre", 0),
                      "object_y": track(verdicts, "centre", 1), **this.clip_tracks(verdicts)}
    obj = _object_name(graph)
    ok, reason = this.temporal(verdicts, tracks, obj)
    words = this.temporal_words.format(obj=f"the {obj}")
    return ClipVerdict(cat, verdicts, phys, {this.temporal_question: bool(ok)}, tracks, reason,
                       {this.temporal_question: words})


def _object_name(graph: CausalSceneGraph) -> str:
    """The clip's object by its shape ("cube"), "object" where the graph names none."""
    objs = graph.nodes("object")
    shape = graph.node(objs[0])["attrs"].get("shape") if objs else None
    return str(shape) if shape else "object"


def judge(image_or_clip: np.ndarray, graph: CausalSceneGraph) -> Verdict | ClipVerdict:
    """The one entry point: an H x W x 3 image gets :func:`verify`, an F x H x W x 3 clip
    :func:`verify_clip`."""
    return verify_clip(image_or_clip, graph) if np.ndim(image_or_clip) == 4 else \
        verify(image_or_clip, graph)
