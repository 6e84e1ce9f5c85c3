"""Captions of open-world graphs: the stated scene in English, and its causal completion ``c+``.

Entities are named by their stated attributes ("a small red cat"), relations become clauses in
graph order ("a bird eats a snake"), and each effect is said with its rule's ``phrase``
(``data/rules.json``), so a user rule brings its own English.
"""
from __future__ import annotations

from typing import Any

from .graph import CausalSceneGraph
from .knowledge import ENGLISH, entity_props, knowledge

_FATE_VERBS = ("floats", "sinks", "melts", "tilts")
_ATTR_ORDER = ("count", "size", "state", "color", "colour", "material")
_NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight",
                 9: "nine", 10: "ten", 12: "twelve"}


def noun_phrase(g: CausalSceneGraph, n: str, definite: bool) -> str:
    """'a small red cat' / 'the small red cat' / 'two cats' from an entity's attributes."""
    a = g.node(n)["attrs"]
    count = a.get("count")
    noun = str(a.get("compound") or a.get("noun", n))   # "a golf ball" (its noun: ball)
    plural = count not in (None, 1)
    words = [str(a[k]) for k in _ATTR_ORDER[1:] if k in a and str(a[k]) not in noun.split()]
    head = " ".join(words + [ENGLISH.plural_noun(noun) if plural else noun])
    props = entity_props(g, n)
    if definite or props.get("unique") or (props.get("mass_noun") and not plural):
        return f"the {head}"
    if isinstance(count, int) and count != 1:
        return f"{_NUMBER_WORDS.get(count, str(count))} {head}"
    if plural:
        return f"{count} {head}" if count in ("several", "many", "few") else head
    return ENGLISH.a(head)


def _plural(g: CausalSceneGraph, n: str) -> bool:
    return g.attr(n, "count") not in (None, 1)


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


def _relation_words(g: CausalSceneGraph, u: str, v: str, rel: str, said: set[str]) -> str:
    """The words after the subject: "eats a snake", "on a mirror"."""
    right = noun_phrase(g, v, v in said)
    said.add(v)
    if rel in knowledge().lexicon["verbs"]:
        return f"{rel if _plural(g, u) else _verb_s(rel)} {right}"
    return f"{rel} {right}"


def _lit_by(g: CausalSceneGraph, v: str, said: set[str]) -> list[str]:
    """"lit from the left" / "lit by a lamp" for each light edge into ``v``."""
    out = []
    for u, _, rel in g.graph.in_edges(v, data="relation"):
        if rel != "lights":
            continue
        side = g.attr(u, "side")
        if g.attr(u, "noun") == "light":
            out.append("lit from above" if side == "above" else
                       f"lit from the {side}" if side else "lit by a light")
        else:
            out.append(f"lit by {noun_phrase(g, u, u in said)}")
        said.add(u)
    return out


def _groups(g: CausalSceneGraph) -> list[tuple[list[str], list[tuple[str, str]]]]:
    """(subjects, their relations) per clause: entities with the same one relation to the
    same entity, one after the other, share a clause ("an elephant and a mouse on a seesaw")."""
    ents = g.nodes("entity")
    out: list[tuple[list[str], list[tuple[str, str]]]] = []
    for u in ents:
        outs = [(v, rel) for _, v, rel in g.graph.out_edges(u, data="relation")
                if v in ents and rel != "lights"]
        if out and len(outs) == 1 and out[-1][1] == outs and not _lit_by(g, u, set()):
            out[-1][0].append(u)
        else:
            out.append(([u], outs))
    return out


def _stated(g: CausalSceneGraph) -> str:
    """The entities and their relations (not the effects): one clause per subject, in graph
    order ("a person close to the water and in the sand"); amounts as "more X than Y"."""
    said: set[str] = set()
    covered: set[tuple[str, str, str]] = set()   # "more X than Y in Z" says Y is in Z too
    parts = []
    for subjects, outs in _groups(g):
        u = subjects[0]
        outs = [(v, rel) for v, rel in outs if (u, rel, v) not in covered]
        lit = _lit_by(g, u, said)
        if not outs and not lit:
            continue
        if outs and outs[0][1] in _AMOUNTS:
            v, rel = outs.pop(0)
            head = f"{rel.split()[0]} {_bare(g, u)} than {_bare(g, v)}"
            covered.update((v, r, t) for t, r in outs)
            said.update((u, v))
        else:
            head = " and ".join(noun_phrase(g, n, n in said) for n in subjects)
            said.update(subjects)
        text = head
        for i, (v, rel) in enumerate(outs):
            verb_before = i and outs[i - 1][1] in knowledge().lexicon["verbs"]
            text += (" " if i == 0 or verb_before else " and ") + \
                _relation_words(g, u, v, rel, said)
        parts.append(", ".join([text] + lit))
    alone = [noun_phrase(g, n, False) for n in g.nodes("entity") if n not in said]
    return ", ".join(parts + ([" and ".join(alone)] if alone else []))


_AMOUNTS = ("more than", "less than", "fewer than")


def _bare(g: CausalSceneGraph, n: str) -> str:
    """A noun phrase without its article ("empty space")."""
    words = noun_phrase(g, n, True).split()
    return " ".join(words[1:])


def _effect_words(g: CausalSceneGraph, e: str) -> str:
    """An effect in its rule's phrase ({subject}, {object} and its attributes filled in)."""
    attrs: dict[str, Any] = dict(g.node(e)["attrs"])
    rule = next((r for r in knowledge().rules if r["name"] == attrs.get("rule")), None)
    causes = [c for c in g.graph.predecessors(e) if g.node(c)["kind"] == "entity"]
    names = [noun_phrase(g, c, True) for c in causes]
    if rule is None:   # stated by the prompt, derived by no rule
        who = names[0] if names else "the scene"
        kind = str(attrs["type"])
        return f"{who} {kind}" if kind in _FATE_VERBS else f"{who} shows {ENGLISH.a(kind)}"
    phrase = rule.get("phrase", "{subject} shows " + str(attrs["type"]))
    if isinstance(phrase, dict):
        phrase = phrase.get(attrs["type"], next(iter(phrase.values())))
    k = 2 if rule.get("pair") else 1
    fill = {**{k_: str(v) for k_, v in attrs.items()},
            "subject": " and ".join(names[:k]) or "it", "object": (names[k:k + 1] or ["it"])[0]}
    for key in ("container", "toward"):
        if key in attrs:
            fill[key] = f"the {attrs[key]}"
    if attrs.get("heavier") in g.graph:   # "toward the stone cube", not just "the cube"
        fill["toward"] = noun_phrase(g, attrs["heavier"], True)
    if causes[:k] and (k == 2 or _plural(g, causes[0])):   # "the dogs cast a shadow"
        head, _, rest = phrase.partition("{subject} ")
        verb, _, tail = rest.partition(" ")
        if verb and "{" not in verb:
            phrase = f"{head}{{subject}} {ENGLISH.plural_verb(verb)} {tail}"
    try:
        return phrase.format(**fill)
    except (KeyError, IndexError, ValueError):
        return f"{fill['subject']} shows {ENGLISH.a(str(attrs['type']))}"


def open_prompt(g: CausalSceneGraph, explicit: bool) -> str:
    """The scene as stated (with the effects the prompt named), or every effect too."""
    text = _stated(g)
    effects = [e for e in g.nodes("effect") if explicit or g.node(e)["explicit"]]
    return ", and ".join([text] * bool(text) + [_effect_words(g, e) for e in effects])
