"""Open-world scene graphs (issue 13): the model, the world rules and knowledge as data, the
open-world parser, and ToyWorld staying exact."""
from __future__ import annotations

import json

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


# --------------------------------------------------------------------------- helpers

from lina_core.csg import from_prompt  # noqa: E402


def parse(text: str) -> CausalSceneGraph:
    r = from_prompt(text)
    assert r.domain == "open", f"{text!r} was read by ToyWorld"
    return r.graph


def noun_of(g: CausalSceneGraph, n: str) -> str:
    return g.attr(n, "noun")


def effect_types(g: CausalSceneGraph) -> list[str]:
    return sorted(g.attr(e, "type") for e in g.effects())


def role_edges(g: CausalSceneGraph) -> set[tuple[str, str, str]]:
    """(source noun, relation, target noun) between entities."""
    ents = set(g.nodes("entity"))
    return {(noun_of(g, u), r, noun_of(g, v)) for u, v, r in g.graph.edges(data="relation")
            if u in ents and v in ents}


# --------------------------------------------------------------------------- the paper's examples


def test_a_bird_eats_a_snake():
    g = parse("a bird eats a snake")
    assert sorted(noun_of(g, n) for n in g.nodes("entity")) == ["bird", "snake"]
    assert role_edges(g) == {("bird", "eat", "snake")}
    assert to_prompt(g, explicit=True) == "a bird eats a snake"


@pytest.mark.parametrize("first, second, agent, patient", [
    ("a bird eats a snake", "a snake eats a bird", "bird", "snake"),
    ("a dog chases a cat", "a cat chases a dog", "dog", "cat"),
    ("the woman feeds the baby", "the baby feeds the woman", "woman", "baby"),
])
def test_winoground_orderings_give_opposite_role_edges(first, second, agent, patient):
    a, b = parse(first), parse(second)
    (ea,), (eb,) = role_edges(a), role_edges(b)
    assert ea[0] == agent and ea[2] == patient
    assert eb == (ea[2], ea[1], ea[0])


def test_a_passive_keeps_the_agent():
    assert role_edges(parse("a snake is eaten by a bird")) == {("bird", "eat", "snake")}
    assert role_edges(parse("the cat is chased by the dog")) == {("dog", "chase", "cat")}


@pytest.mark.parametrize("text, unknown", [
    ("a man is rowing a boat", "rowing"),
    ("a man rowing a boat", "rowing"),
    ("a man rows a boat", "rows"),
    ("the boat is rowed by the man", "rowed"),
])
def test_a_verb_not_in_the_lexicon_still_acts_from_agent_to_patient(text, unknown):
    r = from_prompt(text)
    assert r.domain == "open" and role_edges(r.graph) == {("man", "row", "boat")}
    assert r.unknown_words == [unknown]   # still reported: the lexicon does not know it


def test_a_verb_that_can_stand_alone_still_takes_a_direct_object():
    assert role_edges(parse("a woman walking a dog")) == {("woman", "walk", "dog")}
    assert role_edges(parse("a boy is flying a kite")) == {("boy", "fly", "kite")}
    g = parse("a dog walking on the sand")   # no object: the walk is the dog's own
    assert role_edges(g) == {("dog", "on", "sand")} and g.attr("dog", "action") == "walk"


@pytest.mark.parametrize("word, lemma", [
    ("running", "run"), ("baking", "bake"), ("chased", "chase"), ("carries", "carry"),
    ("pushes", "push"), ("painting", "paint"), ("hugged", "hug"), ("glass", None),
    ("this", None), ("bus", None),
])
def test_an_unknown_verb_form_is_read_back_to_its_lemma(word, lemma):
    from lina_core.csg.parser import _verb_lemma
    assert _verb_lemma(word) == lemma


def test_an_unknown_word_not_between_two_noun_phrases_is_no_action():
    g = parse("a zorblax sitting on a mirror with a glimmerpot")
    assert not any(r not in ("on", "with") for _, r, _ in role_edges(g))
    assert role_edges(parse("a cat blinking on a mirror")) == {("cat", "on", "mirror")}
    assert role_edges(parse("on a mirror blinks a cat")) == {("cat", "on", "mirror")}


def test_a_person_close_to_the_water_and_in_the_sand():
    g = parse("a person is close to the water and in the sand")
    assert role_edges(g) == {("person", "close to", "water"), ("person", "in", "sand")}
    assert effect_types(g) == ["footprints"]
    (e,) = g.effects()
    assert not g.node(e)["explicit"] and set(g.graph.predecessors(e)) == {"person", "sand"}
    assert to_prompt(g, explicit=True) == ("a person close to the water and in the sand, and "
                                           "the person leaves footprints in the sand")


def test_more_dirt_than_empty_space_in_the_jar():
    g = parse("there is more dirt than empty space in the jar")
    assert sorted(noun_of(g, n) for n in g.nodes("entity")) == ["dirt", "jar", "space"]
    assert g.attr("space", "state") == "empty"
    assert {("dirt", "more than", "space"), ("dirt", "in", "jar"),
            ("space", "in", "jar")} <= role_edges(g)
    (fill,) = g.effects("fill")
    assert g.attr(fill, "level") == "more than half"
    assert to_prompt(g, explicit=True).endswith("the jar is more than half full of dirt")


def test_a_cat_sitting_on_a_mirror_has_a_reflection():
    g = parse("a cat sitting on a mirror")
    assert role_edges(g) == {("cat", "on", "mirror")}
    assert effect_types(g) == ["reflection"]
    assert g.hop_depths()[g.effects()[0]] == 1
    assert to_prompt(g, explicit=True) == ("a cat on a mirror, and the cat is reflected in the "
                                           "mirror")


@pytest.mark.parametrize("text", [
    "a red sphere resting on a mirror, lit from the left",
    "a red ball on a mirror under a lamp",
    "a green block on a mirror in the sun",
    "a ball on a mirror lit by a torch",
])
def test_a_mirror_and_a_light_give_both_reflection_and_shadow(text):
    g = parse(text)
    assert effect_types(g) == ["reflection", "shadow"]


def test_shadow_falls_away_from_the_light():
    g = parse("a red sphere resting on a mirror, lit from the left")
    assert g.attr(g.effects("shadow")[0], "side") == "right"
    assert "casts a shadow to the right" in to_prompt(g, explicit=True)


# --------------------------------------------------------------------------- buoyancy by material


def test_a_rubber_duck_floats_in_a_still_pond_and_is_reflected():
    g = parse("a rubber duck in a still pond")
    assert effect_types(g) == ["floats", "reflection", "refraction"]
    depth = g.hop_depths()
    assert depth[g.effects("floats")[0]] == 1
    # the reflection and the refraction depend on the duck floating: two hops
    assert depth[g.effects("reflection")[0]] == 2 and depth[g.effects("refraction")[0]] == 2


@pytest.mark.parametrize("text", ["a swan on a still lake", "a wooden log on a calm river"])
def test_what_floats_on_the_water_crosses_its_surface_and_is_refracted(text):
    # floating "on" the water is as much partly submerged as floating "in" it
    g = parse(text)
    assert effect_types(g) == ["floats", "reflection", "refraction"]
    assert g.hop_depths()[g.effects("refraction")[0]] == 2
    # what is on a frozen lake neither floats nor is refracted; a thin flat leaf lies on
    # the surface without crossing it
    assert "refraction" not in effect_types(parse("a penguin standing on a frozen lake"))
    assert effect_types(parse("a leaf floating on a still pond")) == ["floats", "reflection"]


def test_an_iron_anchor_sinks_and_a_rough_lake_reflects_nothing():
    g = parse("an iron anchor in the lake")
    assert effect_types(g) == ["sinks"]
    assert effect_types(parse("a rubber duck in a rough pond")) == ["floats", "refraction"]


def test_the_stated_material_decides_not_the_noun():
    # a wooden anchor floats (and a lake, still water, mirrors what floats on it)
    assert effect_types(parse("a wooden anchor in the lake")) == ["floats", "reflection",
                                                                  "refraction"]
    assert effect_types(parse("a stone duck in a pond")) == ["sinks"]


def test_tilt_toward_the_heavier():
    g = parse("an elephant and a mouse on a seesaw")
    (t,) = g.effects("tilt")
    assert g.attr(t, "toward") == "elephant"
    g = parse("a mouse and an elephant on a seesaw")
    assert g.attr(g.effects("tilt")[0], "toward") == "elephant"


def test_stated_effects_are_explicit():
    g = parse("a duck floating in a pond")
    assert g.node(g.effects("floats")[0])["explicit"]
    assert not g.node(g.effects("refraction")[0])["explicit"]


# --------------------------------------------------------------------------- unknown and refused


def test_unknown_words_are_reported_never_a_crash():
    r = from_prompt("a zorblax sitting on a mirror with a glimmerpot")
    assert r.domain == "open"
    assert r.unknown_words == ["zorblax", "glimmerpot"]
    # an unknown word where a noun must be is still an entity (and its mirror still reflects)
    assert [noun_of(r.graph, n) for n in r.graph.nodes("entity")] == ["zorblax", "mirror",
                                                                      "glimmerpot"]
    assert effect_types(r.graph) == ["reflection"]


@pytest.mark.parametrize("text, understood", [
    ("very quickly and quietly", "and (and)"),
    ("red and shiny, on top of", "red (attribute)"),
])
def test_refused_inputs_say_what_was_understood(text, understood):
    with pytest.raises(GraphError, match="no scene recognised") as err:
        from_prompt(text)
    assert "understood: " in str(err.value) and understood in str(err.value)
    assert "unknown words:" in str(err.value)


@pytest.mark.parametrize("text", ["", "!!!", "the the the", "a of in on by", "than more",
                                  "it is lit", "two", "and , ; .", "x" * 500])
def test_odd_inputs_only_raise_graph_error(text):
    try:
        r = from_prompt(text)
    except GraphError:
        return
    r.graph.validate()
    to_prompt(r.graph, explicit=True)


# --------------------------------------------------------------------------- ToyWorld stays exact


def _generator_prompts() -> list[str]:
    """Every caption the data generator writes (all templates, exhaustively; and each one's
    causal completion), plus the captions of the first scenes of every split and category."""
    import itertools

    from lina_core.toyworld.data import ALL_SPLITS, sample_scene
    P = [f"a {a} {b} {c} on a {d} {e} mirror" for a, b, c, d, e in itertools.product(
        csg.SIZES, csg.COLOURS, csg.SHAPES, csg.SIZES, csg.MIRROR_SHAPES)]
    P += [f"a {b} {c} on the floor, lit from " + ("above" if s == "above" else f"the {s}")
          for b, c, s in itertools.product(csg.COLOURS, csg.SHAPES, csg.LIGHT_SIDES)]
    P += [f"a {m} {c} in a beaker of water" for m, c in itertools.product(csg.MATERIALS,
                                                                          csg.SHAPES)]
    P += [f"a {a} cube and a {b} cube on a balance"
          for a, b in itertools.permutations(csg.MATERIALS, 2)]
    P += [f"a {c1} {s1} {r} than a {c2} {s2}" for c1, c2 in itertools.permutations(csg.COLOURS, 2)
          for s1, s2, r in itertools.product(csg.SHAPES, csg.SHAPES, ("larger", "smaller"))]
    P += [s.caption(ex) for split in ALL_SPLITS for cat in csg.CATEGORIES for i in range(120)
          for s in [sample_scene(split, i, cat)] for ex in (False, True)]
    return P + [to_prompt(from_prompt(p).graph, explicit=True) for p in P[:565]]


#: sha256 of every generator prompt's {graph JSON, unknown words}, dumped before the open-world
#: parser existed (1165 distinct prompts): the ToyWorld graphs, boxes included, are unchanged
#: issue 25: captions say "an ice cube" (were "a ice cube"): 11 captions more (the templates above
#: still write "a ice"); with "an ice" read as "a ice" the 1165 graphs and the old digest
#: (8760f315...) are unchanged
TOYWORLD_GOLDEN = "eac7ceb31a660bf12b3168a70221a46f43d4296a1dae55c85bc2b321bf780800"


@pytest.mark.slow   # parses ~1,200 generator prompts: over 4 s on 2 cores
def test_toyworld_prompts_give_the_same_graphs_as_before():
    import hashlib
    import json
    out = {}
    for c in _generator_prompts():
        if c not in out:
            r = from_prompt(c)
            assert r.domain == "toyworld", c
            out[c] = {"graph": r.graph.to_dict(), "unknown": r.unknown_words}
    assert len(out) == 1176
    digest = hashlib.sha256(json.dumps(out, sort_keys=True).encode()).hexdigest()
    assert digest == TOYWORLD_GOLDEN


def test_inflect_is_imported_without_its_run_time_type_checks():
    """typeguard's decorator on inflect's methods re-parsed inflect's source once per method at
    import (2.8 s in every process that reads a prompt) and checked every call's types."""
    import inflect
    from lina_core.csg.knowledge import ENGLISH
    for name in ("singular_noun", "plural_noun", "a", "present_participle"):
        code = getattr(inflect.engine, name).__code__
        assert "check_argument_types_internal" not in code.co_names, name
    assert (ENGLISH.singular_noun("balls"), ENGLISH.plural_noun("cube"), ENGLISH.a("ice cube"),
            ENGLISH.present_participle("run")) == ("ball", "cubes", "an ice cube", "running")


def test_toyworld_is_one_domain_of_from_prompt():
    from lina_core.csg.grammar import _toyworld_read
    text = "a large red ball on a small round mirror"
    r = from_prompt(text)
    assert r.domain == "toyworld" and r.graph.to_dict() == _toyworld_read(text)[0].graph.to_dict()
    # ToyWorld would keep one cause of two: the open world keeps both
    assert from_prompt("a red ball on a round mirror, lit from the left").domain == "open"


@pytest.mark.parametrize("text, nouns", [
    # a second object where the category has one: ToyWorld would drop it
    ("a blue cube and a red sphere on a mirror", ["cube", "mirror", "sphere"]),
    ("a red ball and a green cone in a beaker of water", ["ball", "beaker", "cone", "water"]),
    # shapes ToyWorld would rewrite (a balance holds cubes) or a colour it would drop
    ("an iron ball and a cork ball on a seesaw", ["ball", "ball", "seesaw"]),
    ("a red wooden ball in water", ["ball", "water"]),
    # a material ToyWorld would drop (its reflection scenes are coloured)
    ("an iron ball on a mirror", ["ball", "mirror"]),
    # a colour said of the mirror (ToyWorld's mirrors have none)
    ("a red ball on a blue mirror", ["ball", "mirror"]),
])
def test_toyworld_hands_off_what_it_would_drop_or_rewrite(text, nouns):
    g = parse(text)
    assert sorted(noun_of(g, n) for n in g.nodes("entity")) == nouns
    kept = {(g.attr(n, "color"), g.attr(n, "material")) for n in g.nodes("entity")}
    for word in ("blue", "red", "iron", "cork", "wood"):
        if word in text.split() or f"{word}en" in text.split():
            assert any(word in (c, m) for c, m in kept), word


def test_toyworld_keeps_the_objects_it_states_as_they_are():
    for text in ("a small red ball on a large round mirror", "a wood cube and a cork cube on "
                 "a balance", "a metal ball in a beaker of water"):
        assert from_prompt(text).domain == "toyworld", text


# --------------------------------------------------------------------------- knowledge as data


@pytest.fixture
def fresh_knowledge():
    csg.reset_knowledge()
    yield csg
    csg.reset_knowledge()


def test_a_user_lexicon_entry_takes_effect(fresh_knowledge):
    assert effect_types(parse("a brick in a vat of glorp")) == []
    csg.add_knowledge({"lexicon": {"nouns": {"glorp": {"class": "liquid", "density": 3.0}}}})
    # denser than brick (1.9): the brick floats in it
    assert effect_types(parse("a brick in a vat of glorp")) == ["floats", "refraction"]
    csg.reset_knowledge()
    assert effect_types(parse("a brick in a vat of glorp")) == []


def test_a_user_rule_takes_effect(fresh_knowledge, tmp_path, monkeypatch):
    rule = {"name": "wet", "effect": "wet", "relation": "soaks", "link": ["in"],
            "subject": {"class": "person"}, "object": {"liquid": True}, "hop": 1,
            "parents": [["object", "noun"]], "phrase": "{subject} is wet from {object}"}
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"rules": [rule]}))
    assert "wet" not in effect_types(parse("a man in a lake"))
    monkeypatch.setenv(csg.ENV_VAR, str(path))
    csg.reset_knowledge()
    g = parse("a man in a lake")
    assert "wet" in effect_types(g)
    assert "the man is wet from the lake" in to_prompt(g, explicit=True)
    assert csg.causal_parents("wet") == (("entity", "noun"),)


def test_a_user_rule_replaces_one_of_the_same_name(fresh_knowledge):
    assert effect_types(parse("a cat on a mirror")) == ["reflection"]
    csg.add_knowledge({"rules": [{"name": "reflection", "effect": "reflection",
                                  "relation": "reflects", "link": ["under"]}]})
    assert effect_types(parse("a cat on a mirror")) == []


@pytest.mark.parametrize("bad, needle", [
    ({"rules": [{"name": "x", "relation": "r", "link": ["on"]}]}, "needs 'effect'"),
    ({"rules": [{"name": "x", "effect": "e", "link": ["on"]}]}, "causal 'relation'"),
    ({"rules": [{"name": "x", "effect": "e", "relation": "r", "link": 3}]}, "link must be"),
    ({"lexicon": {"verbz": {}}}, "lexicon sections"),
    ({"grammar": {}}, "keys 'lexicon'"),
])
def test_bad_knowledge_is_refused_with_a_message(fresh_knowledge, bad, needle):
    with pytest.raises(GraphError, match=needle):
        csg.add_knowledge(bad)


def test_shipped_rules_are_documented():
    for rule in csg.knowledge().rules:
        assert rule.get("doc") and rule.get("phrase"), rule["name"]


# --------------------------------------------------------------------------- phrasings


def _phrasing_ok(item: dict) -> bool:
    """Entities (a multiset of nouns), the required edges and the exact effect types.  A
    prompt ToyWorld reads is judged in ToyWorld's words: its shapes and surface types, its
    synonyms ("orb" is a ball), "floating"/"sinking" for floats/sinks, its implied floor."""
    try:
        g = from_prompt(item["prompt"]).graph
    except GraphError:
        return False
    name = (lambda w: w) if g.is_open else (lambda w: csg.SYNONYMS.get(w, w))
    want = sorted(name(w) for w in item["entities"])
    if g.is_open:
        have, edges, effects = (sorted(noun_of(g, n) for n in g.nodes("entity")),
                                role_edges(g), effect_types(g))
    else:
        label = {n: g.attr(n, "type") if g.node(n)["kind"] == "surface" else
                 g.attr(n, "shape") or g.node(n)["kind"] for n in g.nodes()}
        fills = [n for n in g.nodes() if label[n] == "fill"]   # v2: a material at a level
        label.update({n: g.attr(n, "material") for n in fills})
        have = sorted(label[n] for n in g.nodes() if g.node(n)["kind"] != "effect"
                      and not (label[n] == "floor" and "floor" not in want))
        edges = {(label[u], r, label[v]) for u, v, r in g.graph.edges(data="relation")}
        fate = {"floating": "floats", "sinking": "sinks"}
        effects = sorted([fate.get(t, t) for t in effect_types(g)] + ["fill"] * bool(fills))
    return (have == want and {(name(a), r, name(b)) for a, r, b in item["edges"]} <= edges
            and sorted(set(effects)) == sorted(set(item["effects"])))


def _rate(name: str) -> float:
    import json
    from pathlib import Path
    items = json.loads((Path(__file__).parent / "data" / name).read_text())["phrasings"]
    return sum(_phrasing_ok(i) for i in items) / len(items)


def test_phrasing_rate():
    assert _rate("open_world_phrasings.json") >= 0.9


@pytest.mark.parametrize("name, floor", [
    # written after the parser was tuned on the set above: first measured at 50 % and 75 %;
    # after general fixes (not written for their prompts) 75 % and 80 %
    ("open_world_heldout.json", 0.8),   # 16/20 after round 2 ("at sunset")
    # 19/20 after issue 13's fixes
    ("open_world_heldout2.json", 0.95),
    # written by the lead without looking at the parser's rules, split in two before any
    # tuning: dev (tuned on: 17/20 -> 20/20) and test (never shown to the tuner: 17/20 before,
    # 19/20 after)
    ("open_world_lead_dev.json", 1.0),
    ("open_world_lead_test.json", 1.0),   # 20/20 after issue 13's fixes (rowing on a lake)
    # issue 13 (docs/parser_rates.md): set A written before reading the parser (27/40 -> 37/40
    # after general fixes); set B written after those, scored once (31/40), then tuned on
    # (37/40); set C written after all fixes, scored once, never tuned on (31/40: the figure)
    # round 2 (general fixes for set C's failure kinds, so C is tuned on now): A 38/40, B 40/40,
    # C 40/40; set D written after round 2, scored once: 35/40 (the held-out figure), then 38/40
    # after three general fixes made for its failure kinds (tested below on other prompts)
    ("open_world_set_a.json", 0.95),
    ("open_world_set_b.json", 1.0),
    ("open_world_set_c.json", 1.0),
    ("open_world_set_d.json", 1.0),   # 40/40 after round 3 (light sources, 'by' after a place)
    # round 3: set E written after round 3's fixes, scored once, never tuned on: 37/40
    ("open_world_set_e.json", 0.925),
])
def test_held_out_phrasing_rate(name, floor):
    assert _rate(name) >= floor


def test_captions_of_open_graphs_read_back_with_every_effect_stated():
    import json
    from pathlib import Path
    items = json.loads((Path(__file__).parent / "data" / "open_world_phrasings.json").read_text())
    for item in items["phrasings"]:
        g = from_prompt(item["prompt"]).graph
        if not g.is_open:
            continue
        h = from_prompt(to_prompt(g, explicit=True)).graph
        assert sorted(noun_of(h, n) for n in h.nodes("entity")) == \
            sorted(noun_of(g, n) for n in g.nodes("entity")), item["prompt"]
        assert effect_types(h) == effect_types(g), item["prompt"]
        assert not h.implicit_nodes(), item["prompt"]


def test_a_side_belongs_to_the_entity_just_named():
    g = parse("a small box on a mirror with a lamp to its right")
    assert g.attr("lamp", "side") == "right" and g.attr("box", "side") is None
    assert g.attr(g.effects("shadow")[0], "side") == "left"


def test_a_container_full_of_liquid_holds_what_is_in_it():
    g = parse("a blue ball in a fish tank full of water")
    assert ("water", "in", "tank") in role_edges(g)
    assert effect_types(g) == ["floats", "refraction"]
    assert set(g.graph.predecessors(g.effects("floats")[0])) == {"ball", "water"}


def test_donors_refuse_open_world_graphs_with_a_message():
    from lina_core.donors import DonorError, structure_donor
    with pytest.raises(DonorError, match="open-world"):
        structure_donor(parse("a cat sitting on a mirror"))


def test_the_toyworld_renderer_refuses_open_world_graphs_with_a_message():
    from lina_core.toyworld.render import render
    with pytest.raises(GraphError, match="open-world"):
        render(parse("a cat sitting on a mirror"), 64)


def test_a_stated_material_weighs_on_a_balance():
    g = parse("a heavy iron cube and a light cork cube on a balance")
    (t,) = g.effects("tilt")
    assert g.attr(g.attr(t, "heavier"), "material") == "iron"
    assert to_prompt(g, explicit=True).endswith("the balance tilts down toward the heavy iron "
                                                "cube")


# --------------------------------------------------------------------------- any edited graph

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_NOUNS = ["cat", "mirror", "lamp", "pond", "duck", "anchor", "seesaw", "sand", "jar", "dirt",
          "zorblax", "sun", "glass", "water"]
_RELS = ["on", "in", "under", "next to", "more than", "eat", "left of", "lights", "with", "x"]
_VALUES = st.one_of(st.sampled_from(["iron", "rubber", "still", "left", "large", "red", "2"]),
                    st.integers(-3, 5), st.booleans(), st.floats(-10, 10))


@st.composite
def open_graphs(draw) -> CausalSceneGraph:
    """Open-world graphs as an editor may leave them: any nouns, relations, attributes."""
    g = CausalSceneGraph("open")
    n = draw(st.integers(1, 5))
    for i in range(n):
        attrs = draw(st.dictionaries(st.sampled_from(["material", "state", "side", "count",
                                                      "size", "color", "action"]), _VALUES,
                                     max_size=3))
        g.add_node(f"e{i}", "entity", noun=draw(st.sampled_from(_NOUNS)), **attrs)
    for _ in range(draw(st.integers(0, 6))):
        u, v = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        if u != v:
            g.add_edge(f"e{u}", f"e{v}", draw(st.sampled_from(_RELS)))
    return g


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(open_graphs())
def test_any_valid_open_graph_takes_the_rules_and_reads_as_english(g):
    g.validate()
    add_implicit_effects(g).validate()
    once = g.to_dict()
    assert add_implicit_effects(g).to_dict() == once            # idempotent
    assert CausalSceneGraph.from_dict(once).to_dict() == once   # JSON round trip
    depths = g.hop_depths()
    assert all(depths[e] >= 1 for e in g.effects())
    for explicit in (False, True):
        assert isinstance(to_prompt(g, explicit=explicit), str)


@pytest.mark.parametrize("text, edge", [
    ("on a mirror sits a cat", ("cat", "on", "mirror")),
    ("in the still pond, a duck swims", ("duck", "in", "pond")),
    ("under a bright lamp, a red cube", ("cube", "under", "lamp")),
])
def test_a_place_said_first_belongs_to_the_subject_after_it(text, edge):
    assert edge in role_edges(parse(text))


# --------------------------------------------------------------------------- issue 13, set A's fixes


@pytest.mark.parametrize("text, mirrored", [
    ("a coin lying on a pond", False),        # it sinks: nothing on the surface to mirror
    ("a rubber duck on a pond", True),        # it floats on the surface
    ("a bird flying above a still pond", True),
    ("a coin on a mirror", True),
])
def test_still_water_mirrors_only_what_floats_on_it_or_is_above_it(text, mirrored):
    assert ("reflection" in effect_types(parse(text))) is mirrored


@pytest.mark.parametrize("text, falls", [
    ("a ball dropped from a balcony", True),
    ("an apple falling from a tree", True),
    ("a ball on a balcony", False),
])
def test_what_is_dropped_or_falls_from_a_place_falls(text, falls):
    g = parse(text)
    assert ("falls" in effect_types(g)) is falls
    if falls:
        (e,) = g.effects("falls")
        assert {noun_of(g, u) for u, _ in g.graph.in_edges(e)} == set(text.split()[1:2]) | \
            {text.split()[-1]}


def test_what_floats_down_a_river_floats_along_it():
    g = parse("a log floating down a river")
    assert ("log", "along", "river") in role_edges(g)
    assert effect_types(g) == ["floats", "refraction"]


def test_an_unknown_verb_before_a_place_is_the_subjects_action():
    g = parse("a copper coin tossed into a pond")
    (coin,) = [n for n in g.nodes("entity") if noun_of(g, n) == "coin"]
    assert g.attr(coin, "action") == "toss"
    assert effect_types(g) == ["sinks", "splash"]


@pytest.mark.parametrize("text, placed, not_placed", [
    ("a man rowing a boat on a calm lake", [("boat", "on", "lake")], [("man", "on", "lake")]),
    ("a woman walking a dog on the beach", [("woman", "on", "beach"), ("dog", "on", "beach")],
     []),
    ("a lantern hangs above a red cube on the floor", [("cube", "on", "floor")],
     [("lantern", "on", "floor")]),
])
def test_a_place_after_an_object_places_what_can_be_there(text, placed, not_placed):
    edges = role_edges(parse(text))
    assert set(placed) <= edges and not set(not_placed) & edges


def test_the_man_rowing_on_the_lake_leaves_the_boat_afloat():
    assert effect_types(parse("a man rowing a boat on a calm lake")) == \
        ["floats", "reflection", "refraction"]


def test_a_companion_on_a_balance_sits_on_it_too():
    g = parse("a girl on a seesaw with her father")
    assert {("girl", "on", "seesaw"), ("father", "on", "seesaw")} <= role_edges(g)
    assert effect_types(g) == ["tilt"]
    assert ("girl", "with", "dog") in role_edges(parse("a girl with a dog"))


@pytest.mark.parametrize("text, edge, effects", [
    ("a bucket with water", ("water", "in", "bucket"), []),
    ("a jar with less honey than empty space", ("honey", "less than", "space"), ["fill"]),
])
def test_with_a_container_holds(text, edge, effects):
    g = parse(text)
    assert edge in role_edges(g) and effect_types(g) == effects


def test_an_unknown_noun_before_an_unknown_verb_heads_its_phrase():
    g = parse("a gondolier rowing a boat")
    assert sorted(noun_of(g, n) for n in g.nodes("entity")) == ["boat", "gondolier"]
    assert ("gondolier", "row", "boat") in role_edges(g)


def test_an_effect_named_before_its_entity_is_that_entitys():
    g = parse("reflections of the trees in a still lake")
    (e,) = g.effects("reflection")
    assert g.node(e)["explicit"] and [noun_of(g, u) for u, _ in g.graph.in_edges(e)] == ["tree"]


def test_a_multiword_noun_is_found_in_the_plural():
    g = parse("ice cubes on a hot stove")
    assert sorted(noun_of(g, n) for n in g.nodes("entity")) == ["ice cube", "stove"]
    (ice,) = [n for n in g.nodes("entity") if noun_of(g, n) == "ice cube"]
    assert g.attr(ice, "count") == "several"
    assert effect_types(g) == ["melts"]


# --------------------------------------------------------------------------- issue 13, set B's fixes
# (made after set B was scored; set C, written after them, gives the held-out figure)


def test_a_reduced_passive_keeps_the_agent():
    assert ("monkey", "push", "child") in role_edges(parse("a child pushed by a monkey"))
    assert ("vase", "next to", "window") in role_edges(parse("a vase placed by a window"))


@pytest.mark.parametrize("text, noun, attr", [
    ("a grey pigeon perched on a marble statue", "statue", ("material", "marble")),
    ("a light backpack on a chair", "backpack", ("state", "light")),
])
def test_a_noun_word_with_an_adjective_reading_before_an_unknown_noun_is_its_adjective(
        text, noun, attr):
    g = parse(text)
    nouns = [noun_of(g, n) for n in g.nodes("entity")]
    assert noun in nouns and "marble" not in nouns and "light" not in nouns
    (n,) = [n for n in g.nodes("entity") if noun_of(g, n) == noun]
    assert g.attr(n, attr[0]) == attr[1]


def test_a_stated_effect_takes_the_rules_that_follow_from_it():
    # "lemon" has no density in the lexicon: floating is only stated, and refraction follows
    assert effect_types(parse("a lemon floating in a jug of water")) == ["floats", "refraction"]


def test_a_collective_noun_counts_what_follows_it():
    g = parse("a stack of three books on a desk")
    assert sorted(noun_of(g, n) for n in g.nodes("entity")) == ["book", "desk"]
    (book,) = [n for n in g.nodes("entity") if noun_of(g, n) == "book"]
    assert g.attr(book, "count") == 3 and ("book", "on", "desk") in role_edges(g)


def test_an_unknown_noun_after_a_comparative_of_amounts_is_an_entity():
    g = parse("a bowl holding fewer cherries than grapes")
    assert ("cherry", "fewer than", "grape") in role_edges(g)
    assert effect_types(g) == ["fill"]


@pytest.mark.parametrize("text, prints", [
    ("a horse galloping through a muddy field", True),
    ("a dog swimming in a muddy pond", False),   # a liquid takes no footprints
])
def test_a_muddy_or_snowy_place_takes_footprints(text, prints):
    assert ("footprints" in effect_types(parse(text))) is prints


# --------------------------------------------------------------------------- issue 13, round 2
# (general fixes for set C's failure kinds; tested on prompts in no phrasing set)


@pytest.mark.parametrize("text, effects", [
    ("a boy kicks a stone into a pond", ["sinks", "splash"]),
    ("a girl pushes her brother into a lake", ["splash"]),   # a person: no fate by density
    ("a woman throws a ball off a roof", ["falls"]),
])
def test_what_is_thrown_or_pushed_into_a_place_moves_by_that_verb(text, effects):
    assert effect_types(parse(text)) == effects


@pytest.mark.parametrize("text, action, state", [
    ("a boy jumps into a swimming pool", "jump", None),
    ("a cat sits beside a sleeping dog", "sit", "sleeping"),
])
def test_an_ing_form_inside_a_noun_phrase_describes_its_noun(text, action, state):
    g = parse(text)
    subject = g.nodes("entity")[0]
    assert g.attr(subject, "action") == action
    if state:
        assert g.attr(g.nodes("entity")[1], "state") == state


def test_an_effect_word_after_a_determiner_is_a_noun():
    g = parse("a cup next to the sink")
    assert sorted(noun_of(g, n) for n in g.nodes("entity")) == ["cup", "sink"]
    assert "sinks" not in effect_types(g)
    assert "sinks" in effect_types(parse("an iron key sinks in a bucket of water"))


def test_the_same_noun_with_different_attributes_is_two_entities():
    g = parse("fewer green apples than yellow apples in a basket")
    assert sorted(noun_of(g, n) for n in g.nodes("entity")) == ["apple", "apple", "basket"]
    assert ("apple", "fewer than", "apple") in role_edges(g)
    assert effect_types(g) == ["fill"]
    assert len(parse("a red ball and then the red ball again").nodes("entity")) == 1


@pytest.mark.parametrize("text, noun, effect", [
    ("a golf ball in a bucket of water", "ball", "sinks"),     # a golf ball is a ball that sinks
    ("a tennis ball in a bucket of water", "ball", "floats"),
    ("a toy boat in a bathtub of water", "boat", "floats"),
])
def test_a_compound_is_named_by_its_head_with_its_own_properties(text, noun, effect):
    g = parse(text)
    assert noun in [noun_of(g, n) for n in g.nodes("entity")]
    assert effect in effect_types(g)
    assert to_prompt(g).startswith(" ".join(text.split()[:3]))   # the caption keeps "golf ball"


def test_unknown_nouns_weigh_but_have_no_fate_in_water():
    g = parse("a blorptube and a feather on a seesaw")   # an unknown noun has a mass
    assert effect_types(g) == ["tilt"]
    assert effect_types(parse("a blorptube in a bucket of water")) == []   # but no density


@pytest.mark.parametrize("text, effects", [
    ("a heavy crate and a light crate on a seesaw", ["tilt"]),
    ("a goose standing on an icy lake", ["reflection"]),
    ("a grandmother and a toddler on a seesaw", ["tilt"]),
    ("a camel and a zebra walking through the sand", ["footprints"]),
    ("a watermelon floating in a tub of water", ["floats", "refraction"]),
])
def test_the_round_two_lexicon_covers_common_nouns_and_states(text, effects):
    g = parse(text)
    assert sorted(set(effect_types(g))) == effects
    if "heavy" in text:
        (t,) = g.effects("tilt")
        assert g.attr(g.attr(t, "heavier"), "state") == "heavy"


# (made after set D was scored; D's held-out figure stays its first score, 35/40)


def test_an_unknown_verb_before_by_is_a_reduced_passive():
    assert ("otter", "rescue", "duckling") in role_edges(parse("a duckling rescued by an otter"))


def test_an_unknown_noun_after_of_is_what_the_container_holds():
    g = parse("a sack of rice and a pebble on a seesaw")
    assert ("rice", "in", "sack") in role_edges(g) and ("pebble", "on", "seesaw") in role_edges(g)
    assert ("pebble", "in", "sack") not in role_edges(g)


def test_a_stated_fill_level_holds_what_it_is_full_of():
    g = parse("a bathtub more than half full of water")
    assert ("water", "in", "bathtub") in role_edges(g) and effect_types(g) == ["fill"]


# round 3 (docs/parser_rates.md): general fixes, each tested on prompts in no set
def _parsed(prompt: str):
    g = from_prompt(prompt).graph
    return (sorted(noun_of(g, n) for n in g.nodes("entity")), role_edges(g),
            set(effect_types(g)))


@pytest.mark.parametrize("prompt", ["a lamp above a still pond",
                                    "a lantern hanging over a frozen pond",
                                    "the sun above a calm sea"])
def test_a_light_source_is_reflected(prompt):
    assert "reflection" in _parsed(prompt)[2]


def test_a_passive_by_after_a_place_names_an_agent_or_a_place():
    _, edges, effects = _parsed("a glass dropped onto the floor by a boy")
    assert ("boy", "drop", "glass") in edges and ("glass", "on", "floor") in edges
    _, edges, _ = _parsed("a kite pulled across the beach by a dog")
    assert ("dog", "pull", "kite") in edges
    _, edges, _ = _parsed("a lamp placed on a table by the window")   # a place, not an agent
    assert ("lamp", "next to", "window") in edges
    _, edges, _ = _parsed("a boy jumped into a pool by a dog")   # jumping acts on nothing
    assert ("boy", "next to", "dog") in edges


def test_a_container_named_for_what_it_holds_holds_it():
    nouns, edges, effects = _parsed("an ice cream tub next to a campfire")
    assert "ice cream" in nouns and "melts" in effects
    nouns, edges, effects = _parsed("a cookie jar on a shelf")
    assert "cookie" in nouns and ("cookie", "in", "jar") in edges
    nouns, _, _ = _parsed("a fish tank on a table")   # a fish tank may be empty
    assert nouns == ["table", "tank"]


def test_an_irregular_simple_past_is_an_active_verb():
    assert "falls" in _parsed("a cup fell from the table")[2]
    _, edges, effects = _parsed("a boy threw a stone into a pond")
    assert ("boy", "throw", "stone") in edges and "splash" in effects
