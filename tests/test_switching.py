"""Insight 3(b)'s switch probe (lina_core/insights/switching.py): the counterfactual prompts, the branch
from the cached baseline, and the numbers.

The counterfactuals are checked with clean renders (the verifier must be able to tell c from c'
for every factor counted); the branch on a tiny random-weight pipeline (2 steps) must be exactly
the run it stands for; the summary is checked on rows whose rates are known by hand."""
from __future__ import annotations

import json

import numpy as np
import pytest

from lina_core import engine
from lina_core.insights import switching as S
from lina_core.csg import TOYWORLD_CATEGORIES
from lina_core.grid import scene

ITEM = {"split": "dev-ood", "index": 0, "seed": 0}


def _scene(cat: str, index: int = 0):
    return scene({**ITEM, "category": cat, "index": index}, TOYWORLD_CATEGORIES)


@pytest.mark.parametrize("cat", TOYWORLD_CATEGORIES)
def test_counterfactual_changes_what_the_verifier_reads(cat):
    """c' parses; on clean renders each scene fails the other's physics (not reflection: no
    prompt changes it) and texture questions, so 'follows c'' is never the original's verdict."""
    for index in (0, 1):
        s = _scene(cat, index)
        c = s.caption(False)
        c2 = S.counterfactual(c, cat, s.seed)
        assert c2 != c and S.counterfactual(c, cat, s.seed) == c2       # seeded, deterministic
        h = S.graph_of(c2, s.seed)
        assert h.category == cat
        assert S.distinct(s.graph, h) == {"physics": cat != "reflection", "texture": True}


def test_counterfactual_edits_name_the_flip():
    assert S.counterfactual("a red ball on the floor, lit from the left", "shadow", 0) \
        .endswith("lit from the right")
    assert S.counterfactual("an ice cube and a stone cube on a balance", "balance", 0) == \
        "a stone cube and an ice cube on a balance"
    assert S.counterfactual("a wide jar with more empty space than soil", "fill", 0) == \
        "a tall jar with more soil than empty space"
    assert "larger" in S.counterfactual("a red cone smaller than a blue ball", "scale", 0)


@pytest.fixture(scope="module")
def tiny():
    from lina_core.pipelines import registry
    return registry.tiny_toyworld()


def test_branch_at_k_is_the_switched_run(tiny):
    """From the cached baseline, the branch at k equals the same switch run from scratch; at
    k = 0 it is a run of c' alone; at k = 1 it differs from both c and c'."""
    from lina_core.candidates import get, spec_for
    from lina_core.compare import branch
    s = _scene("shadow")
    c, c2 = s.caption(False), S.counterfactual(s.caption(False), "shadow", s.seed)
    base_spec = spec_for(get("none"), c, s.graph, 2, 7)
    base = engine.run(tiny, base_spec, seed=7, previews=False)
    one = S.branch_spec(base_spec, c2, 1)
    assert [(e.type, e.start, e.end, e.target_prompt) for e in one.edits] == [("replace", 1, 2, c2)]
    at1 = branch(tiny, one, base, seed=7, previews=False).images[0]
    assert np.array_equal(at1, engine.run(tiny, one, seed=7, previews=False).images[0])
    at0 = branch(tiny, S.branch_spec(base_spec, c2, 0), base, seed=7, previews=False).images[0]
    alone = engine.run(tiny, spec_for(get("none"), c2, s.graph, 2, 7), seed=7, previews=False)
    assert np.array_equal(at0, alone.images[0])
    assert not np.array_equal(at1, at0) and not np.array_equal(at1, base.images[0])


def test_scene_record_judges_every_final_against_both_prompts(tiny, monkeypatch):
    """The record's last k is the baseline (no switch); each final is judged against c' (cf) and
    c (src); the baseline is handed to 3(c) once."""
    from lina_core.toyworld import verify_video
    seen, judged = [], []
    real = verify_video.judge

    def judge(img, g):
        judged.append((img.copy(), g.category))
        return real(img, g)
    monkeypatch.setattr(verify_video, "judge", judge)
    item = {**ITEM, "category": "scale"}
    rec = S.scene_record(tiny, item, [0, 1], steps=2,
                         on_baseline=lambda it, s, run: seen.append(run.images[0]))
    assert rec["ks"] == [0, 1, 2] and len(rec["cf"]) == len(rec["src"]) == 3
    assert rec["cf_prompt"] == S.counterfactual(rec["prompt"], "scale", _scene("scale").seed)
    assert len(seen) == 1
    finals = [im for im, _ in judged[-6:]]               # 3 finals vs c', then 3 vs c
    assert np.array_equal(finals[2], seen[0]) and np.array_equal(finals[5], seen[0])


def test_no_switch_step_keeps_the_baseline_only(tiny):
    """``--ks none``: the baseline alone (its attention for 3(c)), judged both ways."""
    seen = []
    rec = S.scene_record(tiny, {**ITEM, "category": "shadow"}, [], steps=2,
                         on_baseline=lambda it, s, run: seen.append(run))
    assert rec["ks"] == [2] and len(rec["cf"]) == len(rec["src"]) == 1 and len(seen) == 1


def _row(cat: str, cf_phys: list[int], cf_tex: list[int], distinct_phys: bool = True) -> dict:
    return {**ITEM, "category": cat, "index": len(cf_phys) * 0, "ks": [0, 4, 25],
            "distinct": {"physics": distinct_phys, "texture": True},
            "cf": [{"physics": p, "texture": t} for p, t in zip(cf_phys, cf_tex)],
            "src": [{"physics": 1 - p, "texture": 1 - t} for p, t in zip(cf_phys, cf_tex)]}


def _rows() -> list[dict]:
    rows = [_row("shadow", [1, 0, 0], [1, 1, 0]), _row("shadow", [1, 1, 0], [1, 1, 0]),
            _row("scale", [1, 0, 0], [1, 0, 0]), _row("scale", [1, 0, 0], [1, 1, 0]),
            _row("reflection", [0, 0, 0], [1, 1, 0], distinct_phys=False)]
    for i, r in enumerate(rows):
        r["index"] = i
    return rows


def test_summary_counts_only_scenes_whose_factor_changes():
    res = S.summary(_rows())
    allp, allt = res["groups"]["all"]["physics"], res["groups"]["all"]["texture"]
    assert allp["n"] == 4 and allt["n"] == 5             # reflection adds to texture only
    assert [p["acc"] for p in allp["follow"]] == [1.0, 0.25, 0.0]
    assert [p["acc"] for p in allt["follow"]] == [1.0, 0.8, 0.0]
    assert [p["acc"] for p in allp["keep"]] == [0.0, 0.75, 1.0]
    assert [e["share"] for e in allp["effect_left"]] == [1.0, 0.25, 0.0]
    assert S.half_k(res, "physics") == 4 and S.half_k(res, "texture") == 25
    assert res["groups"]["reflection"]["physics"]["n"] == 0
    lo, hi = allp["follow"][1]["lo"], allp["follow"][1]["hi"]
    assert lo < 0.25 < hi                                 # a Wilson interval around 1 of 4


def test_cli_summarises_rows_and_names_its_command(tmp_path):
    from lina_core.__main__ import main
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / S.ROWS).write_text("".join(json.dumps(r) + "\n" for r in _rows()))
    out = tmp_path / "out"
    assert main(["switching", "--summarise", "--runs", str(runs), "--out", str(out)]) == 0
    res = json.loads((out / "switch.json").read_text())
    assert res["command"].startswith("python -m lina_core switching") and res["n_scenes"] == 5
    assert (out / "switch.png").stat().st_size > 1000 and (out / "switch.html").is_file()
