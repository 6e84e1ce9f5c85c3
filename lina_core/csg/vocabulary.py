"""The words a scene graph is made of: categories, node kinds, attribute values, relations.

One place for them, so the graph's validation, the prompt grammar, the causal rules, the renderer
and the verifier all agree on what a ToyWorld scene can hold.
"""
from __future__ import annotations

SCHEMA_VERSION = 1

#: ToyWorld's first five categories: the ones the shipped model was trained on and the data
#: generator cycles through by default (scene ``i`` is ``CATEGORIES[i % 5]``)
CATEGORIES = ("reflection", "shadow", "buoyancy", "balance", "scale")
#: ToyWorld v2 (issue 16): Winoground-style failures with exact ground truth.  ``roles``: one
#: object on top of another (either order); ``fill``: a jar filled with more or less material
#: than empty space (trained on a skewed prior); ``place``: an object placed by two relations
#: at once (on the sand and close to / far from the water) or in the water.  They are drawn
#: only when asked for (``sample_scene(..., category=...)``, ``data --categories``)
RELATIONAL_CATEGORIES = ("roles", "fill", "place")
#: every category the ToyWorld renderer draws and the verifier judges
TOYWORLD_CATEGORIES = CATEGORIES + RELATIONAL_CATEGORIES
#: the category of an open-world graph (any English prompt): its nodes are entities and effects,
#: its attribute values and relations are open strings (see :mod:`.parser` and ``rules.json``)
OPEN_CATEGORY = "open"
#: every category a graph may have: ToyWorld's (the data generator draws from
#: :data:`CATEGORIES` and :data:`RELATIONAL_CATEGORIES`, so "open" is kept out of them) and the open world
GRAPH_CATEGORIES = TOYWORLD_CATEGORIES + (OPEN_CATEGORY,)
NODE_KINDS = ("object", "surface", "light", "effect", "entity")
COLOURS = {"red": (215, 40, 40), "green": (40, 170, 60), "blue": (45, 75, 215),
           "yellow": (230, 200, 25), "purple": (150, 50, 190)}
SHAPES = ("ball", "cube", "cone")
SIZES = ("small", "large")
MATERIALS = {"wood": (150, 95, 45), "cork": (215, 165, 105), "ice": (170, 235, 250),
             "metal": (125, 130, 150), "stone": (75, 70, 65)}
DENSITY = {"cork": 0.24, "wood": 0.6, "ice": 0.92, "stone": 2.6, "metal": 7.8}
SURFACE_TYPES = ("floor", "mirror", "water", "beam", "sand", "jar", "fill")
MIRROR_SHAPES = ("round", "square")
#: ToyWorld v2: a jar's shape, what fills it and how full it is ("more" material than empty
#: space, or "less"); "sand" is also the beach of a place scene
JAR_SHAPES = ("tall", "wide")
FILL_MATERIALS = {"sand": (210, 165, 90), "soil": (110, 75, 45), "water": (105, 160, 225)}
FILL_LEVELS = ("more", "less")
#: where a place scene's object is: on the sand close to the water, on the sand far from it,
#: or in the water
PLACES = ("near", "far", "water")
LIGHT_SIDES = ("left", "right", "above")
EFFECT_TYPES = ("shadow", "reflection", "floating", "sinking", "refraction", "tilt")
SPATIAL_RELATIONS = ("on", "in", "left of", "right of", "above", "next to", "larger than",
                     "far from")
CAUSAL_RELATIONS = ("casts", "reflects", "displaces", "tilts", "refracts")
RELATIONS = SPATIAL_RELATIONS + CAUSAL_RELATIONS

#: allowed attribute values per node kind; ``None`` means "any string"
ATTRIBUTES: dict[str, dict[str, tuple[str, ...]]] = {
    "object": {"colour": tuple(COLOURS), "shape": SHAPES, "material": tuple(MATERIALS),
               "size": SIZES},
    "surface": {"type": SURFACE_TYPES, "shape": MIRROR_SHAPES + JAR_SHAPES, "size": SIZES,
                "material": tuple(FILL_MATERIALS), "level": FILL_LEVELS},
    "light": {"side": LIGHT_SIDES},
    "effect": {"type": EFFECT_TYPES, "side": ("left", "right", "below")},
    "entity": {},   # only in open-world graphs, whose attributes are checked by _check_open_node
}
