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
