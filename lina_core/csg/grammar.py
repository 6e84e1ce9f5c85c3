"""The prompt parser's entry point and its first domain, the ToyWorld grammar.

:func:`from_prompt` reads any English prompt.  It tries the ToyWorld categories' sentence
templates first (a PAP-Toy style caption -> the exact scene the data generator, renderer and
verifier share).  When they cannot read the prompt *or would lose part of it* (a noun, a count
or a light they would drop, a stated object they would drop or whose shape, colour or material
they would rewrite, or the cues of two scene categories: a mirror and a light), the open-world
parser (:mod:`.parser`) reads it, and each category, in cue-rank order, is asked whether that
graph is one of its scenes (``Category.recognise``: the graph's entities, attributes, relations
and stated effects, never the sentence).  A recognised graph is a ToyWorld scene ("a yellow
ball in the water" is ``place``'s), anything else stays open-world (a mirror and a light: the
open world keeps both effects, ToyWorld one).  Everything is deterministic and keeps every
word not used (``unknown_words``), so the app can tell people which words were ignored instead
of guessing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .geometry import layout
from .graph import CausalSceneGraph, GraphError, check_prompt
from .vocabulary import COLOURS, MATERIALS
from .words import FUNCTION_WORDS, SCENE_WORDS, SYNONYMS, Tokens, words

if TYPE_CHECKING:
    from ..toyworld.categories.base import Category


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


def _toyworld(text: str) -> ParseResult:
    """The ToyWorld grammar: a PAP-Toy style prompt -> a validated graph with implicit effects.

    Raises :class:`GraphError` if no scene category can be recognised."""
    return _toyworld_read(text)[0]


def _toyworld_read(text: str) -> tuple[ParseResult, list[dict[str, str]]]:
    """:func:`_toyworld`'s parse and the objects as the prompt stated them (before the
    category's defaults and rewrites)."""
    found = words(text)
    if not found:
        raise GraphError("prompt: empty; write e.g. 'a red ball on a round mirror'")
    tok = Tokens(found)
    g, as_stated = _category(tok).read(tok)
    layout(g)
    return ParseResult(g.validate(), tok.unknown()), as_stated


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


def _recognised(og: CausalSceneGraph) -> CausalSceneGraph | None:
    """The ToyWorld scene the first category (by cue rank, as :func:`_category` tries them)
    recognises in the open-world graph ``og``, laid out and validated as
    :func:`_toyworld_read` does; None when none does (or its graph does not validate: the
    open world then keeps the prompt, as before there were recognisers)."""
    from ..toyworld.categories.base import CATEGORIES   # the table; it imports nothing back
    for cat in sorted(CATEGORIES.values(), key=lambda c: c.cue_rank):
        found = cat.recognise(og)
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

    ToyWorld's templates first (byte-identical to its grammar for everything the data
    generator writes), else the open world (:func:`.parser.open_prompt_graph`), whose graph a
    ToyWorld category may still recognise as its scene (:func:`_recognised`; the open
    parser's unknown words are kept).  Deterministic; every word not
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
    scene = _recognised(parsed.graph)
    if scene is not None:
        return ParseResult(scene, parsed.unknown_words)
    return ParseResult(parsed.graph, parsed.unknown_words, "open", parsed.understood)
