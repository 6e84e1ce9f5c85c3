"""Counterfactual structure donors (DESIGN.md section 2): the lever that fixes held-out structure.

A *donor* for a scene graph is the same scene with the attributes that make its combination novel
swapped for values the model saw in training, while every implicit effect keeps its type and its
attributes and every attribute that is an effect's **causal parent** stays as the user wrote it.
The donor's caption conditions the structure window ``[0, k)``; the run then returns to the user's
prompt so textures follow it.  Example: "a red cone, lit from the left" (cone + left never seen) ->
"a red ball, lit from the left": the light side (the shadow's parent) stays, the shape changes.

"Seen in training" is a lookup: ToyWorld's train split contains every combination except those in
``toyworld/held_out.json`` (the generator draws the rest uniformly), so no guess is involved.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from .csg import (ATTRIBUTES, CausalSceneGraph, GraphError, add_implicit_effects,
                  causal_parents, effect_types, to_prompt)
from .limits import snippet
from .toyworld.categories.base import category

#: causal parents per effect type, as ``(node kind or surface type, attribute)`` pairs: the
#: attributes that decide the effect and must never change in a donor (read from the causal rules
#: table, :data:`lina_core.csg.rules.RULES`).  Relational parents (the density order of a
#: balance's two cubes, a floating or sinking fate) are kept by requiring the donor's effects to
#: equal the original's, type and attributes.
CAUSAL_PARENTS: dict[str, tuple[tuple[str, str], ...]] = {
    t: causal_parents(t) for t in effect_types()}
#: attributes a donor may swap, per node kind (a surface's or light's attributes are scene
#: structure; colour never makes a combination novel, so it is never swapped)
SWAPPABLE: dict[str, tuple[str, ...]] = {"object": ("shape", "material", "size")}
MAX_CHANGES = 2


def _donor_slots(g: CausalSceneGraph) -> dict[str, tuple[tuple[str, str], ...]] | None:
    """The slots a category with no implicit effect names for its donors
    (:attr:`lina_core.toyworld.categories.Category.donor_slots`), None for the others."""
    cat = category(g.category)
    return None if cat is None else cat.donor_slots


class DonorError(GraphError):
    """No donor exists for this graph; the message says why."""


@dataclass(frozen=True)
class Donor:
    """A donor graph, its caption, what was swapped (node, attribute, old, new) and what was
    kept as the user wrote it (a structure donor keeps the causal parents, a texture donor the
    rest)."""
    graph: CausalSceneGraph
    caption: str
    swaps: tuple[tuple[str, str, str, str], ...]
    parents: tuple[tuple[str, str], ...]
    kind: str = "structure"

    def to_dict(self) -> dict[str, Any]:
        kept = [f"{n}.{a}" for n, a in self.parents]
        out = {"kind": self.kind, "caption": self.caption,
               "swaps": [{"node": n, "attribute": a, "from": o, "to": v}
                         for n, a, o, v in self.swaps], "kept": kept}
        if self.kind == "structure":
            out["causal_parents_kept"] = kept
            out["effects_kept"] = [
                " ".join([self.graph.attr(e, "type")] + [f"{k} {v}" for k, v in sorted(
                    self.graph.node(e)["attrs"].items()) if k != "type"])
                for e in self.graph.effects()]
        return out


def _parent_slots(g: CausalSceneGraph) -> set[tuple[str, str]]:
    """``(node id, attribute)`` pairs that are causal parents of one of ``g``'s implicit effects."""
    slots: set[tuple[str, str]] = set()
    for e in g.implicit_nodes():
        for kind, attr in CAUSAL_PARENTS.get(g.attr(e, "type"), ()):
            for u in g.graph.predecessors(e):
                d = g.node(u)
                if d["kind"] == kind or d["attrs"].get("type") == kind:
                    slots.add((u, attr))
    return slots


def _effects(g: CausalSceneGraph) -> list[tuple[str, tuple]]:
    return sorted((g.attr(e, "type"), tuple(sorted(g.node(e)["attrs"].items())))
                  for e in g.effects())


def _rederived(g: CausalSceneGraph) -> CausalSceneGraph:
    """``g`` with its implicit effects derived again from its (changed) attributes."""
    h = g.copy()
    for e in list(h.implicit_nodes()):
        h.graph.remove_node(e)
    return add_implicit_effects(h)


def _relational_slots(g: CausalSceneGraph, kind: str) -> list[tuple[str, str]]:
    """The ``(node id, attribute)`` slots of a v2 scene that a ``kind`` donor swaps."""
    want = _donor_slots(g)[kind]
    return [(n, a) for n in g.nodes() for k, a in want
            if (g.node(n)["kind"] == k or g.node(n)["attrs"].get("type") == k)
            and g.attr(n, a) is not None]


def _check_novel(graph: CausalSceneGraph, what: str) -> None:
    from .toyworld.data import is_held_out
    if graph.is_open:
        raise DonorError(f"graph: an open-world scene has no training set to compare with, so "
                         f"no {what} donor can be chosen automatically; its causal parents are "
                         f"csg.parent_slots(graph, effect)")
    if _donor_slots(graph) is not None:
        if not _relational_slots(graph, what):
            raise DonorError(f"graph: a {graph.category} scene has no {what} donor (it "
                             f"asserts a relation; nothing but its layout could be swapped)")
    elif not graph.implicit_nodes():
        raise DonorError(f"graph: a {what} donor needs an implicit effect node; this "
                         f"{graph.category} scene has none")
    if not is_held_out(graph):
        raise DonorError("graph: its attribute combination was seen in training; a donor "
                         "replaces only novel combinations")


def _search(graph: CausalSceneGraph, slots: list[tuple[str, str]], same_effects: bool,
            kept: tuple[tuple[str, str], ...], kind: str = "structure") -> Donor | None:
    """The familiar variant of ``graph`` with the fewest changes among ``slots`` (ties: lexicon
    order); with ``same_effects`` only variants whose effects equal the original's."""
    from .toyworld.data import is_held_out
    want = _effects(graph)
    for n_changes in range(1, MAX_CHANGES + 1):
        for combo in itertools.combinations(slots, n_changes):
            choices = [[v for v in ATTRIBUTES[_kind(graph, n)][a] if v != graph.attr(n, a)]
                       for n, a in combo]
            for values in itertools.product(*choices):
                h = graph.copy()
                for (n, a), v in zip(combo, values):
                    h.node(n)["attrs"][a] = v
                try:
                    h = _rederived(h)   # validates: e.g. a mirror shape for a jar, or two
                except GraphError:      # objects of one colour, is no scene
                    continue
                if is_held_out(h) or (same_effects and _effects(h) != want):
                    continue
                swaps = tuple((n, a, graph.attr(n, a), v) for (n, a), v in zip(combo, values))
                return Donor(h, to_prompt(h, explicit=False), swaps, kept, kind)
    return None


def _kind(graph: CausalSceneGraph, n: str) -> str:
    return graph.node(n)["kind"]


def structure_donor(graph: CausalSceneGraph) -> Donor:
    """The donor with the fewest swaps (ties: attribute order in the lexicon) for ``graph``.

    Raises :class:`DonorError` when the graph has no implicit effect, when its combination was
    seen in training (nothing to donate), or when every swap that makes it familiar would change
    an effect or one of its causal parents.
    """
    _check_novel(graph, "structure")
    if _donor_slots(graph) is not None:
        return _relational_donor(graph, "structure")
    parents = _parent_slots(graph)
    slots = [(n, a) for n in graph.nodes() for a in SWAPPABLE.get(_kind(graph, n), ())
             if graph.attr(n, a) is not None and (n, a) not in parents]
    donor = _search(graph, slots, True, tuple(sorted(parents)))
    if donor is None:
        kept = ", ".join(f"{n}.{a}" for n, a in sorted(parents)) or "none"
        raise DonorError(f"graph: no donor for this {graph.category} scene: every familiar "
                         f"combination changes an effect or a causal parent (parents kept: "
                         f"{kept})")
    return donor


def texture_donor(graph: CausalSceneGraph) -> Donor:
    """The mirror image of :func:`structure_donor`, for the late, texture window: keep what
    the user asked to see (the non-parent attributes: shape, colour) and swap the causal
    parents for values seen with them (a floating material for another floating one where one
    exists; a shadow's light side for another side).  Used after the structure window, when the
    user's prompt has fixed the layout and the model must still draw a shape it never saw in
    this combination."""
    _check_novel(graph, "texture")
    if _donor_slots(graph) is not None:
        return _relational_donor(graph, "texture")
    parents = sorted(_parent_slots(graph))
    kept = tuple(sorted((n, a) for n in graph.nodes() for a in SWAPPABLE.get(_kind(graph, n), ())
                        if graph.attr(n, a) is not None and (n, a) not in parents))
    donor = _search(graph, parents, True, kept, "texture") or \
        _search(graph, parents, False, kept, "texture")
    if donor is None:
        raise DonorError(f"graph: no texture donor for this {graph.category} scene: no causal "
                         f"parent can be swapped for a familiar combination")
    return donor


def _relational_donor(graph: CausalSceneGraph, kind: str) -> Donor:
    """A v2 scene's donor: its ``kind`` slots swapped for a familiar combination; the other
    slots, the edges and the fill level are kept."""
    slots = _relational_slots(graph, kind)
    other = "texture" if kind == "structure" else "structure"
    kept = tuple(sorted(_relational_slots(graph, other)))
    donor = _search(graph, slots, False, kept, kind)
    if donor is None:
        raise DonorError(f"graph: no {kind} donor for this {graph.category} scene: no swap of "
                         f"{', '.join(f'{n}.{a}' for n, a in slots)} is a familiar combination")
    return donor


def donor_for(graph: CausalSceneGraph, kind: str = "structure",
              swaps: dict[str, str] | None = None) -> Donor:
    """The donor a ``donor`` prompt edit names: automatic (``swaps`` empty) or by hand.

    Hand swaps (``{"node.attribute": value}``) must name a node of the graph, an attribute of
    its kind and one of that attribute's values; the effects are derived again from them."""
    if not swaps:
        return texture_donor(graph) if kind == "texture" else structure_donor(graph)
    h = graph.copy()
    done = []
    for slot, value in swaps.items():
        node, attr = slot.split(".", 1)
        if node not in graph.graph:
            raise DonorError(f"{snippet(slot)}: no node {snippet(node)}; nodes: "
                             f"{snippet(sorted(graph.graph.nodes), 80)}")
        allowed = ATTRIBUTES.get(_kind(graph, node), {})
        if attr not in allowed:
            raise DonorError(f"{snippet(slot)}: a {_kind(graph, node)} has no attribute "
                             f"{snippet(attr)}; allowed: {sorted(allowed)}")
        if value not in allowed[attr]:
            raise DonorError(f"{snippet(slot)}: {snippet(value)} is not one of "
                             f"{list(allowed[attr])}")
        done.append((node, attr, graph.attr(node, attr), value))
        h.node(node)["attrs"][attr] = value
    h = _rederived(h)
    return Donor(h, to_prompt(h, explicit=False), tuple(done), (), kind)
