"""ToyWorld v2 (issue 16): three scene categories for the paper's Winoground-style failures.

* ``roles``: two objects, one resting on top of the other, in either order ("a red ball on top
  of a blue cube" / "a blue cube on top of a red ball").  Graph: ``obj0 -on-> obj1 -on->
  floor``; ``obj0`` is the top one.
* ``fill``: a jar filled with sand, soil or water to a stated level ("a tall jar with more sand
  than empty space" / "... with more empty space than sand").  Graph: ``fill -in-> jar -on->
  floor``; the fill surface has ``material`` and ``level`` ("more": more material than empty
  space, "less": less).  The exact level is the fill box's share of the jar's inside.
* ``place``: an object placed by two relations at once or in the water ("a red ball close to
  the water and on the sand" / "a red ball far from the water and on the sand" / "a red ball in
  the water, off the sand").  Graph: ``obj0 -on-> sand`` plus ``-next to-> water`` or ``-far
  from-> water``, or ``obj0 -in-> water``.

None of them has an implicit effect (no causal rule): what they test is relational binding,
not a hidden cause.  Here: their grammar, captions and validation, each added at the
bottom to the table of the module that calls it (``grammar.SCENE_READERS``,
``captions.CAPTIONS``, ``graph.SCENE_CHECKS``; their layout and drawing are their modules in
:mod:`lina_core.toyworld.categories`); ``csg/__init__`` imports
this module, so the tables are full before any prompt is read.  Those modules never import
this one, so there is no import circle (issue 26).
"""
from __future__ import annotations

from .captions import CAPTIONS, _obj_phrase
from .grammar import SCENE_READERS, _add_objects, _objects, _Tokens
from .graph import SCENE_CHECKS, CausalSceneGraph, GraphError
from .vocabulary import FILL_LEVELS, FILL_MATERIALS, JAR_SHAPES, PLACES, RELATIONAL_CATEGORIES

#: the words of the three categories that the first five do not use
_JAR_WORDS = {"tall": "tall", "narrow": "tall", "wide": "wide", "broad": "wide"}
_NEAR_WORDS = ("close", "near", "next", "beside")
_RELATIONAL_WORDS = {"top", "jar", "sand", "soil", "more", "less", "empty", "space", "close", "near",
             "next", "beside", "far", "off", "away", "resting", "filled", "middle", "above",
             "edge", "well", "water"} | set(_JAR_WORDS)


def category_of(words: list[str]) -> str | None:
    """The v2 category a prompt's words cue ("on top of", a jar, the sand), else None."""
    if "top" in words:
        return "roles"
    if "jar" in words:
        return "fill"
    if "sand" in words:
        return "place"
    return None


# --------------------------------------------------------------------------- reading graphs


def top_bottom(g: CausalSceneGraph) -> tuple[str, str]:
    """(the object on top, the one it rests on) of a roles scene."""
    objs = set(g.nodes("object"))
    for u, v, rel in g.graph.edges(data="relation"):
        if rel == "on" and u in objs and v in objs:
            return u, v
    raise GraphError("edges: a roles scene needs an 'on' edge from the top object to the "
                     "bottom one")


def place_of(g: CausalSceneGraph) -> str | None:
    """"near", "far" or "water": where a place scene's object is, read from its edges."""
    o = g.nodes("object")[0] if g.nodes("object") else None
    rel = {(g.attr(v, "type"), r) for u, v, r in g.graph.edges(data="relation") if u == o}
    if ("water", "in") in rel:
        return "water"
    if ("sand", "on") in rel and ("water", "next to") in rel:
        return "near"
    if ("sand", "on") in rel and ("water", "far from") in rel:
        return "far"
    return None


def fill_of(g: CausalSceneGraph) -> str | None:
    """The fill surface of a jar scene."""
    return g.surface("fill")


def check_scene(g: CausalSceneGraph) -> None:
    """What a v2 scene needs beyond the vocabulary (called by ``validate``)."""
    if g.category == "roles":
        top, bottom = top_bottom(g)
        if g.attr(top, "colour") == g.attr(bottom, "colour"):
            raise GraphError("nodes: the two objects of a roles scene need different colours "
                             "(the verifier tells them apart by colour)")
        if g.surface("floor") is None:
            raise GraphError("nodes: a roles scene needs a surface node with type='floor'")
    elif g.category == "fill":
        jar, fill = g.surface("jar"), fill_of(g)
        if g.attr(jar, "shape") not in JAR_SHAPES:
            raise GraphError(f"node {jar!r}: a jar needs attribute 'shape' (one of "
                             f"{list(JAR_SHAPES)})")
        if fill is None or g.attr(fill, "material") not in FILL_MATERIALS or \
                g.attr(fill, "level") not in FILL_LEVELS:
            raise GraphError(f"nodes: a fill scene needs a surface node with type='fill', "
                             f"'material' (one of {list(FILL_MATERIALS)}) and 'level' (one of "
                             f"{list(FILL_LEVELS)})")
    elif g.category == "place":
        if g.surface("sand") is None or place_of(g) not in PLACES:
            raise GraphError("edges: a place scene needs a sand and a water surface and its "
                             "object 'in' the water, or 'on' the sand and 'next to' or "
                             "'far from' the water")


# --------------------------------------------------------------------------- grammar


def _fill_level(words: list[str], material: str) -> str:
    """"more" or "less" material than empty space, from the first comparative word and
    whether the material or the empty space comes first after it."""
    for i, w in enumerate(words):
        if w in ("more", "less"):
            rest = words[i + 1:]
            first_material = rest.index(material) if material in rest else len(rest)
            first_space = min([rest.index(s) for s in ("empty", "space") if s in rest],
                              default=len(rest))
            if first_material == first_space:
                break
            about_material = first_material < first_space
            return w if about_material else {"more": "less", "less": "more"}[w]
    raise GraphError("prompt: a jar scene says 'more' or 'less' of its material than empty "
                     "space ('a tall jar with more sand than empty space')")


def _place(words: list[str]) -> str:
    if any(w in _NEAR_WORDS for w in words):
        return "near"
    if "far" in words:
        return "far"
    if "water" in words and "in" in words:
        return "water"
    raise GraphError("prompt: a place scene says where the object is: 'close to the water and "
                     "on the sand', 'far from the water and on the sand' or 'in the water'")


def read(tok: _Tokens) -> tuple[CausalSceneGraph, list[dict[str, str]]] | None:
    """The graph and stated objects of a prompt that cues one of these categories, else None
    (``grammar.SCENE_READERS``)."""
    category = category_of(tok.words)
    return None if category is None else build(tok, category)


def build(tok: _Tokens, category: str) -> tuple[CausalSceneGraph, list[dict[str, str]]]:
    """The v2 graph of a prompt (its words used up) and its objects as stated."""
    for i, w in enumerate(tok.words):
        if w in _RELATIONAL_WORDS and category != "roles" or w in ("top", "resting"):
            tok.used[i] = True
    objects, _mirror = ([], {}) if category == "fill" else _objects(tok, category, set())
    stated = [dict(o) for o in objects]
    g = CausalSceneGraph(category=category)
    if category == "fill":
        words = tok.canon
        material = next((w for w in words if w in FILL_MATERIALS), None)
        if material is None:
            raise GraphError(f"prompt: a jar scene is filled with one of "
                             f"{list(FILL_MATERIALS)}")
        shape = next((_JAR_WORDS[w] for w in tok.words if w in _JAR_WORDS), "tall")
        g.add_node("floor", "surface", type="floor")
        g.add_node("jar", "surface", type="jar", shape=shape)
        g.add_node("fill", "surface", type="fill", material=material,
                   level=_fill_level(words, material))
        g.add_edge("jar", "floor", "on")
        g.add_edge("fill", "jar", "in")
        return g, stated
    _add_objects(g, objects)
    if category == "roles":
        g.add_node("floor", "surface", type="floor")
        g.add_edge("obj0", "obj1", "on")
        g.add_edge("obj1", "floor", "on")
        return g, stated
    place = _place(tok.words)
    g.add_node("sand", "surface", type="sand")
    g.add_node("water", "surface", type="water")
    if place == "water":
        g.add_edge("obj0", "water", "in")
    else:
        g.add_edge("obj0", "sand", "on")
        g.add_edge("obj0", "water", "next to" if place == "near" else "far from")
    return g, stated


# --------------------------------------------------------------------------- captions


def caption(g: CausalSceneGraph, explicit: bool) -> str:
    """The v2 caption; ``explicit`` adds the physical fact the relation implies (the objects
    touch, how far the jar is filled, where the object stands) - these scenes have no
    implicit effect, so it restates what the graph holds."""
    if g.category == "roles":
        top, bottom = top_bottom(g)
        s = f"a {_obj_phrase(g, top, False)} on top of a {_obj_phrase(g, bottom, False)}"
        if explicit:
            s += (f", the {g.attr(top, 'colour')} one resting on the "
                  f"{g.attr(bottom, 'colour')} one")
        return s
    if g.category == "fill":
        fill = fill_of(g)
        mat, level = g.attr(fill, "material"), g.attr(fill, "level")
        s = f"a {g.attr(g.surface('jar'), 'shape')} jar with " + (
            f"more {mat} than empty space" if level == "more" else
            f"more empty space than {mat}")
        if explicit:
            s += ", filled " + ("above" if level == "more" else "below") + " the middle"
        return s
    obj = _obj_phrase(g, g.nodes("object")[0], False)
    place = place_of(g)
    s = {"near": f"a {obj} close to the water and on the sand",
         "far": f"a {obj} far from the water and on the sand",
         "water": f"a {obj} in the water, off the sand"}[place]
    if explicit:
        s += {"near": ", at the edge of the water", "far": ", well away from the water",
              "water": ", standing in the water"}[place]
    return s


# --------------------------------------------------------------------------- registration

SCENE_READERS.append(read)
CAPTIONS.update(dict.fromkeys(RELATIONAL_CATEGORIES, caption))
SCENE_CHECKS.update(dict.fromkeys(RELATIONAL_CATEGORIES, check_scene))
