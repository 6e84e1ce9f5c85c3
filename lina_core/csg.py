"""Causal Scene Graph (CSG): what a ToyWorld prompt means, including what it leaves unsaid.

A scene is a ``networkx.DiGraph`` whose nodes are objects, surfaces, lights and the *effects* they
cause (shadow, reflection, floating, sinking, refraction, tilt).  Effects that the prompt does not
state are added by causal rules and marked ``explicit=False``; they are what diffusion models miss.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

import networkx as nx
import numpy as np

SCHEMA_VERSION = 1

CATEGORIES = ("reflection", "shadow", "buoyancy", "balance", "scale")
NODE_KINDS = ("object", "surface", "light", "effect")
COLOURS = {"red": (215, 40, 40), "green": (40, 170, 60), "blue": (45, 75, 215),
           "yellow": (230, 200, 25), "purple": (150, 50, 190)}
SHAPES = ("ball", "cube", "cone")
SIZES = ("small", "large")
MATERIALS = {"wood": (150, 95, 45), "cork": (215, 165, 105), "ice": (170, 235, 250),
             "metal": (125, 130, 150), "stone": (75, 70, 65)}
DENSITY = {"cork": 0.24, "wood": 0.6, "ice": 0.92, "stone": 2.6, "metal": 7.8}
SURFACE_TYPES = ("floor", "mirror", "water", "beam")
MIRROR_SHAPES = ("round", "square")
LIGHT_SIDES = ("left", "right", "above")
EFFECT_TYPES = ("shadow", "reflection", "floating", "sinking", "refraction", "tilt")
SPATIAL_RELATIONS = ("on", "in", "left of", "right of", "above", "next to", "larger than")
CAUSAL_RELATIONS = ("casts", "reflects", "displaces", "tilts", "refracts")
RELATIONS = SPATIAL_RELATIONS + CAUSAL_RELATIONS

#: allowed attribute values per node kind; ``None`` means "any string"
ATTRIBUTES: dict[str, dict[str, tuple[str, ...]]] = {
    "object": {"colour": tuple(COLOURS), "shape": SHAPES, "material": tuple(MATERIALS),
               "size": SIZES},
    "surface": {"type": SURFACE_TYPES, "shape": MIRROR_SHAPES, "size": SIZES},
    "light": {"side": LIGHT_SIDES},
    "effect": {"type": EFFECT_TYPES, "side": ("left", "right", "below")},
}


class GraphError(ValueError):
    """The one error type for anything wrong with a scene graph or its JSON."""


def _short(value: Any, limit: int = 80) -> str:
    """``repr`` for error messages: never raises, never floods the UI."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - deeply nested or odd values
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _finite(v: Any) -> bool:
    """A real, finite JSON number (bools and ints too large for a float are not)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(float(v))
    except OverflowError:
        return False


# --------------------------------------------------------------------------- the graph


@dataclass
class CausalSceneGraph:
    """A scene: a typed ``networkx.DiGraph`` plus its category."""

    category: str
    graph: nx.DiGraph = field(default_factory=nx.DiGraph)

    # -- building ---------------------------------------------------------------------
    def add_node(self, node_id: str, kind: str, explicit: bool = True,
                 box: Iterable[float] | None = None, **attrs: Any) -> str:
        self.graph.add_node(node_id, kind=kind, explicit=bool(explicit),
                            box=None if box is None else [float(v) for v in box],
                            attrs={k: v for k, v in attrs.items() if v is not None})
        return node_id

    def add_edge(self, source: str, target: str, relation: str) -> None:
        self.graph.add_edge(source, target, relation=relation)

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
        return [(u, v) for u, v, d in self.graph.edges(data=True)
                if d["relation"] in CAUSAL_RELATIONS]

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
        if self.category not in CATEGORIES:
            raise GraphError(f"category: {_short(self.category)} is not one of "
                             f"{list(CATEGORIES)}")
        for n, d in self.graph.nodes(data=True):
            kind = d.get("kind")
            if kind not in NODE_KINDS:
                raise GraphError(f"node {n!r}: kind {_short(kind)} is not one of "
                                 f"{list(NODE_KINDS)}")
            attrs = d.get("attrs") or {}
            if not isinstance(attrs, dict):
                raise GraphError(f"node {n!r}: attrs must be an object")
            for key, value in attrs.items():
                allowed = ATTRIBUTES[kind].get(key)
                if allowed is None:
                    raise GraphError(f"node {n!r}: attribute {_short(key)} is not allowed for "
                                     f"a {kind}; allowed: {sorted(ATTRIBUTES[kind])}")
                if value not in allowed:
                    raise GraphError(f"node {n!r}: {key}={_short(value)} is not one of "
                                     f"{list(allowed)}")
            box = d.get("box")
            if box is not None:
                ok = (isinstance(box, (list, tuple)) and len(box) == 4
                      and all(_finite(v) for v in box))
                if not ok or not all(0.0 <= v <= 1.0 for v in box) or box[0] > box[2] \
                        or box[1] > box[3]:
                    raise GraphError(f"node {n!r}: box {_short(box)} must be [x0, y0, x1, y1] with "
                                     f"0 <= x0 <= x1 <= 1 and 0 <= y0 <= y1 <= 1")
        for u, v, d in self.graph.edges(data=True):
            rel = d.get("relation")
            if rel not in RELATIONS:
                raise GraphError(f"edge {u!r}->{v!r}: relation {_short(rel)} is not one of "
                                 f"{list(RELATIONS)}")
            if rel in CAUSAL_RELATIONS and self.graph.nodes[v]["kind"] != "effect":
                raise GraphError(f"edge {u!r}->{v!r}: causal relation {rel!r} must point to an "
                                 f"effect node")
        causal = nx.DiGraph(self.causal_edges())
        if causal.number_of_nodes() and not nx.is_directed_acyclic_graph(causal):
            cycle = nx.find_cycle(causal)
            raise GraphError("causal edges form a cycle: "
                             + " -> ".join(f"{a!r}" for a, _ in cycle) + f" -> {cycle[0][0]!r}; "
                             "causal edges must form a DAG")
        for e in self.nodes("effect"):
            if not any(rel in CAUSAL_RELATIONS for _, _, rel in
                       self.graph.in_edges(e, data="relation")):
                raise GraphError(f"node {e!r}: effect has no cause; add a causal edge "
                                 f"({', '.join(CAUSAL_RELATIONS)}) into it")
        self._check_requirements()
        return self

    def _check_requirements(self) -> None:
        """Each category needs its parts (a reflection scene needs a mirror, ...)."""
        cat = self.category
        objs = self.nodes("object")
        n_obj = {"reflection": 1, "shadow": 1, "buoyancy": 1, "balance": 2, "scale": 2}[cat]
        if len(objs) != n_obj:
            raise GraphError(f"nodes: a {cat} scene needs exactly {n_obj} object node(s); "
                             f"found {len(objs)}")
        look = "material" if cat in ("buoyancy", "balance") else "colour"
        for o in objs:
            for key in ("shape", look):
                if key not in self.graph.nodes[o]["attrs"]:
                    raise GraphError(f"node {o!r}: a {cat} object needs attribute {key!r} "
                                     f"(one of {list(ATTRIBUTES['object'][key])})")
        need = {"reflection": "mirror", "buoyancy": "water", "balance": "beam"}.get(cat)
        if need and self.surface(need) is None:
            raise GraphError(f"nodes: a {cat} scene needs a surface node with type={need!r}")
        if cat == "reflection" and "shape" not in self.graph.nodes[self.surface("mirror")][
                "attrs"]:
            raise GraphError(f"node {self.surface('mirror')!r}: a mirror needs attribute "
                             f"'shape' (one of {list(MIRROR_SHAPES)})")
        if cat == "shadow":
            lights = self.nodes("light")
            if len(lights) != 1 or "side" not in self.graph.nodes[lights[0]]["attrs"]:
                raise GraphError(f"nodes: a shadow scene needs one light node with attribute "
                                 f"'side' (one of {list(LIGHT_SIDES)})")
        if cat == "scale" and not any(r == "larger than" for _, _, r in
                                      self.graph.edges(data="relation")):
            raise GraphError("edges: a scale scene needs a 'larger than' edge between its "
                             "two objects")

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
        if not isinstance(data, dict):
            raise GraphError("graph JSON: top level must be an object with keys "
                             "schema_version, category, nodes, edges")
        version = data.get("schema_version")
        if isinstance(version, bool) or not isinstance(version, int) or version != SCHEMA_VERSION:
            raise GraphError(f"schema_version: {_short(version)} is not supported; allowed: "
                             f"{SCHEMA_VERSION}")
        g = cls(category=data.get("category"))  # type: ignore[arg-type]
        nodes, edges = data.get("nodes"), data.get("edges")
        if not isinstance(nodes, list) or not isinstance(edges, list):
            raise GraphError("nodes and edges: must both be lists")
        for i, nd in enumerate(nodes):
            if not isinstance(nd, dict) or not isinstance(nd.get("id"), str) or not nd["id"]:
                raise GraphError(f"nodes[{i}]: must be an object with a non-empty string 'id'")
            if nd["id"] in g.graph:
                raise GraphError(f"nodes[{i}]: duplicate id {nd['id']!r}")
            attrs = nd.get("attrs", {})
            if not isinstance(attrs, dict):
                raise GraphError(f"node {nd['id']!r}: attrs must be an object")
            explicit = nd.get("explicit", True)
            if not isinstance(explicit, bool):
                raise GraphError(f"node {nd['id']!r}: explicit must be true or false")
            box = nd.get("box")
            if box is not None and not (isinstance(box, list) and len(box) == 4 and all(
                    _finite(v) for v in box)):
                raise GraphError(f"node {nd['id']!r}: box must be null or four numbers "
                                 f"[x0, y0, x1, y1] in [0, 1]")
            g.graph.add_node(nd["id"], kind=nd.get("kind"), explicit=explicit,
                             box=None if box is None else [float(v) for v in box],
                             attrs=dict(attrs))
        for i, ed in enumerate(edges):
            if not isinstance(ed, dict):
                raise GraphError(f"edges[{i}]: must be an object with source, target, relation")
            s, t = ed.get("source"), ed.get("target")
            for end, name in ((s, "source"), (t, "target")):
                if not isinstance(end, str) or end not in g.graph:
                    raise GraphError(f"edges[{i}]: {name} {_short(end)} is not a node id "
                                     f"(dangling edge); known ids: "
                                     f"{_short(sorted(g.graph.nodes), 200)}")
            g.graph.add_edge(s, t, relation=ed.get("relation"))
        return g.validate()

    @classmethod
    def from_json(cls, text: str) -> "CausalSceneGraph":
        try:
            data = json.loads(text)
        except (ValueError, TypeError, RecursionError) as exc:
            # ValueError covers JSONDecodeError, bad UTF-8 bytes and over-long integers
            raise GraphError(f"graph JSON: not valid JSON ({_short(str(exc), 200)})") from None
        return cls.from_dict(data)

    def copy(self) -> "CausalSceneGraph":
        return CausalSceneGraph.from_dict(self.to_dict())


# --------------------------------------------------------------------------- causal rules


def add_implicit_effects(g: CausalSceneGraph) -> CausalSceneGraph:
    """Add the effects the physics implies, as implicit nodes (idempotent)."""
    objs = g.nodes("object")
    if g.category == "reflection":
        mirror = g.surface("mirror")
        for o in objs:
            if mirror and not g.effects("reflection"):
                e = g.add_node("reflection", "effect", explicit=False, type="reflection")
                g.add_edge(o, e, "reflects")
                g.add_edge(mirror, e, "reflects")
    elif g.category == "shadow":
        lights = g.nodes("light")
        if lights and objs and not g.effects("shadow"):
            side = {"left": "right", "right": "left", "above": "below"}[g.attr(lights[0], "side")]
            e = g.add_node("shadow", "effect", explicit=False, type="shadow", side=side)
            g.add_edge(objs[0], e, "casts")
            g.add_edge(lights[0], e, "casts")
    elif g.category == "buoyancy":
        water = g.surface("water")
        if water and objs and not (g.effects("floating") or g.effects("sinking")):
            floats = DENSITY[g.attr(objs[0], "material")] < 1.0
            kind = "floating" if floats else "sinking"
            e = g.add_node(kind, "effect", explicit=False, type=kind)
            g.add_edge(objs[0], e, "displaces")
            g.add_edge(water, e, "displaces")
            r = g.add_node("refraction", "effect", explicit=False, type="refraction")
            g.add_edge(e, r, "refracts")
            g.add_edge(water, r, "refracts")
    elif g.category == "balance":
        beam = g.surface("beam")
        if beam and len(objs) == 2 and not g.effects("tilt"):
            left, right = objs
            dl, dr = DENSITY[g.attr(left, "material")], DENSITY[g.attr(right, "material")]
            side = "left" if dl > dr else "right"
            e = g.add_node("tilt", "effect", explicit=False, type="tilt", side=side)
            g.add_edge(left, e, "tilts")
            g.add_edge(right, e, "tilts")
            g.add_edge(beam, e, "tilts")
    return g


# --------------------------------------------------------------------------- prompt parsing

SYNONYMS = {
    "sphere": "ball", "ball": "ball", "orb": "ball", "balls": "ball", "spheres": "ball",
    "cube": "cube", "box": "cube", "block": "cube", "cubes": "cube", "boxes": "cube",
    "blocks": "cube", "cone": "cone", "pyramid": "cone", "triangle": "cone",
    "big": "large", "large": "large", "huge": "large", "small": "small", "little": "small",
    "tiny": "small",
    "round": "round", "circular": "round", "square": "square", "rectangular": "square",
    "red": "red", "green": "green", "blue": "blue", "yellow": "yellow", "purple": "purple",
    "violet": "purple",
    "wood": "wood", "wooden": "wood", "cork": "cork", "ice": "ice", "metal": "metal",
    "iron": "metal", "steel": "metal", "metallic": "metal", "stone": "stone", "rock": "stone",
    "left": "left", "right": "right", "above": "above", "overhead": "above",
    "mirror": "mirror", "balance": "balance", "scale": "balance", "seesaw": "balance",
    "water": "water", "beaker": "beaker", "glass": "beaker", "tank": "beaker",
    "larger": "larger", "bigger": "larger", "smaller": "smaller",
}
#: words with no content of their own; consumed silently
FUNCTION_WORDS = set("""a an the on of in from and with its it to at by is are lies lying appears
lit light lighting floor than sits sitting placed standing stands beneath under below
inside underneath onto into down up side which one while being""".split())
#: words of the explicit (causal-completion) phrases; they mark the effect as stated
EFFECT_WORDS = {"reflection": "reflection", "reflected": "reflection", "shadow": "shadow",
                "casting": "shadow", "casts": "shadow", "floating": "floating",
                "floats": "floating", "float": "floating", "surface": "floating",
                "sunk": "sinking", "sinks": "sinking", "sinking": "sinking", "bottom": "sinking",
                "refraction": "refraction", "bent": "refraction", "submerged": "refraction",
                "part": "refraction", "tilting": "tilt", "tilts": "tilt", "beam": "tilt",
                "bigger": None, "larger": None}


@dataclass
class ParseResult:
    graph: CausalSceneGraph
    unknown_words: list[str]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def from_prompt(text: str) -> ParseResult:
    """Parse a PAP-Toy style prompt into a validated graph with implicit effects added.

    Deterministic; every word it did not use is returned in ``unknown_words``.
    Raises :class:`GraphError` if no scene category can be recognised.
    """
    words = _words(text)
    if not words:
        raise GraphError("prompt: empty; write e.g. 'a red ball on a round mirror'")
    canon = [SYNONYMS.get(w, w) for w in words]
    used = [False] * len(words)
    for i, w in enumerate(words):
        if w in FUNCTION_WORDS:
            used[i] = True

    def take(i: int) -> str:
        used[i] = True
        return canon[i]

    stated_effects: set[str] = set()
    for i, w in enumerate(words):
        if w in EFFECT_WORDS and EFFECT_WORDS[w] is not None:
            stated_effects.add(EFFECT_WORDS[w])
            used[i] = True
    if "mirror" in canon:
        category = "reflection"
    elif "water" in canon or "beaker" in canon:
        category = "buoyancy"
    elif "balance" in canon:
        category = "balance"
    elif "larger" in canon or "smaller" in canon:
        category = "scale"
    elif any(w in ("lit", "light", "lighting") for w in words):
        category = "shadow"
    else:
        raise GraphError("prompt: no scene recognised; it must mention a mirror, a light "
                         "('lit from the left'), water, a balance, or 'larger/smaller than'")

    # objects: (size?) (colour|material)? shape, in order of mention
    objects: list[dict[str, str]] = []
    pending: dict[str, str] = {}
    mirror_attrs: dict[str, str] = {}
    for i, c in enumerate(canon):
        if used[i]:
            continue
        if c == "mirror":
            mirror_attrs.update({k: v for k, v in pending.items() if k in ("size", "shape")})
            if "shape" not in mirror_attrs and "mshape" in pending:
                mirror_attrs["shape"] = pending["mshape"]
            pending = {}
            take(i)
        elif c in SIZES:
            pending["size"] = take(i)
        elif c in MIRROR_SHAPES:
            pending["mshape"] = take(i)
        elif c in COLOURS:
            pending["colour"] = take(i)
        elif c in MATERIALS:
            pending["material"] = take(i)
        elif c in SHAPES:
            pending["shape"] = take(i)
            pending.pop("mshape", None)
            objects.append(pending)
            pending = {}
        elif c in ("balance", "water", "beaker", "larger", "smaller"):
            take(i)
        elif c in ("left", "right", "above") and category == "shadow":
            take(i)
        elif c in ("left", "right") and category == "balance" and "tilt" in stated_effects:
            take(i)
        elif c == "below" or c == "beneath":
            take(i)
    if category == "reflection" and "shape" not in mirror_attrs:
        mirror_attrs["shape"] = "round"
    unknown = [words[i] for i in range(len(words)) if not used[i]]

    g = CausalSceneGraph(category=category)
    need = {"reflection": 1, "shadow": 1, "buoyancy": 1, "balance": 2, "scale": 2}[category]
    if len(objects) < need:
        raise GraphError(f"prompt: a {category} scene needs {need} object(s) with a shape "
                         f"({'/'.join(SHAPES)}); found {len(objects)}")
    objects = objects[:need]
    for j, o in enumerate(objects):
        if category in ("buoyancy", "balance"):
            o.pop("colour", None)
            o.setdefault("material", "wood")
            if category == "balance":
                o["shape"] = "cube"
        else:
            o.pop("material", None)
            o.setdefault("colour", "red")
        o.setdefault("size", "small")
        g.add_node(f"obj{j}", "object", **o)
    if category == "reflection":
        mirror_attrs.setdefault("size", "large")
        g.add_node("mirror", "surface", type="mirror", **mirror_attrs)
        g.add_edge("obj0", "mirror", "on")
    elif category == "shadow":
        g.add_node("floor", "surface", type="floor")
        g.add_edge("obj0", "floor", "on")
        side = next((c for c in canon if c in LIGHT_SIDES), "above")
        # "lit from the left ..., casting a shadow to the right": the light side comes first
        g.add_node("light", "light", side=side)
    elif category == "buoyancy":
        g.add_node("water", "surface", type="water")
        g.add_edge("obj0", "water", "in")
    elif category == "balance":
        g.add_node("beam", "surface", type="beam")
        g.add_edge("obj0", "beam", "on")
        g.add_edge("obj1", "beam", "on")
        g.add_edge("obj0", "obj1", "left of")
    elif category == "scale":
        g.add_node("floor", "surface", type="floor")
        first_larger = "smaller" not in canon
        big, small = ("obj0", "obj1") if first_larger else ("obj1", "obj0")
        g.graph.nodes[big]["attrs"]["size"] = "large"
        g.graph.nodes[small]["attrs"]["size"] = "small"
        g.add_edge(big, small, "larger than")
        # one edge per ordered pair in a DiGraph: state the order from the other side
        if first_larger:
            g.add_edge("obj1", "obj0", "right of")
        else:
            g.add_edge("obj0", "obj1", "left of")
    add_implicit_effects(g)
    for e in g.effects():
        t = g.attr(e, "type")
        if t in stated_effects or (t in ("floating", "sinking") and
                                   stated_effects & {"floating", "sinking"}):
            g.graph.nodes[e]["explicit"] = True
    layout(g)
    return ParseResult(g.validate(), unknown)


# --------------------------------------------------------------------------- captions


def _obj_phrase(g: CausalSceneGraph, n: str, with_size: bool = True) -> str:
    a = g.node(n)["attrs"]
    parts = [a["size"]] if with_size and "size" in a else []
    parts += [a.get("colour") or a.get("material", ""), a["shape"]]
    return " ".join(p for p in parts if p)


def to_prompt(g: CausalSceneGraph, explicit: bool = False) -> str:
    """The user-style caption, or (``explicit=True``) its causal completion ``c+``."""
    objs = g.nodes("object")
    if g.category == "reflection":
        m = g.node(g.surface("mirror"))["attrs"]
        s = f"a {_obj_phrase(g, objs[0])} on a {m.get('size', 'large')} {m['shape']} mirror"
        if explicit:
            s += ", and its reflection appears in the mirror below it"
    elif g.category == "shadow":
        side = g.attr(g.nodes("light")[0], "side")
        s = f"a {_obj_phrase(g, objs[0])} on the floor, lit from " + (
            "above" if side == "above" else f"the {side}")
        if explicit:
            sh = g.attr(g.effects("shadow")[0], "side")
            s += ", casting a shadow " + ("beneath it" if sh == "below" else f"to the {sh}")
    elif g.category == "buoyancy":
        s = f"a {_obj_phrase(g, objs[0], with_size=False)} in a beaker of water"
        if explicit:
            if g.effects("floating"):
                s += ", floating at the surface"
            else:
                s += ", sunk to the bottom"
            s += ", its submerged part bent by refraction"
    elif g.category == "balance":
        s = (f"a {g.attr(objs[0], 'material')} cube and a {g.attr(objs[1], 'material')} cube "
             f"on a balance")
        if explicit:
            s += f", the beam tilting down on the {g.attr(g.effects('tilt')[0], 'side')}"
    elif g.category == "scale":
        a, b = objs
        rel = "larger" if g.attr(a, "size") == "large" else "smaller"
        s = (f"a {_obj_phrase(g, a, with_size=False)} {rel} than a "
             f"{_obj_phrase(g, b, with_size=False)}")
        if explicit:
            big = a if rel == "larger" else b
            s += f", the {g.attr(big, 'colour')} one is bigger"
    else:  # pragma: no cover - validate() forbids it
        raise GraphError(f"category: {g.category!r}")
    return s


# --------------------------------------------------------------------------- layout

#: geometry constants shared by the renderer and the verifier
FLOOR_Y = 0.55
MIRROR_CY = 0.76
MIRROR_RX = {"small": 0.24, "large": 0.40}
MIRROR_ASPECT = 0.42          # ry = rx * aspect: a mirror lying on the floor, seen at an angle
OBJECT_W = {"small": 0.20, "large": 0.34}
REFLECTION_SQUASH = 0.6       # a reflection in a floor mirror is flipped and foreshortened
WATER_BOX = (0.22, 0.34, 0.78, 0.92)   # the water column inside the beaker
BEAM_Y = 0.66
BEAM_HALF = 0.36
BEAM_TILT = 0.10              # vertical drop of the heavy end


def balance_cube_box(cx: float, sgn: int, down: str | None) -> list[float]:
    """Box of the cube at the left (``sgn=-1``) or right end of a beam centred at ``cx`` that
    tilts down on ``down`` (None: level)."""
    w = OBJECT_W["small"]
    ex = cx + sgn * (BEAM_HALF - w / 2 - 0.01)
    dy = 0.0 if down is None else (BEAM_TILT if (sgn < 0) == (down == "left")
                                   else -BEAM_TILT) * (BEAM_HALF - w / 2) / BEAM_HALF
    return [ex - w / 2, BEAM_Y + dy - w - 0.015, ex + w / 2, BEAM_Y + dy - 0.015]


def layout(g: CausalSceneGraph, rng: np.random.Generator | None = None) -> CausalSceneGraph:
    """Assign every node a box in [0, 1]^2; ``rng=None`` gives the canonical layout."""
    jit = (lambda s: float(rng.uniform(-s, s))) if rng is not None else (lambda s: 0.0)
    objs = g.nodes("object")

    def obj_box(n: str, cx: float, base: float) -> list[float]:
        w = OBJECT_W[g.attr(n, "size", "small")]
        h = w * (1.1 if g.attr(n, "shape") == "cone" else 1.0)
        return [cx - w / 2, base - h, cx + w / 2, base]

    def put(n: str, box: list[float]) -> None:
        g.graph.nodes[n]["box"] = [float(np.clip(v, 0.0, 1.0)) for v in box]

    if g.category == "reflection":
        m = g.surface("mirror")
        rx = MIRROR_RX[g.attr(m, "size", "large")]
        cx = 0.5 + jit(0.5 - rx - 0.03)
        ry = rx * MIRROR_ASPECT
        put(m, [cx - rx, MIRROR_CY - ry, cx + rx, MIRROR_CY + ry])
        ob = obj_box(objs[0], cx, MIRROR_CY - 0.02)
        put(objs[0], ob)
        for e in g.effects("reflection"):
            h = (ob[3] - ob[1]) * REFLECTION_SQUASH
            put(e, [ob[0], ob[3], ob[2], min(ob[3] + h, MIRROR_CY + ry)])
    elif g.category == "shadow":
        cx = 0.5 + jit(0.18)
        base = 0.80 + jit(0.04)
        ob = obj_box(objs[0], cx, base)
        put(objs[0], ob)
        put(g.surface("floor"), [0.0, FLOOR_Y, 1.0, 1.0])
        light = g.nodes("light")[0]
        side = g.attr(light, "side")
        lx = {"left": 0.10, "right": 0.90, "above": 0.5}[side]
        put(light, [lx - 0.08, 0.04, lx + 0.08, 0.20])
        w = ob[2] - ob[0]
        for e in g.effects("shadow"):
            off = {"left": -0.75, "right": 0.75, "below": 0.0}[g.attr(e, "side")] * w
            put(e, [ob[0] + off - 0.05 * (off != 0), ob[3] - 0.06,
                    ob[2] + off + 0.05 * (off != 0), ob[3] + 0.07])
    elif g.category == "buoyancy":
        wb = list(WATER_BOX)
        wb[0] += jit(0.02)
        wb[2] += jit(0.02)
        put(g.surface("water"), wb)
        o = objs[0]
        cx = (wb[0] + wb[2]) / 2 + jit(0.08)
        floats = bool(g.effects("floating"))
        w = OBJECT_W["small"] * 1.1
        h = w * (1.1 if g.attr(o, "shape") == "cone" else 1.0)
        if floats:
            top = wb[1] - h * (1.0 - DENSITY[g.attr(o, "material")]) - 0.01
        else:
            top = wb[3] - h - 0.01
        put(o, [cx - w / 2, top, cx + w / 2, top + h])
        for e in g.effects("floating") + g.effects("sinking"):
            put(e, [cx - w / 2, top, cx + w / 2, top + h])
        for e in g.effects("refraction"):
            put(e, [cx - w / 2, max(top, wb[1]), cx + w / 2 + 0.06, top + h])
    elif g.category == "balance":
        cx = 0.5 + jit(0.04)
        put(g.surface("beam"), [cx - BEAM_HALF, BEAM_Y - BEAM_TILT, cx + BEAM_HALF,
                                BEAM_Y + BEAM_TILT])
        tilt = g.effects("tilt")
        down = g.attr(tilt[0], "side") if tilt else None
        for n, sgn in zip(objs, (-1, 1)):
            put(n, balance_cube_box(cx, sgn, down))
        for e in tilt:
            put(e, [cx - BEAM_HALF, BEAM_Y - BEAM_TILT - 0.02, cx + BEAM_HALF,
                    BEAM_Y + BEAM_TILT + 0.02])
    elif g.category == "scale":
        put(g.surface("floor"), [0.0, FLOOR_Y, 1.0, 1.0])
        base = 0.82 + jit(0.03)
        xs = (0.28 + jit(0.04), 0.72 + jit(0.04))
        for n, cx in zip(objs, xs):
            put(n, obj_box(n, cx, base))
    return g


# --------------------------------------------------------------------------- figure

CAUSAL_EDGE_COLOUR = "#d62728"
SPATIAL_EDGE_COLOUR = "#8c8c8c"
KIND_COLOURS = {"object": "#1f77b4", "surface": "#7f7f7f", "light": "#e6b800",
                "effect": "#d62728"}


def _positions(g: CausalSceneGraph) -> dict[str, tuple[float, float]]:
    """Plot coordinates (y up): layout box centres when every node has one, else a seeded
    spring layout.  Nodes that land on the same spot (an effect sharing its object's box) are
    fanned out a little so each stays visible and clickable."""
    boxes = {n: d.get("box") for n, d in g.graph.nodes(data=True)}
    if boxes and all(isinstance(b, (list, tuple)) and len(b) == 4 and all(_finite(v) for v in b)
                     for b in boxes.values()):
        pos = {n: ((b[0] + b[2]) / 2, 1.0 - (b[1] + b[3]) / 2) for n, b in boxes.items()}
    else:
        raw = nx.spring_layout(g.graph.to_undirected(), seed=0) if len(g.graph) else {}
        pos = {n: (float(p[0]), float(p[1])) for n, p in raw.items()}
    taken: list[tuple[float, float]] = []
    out: dict[str, tuple[float, float]] = {}
    for n in sorted(pos):
        x, y = pos[n]
        k = 0
        while any(abs(x - a) < 0.03 and abs(y - b) < 0.03 for a, b in taken):
            k += 1
            x, y = pos[n][0] + 0.06 * k, pos[n][1] - 0.06 * k
        taken.append((x, y))
        out[n] = (x, y)
    return out


def figure(g: CausalSceneGraph) -> Any:
    """A Plotly figure of ``g``: causal edges solid red with arrows, spatial edges dashed grey,
    implicit nodes open markers labelled "(implicit)"; hover gives kind, attributes, hop depth.

    Works on graphs that do not validate (an edit in progress): hop depth is then ``?``.
    """
    import plotly.graph_objects as go

    pos = _positions(g)
    try:
        depths: dict[str, Any] = g.hop_depths()
    except (nx.NetworkXException, KeyError, TypeError, ValueError):
        depths = {}
    fig = go.Figure()
    for causal in (True, False):
        xs: list[float | None] = []
        ys: list[float | None] = []
        text: list[str | None] = []
        for u, v, rel in g.graph.edges(data="relation"):
            if (rel in CAUSAL_RELATIONS) != causal:
                continue
            (x0, y0), (x1, y1) = pos[u], pos[v]
            xs += [x0, (x0 + x1) / 2, x1, None]
            ys += [y0, (y0 + y1) / 2, y1, None]
            text += [f"{u} —{rel}→ {v}"] * 3 + [None]
            if causal:
                fig.add_annotation(x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x",
                                   ayref="y", showarrow=True, arrowhead=3, arrowsize=1.2,
                                   arrowwidth=2, arrowcolor=CAUSAL_EDGE_COLOUR, standoff=12,
                                   text="")
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", hoverinfo="text", text=text,
            name="causal edges" if causal else "spatial edges",
            line=dict(color=CAUSAL_EDGE_COLOUR if causal else SPATIAL_EDGE_COLOUR,
                      width=2.5 if causal else 1.5, dash="solid" if causal else "dash")))
    for implicit in (False, True):
        ns = [n for n, d in g.graph.nodes(data=True) if (not d.get("explicit", True)) == implicit]
        hover, labels = [], []
        for n in ns:
            d = g.graph.nodes[n]
            attrs = d.get("attrs") or {}
            attr_text = ", ".join(f"{k}={v}" for k, v in attrs.items()) \
                if isinstance(attrs, dict) else str(attrs)
            hover.append(f"<b>{n}</b>{' (implicit)' if implicit else ''}<br>"
                         f"kind: {d.get('kind')}<br>attributes: {attr_text or '-'}<br>"
                         f"hop depth: {depths.get(n, '?')}")
            labels.append(f"{n} (implicit)" if implicit else n)
        fig.add_trace(go.Scatter(
            x=[pos[n][0] for n in ns], y=[pos[n][1] for n in ns], mode="markers+text",
            name="implicit nodes" if implicit else "nodes", text=labels,
            textposition="bottom center", hovertext=hover, hoverinfo="text",
            customdata=ns,
            marker=dict(size=22, symbol="circle-open" if implicit else "circle",
                        color=[KIND_COLOURS.get(g.graph.nodes[n].get("kind"), "#000000")
                               for n in ns],
                        line=dict(width=3 if implicit else 1, color="#333333"))))
    fig.update_layout(
        showlegend=True, margin=dict(l=10, r=10, t=30, b=10), plot_bgcolor="white",
        title=f"Causal scene graph ({g.category})",
        xaxis=dict(visible=False), yaxis=dict(visible=False, scaleanchor="x"))
    return fig
