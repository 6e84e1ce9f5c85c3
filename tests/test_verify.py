"""ToyWorld verifier: accepts correct renders, rejects wrong physics / texture, clear errors.

Fast (a few seconds): a handful of clean scenes per category, their counterfactuals, and an
accuracy floor on ~40 perturbed 32 px renders per category (the full measurement, 500 scenes per
category, is ``python -m lina_core verify-eval``; see docs/VERIFIER.md).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from lina_core.csg import CATEGORIES, CausalSceneGraph, from_prompt
from lina_core.toyworld.data import SPLITS, sample_scene
from lina_core.toyworld.render import render
from lina_core.toyworld.categories import CATEGORIES as TABLE
from lina_core.toyworld.verify import Verdict, VerifyError, verify
from lina_core.stats import wilson
from lina_core.toyworld.verify_eval import counterfactuals, perturb

SIZE = 32          # the size the model is trained and sampled at
PHYSICS = {"reflection": {"reflection_present", "reflection_inside_mirror"},
           "shadow": {"shadow_side"}, "buoyancy": {"float_or_sink"}, "balance": {"down_side"},
           "scale": {"larger"}}


def scene(cat: str, i: int) -> CausalSceneGraph:
    return sample_scene(SPLITS[i % len(SPLITS)], i, cat).graph


# --------------------------------------------------------------------------- correct renders


@pytest.mark.parametrize("cat", CATEGORIES)
def test_accepts_clean_renders(cat):
    for i in range(4):
        g = scene(cat, i)
        v = verify(render(g, SIZE).image, g)
        assert set(v.physics) == PHYSICS[cat]
        assert v.texture_ok and v.physics_ok, (cat, i, v.to_dict())


@pytest.mark.parametrize("size", [64, 128])
def test_accepts_larger_renders(size):
    for cat in CATEGORIES:
        g = scene(cat, 7)
        v = verify(render(g, size).image, g)
        assert v.texture_ok and v.physics_ok, (cat, size, v.to_dict())


def test_held_out_large_object_on_small_mirror():
    g = from_prompt("a large yellow cube on a small round mirror").graph
    v = verify(render(g, SIZE).image, g)
    assert v.physics == {"reflection_present": True, "reflection_inside_mirror": True}


# --------------------------------------------------------------------------- wrong renders


@pytest.mark.parametrize("cat", CATEGORIES)
def test_rejects_counterfactuals(cat):
    """Each counterfactual (one thing drawn wrong) is rejected on the question it breaks."""
    rng = np.random.default_rng(0)
    for i in range(3):
        g = scene(cat, i)
        cfs = counterfactuals(g, SIZE, rng)
        assert {q.split(".")[-1] for q, *_ in cfs} >= PHYSICS[cat]
        for q, variant, img, cg in cfs:
            v = verify(img, cg)
            assert not {**v.texture, **v.physics}[q], (cat, i, variant, v.to_dict())


def test_no_reflection_and_no_shadow_fail_physics_only():
    g = from_prompt("a small red ball on a large round mirror").graph
    bare = g.copy()
    bare.graph.remove_nodes_from(bare.effects("reflection"))
    v = verify(render(bare, SIZE).image, g)
    assert v.texture_ok and not v.physics["reflection_present"]
    g = from_prompt("a green cube on the floor, lit from the left").graph
    bare = g.copy()
    bare.graph.remove_nodes_from(bare.effects("shadow"))
    v = verify(render(bare, SIZE).image, g)
    assert v.texture_ok and not v.physics["shadow_side"]


def test_not_a_toyworld_picture_fails_everything():
    g = scene("scale", 0)
    for img in (np.zeros((32, 32, 3), np.uint8), np.full((48, 40, 3), 128, np.uint8),
                np.random.default_rng(0).integers(0, 256, (32, 32, 3)).astype(np.uint8)):
        v = verify(img, g)
        assert not any(v.texture.values()) and not any(v.physics.values())


# --------------------------------------------------------------------------- accuracy floor


@pytest.mark.parametrize("cat", CATEGORIES)
def test_accuracy_floor_on_perturbed_renders(cat):
    """~40 renders per category made to look generated (blur, noise, shift, colour cast)."""
    ok: dict[str, list[bool]] = {}
    for i in range(40):
        g = scene(cat, 1000 + i)
        rng = np.random.default_rng([7, i])
        v = verify(perturb(render(g, SIZE).image, rng), g)
        for q, a in {**v.texture, **v.physics}.items():
            ok.setdefault(q.split(".")[-1], []).append(a)
    for q, answers in ok.items():
        k, n = sum(answers), len(answers)
        assert k / n >= 0.9, f"{cat}/{q}: {k}/{n} (95% CI {wilson(k, n)})"


# --------------------------------------------------------------------------- API


def test_verdict_is_json_and_has_a_line_per_node():
    g = scene("buoyancy", 3)
    v = verify(render(g, SIZE).image, g)
    assert isinstance(v, Verdict)
    d = json.loads(json.dumps(v.to_dict()))
    assert d["texture_ok"] == v.texture_ok and d["physics_ok"] == v.physics_ok
    assert set(d["per_node"]) == set(g.graph.nodes)
    assert all(isinstance(s, str) and s for s in d["per_node"].values())


def test_does_not_read_layout_boxes():
    g = scene("reflection", 5)
    img = render(g, SIZE).image
    moved = g.copy()
    for n in moved.graph.nodes:
        moved.graph.nodes[n]["box"] = [0.0, 0.0, 0.1, 0.1]
    assert verify(img, moved).to_dict() == verify(img, g).to_dict()


@pytest.mark.parametrize("bad, match", [
    (np.zeros((32, 32), np.uint8), r"shape \(H, W, 3\)"),
    (np.zeros((32, 32, 4), np.uint8), r"shape \(H, W, 3\)"),
    (np.zeros((16, 64, 3), np.uint8), "too small"),
    (np.zeros((32, 32, 3), np.float32), "uint8"),
    ([[0, 0, 0]], "numpy array"),
])
def test_wrong_image_raises_a_clear_error(bad, match):
    g = scene("shadow", 0)
    with pytest.raises(VerifyError, match=match):
        verify(bad, g)
    assert issubclass(VerifyError, ValueError)


def test_wrong_graph_raises_a_clear_error():
    with pytest.raises(VerifyError, match="CausalSceneGraph"):
        verify(np.zeros((32, 32, 3), np.uint8), {"category": "shadow"})


# --------------------------------------------------------------------------- three-valued verdicts


def test_verdicts_are_three_valued_with_signed_margins():
    from lina_core.csg import layout
    g = layout(from_prompt("a red cube on the floor, lit from the left").graph,
               np.random.default_rng(1))
    right = render(g, 32).image
    v = verify(right, g)
    assert v.physics_verdict == "ok" and v.physics_margin > 0
    flipped = g.copy()
    flipped.node("light")["attrs"]["side"] = "right"
    flipped.node("shadow")["attrs"]["side"] = "left"
    w = verify(right, flipped)               # the shadow is on the other side
    assert w.physics_verdict == "wrong" and w.physics_margin < 0
    grey = verify(np.full_like(right, 200), g)   # nothing to find
    assert grey.physics_verdict == "undetermined" and grey.physics_margin == 0
    assert grey.to_dict()["physics_verdict"] == "undetermined"


@pytest.mark.parametrize("cat", CATEGORIES)
def test_checkers_return_their_answers(cat):
    """A category's checker takes only the graph and the image and returns what it decides;
    verify merges that, so nothing is filled in through arguments."""
    import inspect

    from lina_core.toyworld import verify as vmod
    from lina_core.toyworld.answers import Answers
    from lina_core.toyworld.categories import CATEGORIES
    check = CATEGORIES[cat].questions
    assert list(inspect.signature(check).parameters) == ["g", "img", "raw"]
    s = sample_scene("train", 0, cat)
    raw = vmod.canonical(render(s.graph).image)
    ans = check(s.graph, raw, raw)
    v = verify(render(s.graph).image, s.graph)
    assert isinstance(ans, Answers)
    assert set(ans.texture) == set(v.texture) and set(ans.physics) == set(v.physics)
    assert set(ans.meas) <= set(v.measurements)
    assert set(ans.per_node) <= set(v.per_node)


#: the categories whose checker asks ``count`` (``Category.counted``, in the table ``TABLE``)
COUNTED = [name for name, c in TABLE.items() if c.counted]


def test_counted_names_exactly_the_checkers_that_ask_count():
    """``Category.counted`` (which ``verify_eval`` reads to add its "drawn twice"
    counterfactual) says what the checkers do: each counted category's verdict has the
    question, no other's has."""
    from lina_core.csg import TOYWORLD_CATEGORIES
    asks = {cat for cat in TOYWORLD_CATEGORIES
            if "count" in verify(render(g := sample_scene("test-id", 0, cat).graph, 32).image,
                                 g).texture}
    assert asks == set(COUNTED) == {"reflection", "shadow", "scale", "roles", "place"}


@pytest.mark.parametrize("cat", COUNTED)
def test_an_object_drawn_twice_fails_count_and_texture(cat):
    """A doubled object (which diffusion models draw, donors among the causes) passed every
    other question, which read the largest component; ``count`` says no."""
    from lina_core.toyworld.counterfactual import doubled
    found = 0
    for i in range(30):
        g = sample_scene("test-id", i, cat).graph
        img = doubled(g, 32, np.random.default_rng(i))
        if img is None:         # no free floor for a copy in this scene
            continue
        assert verify(render(g, 32).image, g).texture["count"]
        v = verify(img, g)
        found += 1
        assert v.texture["count"] is False and not v.texture_ok, (cat, i)
        assert sum(v.measurements["copies"].values()) == len(g.nodes("object")) + 1
        if found == 2:
            return
    pytest.fail(f"{cat}: fewer than two scenes of 30 had room for a copy")


@pytest.mark.parametrize("mode", ["constant", "nearest"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_fits_blur_is_scipys_gaussian_filter_bit_for_bit(mode, dtype):
    """The verifier's blur (kernel remembered per sigma) gives the very floats
    ``ndimage.gaussian_filter`` gives: on the shape fit's sigmas and on odd ones, small and
    wide arrays, strided views (one channel of an RGB image), twice for the same sigma."""
    from scipy import ndimage
    from lina_core.toyworld.blur import blur, blur_channels
    rng = np.random.default_rng(0)
    rgb = rng.random((40, 36, 3)).astype(dtype)
    arrays = [rng.random((9, 7)).astype(dtype), rng.random((3, 50)).astype(dtype),
              rgb[..., 1], rng.random((1, 1)).astype(dtype)]
    sigmas = [0.3, 0.6, 1.5, 1.5 * 0.85, 2.6 * 1.18, 0.7 * 32 / 32.0, 4.99, 1e-16]
    for x in arrays:
        for s in sigmas + sigmas[:2]:
            want = ndimage.gaussian_filter(x, s, mode=mode)
            got = blur(x, s, mode=mode)
            assert got.dtype == want.dtype and np.array_equal(got, want), (x.shape, s)
    want = np.stack([ndimage.gaussian_filter(rgb[..., c], 1.3, mode=mode) for c in range(3)], -1)
    assert np.array_equal(blur_channels(rgb, 1.3, mode), want)
    with pytest.raises(ValueError, match="2-D"):
        blur(rgb, 1.0)


def test_unmix_gives_the_floats_of_its_formula_over_an_rgb_axis():
    """unmix works on one pixels x models plane per channel (3x faster); its shares, residuals
    and choices are those of the formula written over an RGB axis (``.sum(-1)``), float for
    float, on a blurred, noisy ToyWorld-like picture with and without an object filter."""
    from lina_core.toyworld.blur import blur
    from lina_core.toyworld.canvas import FLOOR, MIRROR, WALL
    from lina_core.toyworld.unmix import unmix
    rng = np.random.default_rng(1)
    bgs = [np.asarray(c, np.float32) for c in (WALL, FLOOR, MIRROR)]
    objs = [np.asarray(c, np.float32) for c in ([200, 40, 40], [40, 60, 210], [230, 220, 60])]
    labels = rng.integers(0, 6, (64, 64))
    img = np.stack(bgs + objs)[labels]
    img = np.stack([blur(img[..., c], 1.3) for c in range(3)], -1)
    img = (img + rng.normal(0, 6, img.shape)).astype(np.float32)
    pairs = [(0, 1), (1, 2)]
    for over in (None, lambda i, o: i != 2 or o == 0):
        got = unmix(img, bgs, objs, ["red", "blue", "yellow"], pairs, obj_over=over)
        models = [(0, i, i) for i in range(3)] + [(0, i, j) for i, j in pairs] + \
            [(1, i, o) for i in range(3) for o in range(3) if over is None or over(i, o)]
        a = np.asarray([bgs[i] for _, i, _ in models], np.float32)[None]
        d = np.asarray([bgs[j] if m == 0 else objs[j] for m, _, j in models], np.float32)[None] - a
        p = img.reshape(-1, 1, 3)
        t = np.clip(((p - a) * d).sum(-1) / np.maximum((d * d).sum(-1), 1e-6), 0.0, 1.0)
        r = np.sqrt(((p - a - t[..., None] * d) ** 2).sum(-1))
        is_obj = np.array([m == 1 for m, _, _ in models])[None]
        best = (r + np.where(is_obj, 2.0 * t, 12.0 * np.minimum(t, 1 - t))).argmin(1)
        rows = np.arange(len(best))
        assert np.array_equal(got.resid.ravel(), r[rows, best])
        assert got.resid.dtype == np.float32 and len(np.unique(best)) > 5
        obj = np.where(is_obj[0, best], np.array([j for _, _, j in models])[best], -1)
        obj[r[rows, best] > 60.0] = -1
        assert np.array_equal(got.obj.ravel(), obj)
