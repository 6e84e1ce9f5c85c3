"""Write a ready Hugging Face Space folder: the app, the core, the shipped assets, a README of
its own whose front matter the platform reads, and the platform's requirements.

    PYTHONPATH=. .venv/bin/python scripts/make_space.py [--out build/space] [--zerogpu]

The front matter's ``sdk_version`` is the gradio this project pins. ``preload_from_hub`` lists,
per offered Hub model that fits the disk budget, only the files its pipeline loads
(``lina_core/pipelines/hub_files.py``), so the platform downloads them at build time and the app
loads them from the local Hub cache (``local_files_only`` stays on: nothing is fetched at run
time). Whole repositories would not fit: several hold other formats and precisions too. The
estimated preload size is printed. ``--zerogpu`` adds ``spaces`` and a torch the platform lists,
and the app's model calls then run under ``spaces.GPU`` (app/zerogpu.py).
"""
from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

from lina_core.insights.figures import MEASURED as FIGURES
from lina_core.pipelines.hub_files import HUB_FILES, HubModel
from lina_core.pipelines.registry import ALLOWLIST

ROOT = Path(__file__).resolve().parents[1]

COPY = ("app.py", "app", "lina_core", "assets")
#: the measured figures the app shows (the Probe tab's, ``insights.figures.MEASURED``), copied
#: when made: the tab says which command makes a missing one
MEASURED = tuple(f"docs/probes/{folder}/{stem}.{ext}" for folder, stem, _ in FIGURES.values()
                 for ext in ("png", "json"))
#: a torch ZeroGPU lists (platform docs, 2026: 2.8 to 2.11); a CPU Space keeps the pinned one
ZEROGPU_TORCH = "torch==2.11.0"
#: the keys of a Space's README front matter this script writes (the platform's documented
#: configuration reference); a test checks nothing else is written
SPACE_KEYS = ("title", "emoji", "colorFrom", "colorTo", "sdk", "sdk_version", "python_version",
              "app_file", "pinned", "short_description", "preload_from_hub")
#: a Space's disk, GB. Assumption: the 50 GB of ephemeral disk the Hub's Spaces documentation
#: gives the default hardware, as recalled (not verified offline; ZeroGPU may differ)
SPACE_DISK_GB = 50
#: what the preloaded weights may take, GB: the disk less 10 GB for the Python environment
#: (torch with its CUDA libraries alone is several GB) and the app's runs folder
PRELOAD_BUDGET_GB = SPACE_DISK_GB - 10
#: the steps of one run the README's time estimate assumes (the app's default, app/widgets.py)
README_STEPS = 25


def pinned(name: str) -> str:
    """The version requirements.txt pins for ``name``."""
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        m = re.fullmatch(rf"{re.escape(name)}==([\w.]+)", line.strip())
        if m:
            return m.group(1)
    raise SystemExit(f"requirements.txt pins no {name}")


def hub_models() -> dict[str, HubModel]:
    """The Hub models the picker offers (local folders are not preloaded), by allowlist key, in
    the picker's order; an offered model the file table lacks stops the build (name its files
    in hub_files.py rather than preload a whole repository)."""
    keys = [k for k, e in ALLOWLIST.items()
            if "/" in e.source and not Path(e.source).is_absolute()]
    missing = [k for k in keys if k not in HUB_FILES or HUB_FILES[k].repo != ALLOWLIST[k].source]
    if missing:
        raise SystemExit(f"lina_core/pipelines/hub_files.py has no file list for {missing}")
    return {k: HUB_FILES[k] for k in keys}


def preload_plan(budget_gb: float = PRELOAD_BUDGET_GB) -> tuple[dict[str, HubModel],
                                                                 dict[str, HubModel]]:
    """(preloaded, left out): the offered Hub models in the picker's order, each preloaded if
    the estimated total stays within ``budget_gb``. All of them (about 112 GB) cannot fit; the
    ones left out stay in the picker and answer "not on this machine"."""
    keep: dict[str, HubModel] = {}
    left: dict[str, HubModel] = {}
    for k, m in hub_models().items():
        total = sum(x.size_gb() for x in keep.values())
        (keep if total + m.size_gb() <= budget_gb else left)[k] = m
    return keep, left


def preload_gb(models: dict[str, HubModel]) -> float:
    return sum(m.size_gb() for m in models.values())


def front_matter(preload: dict[str, HubModel]) -> str:
    lines = ["---", "title: LINA explorer", "emoji: 🪞", "colorFrom: indigo", "colorTo: red",
             "sdk: gradio", f"sdk_version: {pinned('gradio')}", 'python_version: "3.11"',
             "app_file: app.py", "pinned: false",
             "short_description: Diagnose and fix physical alignment in diffusion models",
             "preload_from_hub:"]
    lines += [f"  - {m.preload_entry()}" for m in preload.values()]
    return "\n".join(lines + ["---", ""])


def gpu_seconds(kind: str) -> int:
    """The GPU time app/zerogpu.py asks for one comparison (baseline and branch) of
    :data:`README_STEPS` steps: its per-step figures, set with headroom, not measurements."""
    from app import zerogpu as z
    s = z.SETUP_S + z.RUNS["intervene"] * README_STEPS * z.seconds_per_step(kind)
    return int(min(max(s, z.MIN_S), z.MAX_S))


def readme(preload: dict[str, HubModel], left: dict[str, HubModel]) -> str:
    """The Space's own README: what the app shows, its models, how long a run takes, the gated
    models' step, and how to run it elsewhere (not the repository's README: that one's quick
    start is ``make run`` in a clone)."""
    rows = ["| Model | Hub repository | On this Space | Download (est.) | GPU time a comparison "
            "(est.) |", "|---|---|---|---|---|",
            f"| ToyWorld and ToyWorld video (built in) | none: shipped in `assets/` | built in "
            f"| none | {gpu_seconds('toyworld')} s (the minimum asked for) |"]
    for k, m in {**preload, **left}.items():
        e = ALLOWLIST[k]
        where = "preloaded" if k in preload else "offered, not preloaded"
        gate = " (gated)" if m.gated else ""
        rows.append(f"| {e.label}{gate} | `{m.repo}` | {where} | {m.size_gb():.1f} GB "
                    f"({m.dtype}) | {gpu_seconds(e.kind)} s |")
    gated = [m for m in preload.values() if m.gated]
    out = [
        "# LINA explorer", "",
        "See, probe and fix how diffusion models get physics wrong: an interactive diagnostic app "
        "after \"LINA: Learning INterventions Adaptively for Physical Alignment and "
        "Generalization in Diffusion Models\" (Yu & Lu, arXiv 2512.13290).", "",
        "## What the app shows", "",
        "- **Scene**: a prompt and its causal scene graph, kept in sync and editable; the "
        "ToyWorld ground-truth render with its masks, and the model's sample judged per node.",
        "- **Intervene**: PAP-style interventions on prompt embeddings and latents at chosen "
        "denoising steps, baseline and intervened side by side, same seed.",
        "- **Probe**: a diagnostic probe on a few prompts per category, with its accuracy plot.",
        "- **LINA**: baseline vs LINA side by side, same seed.",
        "- **Video**: the same on the built-in ToyWorld video model.",
        "- **Runs**: every run saved; reload, export a ZIP that reproduces it, re-run.", "",
        "The default model is ToyWorld, small models trained by the project on a rendered "
        "physics world whose ground truth is exact; it needs no download (and runs on a CPU too).",
        "", "## Models", "", *rows, "",
        f"Downloads are estimates (parameters x bytes per parameter of the stored files; "
        f"`lina_core/pipelines/hub_files.py`). This Space preloads "
        f"{preload_gb(preload):.1f} GB, within the {PRELOAD_BUDGET_GB} GB its build allows "
        f"itself of a Space's {SPACE_DISK_GB} GB disk (an assumption). A model offered but not "
        f"preloaded answers \"not available on this machine\" when picked.", "",
        f"GPU times are estimates, not measurements: what the app asks ZeroGPU for one "
        f"comparison (a baseline and a branch) of {README_STEPS} steps, from the per-step "
        f"figures in `app/zerogpu.py`, which include headroom. The first run of a model also "
        f"loads it from disk.", ""]
    if gated:
        out += ["## Gated models: the owner's step", "",
                "These are gated on the Hub; the build downloads their files, so before it runs "
                "the Space's owner must:", "",
                *[f"1. accept the licence on https://huggingface.co/{m.repo} (signed in);"
                  for m in gated],
                "1. create a read token (https://huggingface.co/settings/tokens) and add it to "
                "the Space as the secret `HF_TOKEN` (Settings, Variables and secrets).", "",
                "Without both, downloading their files fails and so does the build; to build "
                "without them, delete their lines from `preload_from_hub`. Not yet tried on a "
                "Space.", ""]
    if left:
        out += ["## Adding a model that is not preloaded", "",
                "On a Space with more disk, add its line to `preload_from_hub`:", "", "```yaml",
                *[f"  - {m.preload_entry()}" for m in left.values()], "```", ""]
    out += ["## Run it elsewhere", "",
            "From this folder, with Python 3.11:", "", "```bash",
            "python3.11 -m venv .venv && .venv/bin/pip install -r requirements.txt",
            ".venv/bin/python app.py        # http://127.0.0.1:7860", "```", "",
            "A Hub model loads from the local Hub cache only; download its files first, e.g. "
            "`hf download REPO FILE...` with a line of `preload_from_hub`.", ""]
    return "\n".join(out)


def requirements(zerogpu: bool) -> str:
    """The repository's requirements without its comments (they speak of its CPU install),
    ZeroGPU's torch and ``spaces`` with ``zerogpu``, else the pinned torch (a CPU Space)."""
    lines = [s for s in (x.strip() for x in (ROOT / "requirements.txt").read_text().splitlines())
             if s and not s.startswith("#")]
    if zerogpu:
        lines = [ZEROGPU_TORCH if re.fullmatch(r"torch==[\w.]+", s) else s for s in lines]
        lines.append("spaces")
    head = "# the Space's requirements, written by scripts/make_space.py" + \
        (" (ZeroGPU: a torch it lists, and spaces)" if zerogpu else "")
    return "\n".join([head, *lines, ""])


def build(out: Path, zerogpu: bool = False) -> Path:
    """The Space folder at ``out`` (replaced if it exists); prints what it preloads."""
    preload, left = preload_plan()
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
    for name in MEASURED:
        if not (ROOT / name).is_file():
            print(f"not copied (not made yet; the Probe tab says so): {name}")
            continue
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, out / name)
    (out / "requirements.txt").write_text(requirements(zerogpu))
    (out / "README.md").write_text(front_matter(preload) + "\n" + readme(preload, left))
    print(f"estimated preload: {preload_gb(preload):.1f} GB of {PRELOAD_BUDGET_GB} GB allowed "
          f"(Space disk {SPACE_DISK_GB} GB): " + ", ".join(
              f"{k} {m.size_gb():.1f}" for k, m in preload.items()))
    if left:
        print("offered, not preloaded: " + ", ".join(f"{k} {m.size_gb():.1f} GB"
                                                      for k, m in left.items()))
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
