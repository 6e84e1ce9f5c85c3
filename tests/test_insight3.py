"""Insight 3 side by side (insights/insight3.py): the three measurements' curves read from their
JSON on one scale (share already fixed), and the first step each reaches 0.9."""
from __future__ import annotations

import json

from lina_core.insights import insight3 as I


def _settling() -> dict:
    pt = lambda k, a: {"k": k, "acc": a, "n": 10, "lo": a - 0.1, "hi": min(a + 0.1, 1)}  # noqa
    agree = {"physics": [pt(0, 0.5), pt(1, 0.95), pt(25, 1.0)],
             "texture": [pt(0, 0.2), pt(1, 0.6), pt(25, 1.0)]}
    return {"command": "settling", "scopes": {"pooled": {"all": {
        f: {"agree": agree[f]} for f in agree}}}}


def _switch() -> dict:
    left = lambda k, s: {"k": k, "share": s, "lo": None if s is None else s - 0.1,  # noqa
                         "hi": None if s is None else s + 0.1}
    return {"command": "switching", "steps": 25, "groups": {"all": {
        "physics": {"n": 7, "effect_left": [left(0, 1.0), left(1, 0.05), left(25, 0.0)]},
        "texture": {"n": 0, "effect_left": []}}}}


def _attention() -> dict:
    s = lambda a: {"acc": a, "lo": a - 0.1, "hi": a + 0.1}  # noqa: E731
    return {"command": "attention", "groups": {"all": {"n": 5, "settled": [s(0.3), s(0.9)]}}}


def test_side_by_side_puts_every_measure_on_one_scale(tmp_path):
    res = I.side_by_side(_settling(), _switch(), _attention())
    c = res["curves"]
    assert [p["share"] for p in c["3b physics"]] == [0.0, 0.95]      # 1 - effect left, k < 25
    assert c["3b physics"][1]["lo"] == 0.85 and c["3b physics"][1]["hi"] == 1.05
    assert "3b texture" not in c                                       # no scene counted
    assert [p["k"] for p in c["3a physics"]] == [0, 1]                 # the final left out
    assert {k: (p and p["k"]) for k, p in res["fixed_by"].items()} == {
        "3a physics": 1, "3a texture": None, "3b physics": 1, "3c attention, all nodes": 1}
    paths = {k: tmp_path / f"{k}.json" for k in I.SOURCES}
    for k, d in zip(I.SOURCES, (_settling(), _switch(), _attention())):
        paths[k].write_text(json.dumps(d))
    args = [a for k in I.SOURCES for a in (f"--{k}", str(paths[k]))]
    assert I.main(args + ["--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "insight3.png").stat().st_size > 1000
    # the Probe tab shows it first among the measured curves, naming the command
    from app import tab_probe
    img, caption = tab_probe.figure("insight3", tmp_path / "out")
    assert img is not None and img.ndim == 3
    assert "3a physics: k = 1" in caption and "3a texture: not by" in caption
    assert I.COMMAND in caption
    img, caption = tab_probe.figure("insight3", tmp_path / "nothing")
    assert img is None and "python -m lina_core insight3" in caption


def test_probe_tab_shows_insight_1(tmp_path):
    """(here, where the app is imported anyway: a file's first gradio import costs ~5 s)"""
    from lina_core.insights import multihop as M
    from test_multihop import _row
    from app import tab_probe
    rows = [_row("test-id", "shadow", i, {"shadow_side": 1}, {"shadow_side": 1},
                 {"shadow_side": 1}) for i in range(3)]
    M.write(M.summary(rows, "python -m lina_core multihop --n 3"), tmp_path / "out")
    img, caption = tab_probe.figure("multihop", tmp_path / "out")
    assert img is not None and img.ndim == 3
    assert "test-id hop 1: implicit 100%" in caption and "multihop --n 3" in caption
    img, caption = tab_probe.figure("multihop_floating", tmp_path / "nothing")
    assert img is None and "--effect floating" in caption


def test_probe_tab_shows_insight_2(tmp_path):
    from lina_core.insights import separation as S
    from test_separation import _row
    from app import tab_probe
    v = lambda c, t, p: {"colour": c, "texture": t, "physics": p}   # noqa: E731
    S.write(S.summary([_row(v(0, 0, 1), v(1, 1, 1), v(0, 0, 0), v(0, 0, 1))],
                      "python -m lina_core separation --n 1"), tmp_path / "out")
    img, caption = tab_probe.figure("separation", tmp_path / "out")
    assert img is not None
    assert "texture (colour) by swap: follows 100%" in caption and "--n 1" in caption
    assert tab_probe.figure("separation", tmp_path / "none")[0] is None
