"""Causal rules as data: which stated nodes cause which implicit effect, and what decides it.

:data:`RULES` is a tuple of :class:`Rule` rows; :func:`add_implicit_effects` applies the rows
of a graph's category in table order and :func:`causal_parents` answers "which attributes
decide this effect" (the donors keep those as written).  A row holds:

``category``
    the scene category the rule applies to;
``effects``
    the effect type(s) it can add (the node id is the type it adds);
``relation``
    the causal relation of the edges from each cause into the effect;
``causes``
    cause selectors, in edge order: ``"object"`` (the first object), ``"object pair"`` (both
    objects, only in a scene with exactly two), ``"light"`` (the first light),
    ``"effect:a|b"`` (the first effect of type a or b, e.g. one an earlier row added), or a
    surface type (``"mirror"``, ``"water"``, ``"beam"``, ``"floor"``).  A rule whose causes
    are not all there does not fire;
``decide``
    ``(graph, cause ids) -> (effect type, effect attributes)``; ``None`` adds ``effects[0]``
    with no attributes;
``parents``
    ``(node kind or surface type, attribute)`` pairs among the causes that decide the effect
    and must never change in a donor;
``relational``
    attributes that decide it only through a comparison (the density order of two cubes):
    they may change as long as the derived effect does not;
``hop``
    causal hops from the prompt's words to the effect (:meth:`CausalSceneGraph.hop_depths`);
``unless``
    effect types that, when already in the graph before the rules run, stop the rule (so
    applying the rules twice adds nothing).

Adding a row (a new effect of an existing category) needs no code change unless it needs a
new ``decide`` function or cause selector.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .graph import CausalSceneGraph
from .vocabulary import DENSITY, OPEN_CATEGORY

Decision = tuple[str, dict[str, str]]


#: a shadow falls away from the light: lit from the left -> shadow to the right, above -> below
SHADOW_FROM_LIGHT = {"left": "right", "right": "left", "above": "below"}


def _opposite_light(g: CausalSceneGraph, causes: tuple[str, ...]) -> Decision:
    """The shadow's side from the light's (:data:`SHADOW_FROM_LIGHT`)."""
    return "shadow", {"side": SHADOW_FROM_LIGHT[g.attr(causes[1], "side")]}


def _density_fate(g: CausalSceneGraph, causes: tuple[str, ...]) -> Decision:
    """An object less dense than water floats, others sink."""
    floats = DENSITY[g.attr(causes[0], "material")] < 1.0
    return ("floating" if floats else "sinking"), {}


def _denser_side(g: CausalSceneGraph, causes: tuple[str, ...]) -> Decision:
    """A beam tilts down on the side of the denser cube (the right one on a tie)."""
    left, right = causes[0], causes[1]
    dl, dr = DENSITY[g.attr(left, "material")], DENSITY[g.attr(right, "material")]
    return "tilt", {"side": "left" if dl > dr else "right"}


@dataclass(frozen=True)
class Rule:
    """One cause -> effect rule (see the module docstring for each field)."""

    category: str
    effects: tuple[str, ...]
    relation: str
    causes: tuple[str, ...]
    parents: tuple[tuple[str, str], ...] = ()
    relational: tuple[tuple[str, str], ...] = ()
    hop: int = 1
    decide: Callable[[CausalSceneGraph, tuple[str, ...]], Decision] | None = None
    unless: tuple[str, ...] = ()


RULES: tuple[Rule, ...] = (
    Rule("reflection", ("reflection",), "reflects", ("object", "mirror"),
         parents=(("object", "size"), ("mirror", "size")), unless=("reflection",)),
    Rule("shadow", ("shadow",), "casts", ("object", "light"),
         parents=(("light", "side"),), decide=_opposite_light, unless=("shadow",)),
    Rule("buoyancy", ("floating", "sinking"), "displaces", ("object", "water"),
         parents=(("object", "material"),), decide=_density_fate,
         unless=("floating", "sinking")),
    # added together with the float-or-sink effect it depends on
    Rule("buoyancy", ("refraction",), "refracts", ("effect:floating|sinking", "water"),
         hop=2, unless=("floating", "sinking")),
    Rule("balance", ("tilt",), "tilts", ("object pair", "beam"),
         relational=(("object", "material"),), decide=_denser_side, unless=("tilt",)),
)


def causal_parents(effect_type: str, rules: tuple[Rule, ...] = RULES,
                   category: str | None = None) -> tuple[tuple[str, str], ...]:
    """The ``(node kind or surface type, attribute)`` pairs that decide ``effect_type``.

    ToyWorld's table answers first; an effect no ToyWorld rule adds (or ``category="open"``)
    is answered from the world rules file as ``("entity", attribute)`` pairs (for one effect
    node of an open graph, :func:`.world.parent_slots` names the exact nodes)."""
    out: list[tuple[str, str]] = []
    for rule in rules if category != OPEN_CATEGORY else ():
        if effect_type in rule.effects:
            out += [p for p in rule.parents if p not in out]
    if category == OPEN_CATEGORY or not any(effect_type in r.effects for r in rules):
        from .world import world_parents
        out += [p for p in world_parents(effect_type) if p not in out]
    return tuple(out)


def effect_types(rules: tuple[Rule, ...] = RULES) -> tuple[str, ...]:
    """Every effect type some rule adds, in table order."""
    out: list[str] = []
    for rule in rules:
        out += [t for t in rule.effects if t not in out]
    return tuple(out)


def _select(g: CausalSceneGraph, selector: str) -> list[str] | None:
    """The node ids a cause selector names in ``g``; None when they are not there."""
    if selector == "object":
        objs = g.nodes("object")
        return objs[:1] or None
    if selector == "object pair":
        objs = g.nodes("object")
        return objs if len(objs) == 2 else None
    if selector == "light":
        return g.nodes("light")[:1] or None
    if selector.startswith("effect:"):
        found = [e for t in selector[len("effect:"):].split("|") for e in g.effects(t)]
        return found[:1] or None
    s = g.surface(selector)
    return None if s is None else [s]


def _causes(g: CausalSceneGraph, rule: Rule) -> tuple[str, ...] | None:
    """The rule's cause node ids in edge order, or None when one is missing."""
    out: list[str] = []
    for selector in rule.causes:
        found = _select(g, selector)
        if found is None:
            return None
        out += found
    return tuple(out)


def apply_rule(g: CausalSceneGraph, rule: Rule) -> str | None:
    """Add ``rule``'s effect to ``g`` as an implicit node if its causes are there; its id."""
    causes = _causes(g, rule)
    if causes is None:
        return None
    kind, attrs = rule.decide(g, causes) if rule.decide else (rule.effects[0], {})
    e = g.add_node(kind, "effect", explicit=False, type=kind, **attrs)
    for c in causes:
        g.add_edge(c, e, rule.relation)
    return e


def add_implicit_effects(g: CausalSceneGraph, rules: tuple[Rule, ...] = RULES
                         ) -> CausalSceneGraph:
    """Add the effects the physics implies, as implicit nodes (idempotent).

    An open-world graph is derived from the world rules file instead (:mod:`.world`)."""
    if g.is_open:
        from .world import add_world_effects
        return add_world_effects(g)
    present = {g.attr(e, "type") for e in g.effects()}
    for rule in rules:
        if rule.category == g.category and not present & set(rule.unless):
            apply_rule(g, rule)
    return g
