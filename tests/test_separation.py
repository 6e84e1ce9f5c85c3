"""Insight 2's separation measurement (lina_core/insights/separation.py): the moved prompts, the train
pairs a direction is fitted on, the follow/keep arithmetic, and a run on a tiny pipeline."""
from __future__ import annotations

import pytest

from lina_core.insights import separation as S
from lina_core.csg import TOYWORLD_CATEGORIES
from lina_core.grid import scene

P = "a small red cube on the floor, lit from the left"


def test_changed_prompts():
    assert S.changed(P, "texture", "red", "blue") == (
        "red", "blue", "a small blue cube on the floor, lit from the left")
    assert S.changed(P, "physics", "red", "blue") == (
        "left", "right", "a small red cube on the floor, lit from the right")


def test_train_pairs_hold_the_old_value_and_leave_the_prompt_out():
    pairs = S.train_pairs(P, "physics", "left", "right")
    assert 8 <= len(pairs) <= S.PAIRS
    assert all(a.endswith("the left") and b.endswith("the right") and a != P for a, b in pairs)
    assert len({a for a, _ in pairs}) == len(pairs)                   # distinct prompts
    assert all(len(a.split()) == len(P.split()) for a, _ in pairs)    # one template
    tex = S.train_pairs(P, "texture", "red", "blue")
    assert tex and all(" red " in a and b == a.replace(" red ", " blue ") for a, b in tex)


def test_items_are_side_lit_shadow_scenes():
    its = S.items_for("test-id", 5)
    assert len(its) == 5
    for it in its:
        assert scene(it, TOYWORLD_CATEGORIES).graph.attr("light", "side") in ("left", "right")


def _row(t_src, t_cf, p_src, p_cf, base=None):
    v = lambda c, t, p: {"colour": c, "texture": t, "physics": p}   # noqa: E731
    base = base or v(1, 1, 1)
    return {"split": "test-id", "category": "shadow", "index": 0, "seed": 0, "base": base,
            "texture": {"distinct": {"texture": True, "physics": False},
                        "swap": {"src": t_src, "cf": t_cf}, "direction": {"src": t_src,
                                                                          "cf": t_cf}},
            "physics": {"distinct": {"texture": False, "physics": True},
                        "swap": {"src": p_src, "cf": p_cf}, "direction": {"src": p_src,
                                                                          "cf": p_cf}}}


def test_follow_and_keep():
    v = lambda c, t, p: {"colour": c, "texture": t, "physics": p}   # noqa: E731
    # the colour moved and physics kept; the side moved but texture broken
    r = _row(v(0, 0, 1), v(1, 1, 1), v(0, 0, 0), v(0, 0, 1))
    assert S.follows(r, "texture", "swap") and S.keeps(r, "texture", "swap")
    assert S.follows(r, "physics", "swap") and not S.keeps(r, "physics", "swap")
    # nothing moved: the image still passes the original's questions
    r2 = _row(v(1, 1, 1), v(0, 0, 1), v(1, 1, 1), v(1, 1, 0))
    assert not S.follows(r2, "texture", "swap") and S.keeps(r2, "texture", "swap")
    assert not S.follows(r2, "physics", "direction")
    res = S.summary([r, r2])
    cell = {(c["factor"], c["move"]): c for c in res["cells"]}
    assert cell[("texture", "swap")]["follows"]["acc"] == 0.5
    assert cell[("physics", "swap")]["keeps_other"]["acc"] == 0.5
    assert cell[("physics", "swap")]["both"]["acc"] == 0.0
    assert "| texture (colour) | swap | 2 |" in S.table(res)


@pytest.fixture(scope="module")
def tiny():
    from lina_core.pipelines import registry
    return registry.tiny_toyworld()


def test_a_scene_on_a_tiny_pipeline(tiny, tmp_path):
    """Every move runs, each judged both ways; a second collect adds nothing."""
    items = S.items_for("test-id", 1)
    rows = S.collect(tiny, items, tmp_path, steps=2, progress=lambda m: None)
    assert len(rows) == 1
    r = rows[0]
    for f in S.FACTORS:
        assert r[f]["distinct"]["texture" if f == "texture" else "physics"]
        for m in S.MOVES:
            assert set(r[f][m]) == {"src", "cf"}
    assert S.collect(tiny, items, tmp_path, steps=2, progress=lambda m: None) == rows
    assert len((tmp_path / S.ROWS).read_text().splitlines()) == 1


def test_bad_n_and_empty_runs_exit_2(tmp_path):
    assert S.main(["--n", "0"]) == 2
    assert S.main(["--summarise", "--runs", str(tmp_path / "none")]) == 2
