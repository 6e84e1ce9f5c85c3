"""The talk presets that were measured: each a prompt and seed with the figures measured on it,
kept as numbers, and the label the app shows made from them in one place (:meth:`label`).

Why here and not in the app: a preset's rates are a measurement
(``python -m lina_core choose-presets`` on the dev-ood grid, never test-ood, prints new
entries in this form), and the app only shows them; a label typed by hand drifts from the
numbers it quotes.  The figures below were measured on the shipped model's grid
(``runs/reproduce/grid_dev``, ``make reproduce``); what the adaptive loop does on a seed is one
run of that seed with the shipped check (``python -m lina_core lina --seed N``).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MeasuredPreset:
    """A prompt and seed, what they show, and LINA's joint success measured on the prompt."""

    #: what the preset shows, in words ("the per-prompt choice fixes this")
    headline: str
    prompt: str
    #: the noise seed of a grid sample that shows it
    seed: int
    #: joint success (physics and texture right) over the prompt's samples of :attr:`split`:
    #: the baseline's, and with LINA's per-prompt choice
    baseline: float
    lina: float
    #: how many samples the two rates are over
    n: int
    #: what LINA's per-prompt choice is ("a donor, then c+"; "" when the label says it)
    how: str = ""
    #: what else was measured on this seed (the adaptive loop's run), or a caveat
    note: str = ""
    #: the category a model must know to be offered the preset (None: every model)
    category: str | None = None
    split: str = "dev-ood"

    def __post_init__(self) -> None:
        for name in ("baseline", "lina"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name}: {v} is not a rate in [0, 1]")
        if self.n < 1:
            raise ValueError(f"n: {self.n}; a measured rate needs at least 1 sample")
        if self.split == "test-ood":
            raise ValueError("split: presets are chosen on dev-ood (or train/test-id), never "
                             "on test-ood, which is only reported")

    @property
    def label(self) -> str:
        """The label the app shows: the headline, then the measured rates and their n."""
        how = f"; {self.how}" if self.how else ""
        note = f"; {self.note}" if self.note else ""
        return (f"{self.headline} ({self.split}: joint success {self.baseline:.0%} -> "
                f"{self.lina:.0%}, {self.n} samples{how}){note}")

    def row(self) -> tuple[str, str, int]:
        """``(label, prompt, seed)``, the form ``gr.Examples`` rows take in the app."""
        return (self.label, self.prompt, self.seed)


#: the LINA tab's presets for every model (the grid wrote "a ice cube", captions before issue
#: 25; "an ice cube" parses to the same graph and the shipped model draws it alike: 0.1-0.4
#: grey levels mean difference, 5 seeds)
MEASURED: tuple[MeasuredPreset, ...] = (
    MeasuredPreset("the per-prompt choice fixes this",
                   "a stone cube and an ice cube on a balance", 30000013, 0.0, 1.0, 12,
                   how="a donor, then c+",
                   note="the loop does not on this seed (its check rates the donor's run wrong "
                        "too, so it keeps the baseline)"),
    MeasuredPreset("LINA does not fix this", "a stone ball in a beaker of water", 30000002,
                   0.0, 0.0, 12,
                   how="it sinks, but the ball's shape is drawn wrong",
                   note="the loop's two tries fail its check too"),
)

#: the relational categories' presets (``choose-presets --categories roles,fill,place``),
#: offered only to a model that knows the category (the shipped model does; a model with the
#: first vocabulary does not)
RELATIONAL: tuple[MeasuredPreset, ...] = (
    MeasuredPreset("the loop leaves it alone: swapped roles (held out: purple on green; train "
                   "has green on purple), the model gets it right and the check passes at "
                   "step 6", "a purple cone on top of a green ball", 35000006, 1.0, 1.0, 6,
                   category="roles"),
    MeasuredPreset("biased prior, held-out jar (train: 80% of jars hold more than empty space; "
                   "soil never in a wide jar): the soil is drawn wrong; LINA fixes it here",
                   "a wide jar with more empty space than soil", 35000001, 0.0, 0.8, 15,
                   how="a structure donor with water for 14 steps",
                   note="not on the reported jars, though (RESULTS.md)", category="fill"),
    MeasuredPreset("the loop repairs it: composed relation (held out: a cone close to the water "
                   "and on the sand); the check flags the run at step 6, a ball as the donor "
                   "for 10 steps", "a green cone close to the water and on the sand", 35000014,
                   0.0, 1.0, 9, how="the per-prompt choice", category="place"),
)

