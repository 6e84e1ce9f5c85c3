"""Resumable measurements: one JSON line per work item in a ``.jsonl`` file, appended as each
item finishes, so a stopped run resumes where it stopped and several processes (``--shard``)
may append to the same file.  The measurements of the insights (:mod:`.multihop`,
:mod:`.separation`, :mod:`.switching`) keep their rows this way."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Iterable

#: what names a work item: a scene of a split, and its noise replicate
KEY_FIELDS = ("split", "category", "index", "seed")


def key(row: dict[str, Any], fields: Iterable[str] = KEY_FIELDS) -> tuple:
    return tuple(row[f] for f in fields)


def read(path: str | Path, fields: Iterable[str] = KEY_FIELDS) -> list[dict[str, Any]]:
    """The rows of ``path`` by key, sorted (the last line of a key wins; no file: none)."""
    path = Path(path)
    if not path.is_file():
        return []
    fields = tuple(fields)
    rows = {key(r, fields): r
            for r in map(json.loads, filter(str.strip, path.read_text().splitlines()))}
    return [rows[k] for k in sorted(rows)]


def run_missing(items: list[dict[str, Any]], path: str | Path,
                record: Callable[[dict[str, Any]], dict[str, Any]],
                progress: Callable[[str], None] = print,
                fields: Iterable[str] = KEY_FIELDS) -> list[dict[str, Any]]:
    """``record(item)`` for each item whose key is not yet in ``path``, each line appended
    (and flushed) as it finishes; then every row of ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = tuple(fields)
    done = {key(r, fields) for r in read(path, fields)}
    todo = [it for it in items if key(it, fields) not in done]
    t0 = time.perf_counter()
    with open(path, "a") as f:
        for j, it in enumerate(todo):
            f.write(json.dumps(record(it)) + "\n")
            f.flush()
            progress(f"{j + 1}/{len(todo)} scenes {time.perf_counter() - t0:.0f}s")
    return read(path, fields)
