"""PAP-Toy splits, the imagefolder writer/reader, and the local LINA-PAP loader."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lina_core.csg import CATEGORIES, CausalSceneGraph, GraphError, to_prompt
from lina_core.toyworld.data import (HELD_OUT, PAP_COLUMNS, SPLITS, combo_of, is_held_out,
                                     iter_split, load_pap, read_split, sample_scene,
                                     write_split)
from lina_core.toyworld.render import render

N = 150   # scenes per split checked (30 per category)


@pytest.fixture(scope="module")
def splits():
    return {sp: list(iter_split(sp, N)) for sp in SPLITS}


# --------------------------------------------------------------------------- splits


def test_splits_have_every_category(splits):
    for sp, samples in splits.items():
        assert {s.category for s in samples} == set(CATEGORIES), sp


def test_splits_are_disjoint_in_seeds(splits):
    seeds = {sp: {s.seed for s in samples} for sp, samples in splits.items()}
    for sp in SPLITS:
        assert len(seeds[sp]) == N
    assert not seeds["train"] & seeds["test-id"]
    assert not seeds["train"] & seeds["test-ood"]
    assert not seeds["test-id"] & seeds["test-ood"]


def test_splits_are_disjoint_in_scenes(splits):
    graphs = {sp: {s.graph.to_json(indent=None) for s in samples}
              for sp, samples in splits.items()}
    assert not graphs["train"] & graphs["test-id"]
    assert not graphs["train"] & graphs["test-ood"]
    assert not graphs["test-id"] & graphs["test-ood"]
    # OOD scenes are new attribute combinations: no train caption or combo reappears there
    train_captions = {to_prompt(s.graph) for s in splits["train"]}
    assert not train_captions & {to_prompt(s.graph) for s in splits["test-ood"]}
    train_combos = {(s.category, s.combo) for s in splits["train"]}
    assert not train_combos & {(s.category, s.combo) for s in splits["test-ood"]}


def test_no_train_or_test_id_sample_is_held_out(splits):
    for sp in ("train", "test-id"):
        for s in splits[sp]:
            assert not is_held_out(s.graph), (sp, s.seed, s.combo)
            assert list(s.combo) not in HELD_OUT[s.category]["combos"]


def test_every_test_ood_sample_is_held_out(splits):
    seen = set()
    for s in splits["test-ood"]:
        assert is_held_out(s.graph), (s.seed, s.combo)
        assert list(s.combo) in HELD_OUT[s.category]["combos"]
        seen.add((s.category, s.combo))
    # every held-out combination occurs in test-ood or dev-ood, and the two parts are disjoint
    dev = {(s.category, s.combo) for s in iter_split("dev-ood", N)}
    expected = {(c, tuple(k)) for c in CATEGORIES for k in HELD_OUT[c]["combos"]}
    assert seen | dev == expected
    shared = {c for c, _ in seen & dev}
    assert shared == {c for c in CATEGORIES if "dev_by" in HELD_OUT[c]}   # split by attribute


def test_combo_matches_the_graph(splits):
    for s in splits["train"][:20]:
        assert s.combo == combo_of(s.graph)
        assert len(s.combo) == len(HELD_OUT[s.category]["keys"])


def test_sample_scene_category_override_and_errors():
    s = sample_scene("test-ood", 3, category="balance")
    assert s.category == "balance" and is_held_out(s.graph)
    with pytest.raises(GraphError, match="split: 'valid' is not one of"):
        sample_scene("valid", 0)


def test_sample_scene_rejects_indices_that_reach_another_split():
    with pytest.raises(GraphError, match="index"):
        sample_scene("train", 10_000_000)


# --------------------------------------------------------------------------- imagefolder


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("paptoy") / "test-ood"
    write_split(out, "test-ood", 10, size=32, start=5)
    return out


def test_write_split_then_read_split(written):
    rows = read_split(written)
    assert len(rows) == 10
    assert json.loads((written / "held_out.json").read_text()) == HELD_OUT
    for i, row in enumerate(rows):
        s = sample_scene("test-ood", 5 + i)
        assert row["file_name"] == f"{5 + i:06d}.png"
        assert row["split"] == "test-ood" and row["seed"] == s.seed
        assert row["category"] == s.category and row["combo"] == list(s.combo)
        assert row["implicit_caption"] == s.caption(False)
        assert row["explicit_caption"] == s.caption(True)
        g = CausalSceneGraph.from_json(row["graph"])
        assert g.to_dict() == s.graph.to_dict()
        with Image.open(written / row["file_name"]) as im:
            img = np.asarray(im.convert("RGB"))
        r = render(g, 32)
        assert np.array_equal(img, r.image)
        with np.load(written / row["masks"]) as masks:
            assert set(masks.files) == set(g.graph.nodes)
            for k in masks.files:
                assert np.array_equal(masks[k], r.masks[k]), k


def test_write_split_is_deterministic(written, tmp_path):
    again = write_split(tmp_path / "again", "test-ood", 10, size=32, start=5)
    assert (again / "metadata.jsonl").read_text() == (written / "metadata.jsonl").read_text()
    for row in read_split(again):
        assert (again / row["file_name"]).read_bytes() == (written / row["file_name"]).read_bytes()


@pytest.mark.parametrize("n", [0, -1, 1_000_001, 2.5, "3"])
def test_write_split_rejects_bad_n(tmp_path, n):
    with pytest.raises(GraphError, match=r"n: .* must be an integer in \[1, 1000000\]"):
        write_split(tmp_path, "train", n)


def test_read_split_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="metadata.jsonl"):
        read_split(tmp_path)


def test_imagefolder_loads_with_datasets(written):
    datasets = pytest.importorskip(
        "datasets", reason="the `datasets` package is not installed; the imagefolder check "
                           "needs it (pip install datasets)")
    ds = datasets.load_dataset("imagefolder", data_dir=str(written), split="train")
    assert len(ds) == 10
    assert {"image", "category", "seed", "graph", "implicit_caption"} <= set(ds.column_names)
    first = ds[0]
    assert first["image"].size == (32, 32)
    assert sorted(ds["seed"]) == sorted(r["seed"] for r in read_split(written))


# --------------------------------------------------------------------------- LINA-PAP


def _png(path: Path, size=(16, 12), colour=(200, 10, 10), mode="RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour if mode == "RGB" else 255).save(path)


def _pap_row(i: int, **overrides) -> dict:
    row = {"id": f"pap-{i}", "seed": 1000 + i, "model": "sd15",
           "prompt": "a red ball on a round mirror", "category": "reflection",
           "subcategory": "object_on_mirror", "metadata": json.dumps({"k": i}),
           "image": f"images/{i}.png", "mask_object": f"masks/{i}_object.png",
           "mask_mirror": f"masks/{i}_mirror.png",
           "mask_on_mirror_reflection": f"masks/{i}_reflection.png"}
    row.update(overrides)
    return row


def _pap_folder(root: Path, rows: list[dict]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for r in rows:
        for col in ("image", "mask_object", "mask_mirror", "mask_on_mirror_reflection"):
            v = r[col]
            if isinstance(v, str) and not v.startswith(("/", "..")):
                _png(root / v, mode="RGB" if col == "image" else "L")
    (root / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_load_pap_reads_a_local_copy(tmp_path):
    folder = _pap_folder(tmp_path / "pap", [_pap_row(i) for i in range(3)])
    rows = load_pap(folder)
    assert [r["id"] for r in rows] == ["pap-0", "pap-1", "pap-2"]
    for i, r in enumerate(rows):
        assert set(PAP_COLUMNS) <= set(r)
        assert r["seed"] == 1000 + i and r["model"] == "sd15"
        assert json.loads(r["metadata"]) == {"k": i}
        assert isinstance(r["image"], Image.Image) and r["image"].size == (16, 12)
        assert r["image"].convert("RGB").getpixel((0, 0)) == (200, 10, 10)
        for col in ("mask_object", "mask_mirror", "mask_on_mirror_reflection"):
            assert isinstance(r[col], Image.Image) and r[col].size == (16, 12)


def test_load_pap_dict_paths_and_missing_files(tmp_path):
    rows = [_pap_row(0), _pap_row(1, mask_mirror="masks/not_there.png")]
    folder = _pap_folder(tmp_path / "pap", rows)
    (folder / "masks" / "not_there.png").unlink()
    rows[0]["image"] = {"bytes": None, "path": "images/0.png"}
    (folder / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = load_pap(folder)
    assert out[0]["image"].convert("RGB").getpixel((0, 0)) == (200, 10, 10)
    assert out[1]["mask_mirror"] is None


def test_load_pap_parquet_shards_with_image_bytes(tmp_path):
    pa = pytest.importorskip("pyarrow", reason="the `pyarrow` package is not installed; "
                                               "LINA-PAP parquet shards need it")
    import pyarrow.parquet as pq

    def png(colour):
        buf = io.BytesIO()
        Image.new("RGB", (8, 8), colour).save(buf, format="PNG")
        return {"bytes": buf.getvalue(), "path": None}

    rows = [_pap_row(i, image=png((i, 2, 3)), mask_object=png((0, 0, 0)),
                     mask_mirror=png((0, 0, 0)), mask_on_mirror_reflection=png((0, 0, 0)))
            for i in range(2)]
    (tmp_path / "data").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "data" / "train-00000.parquet")
    out = load_pap(tmp_path)
    assert [r["image"].getpixel((0, 0)) for r in out] == [(0, 2, 3), (1, 2, 3)]


def test_load_pap_rejects_paths_leaving_the_folder(tmp_path):
    _png(tmp_path / "outside.png")
    for bad in ("../outside.png", str(tmp_path / "outside.png"), "images/../../outside.png"):
        folder = _pap_folder(tmp_path / "pap", [_pap_row(0, mask_object=bad)])
        with pytest.raises(ValueError, match="mask_object path .* leaves the dataset folder"):
            load_pap(folder)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks on this platform")
def test_load_pap_rejects_symlinks_leaving_the_folder(tmp_path):
    _png(tmp_path / "outside.png")
    folder = _pap_folder(tmp_path / "pap", [_pap_row(0)])
    (folder / "images" / "0.png").unlink()
    (folder / "images" / "0.png").symlink_to(tmp_path / "outside.png")
    with pytest.raises(ValueError, match="image path .* leaves the dataset folder"):
        load_pap(folder)


def test_load_pap_rejects_dict_paths_leaving_the_folder(tmp_path):
    _png(tmp_path / "outside.png")
    folder = _pap_folder(tmp_path / "pap",
                         [_pap_row(0, image={"bytes": None, "path": "../outside.png"})])
    with pytest.raises(ValueError, match="leaves the dataset folder"):
        load_pap(folder)


def test_load_pap_missing_columns_and_folder(tmp_path):
    row = _pap_row(0)
    folder = _pap_folder(tmp_path / "pap", [row])
    del row["subcategory"], row["mask_mirror"]
    (folder / "metadata.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(ValueError,
                       match=r"pap-0.*missing columns \['subcategory', 'mask_mirror'\]"):
        load_pap(folder)
    with pytest.raises(FileNotFoundError, match=r"no \*\.parquet or metadata\.jsonl"):
        load_pap(tmp_path / "empty")
