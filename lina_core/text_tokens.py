"""The token strings of a prompt at each text position of its embedding: what the adapters
name the attention maps' text positions with, and what :mod:`.attention` reads words from.

A module of its own so that :mod:`.adapters` (which asks for the tokens) and :mod:`.attention`
(which asks the adapter which denoisers to record) do not import each other (issue 26).
"""
from __future__ import annotations

import re
from typing import Any


def prompt_tokens(tokenizer: Any, prompt: str, length: int) -> tuple[list[str], int]:
    """The token strings at each of ``length`` text positions (padding as the pipeline pads) and
    how many of them are the prompt's own (through its end token)."""
    ids = tokenizer(prompt, padding="max_length", truncation=True,
                    max_length=getattr(tokenizer, "model_max_length", length)).input_ids
    toks = list(tokenizer.convert_ids_to_tokens(ids))
    own = len(tokenizer(prompt, truncation=True,
                        max_length=getattr(tokenizer, "model_max_length", length)).input_ids)
    toks = (toks + [""] * length)[:length]
    return [re.sub(r"\s", "", t) for t in toks], min(own, length)
