"""Model work only for clients that are still there, and a progress bar for it.

Gradio drops a queued event whose client has gone (its SSE stream closed) before it starts, but
an event already running runs to its end: for a closed client Gradio only marks it
``alive = False``; for a cancel (``job.cancel()``, a Stop button) it cancels the event's asyncio
task and frees the queue slot while the worker thread runs on.  Each model call here runs under
a :mod:`lina_core.watch` watcher that, after every denoising step, moves the event's progress
bar (``gr.Progress``, steps done of the run) and stops the run
(:class:`~lina_core.watch.Cancelled`) once its client is gone or its event has left the queue's
running jobs, so abandoned work stops within the step in progress.  The next job on the freed
slot waits for the engine's pipeline lock (:func:`lina_core.engine.pipeline_lock`), so two runs
never share a pipeline.  The watcher reads Gradio's own record of the event (the queue's active
jobs, an internal of Gradio 6 pinned by ``tests/test_queue.py``); outside an event (tests, the
CLI) it only counts steps.

Every cancellation is logged on the ``lina.queue`` logger as one JSON line (event id, step,
total, time, and when the run's last steps ended; at debug level also each call's start and
end), which ``python -m lina_core load-test`` reads to measure how many steps ran after a
client left.
"""
from __future__ import annotations

import contextlib
import functools
import json
import logging
import time
from contextvars import ContextVar
from typing import Any, Callable, Iterator

from lina_core.watch import Cancelled, Watcher, watching

#: every function that runs a model shares this queue slot (one at a time); here, beside the
#: watcher that frees it, so the preset cache and the tabs' context share it without importing
#: each other (issue 26)
MODEL_QUEUE = dict(concurrency_id="model", concurrency_limit=1)

log = logging.getLogger("lina.queue")

#: the running handler's ``gr.Progress`` (set by ``widgets.guard``; Gradio itself keeps it in
#: its context only with ``track_tqdm``)
_PROGRESS: ContextVar[Any] = ContextVar("lina_progress", default=None)

#: counts since the process started: model calls, their denoising steps, cancellations
STATS = {"calls": 0, "steps": 0, "cancelled": 0}


@contextlib.contextmanager
def progress_bar(progress: Any) -> Iterator[None]:
    """Model calls in the block move ``progress`` (a ``gr.Progress``, or None) step by step."""
    token = _PROGRESS.set(progress)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


def _event() -> tuple[Any, str | None]:
    """The running event's queue and id (None, None outside a Gradio event)."""
    from gradio.context import LocalContext
    blocks, event_id = LocalContext.blocks.get(None), LocalContext.event_id.get(None)
    return getattr(blocks, "_queue", None), event_id


def _find(queue: Any, event_id: str) -> Any:
    """The event ``event_id`` among the queue's running jobs, or None."""
    for job in list(getattr(queue, "active_jobs", ())):
        for ev in job or ():
            if getattr(ev, "_id", None) == event_id:
                return ev
    return None


def client_gone(queue: Any, event_id: str | None, seen: bool = False) -> bool:
    """Whether the event ``event_id`` is no longer wanted: Gradio marked it dead (its client
    disconnected), or, once ``seen`` among the running jobs, it is not there any more.

    The second case is a cancel (``job.cancel()``, the UI's Stop button): Gradio cancels the
    event's asyncio task and frees its queue slot, but the worker thread running the model goes
    on; only its absence from ``active_jobs`` says the event was dropped.  An event never seen
    there (run outside the queue) is never judged gone by absence.
    """
    if queue is None or event_id is None:
        return False
    ev = _find(queue, event_id)
    if ev is None:
        return seen
    return not getattr(ev, "alive", True)


def step_watcher(name: str, show_steps: bool = True) -> Watcher:
    """The watcher of one model call named ``name``: progress per step (``show_steps``), and
    :class:`Cancelled` once the event's client is gone."""
    queue, event_id = _event()
    seen = queue is not None and event_id is not None and _find(queue, event_id) is not None
    progress = _PROGRESS.get() if show_steps else None
    ends: list[float] = []

    def on_step(done: int, total: int) -> None:
        now = time.time()
        if done:
            ends.append(now)
            STATS["steps"] += 1
        if client_gone(queue, event_id, seen):
            STATS["cancelled"] += 1
            log.info(json.dumps({"event": "cancelled", "fn": name, "event_id": event_id,
                                 "step": done, "total": total, "t": now,
                                 "step_ends": ends[-5:]}))
            raise Cancelled(f"{name}: its client left at step {done} of {total}; stopped")
        if progress is not None and done:
            progress((done, total), desc=f"{name}: denoising", unit="steps")
    return on_step


def watched(fn: Callable, show_steps: bool = True) -> Callable:
    """``fn`` (a model call) run under :func:`step_watcher`."""
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        STATS["calls"] += 1
        event_id = _event()[1]
        _note("start", fn.__name__, event_id)
        with watching(step_watcher(fn.__name__, show_steps)):
            out = fn(*args, **kwargs)
        _note("done", fn.__name__, event_id)
        return out
    return call


def _note(what: str, name: str, event_id: str | None) -> None:
    """One JSON line on ``lina.queue`` (debug level: the load test turns it on)."""
    if log.isEnabledFor(logging.DEBUG):
        log.debug(json.dumps({"event": what, "fn": name, "event_id": event_id,
                              "t": time.time()}))
