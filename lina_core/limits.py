"""Named limits, checked before any model work; every message names the field and its range.

:func:`check_number` is the project's one check of a number against a range: the library's specs
(:mod:`lina_core.interventions`), the CLI, the pipelines and the app's widgets all call it, each
with its own error type.
"""
from __future__ import annotations

import math
from typing import Any

MAX_STEPS = 100
MIN_STEPS = 2
MAX_RESOLUTION = 1024
MAX_BATCH = 16
MAX_FRAMES = 32
MAX_GUIDANCE = 30.0
MAX_STRENGTH = 10.0
MAX_SEED = 2**32 - 1


class LimitError(ValueError):
    """A user-supplied value outside its allowed range."""


def check_number(field: str, value: Any, lo: float, hi: float, integer: bool = False, *,
                 strings: bool = False, int_type: bool = False,
                 error: type[Exception] = LimitError) -> float | int:
    """``value`` as a finite number in ``[lo, hi]`` (an ``int`` when ``integer``), else
    ``error`` with a message naming ``field`` and the allowed range.

    NaN, infinities, booleans and None are refused. ``strings``: a UI value, where "3" or "NaN"
    may arrive as text; ``int_type``: an integer must be an ``int`` (a JSON spec's 3.0 is not
    one), else any integral number is.
    """
    what = "an integer" if integer else "a finite number"
    if value is None:
        raise error(f"{field}: required, {'an integer' if integer else 'a number'} in "
                    f"[{lo}, {hi}]")
    if isinstance(value, bool) or not isinstance(value, (int, float, str) if strings
                                                 else (int, float)):
        raise error(f"{field}: {value!r} must be {what} in [{lo}, {hi}]")
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise error(f"{field}: {value!r} is not a number; allowed {what} in [{lo}, {hi}]"
                    ) from None
    if not math.isfinite(v):
        raise error(f"{field}: {value!r} must be a finite number in [{lo}, {hi}]")
    if integer and (v != int(v) or (int_type and not isinstance(value, int))):
        raise error(f"{field}: {value!r} must be an integer in [{lo}, {hi}]")
    out: float | int = int(value) if integer and isinstance(value, int) else \
        (int(v) if integer else v)
    if not lo <= out <= hi:
        raise error(f"{field}: {out} is out of range; allowed [{lo}, {hi}]")
    return out


def check_int(name: str, value: Any, lo: int, hi: int) -> int:
    """An integer in ``[lo, hi]`` (an integral float is one); :class:`LimitError` otherwise."""
    return int(check_number(name, value, lo, hi, integer=True))


def check_float(name: str, value: Any, lo: float, hi: float) -> float:
    """A finite number in ``[lo, hi]``; :class:`LimitError` otherwise."""
    return float(check_number(name, value, lo, hi))
