"""Talk presets served from the app's own cache: one place for every tab whose presets show a
model run (LINA, Video).

Why not Gradio's example cache: Gradio 6.31's lazy cache writes an output that is ``None`` (the
LINA tab's guidance mask when the chosen intervention has none; any empty image, table or file)
as ``""`` in its CSV, and reading it back calls ``json.loads("")``: every output of the preset
then shows a red "Error" badge.  An empty output is a legitimate answer here, so the presets
keep their answers themselves: one folder per (model weights, app and core code), one entry
per preset's full request, each output stored by what it is (nothing, text or numbers, a PNG,
a gallery of captioned PNGs, a table, a copied file).  A preset click
fills the inputs (the stock ``gr.Examples``) and then, as one event of the model queue,
answers every output from the entry, computing and storing it on first use.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import gradio as gr
import numpy as np
import pandas as pd
from PIL import Image

from .waiting import MODEL_QUEUE
from .widgets import error, guard, keyed, on_status

log = logging.getLogger("lina.app")

#: the file of an entry that lists its outputs (written last: an entry without it is unfinished)
INDEX = "outputs.json"


def source_hash() -> str:
    """The app's and the core's code, hashed (a cache per code version: changed code, in the app
    or in what it runs, such as LINA's loop, never serves old output)."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent
    for p in sorted([*root.glob("app/*.py"), *root.glob("lina_core/**/*.py")]):
        h.update(p.relative_to(root).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def preset_folder(root: Path, handle: Any, video: Any) -> Path:
    """``<root>/.preset_cache/<weights>-<app code>``: a cache per (image and video weights, app
    code), so a stale cache can never show another model's images."""
    weights = f"{handle.fingerprint()}{video.fingerprint() if video is not None else ''}"
    digest = hashlib.sha256(weights.encode()).hexdigest()[:16]
    return Path(root) / ".preset_cache" / f"{digest}-{source_hash()}"


def _plain(v: Any) -> Any:
    """numpy scalars as Python numbers (a table's cells), for JSON."""
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"{type(v).__name__} is not JSON")


def _is_file_output(component: Any) -> bool:
    return isinstance(component, (gr.Video, gr.File))


class PresetCache:
    """The answers of talk presets, one entry (a folder) per preset request, kept on disk."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def entry(self, key: dict[str, Any]) -> Path:
        """The folder of the preset ``key`` (its tab and full request, as JSON)."""
        text = json.dumps(key, sort_keys=True, default=str)
        return self.folder / hashlib.sha256(text.encode()).hexdigest()[:24]

    def get(self, key: dict[str, Any], components: dict[str, Any],
            compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The answer for ``key``, by output name: from its entry, else computed and stored (a
        cache that cannot be written still answers: the preset is then computed each time)."""
        hit = self.load(key, components)
        if hit is not None:
            return hit
        answer = compute()
        try:
            self.save(key, answer, components)
        except (OSError, TypeError, ValueError):
            log.warning("preset cache: could not store %s", key, exc_info=True)
        return answer

    def load(self, key: dict[str, Any], components: dict[str, Any]) -> dict[str, Any] | None:
        """The stored answer, or None when there is none (or it cannot be read: recomputed)."""
        folder = self.entry(key)
        if not (folder / INDEX).is_file():
            return None
        try:
            stored = json.loads((folder / INDEX).read_text())
            if set(stored) != set(components):       # outputs added or renamed since
                return None
            return {name: self._decode(folder, name, rec) for name, rec in stored.items()}
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("preset cache: unreadable entry %s; recomputing", folder, exc_info=True)
            return None

    def save(self, key: dict[str, Any], answer: dict[str, Any],
             components: dict[str, Any]) -> None:
        """Store ``answer`` under ``key``: written to a scratch folder, then renamed into place
        (a reader never sees half an entry; of two writers the first one stays)."""
        final = self.entry(key)
        scratch = self.folder / f".tmp-{uuid.uuid4().hex}"
        scratch.mkdir(parents=True)
        try:
            index = {name: self._encode(scratch, name, answer[name], components[name])
                     for name in components}
            (scratch / "key.json").write_text(json.dumps(key, default=str, indent=1))
            (scratch / INDEX).write_text(json.dumps(index))
            if not final.exists():
                scratch.rename(final)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    @staticmethod
    def _encode(folder: Path, name: str, value: Any, component: Any) -> dict[str, Any]:
        """One output as a record of what it is (files written into ``folder``)."""
        if value is None:
            return {"t": "none"}
        if _is_file_output(component) and isinstance(value, (str, Path)):
            src = Path(value)
            shutil.copy2(src, folder / f"{name}{src.suffix}")
            return {"t": "file", "file": f"{name}{src.suffix}"}
        if isinstance(value, np.ndarray):
            if value.dtype == np.uint8 and value.ndim in (2, 3):
                Image.fromarray(value).save(folder / f"{name}.png")
                return {"t": "png", "file": f"{name}.png"}
            np.save(folder / f"{name}.npy", value, allow_pickle=False)
            return {"t": "npy", "file": f"{name}.npy"}
        if isinstance(component, gr.Gallery) and isinstance(value, list):
            items = []
            for i, (img, caption) in enumerate(value):
                Image.fromarray(np.asarray(img, np.uint8)).save(folder / f"{name}_{i}.png")
                items.append({"file": f"{name}_{i}.png", "caption": caption})
            return {"t": "gallery", "items": items}
        if isinstance(value, pd.DataFrame):
            return {"t": "frame", "columns": [str(c) for c in value.columns],
                    "data": json.loads(json.dumps(value.values.tolist(), default=_plain))}
        if isinstance(value, (str, bool, int, float)):
            return {"t": "json", "v": value}
        raise TypeError(f"preset cache: output {name!r} is a {type(value).__name__}, which it "
                        f"does not store")

    def _decode(self, folder: Path, name: str, rec: dict[str, Any]) -> Any:
        """One stored output back as the tab's handler answered it."""
        kind = rec["t"]
        if kind == "none":
            return None
        if kind == "json":
            return rec["v"]
        if kind == "frame":
            return pd.DataFrame(rec["data"], columns=rec["columns"])
        if kind == "png":
            with Image.open(folder / rec["file"]) as im:
                return np.asarray(im).copy()
        if kind == "gallery":
            out = []
            for it in rec["items"]:
                with Image.open(folder / it["file"]) as im:
                    out.append((np.asarray(im).copy(), it["caption"]))
            return out
        if kind == "npy":
            return np.load(folder / rec["file"], allow_pickle=False)
        if kind == "file":
            return str(self._served_copy(folder, rec["file"]))
        raise ValueError(f"preset cache: unknown record {kind!r}")

    @staticmethod
    def _served_copy(folder: Path, file: str) -> Path:
        """A copy of a stored file in the temp dir, which Gradio serves from (the runs folder
        may be anywhere, and Gradio refuses files under the working directory's dot-folders);
        one copy per entry and process."""
        dest = Path(tempfile.gettempdir()) / "lina-presets" / folder.name / file
        if not dest.is_file():
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{uuid.uuid4().hex}{dest.suffix}")
            shutil.copy2(folder / file, tmp)
            tmp.replace(dest)
        return dest


def picked(value: Any, count: int) -> int:
    """The preset clicked, from the examples table's ``(index, row)``: only the index is used
    (the row is the server's own), checked against the presets."""
    index = value[0] if isinstance(value, (tuple, list)) and value else value
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
        raise error(f"preset: {index!r} is not one of the {count} presets")
    return index


@dataclass(frozen=True)
class TabScreen:
    """What a preset answers on its tab: the outputs by name, the status line its progress and
    errors show on, and each output's empty value (what a failed preset leaves)."""
    outputs: dict[str, Any]
    status: Any
    blank: dict[str, Any]


def talk_presets(cache: PresetCache | None, tab: str, rows: list[list[Any]],
                 requests: list[dict[str, Any]], run: Callable[..., dict[str, Any]],
                 inputs: list[Any], screen: TabScreen, **examples: Any) -> gr.Examples:
    """A tab's talk presets: a click fills ``inputs`` with the row; with a ``cache`` it then
    answers every one of ``screen.outputs`` as one event (``run(**request)`` on first use,
    stored under (``tab``, the request)); its progress and errors show on ``screen.status``
    only, and a failure empties the outputs (``screen.blank``, by name), so nothing of another
    run stays under the new inputs."""
    outputs, status, blank = screen.outputs, screen.status, screen.blank
    ex = gr.Examples(rows, inputs=inputs, cache_examples=False, **examples)
    if cache is None:
        return ex

    def preset(choice: Any, progress=gr.Progress()) -> dict[str, Any]:
        request = requests[picked(choice, len(requests))]
        return cache.get({"tab": tab, "request": request}, outputs,
                         lambda: run(progress=progress, **request))

    event = ex.load_input_event.then(
        guard(keyed(preset, outputs)), [ex.dataset], list(outputs.values()),
        show_progress_on=[status], api_visibility="private", **MODEL_QUEUE)
    on_status(event, status, clear={outputs[k]: v for k, v in blank.items()})
    ex.answer = preset          # type: ignore[attr-defined]  # for tests and scripts
    return ex
