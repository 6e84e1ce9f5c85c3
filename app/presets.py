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
