"""No import circle in ``lina_core/`` or ``app/`` (issue 26): the import graph is read from the
source (``ast``, nothing imported) and its strongly connected components are listed.

What counts as an edge: every ``import`` / ``from ... import`` statement of a module, at module
level *and inside functions*, relative imports resolved; ``from X import name`` is an edge to
the module ``X.name`` when that is a module of the tree, else to ``X`` (a package's
``__init__``).  Imports under ``if TYPE_CHECKING:`` are left out: they never run.  Function-level
imports count because they are how today's circles work ("each working only because an import
sits inside a function", issue 26): a circle that only loads thanks to a deferred import is
still two modules that cannot be understood, tested or moved apart.  The implicit import of a
parent package (importing ``a.b`` runs ``a/__init__``) is not an edge: it would make every
package whose ``__init__`` re-exports its modules a circle.

:data:`KNOWN` is a ratchet: the test fails when a circle appears that is not listed, and when a
listed one is gone (remove it from the list in the change that breaks it).
"""
from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("lina_core", "app")

#: the circles left: none (issue 26's five, the loop's two: the loop benchmark's library parts are
#: lina_core.bench.loop_replay, and a check's folder is read by lina_core.check_files); kept as a
#: ratchet for a circle that cannot be broken at once
KNOWN: set[frozenset[str]] = set()


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement of a module, anywhere in it, but under ``if TYPE_CHECKING``."""
    out, stack = [], [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append(node)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))
    return out


def import_graph(root: Path = ROOT) -> nx.DiGraph:
    files = {_module_name(p, root): p for pkg in PACKAGES
             for p in sorted((root / pkg).rglob("*.py"))}

    def known(name: str) -> str | None:     # the module of the tree a dotted name is in
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    g = nx.DiGraph()
    g.add_nodes_from(files)
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [known(a.name) for a in node.names]
            else:
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - node.level + 1] +
                                    ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else known(base)
                           for a in node.names]
            g.add_edges_from((mod, t) for t in targets if t and t != mod)
    return g


def circles(g: nx.DiGraph) -> set[frozenset[str]]:
    return {frozenset(c) for c in nx.strongly_connected_components(g) if len(c) > 1}


def test_no_import_circle_but_the_known_ones():
    found = circles(import_graph())
    new = [sorted(c) for c in found - KNOWN]
    gone = [sorted(c) for c in KNOWN - found]
    assert not new, f"new import circle(s): {new}; break them (a shared piece in a module of " \
                    f"its own, or a table the dependent module fills)"
    assert not gone, f"circle(s) gone: {gone}; remove them from KNOWN"


def test_the_graph_sees_function_level_and_relative_imports(tmp_path):
    """The walk finds a circle made only by an import inside a function, resolves ``..`` and
    ``from . import name``, and leaves ``TYPE_CHECKING`` imports out."""
    pkg = tmp_path / "lina_core"
    (pkg / "sub").mkdir(parents=True)
    (tmp_path / "app").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from .sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("from .. import a\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                              "    from . import d\n")
    (pkg / "d.py").write_text("import lina_core.c\n")
    g = import_graph(tmp_path)
    assert circles(g) == {frozenset({"lina_core.a", "lina_core.sub.b"})}
    assert g.has_edge("lina_core.d", "lina_core.c") and not g.has_edge("lina_core.c",
                                                                         "lina_core.d")
