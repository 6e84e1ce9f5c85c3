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
from typing import Any, Callable, Sequence

import gradio as gr
import numpy as np

from lina_core.csg import GraphError
from lina_core.interventions import SpecError
from lina_core.limits import MAX_BATCH, MAX_STEPS, MIN_STEPS, LimitError, check_number
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

KNOWN_ERRORS: tuple[type[BaseException], ...] = (GraphError, SpecError, LimitError,
                                                 ModelUnavailable, ValueError, KeyError)
try:  # the verifier is written in parallel; its error type is a ValueError either way
    from lina_core.toyworld.verify import VerifyError
    KNOWN_ERRORS = KNOWN_ERRORS + (VerifyError,)
except ImportError:  # pragma: no cover
    pass


# --------------------------------------------------------------------------- errors


def error(message: str) -> gr.Error:
    """A ``gr.Error`` whose text is shown as text (user strings never become HTML)."""
    return gr.Error(html.escape(str(message), quote=False), print_exception=False)


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


def on_status(event: Any, status: gr.Markdown) -> Any:
    """After ``event`` the status line is cleared, or, when it was refused, says nothing ran."""
    event.success(lambda: "", None, [status], api_visibility="private", show_progress="hidden")
    event.failure(lambda: NOT_RUN, None, [status], api_visibility="private",
                  show_progress="hidden")
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
            raise error(msg) from None
        except Exception as exc:  # noqa: BLE001 - the UI never shows a traceback
            log.exception("unexpected error in %s", getattr(fn, "__name__", fn))
            first = (str(exc).splitlines() or [""])[0][:300]
            raise error(f"internal error ({type(exc).__name__}): {first}") from None
    return wrapper


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


def parse_int_list(field: str, text: Any, lo: int, hi: int, max_len: int) -> list[int]:
    """``"0, 1, 2"`` -> ``[0, 1, 2]``, every value in ``[lo, hi]``; errors name ``field``."""
    if isinstance(text, (list, tuple)):
        items = list(text)
    else:
        if not isinstance(text, str):
            raise error(f"{field}: expected comma-separated integers, got {text!r}")
        items = [t.strip() for t in text.replace(";", ",").split(",") if t.strip()]
    if not items:
        raise error(f"{field}: give at least one integer in [{lo}, {hi}], e.g. 0,1")
    if len(items) > max_len:
        raise error(f"{field}: {len(items)} values; at most {max_len} allowed")
    return [int(number(field, t, lo, hi, integer=True)) for t in items]


def number(field: str, value: Any, lo: float, hi: float, integer: bool = False) -> float | int:
    """A finite number in ``[lo, hi]`` from a UI value (which may be None, text or NaN via the
    API): :func:`lina_core.limits.check_number`, its error shown as a ``gr.Error``."""
    try:
        return check_number(field, value, lo, hi, integer, strings=True)
    except LimitError as exc:
        raise error(str(exc)) from None


# --------------------------------------------------------------------------- bounded inputs


def _check_bounds(field: str, lo: float | None, hi: float | None, payload: Any) -> None:
    """Raise a ``gr.Error`` naming ``field`` for a missing, non-finite or out-of-range value."""
    number(field, payload, -math.inf if lo is None else lo, math.inf if hi is None else hi)


class FieldSlider(gr.Slider):
    """``gr.Slider`` whose range errors name the field (Gradio's own message does not); a
    template of the stock slider, so the browser renders it as one."""
    is_template = True

    # gradio's component metaclass passes only named parameters on, so name them all here
    def __init__(self, minimum: float = 0, maximum: float = 100, value: Any = None, *,
                 field: str = "value", **kwargs):
        super().__init__(minimum, maximum, value, **kwargs)
        self._field = field

    def preprocess(self, payload):  # type: ignore[override]
        _check_bounds(self._field, self.minimum, self.maximum, payload)
        return super().preprocess(payload)

    def get_config(self, cls=None):  # the stock slider's props (label, range, value, ...)
        return super().get_config(cls or gr.Slider)


class FieldNumber(gr.Number):
    """``gr.Number`` whose range errors name the field; rendered by the stock number box."""
    is_template = True

    def __init__(self, value: Any = None, *, field: str = "value", **kwargs):
        super().__init__(value, **kwargs)
        self._field = field

    def preprocess(self, payload):  # type: ignore[override]
        _check_bounds(self._field, self.minimum, self.maximum, payload)
        return super().preprocess(payload)

    def get_config(self, cls=None):  # the stock number box's props
        return super().get_config(cls or gr.Number)


class FieldDropdown(gr.Dropdown):
    """``gr.Dropdown`` whose "not one of the choices" error names the field and the allowed
    values; rendered by the stock dropdown."""
    is_template = True

    def __init__(self, choices: Any = None, *, field: str = "value", **kwargs):
        super().__init__(choices=choices, **kwargs)
        self._field = field

    def preprocess(self, payload):  # type: ignore[override]
        allowed = [v for _, v in self.choices]
        if payload is None or payload not in allowed:
            raise error(f"{self._field}: {payload!r} is not one of {allowed}")
        return super().preprocess(payload)

    def get_config(self, cls=None):  # the stock dropdown's props
        return super().get_config(cls or gr.Dropdown)


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
_WINDOW_SAYS = {
    "cplus": ": conditioned on c+, then on the prompt",
    "donor": ": conditioned on the donor, then on the prompt",
    "donor_cplus": ": conditioned on the donor, then on c+",
    "texture": ": the prompt first, the texture donor in this window",
    "donor_guided": ": latent guidance toward the donor, in the masked region",
    "cplus_guided": ": latent guidance toward c+, in the masked region",
}


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
        says = _WINDOW_SAYS.get(op, "")
        if steps and s1 >= steps and op in ("cplus", "donor"):
            says = says.split(", then")[0] + " throughout"
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
            lines.append(f"**{k.replace('_', ' ')}:** {json.dumps(v, default=str)}")
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


def diff_heatmap(a: Any, b: Any, size: int = DISPLAY) -> tuple[np.ndarray, str]:
    """Per-pixel |a - b| (mean over channels), scaled to its maximum, as a heat map; plus a
    one-line summary (mean and max absolute difference in 0-255 units)."""
    x, y = to_rgb(a).astype(np.float32), to_rgb(b).astype(np.float32)
    if x.shape != y.shape:
        raise error(f"images: shapes differ ({x.shape} vs {y.shape}); cannot compare")
    d = np.abs(x - y).mean(axis=-1)
    peak = float(d.max())
    img = heat(d / peak if peak > 0 else d)
    share = float((d > 8).mean())
    text = (f"mean |diff| {d.mean():.2f}, max {peak:.0f} (0-255); {share:.0%} of pixels differ "
            f"by more than 8" if peak > 0 else "identical images")
    return upscale(img, size), text


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


def pretty(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=str)


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
            return json.dumps(v)
        return v
    return cols, [[cell(r.get(c)) for c in cols] for r in rows]
