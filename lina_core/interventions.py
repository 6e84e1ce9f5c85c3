"""Intervention specs: small serialisable objects, JSON in and JSON out (after pyvene).

A spec says *what* to change and *when* (a step window ``[start, end)``); :mod:`lina_core.engine`
says how, through diffusers' public API only.  Every field is validated with a message that names
it and its allowed range.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from .edit_types import EDIT_KINDS
from .limits import (MAX_GUIDANCE, MAX_PROMPT_CHARS, MAX_SEED, MAX_STEPS, MAX_STRENGTH,
                     MIN_STEPS, check_number, check_text, load_json, snippet)
from .spec_error import SpecError

SCHEMA_VERSION = 1
#: the prompt-edit kinds (:mod:`.edit_types`, one class each), by name
EDIT_TYPES = tuple(EDIT_KINDS)
DONOR_KINDS = ("structure", "texture")
SCHEDULE_KINDS = ("uniform", "reallocated")
MASK_SOURCES = ("graph", "run", "attention")


def _num(name: str, v: Any, lo: float, hi: float) -> float:
    return float(check_number(name, v, lo, hi, error=SpecError))


def _int(name: str, v: Any, lo: int, hi: int) -> int:
    return int(check_number(name, v, lo, hi, integer=True, int_type=True, error=SpecError))


def _window(name: str, start: Any, end: Any, steps: int) -> None:
    _int(f"{name}.start", start, 0, steps - 1)
    _int(f"{name}.end", end, 1, steps)
    if end <= start:
        raise SpecError(f"{name}.end: window [{start}, {end}) is empty; need 0 <= start < end <= "
                        f"{steps}")


def _str(name: str, v: Any) -> None:
    """A string of at most :data:`~lina_core.limits.MAX_PROMPT_CHARS` characters (every text
    field of a spec is a prompt, a word or a node id: a text encoder or the parser reads it)."""
    check_text(name, v, MAX_PROMPT_CHARS, error=SpecError)


@dataclass
class PromptEdit:
    """An edit of the prompt embedding, active for steps in ``[start, end)``: the record of one
    edit, its ``type`` the name of an :mod:`.edit_types` kind (replace, interpolate,
    add_direction, scale_tokens, swap_tokens, donor), which says what the other fields mean.
    ``donor`` "structure" keeps the effects' causal parents, "texture" keeps the rest; ``swaps``
    ({"node.attribute": value}) names a donor's swaps by hand, else the donor with the fewest
    swaps is used."""
    type: str
    start: int = 0
    end: int = 25
    strength: float = 1.0
    target_prompt: str = ""
    direction_from: str = ""
    direction_to: str = ""
    words: list[str] = field(default_factory=list)
    pairs: list[list[str]] = field(default_factory=list)
    donor: str = "structure"
    swaps: dict[str, str] = field(default_factory=dict)

    def validate(self, steps: int, i: int = 0) -> None:
        name = f"edits[{i}]"
        if self.type not in EDIT_TYPES:
            raise SpecError(f"{name}.type: {snippet(self.type)} is not one of "
                            f"{list(EDIT_TYPES)}")
        _window(name, self.start, self.end, steps)
        _num(f"{name}.strength", self.strength, -MAX_STRENGTH, MAX_STRENGTH)
        for f in ("target_prompt", "direction_from", "direction_to"):
            _str(f"{name}.{f}", getattr(self, f))
        if not isinstance(self.words, list) or not all(isinstance(w, str) for w in self.words):
            raise SpecError(f"{name}.words: must be a list of strings")
        check_text(f"{name}.words", " ".join(self.words), MAX_PROMPT_CHARS, error=SpecError)
        EDIT_KINDS[self.type].validate(self, name)
        if self.donor not in DONOR_KINDS:
            raise SpecError(f"{name}.donor: {snippet(self.donor)} is not one of "
                            f"{list(DONOR_KINDS)}")
        if not isinstance(self.swaps, dict) or not all(
                isinstance(k, str) and k.count(".") == 1 and isinstance(v, str)
                for k, v in self.swaps.items()):
            raise SpecError(f"{name}.swaps: must map 'node.attribute' to a value, e.g. "
                            f"{{\"obj0.shape\": \"ball\"}}")


@dataclass
class LatentGuidance:
    """Add ``weight * M * (eps(x, c_target) - eps(x, c))`` to the model output in the window.

    ``mask_node`` names a scene-graph node whose box gives a soft mask ``M`` (empty: all ones).
    ``mask_from``: ``"graph"`` takes the box as the graph lays it out; ``"run"`` first aligns the
    graph to the run's own predicted clean image at step ``start`` (where the model actually put
    the object), so the mask follows the picture; it needs ``start >= 1``.  ``"attention"``
    takes the node's cross-attention map over steps ``[0, start)`` (the tokens naming it,
    :mod:`lina_core.attention`), so it needs no layout and works on real models; ``start >= 1``.
    """
    target_prompt: str
    weight: float = 1.0
    start: int = 0
    end: int = 8
    mask_node: str = ""
    mask_softness: float = 0.08
    mask_from: str = "graph"

    def validate(self, steps: int) -> None:
        if not isinstance(self.target_prompt, str) or not self.target_prompt:
            raise SpecError("latent_guidance.target_prompt: required, a non-empty string")
        _str("latent_guidance.target_prompt", self.target_prompt)
        _str("latent_guidance.mask_node", self.mask_node)
        _num("latent_guidance.weight", self.weight, -MAX_STRENGTH, MAX_STRENGTH)
        _window("latent_guidance", self.start, self.end, steps)
        _num("latent_guidance.mask_softness", self.mask_softness, 0.0, 0.5)
        if self.mask_from not in MASK_SOURCES:
            raise SpecError(f"latent_guidance.mask_from: {snippet(self.mask_from)} is not one of "
                            f"{list(MASK_SOURCES)}")
        if self.mask_from != "graph" and not self.mask_node:
            raise SpecError(f"latent_guidance.mask_node: mask_from {self.mask_from!r} needs a "
                            f"node to mask")
        if self.mask_from != "graph" and self.start < 1:
            what = "a predicted clean image" if self.mask_from == "run" else "attention maps"
            raise SpecError(f"latent_guidance.start: {self.start} is out of range for "
                            f"mask_from {self.mask_from!r}; allowed [1, {steps - 1}] (the run "
                            f"has {what} only after its first step)")


@dataclass
class Inpaint:
    """Keep the reference latents outside the mask; regenerate the inside from step ``start``.

    ``mask_from``: ``"graph"`` masks the node's box; ``"attention"`` the node's attention in the
    reference run (mean over its steps, thresholded at mean + std, grown by one cell), which
    needs a cache recorded with ``attention=True``: no layout needed (real models).
    """
    start: int = 5
    mask_node: str = ""
    mask_from: str = "graph"

    def validate(self, steps: int) -> None:
        _int("inpaint.start", self.start, 0, steps - 1)
        if not isinstance(self.mask_node, str) or not self.mask_node:
            raise SpecError("inpaint.mask_node: name the scene-graph node to regenerate")
        _str("inpaint.mask_node", self.mask_node)
        if self.mask_from not in ("graph", "attention"):
            raise SpecError(f"inpaint.mask_from: {snippet(self.mask_from)} is not one of "
                            f"['graph', 'attention']")


#: the reallocated schedule's default share of steps at high noise (above the split): not
#: ``1 - split`` (0.4), which redraws the uniform schedule (:mod:`lina_core.schedules`)
DEFAULT_RHO = 0.6


@dataclass
class ScheduleSpec:
    kind: str = "uniform"
    rho: float = DEFAULT_RHO
    split: float = 0.6

    def validate(self) -> None:
        if self.kind not in SCHEDULE_KINDS:
            raise SpecError(f"schedule.kind: {snippet(self.kind)} is not one of "
                            f"{list(SCHEDULE_KINDS)}")
        _num("schedule.rho", self.rho, 0.0, 1.0)
        _num("schedule.split", self.split, 0.05, 0.95)


@dataclass
class InterventionSpec:
    prompt: str
    negative_prompt: str = ""
    steps: int = 25
    guidance_scale: float = 3.0
    seed: int = 0
    edits: list[PromptEdit] = field(default_factory=list)
    latent_guidance: LatentGuidance | None = None
    inpaint: Inpaint | None = None
    schedule: ScheduleSpec = field(default_factory=ScheduleSpec)
    graph: dict[str, Any] | None = None   # scene graph JSON, for mask nodes
    schema_version: int = SCHEMA_VERSION

    def validate(self) -> "InterventionSpec":
        if self.schema_version != SCHEMA_VERSION:
            raise SpecError(f"schema_version: {snippet(self.schema_version)} is not supported; "
                            f"allowed: {SCHEMA_VERSION}")
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise SpecError("prompt: required, a non-empty string")
        _str("prompt", self.prompt)
        _str("negative_prompt", self.negative_prompt)
        if not isinstance(self.edits, list) or not all(isinstance(e, PromptEdit)
                                                       for e in self.edits):
            raise SpecError("edits: must be a list of edit objects")
        for name, cls in (("latent_guidance", (LatentGuidance, type(None))),
                          ("inpaint", (Inpaint, type(None))), ("schedule", ScheduleSpec)):
            if not isinstance(getattr(self, name), cls):
                raise SpecError(f"{name}: {type(getattr(self, name)).__name__} is not a "
                                f"{name} object")
        _int("steps", self.steps, MIN_STEPS, MAX_STEPS)
        _num("guidance_scale", self.guidance_scale, 0.0, MAX_GUIDANCE)
        _int("seed", self.seed, 0, MAX_SEED)
        for i, e in enumerate(self.edits):
            e.validate(self.steps, i)
        if self.latent_guidance is not None:
            self.latent_guidance.validate(self.steps)
        if self.inpaint is not None:
            self.inpaint.validate(self.steps)
        self.schedule.validate()
        g = self._graph()
        nodes = set(g.graph) if g is not None else set()
        donors = [(i, e) for i, e in enumerate(self.edits) if e.type == "donor"]
        if donors:
            self._check_donors(donors, g)
        for name, node in (("latent_guidance.mask_node", getattr(self.latent_guidance,
                                                                 "mask_node", "")),
                           ("inpaint.mask_node", getattr(self.inpaint, "mask_node", ""))):
            if node and node not in nodes:
                raise SpecError(f"{name}: {snippet(node)} is not a node of the spec's graph; "
                                f"known: {snippet(sorted(nodes), 80)}")
        return self

    def _graph(self) -> Any:
        """The spec's graph, validated as the graph editor validates one (its fields, sizes,
        kinds, causal cycles), or None when it has none: a spec that passes runs."""
        from .csg import CausalSceneGraph, GraphError
        if self.graph is None or self.graph == {}:
            return None
        try:
            return CausalSceneGraph.from_dict(self.graph)
        except GraphError as exc:
            raise SpecError(f"graph: {exc}") from None

    def _check_donors(self, donors: list[tuple[int, "PromptEdit"]], g: Any) -> None:
        """A donor edit needs the spec's graph, and a donor that exists for it."""
        from .donors import donor_for
        from .csg import GraphError
        if g is None or not len(g.graph):
            raise SpecError(f"edits[{donors[0][0]}]: a donor edit needs the spec's graph")
        for i, e in donors:
            try:
                donor_for(g, e.donor, e.swaps)
            except GraphError as exc:
                raise SpecError(f"edits[{i}].swaps: {exc}" if e.swaps else
                                f"edits[{i}]: {exc}") from None

    def is_baseline(self) -> bool:
        return (not self.edits and self.latent_guidance is None and self.inpaint is None
                and self.schedule.kind == "uniform")

    def first_changed_step(self) -> int:
        """The first step at which this spec differs from its baseline (same seed, schedule)."""
        starts = [e.start for e in self.edits]
        if self.latent_guidance is not None:
            starts.append(self.latent_guidance.start)
        if self.inpaint is not None:
            starts.append(self.inpaint.start)
        return min(starts) if starts else self.steps

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: Any) -> "InterventionSpec":
        if not isinstance(d, dict):
            raise SpecError("spec: must be a JSON object")
        known = set(cls.__dataclass_fields__)
        extra = set(d) - known
        if extra:
            raise SpecError(f"spec: unknown field(s) {_names(extra)}; allowed {sorted(known)}")
        for name in ("latent_guidance", "inpaint", "schedule"):
            if d.get(name) is not None and not isinstance(d[name], dict):
                raise SpecError(f"{name}: must be a JSON object or null")
        if not isinstance(d.get("edits", []), list) or not all(
                isinstance(e, dict) for e in d.get("edits", [])):
            raise SpecError("edits: must be a list of JSON objects")
        nested = [(f"edits[{i}]", e, PromptEdit) for i, e in enumerate(d.get("edits", []))]
        nested += [(name, d[name], c) for name, c in (("latent_guidance", LatentGuidance),
                                                       ("inpaint", Inpaint),
                                                       ("schedule", ScheduleSpec))
                   if d.get(name) is not None]
        for name, obj, c in nested:
            extra = set(obj) - set(c.__dataclass_fields__)
            if extra:
                raise SpecError(f"{name}: unknown field(s) {_names(extra)}; allowed "
                                f"{sorted(c.__dataclass_fields__)}")
        try:
            kw = dict(d)
            kw["edits"] = [PromptEdit(**e) for e in d.get("edits", [])]
            if d.get("latent_guidance") is not None:
                kw["latent_guidance"] = LatentGuidance(**d["latent_guidance"])
            if d.get("inpaint") is not None:
                kw["inpaint"] = Inpaint(**d["inpaint"])
            kw["schedule"] = ScheduleSpec(**(d.get("schedule") or {}))
            spec = cls(**kw)
        except TypeError as exc:
            raise SpecError(f"spec: {str(exc)[:120]}") from None
        return spec.validate()

    @classmethod
    def from_json(cls, text: str | bytes) -> "InterventionSpec":
        """A validated spec from JSON text, its size and nesting checked before it is parsed
        (:func:`lina_core.limits.load_json`)."""
        return cls.from_dict(load_json(text, "spec", error=SpecError))


#: the most characters of unknown field names a message quotes (with "allowed [...]" beside
#: them the message stays under 300 characters, whatever the keys hold)
NAMES_CHARS = 90


def _names(fields: set[Any]) -> str:
    """Unknown field names for a message: the first ones, each cut short (a key is input), at
    most :data:`NAMES_CHARS` characters in all."""
    out: list[str] = []
    names = sorted(map(str, fields))
    for n in names:
        s = snippet(n, 20)
        if out and len(", ".join(out + [s])) > NAMES_CHARS:
            break
        out.append(s)
    return ", ".join(out) + (", ..." if len(out) < len(names) else "")
