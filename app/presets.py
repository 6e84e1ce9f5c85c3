"""Talk presets: one scene per PAP family that shows the failure (an implicit effect the baseline
misses) and the fix (LINA). Used as ``gr.Examples`` in the Scene, Intervene and LINA tabs."""
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
