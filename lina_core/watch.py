"""Who is waiting for a run: a per-step watcher the engine calls, so a caller can show progress
and stop work nobody will see (a client that has gone away).

The watcher is set for a block of code (:func:`watching`) rather than passed down, because the
runs are made deep inside LINA's sampler, the probes and the comparisons; a ``ContextVar`` keeps
it to the thread (and task) that set it.  It is called after every denoising step with the
steps done and the run's total, and before the pipeline call; it stops the run by raising
:class:`Cancelled`, which leaves the engine through the pipeline call (the engine puts the
pipeline back as it was in a ``finally``), so no step runs after the one in progress.
"""
from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import Callable, Iterator

#: ``watcher(steps_done, total)``; raises :class:`Cancelled` to stop the run
Watcher = Callable[[int, int], None]

_WATCHER: ContextVar[Watcher | None] = ContextVar("lina_watcher", default=None)


class Cancelled(RuntimeError):
    """The run was stopped on purpose (its client went away); not a failure of the run."""


@contextlib.contextmanager
def watching(watcher: Watcher | None) -> Iterator[None]:
    """Every engine run in the block reports to ``watcher`` (None: no watcher)."""
    token = _WATCHER.set(watcher)
    try:
        yield
    finally:
        _WATCHER.reset(token)


def current() -> Watcher | None:
    """The watcher of the block we are in, if any."""
    return _WATCHER.get()


def check(steps_done: int, total: int) -> None:
    """Report progress to the current watcher (which may raise :class:`Cancelled`)."""
    w = _WATCHER.get()
    if w is not None:
        w(steps_done, total)
