"""Structure donors: keep every causal parent and every effect, swap what makes the combination
novel for a value seen in training; the held-out dev/test partition they rely on."""
from __future__ import annotations

import pytest

from lina_core.csg import from_prompt
from lina_core.donors import DonorError, structure_donor
from lina_core.toyworld.data import (HELD_OUT, SPLITS, combo_of, is_held_out, ood_part,
                                     sample_scene, split_of)

CATS = ("reflection", "shadow", "buoyancy", "balance", "scale")


def test_shadow_donor_keeps_the_light_and_swaps_the_shape():
    d = structure_donor(from_prompt("a red cone on the floor, lit from the left").graph)
    assert d.swaps == (("obj0", "shape", "cone", "ball"),)
    assert d.caption == "a small red ball on the floor, lit from the left"
    assert d.to_dict()["causal_parents_kept"] == ["light.side"]


def test_buoyancy_donor_keeps_the_material_and_its_fate():
    g = from_prompt("a metal cube in a beaker of water").graph
    d = structure_donor(g)
    assert d.swaps[0][1] == "shape" and "metal" in d.caption
    assert d.graph.effects("sinking") and not is_held_out(d.graph)


def test_balance_donor_keeps_the_heavier_side():
    g = from_prompt("a cork cube and a metal cube on a balance").graph
    d = structure_donor(g)
    assert len(d.swaps) == 1 and d.swaps[0][1] == "material"
    assert d.graph.attr("tilt", "side") == g.attr("tilt", "side") == "right"


@pytest.mark.parametrize("prompt, why", [
    ("a red cube larger than a blue ball", "implicit effect"),
    ("a red ball on the floor, lit from the left", "seen in training"),
    ("a large red ball on a small round mirror", "causal parent"),
])
def test_no_donor_says_why(prompt, why):
    with pytest.raises(DonorError, match=why):
        structure_donor(from_prompt(prompt).graph)


@pytest.mark.parametrize("split", ["dev-ood", "test-ood"])
def test_every_donor_of_a_held_out_scene_is_familiar_with_the_same_effects(split):
    for i in range(40):
        g = sample_scene(split, i).graph
        try:
            d = structure_donor(g)
        except DonorError:
            assert g.category in ("reflection", "scale")
            continue
        assert not is_held_out(d.graph)
        assert sorted((d.graph.attr(e, "type"), d.graph.attr(e, "side")) for e in
                      d.graph.effects()) == sorted((g.attr(e, "type"), g.attr(e, "side"))
                                                   for e in g.effects())
        for node, attr in d.parents:
            assert d.graph.attr(node, attr) == g.attr(node, attr)


def test_dev_and_test_ood_are_disjoint_held_out_parts():
    for cat in CATS:
        dev = {tuple(combo_of(sample_scene("dev-ood", i, cat).graph)) for i in range(30)}
        test = {tuple(combo_of(sample_scene("test-ood", i, cat).graph)) for i in range(30)}
        held = {tuple(c) for c in HELD_OUT[cat]["combos"]}
        assert dev <= held and test <= held
        if "dev_by" in HELD_OUT[cat]:    # one held-out combination, split by another attribute
            by = HELD_OUT[cat]["dev_by"]
            vals = lambda s: {sample_scene(s, i, cat).graph.attr("obj0", by)  # noqa: E731
                              for i in range(30)}
            assert not vals("dev-ood") & vals("test-ood")
        else:
            assert dev and test and not dev & test
    for split in SPLITS + ("dev-ood",):
        for i in range(20):
            assert split_of(sample_scene(split, i).graph) == (
                split if split.endswith("ood") else "train")
            assert ood_part(sample_scene(split, i).graph) in (None, "dev-ood", "test-ood")


def test_texture_donor_keeps_the_shape_and_swaps_the_parent():
    from lina_core.donors import texture_donor
    d = texture_donor(from_prompt("a red cone on the floor, lit from the left").graph)
    assert d.kind == "texture" and d.swaps[0][:2] == ("light", "side")
    assert "cone" in d.caption and not is_held_out(d.graph)
    d = texture_donor(from_prompt("a metal cube in a beaker of water").graph)
    assert "cube" in d.caption and d.graph.effects("sinking")      # the same fate kept
    with pytest.raises(DonorError, match="texture donor"):
        texture_donor(from_prompt("a cork cube and a metal cube on a balance").graph)


# ToyWorld v2: no implicit effect; the relation (who is on top, the level, the place) is kept and
# what the relation was never seen with is swapped


def _relation(g):
    from lina_core.toyworld.categories.fill import fill_of
    from lina_core.toyworld.categories.place import place_of
    from lina_core.toyworld.categories.roles import top_bottom
    if g.category == "roles":
        return tuple(g.attr(n, "shape") for n in top_bottom(g))
    if g.category == "fill":
        return g.attr(fill_of(g), "level")
    return place_of(g)


def test_place_donor_keeps_the_place_and_swaps_the_shape():
    g = from_prompt("a red cone close to the water and on the sand").graph
    d = structure_donor(g)
    assert d.swaps == (("obj0", "shape", "cone", "ball"),)
    assert d.caption == "a red ball close to the water and on the sand"
    with pytest.raises(DonorError, match="no texture donor"):
        from lina_core.donors import texture_donor
        texture_donor(g)


def test_fill_donors_keep_the_level_and_swap_material_or_jar():
    from lina_core.donors import texture_donor
    g = from_prompt("a wide jar with more empty space than soil").graph
    s, t = structure_donor(g), texture_donor(g)
    assert s.swaps[0][1:3] == ("material", "soil") and "wide jar" in s.caption
    assert t.swaps[0][1:3] == ("shape", "wide") and "soil" in t.caption
    assert "more empty space" in s.caption and "more empty space" in t.caption


def test_roles_donor_recolours_and_keeps_who_is_on_top():
    g = from_prompt("a purple ball on top of a green cube").graph
    d = structure_donor(g)
    assert not is_held_out(d.graph) and "ball on top of a" in d.caption
    assert all(a == "colour" for _, a, _, _ in d.swaps)


@pytest.mark.parametrize("split", ["dev-ood", "test-ood"])
@pytest.mark.parametrize("cat", ["roles", "fill", "place"])
def test_every_relational_donor_is_familiar_and_keeps_the_relation(split, cat):
    from lina_core.donors import texture_donor
    for i in range(12):
        g = sample_scene(split, i, cat).graph
        for make in (structure_donor, texture_donor):
            try:
                d = make(g)
            except DonorError as e:
                assert make is texture_donor and cat != "fill", str(e)
                continue
            d.graph.validate()
            assert not is_held_out(d.graph) and _relation(d.graph) == _relation(g)
            assert 1 <= len(d.swaps) <= 2


def test_relational_scene_seen_in_training_has_no_donor():
    with pytest.raises(DonorError, match="seen in training"):
        structure_donor(sample_scene("train", 0, "place").graph)
