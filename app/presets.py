"""Talk presets: one scene per PAP family that shows the failure (an implicit effect the baseline
misses) and the fix (LINA). Used as ``gr.Examples`` in the Scene, Intervene and LINA tabs; the
Video tab has one held-out scene per clip kind (``VIDEO_PRESETS``)."""
from __future__ import annotations

from lina_core import presets as measured

#: (label, prompt, seed)
PRESETS: list[tuple[str, str, int]] = [
    ("mirror", "a large red ball on a small round mirror", 0),
    ("shadow", "a green cone on the floor, lit from the left", 0),
    ("buoyancy", "a wood ball in a beaker of water", 0),
    ("balance", "a cork cube and a metal cube on a balance", 0),
    ("scale", "a blue cube larger than a red ball", 0),
]

#: the LINA tab's talk presets: the measured ones (:mod:`lina_core.presets`, their labels made
#: from the measured rates there), then the Scene tab's scenes as unmeasured examples
MEASURED_PRESETS: list[tuple[str, str, int]] = [p.row() for p in measured.MEASURED]
LINA_PRESETS = MEASURED_PRESETS + [(f"{label} (example, not measured)", prompt, seed)
                                   for label, prompt, seed in PRESETS]

#: the relational categories' measured presets: (label, prompt, seed, category)
RELATIONAL_PRESETS: list[tuple[str, str, int, str]] = [
    (*p.row(), p.category) for p in measured.RELATIONAL]


def lina_presets(categories: tuple[str, ...] = ()) -> list[tuple[str, str, int]]:
    """The LINA tab's presets for a model that knows ``categories``: :data:`LINA_PRESETS`, then
    the :data:`RELATIONAL_PRESETS` of the categories among them."""
    return LINA_PRESETS + [p.row() for p in measured.RELATIONAL if p.category in categories]


LABELS = [p[0] for p in PRESETS]
PROMPTS = [p[1] for p in PRESETS]
DEFAULT_PROMPT = PROMPTS[0]

#: the Intervene tab's default: a structure donor for steps [0, 10) on a dev-ood balance scene
#: (the held-out pair ice+stone; never chosen on test-ood).  Chosen by measurement: prompt-space
#: edits toward c+ change the shipped model's picture by 0.05-1.4 grey levels on average (the
#: mirror prompt's interpolate, the old default: 1.4, seeds 0-3); this one by INTERVENE_CHANGE
#: (mean |baseline - intervened| over the 32 x 32 image, 0-255, seeds 0-7, 25 steps, guidance 3;
#: the verifier's physics: wrong -> right on 8 of 8)
INTERVENE_PROMPT = "a stone cube and an ice cube on a balance"
INTERVENE_EDIT, INTERVENE_WINDOW = "donor", (0, 10)
INTERVENE_CHANGE = ("15.4 grey levels on average (0-255; seeds 0-7: 14.9 to 17.0), and the "
                    "verifier's physics goes from wrong to right on 8 of 8 seeds")


def _clip_presets() -> list[tuple[str, str, int]]:
    """One Video-tab preset per clip kind: the dev-ood scene of that kind at
    :data:`VIDEO_PRESET_INDEX` (held out of training; dev-ood is the split presets are chosen
    on, never test-ood), as its implicit caption."""
    from lina_core.toyworld.video_data import CLIP_CATEGORIES, sample_clip
    return [(cat, sample_clip(VIDEO_PRESET_SPLIT, VIDEO_PRESET_INDEX[cat], cat).caption(False),
             0) for cat in CLIP_CATEGORIES]


#: the split and, per clip kind, the scene index of the Video presets, chosen by measurement
#: (seed 0, 8 frames, 25 steps, guidance 3, LINA's predicted choice; the shipped video model):
#: dev-ood reflection scenes 0-1 and buoyancy scenes 0-1 come out right in the baseline and LINA
#: chooses "none" (LINA = baseline); of shadow scenes 0-3 (2 and 3 draw the same scene), scene 1
#: is where LINA's choice changes the clip most (2.3 grey levels; 0.1 on scene 0, 0.8 on 2)
VIDEO_PRESET_SPLIT = "dev-ood"
VIDEO_PRESET_INDEX = {"reflection": 0, "buoyancy": 0, "shadow": 1}
#: what was measured on each preset (same settings), for its tooltip and the talk
VIDEO_PRESET_NOTES = {
    "reflection": "dev-ood scene 0, seed 0: the baseline is right (physics and texture in 8 of "
                  "8 frames); LINA chooses no intervention, so LINA = baseline",
    "buoyancy": "dev-ood scene 0, seed 0: the baseline's physics is right, its texture in 5 of "
                "8 frames; LINA chooses no intervention, so LINA = baseline",
    "shadow": "dev-ood scene 1, seed 0: LINA changes the clip (a structure donor, then c+, for "
              "10 steps; 2.3 grey levels mean change) and makes it worse: the verifier measures "
              "the shadow moving -1.51 object widths against the light in the baseline (right) "
              "and -0.10 with LINA (needs 0.4: WRONG)",
}
#: (clip kind, prompt, seed): reflection, buoyancy, shadow
VIDEO_PRESETS: list[tuple[str, str, int]] = _clip_presets()
