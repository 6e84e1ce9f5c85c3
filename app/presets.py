"""Talk presets: one scene per PAP family that shows the failure (an implicit effect the baseline
misses) and the fix (LINA). Used as ``gr.Examples`` in the Scene, Intervene and LINA tabs; the
Video tab has one held-out scene per clip kind (``VIDEO_PRESETS``)."""
from __future__ import annotations

#: (label, prompt, seed)
PRESETS: list[tuple[str, str, int]] = [
    ("mirror", "a large red ball on a small round mirror", 0),
    ("shadow", "a green cone on the floor, lit from the left", 0),
    ("buoyancy", "a wood ball in a beaker of water", 0),
    ("balance", "a cork cube and a metal cube on a balance", 0),
    ("scale", "a blue cube larger than a red ball", 0),
]

#: the LINA tab's talk presets, chosen by measurement on dev-ood (the split LINA was fitted on;
#: never test-ood) with ``scripts/choose_presets.py``; each label says its measured rate, and
#: the seed is a sample that shows it
MEASURED_PRESETS: list[tuple[str, str, int]] = [
    ("LINA fixes this (dev-ood: joint success 86% -> 100%, 21 samples; donor for 6 steps)",
     "a stone cube and a ice cube on a balance", 230000013),
    ("LINA does not fix this (dev-ood: 0% -> 0%, 30 samples; the ball is drawn as a cube)",
     "a wood ball in a beaker of water", 30000007),
]
LINA_PRESETS = MEASURED_PRESETS + [(f"{label} (example, not measured)", prompt, seed)
                                   for label, prompt, seed in PRESETS]

#: ToyWorld v2 talk presets (issue 16): (label, prompt, seed, category).  Offered only when the
#: loaded model knows the category (:func:`lina_presets`; the shipped model knows none of them,
#: so its presets are unchanged).  Each prompt is a dev-ood scene or the prior's rare side, so
#: ``scripts/choose_presets.py`` can measure it on the retrained model's dev-ood grid; until then
#: they are examples, not measured.
V2_PRESETS: list[tuple[str, str, int, str]] = [
    ("swapped roles (held out: purple on green; train has green on purple)",
     "a purple ball on top of a green cube", 0, "roles"),
    ("biased prior (train: 80% of jars hold more than empty space)",
     "a tall jar with more empty space than sand", 0, "fill"),
    ("composed relation (held out: a cone close to the water and on the sand)",
     "a red cone close to the water and on the sand", 0, "place"),
]


def lina_presets(categories: tuple[str, ...] = ()) -> list[tuple[str, str, int]]:
    """The LINA tab's presets for a model that knows ``categories``: :data:`LINA_PRESETS`, then
    the :data:`V2_PRESETS` of the categories among them."""
    return LINA_PRESETS + [(f"{label} (example, not measured)", prompt, seed)
                           for label, prompt, seed, cat in V2_PRESETS if cat in categories]


LABELS = [p[0] for p in PRESETS]
PROMPTS = [p[1] for p in PRESETS]
DEFAULT_PROMPT = PROMPTS[0]


def _clip_presets() -> list[tuple[str, str, int]]:
    """One Video-tab preset per clip kind: the first held-out (test-ood) scene of that kind, as
    its implicit caption, so a talk shows a case the models never trained on."""
    from lina_core.toyworld.video_data import CLIP_CATEGORIES, sample_clip
    return [(cat, sample_clip(VIDEO_PRESET_SPLIT, VIDEO_PRESET_INDEX, cat).caption(False), 0)
            for cat in CLIP_CATEGORIES]


VIDEO_PRESET_SPLIT, VIDEO_PRESET_INDEX = "test-ood", 0
#: (clip kind, prompt, seed): reflection, buoyancy, shadow
VIDEO_PRESETS: list[tuple[str, str, int]] = _clip_presets()
