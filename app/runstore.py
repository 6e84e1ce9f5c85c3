"""The runs folder: every Intervene and LINA run saved as plain JSON + PNG, browsable, exportable
as a ZIP that reproduces it, and importable from a spec JSON or such a ZIP.

Layout of one run (``<runs-dir>/<run id>/``)::

    spec.json      the intervention spec that was run (InterventionSpec JSON)
    record.json    kind, model, seed, prompt, baseline spec, timings, verdicts, engine records
    *.png          the images at model resolution (exact pixels, not the upscaled display)

Private runs (a public Space): with ``private=True`` each browser session's runs live in a
folder of their own, ``<runs-dir>/<owner>/<run id>/``, the owner being a hash of Gradio's
session (a page load), so a visitor lists, loads, exports and re-runs only their own runs; a
session keeps at most :data:`MAX_RUNS_PER_OWNER` runs and the store :data:`MAX_RUNS_TOTAL`,
the oldest pruned.  Without it (a researcher's own app) the whole folder is one user's.  Exports
go to ``<runs-dir>/.exports`` and are removed after :data:`EXPORT_TTL_S` seconds.

Security: run ids are checked against a strict pattern and must name an existing folder; an
import reads only the uploaded file Gradio hands us, and from a ZIP only members named
``spec.json``, ``record.json`` or ``<name>.png`` (no folders, no ``..``, no absolute paths).
"""
from __future__ import annotations

import hashlib
import logging
import io
import json
import re
import secrets
import shutil
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from lina_core.interventions import InterventionSpec, SpecError
from lina_core.limits import LimitError, load_json

log = logging.getLogger("lina.app")
RUN_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[a-z]+-[0-9a-f]{6}$")
PNG_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}\.png$")
RECORD_SCHEMA = 1
MAX_IMPORT_BYTES = 32 * 1024 * 1024       # the uploaded file
MAX_MEMBER_BYTES = 8 * 1024 * 1024        # one member, uncompressed
MAX_MEMBERS = 64
MAX_IMAGE_SIDE = 2048
MAX_RUNS_PER_OWNER = 100                  # a private session's runs; the oldest pruned
MAX_RUNS_TOTAL = 2000                     # all runs of a private store; the oldest pruned
EXPORT_TTL_S = 15 * 60                    # an export ZIP outlives its download by this much
OWNER = re.compile(r"^[0-9a-f]{16}$")


def session_owner() -> str | None:
    """The running Gradio event's session as a folder name (None outside an event): a hash,
    so a session id never becomes a path."""
    try:
        from gradio.context import LocalContext
    except ImportError:
        return None
    req = LocalContext.request.get(None)
    session = getattr(req, "session_hash", None)
    if not session:
        return None
    return hashlib.sha256(str(session).encode()).hexdigest()[:16]


class RunError(ValueError):
    """A bad run id, or an import that is not a valid spec JSON / run ZIP."""


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _age(folder: Path) -> tuple[str, int]:
    """A run folder's sort key, oldest first: the second in its id, then (runs of one second)
    when its folder was written."""
    return folder.name[:15], folder.stat().st_mtime_ns


class RunStore:
    def __init__(self, root: str | Path, private: bool = False):
        self.root = Path(root).expanduser().resolve()
        self.private = private

    def home(self) -> Path:
        """The folder the caller's runs live in: the store's root, or (private) the running
        session's own folder; a private store outside any session has a folder of its own."""
        if not self.private:
            return self.root
        return self.root / (session_owner() or "0" * 16)

    # ------------------------------------------------------------------ writing
    def new_id(self, kind: str) -> str:
        kind = re.sub(r"[^a-z]", "", kind.lower()) or "run"
        return f"{time.strftime('%Y%m%d-%H%M%S')}-{kind}-{secrets.token_hex(3)}"

    def save(self, kind: str, spec: dict[str, Any] | None, record: dict[str, Any],
             images: dict[str, np.ndarray]) -> str:
        run_id = self.new_id(kind)
        folder = self.home() / run_id
        folder.mkdir(parents=True, exist_ok=False)
        names = []
        for name, img in images.items():
            fname = f"{name}.png"
            if not PNG_NAME.match(fname):
                raise RunError(f"image name: {name!r} is not allowed")
            Image.fromarray(np.ascontiguousarray(img)).save(folder / fname)
            names.append(fname)
        rec = dict(record, schema_version=RECORD_SCHEMA, run_id=run_id, kind=kind,
                   created=time.strftime("%Y-%m-%dT%H:%M:%S"), images=names)
        if spec is not None:
            (folder / "spec.json").write_text(json.dumps(spec, indent=2, default=_json_default))
        (folder / "record.json").write_text(json.dumps(rec, indent=1, default=_json_default))
        if self.private:
            self._prune()
        return run_id

    def _prune(self) -> None:
        """Keep a private store within its quotas: the session's newest
        :data:`MAX_RUNS_PER_OWNER` runs, and the store's newest :data:`MAX_RUNS_TOTAL`."""
        for rid in self.ids()[MAX_RUNS_PER_OWNER:]:
            shutil.rmtree(self.home() / rid, ignore_errors=True)
        runs = [r for o in self.root.iterdir() if o.is_dir() and OWNER.match(o.name)
                for r in o.iterdir() if r.is_dir() and RUN_ID.match(r.name)]
        if len(runs) > MAX_RUNS_TOTAL:
            for r in sorted(runs, key=_age, reverse=True)[MAX_RUNS_TOTAL:]:
                shutil.rmtree(r, ignore_errors=True)

    # ------------------------------------------------------------------ reading
    def ids(self) -> list[str]:
        """The caller's runs, newest first."""
        home = self.home()
        if not home.is_dir():
            return []
        runs = [p for p in home.iterdir() if p.is_dir() and RUN_ID.match(p.name)]
        return [p.name for p in sorted(runs, key=_age, reverse=True)]

    def folder(self, run_id: Any) -> Path:
        if not isinstance(run_id, str) or not RUN_ID.match(run_id):
            raise RunError(f"run id: {str(run_id)[:40]!r} is not a run id (pick one from the "
                           f"list)")
        p = self.home() / run_id
        if not p.is_dir():
            where = "in this session's runs" if self.private else f"in {self.root}"
            raise RunError(f"run id: {run_id!r} does not exist {where}")
        return p

    def load(self, run_id: str) -> dict[str, Any]:
        p = self.folder(run_id)
        rec_path, spec_path = p / "record.json", p / "spec.json"
        record = json.loads(rec_path.read_text()) if rec_path.is_file() else {}
        spec = json.loads(spec_path.read_text()) if spec_path.is_file() else None
        images = {}
        for f in sorted(p.glob("*.png")):
            if PNG_NAME.match(f.name):
                with Image.open(f) as im:
                    images[f.stem] = np.asarray(im.convert("RGB"))
        return {"run_id": run_id, "record": record, "spec": spec, "images": images}

    # ------------------------------------------------------------------ export / import
    def export_zip(self, run_id: str) -> Path:
        """A ZIP with spec.json, record.json, the PNGs and a README on how to reproduce it."""
        p = self.folder(run_id)
        exports = self.root / ".exports"
        self._drop_old_exports(exports)
        out_dir = exports / secrets.token_hex(8)
        out_dir.mkdir(parents=True)
        out = out_dir / f"{run_id}.zip"
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted(p.iterdir()):
                if f.name in ("spec.json", "record.json") or PNG_NAME.match(f.name):
                    z.write(f, arcname=f.name)
            z.writestr("README.txt", (
                f"LINA explorer run {run_id}\n\n"
                "spec.json   the intervention spec (seed included)\n"
                "record.json model, seed, timings, verifier verdicts, engine records\n"
                "*.png       the images at model resolution\n\n"
                "Reproduce: python -m lina_core generate --spec spec.json --out again.png\n"
                "or import this ZIP in the app's Runs tab and press 'Re-run'.\n"))
        return out

    @staticmethod
    def _drop_old_exports(exports: Path) -> None:
        """Remove export folders older than :data:`EXPORT_TTL_S` (Gradio has copied a returned
        file into its own cache long before)."""
        if not exports.is_dir():
            return
        now = time.time()
        for d in exports.iterdir():
            if d.is_dir() and now - d.stat().st_mtime > EXPORT_TTL_S:
                shutil.rmtree(d, ignore_errors=True)

    def import_file(self, path: str | Path) -> str:
        """Import an uploaded spec JSON or run ZIP (the temp file Gradio gives us)."""
        path = Path(path)
        if not path.is_file():
            raise RunError("import: no uploaded file")
        size = path.stat().st_size
        if size > MAX_IMPORT_BYTES:
            raise RunError(f"import: file is {size} bytes; at most {MAX_IMPORT_BYTES} allowed")
        data = path.read_bytes()
        if zipfile.is_zipfile(io.BytesIO(data)):
            spec, record, images = self._read_zip(data)
        else:
            spec, record, images = self._spec(data, "import"), {}, {}
        rec = {"imported_from": "zip" if images or record else "spec json",
               "original_record": record, "model": record.get("model"),
               "seed": spec.get("seed"), "prompt": spec.get("prompt")}
        return self.save("imported", spec, rec, images)

    @staticmethod
    def _spec(data: bytes, where: str) -> dict[str, Any]:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise RunError(f"{where}: not UTF-8 text; expected a spec JSON or a run ZIP") from None
        try:
            return InterventionSpec.from_json(text).to_dict()
        except SpecError as exc:
            raise RunError(f"{where}: {exc}") from None

    def _read_zip(self, data: bytes) -> tuple[dict, dict, dict[str, np.ndarray]]:
        try:
            z = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile as exc:
            raise RunError(f"import: not a valid ZIP ({exc})") from None
        with z:
            infos = z.infolist()
            if len(infos) > MAX_MEMBERS:
                raise RunError(f"import: {len(infos)} members; at most {MAX_MEMBERS} allowed")
            for info in infos:   # reject the whole archive on any unsafe member name
                name = info.filename
                parts = name.replace("\\", "/").split("/")
                if name.startswith(("/", "\\")) or "\\" in name or ".." in parts or \
                        re.match(r"^[A-Za-z]:", name) or "\x00" in name:
                    raise RunError(f"import: member {name!r} has an unsafe path "
                                   f"(absolute or '..'); archive rejected")
            spec = record = None
            images: dict[str, np.ndarray] = {}
            for info in infos:
                name = info.filename
                if info.is_dir() or "/" in name:
                    continue            # only top-level members are read
                if name not in ("spec.json", "record.json") and not PNG_NAME.match(name):
                    continue            # README.txt and anything else: ignored
                if info.file_size > MAX_MEMBER_BYTES:
                    raise RunError(f"import: member {name!r} is {info.file_size} bytes "
                                   f"uncompressed; at most {MAX_MEMBER_BYTES} allowed")
                raw = self._member(z, info)
                if len(raw) > MAX_MEMBER_BYTES:
                    raise RunError(f"import: member {name!r} is larger than it claims")
                if name == "spec.json":
                    spec = self._spec(raw, "import spec.json")
                elif name == "record.json":
                    try:        # bounded: no RecursionError for 5,000 nested brackets
                        record = load_json(raw, "import record.json", error=RunError)
                    except LimitError as exc:
                        raise RunError(str(exc)) from None
                    if not isinstance(record, dict):
                        raise RunError("import record.json: must be a JSON object")
                else:
                    images[name[:-4]] = self._png(raw, name)
            if spec is None:
                raise RunError("import: the ZIP has no spec.json at its top level")
            return spec, record or {}, images

    @staticmethod
    def _member(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
        """A member's bytes (at most one over the limit); an archive whose headers lie (a bad
        CRC, a corrupt or truncated stream, an unsupported method, encryption) is refused
        naming the member, never with zipfile's or zlib's own exception."""
        try:
            with z.open(info) as fh:
                return fh.read(MAX_MEMBER_BYTES + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError,
                ValueError, OSError) as exc:
            why = str(exc).splitlines()[0][:80] if str(exc) else "unreadable"
            raise RunError(f"import: member {info.filename[:40]!r} cannot be read ({why}); "
                           f"archive rejected") from None

    @staticmethod
    def _png(raw: bytes, name: str) -> np.ndarray:
        try:
            with Image.open(io.BytesIO(raw)) as im:
                if im.format != "PNG":
                    raise RunError(f"import {name}: not a PNG image")
                w, h = im.size
                if max(w, h) > MAX_IMAGE_SIDE:
                    raise RunError(f"import {name}: {w}x{h}; at most {MAX_IMAGE_SIDE} px a side")
                return np.asarray(im.convert("RGB"))
        except RunError:
            raise
        except Exception as exc:  # noqa: BLE001 - PIL raises many kinds
            log.info("import %s: unreadable PNG (%s)", name, exc)
            raise RunError(f"import {name}: not a readable PNG image") from None
