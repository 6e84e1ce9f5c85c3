"""Prompt-embedding edits: the positive embedding each step of a run gets.

A spec's edits are applied in order inside their step windows, each by its kind
(:mod:`.edit_types`); an edit computed from the spec's graph (a ``donor``) is first resolved
into the edit it becomes (a ``replace`` of its caption).
"""
from __future__ import annotations

from typing import Any

import torch

from .edit_types import EDIT_KINDS, Encoder
from .interventions import InterventionSpec, PromptEdit


def memo(encode: Encoder) -> Encoder:
    """Encode each distinct list of texts once per run (edits ask for the same target per step)."""
    cache: dict[tuple[str, ...], dict[str, torch.Tensor]] = {}

    def enc(texts: list[str]) -> dict[str, torch.Tensor]:
        key = tuple(texts)
        if key not in cache:
            cache[key] = encode(list(texts))
        return cache[key]
    return enc


def resolve_donors(spec: InterventionSpec) -> tuple[list[PromptEdit], dict[int, str]]:
    """The spec's edits with each edit its kind resolves from the graph (a ``donor``: a
    ``replace`` of its caption, computed once per run), and those captions by edit index."""
    g, out, captions = None, [], {}
    for i, e in enumerate(spec.edits):
        if EDIT_KINDS[e.type].from_graph:
            if g is None:
                from .csg import CausalSceneGraph
                g = CausalSceneGraph.from_dict(spec.graph)
            e, captions[i] = EDIT_KINDS[e.type].resolve(e, g)
        out.append(e)
    return out, captions


def embeddings_per_step(pipe: Any, spec: InterventionSpec, c: torch.Tensor,
                        edits: list[PromptEdit], encode: Encoder) -> list[torch.Tensor]:
    """The positive ``prompt_embeds`` of every step (``c`` where no edit is active)."""
    out = []
    for i in range(spec.steps):
        e = c
        for ed in edits:
            if ed.start <= i < ed.end:
                e = apply_edit(pipe, ed, spec.prompt, e, encode)
        out.append(e)
    return out


def apply_edit(pipe: Any, edit: PromptEdit, prompt: str, c: torch.Tensor, encode: Encoder,
               ) -> torch.Tensor:
    """The edited ``prompt_embeds`` (batch x tokens x dim) for one edit: its kind's
    (:mod:`.edit_types`)."""
    return EDIT_KINDS[edit.type].apply(pipe, edit, prompt, c, encode)
