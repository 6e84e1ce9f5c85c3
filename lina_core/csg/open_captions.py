"""Captions of open-world graphs: the stated scene in English, and its causal completion ``c+``.

Entities are named by their stated attributes ("a small red cat"), relations become clauses in
graph order ("a bird eats a snake"), and each effect is said with its rule's ``phrase``
(``data/rules.json``), so a user rule brings its own English.
"""
from __future__ import annotations

from typing import Any

import inflect

from .graph import CausalSceneGraph
from .knowledge import knowledge

_ENGLISH = inflect.engine()
_ATTR_ORDER = ("count", "size", "state", "color", "colour", "material")
_NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight",
                 9: "nine", 10: "ten", 12: "twelve"}


def noun_phrase(g: CausalSceneGraph, n: str, definite: bool) -> str:
    """'a small red cat' / 'the small red cat' / 'two cats' from an entity's attributes."""
    a = g.node(n)["attrs"]
    count = a.get("count")
    noun = str(a.get("noun", n))
    plural = count not in (None, 1)
    words = [str(a[k]) for k in _ATTR_ORDER[1:] if k in a and str(a[k]) not in noun.split()]
    head = " ".join(words + [_ENGLISH.plural_noun(noun) if plural else noun])
    if definite:
        return f"the {head}"
    if isinstance(count, int) and count != 1:
        return f"{_NUMBER_WORDS.get(count, str(count))} {head}"
    if plural:
        return f"{count} {head}" if count in ("several", "many", "few") else head
    if a.get("mass_noun"):
        return head
    return _ENGLISH.a(head)


def _verb_s(verb: str) -> str:
    """Third person singular of a verb lemma ('eat' -> 'eats', 'carry' -> 'carries')."""
    first, _, rest = verb.partition(" ")
    if first.endswith(("s", "sh", "ch", "x", "z", "o")):
        first += "es"
    elif first.endswith("y") and first[-2:-1] not in tuple("aeiou"):
        first = first[:-1] + "ies"
    else:
        first += "s"
    return f"{first} {rest}".strip()


def _clause(g: CausalSceneGraph, u: str, v: str, rel: str, said: set[str]) -> str:
    """One relation as English, naming each entity with 'a' the first time, 'the' after."""
    left = noun_phrase(g, u, u in said)
    said.add(u)
    right = noun_phrase(g, v, v in said)
    said.add(v)
    verbs = knowledge().lexicon["verbs"]
    middle = _verb_s(rel) if rel in verbs else rel
    return f"{left} {middle} {right}"


def _stated(g: CausalSceneGraph) -> str:
    """The entities and their relations (not the effects) in graph order."""
    said: set[str] = set()
    parts = []
    ents = set(g.nodes("entity"))
    for u, v, rel in g.graph.edges(data="relation"):
        if u in ents and v in ents:
            parts.append(_clause(g, u, v, rel, said))
    alone = [noun_phrase(g, n, False) for n in g.nodes("entity") if n not in said]
    if alone:
        parts.append(" and ".join(alone))
    return ", ".join(parts)


def _effect_words(g: CausalSceneGraph, e: str) -> str:
    """An effect in its rule's phrase ({subject}, {object} and its attributes filled in)."""
    attrs: dict[str, Any] = dict(g.node(e)["attrs"])
    rule = next((r for r in knowledge().rules if r["name"] == attrs.get("rule")), None)
    causes = [c for c in g.graph.predecessors(e) if g.node(c)["kind"] == "entity"]
    names = [noun_phrase(g, c, True) for c in causes]
    if rule is None:
        who = names[0] if names else "the scene"
        return f"{who} shows {_ENGLISH.a(str(attrs['type']))}"
    phrase = rule.get("phrase", "{subject} shows " + str(attrs["type"]))
    if isinstance(phrase, dict):
        phrase = phrase.get(attrs["type"], next(iter(phrase.values())))
    k = 2 if rule.get("pair") else 1
    fill = {**{k_: str(v) for k_, v in attrs.items()},
            "subject": " and ".join(names[:k]) or "it", "object": (names[k:k + 1] or ["it"])[0]}
    for key in ("container", "toward"):
        if key in attrs:
            fill[key] = f"the {attrs[key]}"
    try:
        text = phrase.format(**fill)
    except (KeyError, IndexError, ValueError):
        text = f"{fill['subject']} shows {_ENGLISH.a(str(attrs['type']))}"
    return text


def open_prompt(g: CausalSceneGraph, explicit: bool) -> str:
    """The scene as stated (with the effects the prompt named), or every effect too."""
    text = _stated(g)
    effects = [e for e in g.nodes("effect") if explicit or g.node(e)["explicit"]]
    return ", and ".join([text] * bool(text) + [_effect_words(g, e) for e in effects])
