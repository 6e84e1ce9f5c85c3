"""Named limits, checked before any model work; every message names the field and its range."""
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


def check_int(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            (isinstance(value, float) and (not math.isfinite(value) or value != int(value))):
        raise LimitError(f"{name}: {value!r} must be an integer in [{lo}, {hi}]")
    value = int(value)
    if not lo <= value <= hi:
        raise LimitError(f"{name}: {value} is out of range; allowed [{lo}, {hi}]")
    return value


def check_float(name: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(float(value)):
        raise LimitError(f"{name}: {value!r} must be a finite number in [{lo}, {hi}]")
    value = float(value)
    if not lo <= value <= hi:
        raise LimitError(f"{name}: {value} is out of range; allowed [{lo}, {hi}]")
    return value
