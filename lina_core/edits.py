"""Prompt-embedding edits: the positive embedding each step of a run gets.

A spec's edits (``replace``, ``interpolate``, ``add_direction``, ``scale_tokens``,
``swap_tokens``, ``donor``) are applied in order inside their step windows; ``donor`` edits are
first turned into ``replace`` edits of a caption computed from the spec's graph.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

import torch

from .interventions import InterventionSpec, PromptEdit, SpecError

Encoder = Callable[[list[str]], dict[str, torch.Tensor]]


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
    """The spec's edits with each ``donor`` edit turned into a ``replace`` of its caption
    (computed once per run from the spec's graph), and those captions by edit index."""
    if not any(e.type == "donor" for e in spec.edits):
        return list(spec.edits), {}
    from .csg import CausalSceneGraph
    from .donors import donor_for
    g = CausalSceneGraph.from_dict(spec.graph)
    out, captions = [], {}
    for i, e in enumerate(spec.edits):
        if e.type == "donor":
            captions[i] = donor_for(g, e.donor, e.swaps).caption
            e = replace(e, type="replace", target_prompt=captions[i])
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


def _token_positions(pipe: Any, prompt: str, word: str) -> list[int]:
    tok = getattr(pipe, "tokenizer", None)
    if tok is None:
        raise SpecError("edits: scale_tokens/swap_tokens need a pipeline with a tokenizer")
    ids = tok(prompt).input_ids
    wids = tok(word, add_special_tokens=False).input_ids
    if not wids:
        return []
    out = []
    for p in range(len(ids) - len(wids) + 1):
        if ids[p:p + len(wids)] == wids:
            out.extend(range(p, p + len(wids)))
    return out


def apply_edit(pipe: Any, edit: PromptEdit, prompt: str, c: torch.Tensor, encode: Encoder,
               ) -> torch.Tensor:
    """The edited ``prompt_embeds`` (batch x tokens x dim) for one edit."""
    lam = edit.strength
    if edit.type == "replace":
        return encode([edit.target_prompt])["prompt_embeds"].expand_as(c).clone()
    if edit.type == "interpolate":
        t = encode([edit.target_prompt])["prompt_embeds"]
        return c + lam * (t - c)
    if edit.type == "add_direction":
        e = encode([edit.direction_from, edit.direction_to])["prompt_embeds"]
        return c + lam * (e[1:2] - e[0:1])
    if edit.type == "scale_tokens":
        return _scale_tokens(pipe, edit, prompt, c)
    if edit.type == "swap_tokens":
        return _swap_tokens(pipe, edit, prompt, c, encode)
    raise SpecError(f"edits.type: {edit.type!r}")


def _scale_tokens(pipe: Any, edit: PromptEdit, prompt: str, c: torch.Tensor) -> torch.Tensor:
    out = c.clone()
    for w in edit.words:
        pos = _token_positions(pipe, prompt, w)
        if not pos:
            raise SpecError(f"edits.words: {w!r} does not occur in the prompt {prompt!r}")
        out[:, pos] = out[:, pos] * edit.strength
    return out


def _swap_tokens(pipe: Any, edit: PromptEdit, prompt: str, c: torch.Tensor, encode: Encoder,
                 ) -> torch.Tensor:
    out = c.clone()
    t = encode([edit.target_prompt])["prompt_embeds"]
    for src, dst in edit.pairs:
        ps = _token_positions(pipe, prompt, src)
        pt = _token_positions(pipe, edit.target_prompt, dst)
        if not ps or len(ps) != len(pt):
            raise SpecError(f"edits.pairs: {src!r} in the prompt and {dst!r} in the target "
                            f"must both occur with the same number of tokens")
        out[:, ps] = t[:, pt].to(out.dtype)
    return out
