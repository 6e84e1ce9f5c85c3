"""A tab's screen as the browser would show it after a click, without a browser: fire a
component's event, run its handler through ``Blocks.process_api`` (pre- and post-processing as
served), then what the page would run next: the ``.then`` / ``.success`` / ``.failure`` steps
of the chain and the ``.change`` listeners of every output whose value changed.  What the
screen holds afterwards is every component's (post-processed) value and visibility, so a test
can check that one click left one consistent screen."""
from __future__ import annotations

import copy
from typing import Any

from gradio.state_holder import SessionState
from gradio_client import utils as client_utils


class Screen:
    """One browser session of ``demo``: component values by id, and the session state."""

    def __init__(self, demo: Any):
        self.demo = demo
        self.fns = demo.default_config.fns
        self.state = SessionState(demo)
        config = demo.get_config_file()
        self.values: dict[int, Any] = {c["id"]: copy.deepcopy(c.get("props", {}).get("value"))
                                       for c in config["components"]}
        self.visible: dict[int, Any] = {c["id"]: c.get("props", {}).get("visible", True)
                                        for c in config["components"]}
        self.choices: dict[int, Any] = {c["id"]: c.get("props", {}).get("choices")
                                        for c in config["components"]}
        self.errors: list[str] = []

    def value(self, component: Any) -> Any:
        return self.values.get(component._id)

    def set(self, component: Any, value: Any) -> None:
        """The user typed ``value`` (the frontend's form of it) into ``component``."""
        self.values[component._id] = value

    def fire(self, component: Any, event: str = "click") -> bool:
        """The user triggers ``event`` on ``component``; True if every step succeeded."""
        ok = True
        for fn in self._listeners(component, event):
            ok = self._run_chain(fn) and ok
        return ok

    def _listeners(self, component: Any, event: str) -> list[Any]:
        return [fn for fn in self.fns.values() if fn.trigger_after is None
                and any(t[0] == component._id and t[1] == event for t in fn.targets)]

    def _run_chain(self, fn: Any) -> bool:
        ok = self._run(fn)
        for nxt in self.fns.values():
            if nxt.trigger_after != fn._id:
                continue
            if (nxt.trigger_only_on_success and not ok) or \
                    (nxt.trigger_only_on_failure and ok):
                continue
            self._run_chain(nxt)
        return ok

    def _run(self, fn: Any) -> bool:
        """One handler; js-only steps are skipped (they change no server-side value here)."""
        if fn.fn is None:
            return True
        inputs = [copy.deepcopy(self.values.get(c._id)) for c in fn.inputs]
        try:
            out = client_utils.synchronize_async(
                self.demo.process_api, block_fn=fn, inputs=inputs, state=self.state)
        except Exception as exc:  # noqa: BLE001 - gr.Error or anything: the page shows it
            self.errors.append(getattr(exc, "message", None) or str(exc))
            return False
        changed = []
        for comp, value in zip(fn.outputs, out["data"]):
            if self._apply(comp, value):
                changed.append(comp)
        for comp in changed:
            for listener in self._listeners(comp, "change"):
                self._run_chain(listener)
        return True

    def _apply(self, comp: Any, value: Any) -> bool:
        """Put one output on screen; True if its value changed."""
        if isinstance(value, dict) and value.get("__type__") == "update":
            if "visible" in value:
                self.visible[comp._id] = value["visible"]
            if "choices" in value:
                self.choices[comp._id] = value["choices"]
            if "value" not in value:
                return False
            value = value["value"]
        before = self.values.get(comp._id)
        self.values[comp._id] = value
        return before != value
