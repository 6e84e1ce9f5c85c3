"""What a category's questions return (:class:`Answers`), and the questions every category
asks alike: each object's colour or material and shape (:func:`texture_single`), and whether
each object is drawn once (:func:`ask_count`).

A building block of the categories' questions (:meth:`.categories.Category.questions`);
:func:`.verify.verify` merges the answers into a verdict.  Imports no category.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..csg.graph import CausalSceneGraph
from ..csg.vocabulary import COLOURS, MATERIALS
from .blobs import Blob, colour_blobs, count_copies
from .shape_fit import ShapeModel, shape_of
from .unmix import CANON, Mix, alpha_lin


@dataclass
class Answers:
    """What a category's checker decides; :func:`verify` merges it with what it measured."""

    texture: dict[str, bool] = field(default_factory=dict)
    physics: dict[str, bool] = field(default_factory=dict)
    per_node: dict[str, str] = field(default_factory=dict)
    meas: dict[str, Any] = field(default_factory=dict)

    def add(self, obj: "ObjectAnswer") -> Any:
        """Take one object's texture answers; its fitted (box, sigma) or None."""
        self.texture.update(obj.texture)
        self.per_node[obj.node] = obj.note
        self.meas.update(obj.meas)
        return obj.box


@dataclass
class ObjectAnswer:
    """One object's texture answers: colour or material, and shape when asked."""

    node: str
    texture: dict[str, bool]
    note: str
    meas: dict[str, Any] = field(default_factory=dict)
    box: Any = None              # the fitted (box, sigma), canonical px, when a shape was fitted


def object_nodes(g: CausalSceneGraph) -> list[str]:
    return g.nodes("object")


def colour_name(g: CausalSceneGraph, n: str) -> str:
    return g.attr(n, "colour") or g.attr(n, "material") or "?"


def colour_palette() -> tuple[list[np.ndarray], list[str]]:
    return [np.array(c, np.float32) for c in COLOURS.values()], list(COLOURS)


def fmt(x: float) -> str:
    return f"{x:.2f}"


def palette_rgb(name: str) -> np.ndarray:
    return np.array(COLOURS.get(name) or MATERIALS.get(name) or (0, 0, 0), np.float32)


def texture_single(g: CausalSceneGraph, img: np.ndarray, mix: Mix, blob: Blob | None, n: str,
                    key: str, prefix: str = "", soft: np.ndarray | None = None,
                    model: ShapeModel | None = None, ask_shape: bool = True,
                    valid: np.ndarray | None = None) -> ObjectAnswer:
    """Judge ``texture[prefix+key]`` (colour/material) and ``texture[prefix+'shape']`` of
    object ``n`` seen as ``blob`` (None: not found)."""
    want = colour_name(g, n)
    want_shape = g.attr(n, "shape")
    if blob is None:
        texture = {prefix + key: False}
        if ask_shape and want_shape:
            texture[prefix + "shape"] = False
        return ObjectAnswer(n, texture, f"not found (expected a {want} "
                                         f"{want_shape or 'object'})")
    seen = blob.colour
    out = ObjectAnswer(n, {prefix + key: seen == want}, "")
    out.meas[prefix + "centre"] = (blob.cx / CANON, blob.cy / CANON)   # tracked across frames
    parts = [f"{key} {seen}" + ("" if seen == want else f" (expected {want})")]
    out.meas[prefix + key] = seen
    if ask_shape and want_shape:
        if soft is None:
            soft = alpha_lin(img, mix.bgcol, palette_rgb(seen))
        shape, scores, out.box = shape_of(soft, blob, model, valid)
        out.texture[prefix + "shape"] = shape == want_shape
        parts.append(f"shape {shape}" + ("" if shape == want_shape else
                                          f" (expected {want_shape})"))
        out.meas[prefix + "shape"] = shape
        out.meas[prefix + "shape_scores"] = scores
    out.note = ", ".join(parts) + f", at x={fmt(blob.cx / CANON)} y={fmt(blob.cy / CANON)}"
    return out


def left_right(g: CausalSceneGraph) -> tuple[str, str]:
    objs = object_nodes(g)
    a, b = objs[0], objs[1]
    for u, v, rel in g.graph.edges(data="relation"):
        if rel == "left of":
            return u, v
        if rel == "right of":
            return v, u
    return a, b


def ask_count(g: CausalSceneGraph, mix: Mix, ans: "Answers", thr: float = 0.5,
               found: dict[str, list[Blob]] | None = None) -> None:
    """The ``count`` texture question: each object drawn once (each colour as many times as the
    graph has objects of it: a missing object fails it too).  ``found``: components the
    checker already has per colour (at ``thr``), not searched again."""
    want: dict[str, int] = {}
    for n in object_nodes(g):
        want[g.attr(n, "colour")] = want.get(g.attr(n, "colour"), 0) + 1
    found = found or {}
    seen = {c: count_copies(found[c] if c in found else colour_blobs(mix, c, thr)) for c in want}
    ans.texture["count"] = all(seen[c] == k for c, k in want.items())
    ans.meas["copies"] = seen


def single_object(g: CausalSceneGraph, raw: np.ndarray, mix: Mix
                  ) -> tuple[str, Blob | None, "Answers"]:
    """The start of a one-object scene's questions: its object node, the largest blob (None:
    nothing drawn), and the answers so far (its colour and shape, and the count)."""
    from .blobs import find_blobs
    o = object_nodes(g)[0]
    blobs = find_blobs(mix)
    blob = blobs[0] if blobs else None
    ans = Answers()
    ans.add(texture_single(g, raw, mix, blob, o, "colour"))
    ask_count(g, mix, ans)
    return o, blob, ans
