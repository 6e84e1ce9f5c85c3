"""Load a program of this repository (``app.py``, a file of ``scripts/``) as a module: they are
programs, not a package."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_file(path: Path, name: str) -> ModuleType:
    """The module at ``path``, registered as ``name`` (dataclasses look their module up in
    ``sys.modules``)."""
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def load_script(name: str) -> ModuleType:
    return load_file(ROOT / "scripts" / f"{name}.py", name)


def load_app() -> ModuleType:
    return load_file(ROOT / "app.py", "app_main")
