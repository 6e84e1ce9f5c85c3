"""The scene-graph model: :class:`CausalSceneGraph`, its JSON form and its validation.

A scene is a ``networkx.DiGraph`` whose nodes are objects, surfaces, lights and the *effects* they
cause; every check raises :class:`GraphError` naming the node or edge at fault, because the app
shows these messages to people editing graphs by hand.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Iterable

import networkx as nx

from ..limits import (MAX_GRAPH_EDGES, MAX_GRAPH_NODES, MAX_PROMPT_CHARS, SNIPPET_CHARS,
                      check_count, check_text, load_json, snippet)

from .vocabulary import (ATTRIBUTES, CAUSAL_RELATIONS, NODE_KINDS, OPEN_CATEGORY, RELATIONS,
                         SCHEMA_VERSION)

#: the longest attribute value or relation an open-world graph accepts (the UI shows them)
OPEN_TEXT_LIMIT = 60


class GraphError(ValueError):
    """The one error type for anything wrong with a scene graph or its JSON."""


def _short(value: Any, limit: int = SNIPPET_CHARS) -> str:
    """``repr`` for error messages: never raises, never floods the UI (a node id or value is
    user input: :func:`lina_core.limits.snippet`)."""
    return snippet(value, limit)


def _finite(v: Any) -> bool:
    """A real, finite JSON number (bools and ints too large for a float are not)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(float(v))
    except OverflowError:
        return False


@dataclass
class CausalSceneGraph:
    """A scene: a typed ``networkx.DiGraph`` plus its category."""

    category: str
    graph: nx.DiGraph = field(default_factory=nx.DiGraph)
    #: where :meth:`free_id` got to for each base id
    _next_id: dict[str, int] = field(default_factory=dict, init=False, repr=False,
                                     compare=False)

    # -- building ---------------------------------------------------------------------
    def add_node(self, node_id: str, kind: str, explicit: bool = True,
                 box: Iterable[float] | None = None, **attrs: Any) -> str:
        self.graph.add_node(node_id, kind=kind, explicit=bool(explicit),
                            box=None if box is None else [float(v) for v in box],
                            attrs={k: v for k, v in attrs.items() if v is not None})
        return node_id

    def add_edge(self, source: str, target: str, relation: str) -> None:
        self.graph.add_edge(source, target, relation=relation)

    def free_id(self, base: str) -> str:
        """``base``, else the first of ``base2``, ``base3``, ... not taken.  It remembers how far
        each base got (nodes are not removed while a graph is built), so naming n nodes alike
        costs O(n), not O(n^2)."""
        i = self._next_id.get(base, 1)
        n = base if i == 1 else f"{base}{i}"
        while n in self.graph:
            i += 1
            n = f"{base}{i}"
        self._next_id[base] = i
        return n

    # -- queries ----------------------------------------------------------------------
    def nodes(self, kind: str | None = None) -> list[str]:
        return [n for n, d in self.graph.nodes(data=True) if kind is None or d["kind"] == kind]

    def node(self, node_id: str) -> dict[str, Any]:
        return self.graph.nodes[node_id]

    def attr(self, node_id: str, name: str, default: Any = None) -> Any:
        return self.graph.nodes[node_id]["attrs"].get(name, default)

    def surface(self, surface_type: str) -> str | None:
        for n in self.nodes("surface"):
            if self.attr(n, "type") == surface_type:
                return n
        return None

    def effects(self, effect_type: str | None = None) -> list[str]:
        return [n for n in self.nodes("effect")
                if effect_type is None or self.attr(n, "type") == effect_type]

    def implicit_nodes(self) -> list[str]:
        """Nodes the prompt did not state (inferred by causal rules)."""
        return [n for n, d in self.graph.nodes(data=True) if not d["explicit"]]

    def causal_edges(self) -> list[tuple[str, str]]:
        """Edges from a cause into its effect: in ToyWorld those with a causal relation, in an
        open-world graph every edge into an effect (its relations come from the rules file)."""
        if self.category == OPEN_CATEGORY:
            return [(u, v) for u, v in self.graph.edges
                    if self.graph.nodes[v].get("kind") == "effect"]
        return [(u, v) for u, v, d in self.graph.edges(data=True)
                if d["relation"] in CAUSAL_RELATIONS]

    @property
    def is_open(self) -> bool:
        """An open-world graph (entities and effects from any English prompt)."""
        return self.category == OPEN_CATEGORY

    @property
    def is_toyworld(self) -> bool:
        """A graph of a ToyWorld category (one registered in
        :data:`lina_core.toyworld.categories.CATEGORIES`): its renderer, layout, donors and
        verifier apply."""
        from ..toyworld.categories.base import category   # the table; it imports nothing back
        return category(self.category) is not None

    def hop_depths(self) -> dict[str, int]:
        """Causal hops from the nodes the prompt states (0) to each node.

        An effect's depth is one more than the deepest of its causes: a refraction that depends on
        whether the object floats is two hops from the words "wood" and "water".
        """
        causal = nx.DiGraph(self.causal_edges())
        causal.add_nodes_from(self.graph.nodes)
        depth: dict[str, int] = {}
        for n in nx.topological_sort(causal):
            preds = list(causal.predecessors(n))
            if self.graph.nodes[n]["kind"] != "effect" or not preds:
                depth[n] = 0
            else:
                depth[n] = 1 + max(depth[p] for p in preds)
        return depth

    # -- validation -------------------------------------------------------------------
    def validate(self) -> "CausalSceneGraph":
        """Raise :class:`GraphError` naming the node or edge and what is allowed."""
        check_graph_size(len(self.graph), self.graph.number_of_edges())
        if not (self.is_open or self.is_toyworld):
            from ..toyworld.categories.base import CATEGORIES
            raise GraphError(f"category: {_short(self.category)} is not one of "
                             f"{list(CATEGORIES) + [OPEN_CATEGORY]}")
        node_check, edge_check = ((_check_open_node, _check_open_edge) if self.is_open
                                  else (_check_node, _check_edge))
        for n, d in self.graph.nodes(data=True):
            node_check(n, d)
        for u, v, d in self.graph.edges(data=True):
            edge_check(self, u, v, d)
        _check_causal_dag(self)
        if not self.is_open:
            _check_requirements(self)
        return self

    # -- JSON -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "category": self.category,
            "nodes": [{"id": n, "kind": d["kind"], "explicit": d["explicit"], "box": d["box"],
                       "attrs": dict(d["attrs"])} for n, d in self.graph.nodes(data=True)],
            "edges": [{"source": u, "target": v, "relation": d["relation"]}
                      for u, v, d in self.graph.edges(data=True)],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: Any) -> "CausalSceneGraph":
        """A validated graph from its JSON form; unknown fields and oversized graphs are refused
        (by name) before anything is built."""
        if not isinstance(data, dict):
            raise GraphError("graph JSON: top level must be an object with keys "
                             "schema_version, category, nodes, edges")
        _check_fields("graph JSON", data, GRAPH_FIELDS)
        version = data.get("schema_version")
        if isinstance(version, bool) or not isinstance(version, int) or version != SCHEMA_VERSION:
            raise GraphError(f"schema_version: {_short(version)} is not supported; allowed: "
                             f"{SCHEMA_VERSION}")
        g = cls(category=data.get("category"))  # type: ignore[arg-type]
        nodes, edges = data.get("nodes"), data.get("edges")
        if not isinstance(nodes, list) or not isinstance(edges, list):
            raise GraphError("nodes and edges: must both be lists")
        check_graph_size(len(nodes), len(edges), "graph JSON")
        for i, nd in enumerate(nodes):
            _add_node_from_dict(g.graph, i, nd)
        for i, ed in enumerate(edges):
            _add_edge_from_dict(g.graph, i, ed)
        return g.validate()

    @classmethod
    def from_json(cls, text: str | bytes) -> "CausalSceneGraph":
        """A validated graph from JSON text, its size and nesting checked before it is parsed
        (:func:`lina_core.limits.load_json`)."""
        return cls.from_dict(load_json(text, "graph JSON", error=GraphError))

    def copy(self) -> "CausalSceneGraph":
        return CausalSceneGraph.from_dict(self.to_dict())


# --------------------------------------------------------------------------- JSON parts

#: the fields of a graph's JSON, and of each node and edge: anything else is refused by name (a
#: misspelt "atrs" must not silently drop a node's attributes), as a spec's JSON does
GRAPH_FIELDS = ("schema_version", "category", "nodes", "edges")
NODE_FIELDS = ("id", "kind", "explicit", "box", "attrs")
EDGE_FIELDS = ("source", "target", "relation")


def check_graph_size(nodes: int, edges: int, field: str = "graph") -> None:
    """:class:`GraphError` for a graph over :data:`~lina_core.limits.MAX_GRAPH_NODES` nodes
    or :data:`~lina_core.limits.MAX_GRAPH_EDGES` edges: checked before a graph is built,
    validated, laid out or drawn, so their cost stays bounded."""
    check_count(field, nodes, MAX_GRAPH_NODES, "nodes", error=GraphError)
    check_count(field, edges, MAX_GRAPH_EDGES, "edges", error=GraphError)


def check_prompt(text: str, field: str = "prompt") -> str:
    """``text`` if it is a string of at most :data:`~lina_core.limits.MAX_PROMPT_CHARS`
    characters, else :class:`GraphError` naming the field, its length and the limit: the
    parser's (and the app's) one check, made before any parsing so its cost is bounded.  Here,
    below both parsers (:mod:`.grammar`, :mod:`.parser`), so neither imports the other for it."""
    return check_text(field, text, MAX_PROMPT_CHARS, error=GraphError)


def _check_fields(where: str, obj: dict[str, Any], allowed: tuple[str, ...]) -> None:
    """Refuse keys of ``obj`` not in ``allowed``, naming the first few (each cut short)."""
    extra = [k for k in obj if k not in allowed]
    if extra:
        names = ", ".join(_short(k, 24) for k in extra[:3]) + (", ..." if len(extra) > 3 else "")
        raise GraphError(f"{where}: unknown field(s) {names}; allowed {list(allowed)}")



def _add_node_from_dict(graph: nx.DiGraph, i: int, nd: Any) -> None:
    """Add ``nodes[i]`` of a graph's JSON, checking only what ``validate`` cannot."""
    if not isinstance(nd, dict) or not isinstance(nd.get("id"), str) or not nd["id"]:
        raise GraphError(f"nodes[{i}]: must be an object with a non-empty string 'id'")
    _check_fields(f"nodes[{i}]", nd, NODE_FIELDS)
    if nd["id"] in graph:
        raise GraphError(f"nodes[{i}]: duplicate id {_short(nd['id'])}")
    attrs = nd.get("attrs", {})
    if not isinstance(attrs, dict):
        raise GraphError(f"node {_short(nd['id'])}: attrs must be an object")
    explicit = nd.get("explicit", True)
    if not isinstance(explicit, bool):
        raise GraphError(f"node {_short(nd['id'])}: explicit must be true or false")
    box = nd.get("box")
    if box is not None and not (isinstance(box, list) and len(box) == 4 and all(
            _finite(v) for v in box)):
        raise GraphError(f"node {_short(nd['id'])}: box must be null or four numbers "
                         f"[x0, y0, x1, y1] in [0, 1]")
    graph.add_node(nd["id"], kind=nd.get("kind"), explicit=explicit,
                   box=None if box is None else [float(v) for v in box], attrs=dict(attrs))


def _add_edge_from_dict(graph: nx.DiGraph, i: int, ed: Any) -> None:
    """Add ``edges[i]`` of a graph's JSON; both ends must be known node ids."""
    if not isinstance(ed, dict):
        raise GraphError(f"edges[{i}]: must be an object with source, target, relation")
    _check_fields(f"edges[{i}]", ed, EDGE_FIELDS)
    s, t = ed.get("source"), ed.get("target")
    for end, name in ((s, "source"), (t, "target")):
        if not isinstance(end, str) or end not in graph:
            raise GraphError(f"edges[{i}]: {name} {_short(end)} is not a node id "
                             f"(dangling edge); known ids: "
                             f"{_short(sorted(graph.nodes), 80)}")
    graph.add_edge(s, t, relation=ed.get("relation"))


# --------------------------------------------------------------------------- checks


def _check_kind(n: str, d: dict[str, Any]) -> str:
    kind = d.get("kind")
    if kind not in NODE_KINDS:
        raise GraphError(f"node {_short(n)}: kind {_short(kind)} is not one of "
                         f"{list(NODE_KINDS)}")
    return kind


def _check_box(n: str, box: Any) -> None:
    if box is not None:
        ok = (isinstance(box, (list, tuple)) and len(box) == 4
              and all(_finite(v) for v in box))
        if not ok or not all(0.0 <= v <= 1.0 for v in box) or box[0] > box[2] \
                or box[1] > box[3]:
            raise GraphError(f"node {_short(n)}: box {_short(box)} must be [x0, y0, x1, y1] with "
                             f"0 <= x0 <= x1 <= 1 and 0 <= y0 <= y1 <= 1")


def _open_value_ok(value: Any) -> bool:
    """An open-world attribute value: a short non-empty string, a finite number or a bool."""
    if isinstance(value, str):
        return 0 < len(value) <= OPEN_TEXT_LIMIT
    return isinstance(value, bool) or _finite(value)


def _check_open_node(n: str, d: dict[str, Any]) -> None:
    """An open-world node: any kind, scalar attributes; an entity names its noun, an effect
    its type (what the caption, the rules and the donors read)."""
    kind = _check_kind(n, d)
    attrs = d.get("attrs")
    if not isinstance(attrs, dict):
        raise GraphError(f"node {_short(n)}: attrs must be an object")
    for key, value in attrs.items():
        if not isinstance(key, str) or not key or not _open_value_ok(value):
            raise GraphError(f"node {_short(n)}: attribute {_short(key)}={_short(value)} must be a "
                             f"name with a string (1-{OPEN_TEXT_LIMIT} characters), number "
                             f"or true/false value")
    need = {"entity": "noun", "effect": "type"}.get(kind)
    if need and not isinstance(attrs.get(need), str):
        raise GraphError(f"node {_short(n)}: an open-world {kind} needs attribute {need!r} "
                         f"(a string)")
    _check_box(n, d.get("box"))


def _check_open_edge(g: CausalSceneGraph, u: str, v: str, d: dict[str, Any]) -> None:
    """An open-world edge: any short relation (a preposition, a verb from agent to patient, a
    comparative, or a causal relation: every edge into an effect is one of its causes)."""
    rel = d.get("relation")
    if not isinstance(rel, str) or not 0 < len(rel) <= OPEN_TEXT_LIMIT:
        raise GraphError(f"edge {_short(u)}->{_short(v)}: relation {_short(rel)} must be a string of "
                         f"1-{OPEN_TEXT_LIMIT} characters")


def _check_node(n: str, d: dict[str, Any]) -> None:
    """A node's kind, attributes and box are ones the vocabulary allows."""
    kind = _check_kind(n, d)
    if kind == "entity":
        raise GraphError(f"node {_short(n)}: entity nodes belong to open-world graphs (category "
                         f"{OPEN_CATEGORY!r}); a ToyWorld scene uses object, surface, light")
    attrs = d.get("attrs") or {}
    if not isinstance(attrs, dict):
        raise GraphError(f"node {_short(n)}: attrs must be an object")
    for key, value in attrs.items():
        allowed = ATTRIBUTES[kind].get(key)
        if allowed is None:
            raise GraphError(f"node {_short(n)}: attribute {_short(key)} is not allowed for "
                             f"a {kind}; allowed: {sorted(ATTRIBUTES[kind])}")
        if value not in allowed:
            raise GraphError(f"node {_short(n)}: {key}={_short(value)} is not one of "
                             f"{list(allowed)}")
    _check_box(n, d.get("box"))


def _check_edge(g: CausalSceneGraph, u: str, v: str, d: dict[str, Any]) -> None:
    """A known relation; causal ones point to an effect."""
    rel = d.get("relation")
    if rel not in RELATIONS:
        raise GraphError(f"edge {_short(u)}->{_short(v)}: relation {_short(rel)} is not one of "
                         f"{list(RELATIONS)}")
    if rel in CAUSAL_RELATIONS and g.graph.nodes[v]["kind"] != "effect":
        raise GraphError(f"edge {_short(u)}->{_short(v)}: causal relation {rel!r} must point to an "
                         f"effect node")


def _check_causal_dag(g: CausalSceneGraph) -> None:
    """Causal edges form a DAG and every effect has a cause."""
    causal = nx.DiGraph(g.causal_edges())
    if causal.number_of_nodes() and not nx.is_directed_acyclic_graph(causal):
        ids = [_short(a, 24) for a, _ in nx.find_cycle(causal)]
        shown = ids[:4] + (ids[:1] if len(ids) <= 4 else ["..."])   # a long cycle: its start
        raise GraphError("causal edges form a cycle: " + " -> ".join(shown)
                         + "; causal edges must form a DAG")
    caused = {v for _, v in g.causal_edges()}
    for e in g.nodes("effect"):
        if e not in caused:
            how = ("an edge from its cause" if g.is_open
                   else f"a causal edge ({', '.join(CAUSAL_RELATIONS)})")
            raise GraphError(f"node {_short(e)}: effect has no cause; add {how} into it")


def _check_requirements(g: CausalSceneGraph) -> None:
    """Each category needs its parts (a reflection scene needs a mirror, ...): the shared
    ones here, the rest by :meth:`lina_core.toyworld.categories.Category.check`."""
    from ..toyworld.categories.base import category   # the table; it imports nothing back
    cat = g.category
    this = category(cat)
    objs = g.nodes("object")
    n_obj = this.objects
    if len(objs) != n_obj:
        raise GraphError(f"nodes: a {cat} scene needs exactly {n_obj} object node(s); "
                         f"found {len(objs)}")
    look = "material" if this.by_material else "colour"
    for o in objs:
        for key in ("shape", look):
            if key not in g.graph.nodes[o]["attrs"]:
                raise GraphError(f"node {_short(o)}: a {cat} object needs attribute {key!r} "
                                 f"(one of {list(ATTRIBUTES['object'][key])})")
    need = this.surface
    if need and g.surface(need) is None:
        raise GraphError(f"nodes: a {cat} scene needs a surface node with type={need!r}")
    this.check(g)      # what the category needs beyond these
