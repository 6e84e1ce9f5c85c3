"""Rates and their intervals, shared by the evaluation, the probes, the benchmark and the
verifier's own measurement."""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np


def wilson(k: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for k successes in n trials ((0, 1) when n is 0)."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def rate(values: Iterable[bool]) -> dict[str, Any]:
    """Share of True with its count and Wilson interval."""
    v = [bool(x) for x in values]
    k, n = sum(v), len(v)
    lo, hi = wilson(k, n)
    return {"acc": k / n if n else float("nan"), "n": n, "lo": lo, "hi": hi}


def rounded(r: dict[str, Any]) -> dict[str, Any]:
    """A :func:`rate` as the measurements' JSON keeps it: rounded to 4 places, ``acc`` None when
    ``n`` is 0 (JSON has no NaN)."""
    return {"acc": round(r["acc"], 4) if r["n"] else None, "n": r["n"],
            "lo": round(r["lo"], 4), "hi": round(r["hi"], 4)}


def pct(p: dict[str, Any], digits: int = 1) -> str:
    """A rounded rate as "acc [lo, hi]" in percent ("-" when nothing was counted)."""
    return "-" if p["acc"] is None else \
        f"{100 * p['acc']:.{digits}f} [{100 * p['lo']:.{digits}f}, {100 * p['hi']:.{digits}f}]"


def bootstrap(values: list[float], n: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean."""
    if not values:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    v = np.asarray(values, dtype=np.float64)
    means = v[rng.integers(0, len(v), (n, len(v)))].mean(1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))
