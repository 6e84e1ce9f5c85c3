"""The Scene tab's graph editor, as pure functions on graph dicts (``CausalSceneGraph.to_dict()``
form), so they are testable without Gradio: add, update and remove nodes and edges, mark a node
implicit or stated, and re-derive the implicit effects.

Every function copies its input, applies one edit and validates the result with
:meth:`CausalSceneGraph.from_dict`; a bad edit raises :class:`GraphError` naming the field (node
id, kind, attrs, source, target, relation) and leaves the caller's graph untouched.
"""
from __future__ import annotations

import copy
import json
from typing import Any

from lina_core import csg
from lina_core.csg import CausalSceneGraph, GraphError

#: the open-world parser's category (its graphs have entity and effect nodes)
OPEN = csg.OPEN_CATEGORY


def is_toyworld(graph: dict[str, Any] | CausalSceneGraph) -> bool:
    """Whether the ToyWorld renderer, layout and verifier know this graph's category (all
    eight, the v2 ones included, whichever model is loaded: they draw the ground truth)."""
    if isinstance(graph, CausalSceneGraph):
        return graph.is_toyworld
    return graph.get("category") in csg.TOYWORLD_CATEGORIES


def ground_truth(graph: dict[str, Any] | CausalSceneGraph, size: int) -> Any:
    """What the prompt asks for, drawn exactly by the ToyWorld renderer (``size`` px); None for
    an open-world scene (the open world has no renderer)."""
    if not is_toyworld(graph):
        return None
    from lina_core.toyworld.render import render
    g = graph if isinstance(graph, CausalSceneGraph) else CausalSceneGraph.from_dict(graph)
    return render(g, size).image


def checked(graph: dict[str, Any]) -> dict[str, Any]:
    """The graph validated (every check names the node or edge at fault), as a fresh dict."""
    return CausalSceneGraph.from_dict(graph).to_dict()


def load(text: Any) -> dict[str, Any]:
    """The graph JSON box's text -> a validated graph dict (the box is the source of truth)."""
    if not isinstance(text, str) or not text.strip():
        raise GraphError("graph JSON: empty; parse a prompt or paste a scene graph object")
    return CausalSceneGraph.from_json(text).to_dict()


def parse_attrs(text: Any, where: str = "attrs") -> dict[str, str]:
    """``"colour=red, shape=ball"`` -> ``{"colour": "red", "shape": "ball"}``."""
    if isinstance(text, dict):
        return {str(k).strip(): str(v).strip() for k, v in text.items()}
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in str(text or "").split(","))):
        k, sep, v = (s.strip() for s in part.partition("="))
        if not sep or not k or not v:
            raise GraphError(f"{where}: {part!r} must be key=value pairs separated by commas, "
                             f"e.g. colour=red, shape=ball")
        out[k] = v
    return out


def _id(value: Any, field: str = "node id") -> str:
    nid = str(value or "").strip()
    if not nid:
        raise GraphError(f"{field}: required (a unique name such as obj0)")
    return nid


def _find(graph: dict[str, Any], nid: str, field: str = "node id") -> dict[str, Any]:
    for n in graph["nodes"]:
        if n["id"] == nid:
            return n
    raise GraphError(f"{field}: {nid!r} is not a node of this graph; nodes: "
                     f"{', '.join(n['id'] for n in graph['nodes']) or 'none'}")


def add_node(graph: dict[str, Any], node_id: Any, kind: Any, explicit: bool = True,
             attrs: Any = None) -> dict[str, Any]:
    """A new node (its id must be new)."""
    g = copy.deepcopy(graph)
    nid = _id(node_id)
    if any(n["id"] == nid for n in g["nodes"]):
        raise GraphError(f"node id: {nid!r} already exists; pick it and press 'update node'")
    kind = str(kind or "").strip()
    if not kind:
        raise GraphError(f"kind: required for node {nid!r}")
    g["nodes"].append({"id": nid, "kind": kind, "explicit": bool(explicit), "box": None,
                       "attrs": parse_attrs(attrs, f"attrs of {nid!r}")})
    return checked(g)


def update_node(graph: dict[str, Any], node_id: Any, kind: Any = None,
                explicit: bool | None = None, attrs: Any = None) -> dict[str, Any]:
    """An existing node's kind, explicit flag and attributes (None keeps what it had)."""
    g = copy.deepcopy(graph)
    n = _find(g, _id(node_id))
    if kind is not None and str(kind).strip():
        n["kind"] = str(kind).strip()
    if explicit is not None:
        n["explicit"] = bool(explicit)
    if attrs is not None:
        n["attrs"] = parse_attrs(attrs, f"attrs of {n['id']!r}")
    return checked(g)


def set_explicit(graph: dict[str, Any], node_id: Any, explicit: bool) -> dict[str, Any]:
    """Mark a node stated (the prompt says it) or implicit (the prompt leaves it unsaid)."""
    return update_node(graph, node_id, explicit=explicit)


def remove_node(graph: dict[str, Any], node_id: Any) -> dict[str, Any]:
    """Remove a node and its edges, and the implicit effects left with no cause (they were
    derived from it)."""
    g = copy.deepcopy(graph)
    gone = {_find(g, _id(node_id))["id"]}
    while True:
        edges = [e for e in g["edges"] if e["source"] not in gone and e["target"] not in gone]
        caused = {e["target"] for e in edges}
        orphans = {n["id"] for n in g["nodes"] if n["id"] not in gone and n["kind"] == "effect"
                   and not n.get("explicit", True) and n["id"] not in caused}
        if not orphans:
            break
        gone |= orphans
    g["nodes"] = [n for n in g["nodes"] if n["id"] not in gone]
    g["edges"] = edges
    return checked(g)


def add_edge(graph: dict[str, Any], source: Any, target: Any, relation: Any
             ) -> dict[str, Any]:
    """A new edge between two existing nodes."""
    g = copy.deepcopy(graph)
    s = _find(g, _id(source, "source"), "source")["id"]
    t = _find(g, _id(target, "target"), "target")["id"]
    rel = str(relation or "").strip()
    if not rel:
        raise GraphError(f"relation: required for the edge {s!r} -> {t!r}")
    if any(e["source"] == s and e["target"] == t for e in g["edges"]):
        raise GraphError(f"source/target: the edge {s!r} -> {t!r} already exists; remove it "
                         f"first to change its relation")
    g["edges"].append({"source": s, "target": t, "relation": rel})
    return checked(g)


def remove_edge(graph: dict[str, Any], source: Any, target: Any) -> dict[str, Any]:
    """Remove the edge ``source -> target``."""
    g = copy.deepcopy(graph)
    s, t = _id(source, "source"), _id(target, "target")
    kept = [e for e in g["edges"] if not (e["source"] == s and e["target"] == t)]
    if len(kept) == len(g["edges"]):
        raise GraphError(f"source/target: there is no edge {s!r} -> {t!r}")
    g["edges"] = kept
    return checked(g)


def rederive(graph: dict[str, Any]) -> dict[str, Any]:
    """Drop the implicit effects and derive them again from the stated facts
    (``csg.add_implicit_effects``); a ToyWorld scene is also laid out again."""
    g = copy.deepcopy(graph)
    g["nodes"] = [n for n in g["nodes"] if n.get("explicit", True) or n["kind"] != "effect"]
    kept = {n["id"] for n in g["nodes"]}
    g["edges"] = [e for e in g["edges"] if e["source"] in kept and e["target"] in kept]
    toy = is_toyworld(g)
    if toy:
        for n in g["nodes"]:
            n["box"] = None
    scene = CausalSceneGraph.from_dict(g)
    csg.add_implicit_effects(scene)
    if toy:
        csg.layout(scene)
    return scene.validate().to_dict()


def node_form(graph: dict[str, Any], node_id: Any) -> dict[str, Any]:
    """What the node form shows for a node: kind, explicit and attributes as text."""
    n = _find(graph, _id(node_id))
    return {"kind": n["kind"], "explicit": bool(n.get("explicit", True)),
            "attrs": ", ".join(f"{k}={v}" for k, v in (n.get("attrs") or {}).items())}


def dumps(graph: dict[str, Any]) -> str:
    return json.dumps(graph, indent=2)
