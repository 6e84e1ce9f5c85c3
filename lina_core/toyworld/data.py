"""PAP-Toy: random ToyWorld scenes in three splits, written as a ``datasets`` imagefolder.

Splits: ``train``; ``test-id`` (same distribution, disjoint seeds); ``dev-ood`` and ``test-ood``
(only the attribute combinations listed in ``held_out.json``, which ``train`` never contains, split in
two disjoint parts: ``dev-ood`` is for fitting and choosing, ``test-ood`` is only reported).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from PIL import Image

from ..csg import (CATEGORIES, RELATIONAL_CATEGORIES, CausalSceneGraph, GraphError, from_prompt,
                   layout, to_prompt)
from .categories import CATEGORIES as CATEGORIES_TABLE
from .render import render

SPLITS = ("train", "test-id", "test-ood")
#: every split ``sample_scene`` draws from; ``dev-ood`` holds the held-out part used for fitting
ALL_SPLITS = SPLITS + ("dev-ood",)
SPLIT_SEED_BASE = {"train": 0, "test-id": 10_000_000, "test-ood": 20_000_000,
                   "dev-ood": 30_000_000}
SPLIT_SPAN = 10_000_000
HELD_OUT: dict[str, Any] = json.loads((Path(__file__).with_name("held_out.json")).read_text())
MAX_N = 1_000_000
#: ToyWorld v2's biased prior (issue 16): the share of ``fill`` scenes drawn with *more*
#: material than empty space, per split.  Train is skewed 80/20, so a model learns a prior
#: rather than missing a combination; the evaluation splits are 50/50, so both sides are
#: measured.  ``sample_scene(..., fill_more_share=p)`` and ``data --fill-more-share p`` set it.
FILL_MORE_SHARE = {"train": 0.8, "test-id": 0.5, "dev-ood": 0.5, "test-ood": 0.5}


@dataclass
class Sample:
    graph: CausalSceneGraph
    combo: tuple[str, ...]
    seed: int

    @property
    def category(self) -> str:
        return self.graph.category

    def caption(self, explicit: bool) -> str:
        return to_prompt(self.graph, explicit=explicit)


def combo_of(g: CausalSceneGraph) -> tuple[str, ...]:
    """The held-out key of a scene (see ``held_out.json``), as its category reads it."""
    return CATEGORIES_TABLE[g.category].held_out_key(g)


def held_out_spec(category: str) -> dict[str, Any]:
    """A category's held-out combinations: ``held_out.json``'s entry, else the category's own
    (:attr:`.categories.Category.held_out`, for one defined outside the package)."""
    return HELD_OUT[category] if category in HELD_OUT else CATEGORIES_TABLE[category].held_out


def is_held_out(g: CausalSceneGraph) -> bool:
    return list(combo_of(g)) in held_out_spec(g.category)["combos"]


def ood_part(g: CausalSceneGraph) -> str | None:
    """``"dev-ood"`` or ``"test-ood"`` for a held-out scene (``held_out.json``), else ``None``."""
    if not is_held_out(g):
        return None
    spec = held_out_spec(g.category)
    if "dev_by" in spec:
        dev = g.attr(g.nodes("object")[0], spec["dev_by"]) in spec["dev"]
    else:
        dev = list(combo_of(g)) in spec["dev"]
    return "dev-ood" if dev else "test-ood"


def split_of(g: CausalSceneGraph) -> str:
    """The split a scene's combination belongs to (``train`` for any seen combination)."""
    return ood_part(g) or "train"


def sample_scene(split: str, index: int, category: str | None = None,
                 fill_more_share: float | None = None) -> Sample:
    """The ``index``-th scene of ``split``: deterministic, and disjoint across splits.

    ``category`` None cycles through the first five (:data:`CATEGORIES`); the v2 categories
    are drawn when named.  ``fill_more_share`` overrides :data:`FILL_MORE_SHARE` (fill only)."""
    if split not in ALL_SPLITS:
        raise GraphError(f"split: {split!r} is not one of {list(ALL_SPLITS)}")
    if category is not None and category not in CATEGORIES_TABLE:
        raise GraphError(f"category: {category!r} is not one of {list(CATEGORIES_TABLE)}")
    share = FILL_MORE_SHARE[split] if fill_more_share is None else float(fill_more_share)
    if not 0.0 <= share <= 1.0:
        raise GraphError(f"fill_more_share: {fill_more_share!r} must be in [0, 1]")
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or \
            not 0 <= index < SPLIT_SPAN:
        raise GraphError(f"index: {index!r} must be an integer in [0, {SPLIT_SPAN}) so that "
                         f"splits never share a seed")
    seed = SPLIT_SEED_BASE[split] + int(index)
    rng = np.random.default_rng(seed)
    cat = category or CATEGORIES[index % len(CATEGORIES)]
    for _ in range(1000):
        g = from_prompt(CATEGORIES_TABLE[cat].random_prompt(rng, share)).graph
        part = ood_part(g)
        if part == split or (part is None and split in ("train", "test-id")):
            layout(g, rng)
            return Sample(g, combo_of(g), seed)
    raise RuntimeError(f"could not draw a {split} scene for {cat}")  # pragma: no cover


#: the first scene index of the v2 categories in a per-category draw (:func:`scene_index`)
RELATIONAL_INDEX_BASE = 5_000_000


def scene_index(i: int, category: str, cats: tuple[str, ...]) -> int:
    """The scene index of the ``i``-th scene of ``category`` when scenes are drawn per
    category over ``cats`` (grid, evaluation): ``i * len(base) + base.index(category)`` for the
    first five and the clip kinds (``base``: ``cats`` without the v2 categories), as before
    there were v2 categories; a v2 category's from :data:`RELATIONAL_INDEX_BASE`, so adding them never
    moves another category's scenes and no two categories share a scene seed."""
    if category in RELATIONAL_CATEGORIES:
        return RELATIONAL_INDEX_BASE + int(i) * len(RELATIONAL_CATEGORIES) + RELATIONAL_CATEGORIES.index(category)
    base = tuple(c for c in cats if c not in RELATIONAL_CATEGORIES)
    return int(i) * len(base) + base.index(category)


def iter_split(split: str, n: int, start: int = 0, categories: tuple[str, ...] | None = None,
               fill_more_share: float | None = None) -> Iterator[Sample]:
    """Scenes ``start .. start + n - 1`` of ``split``; with ``categories``, scene ``i`` is of
    ``categories[i % len(categories)]`` (default: the first five, in turn)."""
    for i in range(start, start + n):
        cat = categories[i % len(categories)] if categories else None
        yield sample_scene(split, i, cat, fill_more_share)


def write_split(out: str | Path, split: str, n: int, size: int = 64, start: int = 0,
                categories: tuple[str, ...] | None = None,
                fill_more_share: float | None = None) -> Path:
    """Write ``n`` samples as an imagefolder: PNGs, ``metadata.jsonl``, masks as ``.npz``
    (``categories``, ``fill_more_share``: as :func:`iter_split`)."""
    if not isinstance(n, int) or not 1 <= n <= MAX_N:
        raise GraphError(f"n: {n!r} must be an integer in [1, {MAX_N}]")
    for c in categories or ():
        if c not in CATEGORIES_TABLE:
            raise GraphError(f"categories: {c!r} is not one of {list(CATEGORIES_TABLE)}")
    out = Path(out)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    (out / "held_out.json").write_text(json.dumps(HELD_OUT, indent=2))
    with open(out / "metadata.jsonl", "w") as meta:
        for i, s in enumerate(iter_split(split, n, start, categories, fill_more_share)):
            r = render(s.graph, size)
            # no split word in file names: `datasets` would read it as a split name
            name = f"{start + i:06d}"
            Image.fromarray(r.image).save(out / f"{name}.png")
            np.savez_compressed(out / "masks" / f"{name}.npz",
                                **{k: v for k, v in r.masks.items()})
            meta.write(json.dumps({
                "file_name": f"{name}.png", "split": split, "seed": s.seed,
                "category": s.category, "combo": list(s.combo),
                "implicit_caption": s.caption(False), "explicit_caption": s.caption(True),
                "graph": s.graph.to_json(indent=None),
                "masks": f"masks/{name}.npz",
            }) + "\n")
    return out


def read_split(folder: str | Path) -> list[dict[str, Any]]:
    """Read back ``metadata.jsonl`` rows (images are loaded lazily by the caller)."""
    folder = Path(folder)
    path = folder / "metadata.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"data: {path} not found; write it with "
                                f"`python -m lina_core data --out {folder}`")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# --------------------------------------------------------------------------- real LINA-PAP

PAP_COLUMNS = ("id", "seed", "model", "prompt", "category", "subcategory", "metadata", "image",
               "mask_object", "mask_mirror", "mask_on_mirror_reflection")


def load_pap(folder: str | Path) -> list[dict[str, Any]]:
    """Read a local copy of the real LINA-PAP dataset (parquet shards or a metadata.jsonl).

    Image columns come back as PIL images. Nothing is downloaded.
    """
    folder = Path(folder)
    rows: list[dict[str, Any]] = []
    shards = sorted(folder.rglob("*.parquet"))
    if shards:
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError("reading LINA-PAP parquet shards needs pyarrow "
                              "(pip install pyarrow)") from exc
        for shard in shards:
            rows.extend(pq.read_table(shard).to_pylist())
    elif (folder / "metadata.jsonl").is_file():
        rows = [json.loads(x) for x in (folder / "metadata.jsonl").read_text().splitlines()
                if x.strip()]
    else:
        raise FileNotFoundError(f"LINA-PAP: no *.parquet or metadata.jsonl under {folder}")
    import io
    out = []
    for r in rows:
        missing = [c for c in PAP_COLUMNS if c not in r]
        if missing:
            raise ValueError(f"LINA-PAP row {r.get('id')!r}: missing columns {missing}; "
                             f"expected {list(PAP_COLUMNS)}")
        row = dict(r)
        for col in ("image", "mask_object", "mask_mirror", "mask_on_mirror_reflection"):
            v = row[col]
            if isinstance(v, dict) and v.get("bytes") is not None:
                row[col] = _open_image(io.BytesIO(v["bytes"]))
            elif (isinstance(v, dict) and v.get("path")) or isinstance(v, str):
                rel = v["path"] if isinstance(v, dict) else v
                p = (folder / rel).resolve()
                if folder.resolve() not in p.parents:
                    raise ValueError(f"LINA-PAP row {r['id']!r}: {col} path {rel!r} leaves "
                                     f"the dataset folder")
                row[col] = _open_image(p) if p.is_file() else None
        out.append(row)
    return out


def _open_image(src: Any) -> Image.Image:
    """Open and fully load an image, so no file handle stays open."""
    with Image.open(src) as im:
        im.load()
        return im.copy()
