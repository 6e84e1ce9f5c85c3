"""Write a ready Hugging Face Space folder: the app, the core, the shipped assets, a README whose
front matter the platform reads, and the platform's requirements.

    PYTHONPATH=. .venv/bin/python scripts/make_space.py [--out build/space] [--zerogpu]

The front matter's ``sdk_version`` is the gradio this project pins; ``preload_from_hub`` lists
the Hub models the picker offers, so the platform downloads them at build time and the app
loads them from the local Hub cache (``local_files_only`` stays on: nothing is fetched at run
time). ``--zerogpu`` adds ``spaces`` and a torch the platform lists (see docs/NOTES or the
platform's docs), and the app's model calls then run under ``spaces.GPU`` (app/zerogpu.py).
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPY = ("app.py", "app", "lina_core", "assets")
#: a torch ZeroGPU lists (platform docs, 2026: 2.8 to 2.11); the CPU pin stays for CPU Spaces
ZEROGPU_TORCH = "torch==2.11.0"
#: the keys of a Space's README front matter this script writes (the platform's documented
#: configuration reference); a test checks nothing else is written
SPACE_KEYS = ("title", "emoji", "colorFrom", "colorTo", "sdk", "sdk_version", "python_version",
              "app_file", "pinned", "short_description", "preload_from_hub")


def pinned(name: str) -> str:
    """The version requirements.txt pins for ``name``."""
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        m = re.fullmatch(rf"{re.escape(name)}==([\w.]+)", line.strip())
        if m:
            return m.group(1)
    raise SystemExit(f"requirements.txt pins no {name}")


def hub_models() -> list[str]:
    """The Hub ids the model picker offers (local folders are not preloaded)."""
    sys.path.insert(0, str(ROOT))
    from lina_core.pipelines.registry import ALLOWLIST
    return [e.source for e in ALLOWLIST.values()
            if "/" in e.source and not Path(e.source).is_absolute()]


def front_matter() -> str:
    lines = ["---", "title: LINA explorer", "emoji: 🪞", "colorFrom: indigo", "colorTo: red",
             "sdk: gradio", f"sdk_version: {pinned('gradio')}", 'python_version: "3.11"',
             "app_file: app.py", "pinned: false",
             "short_description: Diagnose and fix physical alignment in diffusion models",
             "preload_from_hub:"]
    lines += [f"  - {m}" for m in hub_models()]
    return "\n".join(lines + ["---", ""])


def requirements(zerogpu: bool) -> str:
    text = (ROOT / "requirements.txt").read_text()
    if zerogpu:
        text = re.sub(r"^torch==[\w.]+$", ZEROGPU_TORCH, text, flags=re.M) + "spaces\n"
    return text


def build(out: Path, zerogpu: bool = False) -> Path:
    """The Space folder at ``out`` (replaced if it exists)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyi")
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, out / name, ignore=ignore)
        else:
            shutil.copy2(src, out / name)
    (out / "requirements.txt").write_text(requirements(zerogpu))
    readme = front_matter() + "\n" + (ROOT / "README.md").read_text()
    (out / "README.md").write_text(readme)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "build" / "space"))
    ap.add_argument("--zerogpu", action="store_true", help="add spaces and a listed torch")
    a = ap.parse_args(argv)
    print(build(Path(a.out), a.zerogpu))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
