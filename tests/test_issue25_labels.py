"""Issue 25, items 5 and 6: defaults that show their effect, labels on every comparison, and the
small defects (each test fails on the code before the fix)."""
from __future__ import annotations

import json
import re

import numpy as np

from lina_core import csg


# --------------------------------------------------------------------------- 5b: the schedule


def _euler():
    from diffusers import EulerDiscreteScheduler
    return EulerDiscreteScheduler.from_pretrained("assets/toyworld", subfolder="scheduler")


def test_reallocated_default_differs_from_uniform():
    """rho = 1 - split redraws the uniform schedule (why 0.4 showed nothing); the default
    moves more steps above the split, in the library, the spec and the Intervene tab."""
    from lina_core import schedules as S
    from lina_core.interventions import ScheduleSpec
    sch = _euler()
    uni = S.uniform(sch, 25).values.numpy()
    same = S.reallocated(sch, 25, S.uniform_share()).values.numpy()
    assert np.abs(same - uni).max() <= 1.0 + 1e-9      # the cause: 0.4 = 1 - split (within
    #                                                    one timestep of 1000 everywhere)
    assert ScheduleSpec().rho == S.DEFAULT_RHO
    realloc = S.reallocated(sch, 25, ScheduleSpec().rho).values.numpy()
    assert np.abs(realloc - uni).max() > 20            # timesteps: steps move visibly
    hi = lambda v: int((v / 1000 > S.STRUCTURE_SPLIT).sum())  # noqa: E731
    assert hi(realloc) > hi(uni)                       # more steps where structure is decided


# --------------------------------------------------------------------------- 5a: Intervene


def test_intervene_default_is_a_measured_non_test_scene():
    from app import presets
    from app.tab_intervene import DEFAULT_NOTE, Controls, build_spec
    from lina_core.toyworld.data import split_of
    from lina_core.schedules import DEFAULT_RHO
    c = Controls()
    assert c.prompt == presets.INTERVENE_PROMPT and c.edit_type == "donor"
    assert c.rho == DEFAULT_RHO
    g = csg.from_prompt(c.prompt).graph
    assert split_of(g) in ("train", "dev-ood")        # chosen on dev-ood, never test-ood
    from lina_core.toyworld.data import ood_part
    assert ood_part(g) != "test-ood"
    spec = build_spec(c)
    assert spec["edits"][0]["type"] == "donor"
    assert re.search(r"\d+(\.\d+)? grey levels", presets.INTERVENE_CHANGE)
    assert presets.INTERVENE_CHANGE in DEFAULT_NOTE


# --------------------------------------------------------------------------- 6: labels


def test_intervene_slider_says_which_side_is_which():
    from app.tab_intervene import SLIDER_LABEL
    assert "left: baseline" in SLIDER_LABEL and "right: intervened" in SLIDER_LABEL


def test_heat_map_has_a_colour_bar_with_its_max():
    from app.widgets import DISPLAY, diff_heatmap
    a = np.zeros((32, 32, 3), np.uint8)
    b = a.copy()
    b[4:8, 4:8] = 200
    img, text = diff_heatmap(a, b)
    assert img.shape[0] == DISPLAY and img.shape[1] > DISPLAY + 14     # map + bar
    bar = img[:, DISPLAY:]
    assert len({tuple(p) for p in bar.reshape(-1, 3)}) > 20          # a ramp, not blank
    assert "max 200" in text and "colour bar" in text


def test_intervene_steps_name_their_number_and_the_window():
    from app.tab_intervene import scrub, step_caption, window_of
    spec = {"steps": 25, "edits": [{"start": 0, "end": 10}], "latent_guidance": None}
    assert window_of(spec) == (0, 10)
    assert window_of({"steps": 25, "edits": []}) is None
    assert step_caption(3, (0, 10)) == "step 3 *" and step_caption(12, (0, 10)) == "step 12"
    pv = [np.zeros((32, 32, 3), np.uint8)] * 4
    plain = scrub(2, {"baseline": pv, "intervened": pv})
    marked = scrub(2, {"baseline": pv, "intervened": pv, "window": [0, 3]})
    assert marked.shape == plain.shape and marked.shape[0] > 256        # a title band on top
    assert not np.array_equal(marked[:16], plain[:16])                # it says "inside"


def test_attention_columns_carry_step_numbers():
    from lina_core import attention as A
    masks = {"obj0": np.random.default_rng(0).random((5, 8, 8))}
    plain = A.attention_strip(masks, [0, 2, 4], cell=48)
    titled = A.attention_strip(masks, [0, 2, 4], cell=48, step_labels=[0, 12, 24])
    assert titled.shape[0] == plain.shape[0] + A.STEP_HEADER_PX
    head = titled[:A.STEP_HEADER_PX]
    assert (head < 128).any()                                         # text is written
    assert np.array_equal(titled[A.STEP_HEADER_PX:, 60:], plain[:, 60:])


# --------------------------------------------------------------------------- 6: defects


def test_clip_verifier_names_the_object_shape():
    from lina_core.toyworld.render import render_clip
    from lina_core.toyworld.verify_video import verify_clip
    g = csg.from_prompt("a large yellow cube on a small round mirror").graph
    frames = np.stack([np.asarray(r.image, np.uint8) for r in render_clip(g, 8, 32)])
    v = verify_clip(frames, g)
    assert v.reason.startswith("cube falls") and "ball" not in v.reason
    q = v.to_dict()["questions"]["reflection_meets_ball_at_contact"]
    assert "the cube" in q and "ball" not in q
    from app.tab_video import temporal_rows
    rows = temporal_rows({"truth": v.to_dict()})
    assert rows[0][1] == q


def test_spatial_edges_have_arrowheads_and_the_legend_one_colour():
    from lina_core.csg.plot import LEGEND_COLOUR, SPATIAL_EDGE_COLOUR, figure
    g = csg.from_prompt("a green cone on the floor, lit from the left").graph
    fig = figure(g)
    spatial = [(u, v) for u, v, r in g.graph.edges(data="relation")
               if r not in csg.vocabulary.CAUSAL_RELATIONS and r != "causes"]
    assert spatial
    heads = [a for a in fig.layout.annotations if a.showarrow
             and a.arrowcolor == SPATIAL_EDGE_COLOUR]
    assert len(heads) == len(spatial)
    legend = [t for t in fig.data if t.showlegend is not False]
    for t in legend:       # no legend entry takes one node's colour out of many
        assert not isinstance(t.marker.color, (list, tuple))
    ring = [t for t in legend if t.marker.symbol == "circle-open"]
    assert ring and ring[0].marker.color == LEGEND_COLOUR


def test_inpaint_probe_says_which_ks_it_left_out(monkeypatch):
    from lina_core.insights import probes
    seen = {}

    def fake_inpaint(pipe, samples, seeds, ks, steps, progress):
        seen["ks"] = ks
        return probes.ProbeResult("inpaint", [{"series": "s", "k": k, "acc": 0.5, "n": 2,
                                               "lo": 0.1, "hi": 0.9} for k in ks], "k",
                                  "series", meta={"ks": ks})
    monkeypatch.setattr(probes, "inpaint", fake_inpaint)
    monkeypatch.setattr(probes, "scenes", lambda *a, **k: [])
    monkeypatch.setattr(probes.engine, "family", lambda pipe: "toyworld")
    res = probes.run_probe("inpaint", object(), ks=[0, 5, 10, 15], steps=12)
    assert seen["ks"] == [0, 5, 10] and res.meta["ks_left_out"] == [15]
    assert "k = 15 left out" in res.meta["note"]
    assert "k = 15 left out" in res.figure().layout.title.text


def test_captions_and_presets_say_an_before_a_vowel():
    from app import presets
    g = csg.from_prompt("a stone cube and a ice cube on a balance").graph
    assert csg.to_prompt(g) == "a stone cube and an ice cube on a balance"
    assert csg.from_prompt(csg.to_prompt(g)).graph.to_dict() == g.to_dict()
    assert csg.to_prompt(csg.from_prompt("a ice cone in a beaker of water").graph,
                         explicit=True).startswith("an ice cone")
    prompts = [p for _, p, _ in presets.LINA_PRESETS + presets.VIDEO_PRESETS]
    prompts += [p for _, p, _, _ in presets.RELATIONAL_PRESETS] + [presets.INTERVENE_PROMPT]
    for p in prompts:
        assert not re.search(r"\ba [aeiou]", p), p


def test_ui_json_rounds_float_noise():
    from app.widgets import ui_json
    g = csg.from_prompt("a large red ball on a small round mirror").graph.to_dict()
    raw = json.dumps(g)
    assert re.search(r"\d\.\d{15,}", raw)                # e.g. 0.32999999999999996
    shown = ui_json(g)
    assert not re.search(r"\d\.\d{13,}", shown) and "0.33" in shown
    back = json.loads(shown)
    assert all(abs(a - b) < 1e-9 for n, m in zip(g["nodes"], back["nodes"])
               if n.get("box") for a, b in zip(n["box"], m["box"]))


def test_video_presets_are_chosen_on_dev_ood_and_one_shows_lina_changing_the_clip():
    from app import presets
    from app.tab_video import preset_labels
    from lina_core.toyworld.data import ood_part
    for kind, prompt, _ in presets.VIDEO_PRESETS:
        assert ood_part(csg.from_prompt(prompt).graph) == "dev-ood", prompt
    changed = [k for k, note in presets.VIDEO_PRESET_NOTES.items() if "changes the clip" in note]
    assert changed and all("dev-ood" in presets.VIDEO_PRESET_NOTES[k] for k in changed)
    labels = preset_labels()
    assert any("LINA changes the clip" in lb for lb in labels)
