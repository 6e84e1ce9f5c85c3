"""Shared UI helpers: image display, difference heat maps, verdict tables, bounded inputs that
name their field, and the error wrapper that turns every known bad input into a ``gr.Error``.

Nothing here does model math; it only reshapes arrays and strings for display.
"""
from __future__ import annotations

import functools
import html
import json
import logging
import math
import os
from typing import Any, Callable, Sequence

import gradio as gr
import numpy as np
from PIL import Image

from lina_core.csg import GraphError
from lina_core.interventions import SpecError
from lina_core.limits import (MAX_BATCH, MAX_STEPS, MIN_STEPS, LimitError, check_count,
                              check_number, snippet)
from lina_core.pipelines.registry import ModelUnavailable
from lina_core.watch import Cancelled

from .state import PREDICTED
from .waiting import progress_bar

log = logging.getLogger("lina.app")

#: display size of model images (nearest-neighbour upscaling keeps the pixels honest)
DISPLAY = 256
#: UI caps, each within the named limits of lina_core.limits
UI_MAX_SEEDS = min(4, MAX_BATCH)        # seeds in a LINA batch
UI_MAX_PROBE_N = 4                      # prompts per category in a probe run
UI_MAX_PROBE_SEEDS = 4
UI_MAX_KS = 12
DEFAULT_STEPS = 25
assert MIN_STEPS <= DEFAULT_STEPS <= MAX_STEPS
#: a probe run's work, prompts per category x seeds x switch steps (timing, inpaint) x steps:
#: the UI caps alone allow 4 x 4 x 12 x 100 = 19,200, over 100 times a two-minute run
PROBE_BUDGET = 1_200
#: a Video-tab run's work, frames x steps (16 frames at 50 steps, or 8 at 100)
VIDEO_BUDGET = 800
#: an uploaded image (the Video tab's filmstrip): its bytes, and its pixels read from the
#: header before it is decoded (a 420 kB PNG can claim 179 megapixels: 1.9 GB decoded)
MAX_UPLOAD_BYTES = 8 * 1024 * 1024
MAX_UPLOAD_PIXELS = 2048 * 2048
#: PIL itself refuses (DecompressionBombError) images over twice this, wherever the app opens
#: one; :func:`check_image_file` refuses those over :data:`MAX_UPLOAD_PIXELS` before PIL decodes
Image.MAX_IMAGE_PIXELS = MAX_UPLOAD_PIXELS

KNOWN_ERRORS: tuple[type[BaseException], ...] = (GraphError, SpecError, LimitError,
                                                 ModelUnavailable, ValueError, KeyError)
try:  # the verifier is written in parallel; its error type is a ValueError either way
    from lina_core.toyworld.verify import VerifyError
    KNOWN_ERRORS = KNOWN_ERRORS + (VerifyError,)
except ImportError:  # pragma: no cover
    pass


# --------------------------------------------------------------------------- errors


def error(message: str) -> gr.Error:
    """A ``gr.Error`` whose text is shown as text.

    Gradio's browser renders the message as (sanitized) HTML, so a quoted ``<tag`` or ``&name;``
    of user input would be read as markup: a message holding ``<`` or ``&`` is escaped (the
    browser shows it as typed), any other message is sent as it is, so API clients read
    ``a -> b``, not ``a -&gt; b`` (a lone ``>`` is text in HTML)."""
    text = str(message)
    if "<" in text or "&" in text:
        text = html.escape(text, quote=False)
    return gr.Error(text, print_exception=False)


#: a tab's status line after a refused or failed event: nothing ran and nothing changed
NOT_RUN = ("**Not run** (the message in the corner says why): every input is as you left it "
           "and every output as it was.")


def stop_button(elem_id: str) -> gr.Button:
    """A Stop button for a tab's model runs (wired by :func:`stops`)."""
    return gr.Button("Stop", variant="stop", elem_id=elem_id, scale=0, min_width=80)


def stops(button: gr.Button, *events: Any) -> None:
    """``button`` cancels ``events``: Gradio cancels a queued one, and a running one's model
    call stops within the denoising step in progress (:mod:`app.waiting`)."""
    button.click(None, None, None, cancels=list(events), api_visibility="private",
                 show_progress="hidden")


def run_status(elem_id: str) -> gr.Markdown:
    """A tab's status line, under its buttons: where the events' queue position, progress bar
    and errors show (``show_progress_on``), so no output box is ever marked "Error"."""
    return gr.Markdown("", elem_id=elem_id)


#: the same, for an event whose outputs are emptied when it fails (:func:`on_status`'s clear)
NOT_RUN_CLEARED = ("**Not run** (the message in the corner says why): every input is as you "
                   "left it; the outputs are empty, so none is left over from an earlier run.")


def on_status(event: Any, status: gr.Markdown, clear: dict[Any, Any] | None = None) -> Any:
    """After ``event`` the status line is cleared, or, when it was refused, says nothing ran.

    ``clear`` (output component -> its empty value): a refused or failed event also empties
    these, so the tab never shows an earlier run's pictures under inputs that did not run."""
    event.success(lambda: "", None, [status], api_visibility="private", show_progress="hidden")
    if clear is None:
        event.failure(lambda: NOT_RUN, None, [status], api_visibility="private",
                      show_progress="hidden")
    else:
        event.failure(lambda: {status: NOT_RUN_CLEARED, **clear}, None, [status, *clear],
                      api_visibility="private", show_progress="hidden")
    return event


def guard(fn: Callable) -> Callable:
    """Run ``fn``; turn GraphError/SpecError/LimitError/ModelUnavailable/ValueError into a
    ``gr.Error`` with the library's message (which names the field and the allowed range), and
    anything unexpected into a one-line ``gr.Error`` (the traceback goes to the server log)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            with progress_bar(next((x for x in (*args, *kwargs.values())
                                    if isinstance(x, gr.Progress)), None)):
                return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Cancelled as exc:       # its client has gone: nobody will read this
            log.info("%s", exc)
            raise error(str(exc)) from None
        except KNOWN_ERRORS as exc:
            msg = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
            if not _names_a_field(msg):    # a library bug's ValueError, not a refusal
                raise internal_error(fn) from None
            raise error(msg) from None
        except Exception:  # noqa: BLE001 - the UI never shows a traceback
            raise internal_error(fn) from None
    return wrapper


def _names_a_field(message: str) -> bool:
    """Whether ``message`` reads "field: what is wrong" (every refusal of the app and the
    library does); anything else is an internal error, not something the user can fix."""
    head, sep, rest = message.partition(":")
    return bool(sep and head.strip() and rest.strip()) and len(head) <= 80


def internal_error(fn: Callable) -> gr.Error:
    """The one message for a failure that is not the user's: it names what failed and says
    nothing changed; the traceback (called from an ``except`` block) goes to the server log
    only, so no exception class or internal detail reaches a visitor."""
    what = str(getattr(fn, "__name__", "this action")).strip("_").replace("_", " ")
    log.exception("unexpected error in %s", what)
    return error(f"{what}: internal error; nothing was changed (details in the server log)")


def keyed(fn: Callable, outputs: dict[str, Any]) -> Callable:
    """``fn`` answering a dict keyed by output name -> an event handler answering Gradio's dict
    keyed by output component (``outputs`` maps the names to the components)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        answer = fn(*args, **kwargs)
        missing = set(outputs) - set(answer)
        if missing:
            raise RuntimeError(f"{getattr(fn, '__name__', fn)}: no value for {sorted(missing)}")
        return {outputs[name]: answer[name] for name in outputs}
    return wrapper


# --------------------------------------------------------------------------- parsing inputs


#: the characters a comma-separated list of integers may take (checked before it is split)
MAX_INT_LIST_CHARS = 200


def parse_int_list(field: str, text: Any, lo: int, hi: int, max_len: int) -> list[int]:
    """``"0, 1, 2"`` -> ``[0, 1, 2]``, every value in ``[lo, hi]``, none repeated (a repeat
    would only run the same work twice); errors name ``field``."""
    if isinstance(text, (list, tuple)):
        items = list(text)
    else:
        if not isinstance(text, str):
            raise error(f"{field}: expected comma-separated integers, got {snippet(text)}")
        if len(text) > MAX_INT_LIST_CHARS:
            raise error(f"{field}: {len(text)} characters; the limit is {MAX_INT_LIST_CHARS} "
                        f"characters")
        items = [t.strip() for t in text.replace(";", ",").split(",") if t.strip()]
    if not items:
        raise error(f"{field}: give at least one integer in [{lo}, {hi}], e.g. 0,1")
    if len(items) > max_len:
        raise error(f"{field}: {len(items)} values; at most {max_len} allowed")
    values = [int(number(field, t, lo, hi, integer=True)) for t in items]
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise error(f"{field}: {', '.join(map(str, repeated))} given more than once; give each "
                    f"value once")
    return values


def check_budget(field: str, factors: dict[str, int], budget: int, name: str) -> int:
    """The product of ``factors`` (e.g. frames x steps) if within ``budget``; else a refusal
    naming ``field``, each factor, the product and the limit (checked before model work)."""
    work = math.prod(factors.values())
    if work > budget:
        terms = " x ".join(f"{v} {k}" for k, v in factors.items())
        raise error(f"{field}: {terms} = {work}; the limit ({name}) is {budget}; use fewer")
    return work


def check_image_file(field: str, path: Any) -> None:
    """An uploaded image's size in bytes and in pixels, read from its header without decoding
    it (PIL's ``Image.open`` is lazy): a small file claiming a huge image is refused before it
    takes any memory."""
    try:
        size = os.path.getsize(path)
    except (OSError, TypeError, ValueError):
        raise error(f"{field}: no readable uploaded file") from None
    try:
        check_count(field, size, MAX_UPLOAD_BYTES, "bytes")
    except LimitError as exc:
        raise error(str(exc)) from None
    try:
        with Image.open(path) as im:
            w, h = im.size
    except Image.DecompressionBombError:
        raise error(f"{field}: more than {2 * MAX_UPLOAD_PIXELS} pixels; the limit is "
                    f"{MAX_UPLOAD_PIXELS} pixels") from None
    except Exception:  # noqa: BLE001 - PIL raises many kinds for a file that is no image
        raise error(f"{field}: not a readable image (PNG, JPEG or WebP)") from None
    if w * h > MAX_UPLOAD_PIXELS:
        raise error(f"{field}: {w}x{h} is {w * h} pixels; the limit is {MAX_UPLOAD_PIXELS} "
                    f"pixels")


def number(field: str, value: Any, lo: float, hi: float, integer: bool = False) -> float | int:
    """A finite number in ``[lo, hi]`` from a UI value (which may be None, text or NaN via the
    API): :func:`lina_core.limits.check_number`, its error shown as a ``gr.Error``."""
    try:
        return check_number(field, value, lo, hi, integer, strings=True)
    except LimitError as exc:
        raise error(str(exc)) from None


# --------------------------------------------------------------------------- bounded inputs


def _check_bounds(field: str, lo: float | None, hi: float | None, payload: Any,
                  integer: bool = False) -> float | int:
    """``payload`` as a number (an ``int`` when ``integer``), else a ``gr.Error`` naming
    ``field`` for a missing, non-numeric, non-finite, fractional or out-of-range value."""
    return number(field, payload, -math.inf if lo is None else lo,
                  math.inf if hi is None else hi, integer)


class _ReadAs:
    """A component's data model whose validation failure (Gradio validates an API payload
    before ``preprocess``, and would answer ``{"error": null}``) is a ``gr.Error`` naming the
    field; everything else is the model's own."""

    def __init__(self, model: Any, field: str, expects: str):
        self._model, self._field, self._expects = model, field, expects

    def model_validate(self, obj: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._model.model_validate(obj, *args, **kwargs)
        except Exception:  # noqa: BLE001 - pydantic's ValidationError and its kin
            raise error(f"{self._field}: {snippet(obj)} is not {self._expects}") from None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):    # copy and deepcopy probe before __init__ has run
            raise AttributeError(name)
        return getattr(self._model, name)


class _Named:
    """Mixin for a Gradio component: every failure of Gradio's own checks of an input (its data
    model, its ``preprocess``) becomes one ``gr.Error`` naming the field, never Gradio's
    anonymous "upstream Gradio app has raised an exception".  ``_read`` is the subclass's
    own check, run first; it returns the value handed on to the stock ``preprocess``."""
    _field = "value"
    _expects = "a valid value"

    def _name(self, field: str) -> None:
        self._field = field
        if getattr(self, "data_model", None) is not None:
            self.data_model = _ReadAs(self.data_model, field, self._expects)

    def _read(self, payload: Any) -> Any:
        return payload

    def _stock(self) -> type:
        """The stock Gradio component this one templates (the browser renders that one)."""
        return next(c for c in type(self).__mro__[1:] if c.__module__.startswith("gradio."))

    # Gradio names a template after its first base class, which is this mixin: name the stock
    def get_block_name(self) -> str:
        return self._stock().__name__.lower()

    def get_block_class(self) -> str:
        return self._stock().__name__.lower()

    def get_config(self, cls=None):  # the stock component's props (label, range, value, ...)
        return super().get_config(cls or self._stock())  # type: ignore[misc]

    def preprocess(self, payload):  # type: ignore[override]
        payload = self._read(payload)
        try:
            return super().preprocess(payload)  # type: ignore[misc]
        except gr.Error as exc:            # Gradio's "Value: x is not in the list of choices"
            raise error(f"{self._field}: {exc.message}") from None
        except Exception:  # noqa: BLE001 - whatever the stock component raises
            log.info("%s: unreadable input", self._field, exc_info=True)
            raise error(f"{self._field}: the value sent is not {self._expects}") from None


class FieldSlider(_Named, gr.Slider):
    """``gr.Slider`` whose errors name the field (Gradio's own message does not), a whole step
    (step 1 from a whole minimum) refusing fractions; a template of the stock slider, so the
    browser renders it as one."""
    is_template = True
    _expects = "a number"

    # gradio's component metaclass passes only named parameters on, so name them all here
    def __init__(self, minimum: float = 0, maximum: float = 100, value: Any = None, *,
                 field: str = "value", **kwargs):
        super().__init__(minimum, maximum, value, **kwargs)
        self._name(field)
        self._integer = float(self.step).is_integer() and float(self.minimum).is_integer()

    def _read(self, payload: Any) -> Any:
        return _check_bounds(self._field, self.minimum, self.maximum, payload, self._integer)


class FieldNumber(_Named, gr.Number):
    """``gr.Number`` whose errors name the field; ``precision=0`` refuses a fraction (Gradio
    would round 2.5 silently); rendered by the stock number box."""
    is_template = True
    _expects = "a number"

    def __init__(self, value: Any = None, *, field: str = "value", **kwargs):
        super().__init__(value, **kwargs)
        self._name(field)

    def _read(self, payload: Any) -> Any:
        return _check_bounds(self._field, self.minimum, self.maximum, payload,
                             self.precision == 0)


def _check_choice(field: str, choices: Any, payload: Any) -> Any:
    """``payload`` if it is one of the component's choices, else a refusal listing them."""
    allowed = [v for _, v in choices]
    if payload is None or isinstance(payload, (list, dict)) or payload not in allowed:
        shown = allowed if len(str(allowed)) <= 220 else f"{len(allowed)} choices"
        raise error(f"{field}: {snippet(payload)} is not one of {shown}")
    return payload


class FieldDropdown(_Named, gr.Dropdown):
    """``gr.Dropdown`` whose "not one of the choices" error names the field and the allowed
    values (one that takes typed values checks only that it is text); rendered by the stock
    dropdown."""
    is_template = True
    _expects = "one of the choices"

    def __init__(self, choices: Any = None, *, field: str = "value", **kwargs):
        super().__init__(choices=choices, **kwargs)
        self._name(field)

    def _read(self, payload: Any) -> Any:
        if self.allow_custom_value:
            if payload is not None and not isinstance(payload, (str, int, float)):
                raise error(f"{self._field}: {snippet(payload)} must be text")
            return payload
        return _check_choice(self._field, self.choices, payload)


class FieldRadio(_Named, gr.Radio):
    """``gr.Radio`` whose "not one of the choices" error names the field; the stock radio."""
    is_template = True
    _expects = "one of the choices"

    def __init__(self, choices: Any = None, *, field: str = "value", **kwargs):
        super().__init__(choices=choices, **kwargs)
        self._name(field)

    def _read(self, payload: Any) -> Any:
        return _check_choice(self._field, self.choices, payload)


class FieldCheckbox(_Named, gr.Checkbox):
    """``gr.Checkbox`` that takes true or false only (Gradio passes any value on, and "no"
    would be true); the stock checkbox."""
    is_template = True
    _expects = "true or false"

    def __init__(self, value: Any = False, *, field: str = "value", **kwargs):
        super().__init__(value, **kwargs)
        self._name(field)

    def _read(self, payload: Any) -> Any:
        if payload is not None and not isinstance(payload, bool):
            raise error(f"{self._field}: {snippet(payload)} must be true or false")
        return payload

    def get_config(self, cls=None):  # Checkbox.get_config takes no cls: do what it does
        config = gr.components.Component.get_config(self, cls or gr.Checkbox)
        config["show_label"] = True if self.label is not None else self.show_label
        return config


class FieldImage(_Named, gr.Image):
    """``gr.Image`` taking an upload: its bytes and pixels checked from the header before it is
    decoded (:func:`check_image_file`), an unreadable file named; the stock image box."""
    is_template = True
    _expects = "a readable image (PNG, JPEG or WebP)"

    def __init__(self, value: Any = None, *, field: str = "image", **kwargs):
        super().__init__(value, **kwargs)
        self._name(field)

    def _read(self, payload: Any) -> Any:
        if payload is not None:
            check_image_file(self._field, getattr(payload, "path", None))
        return payload


class FieldFile(_Named, gr.File):
    """``gr.File`` whose malformed payloads are refused by name; the stock file box."""
    is_template = True
    _expects = "an uploaded file"

    def __init__(self, value: Any = None, *, field: str = "file", **kwargs):
        super().__init__(value, **kwargs)
        self._name(field)


class FieldDataframe(_Named, gr.Dataframe):
    """``gr.Dataframe`` whose rows are counted before they are read (``max_rows``) and whose
    malformed payloads are refused by name; the stock table."""
    is_template = True
    _expects = "a table (headers and rows of cells)"

    def __init__(self, value: Any = None, *, field: str = "table", max_rows: int = 64,
                 **kwargs):
        super().__init__(value, **kwargs)
        self._name(field)
        self._max_rows = max_rows

    def _read(self, payload: Any) -> Any:
        rows = getattr(payload, "data", None) or []
        if len(rows) > self._max_rows:
            raise error(f"{self._field}: {len(rows)} rows; the limit is {self._max_rows} rows")
        return payload


def steps_slider(value: int = DEFAULT_STEPS, **kw) -> FieldSlider:
    return FieldSlider(MIN_STEPS, MAX_STEPS, value=value, step=1, label="steps",
                       field="steps", **kw)


# --------------------------------------------------------------------------- LINA's choice

#: the intervention dropdowns' "let LINA choose" entry (its value is state.PREDICTED)
PREDICTED_LABEL = "predicted (LINA chooses)"


def candidate_choices() -> list[tuple[str, str]]:
    """The intervention dropdown's entries: "predicted", then every candidate of the family."""
    from lina_core.candidates import FAMILY
    return [(PREDICTED_LABEL, PREDICTED)] + [(c.name, c.name) for c in FAMILY]


def intervention_dropdown(**kw) -> FieldDropdown:
    return FieldDropdown(candidate_choices(), value=PREDICTED, label="intervention",
                         field="candidate", **kw)


def check_candidate(value: Any, graph: dict[str, Any]) -> str | None:
    """The dropdown's value checked against the scene before any model work: None for
    "predicted", else a candidate that applies to ``graph``.  Errors name the field
    "candidate", say why it does not apply, and list the candidates that do."""
    from lina_core import candidates as C
    from lina_core.csg import CausalSceneGraph
    from lina_core.donors import DonorError
    if value in (None, "", PREDICTED):
        return None
    if not isinstance(value, str) or value not in C.BY_NAME:
        raise error(f"candidate: {value!r} is not one of {[v for _, v in candidate_choices()]}")
    g = CausalSceneGraph.from_dict(graph)
    allowed = [c.name for c in C.available(g)]
    if not C.is_toyworld(g):
        if value not in allowed:
            raise error(f"candidate: {value!r} does not apply to this open-world scene "
                        f"(donors and guidance masks need ToyWorld); allowed here: "
                        f"{', '.join(allowed)}")
        return value
    try:
        C.spec_for(C.get(value), "-", g)
    except DonorError as exc:
        raise error(f"candidate: {value!r} does not apply to this {g.category} scene ({exc}); "
                    f"allowed here: {', '.join(allowed)}") from None
    return value


def _fmt_box(box: Sequence[float]) -> str:
    return "[" + ", ".join(f"{float(v):.2f}" for v in box) + "]"


#: what happens in (and after) a candidate's window, by op
def choice_markdown(choice: dict[str, Any], run_mask: dict[str, Any] | None = None,
                    steps: int | None = None) -> str:
    """What LINA chose and why, for reading: the candidate and who chose it, the donor (its
    caption, what was swapped, which causal parents were kept), c+, the window of steps, the
    guidance mask (node and box, as placed from the run), the schedule, predicted gains."""
    why = choice.get("why") or {}
    iv = why.get("intervention") or {}
    name, op = choice.get("candidate", "?"), iv.get("op", "?")
    source = why.get("source", "")
    lines = [f"**Intervention:** `{name}` (op `{op}`), {source}."]
    loop = why.get("loop")
    if loop:
        lines.append(f"**The loop:** {why.get('reason', loop.get('reason', ''))}.")
        rows = [("baseline", loop["base_p"], None, why.get("check_step"))] + [
            (t["name"], t["p"], t["passed"], t.get("checked_at"))
            for t in loop.get("tries") or []]
        lines.append("| run | checked at step | P(physics right) | P(texture right) | passed |\n"
                     "|---|---|---|---|---|\n"
                     + "\n".join(f"| `{n}` | {k} | {p[0]:.2f} | {p[1]:.2f} | "
                                  f"{'-' if ok is None else ('yes' if ok else 'no')} |"
                                  for n, p, ok, k in rows)
                     + f"\n\n(the learned check at step {why.get('check_step')}, threshold "
                       f"{loop['threshold']:.2f} on P(both right); it is not the verifier)")
    if why.get("predictor_note"):
        lines.append(f"Predictor: {why['predictor_note']}.")
    if op == "none":
        lines.append("No intervention: LINA's image is the baseline's.")
    donor = iv.get("donor")
    if donor:
        swaps = "; ".join(f"{s['node']}.{s['attribute']}: {s['from']} -> {s['to']}"
                          for s in donor.get("swaps") or []) or "nothing"
        kept = ", ".join(donor.get("causal_parents_kept") or []) or "none"
        if op == "texture":      # the late window: the parents swapped, what is seen kept
            lines.append(f"**Texture donor:** _{donor.get('caption', '')}_ (swapped {swaps}; "
                         f"kept as written: {kept}).")
        else:
            effects = ", ".join(donor.get("effects_kept") or []) or "none"
            lines.append(f"**Structure donor:** _{donor.get('caption', '')}_ (swapped "
                         f"{swaps}; causal parents kept: {kept}; effects kept: {effects}).")
    if iv.get("causal_completion"):
        lines.append(f"**Causal completion c+:** _{iv['causal_completion']}_.")
    if iv.get("window"):
        s0, s1 = iv["window"]
        of = f" of {steps}" if steps else ""
        from lina_core.candidates import OPS
        says = OPS[op].says_for([s0, s1], steps) if op in OPS else ""
        lines.append(f"**Window:** steps [{s0}, {s1}){of}{says}.")
    if iv.get("mask_node"):
        text = f"**Guidance mask:** node `{iv['mask_node']}`"
        if run_mask and run_mask.get("box"):
            moved = ("moved from the graph's layout to where the run drew the scene"
                     if run_mask.get("moved") else "where the graph's layout puts it")
            text += (f", box {_fmt_box(run_mask['box'])} (x0, y0, x1, y1, as a share of the "
                     f"image), placed from the run's predicted clean image at step "
                     f"{run_mask.get('step')} ({moved}); outlined on the copy of LINA's image")
        else:
            text += ", its box placed when LINA runs, from the run's own predicted clean image"
        lines.append(text + ".")
    if iv.get("rho") is not None:
        lines.append(f"**Schedule:** reallocated, a share rho = {iv['rho']:g} of the steps at "
                     f"high noise.")
    known = {"op", "donor", "causal_completion", "window", "mask_node", "rho"}
    for k, v in iv.items():          # anything else the library explains, as it says it
        if k not in known and v not in (None, "", [], {}):
            lines.append(f"**{k.replace('_', ' ')}:** {ui_json(v, None)}")
    gains = why.get("predicted_gain")
    if gains:
        order = sorted(gains.items(), key=lambda kv: -kv[1])
        cells = ", ".join((f"**{k} {v:+.3f}**" if k == name else f"{k} {v:+.3f}")
                          for k, v in order)
        thr = why.get("threshold")
        lines.append("**Predicted gain** over no intervention"
                     + (f" (chosen only above {thr:g})" if thr is not None else "")
                     + f": {cells}.")
    if why.get("available"):
        lines.append(f"Candidates that apply to this {why.get('category', '')} scene: "
                     f"{', '.join(why['available'])}.")
    return "  \n".join(lines)


# --------------------------------------------------------------------------- images


def to_rgb(img: Any) -> np.ndarray:
    a = np.asarray(img)
    if a.ndim == 4:        # a batch or a video: the first image / frame
        a = a[0]
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=-1)
    if a.dtype != np.uint8:
        a = (np.clip(a.astype(np.float32), 0, 1) * 255 + 0.5).astype(np.uint8)
    return np.ascontiguousarray(a[..., :3])


def upscale(img: Any, size: int = DISPLAY) -> np.ndarray:
    """Nearest-neighbour upscale by an integer factor so the longer side is about ``size``."""
    a = to_rgb(img)
    f = max(1, size // max(a.shape[:2]))
    return np.repeat(np.repeat(a, f, axis=0), f, axis=1) if f > 1 else a


#: black -> purple -> orange -> yellow, a perceptually ordered ramp (inferno-like)
_RAMP = np.array([[0, 0, 4], [60, 15, 110], [150, 40, 100], [225, 90, 40], [250, 190, 40],
                  [252, 255, 164]], np.float32)


def heat(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] to RGB uint8 with :data:`_RAMP`."""
    v = np.clip(np.nan_to_num(values), 0, 1) * (len(_RAMP) - 1)
    i = np.minimum(v.astype(int), len(_RAMP) - 2)
    t = (v - i)[..., None]
    return (_RAMP[i] * (1 - t) + _RAMP[i + 1] * t + 0.5).astype(np.uint8)


#: the heat map's colour bar: its width, the gap before it, and the room for its numbers (px)
BAR_PX, BAR_GAP, BAR_TEXT = 14, 6, 34


def colour_bar(height: int, peak: float) -> np.ndarray:
    """A vertical colour bar for :func:`heat` maps scaled to ``peak``: the ramp from 0 (bottom)
    to ``peak`` (top), its two ends written beside it in grey levels (0-255); white ground."""
    from PIL import Image, ImageDraw
    ramp = heat(np.linspace(1.0, 0.0, height)[:, None].repeat(BAR_PX, axis=1))
    canvas = Image.new("RGB", (BAR_GAP + BAR_PX + BAR_TEXT, height), "white")
    canvas.paste(Image.fromarray(ramp), (BAR_GAP, 0))
    draw = ImageDraw.Draw(canvas)
    x = BAR_GAP + BAR_PX + 3
    draw.text((x, 0), f"{peak:.0f}", fill="black")
    draw.text((x, height - 11), "0", fill="black")
    return np.asarray(canvas)


def diff_heatmap(a: Any, b: Any, size: int = DISPLAY) -> tuple[np.ndarray, str]:
    """Per-pixel |a - b| (mean over channels), scaled to its maximum, as a heat map with its
    colour bar (0 to that maximum, in grey levels 0-255) at its right; plus a one-line summary
    (mean and max absolute difference in 0-255 units)."""
    x, y = to_rgb(a).astype(np.float32), to_rgb(b).astype(np.float32)
    if x.shape != y.shape:
        raise error(f"images: shapes differ ({x.shape} vs {y.shape}); cannot compare")
    d = np.abs(x - y).mean(axis=-1)
    peak = float(d.max())
    img = upscale(heat(d / peak if peak > 0 else d), size)
    img = np.concatenate([img, colour_bar(img.shape[0], peak)], axis=1)
    share = float((d > 8).mean())
    text = (f"mean |diff| {d.mean():.2f}, max {peak:.0f} (0-255; the heat map's colour bar "
            f"runs from 0 to this max); {share:.0%} of pixels differ by more than 8"
            if peak > 0 else "identical images")
    return img, text


def _frame(a: np.ndarray, r0: int, c0: int, r1: int, c1: int, width: int, col) -> None:
    """Draw a rectangle outline (rows r0..r1, columns c0..c1 inclusive) into ``a``, in place."""
    h, w = a.shape[:2]
    r0, r1 = max(0, r0), min(h - 1, r1)
    c0, c1 = max(0, c0), min(w - 1, c1)
    if r0 > r1 or c0 > c1:
        return
    col = np.asarray(col, np.uint8)
    a[r0:min(r0 + width, r1 + 1), c0:c1 + 1] = col
    a[max(r1 - width + 1, r0):r1 + 1, c0:c1 + 1] = col
    a[r0:r1 + 1, c0:min(c0 + width, c1 + 1)] = col
    a[r0:r1 + 1, max(c1 - width + 1, c0):c1 + 1] = col


def box_outline(image: Any, box: Sequence[float] | None, colour=(0, 255, 255),
                width: int = 2, size: int = DISPLAY) -> np.ndarray:
    """An upscaled copy of ``image`` with ``box`` (x0, y0, x1, y1 as shares of the image)
    outlined in ``colour``, edged in black so it shows on any picture; the plain upscaled copy
    when there is no box."""
    a = upscale(image, size).copy()
    if not box:
        return a
    h, w = a.shape[:2]
    x0, y0, x1, y1 = (float(v) for v in box)
    c0, c1 = int(round(x0 * w)), int(round(x1 * w)) - 1
    r0, r1 = int(round(y0 * h)), int(round(y1 * h)) - 1
    _frame(a, r0 - 1, c0 - 1, r1 + 1, c1 + 1, width + 2, (0, 0, 0))
    _frame(a, r0, c0, r1, c1, width, colour)
    return a


def mask_overlay(image: np.ndarray, mask: np.ndarray, colour=(255, 0, 200)) -> np.ndarray:
    """The image dimmed outside ``mask``, tinted inside it."""
    a = to_rgb(image).astype(np.float32)
    m = np.asarray(mask, bool)[..., None]
    out = np.where(m, a * 0.45 + np.array(colour, np.float32) * 0.55, a * 0.35)
    return (out + 0.5).astype(np.uint8)


def side_by_side(*imgs: Any, gap: int = 4) -> np.ndarray:
    arrs = [upscale(i) for i in imgs]
    h = max(a.shape[0] for a in arrs)
    pad = np.full((h, gap, 3), 255, np.uint8)
    parts: list[np.ndarray] = []
    for a in arrs:
        if parts:
            parts.append(pad)
        parts.append(a)
    return np.concatenate(parts, axis=1)


# --------------------------------------------------------------------------- tables and text

VERDICT_HEADERS = ["item", "answer", "detail"]
VERDICT_WIDTHS = ["34%", "12%", "54%"]


def verdict_rows(verdict: dict[str, Any] | None, graph: dict[str, Any] | None = None
                 ) -> list[list[str]]:
    """A verifier verdict (``Verdict.to_dict()``) as rows: one per question, one per node."""
    if not verdict:
        return [["verifier", "n/a", ""]]
    if "no_verifier" in verdict:
        return [["verifier", "none", str(verdict["no_verifier"])]]
    if "error" in verdict:
        return [["verifier", "error", str(verdict["error"])]]
    rows = [["physics", "ok" if verdict.get("physics_ok") else "WRONG", ""],
            ["texture", "ok" if verdict.get("texture_ok") else "WRONG", ""]]
    for kind in ("physics", "texture"):
        for q, ok in (verdict.get(kind) or {}).items():
            rows.append([f"{kind}: {q}", "yes" if ok else "no", ""])
    kinds = {}
    if graph:
        kinds = {n["id"]: (n.get("kind"), n.get("explicit", True)) for n in graph.get("nodes", [])}
    for node, text in (verdict.get("per_node") or {}).items():
        kind, explicit = kinds.get(node, ("", True))
        label = f"node {node}" + (f" ({kind}{', implicit' if not explicit else ''})" if kind
                                  else "")
        rows.append([label, "", str(text)])
    return rows


def verdict_summary(verdict: dict[str, Any] | None) -> str:
    if verdict and "no_verifier" in verdict:
        return str(verdict["no_verifier"])
    if not verdict or "error" in verdict:
        return "verifier: n/a"
    return (f"physics {'ok' if verdict.get('physics_ok') else 'WRONG'}, "
            f"texture {'ok' if verdict.get('texture_ok') else 'WRONG'}")


#: significant digits a float keeps in the JSON the UI shows: binary noise ("0.32999999999999996",
#: a layout box 0.4 - 0.07) goes, and a pasted-back spec runs the same (1e-12 of a 32 px image)
UI_DIGITS = 12


def ui_floats(obj: Any) -> Any:
    """``obj`` with every float (numpy's too) rounded to :data:`UI_DIGITS` significant digits,
    through dicts, lists and tuples; non-finite floats and everything else unchanged."""
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return float(f"{x:.{UI_DIGITS}g}") if math.isfinite(x) else x
    if isinstance(obj, dict):
        return {k: ui_floats(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [ui_floats(v) for v in obj]
    return obj


def ui_json(obj: Any, indent: int | None = 2) -> str:
    """JSON for a code box of the UI: floats through :func:`ui_floats`, anything else JSON
    cannot write as its ``str``."""
    return json.dumps(ui_floats(obj), indent=indent, default=str)


def pretty(obj: Any) -> str:
    return ui_json(obj)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None
          ) -> tuple[list[str], list[list[Any]]]:
    """Dict rows -> (headers, values) for a ``gr.Dataframe``; floats rounded for reading."""
    cols = list(columns or [])
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)

    def cell(v: Any) -> Any:
        if isinstance(v, float):
            return round(v, 4) if math.isfinite(v) else None
        if isinstance(v, (dict, list)):
            return ui_json(v, None)
        return v
    return cols, [[cell(r.get(c)) for c in cols] for r in rows]
