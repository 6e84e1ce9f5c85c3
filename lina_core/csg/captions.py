"""Captions: a scene graph -> the user-style prompt, or its causal completion ``c+``.

The implicit caption leaves the effects unsaid (what a user writes); the explicit one states
them, which is what :func:`lina_core.csg.from_prompt` reads back as explicit effects.  Each
ToyWorld category words its own (:meth:`lina_core.toyworld.categories.Category.caption`) with
the shared :func:`object_phrase`; :func:`to_prompt` looks the category up and fixes the
articles.
"""
from __future__ import annotations

import re

from .graph import CausalSceneGraph, GraphError


def object_phrase(g: CausalSceneGraph, n: str, with_size: bool = True) -> str:
    """An object as captions name it: (size) colour-or-material shape ("small red ball")."""
    a = g.node(n)["attrs"]
    parts = [a["size"]] if with_size and "size" in a else []
    parts += [a.get("colour") or a.get("material", ""), a["shape"]]
    return " ".join(p for p in parts if p)


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
    from ..toyworld.categories.base import category   # the table; it imports nothing back
    cat = category(g.category)
    if cat is None:  # pragma: no cover - validate() forbids it
        raise GraphError(f"category: {g.category!r}")
    return articles(cat.caption(g, explicit))
