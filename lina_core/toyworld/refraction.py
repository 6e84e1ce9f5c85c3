"""Refraction, ToyWorld's one two-hop effect, judged at 32 px: is the submerged part of a
floating object drawn shifted sideways from the part above the water line?

The renderer draws the part of the object under the water line shifted right by
``REFRACTION_SHIFT`` of the width (1.4 px at 32 px, 2.9 px at the verifier's 64).  Refraction
depends on the object floating (the material, one hop, decides whether it floats; refraction of
a floating object's underwater part is the second hop), so it is the effect insight 1's second hop
asks about.  It is not one of the verifier's physics questions (the benchmark's joint verdict and
every number made with it stay as they are); :mod:`lina_core.insights.multihop` asks it beside them.

How it is read: the verifier finds the water surface; in the rows just above it, the centre of
the pixels nearer the object's colour than the wall's; in the rows just below, the centre of the
pixels nearer the object's underwater tint than the water's.  The shift is the second minus the
first (in the verifier's 64 px); it counts as drawn when it is at least half the drawn shift (a
threshold set from the renderer's constant, not fitted).  ``python -m lina_core refraction-check``
measures the reading on renders with and without the shift (``docs/results/refraction_check.json``).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

QUESTION = "refraction_shift"
BAND = 8            #: rows of the verifier's 64 px image read above and below the water line


def _centre(band: np.ndarray, ref: np.ndarray, bg: np.ndarray, x0: int) -> float | None:
    """The column centre of the pixels nearer ``ref`` than ``bg`` (weighted by how much nearer),
    None when fewer than one pixel's worth is there."""
    d = ((band - ref) ** 2).sum(-1)
    db = ((band - bg) ** 2).sum(-1)
    w = np.clip(1 - d / np.maximum(db, 1.0), 0, 1) ** 2
    total = float(w.sum())
    if total <= 1.0:
        return None
    return float((w.sum(0) * (x0 + np.arange(band.shape[1]))).sum() / total)


def shift_seen(image: np.ndarray, graph: Any, verdict: Any = None) -> float | None:
    """The underwater part's sideways shift from the part above (px of the verifier's 64 px
    image; positive: to the right, as drawn), None when the water or either part is not found."""
    from ..csg.vocabulary import MATERIALS
    from .canvas import WALL, WATER, WATER_TINT
    from .unmix import CANON
    from .verify import canonical, verify
    v = verdict if verdict is not None else verify(image, graph)
    water = v.measurements.get("water")
    if water is None:
        return None
    top = int(round(water["top"] * CANON))
    x0, x1 = int(water["left"] * CANON), int(np.ceil(water["right"] * CANON))
    im = canonical(image).astype(np.float32)
    obj = graph.nodes("object")[0]
    col = np.array(MATERIALS[graph.attr(obj, "material")], np.float32)
    sub = col * (1 - WATER_TINT) + WATER * WATER_TINT
    above = _centre(im[max(top - BAND, 0):max(top - 1, 0), x0:x1], col, WALL, x0)
    below = _centre(im[top:min(top + BAND + 1, CANON), x0:x1], sub, WATER, x0)
    return None if above is None or below is None else below - above


def threshold() -> float:
    """Half the shift the renderer draws, in the verifier's pixels."""
    from .canvas import REFRACTION_SHIFT
    from .unmix import CANON
    return 0.5 * REFRACTION_SHIFT * CANON


def applies(graph: Any) -> bool:
    """A buoyancy scene whose object floats: only then is part of it above the line to compare."""
    return graph.category == "buoyancy" and bool(graph.effects("floating"))


def judge(image: np.ndarray, graph: Any, verdict: Any = None) -> bool | None:
    """True when the floating object's underwater part is drawn shifted as refraction shifts it;
    False when it is not (or the object does not float as the graph says); None where the
    question does not apply (no floating object in the graph) or cannot be read (the water, or
    either part of the object, not found: an undetermined answer, not a wrong one)."""
    if not applies(graph):
        return None
    from .verify import verify
    v = verdict if verdict is not None else verify(image, graph)
    if not v.physics.get("float_or_sink", False):
        return False
    s = shift_seen(image, graph, v)
    return None if s is None else s >= threshold()


# ---------------------------------------------------------------------- the reading's accuracy


def check(split: str = "test-id", n: int = 200, noise: tuple[float, ...] = (0.0, 8.0),
          size: int = 32, seed: int = 0) -> dict[str, Any]:
    """The reading on ``n`` floating scenes' renders drawn with the shift (should pass) and with
    it set to 0 (should fail), clean and with Gaussian pixel noise of each ``noise`` sigma."""
    from ..stats import rate
    from .categories import CATEGORIES
    from .data import sample_scene
    from .render import render
    buoyancy = CATEGORIES["buoyancy"]     # its drawn shift is set per pass
    graphs, i = [], 0
    while len(graphs) < n:
        g = sample_scene(split, i, category="buoyancy").graph
        i += 1
        if applies(g):
            graphs.append(g)
    rng = np.random.default_rng(seed)
    drawn, thr = buoyancy.drawn_shift, threshold()   # read before a pass sets the shift to 0
    out: dict[str, Any] = {"split": split, "n": n, "size": size, "threshold_px64": thr,
                           "rows": []}
    try:
        for sigma in noise:
            for shifted in (True, False):
                buoyancy.drawn_shift = drawn if shifted else 0.0
                seen = []
                for g in graphs:
                    im = render(g, size).image.astype(np.float32)
                    if sigma:
                        im = im + rng.normal(0, sigma, im.shape)
                    s = shift_seen(np.clip(im, 0, 255).astype(np.uint8), g)
                    seen.append(s is not None and s >= thr)
                r = rate(seen)
                out["rows"].append({"noise_sigma": sigma, "drawn_shift": shifted,
                                    "judged_shifted": {k: round(float(v), 4) if k != "n" else v
                                                       for k, v in r.items()}})
    finally:
        buoyancy.drawn_shift = drawn
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lina_core refraction-check",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="test-id", choices=["train", "test-id", "test-ood"])
    ap.add_argument("--n", type=int, default=200, help="floating scenes")
    ap.add_argument("--out", default="docs/results/refraction_check.json")
    a = ap.parse_args(argv)
    if not 1 <= a.n <= 5000:
        print(f"refraction-check: --n: {a.n} must lie in [1, 5000]", file=sys.stderr)
        return 2
    res = check(a.split, a.n)
    res["command"] = f"python -m lina_core refraction-check --split {a.split} --n {a.n}"
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1))
    for r in res["rows"]:
        j = r["judged_shifted"]
        print(f"noise {r['noise_sigma']:>4}: drawn {'with   ' if r['drawn_shift'] else 'without'}"
              f" the shift -> judged shifted {100 * j['acc']:.1f}% "
              f"[{100 * j['lo']:.1f}, {100 * j['hi']:.1f}] of {j['n']}")
    print("wrote", a.out)
    return 0
