"""One place for commands (issue 26): every runnable command is a subcommand of ``python -m
lina_core``; a measurement's module is one line of ``MODULE_COMMANDS`` with its own ``main(argv)``;
argument and input errors exit with status 2; ``scripts/`` keeps repository chores only, none
patching ``sys.path`` or importing from ``tests/``."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from lina_core.__main__ import MODULE_COMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parents[1]
#: the repository chores scripts/ keeps (the Space folder, screenshots, the full pipeline)
CHORES = {"make_space.py", "reproduce.py", "screenshots.py", "talk_screens.py"}
#: chores that still patch sys.path (a ratchet): none; they run with PYTHONPATH=., as the
#: Makefile sets it
STILL_PATCHING: set[str] = set()
#: modules of lina_core that still run as ``python -m lina_core.<module>`` (a ratchet): none;
#: every command is a line of MODULE_COMMANDS
STANDALONE: set[str] = set()


def _module_file(module: str) -> Path:
    return ROOT / "lina_core" / (module.replace(".", "/") + ".py")


def test_every_module_command_is_a_module_with_main_argv():
    for name, (module, text) in MODULE_COMMANDS.items():
        tree = ast.parse(_module_file(module).read_text())
        mains = [f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "main"]
        assert mains and [a.arg for a in mains[0].args.args] == ["argv"], name
        assert text and name == name.lower() and "_" not in name


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["--help"])
    assert exc.value.code == 0
    shown = capsys.readouterr().out
    assert all(name in shown for name in [*MODULE_COMMANDS, "golden", "grid", "bench"])


def test_a_module_command_gets_its_arguments_and_its_errors_exit_2(tmp_path, capsys):
    probe = tmp_path / "timing.json"
    probe.write_text(json.dumps({"name": "timing", "rows": [
        {"category": "shadow", "k": 3, "acc": 0.5, "lo": 0.2, "hi": 0.8, "n": 8}]}))
    assert main(["probe-tables", str(probe)]) == 0
    assert "| shadow | 3 | 50 [20, 80] (8) |" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:      # its own parser: no file given
        main(["probe-tables"])
    assert exc.value.code == 2
    assert main(["probe-tables", str(tmp_path / "missing.json")]) == 2    # an input error
    assert "error:" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["probe-tables", "--help"])
    assert exc.value.code == 0 and "python -m lina_core probe-tables" in capsys.readouterr().out


def test_scripts_keep_only_chores_none_patching_sys_path_or_reading_tests():
    present = {p.name for p in (ROOT / "scripts").glob("*.py")}
    assert present == CHORES, f"a runnable command belongs in MODULE_COMMANDS: {present - CHORES}"
    patching = set()
    for name in present:
        text = (ROOT / "scripts" / name).read_text()
        assert "/ \"tests\"" not in text and "from tests" not in text, name
        if "sys.path.insert" in text or "sys.path.append" in text:
            patching.add(name)
    assert patching == STILL_PATCHING, "update STILL_PATCHING: " + str(patching)


def test_no_other_module_runs_on_its_own():
    found = {str(p.relative_to(ROOT)) for p in (ROOT / "lina_core").rglob("*.py")
             if p.name != "__main__.py" and '__name__ == "__main__"' in p.read_text()}
    assert found == STANDALONE, "a command is a line of MODULE_COMMANDS, not a __main__ block " \
                                f"(update STANDALONE when one moves): {found ^ STANDALONE}"
