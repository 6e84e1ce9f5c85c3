"""LINA's check on any model: the scene graph's edges tested on the run's own cross-attention.

On a ToyWorld scene LINA's loop reads the run's preview with a learned check
(:mod:`lina_core.check`), trained on runs the exact verifier labelled.  A real model (SD, SDXL,
SD3, FLUX, Wan, CogVideoX) has no such verifier, so nothing can be learned for it here; what
every such run does have is its cross-attention.  Each node named by a word of the prompt gets a
mask (:func:`attention.node_masks`, the mean map of its words over the steps up to the check
step), and the graph's edges become tests on those masks:

- spatial edges: ``on`` and ``above`` (the source's centre higher than the target's), ``in``
  (most of the source's mask inside the target's), ``left of``, ``right of``, ``next to``,
  ``far from`` (centres near or apart);
- causal edges, where the effect has a word of its own: ``reflects`` (the reflection inside
  the mirror's region), ``casts`` (the shadow on the far side of the object from the light, or
  on the side the graph says), ``displaces`` (the floating object above the water's centre);
- texture: two stated things are not drawn in one place (their masks overlap less than half).

P(physics right) and P(texture right) are the shares of those tests passed; the loop treats a
run as right only when every test passes.  A node no word names (an implicit effect: the
prompt leaves it unsaid) has no attention, so nothing tests it: the check's reading of each
test, and of what it could not test, is kept in the run's record.

**Accuracy on real weights is not measured here** (no GPU, no real weights in this project's
tests): the tests pin the mechanics on tiny random-weight pipelines of every family.  The UI says
so wherever this check speaks.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import attention as A

#: said wherever this check's verdict is shown
NOT_MEASURED = ("attention check: the graph's edges tested on the run's own cross-attention; "
                "its accuracy on real weights is not measured")


@dataclass(frozen=True)
class EdgeTest:
    """One test of the graph on the attention masks: its name, its kind (physics or texture),
    whether it passed, and the figure it read."""
    name: str
    kind: str
    passed: bool
    value: float

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "passed": self.passed,
                "value": round(float(self.value), 3)}


def centre(m: np.ndarray) -> np.ndarray:
    """The mask's centre of mass as (x, y) in [0, 1] of the latent grid."""
    h, w = m.shape
    total = float(m.sum()) or 1.0
    ys, xs = np.mgrid[0:h, 0:w]
    return np.array([(xs * m).sum() / total / max(w - 1, 1),
                     (ys * m).sum() / total / max(h - 1, 1)])


def inside(a: np.ndarray, b: np.ndarray) -> float:
    """The share of ``a``'s thresholded mask that lies in ``b``'s."""
    ma, mb = A.threshold(a), A.threshold(b)
    return float((ma & mb).sum() / max(ma.sum(), 1))


def _spatial(rel: str, a: np.ndarray, b: np.ndarray) -> tuple[bool, float] | None:
    """A spatial relation of ``a`` to ``b`` read on their masks (None: not testable)."""
    ca, cb = centre(a), centre(b)
    if rel in ("on", "above"):
        return bool(ca[1] < cb[1]), float(cb[1] - ca[1])
    if rel == "in":
        s = inside(a, b)
        return s >= 0.5, s
    if rel == "left of":
        return bool(ca[0] < cb[0]), float(cb[0] - ca[0])
    if rel == "right of":
        return bool(ca[0] > cb[0]), float(ca[0] - cb[0])
    d = float(np.linalg.norm(ca - cb))
    if rel == "next to":
        return d < 0.5, d
    if rel == "far from":
        return d >= 0.3, d
    return None


def _causal(g: Any, effect: str, masks: dict[str, np.ndarray]) -> tuple[bool, float] | None:
    """An effect's placement read on the masks, when the effect has a word (None: not)."""
    attrs = g.graph.nodes[effect].get("attrs", {})
    kind = attrs.get("type")
    causes = [u for u, _ in g.graph.in_edges(effect) if u in masks]
    if kind == "reflection" and effect in masks:
        surf = [u for u in causes if "mirror" in str(g.graph.nodes[u].get("attrs", {}))]
        if surf:
            s = inside(masks[effect], masks[surf[0]])
            return s >= 0.5, s
    if kind == "shadow" and effect in masks:
        light = attrs.get("away_from")
        objs = [u for u in causes if u != light]
        if objs:
            co, cs = centre(masks[objs[0]]), centre(masks[effect])
            if light in masks:
                dot = float(np.dot(cs - co, centre(masks[light]) - co))
                return dot < 0, -dot
            if attrs.get("side") == "below":
                return bool(cs[1] > co[1]), float(cs[1] - co[1])
    if kind in ("floating", "floats"):
        water = [u for u in causes if "water" in str(g.graph.nodes[u].get("attrs", {}))]
        objs = [u for u in causes if u not in water]
        if water and objs:
            co, cw = centre(masks[objs[0]]), centre(masks[water[0]])
            return bool(co[1] < cw[1]), float(cw[1] - co[1])
    return None


def edge_tests(graph: Any, masks: dict[str, np.ndarray]) -> tuple[list[EdgeTest], list[str]]:
    """Every test the graph's edges allow on ``masks`` ({node: h x w}), and the nodes no test
    could read (no word of the prompt names them)."""
    from .csg.vocabulary import SPATIAL_RELATIONS
    tests: list[EdgeTest] = []
    for u, v, d in graph.graph.edges(data=True):
        rel = d.get("relation")
        if rel in SPATIAL_RELATIONS and u in masks and v in masks:
            r = _spatial(rel, masks[u], masks[v])
            if r is not None:
                tests.append(EdgeTest(f"{u} {rel} {v}", "physics", *r))
    for e in graph.effects():
        r = _causal(graph, e, masks)
        if r is not None:
            tests.append(EdgeTest(f"{e} placed as the graph says", "physics", *r))
    stated = sorted(n for n in masks if graph.graph.nodes[n].get("kind") != "effect")
    for i, a in enumerate(stated):
        for b in stated[i + 1:]:
            o = A.iou(A.threshold(masks[a]), A.threshold(masks[b]))
            o = 0.0 if o != o else o
            tests.append(EdgeTest(f"{a} and {b} drawn apart", "texture", o < 0.5, o))
    unseen = sorted(n for n in graph.graph.nodes if n not in masks)
    return tests, unseen


def as_probabilities(reading: dict[str, Any]) -> tuple[float, float]:
    """A reading's shares passed as the loop's probabilities; a kind with no test counts as
    right (nothing says it is wrong)."""
    p = reading["p"] or [None, None]
    return (1.0 if p[0] is None else p[0], 1.0 if p[1] is None else p[1])


@dataclass
class AttentionCheck:
    """The loop's check for models with no ToyWorld verifier (see the module docstring).  It
    keeps the interface the loop uses of :class:`lina_core.check.EarlyCheck`: a check step for
    a run's length, a threshold and a budget."""
    share: float = 0.3          #: the check step's share of the run (structure is set by then)
    loop_threshold: float = 1.0  #: every test must pass
    max_tries: int = 2

    def step_for(self, steps: int) -> int:
        return max(1, min(steps - 1, round(self.share * steps)))

    def read(self, graph: Any, attention: dict[str, Any] | None, step: int
             ) -> dict[str, Any]:
        """The tests on a run's attention up to ``step``: each test, the untestable nodes, and
        (P(physics right), P(texture right)) as shares passed (None where nothing could be
        tested of that kind)."""
        if not attention or not len(attention.get("maps", ())):
            return {"p": None, "tests": [], "unseen": sorted(graph.graph.nodes),
                    "why": "the run recorded no attention"}
        upto = [i for i, s in enumerate(attention["steps"]) if s <= step] or [0]
        maps = np.asarray(attention["maps"], np.float32)[upto].mean(0)[None]
        masks = {n: m[0] for n, m in A.node_masks(graph, {"maps": maps,
                                                         "tokens": attention["tokens"]}).items()}
        tests, unseen = edge_tests(graph, masks)
        p = []
        for kind in ("physics", "texture"):
            t = [x.passed for x in tests if x.kind == kind]
            p.append(float(np.mean(t)) if t else None)
        return {"p": p, "tests": [t.to_dict() for t in tests], "unseen": unseen,
                "why": "" if tests else "no edge of the graph joins two nodes the prompt names"}

    def probabilities(self, graph: Any, attention: dict[str, Any] | None, step: int
                      ) -> tuple[float, float]:
        """(P(physics right), P(texture right)) for :func:`adaptive.decide`."""
        return as_probabilities(self.read(graph, attention, step))

    #: what the loop's runs must record for :meth:`reader`
    run_kwargs = {"attention": True}
    kind = "attention"

    def applies(self, pipe: Any, graph: Any) -> bool:
        """A model whose attention the engine records, and two or more stated nodes (else
        there is nothing to test); ToyWorld scenes on a ToyWorld model have the learned check."""
        from .adapters import adapter_for
        from .candidates import is_toyworld
        ad = adapter_for(pipe)
        stated = [n for n, d in graph.graph.nodes(data=True) if d.get("explicit", True)]
        toy_on_toy = ad.builtin and is_toyworld(graph)
        return ad.attention_kind is not None and len(stated) > 1 and not toy_on_toy

    def reader(self, pipe: Any, prompt: str, graph: Any):
        """``read(run, step) -> (P(physics right), P(texture right))`` on a run's attention;
        every reading is kept in :attr:`readings`, in order."""
        self.readings: list[dict[str, Any]] = []

        def read(run: Any, step: int) -> tuple[float, float]:
            r = self.read(graph, run.extra.get("attention"), step)
            self.readings.append({"step": step, **r})
            return as_probabilities(r)
        return read
