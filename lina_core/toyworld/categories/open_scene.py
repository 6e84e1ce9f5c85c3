"""How a category recognises its scene in an open-world graph (``Category.recognise``).

The open-world parser (:mod:`lina_core.csg.parser`) reads phrasings the categories' sentence
templates do not ("a yellow ball in the water"); a category's ``recognise`` reads that graph
-- its entities, their attributes, the relations between them and the effects the prompt
stated -- never the sentence, and builds the category's own graph from it.  It must not drop
what the open graph states, so :class:`OpenScene` keeps track of what a recogniser has
claimed and :meth:`OpenScene.complete` refuses a graph with anything left over: an extra
entity, an attribute ToyWorld cannot draw or the category would drop, a relation the scene
does not have, a stated effect the scene lacks.  The open world's *implicit* effects are its
own inferences and are not carried over: the category's causal rules derive the scene's.

A building block of the category modules (like :mod:`.caused`); it imports only ``csg``'s
building blocks, no category and no grammar, so no import circle.
"""
from __future__ import annotations

from typing import Any

from ...csg.graph import CausalSceneGraph
from ...csg.knowledge import knowledge
from ...csg.vocabulary import COLOURS, MATERIALS, SHAPES, SIZES
from ...csg.words import SYNONYMS

#: verbs that say no more than where the relation puts the object ("a cube sitting on a
#: mirror", "resting on"): the templates consume them as function words too
RESTING = frozenset({"sit", "rest", "stand", "lie", "place", "lay", "perch"})
#: the open world's effect types by ToyWorld's name for them (no entry: ToyWorld has none)
EFFECTS = {"reflection": "reflection", "shadow": "shadow", "floats": "floating",
           "sinks": "sinking", "refraction": "refraction", "tilt": "tilt"}
#: the open nouns of the floor a scene stands on (ToyWorld's floor, drawn in every scene)
GROUND = frozenset({"floor", "ground"})


def canonical(word: Any) -> str:
    """ToyWorld's word for an open noun or attribute value ("sphere" -> "ball", "steel" ->
    "metal"): the templates' synonyms, so both paths name things alike."""
    return SYNONYMS.get(str(word), str(word))


class OpenScene:
    """An open-world graph as a recogniser reads it: its entities (in the order the prompt
    named them), the relations between them, the effects the prompt stated, and what has been
    claimed so far."""

    def __init__(self, og: CausalSceneGraph) -> None:
        self.og = og
        self.entities = og.nodes("entity")
        ent = set(self.entities)
        self.relations = {(u, r, v) for u, v, r in og.graph.edges(data="relation")
                          if u in ent and v in ent}
        #: the open types of the effects the prompt itself named
        self.stated = [str(og.attr(e, "type")) for e in og.effects() if og.node(e)["explicit"]]
        self.claimed: set[str] = set()
        self.used: set[tuple[str, str, str]] = set()

    # -- finding entities ------------------------------------------------------------------
    def noun(self, n: str) -> str:
        return canonical(self.og.attr(n, "noun"))

    def attrs(self, n: str) -> dict[str, Any]:
        """What the prompt said of entity ``n`` beyond its noun."""
        return {k: v for k, v in self.og.node(n)["attrs"].items() if k != "noun"}

    def named(self, *nouns: str) -> list[str]:
        """The entities whose (canonical) noun is one of ``nouns``, in order of mention."""
        return [n for n in self.entities if self.noun(n) in nouns]

    def compound(self, n: str) -> tuple[str | None, str]:
        """(material, shape) of a noun that names both ("ice cube": the lexicon's noun, and
        the templates' ice cube), else (None, the noun)."""
        words = str(self.og.attr(n, "noun")).split()
        if len(words) == 2 and canonical(words[0]) in MATERIALS and canonical(words[1]) in SHAPES:
            return canonical(words[0]), canonical(words[1])
        return None, self.noun(n)

    def shaped(self) -> list[str]:
        """The entities that are ToyWorld objects (a ball, a cube, a cone, an ice cube), in
        order."""
        return [n for n in self.entities if self.compound(n)[1] in SHAPES]

    def lights(self) -> list[str]:
        """The entities the lexicon knows as a light ("lamp", "torch", "light"); the sun and
        fires are not ToyWorld's lamp."""
        nouns = knowledge().lexicon["nouns"]
        return [n for n in self.entities if nouns.get(self.og.attr(n, "noun")) == "light"]

    # -- claiming what is read -------------------------------------------------------------
    def object(self, n: str, by_material: bool, actions: frozenset[str] = RESTING
               ) -> dict[str, str] | None:
        """Entity ``n`` as a ToyWorld object, its attributes as stated and in the order said
        (as a template's reader keeps them; an ice cube's material last), claimed; None where it carries what ToyWorld
        cannot draw (an orange or a glass one, a count, a state, an action) or what the
        category would drop (a colour where objects are told by material, or the reverse)."""
        out: dict[str, str] = {}
        for key, value in self.attrs(n).items():
            if key == "action" and value in actions:
                continue
            if key == "size" and value in SIZES:
                out["size"] = value
            elif key == "color" and value in COLOURS and not by_material:
                out["colour"] = value
            elif key == "material" and canonical(value) in MATERIALS and by_material:
                out["material"] = canonical(value)
            else:
                return None
        material, shape = self.compound(n)
        if material is not None:      # said just before the shape, as a template reads it
            if not by_material or "material" in out:
                return None
            out["material"] = material
        out["shape"] = shape
        self.claimed.add(n)
        return out

    def plain(self, n: str, allowed: tuple[str, ...] = ()) -> bool:
        """Whether entity ``n`` carries nothing but its noun and the ``allowed`` attributes
        (claimed if so): a scene's water, sand or balance has no colour ToyWorld could keep."""
        if set(self.attrs(n)) - set(allowed):
            return False
        self.claimed.add(n)
        return True

    def floor(self, standing: list[str]) -> bool:
        """Whether the floor, where named, is one plain floor with only ``standing`` on it
        (those relations read): ToyWorld draws a floor in every scene, so naming it adds
        nothing, but a second one or a coloured one would be lost."""
        floors = [n for n in self.entities if self.noun(n) in GROUND]
        if not floors:
            return True
        if len(floors) > 1 or not self.plain(floors[0]):
            return False
        for o in standing:
            self.has(o, "on", floors[0])
        return True

    def has(self, u: str | None, relation: str, v: str | None) -> bool:
        """Whether the open graph relates ``u`` to ``v`` so (the relation then read)."""
        edge = (str(u), relation, str(v))
        if edge in self.relations:
            self.used.add(edge)
            return True
        return False

    def toy_stated(self) -> set[str]:
        """The stated effects by ToyWorld's names (for ``mark_stated``)."""
        return {EFFECTS[t] for t in self.stated if t in EFFECTS}

    def complete(self, g: CausalSceneGraph) -> bool:
        """Whether ``g`` keeps everything the open graph states: every entity claimed, every
        relation between entities read, every stated effect one ``g`` has."""
        if self.claimed != set(self.entities) or self.used != self.relations:
            return False
        return all(t in EFFECTS and g.effects(EFFECTS[t]) for t in self.stated)
