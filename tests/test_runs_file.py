"""Resumable measurement rows (lina_core/insights/runs_file.py): appended per item, resumed by key, the
last line of a key wins, shards append to one file."""
from __future__ import annotations

import json

from lina_core.insights import runs_file


def _item(i: int, split: str = "dev-ood") -> dict:
    return {"split": split, "category": "shadow", "index": i, "seed": 0}


def test_runs_only_what_is_missing_and_reads_back_sorted(tmp_path):
    path = tmp_path / "r" / "rows.jsonl"
    calls: list[int] = []

    def record(it):
        calls.append(it["index"])
        return {**it, "value": it["index"] * 10}
    items = [_item(i) for i in (3, 1, 2)]
    rows = runs_file.run_missing(items[:2], path, record, progress=lambda m: None)
    assert [r["index"] for r in rows] == [1, 3] and calls == [3, 1]
    # a second process (another shard) and a resumed run append to the same file
    rows = runs_file.run_missing(items, path, record, progress=lambda m: None)
    assert calls == [3, 1, 2] and [r["value"] for r in rows] == [10, 20, 30]
    assert len(path.read_text().splitlines()) == 3


def test_the_last_line_of_a_key_wins_and_no_file_is_no_rows(tmp_path):
    path = tmp_path / "rows.jsonl"
    assert runs_file.read(path) == []
    path.write_text("".join(json.dumps({**_item(0), "v": v}) + "\n" for v in (1, 2)) + "\n")
    assert runs_file.read(path) == [{**_item(0), "v": 2}]
