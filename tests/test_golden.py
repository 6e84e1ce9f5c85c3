"""Golden equality (issue 26): what ToyWorld generates, renders, masks and judges is pinned by a
committed digest (tests/data/toyworld_golden.json, :mod:`lina_core.toyworld.golden`), so a
restructuring that changes one pixel, one mask, one caption or one verdict fails here and names
the scene and the item.

The graphs of *every* generator prompt are pinned by
``test_open_world.test_toyworld_prompts_give_the_same_graphs_as_before``; this file pins the
rest over a fixed sample (one scene per category and split).  The shipped benchmark's verdicts
need the model (seconds a run), so they are checked by ``python -m lina_core golden --bench
docs/results/v2/bench.json``, not here.  After a change *meant* to alter any of it:
``python -m lina_core golden --write`` and say why in the commit.
"""
from __future__ import annotations

import numpy as np
import pytest

from lina_core.toyworld import golden


@pytest.mark.slow   # ~100 verdicts and ~1,000 renders: ~5 s of one core
def test_toyworld_matches_the_golden_digest():
    expected = golden.read()
    got = golden.compute(expected["scenes_per_cell"])
    assert len(got["scenes"]) == 32          # 8 categories x 4 splits
    assert golden.differences(expected, got) == []


def test_the_digest_sees_one_pixel_of_one_render(monkeypatch):
    """The comparison can fail: one pixel of the renderer changed is one item that differs."""
    import sys
    R = sys.modules["lina_core.toyworld.render"]     # the package's `render` is the function
    key, (cat, split, i) = "roles/test-ood/0", ("roles", "test-ood", 0)
    before = golden.scene_digest(split, i, cat)
    assert before == golden.read()["scenes"][key]
    plain = R.render

    def one_pixel_off(g, size=64):
        r = plain(g, size)
        r.image[0, 0, 0] ^= 1
        return r
    monkeypatch.setattr(R, "render", one_pixel_off)
    after = golden.scene_digest(split, i, cat)
    changed = {k for k in before if before[k] != after[k]}
    assert "render" in changed and {"graph", "captions", "masks"}.isdisjoint(changed)
    exp = {"scenes": {key: before}}
    assert golden.differences(exp, {"scenes": {key: after}}) == [f"{key}: {k}"
                                                                 for k in sorted(changed)]


def test_differences_name_missing_and_new_items():
    a = {"scenes": {"x/train/0": {"render": "1"}}}
    b = {"scenes": {"x/train/0": {"render": "1", "clip": "2"}, "y/train/0": {"render": "3"}}}
    assert golden.differences(a, b) == ["x/train/0: clip", "y/train/0: render"]
    assert golden.differences(b, b) == []


def test_hash_tells_arrays_by_shape_and_dtype():
    z = np.zeros(4, np.uint8)
    assert golden._h(z) != golden._h(z.reshape(2, 2)) != golden._h(z.astype(np.int8))
