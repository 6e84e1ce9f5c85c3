"""ToyWorld renderer: determinism, masks that match the pixels, sizes, clips."""
from __future__ import annotations

import numpy as np
import pytest

from lina_core.csg import CATEGORIES, GraphError, from_prompt
from lina_core.toyworld.data import SPLITS, sample_scene
from lina_core.toyworld import canvas as R
from lina_core.toyworld.canvas import object_colour
from lina_core.toyworld.render import clip_frames, render, render_clip

PROMPTS = {
    "reflection": "a red ball on a large round mirror",
    "reflection_square": "a large blue cube on a small square mirror",
    "shadow": "a green cone on the floor, lit from the left",
    "buoyancy_float": "a cork ball in a beaker of water",
    "buoyancy_sink": "a metal cube in a beaker of water",
    "balance": "a wood cube and a stone cube on a balance",
    "scale": "a red ball larger than a blue cone",
}


def graph(key: str):
    return from_prompt(PROMPTS[key]).graph


def share_close(img: np.ndarray, mask: np.ndarray, colour, tol: float = 2.0) -> float:
    """Share of the mask's pixels within ``tol`` of ``colour`` (edges are antialiased)."""
    px = img[mask].astype(np.float32)
    assert len(px), "empty mask"
    return float((np.abs(px - np.asarray(colour, np.float32)).max(axis=1) <= tol).mean())


def interior(mask: np.ndarray) -> np.ndarray:
    """``mask`` less its one-pixel rim (4-neighbour erosion)."""
    m = np.pad(mask, 1)
    return m[1:-1, 1:-1] & m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]


def luminance(px: np.ndarray) -> np.ndarray:
    return px.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("key", sorted(PROMPTS))
def test_same_graph_same_pixels(key):
    a, b = render(graph(key)), render(graph(key))
    assert a.image.dtype == np.uint8 and a.image.shape == (64, 64, 3)
    assert np.array_equal(a.image, b.image)
    assert a.masks.keys() == b.masks.keys()
    for k in a.masks:
        assert a.masks[k].dtype == bool and a.masks[k].shape == (64, 64)
        assert np.array_equal(a.masks[k], b.masks[k])


def test_render_does_not_change_the_graph():
    g = graph("shadow")
    before = g.to_json()
    render(g)
    assert g.to_json() == before


def test_graph_without_boxes_renders_as_canonical_layout():
    g = graph("balance")
    bare = g.copy()
    for n in bare.graph.nodes:
        bare.graph.nodes[n]["box"] = None
    assert np.array_equal(render(bare).image, render(g).image)
    assert all(d["box"] is None for _, d in bare.graph.nodes(data=True))


@pytest.mark.parametrize("split", SPLITS)
def test_sample_scene_is_deterministic(split):
    for i in range(len(CATEGORIES)):
        a, b = sample_scene(split, i), sample_scene(split, i)
        assert a.seed == b.seed and a.graph.to_dict() == b.graph.to_dict()
        assert np.array_equal(render(a.graph).image, render(b.graph).image)
    # different indices give different scenes
    imgs = {render(sample_scene(split, i).graph).image.tobytes() for i in range(10)}
    assert len(imgs) == 10


# --------------------------------------------------------------------------- masks


def test_every_node_mask_non_empty():
    for split in SPLITS:
        for i in range(15):
            s = sample_scene(split, i)
            r = render(s.graph)
            assert set(r.masks) == set(s.graph.graph.nodes)
            for n, m in r.masks.items():
                assert m.any(), (split, i, s.category, n)


@pytest.mark.parametrize("key", ["reflection", "reflection_square", "shadow", "buoyancy_float",
                                 "buoyancy_sink", "balance", "scale"])
def test_object_masks_have_the_object_colour(key):
    g = graph(key)
    r = render(g)
    for o in g.nodes("object"):
        colour = object_colour(g, o)
        if g.category == "buoyancy":  # only the part above water keeps its own colour
            above = r.masks[o] & ~r.masks["refraction"]
            if above.any():
                assert share_close(r.image, above, colour) > 0.6
            continue
        assert share_close(r.image, r.masks[o], colour) > 0.6, o


@pytest.mark.parametrize("key", ["reflection", "reflection_square"])
def test_reflection_mask_is_a_blend_inside_the_mirror(key):
    g = graph(key)
    r = render(g)
    m = r.masks["reflection"]
    col = object_colour(g, "obj0")
    blend = col * R.REFLECTION_MIX + R.MIRROR * (1 - R.REFLECTION_MIX)
    assert share_close(r.image, m, blend) > 0.6
    # neither the object's colour nor the bare mirror
    assert share_close(r.image, m, col, tol=10) < 0.05
    assert share_close(r.image, m, R.MIRROR, tol=10) < 0.05
    # inside the mirror, below the object, never overlapping it
    assert not (m & interior(r.masks["obj0"])).any()
    ys = np.nonzero(m)[0]
    assert ys.min() >= np.nonzero(r.masks["obj0"])[0].max() - 1
    assert (m & ~r.masks["mirror"]).sum() == 0


@pytest.mark.parametrize("side", ["the left", "the right", "above"])
def test_shadow_mask_is_darker_than_the_floor(side):
    g = from_prompt(f"a yellow cube on the floor, lit from {side}").graph
    r = render(g)
    sh = r.masks["shadow"]
    bare_floor = r.masks["floor"] & ~sh & ~r.masks["obj0"]
    assert luminance(r.image[sh]).mean() < luminance(r.image[bare_floor]).mean() - 40
    blend = R.SHADOW * R.SHADOW_ALPHA + R.FLOOR * (1 - R.SHADOW_ALPHA)
    assert share_close(r.image, sh, blend) > 0.5
    assert (sh & ~r.masks["floor"]).sum() == 0
    # light mask has the light's colour
    assert share_close(r.image, r.masks["light"], R.LIGHT) > 0.6


def test_buoyancy_masks():
    for key, effect in (("buoyancy_float", "floating"), ("buoyancy_sink", "sinking")):
        g = graph(key)
        r = render(g)
        assert np.array_equal(r.masks[effect], r.masks["obj0"])
        ref = r.masks["refraction"]
        assert ref.any() and not (ref & ~r.masks["obj0"]).any()
        tint = object_colour(g, "obj0") * (1 - R.WATER_TINT) + R.WATER * R.WATER_TINT
        assert share_close(r.image, ref, tint) > 0.6
    # a floater sticks out of the water, a sinker does not
    fl, sk = render(graph("buoyancy_float")), render(graph("buoyancy_sink"))
    assert (fl.masks["obj0"] & ~fl.masks["refraction"]).any()
    assert not (sk.masks["obj0"] & ~sk.masks["refraction"]).any()


def test_balance_heavy_side_is_lower():
    g = graph("balance")  # wood (left) vs stone (right): the right goes down
    r = render(g)
    rows = {o: np.nonzero(r.masks[o])[0].mean() for o in ("obj0", "obj1")}
    assert rows["obj1"] > rows["obj0"]
    assert share_close(r.image, r.masks["tilt"], R.BEAM) > 0.5


def test_effect_masks_are_occluded_by_objects():
    for key in PROMPTS:
        g = graph(key)
        r = render(g)
        objs = np.zeros((64, 64), bool)
        for o in g.nodes("object"):
            objs |= r.masks[o]
        for n, m in r.masks.items():
            if g.node(n)["kind"] in ("surface", "light") or g.attr(n, "type") in (
                    "floating", "sinking", "refraction"):
                continue
            if g.node(n)["kind"] == "effect":
                # masks are occluded at 2x supersampling; after the box filter only pixels
                # split half and half along an edge may count for both
                assert not (m & interior(objs)).any(), (key, n)


# --------------------------------------------------------------------------- sizes


@pytest.mark.parametrize("size", [32, 33, 47, 64, 100, 129, 512])
def test_any_size_from_32_works(size):
    g = graph("reflection")
    r = render(g, size)
    assert r.image.shape == (size, size, 3)
    assert all(m.shape == (size, size) and m.any() for m in r.masks.values())


@pytest.mark.parametrize("size", [31, 0, -64, 513, 4096, 64.0, "64", None, True])
def test_bad_sizes_raise_graph_error_naming_size(size):
    with pytest.raises(GraphError, match=r"size: .* must be an integer in \[32, 512\]"):
        render(graph("shadow"), size)


def test_masks_scale_with_size():
    g = graph("scale")
    small, big = render(g, 64), render(g, 128)
    for n in small.masks:
        a = small.masks[n].mean()
        b = big.masks[n].mean()
        assert b == pytest.approx(a, abs=0.02), n


# --------------------------------------------------------------------------- clips

CLIP_PROMPTS = {"reflection": "a red ball on a large round mirror",
                "buoyancy": "a cork cube in a beaker of water",
                "shadow": "a blue cube on the floor, lit from the right"}


@pytest.mark.parametrize("cat", sorted(CLIP_PROMPTS))
def test_clip_frames_differ_and_end_on_the_still(cat):
    g = from_prompt(CLIP_PROMPTS[cat]).graph
    frames = render_clip(g)
    assert len(frames) >= 8
    assert all(f.image.shape == (64, 64, 3) for f in frames)
    distinct = {f.image.tobytes() for f in frames}
    assert len(distinct) >= len(frames) // 2
    assert not np.array_equal(frames[0].image, frames[-1].image)
    still = render(g)
    assert np.array_equal(frames[-1].image, still.image)
    for n in still.masks:
        assert np.array_equal(frames[-1].masks[n], still.masks[n]), n
    # same graph, same clip
    again = render_clip(g)
    assert all(np.array_equal(a.image, b.image) for a, b in zip(frames, again))


@pytest.mark.parametrize("cat", sorted(CLIP_PROMPTS))
def test_clip_frame_counts_and_sizes(cat):
    g = from_prompt(CLIP_PROMPTS[cat]).graph
    frames = render_clip(g, frames=12, size=40)
    assert len(frames) == 12 and frames[0].image.shape == (40, 40, 3)
    for bad in (7, 33, 8.0):
        with pytest.raises(GraphError, match="frames"):
            clip_frames(g, bad)


def test_no_clip_for_static_categories():
    with pytest.raises(GraphError, match="category: 'balance' has no clip"):
        render_clip(graph("balance"))


def test_falling_ball_lands_on_the_mirror():
    frames = render_clip(from_prompt(CLIP_PROMPTS["reflection"]).graph, frames=10)
    bottoms = [np.nonzero(f.masks["obj0"])[0].max() for f in frames]
    assert bottoms == sorted(bottoms) and bottoms[0] < bottoms[-1]


def _centre_x(mask: np.ndarray) -> float:
    return float(np.nonzero(mask)[1].mean())


def _shadow_moves_opposite(prompt: str) -> None:
    frames = render_clip(from_prompt(prompt).graph, frames=10)
    light = [_centre_x(f.masks["light"]) for f in frames]
    shadow = [_centre_x(f.masks["shadow"]) for f in frames]
    dl, ds = np.diff(light), np.diff(shadow)
    assert abs(light[-1] - light[0]) > 20          # the light crosses the scene
    assert np.sign(light[-1] - light[0]) == -np.sign(shadow[-1] - shadow[0])
    assert all(a * b <= 0 for a, b in zip(dl, ds)), (light, shadow)
    # the shadow is on the side away from the light at both ends
    obj = _centre_x(frames[0].masks["obj0"])
    for i in (0, -1):
        assert np.sign(light[i] - obj) == -np.sign(shadow[i] - obj)


def test_shadow_moves_opposite_to_the_light():
    _shadow_moves_opposite(CLIP_PROMPTS["shadow"])


@pytest.mark.parametrize("side", ["the left", "above"])
def test_shadow_clip_ends_on_the_still_for_every_light_side(side):
    g = from_prompt(f"a blue cube on the floor, lit from {side}").graph
    assert np.array_equal(render_clip(g)[-1].image, render(g).image)


@pytest.mark.parametrize("side", ["the left", "above"])
def test_shadow_moves_opposite_for_every_light_side(side):
    _shadow_moves_opposite(f"a blue cube on the floor, lit from {side}")
