"""The Gradio app through its HTTP API (gradio_client), on a tiny random-weight ToyWorld model:
one main action per tab, and bad inputs answered with an error that names the field."""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from app.build import free_port  # noqa: E402

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

from tiny_pipes import api_error as _error  # noqa: E402

MIRROR = "a large red ball on a small round mirror"
STEPS = 6          # the tiny model: a few steps are enough to exercise every path



@pytest.fixture(scope="module")
def app(tmp_path_factory):
    import torch
    torch.set_num_threads(1)
    from app import build_demo, launch_kwargs
    from lina_core.__main__ import load_model
    runs = tmp_path_factory.mktemp("runs")
    demo = build_demo(pipe=load_model(None, tiny=True), runs_dir=runs, threads=1)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                **launch_kwargs())
    client = Client(f"http://127.0.0.1:{port}/", verbose=False,
                    download_files=str(tmp_path_factory.mktemp("downloads")))
    yield client, runs
    demo.close()


def _img(path) -> np.ndarray:
    if isinstance(path, dict):
        path = path.get("path") or path.get("image", {}).get("path")
    return np.asarray(Image.open(path).convert("RGB"))


def _val(x):
    """A component value from an API answer (updates come back as dicts)."""
    return x["value"] if isinstance(x, dict) and "value" in x else x


def _intervene_kwargs(**over):
    kw = dict(prompt=MIRROR, seed=0, steps=STEPS, guidance=3.0, edit_type="interpolate",
              target=MIRROR + ", and its reflection appears in the mirror below it", words="",
              d_from="", d_to="", strength=1.0, start=0, end=3, lg_weight=0.5,
              mask_node="reflection", schedule="uniform", rho=0.4)
    kw.update(over)
    return kw


def _lina_kwargs(**over):
    kw = dict(prompt=MIRROR, use_scene=False, seed=0, steps=STEPS, use_pred=True, lp=0.0,
              wl=0.0, kf=0.0, rho=0.0)
    kw.update(over)
    return kw


# --------------------------------------------------------------------------- main actions


def test_scene_parse_and_generate(app):
    client, _ = app
    out = client.predict(prompt="a green cone on the floor, lit from the left",
                         api_name="/parse")
    prompt, code, nodes, edges, category, plot, truth, masks, info = out
    g = json.loads(code)
    assert g["category"] == "shadow" and category == "shadow"
    assert any(n["id"] == "shadow" and not n["explicit"] for n in g["nodes"])
    assert [r[0] for r in nodes["data"]] == [n["id"] for n in g["nodes"]]
    assert _img(truth).shape == (256, 256, 3)
    assert len(masks) == len(g["nodes"]) and plot is not None
    assert "implicit" in info.lower()

    out = client.predict(prompt=MIRROR, seed=1, steps=STEPS, api_name="/generate")
    sample, v_model, v_truth, summary = out[-4:]
    assert _img(sample).shape == (256, 256, 3)
    assert any("node" in r[0] for r in v_model["data"])
    assert "physics ok" in summary.split("Ground-truth render:")[1]   # the verifier on truth


def test_scene_unknown_words_are_reported(app):
    client, _ = app
    info = client.predict(prompt="a large red ball on a small round mirror, shiny and zorbly",
                          api_name="/parse")[-1]
    assert "zorbly" in info and "not understood" in info


def test_scene_edit_json_and_tables(app):
    client, _ = app
    code = client.predict(prompt=MIRROR, api_name="/parse")[1]
    g = json.loads(code)
    g["nodes"][0]["attrs"]["colour"] = "blue"
    out = client.predict(text=json.dumps(g), api_name="/apply_json")
    assert "blue" in out[0]                       # the prompt follows the graph
    nodes = {"headers": ["id", "kind", "explicit", "attrs", "box"],
             "data": [["obj0", "object", True, "colour=green, shape=cone, size=small", ""],
                      ["floor", "surface", True, "type=floor", ""],
                      ["light", "light", True, "side=right", ""]]}
    edges = {"headers": ["source", "target", "relation"], "data": [["obj0", "floor", "on"]]}
    out = client.predict(nodes=nodes, edges=edges, category="shadow", reinfer=True,
                         api_name="/apply_tables")
    g2 = json.loads(out[1])
    shadow = [n for n in g2["nodes"] if n["id"] == "shadow"]
    assert shadow and shadow[0]["attrs"]["side"] == "left"     # inferred from the light
    assert "lit from the right" in out[0]


def test_intervene_runs_and_is_recorded(app):
    client, runs = app
    out = client.predict(api_name="/intervene", **_intervene_kwargs())
    slider, heat, gallery, step, step_img, plot, spec, vb, vi, md = out
    a, b = (_img(x) for x in slider)
    assert a.shape == b.shape == (256, 256, 3) and not np.array_equal(a, b)
    assert len(gallery) == STEPS and _val(step) == STEPS - 1
    s = json.loads(spec)
    assert s["latent_guidance"]["mask_node"] == "reflection" and s["edits"][0]["end"] == 3
    assert plot is not None and "saved" in md
    run_id = md.split("`")[1]
    saved = runs / run_id
    assert {"spec.json", "record.json", "baseline.png", "intervened.png"} <= \
        {p.name for p in saved.iterdir()}
    # the same spec again: the baseline comes from the trajectory cache
    md2 = client.predict(api_name="/intervene", **_intervene_kwargs())[-1]
    assert "from cache" in md2
    # a pasted spec runs as is
    md3 = client.predict(text=spec, api_name="/intervene_json")[-1]
    assert "saved" in md3


def test_probe_runs(app):
    client, _ = app
    plot, rows, md = client.predict(name="timing", split="test-ood", n=1, seeds="0", ks="0, 3",
                                    steps=4, api_name="/probe")
    assert plot is not None and rows["data"] and "Wilson" in md
    assert {"k", "acc", "n", "lo", "hi"} <= set(rows["headers"])


def test_lina_pair_and_batch(app):
    client, runs = app
    out = client.predict(api_name="/lina", **_lina_kwargs())
    base, lina, vb, vl, heat, lp, wl, kf, rho, why, spec, md = out
    assert not np.array_equal(_img(base), _img(lina))
    assert (lp, wl, kf, rho) == (1.0, 1.0, 0.4, 0.4)     # no predictor: the labelled defaults
    assert "default parameters" in json.loads(why)["source"]
    run_id = md.split("`")[1]
    rec = json.loads((runs / run_id / "record.json").read_text())
    assert rec["kind"] == "lina" and rec["seed"] == 0 and rec["model"] == "toyworld"
    # given parameters: zero intervention reproduces the baseline exactly
    out = client.predict(api_name="/lina", **_lina_kwargs(use_pred=False))
    assert np.array_equal(_img(out[0]), _img(out[1]))
    base_g, lina_g, md = client.predict(prompt=MIRROR, use_scene=False, seeds="0, 1",
                                        steps=STEPS, use_predicted=True, lp=0, wl=0, kf=0,
                                        rho=0, api_name="/lina_batch")
    assert len(base_g) == len(lina_g) == 2 and "Physics right" in md


def test_runs_export_import_rerun(app, tmp_path):
    client, runs = app
    md = client.predict(api_name="/lina", **_lina_kwargs())[-1]
    run_id = md.split("`")[1]
    gallery, spec, record, text = client.predict(rid=run_id, api_name="/runs_load")
    assert len(gallery) == 2 and json.loads(spec)["seed"] == 0 and run_id in text
    zpath = client.predict(rid=run_id, api_name="/runs_export")
    with zipfile.ZipFile(zpath) as z:
        assert {"spec.json", "record.json", "baseline.png", "lina.png"} <= set(z.namelist())
    out = client.predict(path=handle_file(zpath), api_name="/runs_import")
    new_id = _val(out[0])
    assert new_id != run_id and (runs / new_id / "lina.png").is_file()
    img, heat, msg = client.predict(rid=run_id, api_name="/runs_rerun")
    assert "identical" in msg                      # the saved spec reproduces the image
    # a spec JSON imports too
    p = tmp_path / "spec.json"
    p.write_text(spec)
    out = client.predict(path=handle_file(str(p)), api_name="/runs_import")
    new_id = _val(out[0])
    assert (runs / new_id / "spec.json").is_file()


def test_model_picker_unavailable_model_keeps_current(app):
    client, _ = app
    key, status = client.predict(k="sdxl", api_name="/select_model")
    assert key == "toyworld" and "Could not switch" in status


# --------------------------------------------------------------------------- bad inputs


def test_bad_graph_json_names_the_field(app):
    client, _ = app
    assert "graph JSON" in _error(client, "/apply_json", text="{not json")
    g = json.loads(client.predict(prompt=MIRROR, api_name="/parse")[1])
    g["schema_version"] = 7
    assert "schema_version" in _error(client, "/apply_json", text=json.dumps(g))


def test_cycle_is_rejected(app):
    client, _ = app
    g = {"schema_version": 1, "category": "buoyancy", "nodes": [
        {"id": "obj0", "kind": "object", "attrs": {"shape": "ball", "material": "wood"}},
        {"id": "water", "kind": "surface", "attrs": {"type": "water"}},
        {"id": "floating", "kind": "effect", "explicit": False, "attrs": {"type": "floating"}},
        {"id": "refraction", "kind": "effect", "explicit": False,
         "attrs": {"type": "refraction"}}],
        "edges": [{"source": "obj0", "target": "floating", "relation": "displaces"},
                  {"source": "floating", "target": "refraction", "relation": "refracts"},
                  {"source": "refraction", "target": "floating", "relation": "refracts"}]}
    assert "cycle" in _error(client, "/apply_json", text=json.dumps(g))


def test_steps_out_of_range_names_the_field(app):
    client, _ = app
    assert "steps" in _error(client, "/intervene", **_intervene_kwargs(steps=500))
    assert "steps" in _error(client, "/lina", **_lina_kwargs(steps=1))


def test_nan_strength_names_the_field(app):
    client, _ = app
    # JSON has no NaN literal (the client refuses to send one), so send it as a string
    assert "strength" in _error(client, "/intervene", **_intervene_kwargs(strength="NaN"))
    # and the handler itself, given a real float NaN
    import gradio as gr
    from app.tab_intervene import build_spec
    kw = _intervene_kwargs(strength=float("nan"))
    with pytest.raises(gr.Error, match="strength"):
        build_spec(*kw.values())


def test_window_end_before_start_names_the_field(app):
    client, _ = app
    msg = _error(client, "/intervene", **_intervene_kwargs(start=4, end=2))
    assert "window end" in msg


def test_other_bad_inputs_name_their_fields(app):
    client, _ = app
    assert "prompt" in _error(client, "/parse", prompt="   ")
    assert "seeds" in _error(client, "/lina_batch", prompt=MIRROR, use_scene=False,
                             seeds="0, x", steps=STEPS, use_predicted=True, lp=0, wl=0, kf=0,
                             rho=0)
    assert "lambda_p" in _error(client, "/lina", **_lina_kwargs(use_pred=False, lp=9.0))
    assert "spec" in _error(client, "/intervene_json", text='{"prompt": "x", "bogus": 1}')
    assert "run id" in _error(client, "/runs_load", rid="../../etc")


def test_zip_with_path_traversal_is_rejected(app, tmp_path):
    client, runs = app
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("spec.json", json.dumps({"prompt": MIRROR}))
        f.writestr("../../escape.png", b"x")
    before = set(os.listdir(runs))
    msg = _error(client, "/runs_import", path=handle_file(str(z)))
    assert "unsafe path" in msg and set(os.listdir(runs)) == before
    assert not (Path(runs).parent / "escape.png").exists()
