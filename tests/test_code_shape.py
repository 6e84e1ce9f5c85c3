"""The shape the code promises a newcomer (docs/DESIGN.md section 8): short functions, app
handlers with few parameters, no module swapped behind the pipeline's back, and a design page
that names one file for each thing one adds."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*ROOT.glob("lina_core/**/*.py"), *ROOT.glob("app/**/*.py"), ROOT / "app.py"])
MAX_LINES, MAX_HANDLER_PARAMS = 80, 8


def functions(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def n_params(fn: ast.FunctionDef) -> int:
    a = fn.args
    names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
    names += [x.arg for x in (a.vararg, a.kwarg) if x is not None]
    return len([n for n in names if n not in ("self", "cls")])


def test_sources_are_found():
    assert len(SOURCES) > 30 and ROOT / "lina_core" / "engine.py" in SOURCES


def test_no_function_is_longer_than_80_lines():
    long = [f"{p.relative_to(ROOT)}:{fn.lineno} {fn.name} ({fn.end_lineno - fn.lineno + 1})"
            for p in SOURCES for fn in functions(p)
            if fn.end_lineno - fn.lineno + 1 > MAX_LINES]
    assert not long, f"functions over {MAX_LINES} lines: {long}"


def test_no_app_function_takes_more_than_8_parameters():
    many = [f"{p.relative_to(ROOT)}:{fn.lineno} {fn.name} ({n_params(fn)})"
            for p in SOURCES if p.parts[len(ROOT.parts)].startswith("app")
            for fn in functions(p) if n_params(fn) > MAX_HANDLER_PARAMS]
    assert not many, f"app functions with more than {MAX_HANDLER_PARAMS} parameters: {many}"


def test_nothing_replaces_pipeline_attributes_behind_its_back():
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in SOURCES
            for i, line in enumerate(p.read_text().splitlines(), 1)
            if "object.__setattr__" in line and not line.lstrip().startswith("#")]
    assert not hits, f"object.__setattr__ in {hits}"


def test_family_names_are_matched_in_one_place():
    """Only the adapter table knows pipeline class names."""
    pattern = re.compile(r'"(StableDiffusion(XL|3)?|Flux|Wan|CogVideoX)"\s+in\s')
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in SOURCES
            for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not hits, f"class-name matching outside lina_core/adapters.py: {hits}"


@pytest.mark.parametrize("question,answer", [
    ("a model family", "lina_core/adapters.py"),
    ("an intervention", "lina_core/interventions.py"),
    ("a scene category", "lina_core/toyworld/categories/"),
])
def test_design_page_says_where_to_add_things(question, answer):
    text = (ROOT / "docs" / "DESIGN.md").read_text()
    section = text[text.index("## 6. Where to add things"):]
    line = next(ln for ln in section.splitlines() if ln.startswith(f"- **{question.capitalize()}"))
    assert answer in line, f"DESIGN.md does not send {question} to {answer}: {line}"
    assert (ROOT / answer.rstrip("/")).exists()


def test_app_header_links_the_design_page():
    assert "docs/DESIGN.md" in (ROOT / "app" / "build.py").read_text()


def test_app_kinds_are_the_adapter_tables():
    """``app.py`` lists the kinds by hand (so that ``--help`` does not import torch); they must
    be the adapter table's, less the video ToyWorld, which has a tab of its own."""
    from lina_core.adapters import KINDS
    from script_loader import load_app
    assert set(load_app().KINDS) == set(KINDS) - {"toyworld_video"}


def test_nothing_is_named_for_a_version():
    """No module, function or constant of lina_core/ or app/ named for a version (``_v2``,
    ``V2_``): a thing is named for what it holds."""
    bad = re.compile(r"(^|_)v\d+($|_)", re.IGNORECASE)
    for path in SOURCES:
        assert not bad.search(path.stem), path
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = [node.name] if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else \
                [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)] \
                if isinstance(node, ast.Assign) and node.col_offset == 0 else []
            for name in names:
                assert not bad.search(name), f"{path.name}: {name}"
