"""Captions: a scene graph -> the user-style prompt, or its causal completion ``c+``.

The implicit caption leaves the effects unsaid (what a user writes); the explicit one states
them, which is what :func:`lina_core.csg.from_prompt` reads back as explicit effects.
"""
from __future__ import annotations

import re
from typing import Callable

from .graph import CausalSceneGraph, GraphError


def _obj_phrase(g: CausalSceneGraph, n: str, with_size: bool = True) -> str:
    a = g.node(n)["attrs"]
    parts = [a["size"]] if with_size and "size" in a else []
    parts += [a.get("colour") or a.get("material", ""), a["shape"]]
    return " ".join(p for p in parts if p)


def _reflection(g: CausalSceneGraph, explicit: bool) -> str:
    m = g.node(g.surface("mirror"))["attrs"]
    s = (f"a {_obj_phrase(g, g.nodes('object')[0])} on a {m.get('size', 'large')} "
         f"{m['shape']} mirror")
    if explicit:
        s += ", and its reflection appears in the mirror below it"
    return s


def _shadow(g: CausalSceneGraph, explicit: bool) -> str:
    side = g.attr(g.nodes("light")[0], "side")
    s = f"a {_obj_phrase(g, g.nodes('object')[0])} on the floor, lit from " + (
        "above" if side == "above" else f"the {side}")
    if explicit and g.effects("shadow"):     # an edited graph may have lost its shadow node
        sh = g.attr(g.effects("shadow")[0], "side")
        s += ", casting a shadow " + ("beneath it" if sh == "below" else f"to the {sh}")
    return s


def _buoyancy(g: CausalSceneGraph, explicit: bool) -> str:
    s = f"a {_obj_phrase(g, g.nodes('object')[0], with_size=False)} in a beaker of water"
    if explicit:
        s += ", floating at the surface" if g.effects("floating") else ", sunk to the bottom"
        s += ", its submerged part bent by refraction"
    return s


def _balance(g: CausalSceneGraph, explicit: bool) -> str:
    objs = g.nodes("object")
    s = (f"a {g.attr(objs[0], 'material')} cube and a {g.attr(objs[1], 'material')} cube "
         f"on a balance")
    if explicit:
        s += f", the beam tilting down on the {g.attr(g.effects('tilt')[0], 'side')}"
    return s


def _scale(g: CausalSceneGraph, explicit: bool) -> str:
    a, b = g.nodes("object")
    rel = "larger" if g.attr(a, "size") == "large" else "smaller"
    s = (f"a {_obj_phrase(g, a, with_size=False)} {rel} than a "
         f"{_obj_phrase(g, b, with_size=False)}")
    if explicit:
        big = a if rel == "larger" else b
        s += f", the {g.attr(big, 'colour')} one is bigger"
    return s


#: a caption per category; the module defining a category adds its own (:mod:`.relational_scenes`)
CAPTIONS: dict[str, Callable[[CausalSceneGraph, bool], str]] = {
    "reflection": _reflection, "shadow": _shadow, "buoyancy": _buoyancy, "balance": _balance,
    "scale": _scale}


#: "a" before a word that starts with a vowel ("a ice cube"); ToyWorld's words that start with a
#: vowel are sounded as vowels ("ice"), so spelling decides
_A_BEFORE_VOWEL = re.compile(r"\b([Aa]) (?=[aeiouAEIOU])")


def articles(text: str) -> str:
    """``text`` with "a" made "an" before a vowel: "a ice cube" -> "an ice cube" (the parser
    reads both alike, and the shipped model draws them alike)."""
    return _A_BEFORE_VOWEL.sub(r"\1n ", text)


def to_prompt(g: CausalSceneGraph, explicit: bool = False) -> str:
    """The user-style caption, or (``explicit=True``) its causal completion ``c+``."""
    if g.is_open:
        from .open_captions import open_prompt
        return open_prompt(g, explicit)
    caption = CAPTIONS.get(g.category) if isinstance(g.category, str) else None
    if caption is None:  # pragma: no cover - validate() forbids it
        raise GraphError(f"category: {g.category!r}")
    return articles(caption(g, explicit))
