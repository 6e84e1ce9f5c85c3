"""Named limits, checked before any model work; every message names the field and its range.

:func:`check_number` is the project's one check of a number against a range: the library's specs
(:mod:`lina_core.interventions`), the CLI, the pipelines and the app's widgets all call it, each
with its own error type.  The sizes of what people type or upload are bounded the same way,
*before* any parsing: :func:`check_text` (a prompt), :func:`check_count` (a graph's nodes and
edges) and :func:`load_json` / :func:`read_json_file` (a graph or spec JSON: its bytes and its
nesting depth).  A refusal quotes at most :data:`SNIPPET_CHARS` characters of the input
(:func:`snippet`), so a 100 kB paste is never echoed back.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

MAX_STEPS = 100
MIN_STEPS = 2
MAX_RESOLUTION = 1024
MAX_BATCH = 16
MAX_FRAMES = 32
MAX_GUIDANCE = 30.0
MAX_STRENGTH = 10.0
MAX_SEED = 2**32 - 1
#: a prompt's characters: far above any real diffusion prompt (CLIP reads 77 tokens, about 300
#: characters), low enough that the parser and the graph figure stay instant
MAX_PROMPT_CHARS = 2_000
#: a scene graph's nodes and edges: the project's biggest real scenes have under 20 nodes
MAX_GRAPH_NODES = 64
MAX_GRAPH_EDGES = 256
#: a graph or spec JSON: a spec with a full graph is a few kB
MAX_JSON_BYTES = 256 * 1024
#: JSON nesting: a spec holding a graph is 6 deep; json.loads recurses, so bound it first
MAX_JSON_DEPTH = 32
#: the most characters of user input an error message quotes
SNIPPET_CHARS = 40


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
        raise error(f"{field}: {snippet(value)} must be {what} in [{lo}, {hi}]")
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise error(f"{field}: {snippet(value)} is not a number; allowed {what} in "
                    f"[{lo}, {hi}]") from None
    if not math.isfinite(v):
        raise error(f"{field}: {snippet(value)} must be a finite number in [{lo}, {hi}]")
    if integer and (v != int(v) or (int_type and not isinstance(value, int))):
        raise error(f"{field}: {snippet(value)} must be an integer in [{lo}, {hi}]")
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


# --------------------------------------------------------------------------- sizes of input


def snippet(value: Any, n: int = SNIPPET_CHARS) -> str:
    """``repr(value)`` cut to about ``n`` characters, saying how long it was: what an error
    message may quote of user input (a refusal of a 100 kB paste must not be 100 kB)."""
    if isinstance(value, str):
        # cut the quoted text, not the value: escapes (control or astral characters) make
        # repr many times longer than the string
        text = repr(value)
        return text if len(text) <= n + 2 else f"{text[:n]}... ({len(value)} characters)"
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - deeply nested or odd values
        return f"<{type(value).__name__}>"
    return text if len(text) <= n else f"{text[:n]}... ({type(value).__name__})"


def check_count(field: str, size: int, limit: int, unit: str, *,
                error: type[Exception] = LimitError) -> int:
    """``size`` (of ``unit``: characters, nodes, bytes) if at most ``limit``; else ``error``
    naming the field, the size and the limit."""
    if size > limit:
        raise error(f"{field}: {size} {unit}; the limit is {limit} {unit}")
    return size


def check_text(field: str, text: Any, limit: int = MAX_PROMPT_CHARS, *,
               error: type[Exception] = LimitError) -> str:
    """``text`` if it is a string of at most ``limit`` characters (a prompt: checked before
    the parser or a text encoder sees it)."""
    if not isinstance(text, str):
        raise error(f"{field}: {snippet(text)} must be a string")
    check_count(field, len(text), limit, "characters", error=error)
    return text


#: a JSON string token (what the depth scan skips: brackets inside strings do not nest)
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKETS = re.compile(r"[\[\]{}]")


def json_depth(text: str, stop_above: int = MAX_JSON_DEPTH) -> int:
    """How deep ``text``'s arrays and objects nest, counted without recursion (``json.loads``
    recurses, so 5,000 nested brackets would raise RecursionError); the count stops once it
    passes ``stop_above``.  Brackets inside strings do not count."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub('""', text)):
        depth += 1 if bracket in "[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > stop_above:
                break
    return deepest


def load_json(text: str | bytes, field: str = "JSON", *, error: type[Exception] = LimitError,
              max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """User JSON (a graph, a spec) parsed after its size and nesting are checked, so neither a
    31 MB upload nor 5,000 nested brackets reach ``json.loads``; every failure is ``error``
    naming ``field``, never a RecursionError."""
    if not isinstance(text, (str, bytes, bytearray)):
        raise error(f"{field}: {snippet(text)} must be JSON text")
    if len(text) > max_bytes:   # a str has at most as many characters as UTF-8 bytes
        check_count(field, len(text), max_bytes, "bytes", error=error)
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(f"{field}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    check_count(field, len(text.encode("utf-8", "surrogatepass")), max_bytes, "bytes",
                error=error)
    depth = json_depth(text, max_depth)
    if depth > max_depth:
        raise error(f"{field}: nested more than {max_depth} levels deep; the limit is "
                    f"{max_depth} levels")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError and over-long integers
        raise error(f"{field}: not valid JSON ({str(exc)[:120]})") from None


def read_json_file(path: str | Path, field: str, *, error: type[Exception] = LimitError) -> Any:
    """A JSON file (a CLI argument) through :func:`load_json`, its size checked before it is
    read."""
    size = Path(path).stat().st_size
    check_count(field, size, MAX_JSON_BYTES, "bytes", error=error)
    return load_json(Path(path).read_bytes(), field, error=error)
