"""The kinds of prompt-embedding edit, one class each (after pyvene's intervention types): what
the edit needs (:meth:`EditType.validate`), what it does to the embedding
(:meth:`EditType.apply`) and how the app describes it (:attr:`EditType.summary`).

A :class:`~lina_core.interventions.PromptEdit` is the serialisable record (its ``type`` names one
of :data:`EDIT_KINDS`); its validation and :mod:`lina_core.edits` ask the kind.  A new kind of
edit is one class here, registered with :func:`edit_type`: the spec's validation, the engine, the
Intervene tab's dropdown and its explanation pick it up by name.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

import torch

from .spec_error import SpecError

Encoder = Callable[[list[str]], dict[str, torch.Tensor]]


class EditType:
    """One kind of prompt edit; ``edit`` below is a ``PromptEdit`` of this kind."""

    name: str = ""
    #: one line for the UI: what the edit does to the prompt's embedding
    summary: str = ""
    #: computed from the spec's scene graph before the run (:meth:`resolve`); the spec then
    #: needs a graph
    from_graph: bool = False

    def validate(self, edit: Any, field: str) -> None:
        """What this kind needs beyond the common fields (``field``: ``edits[i]``)."""

    def resolve(self, edit: Any, graph: Any) -> tuple[Any, str]:
        """A :attr:`from_graph` edit's form for the run: the edit it becomes and the caption
        it uses."""
        raise NotImplementedError(self.name)

    def apply(self, pipe: Any, edit: Any, prompt: str, c: torch.Tensor, encode: Encoder
              ) -> torch.Tensor:
        """The edited ``prompt_embeds`` (batch x tokens x dim) for one step."""
        raise NotImplementedError(self.name)


EDIT_KINDS: dict[str, EditType] = {}


def edit_type(cls: type[EditType]) -> type[EditType]:
    """Class decorator: register the kind under its ``name``."""
    EDIT_KINDS[cls.name] = cls()
    return cls


def _needs_target(edit: Any, field: str, kind: str) -> None:
    if not edit.target_prompt:
        raise SpecError(f"{field}.target_prompt: required for {kind}")


def token_positions(pipe: Any, prompt: str, word: str) -> list[int]:
    """The token positions of ``word`` in ``prompt`` (every occurrence)."""
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


@edit_type
class Replace(EditType):
    name = "replace"
    summary = "use the target prompt's embedding in the window"

    def validate(self, edit: Any, field: str) -> None:
        _needs_target(edit, field, self.name)

    def apply(self, pipe, edit, prompt, c, encode):
        return encode([edit.target_prompt])["prompt_embeds"].expand_as(c).clone()


@edit_type
class Interpolate(EditType):
    name = "interpolate"
    summary = "c + strength x (c_target - c): part way to the target prompt"

    def validate(self, edit: Any, field: str) -> None:
        _needs_target(edit, field, self.name)

    def apply(self, pipe, edit, prompt, c, encode):
        t = encode([edit.target_prompt])["prompt_embeds"]
        return c + edit.strength * (t - c)


@edit_type
class AddDirection(EditType):
    name = "add_direction"
    summary = "c + strength x (e(to) - e(from)): a concept direction"

    def validate(self, edit: Any, field: str) -> None:
        if not (edit.direction_from or edit.direction_to):
            raise SpecError(f"{field}.direction_from/direction_to: required for add_direction")

    def apply(self, pipe, edit, prompt, c, encode):
        e = encode([edit.direction_from, edit.direction_to])["prompt_embeds"]
        return c + edit.strength * (e[1:2] - e[0:1])


@edit_type
class ScaleTokens(EditType):
    name = "scale_tokens"
    summary = "the listed words' tokens times strength"

    def validate(self, edit: Any, field: str) -> None:
        if not edit.words:
            raise SpecError(f"{field}.words: list the words whose tokens to scale")

    def apply(self, pipe, edit, prompt, c, encode):
        out = c.clone()
        for w in edit.words:
            pos = token_positions(pipe, prompt, w)
            if not pos:
                raise SpecError(f"edits.words: {w!r} does not occur in the prompt {prompt!r}")
            out[:, pos] = out[:, pos] * edit.strength
        return out


@edit_type
class SwapTokens(EditType):
    name = "swap_tokens"
    summary = "each pair's first word takes the target prompt's second word"

    def validate(self, edit: Any, field: str) -> None:
        _needs_target(edit, field, self.name)
        if not edit.pairs or any(not isinstance(p, (list, tuple)) or len(p) != 2
                                 for p in edit.pairs):
            raise SpecError(f"{field}.pairs: a list of [source_word, target_word] pairs")

    def apply(self, pipe, edit, prompt, c, encode):
        out = c.clone()
        t = encode([edit.target_prompt])["prompt_embeds"]
        for src, dst in edit.pairs:
            ps = token_positions(pipe, prompt, src)
            pt = token_positions(pipe, edit.target_prompt, dst)
            if not ps or len(ps) != len(pt):
                raise SpecError(f"edits.pairs: {src!r} in the prompt and {dst!r} in the target "
                                f"must both occur with the same number of tokens")
            out[:, ps] = t[:, pt].to(out.dtype)
        return out


@edit_type
class Donor(EditType):
    name, from_graph = "donor", True
    summary = "a donor caption from the scene graph (structure: the effects' causes kept)"

    def resolve(self, edit: Any, graph: Any) -> tuple[Any, str]:
        """A ``replace`` of the donor caption (:func:`lina_core.donors.donor_for`): the swaps
        named by hand, else the donor with the fewest swaps."""
        from .donors import donor_for
        caption = donor_for(graph, edit.donor, edit.swaps).caption
        return replace(edit, type="replace", target_prompt=caption), caption
