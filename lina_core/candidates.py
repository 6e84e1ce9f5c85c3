"""The intervention family LINA chooses from: named, serialisable, each a plain spec.

Every candidate is one :class:`InterventionSpec` built from the prompt and its scene graph:

* ``none``: the baseline;
* ``cplus_*``: prompt-space guidance toward the causal completion ``c+`` for a window ``[0, k)``
  (``cplus_all`` for every step: the explicit caption);
* ``donor_*``: the structure donor (:mod:`lina_core.donors`) for ``[0, k)``, then the user's
  prompt; ``donor_cplus`` hands over to ``c+`` instead;
* ``texture_*``: the user's prompt for the structure window ``[0, k)``, then the texture donor
  (the same shape and colour with the causal parents swapped for familiar values) for the rest,
  so the model draws a shape it never saw in this combination;
* ``*_guided``: latent guidance toward the donor or ``c+`` in ``[GUIDE_START, k)``, masked to the
  implicit effect's region as the run itself drew it (the graph aligned to the predicted clean
  image at ``GUIDE_START``), so the rest of the picture keeps the user's prompt;
* ``schedule``: the reallocated schedule alone (a share ``rho`` of the steps at high noise).

A candidate that does not apply to a graph (a donor for a scene with no implicit effect or a
familiar combination) raises :class:`~lina_core.donors.DonorError`; :func:`available` lists the
ones that apply.  Windows are fractions of the step count so a choice transfers across steps.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .csg import CausalSceneGraph, to_prompt
from .donors import DonorError, structure_donor, texture_donor
from .interventions import InterventionSpec, LatentGuidance, PromptEdit, ScheduleSpec, SpecError

GUIDE_START = 3          #: the step whose predicted clean image places the guidance mask
GUIDE_WEIGHT = 2.0


@dataclass(frozen=True)
class Candidate:
    name: str
    op: str
    k_frac: float = 0.0

    def __post_init__(self):
        # a misspelt op would otherwise build no edit, no guidance and no schedule: the
        # baseline, run silently under another name
        if self.op not in OPS:
            raise SpecError(f"candidate {self.name!r}: op {self.op!r} is not one of {list(OPS)}")
        if not 0.0 <= self.k_frac <= 1.0:
            raise SpecError(f"candidate {self.name!r}: k_frac {self.k_frac} is not in [0, 1]")

    def k(self, steps: int) -> int:
        return max(1, min(steps, int(round(self.k_frac * steps))))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def causal_completion(graph: CausalSceneGraph) -> str:
    """``c+``: the prompt with every implicit effect stated."""
    return to_prompt(graph, explicit=True)


def mask_node(graph: CausalSceneGraph) -> str:
    """The implicit effect whose region guided candidates mask (the first one with a box)."""
    boxed = [n for n in graph.implicit_nodes() if graph.node(n)["box"] is not None]
    if not boxed:
        raise DonorError("graph: guided candidates need an implicit effect with a box; this "
                         f"{graph.category} scene has none")
    return boxed[0]


# ---------------------------------------------------------------------- the ops


class Op:
    """One kind of candidate, everything it means in one class (after pyvene's interventions):
    the prompt edits and latent guidance it adds to a spec, its schedule, whether it needs
    ToyWorld (a donor or a layout mask) or applies to any scene, the step its try is checked at
    by the loop, and what the UI says about it.  A candidate names its op; :data:`OPS` is the
    table, so a new kind of candidate is one subclass here."""

    name = ""
    #: needs nothing ToyWorld-specific (the training set's donors, a layout mask)
    open_world = False
    #: the donor it draws ("structure", "texture") or None
    donor: str | None = None
    #: what its window of steps does, as the UI says it after "steps [s0, s1)", and when the
    #: window is every step
    window_says = ""
    window_says_throughout = ""

    def edits(self, cand: "Candidate", graph: CausalSceneGraph, steps: int) -> list[PromptEdit]:
        """The prompt edits that realise ``cand`` (raises ``DonorError`` where it does not
        apply)."""
        return []

    def guidance(self, cand: "Candidate", graph: CausalSceneGraph, steps: int
                 ) -> LatentGuidance | None:
        return None

    def schedule(self, cand: "Candidate") -> ScheduleSpec:
        return ScheduleSpec()

    def checked_at(self, cand: "Candidate", steps: int, check_step: int) -> int:
        """The step whose preview the loop's check reads for a try of ``cand``: the check step,
        unless the try shows another scene than the user's there (see the donor ops)."""
        return check_step

    def explain(self, cand: "Candidate", graph: CausalSceneGraph, steps: int) -> dict[str, Any]:
        """The human-readable part of a choice: the donor, the window, the mask node."""
        return {"op": self.name}

    def in_words(self, explained: dict[str, Any], window: str) -> str | None:
        """The intervention in a few plain words, from its :meth:`explain` dict (``window``:
        " for steps a-b" or ""); None where the dict lacks what the words need."""
        return None

    def says_for(self, window: list[int], steps: int | None) -> str:
        """What the window ``[s0, s1)`` does, for the UI."""
        if steps and window[1] >= steps and self.window_says_throughout:
            return self.window_says_throughout
        return self.window_says


OPS: dict[str, Op] = {}


def op(cls: type[Op]) -> type[Op]:
    """Register an :class:`Op` subclass under its ``name``."""
    OPS[cls.name] = cls()
    return cls


@op
class NoneOp(Op):
    """The baseline: nothing changed."""
    name, open_world = "none", True

    def in_words(self, explained, window):
        return "no intervention"


@op
class CPlus(Op):
    """The causal completion ``c+`` (every implicit effect stated) for the window [0, k)."""
    name, open_world = "cplus", True
    window_says = ": conditioned on c+, then on the prompt"
    window_says_throughout = ": conditioned on c+ throughout"

    def in_words(self, explained, window):
        c = explained.get("causal_completion")
        return f"the causal completion c+ (_{c}_{window})" if c else None

    def edits(self, cand, graph, steps):
        return [PromptEdit("replace", start=0, end=cand.k(steps),
                           target_prompt=causal_completion(graph))]

    def explain(self, cand, graph, steps):
        return {"op": self.name, "causal_completion": causal_completion(graph),
                "window": [0, cand.k(steps)]}


class _Structure(Op):
    """A structure donor's window [0, k) draws the donor's scene, so its try is checked when
    the run is back on the user's prompt (step k)."""
    donor = "structure"

    def checked_at(self, cand, steps, check_step):
        return min(steps - 1, max(check_step, cand.k(steps)))


@op
class Donor(_Structure):
    """The structure donor for [0, k), then the user's prompt."""
    name = "donor"
    window_says = ": conditioned on the donor, then on the prompt"
    window_says_throughout = ": conditioned on the donor throughout"

    def in_words(self, explained, window):
        d = (explained.get("donor") or {}).get("caption")
        return f"a structure donor (the model first draws _{d}_{window})" if d else None

    def edits(self, cand, graph, steps):
        structure_donor(graph)              # raises DonorError where there is none
        return [PromptEdit("donor", start=0, end=cand.k(steps))]

    def explain(self, cand, graph, steps):
        return {"op": self.name, "donor": structure_donor(graph).to_dict(),
                "window": [0, cand.k(steps)]}


@op
class DonorCPlus(Donor):
    """The structure donor for [0, k), then ``c+`` instead of the user's prompt."""
    name = "donor_cplus"
    window_says, window_says_throughout = ": conditioned on the donor, then on c+", ""

    def edits(self, cand, graph, steps):
        k = cand.k(steps)
        out = super().edits(cand, graph, steps)
        if k < steps:
            out.append(PromptEdit("replace", start=k, end=steps,
                                  target_prompt=causal_completion(graph)))
        return out

    def explain(self, cand, graph, steps):
        return {**super().explain(cand, graph, steps),
                "causal_completion": causal_completion(graph)}


@op
class Texture(Op):
    """The user's prompt for the structure window [0, k), then the texture donor; it changes
    what the picture shows to the end, so its try is checked on the last preview."""
    name, donor = "texture", "texture"
    window_says = ": the prompt first, the texture donor in this window"

    def in_words(self, explained, window):
        d = (explained.get("donor") or {}).get("caption")
        return f"a texture donor (_{d}_{window})" if d else None

    def edits(self, cand, graph, steps):
        k = cand.k(steps)
        texture_donor(graph)                # raises DonorError where there is none
        return [PromptEdit("donor", start=k, end=steps, donor="texture")] if k < steps else []

    def checked_at(self, cand, steps, check_step):
        return steps - 1

    def explain(self, cand, graph, steps):
        return {"op": self.name, "donor": texture_donor(graph).to_dict(),
                "window": [cand.k(steps), steps]}


class _Guided(_Structure):
    """Latent guidance toward a target caption in [GUIDE_START, k), masked to the implicit
    effect's region as the run drew it."""

    def target(self, graph: CausalSceneGraph) -> str:
        raise NotImplementedError

    def guidance(self, cand, graph, steps):
        start = max(1, min(GUIDE_START, steps - 2))
        return LatentGuidance(target_prompt=self.target(graph), weight=GUIDE_WEIGHT,
                              start=start, end=max(start + 1, cand.k(steps)),
                              mask_node=mask_node(graph), mask_from="run")

    def explain(self, cand, graph, steps):
        g = self.guidance(cand, graph, steps)
        return {"op": self.name, "window": [g.start, g.end], "mask_node": g.mask_node}


@op
class DonorGuided(_Guided):
    name = "donor_guided"
    window_says = ": latent guidance toward the donor, in the masked region"

    def target(self, graph):
        return structure_donor(graph).caption

    def explain(self, cand, graph, steps):
        return {**super().explain(cand, graph, steps),
                "donor": structure_donor(graph).to_dict()}


@op
class CPlusGuided(_Guided):
    name, donor = "cplus_guided", None
    window_says = ": latent guidance toward c+, in the masked region"
    in_words = CPlus.in_words

    def target(self, graph):
        return causal_completion(graph)

    def explain(self, cand, graph, steps):
        return {**super().explain(cand, graph, steps),
                "causal_completion": causal_completion(graph)}


@op
class Schedule(Op):
    """The reallocated schedule alone: a share ``rho`` (the candidate's k_frac) of the steps at
    high noise."""
    name, open_world = "schedule", True

    def in_words(self, explained, window):
        return "the reallocated schedule (more steps at high noise)"

    def schedule(self, cand):
        return ScheduleSpec("reallocated", rho=cand.k_frac)

    def explain(self, cand, graph, steps):
        return {"op": self.name, "rho": cand.k_frac}


def spec_for(cand: Candidate, prompt: str, graph: CausalSceneGraph, steps: int = 25,
             seed: int = 0, guidance_scale: float = 3.0) -> InterventionSpec:
    o = OPS[cand.op]     # raises DonorError where the candidate does not apply to the graph
    spec = InterventionSpec(prompt=prompt, steps=steps, seed=seed, guidance_scale=guidance_scale,
                            edits=o.edits(cand, graph, steps),
                            latent_guidance=o.guidance(cand, graph, steps),
                            schedule=o.schedule(cand), graph=graph.to_dict())
    spec.validate()
    return spec


#: the candidate ops that need nothing ToyWorld-specific (its training set for donors, its
#: layout for guidance masks): the ones an open-world scene can use
OPEN_WORLD_OPS = tuple(name for name, o in OPS.items() if o.open_world)


FAMILY: tuple[Candidate, ...] = (
    Candidate("none", "none"),
    Candidate("cplus_half", "cplus", 0.5),
    Candidate("cplus_all", "cplus", 1.0),
    Candidate("donor_k6", "donor", 0.24),
    Candidate("donor_k10", "donor", 0.4),
    Candidate("donor_k14", "donor", 0.56),
    Candidate("donor_cplus_k10", "donor_cplus", 0.4),
    Candidate("texture_k14", "texture", 0.56),
    Candidate("donor_guided_k12", "donor_guided", 0.48),
    Candidate("cplus_guided_k12", "cplus_guided", 0.48),
    Candidate("schedule", "schedule", 0.6),
)
BY_NAME: dict[str, Candidate] = {c.name: c for c in FAMILY}


def get(name: str) -> Candidate:
    if name not in BY_NAME:
        raise SpecError(f"candidate: {name!r} is not one of {list(BY_NAME)}")
    return BY_NAME[name]


def is_toyworld(graph: CausalSceneGraph | None) -> bool:
    """A graph of a ToyWorld category (donors, masks, the predictor and the verifier apply)."""
    return graph is not None and graph.is_toyworld


def available(graph: CausalSceneGraph, family: tuple[Candidate, ...] = FAMILY
              ) -> list[Candidate]:
    """The candidates of ``family`` that apply to ``graph`` (on an open-world graph, those of
    :data:`OPEN_WORLD_OPS`)."""
    if not is_toyworld(graph):
        return [c for c in family if c.op in OPEN_WORLD_OPS]
    out = []
    for c in family:
        try:
            spec_for(c, "-", graph)
        except DonorError:
            continue
        out.append(c)
    return out
