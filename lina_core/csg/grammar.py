"""The prompt parser's entry point and its first domain, the ToyWorld grammar.

:func:`from_prompt` reads any English prompt.  It tries the ToyWorld grammar first (a PAP-Toy
style caption -> the exact scene the data generator, renderer and verifier share) and hands
the prompt to the open-world domain (:mod:`.parser`) when ToyWorld cannot read it *or would
lose part of it*: a noun, a count or a light it would drop, a stated object it would drop or
whose shape, colour or material it would rewrite, or the cues of two scene
categories (a mirror and a light: ToyWorld keeps one effect, the open world both).  Both are
deterministic and keep every word they did not use (``unknown_words``), so the app can tell
people which words were ignored instead of guessing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from .geometry import layout
from .graph import CausalSceneGraph, GraphError, check_prompt
from .rules import add_implicit_effects
from .vocabulary import (COLOURS, LIGHT_SIDES, MATERIAL_CATEGORIES, MATERIALS, MIRROR_SHAPES,
                         OBJECT_COUNT, SHAPES, SIZES)

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
_SCENE_WORDS = ("balance", "water", "beaker", "larger", "smaller")


@dataclass
class ParseResult:
    """A parse: the graph, the words not used, which domain read it ("toyworld" or "open")
    and, for the open world, what each understood word was taken for."""

    graph: CausalSceneGraph
    unknown_words: list[str]
    domain: str = "toyworld"
    understood: list[str] = field(default_factory=list)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


class _Tokens:
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


#: readers of the categories defined outside this module, tried in turn before the first five:
#: each returns the graph and the objects as stated, or None when the prompt does not cue its
#: category; :mod:`.relational_scenes` adds roles, fill and place (``csg/__init__`` imports it), so
#: this module never imports it (no import circle, issue 26)
SCENE_READERS: list[Callable[[_Tokens], tuple[CausalSceneGraph, list[dict[str, str]]] | None]] = []


def _category(tok: _Tokens) -> str:
    """The scene category from its telltale words, in priority order."""
    canon = tok.canon
    if "mirror" in canon:
        return "reflection"
    if "water" in canon or "beaker" in canon:
        return "buoyancy"
    if "balance" in canon:
        return "balance"
    if "larger" in canon or "smaller" in canon:
        return "scale"
    if any(w in ("lit", "light", "lighting") for w in tok.words):
        return "shadow"
    raise GraphError("prompt: no scene recognised; it must mention a mirror, a light "
                     "('lit from the left'), water, a balance, or 'larger/smaller than'")


def _is_side_word(c: str, category: str, stated: set[str]) -> bool:
    """A side word the scene consumes: the light's side, a stated tilt's side, or below."""
    if c in ("left", "right", "above") and category == "shadow":
        return True
    if c in ("left", "right") and category == "balance" and "tilt" in stated:
        return True
    return c in ("below", "beneath")


def _objects(tok: _Tokens, category: str, stated: set[str]
             ) -> tuple[list[dict[str, str]], dict[str, str]]:
    """Objects ``(size?) (colour|material)? shape`` in order of mention, and the mirror's
    attributes (the size and shape words just before "mirror")."""
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
        elif c in _SCENE_WORDS or _is_side_word(c, category, stated):
            tok.take(i)
    if category == "reflection" and "shape" not in mirror:
        mirror["shape"] = "round"
    return objects, mirror


def _add_objects(g: CausalSceneGraph, objects: list[dict[str, str]]) -> None:
    """The scene's objects with the category's defaults (balance cubes, red, wood, small)."""
    need = OBJECT_COUNT[g.category]
    if len(objects) < need:
        raise GraphError(f"prompt: a {g.category} scene needs {need} object(s) with a shape "
                         f"({'/'.join(SHAPES)}); found {len(objects)}")
    for j, o in enumerate(objects[:need]):
        if g.category in MATERIAL_CATEGORIES:
            o.pop("colour", None)
            o.setdefault("material", "wood")
            if g.category == "balance":
                o["shape"] = "cube"
        else:
            o.pop("material", None)
            o.setdefault("colour", "red")
        o.setdefault("size", "small")
        g.add_node(f"obj{j}", "object", **o)


def _add_scene(g: CausalSceneGraph, canon: list[str], mirror: dict[str, str]) -> None:
    """The category's surfaces, light and spatial edges."""
    if g.category == "reflection":
        mirror.setdefault("size", "large")
        g.add_node("mirror", "surface", type="mirror", **mirror)
        g.add_edge("obj0", "mirror", "on")
    elif g.category == "shadow":
        g.add_node("floor", "surface", type="floor")
        g.add_edge("obj0", "floor", "on")
        side = next((c for c in canon if c in LIGHT_SIDES), "above")
        # "lit from the left ..., casting a shadow to the right": the light side comes first
        g.add_node("light", "light", side=side)
    elif g.category == "buoyancy":
        g.add_node("water", "surface", type="water")
        g.add_edge("obj0", "water", "in")
    elif g.category == "balance":
        g.add_node("beam", "surface", type="beam")
        g.add_edge("obj0", "beam", "on")
        g.add_edge("obj1", "beam", "on")
        g.add_edge("obj0", "obj1", "left of")
    elif g.category == "scale":
        _add_scale_order(g, first_larger="smaller" not in canon)


def _add_scale_order(g: CausalSceneGraph, first_larger: bool) -> None:
    """A floor, the sizes the comparison implies and its 'larger than' edge."""
    g.add_node("floor", "surface", type="floor")
    big, small = ("obj0", "obj1") if first_larger else ("obj1", "obj0")
    g.graph.nodes[big]["attrs"]["size"] = "large"
    g.graph.nodes[small]["attrs"]["size"] = "small"
    g.add_edge(big, small, "larger than")
    # one edge per ordered pair in a DiGraph: state the order from the other side
    if first_larger:
        g.add_edge("obj1", "obj0", "right of")
    else:
        g.add_edge("obj0", "obj1", "left of")


def _mark_stated(g: CausalSceneGraph, stated: set[str]) -> None:
    """Effects the prompt names are explicit (either fate word states the fate)."""
    for e in g.effects():
        t = g.attr(e, "type")
        if t in stated or (t in ("floating", "sinking") and stated & {"floating", "sinking"}):
            g.graph.nodes[e]["explicit"] = True


def _toyworld(text: str) -> ParseResult:
    """The ToyWorld grammar: a PAP-Toy style prompt -> a validated graph with implicit effects.

    Raises :class:`GraphError` if no scene category can be recognised."""
    return _toyworld_read(text)[0]


def _toyworld_read(text: str) -> tuple[ParseResult, list[dict[str, str]]]:
    """:func:`_toyworld`'s parse and the objects as the prompt stated them (before the
    category's defaults and rewrites)."""
    words = _words(text)
    if not words:
        raise GraphError("prompt: empty; write e.g. 'a red ball on a round mirror'")
    tok = _Tokens(words)
    for read in SCENE_READERS:   # roles, fill, place: no effects to state or add
        scene = read(tok)
        if scene is not None:
            g, as_stated = scene
            layout(g)
            return ParseResult(g.validate(), tok.unknown()), as_stated
    stated = tok.stated_effects()
    category = _category(tok)
    objects, mirror = _objects(tok, category, stated)
    as_stated = [dict(o) for o in objects]
    unknown = tok.unknown()
    g = CausalSceneGraph(category=category)
    _add_objects(g, objects)
    _add_scene(g, tok.canon, mirror)
    add_implicit_effects(g)
    _mark_stated(g, stated)
    layout(g)
    return ParseResult(g.validate(), unknown), as_stated


def _rewrites_objects(g: CausalSceneGraph, stated: list[dict[str, str]], text: str) -> bool:
    """Whether ToyWorld's graph lacks a stated object (a second one where its category has
    one), rewrites one's shape, colour or material (the balance's cubes, the material
    categories' dropped colours) or drops a colour or material said of something else (a
    "blue mirror")."""
    kept = g.nodes("object")
    if len(stated) > len(kept):
        return True
    if any(g.attr(n, key) != o[key] for n, o in zip(kept, stated)
           for key in ("shape", "colour", "material") if key in o):
        return True
    said = {SYNONYMS.get(w, w) for w in _words(text)} & (set(COLOURS) | set(MATERIALS))
    return not said <= {g.attr(n, key) for n in kept for key in ("colour", "material")}


#: the ToyWorld words that cue each category (two cued: the open world keeps both effects)
_CUES = {"reflection": {"mirror"}, "buoyancy": {"water", "beaker"}, "balance": {"balance"},
         "shadow": {"lit", "light", "lighting"}}


def _loses_something(text: str, unknown: list[str]) -> bool:
    """Whether ToyWorld's reading drops what the open world would keep: an unknown word the
    lexicon knows as a noun, a count, an action with roles or a lighting verb, or the cues
    of two categories, or a named lamp or sun beside one."""
    from .knowledge import knowledge
    from .parser import tokens
    verbs = knowledge().lexicon["verbs"]
    scene = set(_SCENE_WORDS) | {"mirror"}
    if any(" " in t.text and t.tag == "NOUN" and scene & {SYNONYMS.get(w) for w in t.text.split()}
           for t in tokens(text)):
        return True   # "a looking glass" is no beaker (an "ice cube" stays ToyWorld's cube)
    for t in tokens(" ".join(unknown)):
        info = verbs[t.value[0]] if t.tag == "VERB" else {}
        action = t.tag == "VERB" and (not info.get("intransitive") or info.get("lights"))
        if (t.tag in ("NOUN", "NUM") or action) and t.text not in FUNCTION_WORDS:
            return True
    words = set(_words(text)) | {SYNONYMS.get(w, w) for w in _words(text)}
    cued = [c for c, cue in _CUES.items() if words & cue]
    lamps = {n for n, v in knowledge().lexicon["nouns"].items() if v in ("light", "heat")}
    lamp_named = bool(words & (lamps - {"light"}))   # "light" alone is ToyWorld's own cue
    return len(cued) > 1 or (lamp_named and bool(cued))


def from_prompt(text: str) -> ParseResult:
    """Parse any prompt into a validated graph with its implicit effects added.

    ToyWorld first (byte-identical to its grammar for everything the data generator writes),
    else the open world (:func:`.parser.open_prompt_graph`).  Deterministic; every word not
    used is returned in ``unknown_words``.  Raises :class:`GraphError` for an empty prompt or
    one with no entity at all, saying what was understood, and one over
    :data:`~lina_core.limits.MAX_PROMPT_CHARS` characters before reading a word of it."""
    check_prompt(text)
    try:
        result, stated = _toyworld_read(text)
        if not (_loses_something(text, result.unknown_words)
                or _rewrites_objects(result.graph, stated, text)):
            return result
    except GraphError as exc:
        if "prompt: empty" in str(exc):
            raise
    from .parser import open_prompt_graph
    parsed = open_prompt_graph(text)
    return ParseResult(parsed.graph, parsed.unknown_words, "open", parsed.understood)
