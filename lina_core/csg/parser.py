"""The open-world parser: any English prompt -> an open-world graph (entities, relations, effects).

A small hand-written parser over tokens, driven by the lexicon (``data/lexicon.json``): it tags
each word (determiner, number, adjective, noun, preposition, verb, comparative, effect word),
groups noun phrases into entities with the attributes the prompt states (colour, size,
material, state, count), and links them: prepositions (``next to``, ``in front of``), actions
from agent to patient (passives turned round: "a snake eaten by a bird" is the bird's act) and
comparatives ("more X than Y in Z").  The world rules then add the implicit effects.  Plurals
are singularised with ``inflect``; every word it could not place is reported, never guessed at.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .graph import CausalSceneGraph, GraphError, check_graph_size, check_prompt
from .knowledge import ENGLISH, Knowledge, entity_props, knowledge, singular_noun
from .world import add_world_effects

_TOKEN = re.compile(r"[a-z]+|\d+|[,;.]")
_BE = {"is", "are", "was", "were", "be", "being", "been"}
_ADJ_SECTIONS = (("colours", "color"), ("sizes", "size"), ("material_words", "material"),
                 ("states", "state"))
_TABLES: dict[str, Any] = {}


@dataclass
class Token:
    """One word (or multiword phrase) with its tag and what it means."""

    text: str
    tag: str
    value: Any = None
    alt: dict[str, Any] = field(default_factory=dict)   # adjective readings of a noun word


def _verb_forms(k: Knowledge) -> dict[str, tuple[str, str]]:
    """Every form of every lexicon verb -> (lemma, form): base, s, ing, ed, pp, past (an irregular simple past, read as active)."""
    forms: dict[str, tuple[str, str]] = {}
    for lemma, info in k.lexicon["verbs"].items():
        if " " in lemma:
            continue
        ed = _ed_form(lemma)
        past = [("past", info["past"])] if "past" in info else []   # "fell": active
        for form, word in past + [("pp", info.get("pp", ed)), ("ed", ed),
                           ("ing", ENGLISH.present_participle(lemma)),
                           ("s", _s_form(lemma)), ("base", lemma)]:
            forms[word] = (lemma, form)
    return forms


def _ed_form(lemma: str) -> str:
    """'place' -> 'placed', 'drop' -> 'dropped' (a short consonant-vowel-consonant verb
    doubles its last letter), 'carry' -> 'carried'."""
    if lemma.endswith("e"):
        return lemma + "d"
    if lemma.endswith("y") and lemma[-2:-1] not in tuple("aeiou"):
        return lemma[:-1] + "ied"
    if re.fullmatch(r"[^aeiou]*[aeiou][^aeiouwxy]", lemma):
        return lemma + lemma[-1] + "ed"
    return lemma + "ed"


def _s_form(lemma: str) -> str:
    if lemma.endswith(("s", "sh", "ch", "x", "z", "o")):
        return lemma + "es"
    if lemma.endswith("y") and lemma[-2:-1] not in tuple("aeiou"):
        return lemma[:-1] + "ies"
    return lemma + "s"


def _verb_lemma(word: str) -> str | None:
    """The lemma of an unknown word shaped like a verb form, or None: 'rowing', 'rowed',
    'rows' -> 'row'; 'running' -> 'run', 'baking' -> 'bake', 'carries' -> 'carry'."""
    if re.fullmatch(r"[a-z]{2,}(ing|ed)", word) and len(word) > 4:
        stem = word[:-3] if word.endswith("ing") else word[:-2]
        if word.endswith("ied"):
            return word[:-3] + "y"
        if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] in "bdgmnprt":
            return stem[:-1]                      # running, hugged
        if re.fullmatch(r"[^aeiou]*[aeiou][^aeiouwxy]", stem) or \
                re.search(r"([^c]c|v|u|[bcdfgkptz]l)$", stem):
            return stem + "e"                     # baking, chased, dancing, tickled
        return stem
    if re.fullmatch(r"[a-z]{2,}[^isu]s", word):
        if word.endswith("ies"):
            return word[:-3] + "y"
        return word[:-2] if re.search(r"(sh|ch|x|z|o)es$", word) else word[:-1]
    return None


def _singular(word: str, nouns: dict[str, Any]) -> str | None:
    """The lexicon noun a word is (as written, or singularised by inflect), or None."""
    if word in nouns:
        return word
    single = singular_noun(word)
    return single if isinstance(single, str) and single in nouns else None


def _phrases(k: Knowledge) -> dict[tuple[str, ...], tuple[str, Any]]:
    """Multiword entries (``in front of``, ``ice cube``, ``a pair of``) -> (tag, value); a
    multiword noun is also found in the plural."""
    lex = k.lexicon
    out: dict[tuple[str, ...], tuple[str, Any]] = {}
    for section, tag in (("prepositions", "PREP"), ("numbers", "NUM"), ("nouns", "NOUN")):
        for key, value in lex[section].items():
            if " " in key:   # a noun's lemma drops a leading article ("a pair of scales")
                first, _, rest = key.partition(" ")
                noun = rest if first in lex["determiners"] else key
                out[tuple(key.split())] = (tag, noun if tag == "NOUN" else value)
                if tag == "NOUN":   # "ice cubes", "street lamps": the plural names it too
                    *head, last = key.split()
                    out[(*head, ENGLISH.plural_noun(last))] = (tag, noun)
    for key, value in lex["effect_words"].items():
        if " " in key:
            out[tuple(key.split())] = ("EFFECT", value)
    for key in lex["containing"]:
        if " " in key:
            out[tuple(key.split())] = ("HAS", None)
    return out


def _tag_word(w: str, k: Knowledge, verbs: dict[str, tuple[str, str]]) -> Token:
    """The tag of one word, in the order that settles the lexicon's overlaps."""
    lex = k.lexicon
    if w in ",;.":
        return Token(w, "PUNCT")
    if w.isdigit():
        return Token(w, "NUM", int(w))
    for section, tag in (("determiners", "DET"), ("conjunctions", "CONJ"),
                         ("containing", "HAS")):
        if w in lex[section]:
            return Token(w, tag)
    simple = [(w in _BE, "BE", None), (w == "than", "THAN", None), (w == "by", "BY", None),
              (w == "of", "OF", None), (w in lex["numbers"], "NUM", lex["numbers"].get(w)),
              (w in lex["comparatives"], "CMP", lex["comparatives"].get(w)),
              (w in lex["effect_words"], "EFFECT", lex["effect_words"].get(w)),
              (w in lex["positions"], "POS", lex["positions"].get(w))]
    for hit, tag, value in simple:
        if hit:   # "sink" is an effect word and a noun ("a shelf above a sink"): kept aside
            noun = _singular(w, lex["nouns"]) if tag == "EFFECT" else None
            return Token(w, tag, value, alt={"noun": noun} if noun else {})
    adj = {attr: lex[section][w] if section != "states" else w
           for section, attr in _ADJ_SECTIONS if w in lex[section]}
    noun = _singular(w, lex["nouns"])
    if noun is not None:
        return Token(w, "NOUN", noun, alt=adj)
    if adj:
        return Token(w, "ADJ", adj)
    if w in verbs:
        return Token(w, "VERB", verbs[w])
    if w in lex["prepositions"]:
        return Token(w, "PREP", lex["prepositions"][w])
    return Token(w, "FILL" if w in lex["fillers"] else "UNKNOWN")


def tokens(text: str, k: Knowledge | None = None) -> list[Token]:
    """The prompt's tokens, multiword phrases first (longest match)."""
    k = k or knowledge()
    words = _TOKEN.findall(text.lower())
    if _TABLES.get("for") is not k:   # built once per knowledge (it changes only when extended)
        _TABLES.update({"for": k, "phrases": _phrases(k), "verbs": _verb_forms(k)})
    phrases, verbs = _TABLES["phrases"], _TABLES["verbs"]
    out: list[Token] = []
    i = 0
    while i < len(words):
        for n in (5, 4, 3, 2):
            key = tuple(words[i:i + n])
            if len(key) == n and key in phrases:
                tag, value = phrases[key]
                out.append(Token(" ".join(key), tag, value))
                i += n
                break
        else:
            out.append(_tag_word(words[i], k, verbs))
            i += 1
    return _settle(out, verbs)


def _settle(toks: list[Token], verbs: dict[str, tuple[str, str]]) -> list[Token]:
    """Settle what a word's neighbours decide: a noun word before a noun is its modifier
    ("a glass ball", "a stone duck"); a noun word right after a noun and before a noun
    phrase is a verb ("the girl leaves footprints"), one with an adjective reading before a
    noun, even an unknown one, is an adjective ("a light backpack"); an unknown word shaped like a verb
    before a noun phrase or a place may be one (marked, so the unknown word before it heads
    its noun phrase); "above" after "from" is a side; an effect word that is also a noun,
    after a determiner, a count or an adjective, is that noun ("a sink"); a verb's -ing form
    inside a noun phrase describes its noun ("a swimming pool", "a sleeping cat")."""
    for i, t in enumerate(toks):
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        prev = toks[i - 1] if i else None
        in_np = prev is not None and prev.tag in ("DET", "NUM", "ADJ")
        if t.tag == "EFFECT" and t.alt.get("noun") and in_np:
            toks[i] = t = Token(t.text, "NOUN", t.alt["noun"])
        if t.tag == "VERB" and t.value[1] == "ing" and in_np and nxt is not None and \
                nxt.tag in ("NOUN", "ADJ"):
            toks[i] = Token(t.text, "ADJ", {"state": t.text})
            continue
        if t.tag == "UNKNOWN" and nxt is not None and _verb_lemma(t.text) and \
                nxt.tag in ("DET", "NUM", "PREP", "BY"):   # "a fisherman rowing a boat"
            t.value = "verb"
        if t.tag == "NOUN" and t.text in verbs and prev is not None and prev.tag == "NOUN" \
                and nxt is not None and nxt.tag in ("DET", "NUM", "EFFECT", "NOUN", "ADJ"):
            toks[i] = Token(t.text, "VERB", verbs[t.text])
            continue
        if t.tag == "NOUN" and t.alt and nxt is not None and (nxt.tag in ("NOUN", "ADJ") or (
                nxt.tag == "UNKNOWN" and nxt.value != "verb")):   # "a marble statue"
            toks[i] = Token(t.text, "ADJ", t.alt)
        elif t.tag == "PREP" and t.value in ("above", "behind", "under") and i and \
                toks[i - 1].text == "from":   # "lit from above / behind / below"
            toks[i] = Token(t.text, "POS", {"under": "below"}.get(t.value, t.value))
        elif t.tag == "PREP" and t.text == "overhead":
            toks[i] = Token(t.text, "POS", "above")
    return toks


@dataclass
class OpenParse:
    """What the open-world parser read: the graph, the words it could not place, the words it
    understood (``word (what)``) and the effects the prompt itself named."""

    graph: CausalSceneGraph
    unknown_words: list[str]
    understood: list[str]
    stated: list[tuple[str, str | None]]


def _launching() -> set[str]:
    """Verbs that send their object moving ("throw", "push"): the object placed after them
    ("throws a pebble into a puddle") moves so itself, and splashes or falls by it."""
    return {v for v, info in knowledge().lexicon["verbs"].items() if info.get("launches")}


class _Builder:
    """Walks the tokens once, keeping the clause's subjects and what the last word asked for."""

    def __init__(self) -> None:
        self.g = CausalSceneGraph(category="open")
        self.np: dict[str, Any] = {}         # determiner, number, adjectives so far
        self.subjects: list[str] = []
        self.last: str | None = None
        self.pending: tuple[str, Any] | None = None
        self.made = False                     # the clause has a relation
        self.conj = self.be = False
        self.cmp_left: str | None = None
        self.lit: str | None = None           # subject lit by a light not yet named
        self.holder: str | None = None        # "the jar has / is full of ...": what holds
        self.fronted: tuple[str, str] | None = None   # (relation, place) said before a subject
        self.patient: str | None = None       # the object of the clause's action
        self.act: str | None = None           # that action (the verb's lemma)
        self.participle: str | None = None    # "a vase knocked off a shelf": a later "by"
        self.effect_of: int | None = None     # a stated effect waiting for its entity
        self.unknown: list[str] = []
        self.understood: list[str] = []
        self.stated: list[tuple[str, str | None]] = []
        self.entities: list[str] = []        # in order, and by noun: lookups stay O(1)
        self.by_noun: dict[str, list[str]] = {}

    # -- entities ---------------------------------------------------------------------
    def _entity(self, noun: str, plural: bool) -> str:
        """The node for a noun phrase: a definite one ("the cat") reuses the cat before."""
        attrs = {k: v for k, v in self.np.items() if k in ("color", "size", "material", "compound")}
        if self.np.get("state"):
            attrs["state"] = " ".join(self.np["state"])
        count = self.np.get("count")
        if count is None and plural:
            count = "several"
        if count is not None and count != 1:
            attrs["count"] = count
        det = self.np.get("det")
        self.np = {}   # "more red marbles than blue marbles": two kinds of marble
        if det not in ("a", "an", "another") and not isinstance(count, int):
            same = self._same(noun, attrs)
            if same is not None:
                for key, value in attrs.items():   # "the ducks" keeps the "three" said before
                    self.g.node(same)["attrs"].setdefault(key, value)
                return same
        return self._add_entity(self.g.free_id(noun.replace(" ", "_")), noun, **attrs)

    def _same(self, noun: str, attrs: dict[str, Any]) -> str | None:
        """The latest entity of ``noun`` whose attributes do not contradict ``attrs``."""
        return next((n for n in reversed(self.by_noun.get(noun, [])) if all(
            self.g.attr(n, a) in (None, v) for a, v in attrs.items() if a != "count")), None)

    def _add_entity(self, node_id: str, noun: str, **attrs: Any) -> str:
        """Add an entity node, indexed (so neither "the cat" nor "on it" rescans the graph),
        refusing a prompt whose graph would pass :data:`~lina_core.limits.MAX_GRAPH_NODES`."""
        check_graph_size(len(self.g.graph) + 1, self.g.graph.number_of_edges(),
                         "prompt's scene graph")
        self.g.add_node(node_id, "entity", noun=noun, **attrs)
        self.entities.append(node_id)
        self.by_noun.setdefault(noun, []).append(node_id)
        return node_id

    def _edge(self, u: str, v: str, rel: str) -> None:
        if u != v and not self.g.graph.has_edge(u, v):
            check_graph_size(len(self.g.graph), self.g.graph.number_of_edges() + 1,
                             "prompt's scene graph")
            self.g.add_edge(u, v, rel)

    def _attach(self, e: str) -> None:
        """A new entity: the object of what is pending, or a subject of the clause."""
        kind, value = self.pending or (None, None)
        self.pending = None
        subjects = self.subjects or ([self.last] if self.last else [])
        if kind == "by":   # "knocked off a shelf by a cat": an agent; "by the door": a place
            agent = knowledge().noun_props(self.g.attr(e, "noun")).get("agent")
            kind, value = ("agent", value) if agent else ("prep", "next to")
        if kind == "prep" and not subjects:   # "on the mirror sits a cat": a fronted place
            self.fronted, self.last = (value, e), e
            return
        if kind == "prep":
            for s in self._placed(subjects, e, value):
                self._edge(s, e, value)
                if s == self.patient and self.act in _launching():   # "throws a pebble into"
                    self.g.node(s)["attrs"].setdefault("action", self.act)
            self.made = True
        elif kind == "verb":
            for s in subjects:
                self._edge(s, e, value)
            self.made, self.patient, self.act = True, e, value
        elif kind == "with":
            self._with(subjects, e, value)
        elif kind == "agent":
            for s in subjects:
                self._edge(e, s, value)
            self.made = True
        elif kind == "of":
            holder = self.last
            self._edge(e, holder, "in") if holder else None
            return
        elif kind == "has":
            self._edge(e, self.holder, "in") if self.holder else None
            return
        elif kind == "lit":
            for s in value:
                self._edge(e, s, "lights")
            return
        elif kind == "cmp":
            self._edge(self.cmp_left, e, value)
            self.subjects, self.made = [self.cmp_left, e], True
            for n in self.subjects if self.holder else ():
                self._edge(n, self.holder, "in")
        elif kind == "cmp_pre":
            self.cmp_left, self.subjects = e, [e]
            self.pending = ("cmp_wait", value)
        elif self.conj and not self.made and self.subjects:
            self.subjects.append(e)
        else:
            self.subjects, self.made, self.patient = [e], False, None
            if self.fronted:
                self._edge(e, self.fronted[1], self.fronted[0])
                self.fronted, self.made = None, True
        self.last = e
        self.conj = False
        if self.effect_of is not None:   # "reflections of the trees": the trees' reflection
            self.stated[self.effect_of] = (self.stated[self.effect_of][0], e)
            self.effect_of = None

    def _placed(self, subjects: list[str], place: str, rel: str) -> list[str]:
        """Who a place phrase places: the clause's subjects, and the object of their action
        too ("a girl walking a dog on the beach": both); a liquid holds the object only ("a
        man rowing a boat on a lake": the boat is on the lake, not the man).  What hangs
        above something rests on nothing: "on the floor" then is the thing below's."""
        below = self.last
        if rel == "on" and below is not None and subjects and all(
                self.g.graph.get_edge_data(s, below, {}).get("relation") == "above"
                for s in subjects):
            return [below]   # "a lantern above a cube on the floor": the cube is on it
        if self.patient is None:
            return subjects
        if entity_props(self.g, place).get("liquid"):
            return [self.patient]
        return subjects + [self.patient]

    def _with(self, subjects: list[str], e: str, place: str | None) -> None:
        """"S with E": E is S's companion; on a balance, E sits on it too ("a girl on a
        seesaw with her father"); a liquid or a mass "with" a container is in it ("a
        bucket with water")."""
        if place is not None and entity_props(self.g, place).get("balance"):
            self._edge(e, place, "on")
        holder = self.last
        if holder is not None and entity_props(self.g, holder).get("container") and \
                (entity_props(self.g, e).get("liquid") or entity_props(self.g, e).get("mass_noun")):
            self._edge(e, holder, "in")
            return
        for s in subjects:
            self._edge(s, e, "with")
        self.made = True

    # -- the words ----------------------------------------------------------------------
    def feed(self, toks: list[Token]) -> None:
        """Read the tokens left to right (one handler per tag)."""
        for i, t in enumerate(toks):
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            getattr(self, f"_on_{t.tag.lower()}")(t, nxt)
            if t.tag not in ("UNKNOWN", "FILL", "PUNCT"):
                self.understood.append(f"{t.text} ({_WHAT[t.tag]})")
        self._close_lit(None)

    def _on_det(self, t: Token, nxt: Token | None) -> None:
        self.np["det"] = t.text

    def _on_num(self, t: Token, nxt: Token | None) -> None:
        self.np["count"] = t.value

    def _on_adj(self, t: Token, nxt: Token | None) -> None:
        """An attribute of the noun phrase it opens, or, said after a noun ("a candle
        burning", "the lake is calm"), of the entity just named."""
        opens = nxt is not None and nxt.tag in ("NOUN", "ADJ", "UNKNOWN", "NUM")
        if not self.np and not opens and self.last is not None:
            attrs = self.g.node(self.last)["attrs"]
            for attr, value in t.value.items():
                if attr == "state":
                    attrs["state"] = " ".join(filter(None, [attrs.get("state"), value]))
                else:
                    attrs.setdefault(attr, value)
            self.made = True   # "the lake is calm and a swan ...": a new clause follows
            return
        for attr, value in t.value.items():
            if attr == "state":
                self.np.setdefault("state", []).append(value)
            else:
                self.np.setdefault(attr, value)
        light = knowledge().lexicon["states"].get(t.text, {}).get("implies")
        if isinstance(light, str) and not self.g.graph.has_node(light):
            self._add_entity(light, light)

    def _on_noun(self, t: Token, nxt: Token | None) -> None:
        if nxt is not None and nxt.tag == "NOUN":   # "a beach ball": the last noun is the head
            self.np["modifier"] = t.value
            return
        plural = t.text.split()[-1] != t.value.split()[-1]   # "cats", "ice cubes"
        entry = knowledge().lexicon["nouns"].get(t.value)
        noun = entry.get("same_as", t.value) if isinstance(entry, dict) else t.value
        if noun != t.value and t.value.split()[-1] == noun:   # "a golf ball" is a ball,
            self.np["compound"] = t.value                         # with a golf ball's properties
        held = self.np.get("modifier")
        self._attach(self._entity(noun, plural))
        self._held_by_name(held)

    def _held_by_name(self, held: str | None) -> None:
        """A container named for what melts or is eaten ("a butter dish", "a chocolate box")
        holds it: that is an entity too, in the container and placed where it is."""
        k, head = knowledge(), self.last
        if held is None or head is None or not k.noun_props(self.g.attr(head, "noun")).get(
                "container"):
            return
        props = k.noun_props(held)
        if props.get("melts") or props.get("class") == "food":
            inner = self._add_entity(self.g.free_id(held.replace(" ", "_")), held)
            self._edge(inner, head, "in")
            if self.subjects and self.subjects[-1] == head:
                self.subjects.append(inner)

    def _on_unknown(self, t: Token, nxt: Token | None) -> None:
        """An unknown word is reported; where a noun must be (after a determiner, an
        adjective or "more"/"fewer", with no noun next), it still becomes an entity."""
        self.unknown.append(t.text)
        if self._unknown_verb(t, nxt):
            return
        heads = nxt is None or nxt.tag not in ("NOUN", "ADJ", "UNKNOWN") or nxt.value == "verb"
        if (self.np or (self.pending or ("",))[0] in ("cmp_pre", "of")) and heads:   # "more cherries"
            single = singular_noun(t.text)
            noun = single if isinstance(single, str) and len(single) > 2 else t.text
            self._attach(self._entity(noun, noun != t.text))

    def _unknown_verb(self, t: Token, nxt: Token | None) -> bool:
        """An unknown word shaped like a verb ("rowing", "is rowing", "rows", "rowed") right
        after a noun phrase and before the next is an action from the first to the second
        ("is rowed by" is a passive: turned round); before a place it is what the subject
        does ("a coin tossed into a pond"); whether it was read so."""
        lemma = _verb_lemma(t.text)
        if lemma is None or self.np or self.last is None or nxt is None or self.pending \
                or self.fronted:   # "in the pond paddles a duck": the duck is the subject
            return False
        if t.text.endswith("ed") and nxt.tag == "BY":   # "is rescued by", "rescued by"
            self.pending = ("passive", lemma)
        elif nxt.tag in ("DET", "NUM", "ADJ", "NOUN"):
            self.pending = ("verb", lemma)
        elif nxt.tag in ("PREP", "POS"):   # "a coin tossed into a pond": what the coin does
            for s in self.subjects or [self.last]:
                self.g.node(s)["attrs"]["action"] = lemma
            self.participle = lemma if t.text.endswith("ed") else None
        else:
            return False
        self.be = False
        return True

    def _on_prep(self, t: Token, nxt: Token | None) -> None:
        if self.pending and self.pending[0] == "lit" and t.text == "from":
            return
        if t.value == "with" and nxt is not None and nxt.tag == "CMP" and self.last:
            self.holder = self.last   # "a jar with less honey than empty space": it holds
            return
        if t.value == "with" and self.last is not None:
            place = self.last if any(self.g.graph.has_edge(s, self.last)
                                     for s in self.subjects) else None
            self.pending = ("with", place)
            return
        self.pending = ("prep", t.value)

    def _on_by(self, t: Token, nxt: Token | None) -> None:
        if self.pending and self.pending[0] in ("passive", "lit"):
            kind, value = self.pending
            self.pending = ("agent", value) if kind == "passive" else ("lit", value)
        elif self.participle and not self.pending:   # "knocked off a shelf by ..."
            self.pending, self.participle = ("by", self.participle), None
        else:
            self.pending = ("prep", "next to")

    def _on_of(self, t: Token, nxt: Token | None) -> None:
        if self.pending is None and self.last is not None and self.effect_of is None:
            self.pending = ("of", None)

    def _on_verb(self, t: Token, nxt: Token | None) -> None:
        lemma, form = t.value
        info = knowledge().lexicon["verbs"].get(lemma, {})
        subjects = self.subjects or ([self.last] if self.last else [])
        if info.get("lights"):
            self.pending = ("lit", subjects)
            self.lit = subjects[0] if subjects else None
            return
        # a verb that can stand alone still acts on a noun phrase said right after it ("a
        # woman walking a dog", not "on a mirror sits a cat"); "is placed by" stays a place
        direct = nxt is not None and nxt.tag in ("DET", "NUM") and self.fronted is None
        if nxt is not None and nxt.tag == "CMP" and lemma == "hold":
            return self._on_has(t, nxt)   # "a bowl holding fewer cherries than grapes"
        reduced = nxt is not None and nxt.tag == "BY" and bool(subjects)   # "a child pushed by"
        if (self.be or reduced) and form in ("pp", "ed") and not info.get("intransitive"):
            self.pending = ("passive", lemma)
        elif (info.get("intransitive") and not direct) or \
                (nxt is not None and nxt.tag in ("PREP", "POS")):
            for s in subjects:
                self.g.node(s)["attrs"]["action"] = lemma
            passive = form in ("pp", "ed") and (info.get("launches") or
                                                not info.get("intransitive"))   # "dropped"
            self.participle = lemma if passive and nxt is not None else None
        else:
            self.pending = ("verb", lemma)
        self.be = False

    def _on_has(self, t: Token, nxt: Token | None) -> None:
        """"the jar has / holds / is full of X": X is in the jar ("more X than Y" too)."""
        self.holder = self.last   # "a tank full of water", "the jar has ..."
        if nxt is None or nxt.tag != "CMP":
            self.pending = ("has", None)

    def _on_be(self, t: Token, nxt: Token | None) -> None:
        self.be = True

    def _on_cmp(self, t: Token, nxt: Token | None) -> None:
        if t.value in ("more than", "less than", "fewer than") and \
                nxt is not None and nxt.tag != "THAN":
            self.pending = ("cmp_pre", t.value)
        elif self.subjects:
            self.cmp_left = self.subjects[0]
            self.pending = ("cmp_wait", t.value)

    def _on_than(self, t: Token, nxt: Token | None) -> None:
        if self.pending and self.pending[0] == "cmp_wait" and self.cmp_left:
            self.pending = ("cmp", self.pending[1])

    def _on_effect(self, t: Token, nxt: Token | None) -> None:
        """A stated effect belongs to the entity just named, or, said before any or followed
        by "of" ("reflections of the trees"), to the next one."""
        self.stated.append((t.value, self.last))
        if t.text.endswith(" full of") and self.last is not None:   # "half full of water"
            self.holder, self.pending = self.last, ("has", None)
        if self.last is None or (nxt is not None and nxt.tag == "OF"):
            self.effect_of = len(self.stated) - 1

    def _on_pos(self, t: Token, nxt: Token | None) -> None:
        """"lit from the left" names a light on that side; "a lamp on the left" a side."""
        if self.pending and self.pending[0] == "lit":
            light = self._entity("light", False)
            self.g.node(light)["attrs"]["side"] = t.value
            for s in self.pending[1]:
                self._edge(light, s, "lights")
            self.pending, self.lit = None, None
        elif self.last is not None and t.value in ("left", "right", "above", "behind"):
            # the entity just named: "a lamp on the left", "a box with a lamp to its right"
            self.g.node(self.last)["attrs"]["side"] = t.value
            self.pending = None

    def _on_conj(self, t: Token, nxt: Token | None) -> None:
        self.conj = True

    def _on_punct(self, t: Token, nxt: Token | None) -> None:
        self._close_lit(t)
        self.pending, self.conj, self.participle = None, True, None

    def _on_fill(self, t: Token, nxt: Token | None) -> None:
        """Fillers say nothing, but "on it" / "in them" point back at the entity before the
        clause's subject (the graph stays pronoun-free)."""
        if t.text in ("it", "them") and self.pending and self.pending[0] == "prep":
            before = next((n for n in reversed(self.entities) if n not in self.subjects), None)
            if before is not None:
                self._attach(before)

    def _close_lit(self, t: Token | None) -> None:
        """'lit' with no light named ("a brightly lit cat"): a light, side unknown."""
        if self.pending and self.pending[0] == "lit":
            light = self._entity("light", False)
            for s in self.pending[1]:
                self._edge(light, s, "lights")
            self.pending = None


_WHAT = {"DET": "determiner", "NUM": "count", "ADJ": "attribute", "NOUN": "entity",
         "PREP": "relation", "BY": "relation", "OF": "relation", "VERB": "action",
         "BE": "verb", "CMP": "comparative", "THAN": "comparative", "EFFECT": "effect",
         "POS": "side", "CONJ": "and", "HAS": "contains", "UNKNOWN": "?", "FILL": "", "PUNCT": ""}


def _mark_stated(g: CausalSceneGraph, stated: list[tuple[str, str | None]]) -> None:
    """Effects the prompt names are explicit; one the rules did not derive is added as stated
    (caused by the entity it was said of), unless physics chose the other fate."""
    other = {"floats": "sinks", "sinks": "floats"}
    by_type: dict[str, list[str]] = {}   # indexed once: a long prompt states many effects
    for e in g.effects():
        by_type.setdefault(g.attr(e, "type"), []).append(e)
    for kind, who in stated:
        found = by_type.get(kind, [])
        for e in _caused(g, who, kind) or found[:1]:
            g.node(e)["explicit"] = True
        fate_taken = kind in other and bool(_caused(g, who, other[kind]))
        if not found and who is not None and not fate_taken:
            e = g.add_node(f"{kind}_{who}", "effect", explicit=True, type=kind)
            g.add_edge(who, e, "shows")
            by_type[kind] = [e]


def _caused(g: CausalSceneGraph, who: str | None, kind: str) -> list[str]:
    """The effects of type ``kind`` that ``who`` causes (none for no one)."""
    if who is None:
        return []
    return [e for e in g.graph.successors(who)
            if g.node(e)["kind"] == "effect" and g.attr(e, "type") == kind]


def _few(items: list[str], limit: int = 60) -> str:
    """``items`` joined, cut to about ``limit`` characters: a refusal quotes a little of the
    prompt, never all of it."""
    text = ", ".join(items)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(items)} in all)"


def open_prompt_graph(text: str) -> OpenParse:
    """Parse any English prompt into a validated open-world graph with its implicit effects.

    Raises :class:`GraphError` when no entity can be found (the message says which words it
    understood and which it did not), and, before reading a word, for a prompt over
    :data:`~lina_core.limits.MAX_PROMPT_CHARS` characters."""
    toks = tokens(check_prompt(text))
    b = _Builder()
    b.feed(toks)
    if not b.g.nodes("entity"):
        understood = _few(b.understood) or "nothing"
        unknown = _few(b.unknown) or "none"
        raise GraphError(f"prompt: no scene recognised: no entity (a noun such as 'cat', "
                         f"'mirror' or 'lake'); understood: {understood}; unknown words: "
                         f"{unknown}")
    add_world_effects(b.g)
    _mark_stated(b.g, b.stated)
    add_world_effects(b.g)   # what a stated effect implies ("a lemon floating": refraction)
    check_graph_size(len(b.g.graph), b.g.graph.number_of_edges(), "prompt's scene graph")
    return OpenParse(b.g.validate(), b.unknown, b.understood, b.stated)
