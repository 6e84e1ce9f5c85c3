"""Insight 1's multi-hop measurement (insights/multihop.py) and the two-hop refraction reading
(lina_core/toyworld/refraction.py).

Hops are checked on the categories' graphs; the refraction reading on clean renders drawn with
and without the shift (it must tell them apart, and say nothing where it does not apply); the
summary on rows whose rates are known by hand; collection and re-judging on a tiny random-weight
pipeline (re-judging the kept images gives the rows collection wrote)."""
from __future__ import annotations

import importlib
import json

import numpy as np
import pytest

from lina_core.insights import multihop as M
from lina_core.csg import TOYWORLD_CATEGORIES
from lina_core.grid import scene
from lina_core.toyworld import refraction as F
from lina_core.toyworld.categories import CATEGORIES

RENDER = importlib.import_module("lina_core.toyworld.render")


def _scene(cat: str, index: int = 0, split: str = "test-id"):
    return scene({"split": split, "category": cat, "index": index, "seed": 0},
                 TOYWORLD_CATEGORIES)


@pytest.mark.parametrize("cat,hop", [("reflection", 1), ("shadow", 1), ("balance", 1),
                                     ("scale", 0), ("roles", 0), ("fill", 0), ("place", 0)])
def test_question_hops(cat, hop):
    """An effect of stated facts is one hop away; a relation the prompt states is zero."""
    from lina_core.toyworld.verify import verify
    g = _scene(cat).graph
    qs = verify(RENDER.render(g, 32).image, g).physics
    assert {M.question_hop(g, q) for q in qs} == {hop}


def test_refraction_is_two_hops_and_float_one():
    g = _scene("buoyancy").graph
    assert M.question_hop(g, "float_or_sink") == 1
    assert M.question_hop(g, F.QUESTION) == 2


def _floating(n: int) -> list:
    out, i = [], 0
    while len(out) < n:
        g = _scene("buoyancy", i).graph
        i += 1
        if F.applies(g):
            out.append(g)
    return out


def test_refraction_reading_tells_the_shift_apart(monkeypatch):
    """Renders drawn with the shift are read as refracted, the same scenes drawn without it are
    not; the shift read is near the drawn one (2.9 px of 64)."""
    graphs = _floating(6)
    drawn = [F.shift_seen(RENDER.render(g, 32).image, g) for g in graphs]
    assert all(F.judge(RENDER.render(g, 32).image, g) for g in graphs)
    assert all(1.9 <= s <= 3.5 for s in drawn), drawn
    thr = F.threshold()
    monkeypatch.setattr(CATEGORIES["buoyancy"], "drawn_shift", 0.0)   # drawn without it
    flat = [F.shift_seen(RENDER.render(g, 32).image, g) for g in graphs]
    assert all(abs(s) < 0.6 for s in flat), flat
    assert not any(s >= thr for s in flat)


def test_refraction_applies_only_to_floating_objects():
    sinking = next(g for g in (_scene("buoyancy", i).graph for i in range(20))
                   if g.effects("sinking"))
    assert F.judge(RENDER.render(sinking, 32).image, sinking) is None
    shadow = _scene("shadow").graph
    assert F.judge(RENDER.render(shadow, 32).image, shadow) is None


def test_refraction_not_found_is_no_answer():
    """With no water in the picture there is nothing to read: no shift, not a wrong one."""
    g = _floating(1)[0]
    blank = np.full((32, 32, 3), 228, np.uint8)
    assert F.shift_seen(blank, g) is None


def test_refraction_fails_when_the_object_does_not_float():
    """A floating scene's graph judged on a render of the same object sunk: the first hop
    fails, so the second cannot be as the graph says."""
    g = _floating(1)[0]
    sunk = next(h for h in (_scene("buoyancy", i).graph for i in range(40))
                if h.effects("sinking"))
    assert F.judge(RENDER.render(sunk, 32).image, g) is False


def test_refraction_check_command_rates(tmp_path):
    from lina_core.toyworld.refraction import main
    out = tmp_path / "r.json"
    assert main(["--n", "4", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    got = {(r["noise_sigma"], r["drawn_shift"]): r["judged_shifted"]["acc"] for r in rows}
    assert got[(0.0, True)] == 1.0 and got[(0.0, False)] == 0.0
    assert main(["--n", "0", "--out", str(out)]) == 2


# ---------------------------------------------------------------------- the numbers


def _row(split, cat, index, hops, imp, exp):
    return {"split": split, "category": cat, "index": index, "seed": 0, "hops": hops,
            "implicit": {"physics": imp, "texture_ok": 1},
            "explicit": {"physics": exp, "texture_ok": 1}}


def test_summary_counts_images_per_hop_and_pairs_captions():
    rows = [
        # hop 1 scenes: implicit passes 1 of 4, explicit 3 of 4 (paired +50 points)
        *[_row("test-id", "shadow", i, {"shadow_side": 1}, {"shadow_side": int(i == 0)},
               {"shadow_side": int(i < 3)}) for i in range(4)],
        # hop 0 scenes: both pass all
        *[_row("test-id", "scale", i, {"larger": 0}, {"larger": 1}, {"larger": 1})
          for i in range(2)],
        # a buoyancy scene with a two-hop question: hop 1 passes, hop 2 fails
        _row("test-ood", "buoyancy", 0, {"float_or_sink": 1, F.QUESTION: 2},
             {"float_or_sink": 1, F.QUESTION: 0}, {"float_or_sink": 1, F.QUESTION: 1}),
    ]
    # a floating scene whose second hop could not be read on the implicit image
    unread = _row("test-ood", "buoyancy", 1, {"float_or_sink": 1, F.QUESTION: 2},
                  {"float_or_sink": 1}, {"float_or_sink": 1, F.QUESTION: 1})
    unread["implicit"]["undetermined"] = [F.QUESTION]
    rows.append(unread)
    res = M.summary(rows)
    cell = {(c["split"], c["hop"]): c for c in res["cells"]}
    assert cell[("test-ood", 2)]["undetermined"] == {"implicit": 1, "explicit": 0}
    assert cell[("test-ood", 2)]["explicit"]["n"] == 2
    assert cell[("test-id", 1)]["implicit"]["acc"] == 0.25
    assert cell[("test-id", 1)]["explicit"]["acc"] == 0.75
    assert cell[("test-id", 1)]["explicit_minus_implicit"]["diff"] == 0.5
    assert cell[("test-id", 0)]["implicit"]["n"] == 2
    assert ("test-id", 2) not in cell or cell[("test-id", 2)]["implicit"]["n"] == 0
    assert cell[("test-ood", 2)]["implicit"]["acc"] == 0.0
    assert cell[("test-ood", 2)]["implicit"]["n"] == 1
    assert cell[("test-ood", 2)]["explicit"]["acc"] == 1.0
    assert cell[("test-ood", 1)]["implicit"]["acc"] == 1.0
    # refraction given the object floats: 0 of 1 implicit, 1 of 1 explicit
    assert cell[("test-ood", 2)]["given_previous_hop"]["implicit"] == \
        {"acc": 0.0, "n": 1, "lo": 0.0, "hi": pytest.approx(0.7935, abs=1e-4)}
    assert cell[("test-id", 1)]["given_previous_hop"]["implicit"]["n"] == 0   # no hop 0 asked
    # per category: the verifier's own questions (the two-hop reading left out)
    cat = {(c["category"], c["split"]): c for c in res["categories"]}
    assert cat[("buoyancy", "test-ood")]["implicit"]["acc"] == 1.0
    assert "(+1 unread)" in M.table(res)
    assert cat[("buoyancy", "test-ood")]["hop"] == 1
    gap = {(g["hop"], g["caption"]): g["ood_minus_id"]["diff"] for g in res["ood_gaps"]}
    assert gap[(1, "implicit")] == 0.75
    assert "| test-id | 1 |" in M.table(res)
    hg = {(g["split"], g["hop"], g["caption"]): g["minus_hop0"]["diff"] for g in res["hop_gaps"]}
    assert hg[("test-id", 1, "implicit")] == -0.75 and hg[("test-id", 1, "explicit")] == -0.25


def test_items_are_balanced_and_the_effect_filter_holds():
    its = M.items_for(["test-id", "test-ood"], 2)
    assert len(its) == 2 * 2 * len(TOYWORLD_CATEGORIES)
    assert {it["category"] for it in its[:16]} == set(TOYWORLD_CATEGORIES)   # scene-major
    fl = M.items_for(["test-ood"], 3, ["buoyancy"], "floating")
    assert len(fl) == 3 and all(scene(it, TOYWORLD_CATEGORIES).graph.effects("floating")
                                for it in fl)


def test_bad_options_exit_2(capsys, tmp_path):
    assert M.main(["--summarise", "--runs", str(tmp_path / "none")]) == 2
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / M.ROWS).write_text(json.dumps({"split": "test-id", "category": "shadow",
                                                     "index": 0, "seed": 0}) + "\n")
    assert M.main(["--rejudge", "--runs", str(tmp_path / "r")]) == 2     # its images are gone
    assert M.main(["--splits", "nope"]) == 2
    assert M.main(["--categories", "nope", "--runs", "unused"]) == 2
    assert M.main(["--effect", "nope"]) == 2
    assert "--effect" in capsys.readouterr().err


@pytest.fixture(scope="module")
def tiny():
    from lina_core.pipelines import registry
    return registry.tiny_toyworld()


@pytest.mark.slow   # a tiny pipeline built and run 8 times, 16 images judged: ~4 s
def test_collect_resumes_and_rejudge_gives_the_same_rows(tiny, tmp_path):
    items = M.items_for(["test-id"], 1, ["shadow", "buoyancy"])
    rows = M.collect(tiny, items[:1], tmp_path, steps=2, progress=lambda m: None)
    assert len(rows) == 1
    rows = M.collect(tiny, items, tmp_path, steps=2, progress=lambda m: None)
    assert len(rows) == 2 and len((tmp_path / M.ROWS).read_text().splitlines()) == 2
    assert len(list((tmp_path / "img").glob("*.png"))) == 4
    again = M.rejudge(tmp_path)
    assert again == rows
    assert all(r["pixel_diff"] >= 0 for r in rows)
    for r in rows:
        assert set(r["implicit"]["physics"]) == set(r["hops"])
        assert r["explicit"]["prompt"].startswith(r["implicit"]["prompt"])
