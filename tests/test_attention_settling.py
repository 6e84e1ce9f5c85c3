"""Insight 3(c)'s attention settling (insights/attention_settling.py): which words name which
node (the relational categories' surfaces too), the per-step IoUs, the numbers, the CLI and the
Probe tab's three measured figures.

IoUs are checked on masks whose overlaps are known by hand; a tiny random-weight run (2 steps)
checks that a baseline's attention record becomes per-node rows of the right length."""
from __future__ import annotations

import json

import numpy as np

from lina_core.insights import attention_settling as AS
from lina_core.csg import TOYWORLD_CATEGORIES
from lina_core.grid import scene


def _graph(cat: str):
    return scene({"split": "dev-ood", "category": cat, "index": 0, "seed": 0},
                 TOYWORLD_CATEGORIES)


def test_relational_surfaces_are_named_by_their_words():
    """fill: the jar (with its shape) and the fill (its material); place: the sand and water."""
    s = _graph("fill")
    caption = s.caption(False)                           # a wide jar with more empty space than soil
    tokens = ["<|startoftext|>"] + [w + "</w>" for w in caption.split()] + ["<|endoftext|>"]
    got = AS.node_tokens(s.graph, tokens)
    words = caption.split()
    assert [words[p - 1] for p in got["jar"]] == [s.graph.attr("jar", "shape"), "jar"]
    assert [words[p - 1] for p in got["fill"]] == [s.graph.attr("fill", "material")]
    s = _graph("place")
    tokens = ["<|startoftext|>"] + [w + "</w>" for w in s.caption(False).split()]
    got = AS.node_tokens(s.graph, tokens)
    assert {"obj0", "sand", "water"} <= set(got)


def test_node_ious_with_the_truth_and_the_last_step():
    truth = np.zeros((4, 4), bool)
    truth[:2, :2] = True                                  # area 4
    on = np.zeros((4, 4), np.float32)
    on[:2, :2] = 1.0
    half = np.zeros((4, 4), np.float32)
    half[:2, 1:3] = 1.0                                   # 2 of its 4 pixels on the truth
    m = np.stack([half, on])
    got = AS.node_ious(m, truth)
    assert got["truth"] == [round(2 / 6, 4), 1.0]
    assert got["self"] == [round(2 / 6, 4), 1.0]


def test_resize_is_nearest_neighbour():
    m = np.arange(4, dtype=float).reshape(1, 2, 2)
    assert AS.resize(m, (4, 4))[0].tolist() == [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3],
                                                [2, 2, 3, 3]]


def _rows() -> list[dict]:
    node = lambda n, g, selfs: {"node": n, "group": g, "area": 4, "chance": 0.1,  # noqa: E731
                                "truth": [0.2, 0.4, 0.6], "self": selfs}
    return [{"split": "dev-ood", "category": "roles", "index": 0, "seed": 0, "found": True,
             "nodes": [node("obj0", "object", [0.1, 0.6, 1.0]),
                       node("obj1", "object", [0.6, 0.6, 1.0])]},
            {"split": "dev-ood", "category": "fill", "index": 0, "seed": 0, "found": True,
             "nodes": [node("jar", "jar", [0.2, 0.3, 1.0])]},
            {"split": "dev-ood", "category": "shadow", "index": 0, "seed": 0, "found": False,
             "nodes": []}]


def test_summary_settled_shares_and_groups():
    res = AS.summary(_rows())
    assert res["n_scenes"] == 3 and res["obj0_not_found"] == 1 and res["steps"] == 3
    d = res["groups"]["all"]
    assert d["n"] == 3 and [p["acc"] for p in d["settled"]] == [round(1 / 3, 4), round(2 / 3, 4),
                                                                 1.0]
    assert d["truth"][1]["mean"] == 0.4
    assert res["groups"]["group.object"]["n"] == 2 and res["groups"]["category.fill"]["n"] == 1
    assert AS.settle_step(res, "group.object") == 1 and AS.settle_step(res) == 2


def test_scene_row_from_a_tiny_run():
    """A fill scene (no object to find): its named nodes get one IoU per step of the run."""
    from lina_core import engine
    from lina_core.interventions import InterventionSpec
    from lina_core.pipelines import registry
    pipe = registry.tiny_toyworld()
    s = _graph("fill")
    run = engine.run(pipe, InterventionSpec(prompt=s.caption(False), steps=2), seed=1,
                     previews=False, attention=True)
    row = AS.scene_row({"split": "dev-ood", "category": "fill", "index": 0, "seed": 0},
                       s.graph, run)
    assert row["found"] and {n["node"] for n in row["nodes"]} == {"jar", "fill"}
    for n in row["nodes"]:
        assert len(n["truth"]) == len(n["self"]) == 2 and n["self"][-1] == 1.0
        assert all(0.0 <= v <= 1.0 for v in n["truth"])


def test_cli_and_probe_tab_show_the_measured_figures(tmp_path):
    """The Probe tab's captions name the command that made each figure, or say it is absent
    (tests/test_settling.py builds the tab itself)."""
    from app import tab_probe
    from lina_core.__main__ import main
    from lina_core.insights import switching as S
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / AS.ROWS).write_text("".join(json.dumps(r) + "\n" for r in _rows()))
    assert main(["attention-settling", "--runs", str(runs), "--out", str(tmp_path / "att")]) == 0
    img, caption = tab_probe.figure("attention_settling", tmp_path / "att")
    assert img.ndim == 3 and "python -m lina_core attention-settling" in caption
    assert main(["attention-settling", "--runs", str(tmp_path), "--out", str(tmp_path)]) == 2
    res = S.summary([{"split": "dev-ood", "category": "shadow", "index": 0, "seed": 0,
                      "ks": [0, 4, 8, 25], "distinct": {"physics": True, "texture": True},
                      "cf": [{"physics": 1, "texture": 1}] * 3 + [{"physics": 0, "texture": 0}],
                      "src": [{"physics": 0, "texture": 0}] * 4}])
    S.write(res, tmp_path / "sw")
    img, caption = tab_probe.figure("switch", tmp_path / "sw")
    assert img.ndim == 3 and "python -m lina_core switching" in caption and "k=8 100%" in caption
    img, caption = tab_probe.figure("switch", tmp_path / "nothing")
    assert img is None and "not here" in caption and "python -m lina_core switching" in caption
