"""Open-world scene graphs (issue 13): the model, the world rules and knowledge as data, the
open-world parser, and ToyWorld staying exact."""
from __future__ import annotations

import pytest

import lina_core.csg as csg
from lina_core.csg import CausalSceneGraph, GraphError, add_implicit_effects, to_prompt


def _cat_on_mirror_by_lamp() -> CausalSceneGraph:
    g = CausalSceneGraph("open")
    g.add_node("cat", "entity", noun="cat", color="black")
    g.add_node("mirror", "entity", noun="mirror")
    g.add_node("lamp", "entity", noun="lamp", side="left")
    g.add_edge("cat", "mirror", "on")
    return g


# --------------------------------------------------------------------------- the model


def test_open_graph_validates_and_round_trips():
    g = add_implicit_effects(_cat_on_mirror_by_lamp()).validate()
    d = g.to_dict()
    assert d["category"] == "open"
    assert CausalSceneGraph.from_dict(d).to_dict() == d
    assert CausalSceneGraph.from_json(g.to_json()).to_dict() == d
    for _, data in g.graph.nodes(data=True):
        assert {"kind", "explicit", "attrs"} <= set(data)
        assert "noun" in data["attrs"] or "type" in data["attrs"]


def test_open_category_is_not_a_toyworld_category():
    # the data generator draws from CATEGORIES: "open" must not be among them
    assert "open" not in csg.CATEGORIES and "open" in csg.GRAPH_CATEGORIES


def test_add_implicit_effects_on_open_graph_is_idempotent_and_causal():
    g = add_implicit_effects(_cat_on_mirror_by_lamp())
    types = sorted(g.attr(e, "type") for e in g.effects())
    assert types == ["reflection", "shadow"]
    assert all(not g.node(e)["explicit"] for e in g.effects())
    shadow = g.effects("shadow")[0]
    assert g.attr(shadow, "side") == "right"          # away from a lamp on the left
    assert set(g.graph.predecessors(shadow)) == {"cat", "lamp"}
    assert g.hop_depths()[shadow] == 1
    before = g.to_dict()
    assert add_implicit_effects(g).to_dict() == before


def test_to_prompt_of_open_graph_states_effects_only_when_explicit():
    g = add_implicit_effects(_cat_on_mirror_by_lamp())
    plain, full = to_prompt(g), to_prompt(g, explicit=True)
    assert plain.startswith("a black cat on a mirror") and "reflect" not in plain
    assert "the black cat is reflected in the mirror" in full
    assert "casts a shadow to the right" in full


@pytest.mark.parametrize("mutate, needle", [
    (lambda d: d["nodes"][0]["attrs"].pop("noun"), "needs attribute 'noun'"),
    (lambda d: d["nodes"][3]["attrs"].pop("type"), "needs attribute 'type'"),
    (lambda d: d["nodes"][0]["attrs"].update(color=["a"]), "attribute 'color'"),
    (lambda d: d["edges"][0].update(relation=""), "relation"),
    (lambda d: d["nodes"][0].update(kind="thing"), "kind 'thing'"),
    (lambda d: [d["edges"].remove(e) for e in list(d["edges"]) if e["target"] == "reflection_cat"],
     "effect has no cause"),
])
def test_open_validation_names_the_culprit(mutate, needle):
    d = add_implicit_effects(_cat_on_mirror_by_lamp()).to_dict()
    assert d["nodes"][3]["kind"] == "effect"
    mutate(d)
    with pytest.raises(GraphError, match=needle):
        CausalSceneGraph.from_dict(d)


def test_entity_nodes_are_refused_in_toyworld_graphs():
    d = csg.from_prompt("a red ball on a round mirror").graph.to_dict()
    d["nodes"].append({"id": "cat", "kind": "entity", "attrs": {"noun": "cat"}})
    with pytest.raises(GraphError, match="open-world"):
        CausalSceneGraph.from_dict(d)


def test_causal_parents_answer_for_open_world_effects():
    assert ("entity", "material") in csg.causal_parents("floats")
    assert csg.causal_parents("reflection") == (("object", "size"), ("mirror", "size"))
    assert ("entity", "noun") in csg.causal_parents("reflection", category="open")
    g = add_implicit_effects(_cat_on_mirror_by_lamp())
    assert ("mirror", "noun") in csg.parent_slots(g, g.effects("reflection")[0])
    assert ("cat", "size") in csg.parent_slots(g, g.effects("reflection")[0])
