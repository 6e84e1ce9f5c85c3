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
from lina_core.limits import MAX_BATCH, MAX_STEPS, MIN_STEPS, LimitError
from lina_core.pipelines.registry import ModelUnavailable

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


def guard(fn: Callable) -> Callable:
    """Run ``fn``; turn GraphError/SpecError/LimitError/ModelUnavailable/ValueError into a
    ``gr.Error`` with the library's message (which names the field and the allowed range), and
    anything unexpected into a one-line ``gr.Error`` (the traceback goes to the server log)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except KNOWN_ERRORS as exc:
            msg = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
            raise error(msg) from None
        except Exception as exc:  # noqa: BLE001 - the UI never shows a traceback
            log.exception("unexpected error in %s", getattr(fn, "__name__", fn))
            first = (str(exc).splitlines() or [""])[0][:300]
            raise error(f"internal error ({type(exc).__name__}): {first}") from None
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
    out = []
    for t in items:
        try:
            v = int(t) if not isinstance(t, float) or t == int(t) else None
        except (TypeError, ValueError, OverflowError):
            v = None
        if v is None or isinstance(t, bool):
            raise error(f"{field}: {t!r} is not an integer; allowed integers in [{lo}, {hi}]")
        if not lo <= v <= hi:
            raise error(f"{field}: {v} is out of range; allowed [{lo}, {hi}]")
        out.append(v)
    return out


def number(field: str, value: Any, lo: float, hi: float, integer: bool = False) -> float | int:
    """A finite number in ``[lo, hi]`` from a UI value (which may be None or NaN via the API)."""
    if value is None or isinstance(value, bool):
        raise error(f"{field}: required, a number in [{lo}, {hi}]")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise error(f"{field}: {value!r} is not a number; allowed [{lo}, {hi}]") from None
    if not math.isfinite(v):
        raise error(f"{field}: {value!r} must be a finite number in [{lo}, {hi}]")
    if integer and v != int(v):
        raise error(f"{field}: {value!r} must be an integer in [{lo}, {hi}]")
    if not lo <= v <= hi:
        raise error(f"{field}: {value!r} is out of range; allowed [{lo}, {hi}]")
    return int(v) if integer else v


# --------------------------------------------------------------------------- bounded inputs


class _Named:
    """Mixin: the component's bounds check names the field (Gradio's own message does not)."""
    _field = "value"

    def preprocess(self, payload):  # type: ignore[override]
        lo, hi = self.minimum, self.maximum
        rng = f"[{lo}, {hi}]" if lo is not None or hi is not None else "a finite number"
        if payload is None or isinstance(payload, bool):
            raise error(f"{self._field}: required; allowed {rng}")
        try:
            v = float(payload)
        except (TypeError, ValueError):
            raise error(f"{self._field}: {payload!r} is not a number; allowed {rng}") from None
        if not math.isfinite(v):
            raise error(f"{self._field}: {payload!r} must be a finite number; allowed {rng}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise error(f"{self._field}: {payload!r} is out of range; allowed {rng}")
        return super().preprocess(payload)  # type: ignore[misc]

from gradio.events import Dependency

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
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component


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
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component


def steps_slider(value: int = DEFAULT_STEPS, **kw) -> FieldSlider:
    return FieldSlider(MIN_STEPS, MAX_STEPS, value=value, step=1, label="steps",
                       field="steps", **kw)


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


def verdict_rows(verdict: dict[str, Any] | None, graph: dict[str, Any] | None = None
                 ) -> list[list[str]]:
    """A verifier verdict (``Verdict.to_dict()``) as rows: one per question, one per node."""
    if not verdict:
        return [["verifier", "n/a", ""]]
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