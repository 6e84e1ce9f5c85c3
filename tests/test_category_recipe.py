"""A newcomer's recipe is one file (issue 26): a ToyWorld category is one module, a
:class:`~lina_core.toyworld.categories.Category` registered in one table.  This file defines a
small category of its own (``neighbours``: two objects side by side, "a red ball beside a blue
cube"), registers it for its tests only, and runs one shared suite over it and every shipped
category: its captions read back to its graph, it renders with a mask per object, the verifier
accepts its clean render and rejects at least one counterfactual, and its splits keep their
held-out combinations apart.  Nothing outside this file knows the toy category.
"""
from __future__ import annotations

import numpy as np
import pytest

from lina_core.csg import TOYWORLD_CATEGORIES, CausalSceneGraph, GraphError, from_prompt, to_prompt
from lina_core.csg.captions import object_phrase
from lina_core.csg.geometry import FLOOR_Y, object_box, put
from lina_core.csg.vocabulary import COLOURS, SHAPES
from lina_core.csg.words import Tokens, objects_graph
from lina_core.toyworld.answers import (Answers, ask_count, colour_palette, object_nodes,
                                        texture_single)
from lina_core.toyworld.blobs import find_blobs
from lina_core.toyworld.canvas import FLOOR, WALL, Canvas, draw_floor_scene, object_colour
from lina_core.toyworld.categories import CATEGORIES, Category, Jitter, register, unregister
from lina_core.toyworld.counterfactual import Counterfactual, refit_standing, texture
from lina_core.toyworld.data import ALL_SPLITS, ood_part, sample_scene
from lina_core.toyworld.render import render
from lina_core.toyworld.unmix import unmix
from lina_core.toyworld.verify import verify
from lina_core.toyworld.verify_eval import counterfactuals

TOY = "neighbours"


def _left_right(g: CausalSceneGraph) -> tuple[str, str]:
    return next((u, v) for u, v, r in g.graph.edges(data="relation") if r == "left of")


class Neighbours(Category):
    """Two objects side by side on the floor, the first named on the left."""

    name = TOY
    cue_words = frozenset({"beside"})
    cue_rank = 90                      # after every shipped category
    objects = 2
    counted = True
    held_out = {"combos": [["red", "blue"], ["green", "yellow"]], "dev": [["green", "yellow"]]}

    def read(self, tok: Tokens) -> tuple[CausalSceneGraph, list[dict[str, str]]]:
        g, stated = objects_graph(tok, self.name, ("beside",))
        g.add_node("floor", "surface", type="floor")
        g.add_edge("obj0", "floor", "on")
        g.add_edge("obj1", "floor", "on")
        g.add_edge("obj0", "obj1", "left of")
        return g, stated

    def caption(self, g: CausalSceneGraph, explicit: bool) -> str:
        left, right = _left_right(g)
        s = f"a {object_phrase(g, left, False)} beside a {object_phrase(g, right, False)}"
        return s + ", side by side" if explicit else s

    def check(self, g: CausalSceneGraph) -> None:
        if not any(r == "left of" for _, _, r in g.graph.edges(data="relation")):
            raise GraphError("edges: a neighbours scene needs a 'left of' edge")

    def layout(self, g: CausalSceneGraph, jit: Jitter) -> None:
        put(g, g.surface("floor"), [0.0, FLOOR_Y, 1.0, 1.0])
        base = 0.82 + jit(0.03)
        for n, cx in zip(_left_right(g), (0.3 + jit(0.05), 0.7 + jit(0.05))):
            put(g, n, object_box(g, n, cx, base))

    def draw(self, cv: Canvas, g: CausalSceneGraph, floor: np.ndarray) -> None:
        draw_floor_scene(cv, g, floor)

    def questions(self, g: CausalSceneGraph, img: np.ndarray, raw: np.ndarray) -> Answers:
        cols, names = colour_palette()
        mix = unmix(img, [WALL, FLOOR], cols, names, pairs=[(0, 1)])
        blobs, ans, found = find_blobs(mix), Answers(), {}
        for n in object_nodes(g):
            cand = [b for b in blobs if b.colour == g.attr(n, "colour")]
            found[n] = cand[0] if cand else None
            ans.add(texture_single(g, raw, mix, found[n], n, "colour", prefix=f"{n}."))
        ask_count(g, mix, ans)
        left, right = (found[n] for n in _left_right(g))
        if left is None or right is None:
            ans.physics["left_of"] = False
            ans.meas["undetermined"] = ["left_of"]
        else:
            ans.physics["left_of"] = left.cx < right.cx
            ans.meas["physics_margin"] = (right.cx - left.cx) / 32.0
        return ans

    def refit(self, g: CausalSceneGraph) -> CausalSceneGraph:
        return refit_standing(g)

    def counterfactuals(self, g: CausalSceneGraph, size: int, rng: np.random.Generator
                        ) -> list[Counterfactual]:
        h = g.copy()
        left, right = _left_right(h)
        bl, br = h.node(left)["box"], h.node(right)["box"]
        cl, cr = (bl[0] + bl[2]) / 2, (br[0] + br[2]) / 2
        put(h, left, object_box(h, left, cr, bl[3]))
        put(h, right, object_box(h, right, cl, br[3]))
        out = [("left_of", "places swapped", render(h, size).image, g)]
        return out + texture(self, g, size, rng, per_object=True)

    def random_prompt(self, rng: np.random.Generator, more_share: float) -> str:
        colours = list(COLOURS)
        c1, c2 = rng.choice(len(colours), 2, replace=False)
        s1, s2 = (SHAPES[int(rng.integers(len(SHAPES)))] for _ in range(2))
        return f"a {colours[c1]} {s1} beside a {colours[c2]} {s2}"

    def held_out_key(self, g: CausalSceneGraph) -> tuple[str, ...]:
        return tuple(g.attr(n, "colour") for n in _left_right(g))


@pytest.fixture(scope="module", autouse=True)
def toy_registered():
    """The toy category is in the table for this file's tests only (a prompt with "beside"
    elsewhere must not become one)."""
    register(Neighbours)
    yield
    unregister(TOY)


ALL = list(TOYWORLD_CATEGORIES) + [TOY]


def _shape(g: CausalSceneGraph) -> tuple:
    """The graph without its layout: nodes (kind, attributes, explicit) and edges."""
    d = g.to_dict()
    return (d["category"], sorted((n["id"], n["kind"], sorted(n["attrs"].items()), n["explicit"])
                                  for n in d["nodes"]),
            sorted((e["source"], e["target"], e["relation"]) for e in d["edges"]))


def test_the_toy_category_is_registered_and_the_shipped_ones_in_order():
    assert list(CATEGORIES) == ALL


@pytest.mark.parametrize("cat", ALL)
def test_captions_read_back_to_the_graph(cat):
    for i in range(3):
        g = sample_scene("train", i, cat).graph
        implicit = from_prompt(to_prompt(g))
        assert implicit.domain == "toyworld" and implicit.unknown_words == []
        assert _shape(implicit.graph) == _shape(g)
        explicit = from_prompt(to_prompt(g, explicit=True)).graph
        # the explicit caption states the effects: the same graph, its effects explicit
        assert _shape(explicit)[0::2] == _shape(g)[0::2]
        assert [n[:3] for n in _shape(explicit)[1]] == [n[:3] for n in _shape(g)[1]]


@pytest.mark.parametrize("cat", ALL)
def test_it_renders_with_a_mask_on_each_object(cat):
    g = sample_scene("test-id", 0, cat).graph
    r = render(g, 64)
    assert r.image.shape == (64, 64, 3) and set(r.masks) == set(g.graph.nodes)
    for o in g.nodes("object"):
        m = r.masks[o]
        assert m.sum() >= 20, o
        close = np.abs(r.image[m].astype(float) - object_colour(g, o)).max(1) <= 30
        assert close.mean() > 0.6, o


@pytest.mark.parametrize("cat", ALL)
def test_the_verifier_accepts_the_clean_render_and_rejects_a_counterfactual(cat):
    """The clean render passes every question; each physics question is answered False on
    at least one of the category's counterfactuals that asks it."""
    g = sample_scene("train", 1, cat).graph
    v = verify(render(g, 64).image, g)
    assert v.texture_ok and v.physics_ok, v.to_dict()
    unrejected = set(v.physics)
    for q, variant, img, cg in counterfactuals(g, 32, np.random.default_rng(0)):
        if q in unrejected and not verify(img, cg).physics[q]:
            unrejected.discard(q)
    assert not unrejected, f"{cat}: no counterfactual rejected {sorted(unrejected)}"


@pytest.mark.parametrize("cat", ALL)
def test_the_splits_keep_the_held_out_combinations_apart(cat):
    combos = {}
    for split in ALL_SPLITS:
        scenes = [sample_scene(split, i, cat) for i in range(4)]
        for s in scenes:
            assert ood_part(s.graph) == (split if split.endswith("-ood") else None), (split, s)
        combos[split] = {s.combo for s in scenes}
    seen = combos["train"] | combos["test-id"]
    assert seen.isdisjoint(combos["dev-ood"] | combos["test-ood"])
