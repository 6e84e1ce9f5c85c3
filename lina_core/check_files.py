"""Reading a check's folder, whichever kind it holds: the image check
(:class:`lina_core.check.EarlyCheck`) or the clip check (:class:`lina_core.clip_check.ClipCheck`,
the same nets reading a clip's frames), as its ``check.json`` says.  A module of its own so that
the check never imports its subclass."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .check import EarlyCheck
from .clip_check import ClipCheck

KINDS = {c.kind: c for c in (EarlyCheck, ClipCheck)}


def load_check(folder: str | Path) -> Any:
    """The check saved in ``folder`` (``check.json`` and ``check.safetensors``), as the class its
    ``kind`` names; ``ValueError`` naming the kinds for one it does not know."""
    folder = Path(folder)
    kind = json.loads((folder / "check.json").read_text()).get("kind", EarlyCheck.kind)
    if kind not in KINDS:
        raise ValueError(f"check: {folder} holds a {kind!r}; known kinds: {sorted(KINDS)}")
    return KINDS[kind].load(folder)
