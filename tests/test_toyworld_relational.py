"""ToyWorld v2 (issue 16): roles, fill, place - sentences, renders, masks, verifier, held-out sets.

Fast (a few seconds): a handful of scenes per category.  The verifier's full measurement
(n >= 500 scenes per category, Wilson intervals) is docs/VERIFIER.md, "ToyWorld v2"'s command.
"""
from __future__ import annotations

import numpy as np
import pytest

from lina_core.csg import (CATEGORIES, TOYWORLD_CATEGORIES, RELATIONAL_CATEGORIES, GraphError,
                           from_prompt, layout, to_prompt)
from lina_core.toyworld.categories.fill import fill_of, jar_inside
from lina_core.toyworld.categories.place import place_of
from lina_core.toyworld.categories.roles import top_bottom
from lina_core.stats import wilson
from lina_core.toyworld.data import (FILL_MORE_SHARE, HELD_OUT, SPLITS, combo_of, is_held_out,
                                     iter_split, ood_part, read_split, sample_scene, write_split)
from lina_core.toyworld.canvas import object_colour
from lina_core.toyworld.render import render
from lina_core.toyworld.categories.fill import fill_colour
from lina_core.toyworld.categories.place import SAND
from lina_core.toyworld.verify import verify
from lina_core.toyworld.verify_eval import counterfactuals, perturb

SIZE = 32
PHYSICS = {"roles": {"on_top", "touching"}, "fill": {"fill_level"},
           "place": {"on_sand", "close_to_water", "far_from_water", "in_water"}}
SENTENCES = {
    "a red ball on top of a blue cube": ("roles", ("red", "blue")),
    "a blue cube on top of a red ball": ("roles", ("blue", "red")),
    "a tall jar with more sand than empty space": ("fill", ("sand", "tall", "more")),
    "a tall jar with more empty space than sand": ("fill", ("sand", "tall", "less")),
    "a wide jar with more soil than empty space": ("fill", ("soil", "wide", "more")),
    "a red ball close to the water and on the sand": ("place", ("ball", "near")),
    "a red ball in the water, off the sand": ("place", ("ball", "water")),
    "a green cone far from the water and on the sand": ("place", ("cone", "far")),
}


def scene(cat: str, i: int):
    return sample_scene(SPLITS[i % len(SPLITS)], i, cat).graph


def truth(g) -> tuple[str, ...]:
    if g.category == "roles":
        return tuple(g.attr(n, "colour") for n in top_bottom(g))
    if g.category == "fill":
        f = fill_of(g)
        return g.attr(f, "material"), g.attr(g.surface("jar"), "shape"), g.attr(f, "level")
    return g.attr("obj0", "shape"), place_of(g)


# --------------------------------------------------------------------------- sentences


@pytest.mark.parametrize("text", sorted(SENTENCES))
def test_the_new_sentences_parse_into_toyworld_graphs(text):
    cat, want = SENTENCES[text]
    r = from_prompt(text)
    assert r.domain == "toyworld" and r.unknown_words == []
    assert r.graph.category == cat and r.graph.is_toyworld and not r.graph.is_open
    assert truth(r.graph) == want
    for explicit in (False, True):      # captions read back to the same graph
        back = from_prompt(to_prompt(r.graph, explicit=explicit))
        assert back.domain == "toyworld" and back.unknown_words == []
        assert back.graph.to_dict() == r.graph.to_dict()


def test_swapped_sentences_give_swapped_graphs():
    a = from_prompt("a red ball on top of a blue cube").graph
    b = from_prompt("a blue cube on top of a red ball").graph
    ta, ba = top_bottom(a)
    tb, bb = top_bottom(b)
    assert (a.attr(ta, "shape"), a.attr(ba, "shape")) == ("ball", "cube")
    assert (b.attr(tb, "shape"), b.attr(bb, "shape")) == ("cube", "ball")


@pytest.mark.parametrize("text", ["there is more dirt than empty space in the jar",
                                  "a person is close to the water and in the sand",
                                  "a red ball on the sand", "a red ball on top of a red cube"])
def test_what_toyworld_cannot_hold_goes_to_the_open_world(text):
    assert from_prompt(text).domain == "open"


def test_the_first_five_stay_the_default_categories():
    assert CATEGORIES == ("reflection", "shadow", "buoyancy", "balance", "scale")
    assert TOYWORLD_CATEGORIES == CATEGORIES + RELATIONAL_CATEGORIES
    assert {sample_scene("train", i).category for i in range(10)} == set(CATEGORIES)
    with pytest.raises(GraphError, match="category: 'jars' is not one of"):
        sample_scene("train", 0, "jars")


# --------------------------------------------------------------------------- renders, masks


@pytest.mark.parametrize("cat", RELATIONAL_CATEGORIES)
@pytest.mark.parametrize("size", [32, 47, 64])
def test_renders_are_deterministic_and_every_mask_is_drawn(cat, size):
    for i in range(6):
        g = scene(cat, i)
        a, b = render(g, size), render(g.copy(), size)
        assert a.image.shape == (size, size, 3) and np.array_equal(a.image, b.image)
        assert set(a.masks) == set(g.graph.nodes)
        for n, m in a.masks.items():
            assert np.array_equal(m, b.masks[n]) and m.any(), (cat, i, n)
    imgs = {render(scene(cat, i), size).image.tobytes() for i in range(6)}
    assert len(imgs) == 6


def _close(img: np.ndarray, mask: np.ndarray, colour) -> float:
    px = img[mask].astype(np.float32)
    return float((np.abs(px - np.asarray(colour, np.float32)).max(1) <= 2).mean())


def test_roles_masks_top_rests_on_bottom():
    for i in range(6):
        g = scene("roles", i)
        r = render(g, 64)
        top, bottom = top_bottom(g)
        for o in (top, bottom):
            assert _close(r.image, r.masks[o], object_colour(g, o)) > 0.6
        rows_t, rows_b = np.nonzero(r.masks[top])[0], np.nonzero(r.masks[bottom])[0]
        assert rows_t.mean() < rows_b.mean()
        assert rows_b.min() - rows_t.max() <= 1          # they touch


def test_fill_mask_is_the_stated_share_of_the_jar():
    for i in range(9):
        g = scene("fill", i)
        r = render(g, 128)
        f = fill_of(g)
        inside = jar_inside(g.node("jar")["box"])
        share = (inside[3] - g.node(f)["box"][1]) / (inside[3] - inside[1])
        assert (share > 0.5) == (g.attr(f, "level") == "more")
        assert abs(share - 0.5) >= 0.12                   # never close to half
        rows = np.nonzero(r.masks[f].any(1))[0]
        assert len(rows) / 128 == pytest.approx(share * (inside[3] - inside[1]), abs=2 / 128)
        assert _close(r.image, r.masks[f], fill_colour(g.attr(f, "material"))) > 0.75
        assert not (r.masks[f] & ~r.masks["jar"]).any()


def test_place_masks_put_the_object_where_the_graph_says():
    seen = set()
    for i in range(12):
        g = scene("place", i)
        r = render(g, 64)
        obj, water, sand = r.masks["obj0"], r.masks["water"], r.masks["sand"]
        assert _close(r.image, sand & ~obj, SAND) > 0.9
        cx = np.nonzero(obj)[1].mean()
        wx = np.nonzero(water)[1].mean()
        shore = np.nonzero(water)[1].min() if wx > 32 else np.nonzero(water)[1].max()
        in_water = (cx > shore) == (wx > 32)
        place = place_of(g)
        seen.add(place)
        assert in_water == (place == "water"), (i, place)
        if place != "water":
            edge = np.nonzero(obj)[1].max() if wx > 32 else np.nonzero(obj)[1].min()
            gap = abs(shore - edge) / 64
            assert (gap < 0.05) == (place == "near"), (i, place, gap)
    assert seen == {"near", "far", "water"}


# --------------------------------------------------------------------------- verifier


@pytest.mark.parametrize("cat", RELATIONAL_CATEGORIES)
def test_verifier_accepts_right_renders(cat):
    for i in range(6):
        g = scene(cat, i)
        for size in (32, 64):
            v = verify(render(g, size).image, g)
            assert set(v.physics) <= PHYSICS[cat] and v.physics
            assert v.texture_ok and v.physics_ok and v.physics_verdict == "ok", (i, v.to_dict())
            assert v.physics_margin > 0


@pytest.mark.parametrize("cat", RELATIONAL_CATEGORIES)
def test_verifier_rejects_wrong_renders(cat):
    """The swapped order, the other fill level, the other place, other textures."""
    rng = np.random.default_rng(0)
    variants = set()
    for i in range(6):
        g = scene(cat, i)
        for q, variant, img, cg in counterfactuals(g, SIZE, rng):
            v = verify(img, cg)
            variants.add(variant)
            assert not {**v.texture, **v.physics}[q], (cat, i, variant, v.to_dict())
            if q in PHYSICS[cat]:
                assert v.physics_verdict == "wrong" and v.physics_margin < 0
    need = {"roles": {"roles swapped", "top one lifted off"}, "fill": {"the other level"},
            "place": {"moved: water", "moved: near", "moved: far"}}[cat]
    assert need <= variants


@pytest.mark.parametrize("cat", RELATIONAL_CATEGORIES)
def test_verifier_accuracy_floor_on_perturbed_renders(cat):
    ok: dict[str, list[bool]] = {}
    for i in range(30):
        g = scene(cat, 1000 + i)
        v = verify(perturb(render(g, SIZE).image, np.random.default_rng([7, i])), g)
        for q, a in {**v.texture, **v.physics}.items():
            ok.setdefault(q.split(".")[-1], []).append(a)
    for q, answers in ok.items():
        k, n = sum(answers), len(answers)
        assert k / n >= 0.9, f"{cat}/{q}: {k}/{n} (95% CI {wilson(k, n)})"


@pytest.mark.parametrize("cat", RELATIONAL_CATEGORIES)
def test_verifier_does_not_read_boxes_and_is_undetermined_without_a_scene(cat):
    g = scene(cat, 2)
    img = render(g, SIZE).image
    moved = g.copy()
    for n in moved.graph.nodes:
        moved.graph.nodes[n]["box"] = [0.0, 0.0, 0.1, 0.1]
    assert verify(img, moved).to_dict() == verify(img, g).to_dict()
    grey = verify(np.full_like(img, 200), g)
    assert grey.physics_verdict == "undetermined" and not any(grey.texture.values())


# --------------------------------------------------------------------------- held-out sets


@pytest.mark.parametrize("cat", RELATIONAL_CATEGORIES)
def test_held_out_table_is_disjoint_across_splits(cat):
    spec = HELD_OUT[cat]
    combos = {tuple(c) for c in spec["combos"]}
    dev = {tuple(c) for c in spec["dev"]}
    assert dev and dev < combos and spec["why"] and spec["why_dev"]
    seen: dict[str, set] = {}
    for split in ("train", "test-id", "dev-ood", "test-ood"):
        samples = [sample_scene(split, i, cat) for i in range(60)]
        seen[split] = {s.combo for s in samples}
        for s in samples:
            assert s.combo == combo_of(s.graph)
            assert ood_part(s.graph) == (split if split.endswith("ood") else None)
    assert not (seen["train"] | seen["test-id"]) & combos
    assert seen["dev-ood"] == dev and seen["test-ood"] == combos - dev
    assert not seen["dev-ood"] & seen["test-ood"]
    if cat == "roles":      # each held-out order's swap is a train combination
        assert all((b, a) in seen["train"] for a, b in combos)


def test_fill_prior_is_skewed_on_train_and_balanced_elsewhere():
    def more(split, **kw):
        levels = [sample_scene(split, i, "fill", **kw).graph.attr("fill", "level")
                  for i in range(400)]
        return sum(lv == "more" for lv in levels), len(levels)
    assert FILL_MORE_SHARE["train"] == 0.8
    lo, hi = wilson(*more("train"))
    assert lo <= 0.8 <= hi and lo > 0.7
    lo, hi = wilson(*more("test-id"))
    assert lo <= 0.5 <= hi
    assert more("train", fill_more_share=0.0)[0] == 0
    with pytest.raises(GraphError, match="fill_more_share"):
        sample_scene("train", 0, "fill", fill_more_share=1.5)


def test_data_writes_the_new_categories(tmp_path):
    out = write_split(tmp_path / "v2", "train", 6, size=32, categories=RELATIONAL_CATEGORIES)
    rows = read_split(out)
    assert [r["category"] for r in rows] == list(RELATIONAL_CATEGORIES) * 2
    want = list(iter_split("train", 6, categories=RELATIONAL_CATEGORIES))
    for r, s in zip(rows, want):
        assert r["implicit_caption"] == s.caption(False) and r["combo"] == list(s.combo)
        assert not is_held_out(s.graph)
        assert from_prompt(r["implicit_caption"]).graph.category == r["category"]
    with pytest.raises(GraphError, match="categories"):
        write_split(tmp_path / "bad", "train", 1, categories=("jar",))


def test_canonical_layout_is_valid_for_every_category():
    for text in SENTENCES:
        g = from_prompt(text).graph
        assert layout(g.copy()).to_dict() == g.to_dict()
        render(g, 32)
