"""Causal Scene Graph (CSG): what a ToyWorld prompt means, including what it leaves unsaid.

A scene is a ``networkx.DiGraph`` whose nodes are objects, surfaces, lights and the *effects* they
cause (shadow, reflection, floating, sinking, refraction, tilt); an open-world graph (category
``"open"``, any English prompt) holds entities and effects, derived by :mod:`.world` from the
data files :mod:`.knowledge` reads (``data/lexicon.json``, ``data/rules.json``).  Effects that
the prompt does not state are added by causal rules and marked ``explicit=False``; they are what
diffusion models miss.

Modules: :mod:`.vocabulary` (categories, attribute values, relations), :mod:`.graph` (the model,
its JSON and validation), :mod:`.rules` (the causal rules as a data table), :mod:`.words` (a
ToyWorld prompt's words), :mod:`.grammar` (prompt -> graph), :mod:`.captions` (graph -> prompt),
:mod:`.geometry` (layout and the geometry the renderer and verifier share) and :mod:`.plot` (the
Plotly figure).  What differs per ToyWorld category (its reader, caption, checks, layout, ...)
is the category's module in :mod:`lina_core.toyworld.categories`, looked up in its table.  Everything is re-exported
here (and the private helpers tests use), so ``from lina_core.csg import X`` keeps working.
"""
from __future__ import annotations

from .captions import to_prompt
from .geometry import (BEAM_HALF, BEAM_TILT, BEAM_Y, FLOOR_Y, LIGHT_X, MIRROR_ASPECT, MIRROR_CY,
                       MIRROR_RIM_WIDTH, MIRROR_RX, OBJECT_BASE_ON_MIRROR, OBJECT_W,
                       REFLECTION_SQUASH, SHAPE_ASPECT, WATER_BOX, balance_cube_box, layout)
from .grammar import ParseResult, check_prompt, from_prompt
from .graph import CausalSceneGraph, GraphError, _finite, _short, check_graph_size
from .knowledge import ENV_VAR, Knowledge, add_knowledge, entity_props, knowledge, reset_knowledge
from .plot import CAUSAL_EDGE_COLOUR, KIND_COLOURS, SPATIAL_EDGE_COLOUR, _positions, figure
from .rules import (RULES, SHADOW_FROM_LIGHT, Rule, add_implicit_effects, apply_rule,
                    causal_parents, effect_types)
from .vocabulary import (ATTRIBUTES, CATEGORIES, CAUSAL_RELATIONS, COLOURS, DENSITY, EFFECT_TYPES,
                         GRAPH_CATEGORIES, LIGHT_SIDES, MATERIALS,
                         MIRROR_SHAPES, NODE_KINDS, OPEN_CATEGORY, RELATIONS,
                         SCHEMA_VERSION, SHAPES, SIZES, SPATIAL_RELATIONS,
                         SURFACE_TYPES, FILL_LEVELS, FILL_MATERIALS, JAR_SHAPES, PLACES,
                         TOYWORLD_CATEGORIES, RELATIONAL_CATEGORIES)
from .words import EFFECT_WORDS, FUNCTION_WORDS, SYNONYMS
from .world import add_world_effects, parent_slots, world_parents

# the table of ToyWorld's categories (how each is read, captioned, checked, laid out, drawn),
# filled when its package is imported: here, last, so every import of csg has it and the
# category modules find csg's names defined
from ..toyworld import categories  # noqa: E402,F401  isort: skip

__all__ = [
    "ATTRIBUTES", "BEAM_HALF", "BEAM_TILT", "BEAM_Y", "CATEGORIES", "CAUSAL_EDGE_COLOUR",
    "CAUSAL_RELATIONS", "COLOURS", "CausalSceneGraph", "DENSITY", "EFFECT_TYPES", "EFFECT_WORDS",
    "ENV_VAR", "FLOOR_Y", "FUNCTION_WORDS", "GRAPH_CATEGORIES", "GraphError", "KIND_COLOURS",
    "Knowledge", "LIGHT_SIDES", "LIGHT_X", "MATERIALS", "MIRROR_ASPECT",
    "MIRROR_CY", "MIRROR_RIM_WIDTH", "OPEN_CATEGORY",
    "MIRROR_RX", "MIRROR_SHAPES", "NODE_KINDS", "OBJECT_BASE_ON_MIRROR",
    "OBJECT_W", "ParseResult", "REFLECTION_SQUASH", "RELATIONS", "RULES",
    "Rule", "SCHEMA_VERSION", "SHADOW_FROM_LIGHT", "SHAPES", "SHAPE_ASPECT", "SIZES",
    "SPATIAL_EDGE_COLOUR", "SPATIAL_RELATIONS", "SURFACE_TYPES", "SYNONYMS", "WATER_BOX",
    "add_implicit_effects", "add_knowledge", "add_world_effects", "apply_rule",
    "balance_cube_box", "causal_parents", "check_graph_size", "check_prompt", "effect_types",
    "entity_props", "figure",
    "from_prompt", "knowledge", "layout", "parent_slots", "reset_knowledge", "to_prompt",
    "world_parents", "FILL_LEVELS", "FILL_MATERIALS", "JAR_SHAPES", "PLACES",
    "TOYWORLD_CATEGORIES", "RELATIONAL_CATEGORIES"
]
