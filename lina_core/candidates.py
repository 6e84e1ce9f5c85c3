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

OPS = ("none", "cplus", "donor", "donor_cplus", "texture", "donor_guided", "cplus_guided",
       "schedule")
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


def guidance_for(cand: Candidate, graph: CausalSceneGraph, steps: int) -> LatentGuidance | None:
    if cand.op not in ("donor_guided", "cplus_guided"):
        return None
    target = structure_donor(graph).caption if cand.op == "donor_guided" else \
        causal_completion(graph)
    start = max(1, min(GUIDE_START, steps - 2))
    return LatentGuidance(target_prompt=target, weight=GUIDE_WEIGHT, start=start,
                          end=max(start + 1, cand.k(steps)), mask_node=mask_node(graph),
                          mask_from="run")


def edits_for(cand: Candidate, graph: CausalSceneGraph, steps: int) -> list[PromptEdit]:
    """The prompt edits that realise ``cand`` (raises ``DonorError`` where it does not apply)."""
    if cand.op not in ("cplus", "donor", "donor_cplus", "texture"):
        return []
    k = cand.k(steps)
    if cand.op == "texture":
        texture_donor(graph)            # raises DonorError where there is none
        return [PromptEdit("donor", start=k, end=steps, donor="texture")] if k < steps else []
    if cand.op == "cplus":
        return [PromptEdit("replace", start=0, end=k, target_prompt=causal_completion(graph))]
    structure_donor(graph)              # raises DonorError where there is none
    edits = [PromptEdit("donor", start=0, end=k)]
    if cand.op == "donor_cplus" and k < steps:
        edits.append(PromptEdit("replace", start=k, end=steps,
                                target_prompt=causal_completion(graph)))
    return edits


def spec_for(cand: Candidate, prompt: str, graph: CausalSceneGraph, steps: int = 25,
             seed: int = 0, guidance_scale: float = 3.0) -> InterventionSpec:
    sched = ScheduleSpec("reallocated", rho=cand.k_frac) if cand.op == "schedule" else \
        ScheduleSpec()
    spec = InterventionSpec(prompt=prompt, steps=steps, seed=seed, guidance_scale=guidance_scale,
                            edits=edits_for(cand, graph, steps),
                            latent_guidance=guidance_for(cand, graph, steps), schedule=sched,
                            graph=graph.to_dict())
    spec.validate()
    return spec


#: the candidate ops that need nothing ToyWorld-specific (its training set for donors, its
#: layout for guidance masks): the ones an open-world scene can use
OPEN_WORLD_OPS = ("none", "cplus", "schedule")


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
