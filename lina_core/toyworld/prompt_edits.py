"""Edits of a ToyWorld caption's words, for the switch probe's counterfactual prompts
(:mod:`lina_core.insights.switching`): another colour, another shape.  Each category writes its own
counterfactual prompt (:meth:`.categories.Category.switched`) with these; a building block, it
imports no category.
"""
from __future__ import annotations

import re
from typing import Iterable

import numpy as np

from ..csg.vocabulary import COLOURS, SHAPES


def words_pattern(vocab: Iterable[str]) -> str:
    """A regex alternation of ``vocab``, longest first (so no word matches inside another)."""
    return "|".join(sorted(vocab, key=len, reverse=True))


def other_word(options: Iterable[str], exclude: Iterable[str], rng: np.random.Generator) -> str:
    """One of ``options`` not in ``exclude`` (sorted, so the draw is the same on every run)."""
    opts = sorted(set(options) - set(exclude))
    return opts[int(rng.integers(len(opts)))]


def recolour(p: str, rng: np.random.Generator) -> str:
    """The first colour word replaced by a colour the prompt does not use."""
    used = re.findall(rf"\b({words_pattern(COLOURS)})\b", p)
    return re.sub(rf"\b{used[0]}\b", other_word(COLOURS, used, rng), p, count=1)


def reshape(p: str, rng: np.random.Generator) -> str:
    """The first shape word replaced by another shape."""
    m = re.search(rf"\b({words_pattern(SHAPES)})\b", p)
    return p[:m.start()] + other_word(SHAPES, [m.group(1)], rng) + p[m.end():]
