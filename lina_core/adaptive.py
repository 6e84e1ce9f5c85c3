"""LINA's loop: check the run's early preview, intervene only where it is going wrong, check again.

The run itself is the baseline.  At the check step the learned check (:mod:`lina_core.check`)
reads its predicted clean image; if the check expects the final image to be right, the run
finishes unchanged (LINA's picture *is* the baseline's, bit for bit).  If not, LINA tries the
interventions the predictor ranks best for this prompt (the texture donor first when the check
expects the texture, not the physics, to fail), each a branch of the same noise, checks each at
its own check step, and keeps the first that passes, within a budget of tries; when none passes
it keeps whichever run, the baseline included, the check rates best.

:func:`decide` is the whole policy, a pure function of the check's probabilities, so the live
sampler (:class:`lina_core.lina.LinaSampler`) and the benchmark's replay of recorded tries
(:mod:`lina_core.bench.loop_replay`) run the same code.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from . import candidates as C

#: the loop's defaults; a check's card holds its own (:attr:`check.EarlyCheck.loop_threshold`,
#: :attr:`check.EarlyCheck.max_tries`)
THRESHOLD = 0.5
MAX_TRIES = 2


@dataclass
class Decision:
    """What the loop did: the probabilities it saw, the tries it made, what it kept and why."""
    threshold: float
    base_p: tuple[float, float]
    tries: list[dict[str, Any]] = field(default_factory=list)
    kept: int = -1                   #: -1: the baseline; else an index into ``tries``
    reason: str = ""

    @property
    def kept_name(self) -> str:
        return "none" if self.kept < 0 else self.tries[self.kept]["name"]

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "base_p": list(self.base_p), "tries": self.tries,
                "kept": self.kept_name, "reason": self.reason}


def joint(p: Sequence[float]) -> float:
    return float(p[0]) * float(p[1])


def decide(base_p: Sequence[float], names: Sequence[str],
           try_fn: Callable[[int], Sequence[float]], threshold: float = THRESHOLD,
           max_tries: int = MAX_TRIES, step_of: Callable[[str], int] | None = None
           ) -> Decision:
    """Run the loop: ``try_fn(i)`` runs try ``names[i]`` and returns the check's (P(physics
    right), P(texture right)) at its check step (``step_of(name)``, recorded when given).
    Deterministic given the probabilities."""
    d = Decision(float(threshold), (float(base_p[0]), float(base_p[1])))
    if joint(base_p) >= threshold:
        d.reason = "check passed"
        return d
    best, best_p = -1, joint(base_p)
    for i, name in enumerate(names[:max_tries]):
        p = try_fn(i)
        ok = joint(p) >= threshold
        d.tries.append({"name": name, "p": [float(p[0]), float(p[1])], "passed": ok})
        if step_of is not None:
            d.tries[-1]["checked_at"] = step_of(name)
        if ok:
            d.kept, d.reason = i, f"{name} passed the check"
            return d
        if joint(p) > best_p:
            best, best_p = i, joint(p)
    d.kept = best
    if not d.tries:
        d.reason = "check failed; nothing to try"
    elif best < 0:
        d.reason = "no try passed; the baseline rated best"
    else:
        d.reason = f"no try passed; {d.tries[best]['name']} rated best"
    return d


def try_step(name: str, check_step: int, steps: int) -> int:
    """The step at which a try of candidate ``name`` is checked: the check step, or later
    where the try's preview at the check step would show another scene than the user's.  A
    structure donor (or guidance toward one) draws the donor's scene until its window ends, so
    its try is checked when the run is back on the user's prompt (step k); a texture donor acts
    only after step k and changes what the picture shows to the end, so its try is checked on
    the last preview.  ``c+`` states the user's scene (plus its effects): checked at the check
    step."""
    c = C.get(name)
    return C.OPS[c.op].checked_at(c, steps, check_step)


def plan(ranked: Sequence[str], base_p: Sequence[float], allowed: Sequence[str]) -> list[str]:
    """The order of tries: the predictor's ranking (``ranked``, best first, ``none``
    excluded); the texture donor first when the check expects texture, not physics, to fail."""
    order = [n for n in ranked if n != "none" and n in allowed]
    tex = [c.name for c in C.FAMILY if C.OPS[c.op].donor == "texture" and c.name in order]
    if tex and base_p[1] < base_p[0]:
        order = tex + [n for n in order if n not in tex]
    return order


def predictor_gains(predictor: Any, pipe: Any, prompt: str, graph: Any,
                    allowed: Sequence[str]) -> dict[str, float]:
    """The predictor's predicted gain of each candidate in ``allowed`` for this prompt (what
    :func:`ranked_candidates` orders; the live loop, the recorded tries and the schedule
    measurement all rank this way)."""
    gains = predictor.gains(predictor.features(pipe, prompt, graph))
    return {n: g for n, g in gains.items() if n in allowed}


def ranked_candidates(gains: dict[str, float]) -> list[str]:
    """Candidates by the predictor's predicted gain, best first."""
    return sorted((n for n in gains if n != "none"), key=lambda n: -gains[n])


def describe(d: Decision, check_step: int) -> str:
    """One line for the UI: what the check saw and what LINA did."""
    pj = joint(d.base_p)
    head = f"at step {check_step} the check gave {pj:.0%} that the picture comes out right"
    if not d.tries:
        return f"{head}: {d.reason}, nothing changed"
    tried = "; ".join(f"{t['name']} {joint(t['p']):.0%}"
                      + (f" at step {t['checked_at']}" if "checked_at" in t else "")
                      for t in d.tries)
    return f"{head}; tried {tried}; {d.reason}"
