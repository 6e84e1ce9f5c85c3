"""The prompt parser's entry point: the open world first, ToyWorld's scenes recognised in it.

:func:`from_prompt` reads any English prompt with the open-world parser (:mod:`.parser`) and
asks each ToyWorld category, in cue-rank order, whether that graph is one of its scenes
(``Category.recognise``: the graph's entities, attributes, relations and stated effects, never
the sentence), so any phrasing the parser reads becomes the ToyWorld scene it describes ("a
yellow ball in the water" is ``place``'s).  What no category recognises goes to the
categories' sentence templates (a PAP-Toy style caption -> the exact scene the data generator,
renderer and verifier share): today the explicit captions of reflection, shadow and buoyancy,
whose effect clauses the parser misreads, and words it does not know.  When the templates
cannot read the prompt *or would lose part of it* (a noun, a count or a light they would drop,
a stated object they would drop or whose shape, colour or material they would rewrite, or the
cues of two scene categories: a mirror and a light), the prompt stays open-world.  Everything
is deterministic and keeps every word not used (``unknown_words``), so the app can tell people
which words were ignored instead of guessing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .geometry import layout
from .graph import CausalSceneGraph, GraphError, check_prompt
from .vocabulary import COLOURS, MATERIALS
from .words import (EFFECT_WORDS, FUNCTION_WORDS, JAR_AND_PLACE_WORDS, SCENE_WORDS,
                    SYNONYMS, Tokens, words)

if TYPE_CHECKING:
    from ..toyworld.categories.base import Category
    from .parser import OpenParse


@dataclass
class ParseResult:
    """A parse: the graph, the words not used, which domain read it ("toyworld" or "open")
    and, for the open world, what each understood word was taken for."""

    graph: CausalSceneGraph
    unknown_words: list[str]
    domain: str = "toyworld"
    understood: list[str] = field(default_factory=list)


def _category(tok: Tokens) -> Category:
    """The scene category the prompt's words cue, the lowest-ranked of those cued."""
    from ..toyworld.categories.base import CATEGORIES   # the table; it imports nothing back
    canon = set(tok.canon)
    for cat in sorted(CATEGORIES.values(), key=lambda c: c.cue_rank):
        if canon & cat.cue_words:
            return cat
    raise GraphError("prompt: no scene recognised; it must mention a mirror, a light "
                     "('lit from the left'), water, a balance, or 'larger/smaller than'")


def _toyworld_read(text: str) -> tuple[ParseResult, list[dict[str, str]]]:
    """The categories' sentence templates: a PAP-Toy style prompt -> a validated graph with
    implicit effects, and the objects as the prompt stated them (before the category's
    defaults and rewrites).  Raises :class:`GraphError` if no category's cue is named."""
    found = words(text)
    if not found:
        raise GraphError("prompt: empty; write e.g. 'a red ball on a round mirror'")
    tok = Tokens(found)
    g, as_stated = _category(tok).read(tok)
    layout(g)
    return ParseResult(g.validate(), tok.unknown()), as_stated


def _rewrites_objects(g: CausalSceneGraph, stated: list[dict[str, str]], text: str) -> bool:
    """Whether ToyWorld's graph lacks a stated object (a second one where its category has
    one), rewrites one's shape, colour, material or size (the balance's cubes, the material
    categories' dropped colours) or drops a colour or material said of something else (a
    "blue mirror")."""
    kept = g.nodes("object")
    if len(stated) > len(kept):
        return True
    if any(g.attr(n, key) != o[key] for n, o in zip(kept, stated)
           for key in ("shape", "colour", "material", "size") if key in o):
        return True
    said = {SYNONYMS.get(w, w) for w in words(text)} & (set(COLOURS) | set(MATERIALS))
    return not said <= {g.attr(n, key) for n in kept for key in ("colour", "material")}


def _loses_something(text: str, unknown: list[str]) -> bool:
    """Whether ToyWorld's reading drops what the open world would keep: an unknown word the
    lexicon knows as a noun, a count, an action with roles or a lighting verb, or the cues
    of two categories, or a named lamp or sun beside one."""
    from ..toyworld.categories.base import CATEGORIES   # the table; it imports nothing back
    from .knowledge import knowledge
    from .parser import tokens
    verbs = knowledge().lexicon["verbs"]
    scene = set(SCENE_WORDS) | {"mirror"}
    if any(" " in t.text and t.tag == "NOUN" and scene & {SYNONYMS.get(w) for w in t.text.split()}
           for t in tokens(text)):
        return True   # "a looking glass" is no beaker (an "ice cube" stays ToyWorld's cube)
    for t in tokens(" ".join(unknown)):
        info = verbs[t.value[0]] if t.tag == "VERB" else {}
        action = t.tag == "VERB" and (not info.get("intransitive") or info.get("lights"))
        if (t.tag in ("NOUN", "NUM") or action) and t.text not in FUNCTION_WORDS:
            return True
    said = set(words(text)) | {SYNONYMS.get(w, w) for w in words(text)}
    cued = [c for c in CATEGORIES.values() if said & c.open_world_cues]
    lamps = {n for n, v in knowledge().lexicon["nouns"].items() if v in ("light", "heat")}
    lamp_named = bool(said & (lamps - {"light"}))   # "light" alone is ToyWorld's own cue
    return len(cued) > 1 or (lamp_named and bool(cued))


#: every word a ToyWorld caption may use: a recognised scene is refused when the open parser
#: left one of them unread (it would drop what the templates read, a "rectangular" mirror)
TOYWORLD_WORDS = (set(SYNONYMS) | FUNCTION_WORDS | set(EFFECT_WORDS) | set(SCENE_WORDS)
                  | JAR_AND_PLACE_WORDS)


def _recognised(parsed: OpenParse) -> CausalSceneGraph | None:
    """The ToyWorld scene the first category (by cue rank, as :func:`_category` tries them)
    recognises in the open-world parse ``parsed``, laid out and validated as
    :func:`_toyworld_read` does; None when none does, when its graph does not validate, or
    when the parser left a word unread that a ToyWorld caption uses (:data:`TOYWORLD_WORDS`:
    the scene would silently lose it; the templates read such a prompt)."""
    from ..toyworld.categories.base import CATEGORIES   # the table; it imports nothing back
    if set(parsed.unknown_words) & TOYWORLD_WORDS:
        return None
    for cat in sorted(CATEGORIES.values(), key=lambda c: c.cue_rank):
        found = cat.recognise(parsed.graph)
        if found is None:
            continue
        g = found[0]
        layout(g)
        try:
            return g.validate()
        except GraphError:
            continue
    return None


def from_prompt(text: str) -> ParseResult:
    """Parse any prompt into a validated graph with its implicit effects added.

    Every prompt is read by the open-world parser (:func:`.parser.open_prompt_graph`) and the
    ToyWorld categories are asked whether its graph is one of their scenes
    (:func:`_recognised`).  What none recognises goes to the categories' sentence templates
    (the explicit captions whose effect clauses the parser misreads, the words it does not
    know), and what they cannot read without losing part of it stays open-world.  On the
    generator's captions the two ToyWorld paths give byte-identical graphs (pinned by the
    golden tests).  Deterministic; every word not used is returned in ``unknown_words``.
    Raises :class:`GraphError` for an empty prompt or one with no entity at all, saying what
    was understood, and one over :data:`~lina_core.limits.MAX_PROMPT_CHARS` characters
    before reading a word of it."""
    from .parser import open_prompt_graph
    check_prompt(text)
    try:
        parsed, refused = open_prompt_graph(text), None
    except GraphError as exc:               # no entity: the templates may still read it
        parsed, refused = None, exc
    if parsed is not None:
        scene = _recognised(parsed)
        if scene is not None:
            return ParseResult(scene, parsed.unknown_words)
    try:
        result, stated = _toyworld_read(text)
        if not (_loses_something(text, result.unknown_words)
                or _rewrites_objects(result.graph, stated, text)):
            return result
    except GraphError as exc:
        if "prompt: empty" in str(exc):
            raise
    if parsed is None:
        raise refused
    return ParseResult(parsed.graph, parsed.unknown_words, "open", parsed.understood)
