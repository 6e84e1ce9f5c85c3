"""The world rules applied to an open-world graph: stated entities and relations -> effects.

The rules are data (``data/rules.json``, extended by :func:`.knowledge.add_knowledge`); this
module only matches them and holds the few named decisions a rule can ask for (``decide``):
float or sink by density, tilt toward the heavier, a shadow away from its light, a fill level.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator

from .graph import CausalSceneGraph
from .knowledge import entity_props, knowledge

Rule = dict[str, Any]
#: (effect type, its attributes, extra cause node ids) or None: the rule does not apply
Decision = tuple[str, dict[str, Any], list[str]] | None
#: a shadow falls away from the light (as in ToyWorld), and where it falls for a relation
_AWAY = {"left": "right", "right": "left", "above": "below", "below": "above", "behind": "front",
         "front": "behind"}
_LIGHT_EDGE = {"left of": "left", "right of": "right", "above": "above", "behind": "behind",
               "in front of": "front"}
_SUBJECT_EDGE = {"left of": "right", "right of": "left", "under": "above", "in front of": "behind",
                 "behind": "front"}
_DIRECTION = {"right": "to the right", "left": "to the left", "below": "beneath it",
              "above": "above it", "front": "in front of it", "behind": "behind it"}
_SIZE_FACTOR = {"large": 2.0, "small": 0.5}


def effects_of(rule: Rule) -> list[str]:
    """The effect types a rule can add."""
    return list(rule.get("effects") or [rule["effect"]])


def _ok(props: dict[str, Any], tests: dict[str, Any]) -> bool:
    """Property tests: true / false (a missing property is false), a list of values, a value."""
    for key, want in tests.items():
        have = props.get(key)
        if want is True or want is False:
            if bool(have is True) != want:
                return False
        elif isinstance(want, list):
            if have not in want:
                return False
        elif have != want:
            return False
    return True


class _Scene:
    """What the rules read of a graph and adding effects cannot change, read once per
    :func:`add_world_effects`: its entities, their properties, and the relations between
    entities (an effect is a node of its own, joined only to its causes).  Before it, every
    rule of every round read them again: two fifths of a prompt's parse."""

    def __init__(self, g: CausalSceneGraph) -> None:
        self.g = g
        self.entities = g.nodes("entity")
        ents = set(self.entities)
        self._props: dict[str, dict[str, Any]] = {}
        self._liquid: dict[str, str | None] = {}
        symmetric = knowledge().lexicon["symmetric"]
        edges = [(s, o, rel) for s, o, rel in g.graph.edges(data="relation")
                 if s in ents and o in ents]
        #: (subject, object, relation) in graph order; "X next to Y" both ways
        self.edges = edges + [(o, s, rel) for s, o, rel in edges if rel in symmetric]

    def props(self, n: str) -> dict[str, Any]:
        """An entity's properties (:func:`~.knowledge.entity_props`), read once."""
        if n not in self._props:
            self._props[n] = entity_props(self.g, n)
        return self._props[n]

    def liquid_inside(self, container: str) -> str | None:
        """The liquid held by ``container`` ('a jar of water': water -in-> jar), read once."""
        if container not in self._liquid:
            g = self.g
            self._liquid[container] = next(
                (u for u, _, rel in g.graph.in_edges(container, data="relation")
                 if rel == "in" and g.node(u)["kind"] == "entity"
                 and self.props(u).get("liquid")), None)
        return self._liquid[container]


def _linked_pairs(scene: _Scene, rule: Rule) -> Iterator[tuple[str, str]]:
    """(subject, object) entity pairs joined by an edge of the rule's link, in graph order:
    one per edge, so linear in the graph."""
    for s, o, rel in scene.edges:
        if rel not in rule["link"]:
            continue
        if rule.get("through_container") and not scene.props(o).get("liquid"):
            o = scene.liquid_inside(o) or o
        if s != o:
            yield s, o


def _scene_pairs(scene: _Scene, rule: Rule) -> Iterator[tuple[str, str]]:
    """(subject, object) pairs of a scene-wide rule (a shadow: any caster, any light), in graph
    order, among the entities that pass the rule's tests.  A subject that already has the
    rule's effect is passed over (its other pairs could add nothing), so pairing is linear,
    not every entity with every other: 180 balls and a lamp are 180 pairs, 90 balls and 90
    lamps still 90 once the first lamp cast each ball's shadow."""
    subjects = [s for s in scene.entities if _ok(scene.props(s), rule.get("subject", {}))]
    objects = [o for o in scene.entities if _ok(scene.props(o), rule.get("object", {}))]
    types = effects_of(rule)
    for s in subjects:
        for o in objects:
            if not rule.get("pair") and _has_effect(scene.g, s, types):
                break
            if s != o:
                yield s, o


def _matches(scene: _Scene, rule: Rule) -> Iterator[tuple[list[str], str]]:
    """(subjects, object) the rule fires on: one subject each, or two for a ``pair`` rule.
    Lazy, so an effect added for one match is seen by the next (see :func:`_scene_pairs`)."""
    props = scene.props
    pairs = _scene_pairs(scene, rule) if rule["link"] == "scene" else _linked_pairs(scene, rule)
    found = (([s], o) for s, o in pairs if _ok(props(s), rule.get("subject", {}))
             and _ok(props(o), rule.get("object", {})))
    if not rule.get("pair"):
        return found
    by_object: dict[str, list[str]] = {}
    for (s,), o in found:
        by_object.setdefault(o, []).append(s)
    return iter([(subjects[:2], o) for o, subjects in by_object.items() if len(subjects) >= 2])


def _has_effect(g: CausalSceneGraph, node: str, types: list[str]) -> str | None:
    """An effect of one of ``types`` that ``node`` already causes."""
    for _, e in g.graph.out_edges(node):
        if g.node(e)["kind"] == "effect" and g.attr(e, "type") in types:
            return e
    return None


def _apply(g: CausalSceneGraph, rule: Rule, subjects: list[str], obj: str) -> bool:
    """Add the rule's effect for one match unless it is there already; whether it added."""
    types = effects_of(rule)
    owner = obj if rule.get("pair") else subjects[0]
    if _has_effect(g, owner, types):
        return False
    causes = list(subjects) + [obj]
    if rule.get("after"):
        before = _has_effect(g, subjects[0], [rule["after"]])
        if before is None:
            return False
        causes.append(before)
    decide = DECISIONS.get(rule.get("decide") or "")
    decision = decide(g, subjects, obj) if decide else (types[0], {}, [])
    if decision is None:
        return False
    kind, attrs, extra = decision
    e = g.free_id(f"{kind}_{owner}")
    g.add_node(e, "effect", explicit=False, type=kind, rule=rule["name"], **attrs)
    for c in dict.fromkeys(causes + extra):
        g.add_edge(c, e, rule["relation"])
    return True


def add_world_effects(g: CausalSceneGraph, rules: list[Rule] | None = None
                      ) -> CausalSceneGraph:
    """Add every effect the world rules imply, as implicit nodes (idempotent).

    Rounds repeat until nothing is added, so a rule that needs an earlier effect (``after``:
    a reflection of what floats) fires whatever the order of the table."""
    rules = knowledge().rules if rules is None else rules
    scene = _Scene(g)
    for _ in range(1 + len(rules)):
        added = False
        for rule in rules:
            for subjects, obj in _matches(scene, rule):
                added |= _apply(g, rule, subjects, obj)
        if not added:
            break
    return g


# --------------------------------------------------------------------------- decisions


def _density(g: CausalSceneGraph, subjects: list[str], obj: str) -> Decision:
    """Less dense than the liquid: floats; denser: sinks; unknown density: no effect."""
    mine = entity_props(g, subjects[0]).get("density")
    liquid = entity_props(g, obj).get("density", 1.0)
    if not isinstance(mine, (int, float)) or not isinstance(liquid, (int, float)):
        return None
    return ("floats" if mine < liquid else "sinks"), {}, []


def _mass(g: CausalSceneGraph, n: str) -> float | None:
    """Typical mass x count x size (x a state's factor: heavy, light), scaled by a stated
    material's density over the noun's own (an iron cube outweighs a cork one; a wooden anchor is lighter than an iron one)."""
    p = entity_props(g, n)
    if not isinstance(p.get("mass"), (int, float)):
        return None
    count = p.get("count") if isinstance(p.get("count"), int) else 1
    mass = float(p["mass"]) * count * _SIZE_FACTOR.get(p.get("size"), 1.0)
    if isinstance(p.get("mass_factor"), (int, float)):   # a state: "a heavy suitcase"
        mass *= float(p["mass_factor"])
    own = knowledge().noun_props(str(p.get("compound") or p.get("noun"))).get("density", 1.0)
    if "material" in g.node(n)["attrs"] and isinstance(p.get("density"), (int, float)):
        mass *= float(p["density"]) / float(own)
    return mass


def _heavier(g: CausalSceneGraph, subjects: list[str], obj: str) -> Decision:
    """The heavier of two masses: a stated 'heavier/lighter than', else the lexicon's masses."""
    a, b = subjects
    rel = {d["relation"]: (u, v) for u, v in ((a, b), (b, a))
           if (d := g.graph.get_edge_data(u, v)) is not None}
    if "heavier than" in rel:
        heavy = rel["heavier than"][0]
    elif "lighter than" in rel:
        heavy = rel["lighter than"][1]
    else:
        ma, mb = _mass(g, a), _mass(g, b)
        if ma is None or mb is None or ma == mb:
            return None
        heavy = a if ma > mb else b
    attrs = {"toward": str(g.attr(heavy, "noun")), "heavier": heavy}
    side = next((s for (u, v), s in (((a, b), "left"), ((b, a), "right"))
                 if g.graph.has_edge(u, v) and g.graph.edges[u, v]["relation"] == "left of"),
                None)
    if side is not None:
        attrs["side"] = side if heavy == a else _AWAY[side]
    return "tilt", attrs, []


def _light_side(g: CausalSceneGraph, subject: str, light: str) -> str | None:
    """Where the light is, seen from the subject: its stated side, or a relation between them."""
    if g.attr(light, "side") in _AWAY:
        return g.attr(light, "side")
    if g.graph.has_edge(light, subject):
        return _LIGHT_EDGE.get(g.graph.edges[light, subject]["relation"])
    if g.graph.has_edge(subject, light):
        return _SUBJECT_EDGE.get(g.graph.edges[subject, light]["relation"])
    return None


def _away_from_light(g: CausalSceneGraph, subjects: list[str], obj: str) -> Decision:
    """A shadow on the side away from the light (its direction in words for the caption)."""
    side = _light_side(g, subjects[0], obj)
    attrs: dict[str, Any] = {"away_from": str(g.attr(obj, "noun"))}
    if side is not None:
        attrs["side"] = _AWAY[side]
    attrs["direction"] = _DIRECTION.get(attrs.get("side"), f"away from the {attrs['away_from']}")
    return "shadow", attrs, []


def _fill_level(g: CausalSceneGraph, subjects: list[str], obj: str) -> Decision:
    """'more X than Y in Z': Z is more than half full of X (less than half for less/fewer)."""
    s = subjects[0]
    container = next((v for u in (s, obj) for _, v, r in g.graph.out_edges(u, data="relation")
                      if r == "in" and g.node(v)["kind"] == "entity"), None)
    if container is None:
        return None
    more = g.graph.edges[s, obj]["relation"] == "more than"
    attrs = {"level": "more than half" if more else "less than half",
             "substance": str(g.attr(s, "noun")), "container": str(g.attr(container, "noun"))}
    return "fill", attrs, [container]


DECISIONS: dict[str, Callable[[CausalSceneGraph, list[str], str], Decision]] = {
    "density": _density, "heavier": _heavier, "away_from_light": _away_from_light,
    "fill_level": _fill_level}


def world_parents(effect_type: str) -> tuple[tuple[str, str], ...]:
    """``("entity", attribute)`` pairs that decide ``effect_type`` in some world rule."""
    out: list[tuple[str, str]] = []
    for rule in knowledge().rules:
        if effect_type in effects_of(rule):
            for _, attr in rule.get("parents", []):
                if ("entity", attr) not in out:
                    out.append(("entity", attr))
    return tuple(out)


def parent_slots(g: CausalSceneGraph, effect: str) -> list[tuple[str, str]]:
    """``(node id, attribute)`` that decide this effect node of an open-world graph, by the
    roles of its rule (what a structure donor must keep as the user wrote it)."""
    rule = next((r for r in knowledge().rules if r["name"] == g.attr(effect, "rule")), None)
    if rule is None:
        return []
    causes = [c for c in g.graph.predecessors(effect) if g.node(c)["kind"] == "entity"]
    k = 2 if rule.get("pair") else 1   # causes are added subjects first, then the object
    roles = {"subject": causes[:k], "object": causes[k:k + 1]}
    return [(n, attr) for role, attr in rule.get("parents", []) for n in roles.get(role, [])]
