"""The words of a ToyWorld prompt: synonyms, function words, effect words, the token cursor a
category's reader moves along, and the object phrases every category reads alike.

A building block: the categories' readers (:mod:`lina_core.toyworld.categories`) and the
grammar (:mod:`.grammar`) use it; it imports no category, so no import circle.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from .graph import CausalSceneGraph, GraphError
from .vocabulary import COLOURS, MATERIALS, MIRROR_SHAPES, SHAPES, SIZES

SYNONYMS = {
    "sphere": "ball", "ball": "ball", "orb": "ball", "balls": "ball", "spheres": "ball",
    "cube": "cube", "box": "cube", "block": "cube", "cubes": "cube", "boxes": "cube",
    "blocks": "cube", "cone": "cone", "pyramid": "cone", "triangle": "cone",
    "big": "large", "large": "large", "huge": "large", "small": "small", "little": "small",
    "tiny": "small",
    "round": "round", "circular": "round", "square": "square", "rectangular": "square",
    "red": "red", "green": "green", "blue": "blue", "yellow": "yellow", "purple": "purple",
    "violet": "purple",
    "wood": "wood", "wooden": "wood", "cork": "cork", "ice": "ice", "metal": "metal",
    "iron": "metal", "steel": "metal", "metallic": "metal", "stone": "stone", "rock": "stone",
    "left": "left", "right": "right", "above": "above", "overhead": "above",
    "mirror": "mirror", "balance": "balance", "scale": "balance", "seesaw": "balance",
    "water": "water", "beaker": "beaker", "glass": "beaker", "tank": "beaker",
    "larger": "larger", "bigger": "larger", "smaller": "smaller",
}
#: words with no content of their own; consumed silently
FUNCTION_WORDS = set("""a an the on of in from and with its it to at by is are lies lying appears
lit light lighting floor than sits sitting placed standing stands beneath under below
inside underneath onto into down up side which one while being""".split())
#: words of the explicit (causal-completion) phrases; they mark the effect as stated
EFFECT_WORDS = {"reflection": "reflection", "reflected": "reflection", "shadow": "shadow",
                "casting": "shadow", "casts": "shadow", "floating": "floating",
                "floats": "floating", "float": "floating", "surface": "floating",
                "sunk": "sinking", "sinks": "sinking", "sinking": "sinking", "bottom": "sinking",
                "refraction": "refraction", "bent": "refraction", "submerged": "refraction",
                "part": "refraction", "tilting": "tilt", "tilts": "tilt", "beam": "tilt",
                "bigger": None, "larger": None}
#: scene words that are consumed without adding an attribute
SCENE_WORDS = ("balance", "water", "beaker", "larger", "smaller")
#: the words of the jar and place scenes that the others do not use ("more sand than empty
#: space", "close to the water and on the sand"); those two readers consume them all
JAR_AND_PLACE_WORDS = {"top", "jar", "sand", "soil", "more", "less", "empty", "space", "close",
                       "near", "next", "beside", "far", "off", "away", "resting", "filled",
                       "middle", "above", "edge", "well", "water", "tall", "narrow", "wide",
                       "broad"}


def words(text: str) -> list[str]:
    """The lower-case words of ``text`` (letters only)."""
    return re.findall(r"[a-z]+", text.lower())


class Tokens:
    """The prompt's words, their canonical forms and which of them the parse has used."""

    def __init__(self, words: list[str]) -> None:
        self.words = words
        self.canon = [SYNONYMS.get(w, w) for w in words]
        self.used = [w in FUNCTION_WORDS for w in words]

    def take(self, i: int) -> str:
        self.used[i] = True
        return self.canon[i]

    def stated_effects(self) -> set[str]:
        """Effects the prompt names (their words are used up)."""
        stated: set[str] = set()
        for i, w in enumerate(self.words):
            if w in EFFECT_WORDS and EFFECT_WORDS[w] is not None:
                stated.add(EFFECT_WORDS[w])
                self.used[i] = True
        return stated

    def unknown(self) -> list[str]:
        return [w for w, u in zip(self.words, self.used) if not u]


def read_objects(tok: Tokens, side_word: Callable[[str], bool]
                 ) -> tuple[list[dict[str, str]], dict[str, str]]:
    """Objects ``(size?) (colour|material)? shape`` in order of mention, and the mirror's
    attributes (the size and shape words just before "mirror"); ``side_word(c)``: whether the
    scene consumes the side word ``c`` (below and beneath are always consumed)."""
    objects: list[dict[str, str]] = []
    pending: dict[str, str] = {}
    mirror: dict[str, str] = {}
    for i, c in enumerate(tok.canon):
        if tok.used[i]:
            continue
        if c == "mirror":
            mirror.update({k: v for k, v in pending.items() if k in ("size", "shape")})
            if "shape" not in mirror and "mshape" in pending:
                mirror["shape"] = pending["mshape"]
            pending = {}
            tok.take(i)
        elif c in SIZES:
            pending["size"] = tok.take(i)
        elif c in MIRROR_SHAPES:
            pending["mshape"] = tok.take(i)
        elif c in COLOURS:
            pending["colour"] = tok.take(i)
        elif c in MATERIALS:
            pending["material"] = tok.take(i)
        elif c in SHAPES:
            pending["shape"] = tok.take(i)
            pending.pop("mshape", None)
            objects.append(pending)
            pending = {}
        elif c in SCENE_WORDS or c in ("below", "beneath") or side_word(c):
            tok.take(i)
    return objects, mirror


def add_objects(g: CausalSceneGraph, objects: list[dict[str, str]],
                shape: str | None = None) -> None:
    """The scene's objects with the category's defaults (red, wood, small; ``shape``: the
    one shape the category draws, as the balance's cubes)."""
    from ..toyworld.categories.base import category   # the table; it imports nothing back
    this = category(g.category)
    need = this.objects
    if len(objects) < need:
        raise GraphError(f"prompt: a {g.category} scene needs {need} object(s) with a shape "
                         f"({'/'.join(SHAPES)}); found {len(objects)}")
    for j, o in enumerate(objects[:need]):
        if this.by_material:
            o.pop("colour", None)
            o.setdefault("material", "wood")
        else:
            o.pop("material", None)
            o.setdefault("colour", "red")
        if shape is not None:
            o["shape"] = shape
        o.setdefault("size", "small")
        g.add_node(f"obj{j}", "object", **o)


def use_words(tok: Tokens, words: Any) -> None:
    """Mark every prompt word in ``words`` used (a scene's own words, consumed silently)."""
    for i, w in enumerate(tok.words):
        if w in words:
            tok.used[i] = True


def objects_graph(tok: Tokens, category: str, words: Any = ()
                  ) -> tuple[CausalSceneGraph, list[dict[str, str]]]:
    """What a reader of a scene with stated objects and no mirror starts from: ``words`` used,
    the graph of ``category`` with the prompt's objects (the category's defaults filled in),
    and those objects as the prompt stated them."""
    use_words(tok, words)
    objects, _mirror = read_objects(tok, lambda c: False)
    return stated_graph(category, objects)


def stated_graph(category: str, objects: list[dict[str, str]]
                 ) -> tuple[CausalSceneGraph, list[dict[str, str]]]:
    """The graph of ``category`` with ``objects`` (the category's defaults filled in) and those
    objects as stated: where a template reader and a graph recogniser start alike."""
    stated = [dict(o) for o in objects]
    g = CausalSceneGraph(category=category)
    add_objects(g, objects)
    return g, stated


def mark_stated(g: CausalSceneGraph, stated: set[str]) -> None:
    """Effects the prompt names are explicit (either fate word states the fate)."""
    for e in g.effects():
        t = g.attr(e, "type")
        if t in stated or (t in ("floating", "sinking") and stated & {"floating", "sinking"}):
            g.graph.nodes[e]["explicit"] = True
