"""``python -m lina_core ...`` for the tests: in this process by default (``main(argv)`` with its
stdout and stderr captured: the same parser and commands, without a fresh interpreter importing
torch each time, ~5-10 s on 2 cores), or as a real subprocess (``spawn=True``: the smoke tests
that keep the ``python -m`` path itself tested)."""
from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT),
       "OMP_NUM_THREADS": "1"}


def run_cli(*args: str, cwd: Path = ROOT, spawn: bool = False,
            module: str = "lina_core") -> subprocess.CompletedProcess:
    """The exit status, stdout and stderr of ``python -m <module> args`` (``module``'s
    ``main``; in process, an exception it does not turn into an exit status propagates, as
    the traceback a subprocess would print)."""
    if spawn:
        return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd,
                              capture_output=True, text=True, timeout=300, env=ENV)
    import importlib
    import torch
    main = importlib.import_module(module if module != "lina_core" else "lina_core.__main__").main
    out, err = io.StringIO(), io.StringIO()
    threads, here = torch.get_num_threads(), os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:           # argparse's usage errors
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.chdir(here)
        torch.set_num_threads(threads)
    return subprocess.CompletedProcess([sys.executable, "-m", module, *args], code or 0,
                                       out.getvalue(), err.getvalue())
