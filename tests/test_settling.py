"""Insight 3(a)'s settling curve (lina_core/insights/settling.py), its CLI and the Probe tab's figure.

A tiny runs folder in the check_data format is made here from rendered scenes, so every verdict
is known: the ground-truth render ``P`` passes both factors, the render without its effect ``N``
fails physics only, a black image ``B`` fails both (tests/test_verify.py pins these)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lina_core.insights import settling
from lina_core.check_data import item_file
from lina_core.stats import wilson

# (split, category, index): previews k = 0..12 as a string of P/N/B, then the final image
RUNS = [(("train", "reflection", 0), "PPPPPPPPPPPPP", "P"),
        (("train", "reflection", 1), "BBBNNNPPPPPPP", "P"),
        (("train", "reflection", 2), "NNNNNNPPPPPPP", "P"),
        (("test-ood", "shadow", 0), "NNNNNNNNNNNNN", "N"),
        (("test-ood", "shadow", 1), "PPPPPPPPPNNNN", "N")]


def _images(split: str, cat: str, i: int) -> tuple[dict, dict[str, np.ndarray]]:
    from lina_core.csg import TOYWORLD_CATEGORIES
    from lina_core.grid import scene
    from lina_core.toyworld.render import render
    item = {"split": split, "category": cat, "index": i, "seed": 0}
    s = scene(item, TOYWORLD_CATEGORIES)
    bare = s.graph.copy()
    bare.graph.remove_nodes_from(bare.effects(cat))
    return ({**item, "prompt": s.caption(False)},
            {"P": render(s.graph, 32).image, "N": render(bare, 32).image,
             "B": np.zeros((32, 32, 3), np.uint8)})


def write_runs(root: Path) -> Path:
    """RUNS as check_data folders, one per split (rows.jsonl + images/<item>.npz)."""
    for (split, cat, i), prev, final in RUNS:
        item, pics = _images(split, cat, i)
        out = root / split
        (out / "images").mkdir(parents=True, exist_ok=True)
        np.savez_compressed(item_file(out, item), previews=np.stack([pics[c] for c in prev]),
                            final=pics[final])
        row = {**item, "noise_seed": 0, "wall_s": 0.0, "model_calls": 50,
               "physics": final == "P", "texture": True, "verdict": "ok", "margin": 1.0}
        with open(out / "rows.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
    return root


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    root = write_runs(tmp_path_factory.mktemp("runs"))
    return root, settling.settling(settling.verdicts(root, progress=lambda m: None))


def _close(point: dict, k: int, n: int) -> None:
    lo, hi = wilson(k, n)
    assert point["n"] == n and point["acc"] == pytest.approx(k / n, abs=1e-4)
    assert (point["lo"], point["hi"]) == (pytest.approx(lo, abs=1e-4), pytest.approx(hi, abs=1e-4))


def test_curve_counts_runs_whose_preview_agrees_with_the_final(result):
    _, res = result
    assert res["ks"] == list(range(13)) + [25] and res["n_runs"] == {
        "pooled": 5, "train": 3, "test-ood": 2}
    assert res["stale_rows"] == 0
    for k in range(6):
        _close(settling.at(res, k, "physics"), 2, 5)       # runs 0 and 3 agree before k = 6
    for k in (6, 7, 8):
        _close(settling.at(res, k, "physics"), 4, 5)       # run 4 goes wrong at k = 9
    for k in (9, 12, 25):
        _close(settling.at(res, k, "physics"), 5, 5)
    for k, agree in ((0, 4), (2, 4), (3, 5), (12, 5)):     # only the black previews fail texture
        _close(settling.at(res, k, "texture"), agree, 5)
    _close(settling.at(res, 0, "joint"), 2, 5)


def test_curve_per_category_and_per_split(result):
    _, res = result
    _close(settling.at(res, 4, "physics", "reflection"), 1, 3)
    _close(settling.at(res, 4, "physics", "shadow"), 1, 2)
    _close(settling.at(res, 8, "physics", "all", "test-ood"), 1, 2)
    _close(settling.at(res, 6, "physics", "all", "train"), 3, 3)
    _close(res["scopes"]["pooled"]["all"]["physics"]["final_ok"], 3, 5)


def test_detection_of_final_failures(result):
    _, res = result
    det = res["scopes"]["pooled"]["all"]["physics"]["detect"]
    _close(det[0]["precision"], 1, 3)      # runs 1, 2, 3 fail at k = 0; only run 3 at the end
    _close(det[0]["recall"], 1, 2)         # runs 3 and 4 fail at the end; run 3 at k = 0
    _close(det[10]["precision"], 2, 2)
    _close(det[10]["recall"], 2, 2)
    assert det[-1]["k"] == 25


def test_verdicts_are_cached_and_a_changed_scene_is_an_error(result, tmp_path):
    root, _ = result
    assert all((root / s / settling.CACHE).is_file() for s in ("train", "test-ood"))
    lines = (root / "train" / settling.CACHE).read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[1])["physics"][:7] == [0] * 6 + [1]
    bad = write_runs(tmp_path)
    rows = (bad / "train" / "rows.jsonl").read_text().replace("small red ball", "small red cube")
    (bad / "train" / "rows.jsonl").write_text(rows)
    with pytest.raises(ValueError, match="is now scene"):
        settling.folder_verdicts(bad / "train", progress=lambda m: None)


def test_cli_writes_json_png_html_and_refuses_a_bad_folder(result, tmp_path, capsys):
    from lina_core.__main__ import main
    root, res = result
    out = tmp_path / "out"
    assert main(["settling", "--runs", str(root), "--out", str(out)]) == 0
    saved = json.loads((out / "settling.json").read_text())
    assert saved["command"] == f"python -m lina_core settling --runs {root} --out {out}"
    assert saved["scopes"] == res["scopes"]
    assert (out / "settling.png").stat().st_size > 5000
    assert "plotly" in (out / "settling.html").read_text()
    assert "| reflection | physics | 3 |" in capsys.readouterr().out
    empty = tmp_path / "empty"
    empty.mkdir()
    for bad in (empty, tmp_path / "missing"):
        assert main(["settling", "--runs", str(bad), "--out", str(out)]) == 2
    assert "--runs" in capsys.readouterr().err


@pytest.mark.parametrize("shipped", [True, False])
def test_probe_tab_builds_with_and_without_the_shipped_figure(shipped, tmp_path, monkeypatch):
    import gradio as gr
    from app import context, state, tab_probe
    from app.runstore import RunStore
    if not shipped:
        monkeypatch.setattr(tab_probe, "PROBES_DIR", tmp_path / "nothing")
    img, caption = tab_probe.figure("settling")
    with gr.Blocks():
        ctx = context.Ctx(state.HANDLE, RunStore(tmp_path / "runs"), gr.State("toyworld"),
                          gr.State({}))
        tab_probe.build(ctx)
    part = ctx.parts["probe_settling"]
    with gr.Blocks() as demo:
        ctx = context.Ctx(state.HANDLE, RunStore(tmp_path / "runs"), gr.State("toyworld"),
                          gr.State({}))
        tab_probe.build(ctx)
    rows = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "probe-rows")
    # before a run the table says what it will hold (not gradio's default headers "1 2 3")
    assert rows.value["headers"] == ["the probe's rows appear here after a run"]
    if shipped:
        assert img is not None and img.ndim == 3 and part.visible
        assert "python -m lina_core settling" in caption and "runs of" in caption
    else:
        assert img is None and not part.visible and "not here" in caption


def test_one_prompts_curve_on_a_tiny_pipeline():
    """Every step's preview and the final judged per seed; the last point agrees with itself."""
    from lina_core.pipelines import registry
    from lina_core.insights.settling import prompt_curve, prompt_figure
    from lina_core.insights.switching import graph_of
    p = "a small red cube on the floor, lit from the left"
    res = prompt_curve(registry.tiny_toyworld(), p, graph_of(p, 0), [0, 1], steps=3)
    assert res["ks"] == [0, 1, 2, 3]
    for f in ("physics", "texture"):
        pts = res["curves"][f]
        assert [q["n"] for q in pts] == [2] * 4 and pts[-1]["acc"] == 1.0
        assert res["final_ok"][f]["n"] == 2
    assert len(prompt_figure(res).data) == 2
