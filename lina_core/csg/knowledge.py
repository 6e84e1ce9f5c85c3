"""World knowledge as data: the lexicon and the world rules, read from JSON files.

The package ships ``data/lexicon.json`` (words, and the properties of common objects and
materials the rules need: a rubber duck floats, an iron anchor sinks, a still pond reflects) and
``data/rules.json`` (cause -> effect rules for open-world graphs).  Users extend both without
touching code: :func:`add_knowledge` takes a file or a dict of the same shape, and the
environment variable ``LINA_CSG_KNOWLEDGE`` lists files (separated by ``os.pathsep``) read at
first use.  A lexicon section is merged entry by entry; a rule replaces the one of its name.
"""
from __future__ import annotations

import functools
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from .graph import CausalSceneGraph, GraphError


def _unchecked(target: Any = None, **_: Any) -> Any:
    """``typeguard.typechecked`` that leaves the function as it is."""
    return (lambda f: f) if target is None else target


def _import_inflect() -> ModuleType:
    """inflect, without typeguard's run-time checks on its methods.

    inflect 7 decorates 23 methods with ``typeguard.typechecked``, which re-parses inflect's
    whole source once per method while the module is imported: 2.8 of a 3.0 s import on this
    2-core machine, paid by every process that reads a prompt (the app, each command, each test
    worker), and a check of every argument's type on every call.  The decorator is swapped
    for one that does nothing, for the time of the import only; where inflect is already
    imported (checked), it is taken as it is."""
    if "inflect" in sys.modules:
        return sys.modules["inflect"]
    import typeguard
    checked = typeguard.typechecked
    typeguard.typechecked = _unchecked
    try:
        import inflect
    finally:
        typeguard.typechecked = checked
    return inflect


inflect = _import_inflect()

#: the one English inflection engine (plurals, singulars, a/an, verb forms) of the open world
ENGLISH = inflect.engine()


@functools.lru_cache(maxsize=8192)
def singular_noun(word: str) -> str | bool:
    """inflect's singular of ``word`` (False when it is not a plural), remembered: the same
    few words come back in every caption, and inflect's rules are slow to walk."""
    return ENGLISH.singular_noun(word)


DATA_DIR = Path(__file__).with_name("data")
ENV_VAR = "LINA_CSG_KNOWLEDGE"
#: the lexicon's sections that map a word to something (merged key by key)
_SECTIONS = ("numbers", "colours", "sizes", "material_words", "materials", "states", "classes",
             "nouns", "prepositions", "positions", "comparatives", "verbs", "effect_words")
_LISTS = ("determiners", "fillers", "conjunctions", "containing", "symmetric")


@dataclass
class Knowledge:
    """The merged lexicon (section -> entries) and the rules (in order)."""

    lexicon: dict[str, Any]
    rules: list[dict[str, Any]]

    def noun_props(self, noun: str) -> dict[str, Any]:
        """A noun's properties: every noun's defaults (``classes["*"]``), its class's, then its
        own entry's.  A noun the lexicon lacks is of class ``"?"`` (a hand-sized thing: a
        mass, so a balance still tips, but no density, since whether it floats is unknown)."""
        classes = self.lexicon["classes"]
        entry = self.lexicon["nouns"].get(noun, {"class": "?"})
        entry = {"class": entry} if isinstance(entry, str) else dict(entry)
        props = dict(classes.get("*", {}))
        props.update(classes.get(entry.get("class"), {}))
        props.update(entry)
        return props


_extra: list[dict[str, Any]] = []
_cache: Knowledge | None = None


def _read(source: str | Path | dict[str, Any]) -> dict[str, Any]:
    """A knowledge file's content, checked for shape (a message that names the file)."""
    if isinstance(source, dict):
        data, name = source, "knowledge dict"
    else:
        name = str(source)
        try:
            data = json.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise GraphError(f"knowledge file {name}: cannot be read as JSON ({exc})") from None
    if not isinstance(data, dict) or not set(data) <= {"lexicon", "rules", "_doc"}:
        raise GraphError(f"{name}: must be an object with keys 'lexicon' and/or 'rules'")
    lex = data.get("lexicon", {})
    if not isinstance(lex, dict) or not set(lex) <= set(_SECTIONS + _LISTS):
        raise GraphError(f"{name}: lexicon sections must be among {list(_SECTIONS + _LISTS)}")
    rules = data.get("rules", [])
    if not isinstance(rules, list) or not all(
            isinstance(r, dict) and isinstance(r.get("name"), str) for r in rules):
        raise GraphError(f"{name}: rules must be a list of objects, each with a 'name'")
    for r in rules:
        _check_rule(name, r)
    return data


def _check_rule(name: str, r: dict[str, Any]) -> None:
    """A rule names its effect(s), relation and link (the rest has defaults)."""
    if not (isinstance(r.get("effect"), str) or isinstance(r.get("effects"), list)):
        raise GraphError(f"{name}: rule {r['name']!r} needs 'effect' (or 'effects')")
    if not isinstance(r.get("relation"), str):
        raise GraphError(f"{name}: rule {r['name']!r} needs a causal 'relation'")
    link = r.get("link")
    if link != "scene" and not (isinstance(link, list) and all(isinstance(x, str) for x in link)):
        raise GraphError(f"{name}: rule {r['name']!r}: link must be 'scene' or a list of "
                         f"relations")


def _merge(base: Knowledge, data: dict[str, Any]) -> None:
    """Merge one file's sections into ``base`` (entries by key, rules by name)."""
    for section, entries in data.get("lexicon", {}).items():
        if section in _LISTS:
            base.lexicon[section] = list(dict.fromkeys(base.lexicon[section] + list(entries)))
        else:
            base.lexicon[section].update(entries)
    for rule in data.get("rules", []):
        names = [r["name"] for r in base.rules]
        if rule["name"] in names:
            base.rules[names.index(rule["name"])] = rule
        else:
            base.rules.append(rule)


def knowledge() -> Knowledge:
    """The shipped knowledge merged with the user's (cached until it changes)."""
    global _cache
    if _cache is None:
        k = Knowledge({s: {} for s in _SECTIONS} | {s: [] for s in _LISTS}, [])
        sources: list[Any] = [DATA_DIR / "lexicon.json", DATA_DIR / "rules.json"]
        sources += [p for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p.strip()]
        for src in sources + _extra:
            _merge(k, _read(src))
        _cache = k
    return _cache


def add_knowledge(source: str | Path | dict[str, Any]) -> Knowledge:
    """Add a lexicon/rules file (or dict) on top of what is loaded; takes effect at once."""
    global _cache
    _read(source)   # fail here, not at the next parse
    _extra.append(source if isinstance(source, dict) else str(source))
    _cache = None
    return knowledge()


def reset_knowledge() -> Knowledge:
    """Forget what :func:`add_knowledge` added (the environment's files stay)."""
    global _cache
    _extra.clear()
    _cache = None
    return knowledge()


def entity_props(g: CausalSceneGraph, n: str) -> dict[str, Any]:
    """What the rules know of entity ``n``: its noun's (or its compound's: a golf ball is a ball
    that sinks) properties, then its material's, its
    states', and its stated attributes (a wooden anchor floats, a still river reflects)."""
    k = knowledge()
    attrs = g.node(n)["attrs"]
    props = k.noun_props(str(attrs.get("compound") or attrs.get("noun")))   # "golf ball": a ball
    material = attrs.get("material")
    if material is not None:
        props.update(k.lexicon["materials"].get(material, {}))
    for state in str(attrs.get("state", "")).split():
        props.update({a: v for a, v in k.lexicon["states"].get(state, {}).items()
                      if a != "implies"})
    props.update(attrs)
    return props
