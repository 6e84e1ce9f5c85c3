"""The talk view's pieces without a browser (app/talk.py): short preset names, the verdict lines
and the reason from a run's outputs, the URL parameter, and the view emptied with the tab."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd

from app import talk
from app.presets import lina_presets
from app.widgets import VERDICT_HEADERS

LOOP = {"candidate": "donor_k10", "why": {
    "source": "adaptive loop", "check_step": 6,
    "intervention": {"op": "donor", "window": [0, 10],
                     "donor": {"caption": "a green ball close to the water"}},
    "loop": {"threshold": 0.27, "base_p": [0.02, 0.9], "kept": "donor_k10",
             "tries": [{"name": "donor_k10", "p": [0.6, 0.9], "passed": True,
                        "checked_at": 10}]}}}


def test_presets_are_named_in_a_few_words():
    names = [talk.short_name(label, prompt) for label, prompt, _ in
             lina_presets(("roles", "fill", "place"))]
    assert names[0] == "Balance: stone vs ice" and "Place: cone by water" in names
    assert len(set(names)) == len(names) and all(len(n) <= 32 for n in names)
    assert talk.short_name("x (dev-ood: 0% -> 100%)", "a stone cube and an ice cube on a "
                                                      "balance") == "Balance: stone vs ice"
    assert talk.short_name("measured", "a red cube beside a blue ball") == "Red cube beside blue"


def test_verdicts_and_reason_in_one_line_each():
    vb = pd.DataFrame([["physics", "WRONG", ""], ["texture", "ok", ""],
                       ["physics: reflection", "no", ""]], columns=VERDICT_HEADERS)
    vl = {"data": [["physics", "ok", ""], ["texture", "ok", ""]]}
    img = np.zeros((256, 256, 3), np.uint8)
    spec = json.dumps({"prompt": "a ball on a mirror", "seed": 3, "steps": 25})
    out = talk.from_pair(img, img, img, vb, vl, json.dumps(LOOP), spec)
    lines = out["verdicts"].split("  \n")
    assert len(lines) == 2 and "WRONG" in lines[0] and "fails: reflection" in lines[0]
    assert "LINA (`donor_k10`)" in lines[1] and "WRONG" not in lines[1]
    assert out["reason"].count(". ") == 0 and "passed" in out["reason"]
    assert "try 1: `donor_k10`" in out["tries"] and "(kept" in out["tries"]
    assert out["base"].shape == (512, 512, 3) and out["slider"][0].shape == (512, 512, 3)
    assert "a ball on a mirror" in out["title"] and "seed 3" in out["title"]
    # the tab emptied (a refusal, a prediction): the talk view empty too
    empty = talk.from_pair(None, None, None, pd.DataFrame(), pd.DataFrame(), "", "")
    assert all(v in (None, "") for v in empty.values())


def test_the_url_parameter_opens_the_talk_view():
    def req(**q):
        return SimpleNamespace(query_params=q)
    assert talk.talk_on(req(talk="1")) is True and talk.talk_on(req(talk="0")) is False
    for no_change in (req(), None):
        assert talk.talk_on(no_change) == {"__type__": "update"}


def test_each_change_fills_only_what_it_has_seen():
    """The run line's change sees a stale ground truth (applied after it), so it never writes
    the view's; the ground truth's writes only that. Their two answers may reach the server in
    either order (a CI run once kept the run line's empty one last)."""
    import gradio as gr
    with gr.Blocks() as demo:
        names = ("base_img", "lina_img", "truth", "vb", "vl", "why", "spec", "md")
        src = {k: (gr.Image() if k.endswith(("img", "truth")) else gr.Textbox()) for k in names}
        _, t = talk.section()
        talk.wire_outputs(src, t)
    writes = {}
    for dep in demo.config["dependencies"]:
        for target, _event in dep["targets"]:
            key = next(k for k, c in src.items() if c._id == target)
            writes[key] = {k for k, c in t.items() for o in dep["outputs"] if c._id == o}
    assert set(writes) == {"md", "truth"}
    assert writes["truth"] == {"truth"}
    assert writes["md"] == set(talk.TALK_OUTPUTS) - {"truth"}


def test_each_op_says_its_window_and_its_plain_words():
    """The window line and the plain words come from each op (lina_core.candidates.Op)."""
    from app.talk import _what
    from app.widgets import choice_markdown
    from lina_core import candidates as C
    from lina_core.lina import explain
    from lina_core.toyworld.data import sample_scene
    g = sample_scene("test-ood", 0, category="shadow").graph
    for c in C.available(g):
        iv = explain(c, g, 25)
        md = choice_markdown({"candidate": c.name, "why": {"intervention": iv}}, None, 25)
        if "window" in iv:
            s0, s1 = iv["window"]
            assert f"steps [{s0}, {s1}) of 25{C.OPS[c.op].says_for([s0, s1], 25)}." in md, c.name
        words = _what(c.name, iv)
        assert words and ("`" not in words or c.op == "donor_guided"), (c.name, words)
    full = C.OPS["cplus"].says_for([0, 25], 25)
    assert full.endswith("throughout") and C.OPS["cplus"].says_for([0, 12], 25).endswith("prompt")
    assert _what("x", {"op": "none"}) == "no intervention"
    assert _what("odd", {"op": "unknown", "window": [0, 3]}) == "`odd` for steps 0-3"
