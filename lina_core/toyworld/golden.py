"""The golden digest of ToyWorld: what the generator draws, captions, parses, renders, masks and
judges, pinned as a few kB of hashes so a restructuring (issue 26) can prove it changed nothing.

For a fixed small sample (:data:`SCENES_PER_CELL` scenes of every category in every split,
drawn by :func:`.data.sample_scene`), each scene's entry holds one short sha256 per item:

* ``graph``: the laid-out graph's JSON and its held-out combination;
* ``captions``: its implicit and explicit captions, and what :func:`csg.from_prompt` reads back
  from each (graph JSON, domain, unknown words);
* ``render`` and ``masks``: the renderer's pixel bytes and every node's mask at
  :data:`RENDER_SIZE` px;
* ``counterfactuals``: every counterfactual wrong render of :func:`.verify_eval.counterfactuals`
  (question, variant, pixels, the graph it is judged against);
* ``clip`` (the clip categories only): the frames of :func:`.render.render_clip` and of the
  wrong motion of :func:`.verify_eval.wrong_motion`;
* in one split per category (:func:`judged`, every split twice over the eight categories):
  ``verdict``, the verifier's verdict on the clean render and on the render perturbed as
  :func:`.verify_eval.evaluate` perturbs it; ``counterfactual_verdicts``, its verdict on each
  counterfactual (perturbed); ``clip_verdict``, the clip verifier's on the clip (eight
  verdicts and the temporal question).  A verdict costs ~0.05-0.1 s (its shape fits), so
  judging every cell (and the wrong motions) would make the test ~40 s; the verifier's code
  paths are per category, not per split.

One hash per item (not one for everything) so a failing comparison names what changed.  The
digest is written by ``python -m lina_core golden --write`` and compared by
``tests/test_golden.py`` and ``python -m lina_core golden``.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

#: the committed digest (the test and the command compare against it)
GOLDEN_FILE = Path(__file__).resolve().parents[2] / "tests" / "data" / "toyworld_golden.json"
SCENES_PER_CELL = 1
RENDER_SIZE = 64        #: the data generator's size
JUDGE_SIZE = 32         #: verify_eval's size (the counterfactuals are judged at it)
CLIP_FRAMES = 8         #: the shortest clip the video model makes


def _h(*parts: Any) -> str:
    """The first 16 hex digits of a sha256 over ``parts`` (bytes as they are, arrays as their
    shape, dtype and bytes, anything else as sorted-key JSON)."""
    d = hashlib.sha256()
    for p in parts:
        if isinstance(p, np.ndarray):
            d.update(f"{p.shape}{p.dtype}".encode())
            d.update(np.ascontiguousarray(p).tobytes())
        elif isinstance(p, bytes):
            d.update(p)
        else:
            d.update(json.dumps(p, sort_keys=True, default=str).encode())
        d.update(b"\x00")
    return d.hexdigest()[:16]


def _parsed(text: str) -> dict[str, Any]:
    from ..csg import from_prompt
    r = from_prompt(text)
    return {"graph": r.graph.to_dict(), "domain": r.domain, "unknown": r.unknown_words}


def judged(split: str, category: str) -> bool:
    """Whether the sample's verdicts are pinned in this cell: one split per category, turning
    through the splits so each is judged in two categories."""
    from ..csg import TOYWORLD_CATEGORIES
    from .data import ALL_SPLITS
    return TOYWORLD_CATEGORIES.index(category) % len(ALL_SPLITS) == ALL_SPLITS.index(split)


def scene_digest(split: str, index: int, category: str) -> dict[str, str]:
    """The hashes of one generated scene (see the module docstring)."""
    from ..csg import TOYWORLD_CATEGORIES
    from .data import ALL_SPLITS, sample_scene
    from .render import CLIP_KINDS, render, render_clip
    from .verify import verify
    from .verify_eval import counterfactuals, perturb, wrong_motion
    from .verify_video import verify_clip
    s = sample_scene(split, index, category)
    g = s.graph
    caps = (s.caption(False), s.caption(True))
    r = render(g, RENDER_SIZE)
    small = render(g, JUDGE_SIZE).image
    rng = np.random.default_rng([index, TOYWORLD_CATEGORIES.index(category),
                                 ALL_SPLITS.index(split)])
    out = {"graph": _h(g.to_json(indent=None), list(s.combo), s.seed),
           "captions": _h(list(caps), [_parsed(c) for c in caps]),
           "render": _h(r.image, small),
           "masks": _h(sorted(r.masks), *(r.masks[k] for k in sorted(r.masks)))}
    judge = judged(split, category)
    if judge:
        out["verdict"] = _h(verify(r.image, g).to_dict(), verify(perturb(small, rng),
                                                                 g).to_dict())
    cfs, verdicts = [], []
    for q, variant, img, cg in counterfactuals(g, JUDGE_SIZE, rng):
        cfs.append([q, variant, _h(img), cg.to_json(indent=None)])
        if judge:
            verdicts.append(verify(perturb(img, rng), cg).to_dict())
    out["counterfactuals"] = _h(cfs)
    if judge:
        out["counterfactual_verdicts"] = _h(verdicts)
    if category in CLIP_KINDS:
        frames = [x.image for x in render_clip(g, CLIP_FRAMES, JUDGE_SIZE)]
        wrong = [render(fg, JUDGE_SIZE).image for fg in wrong_motion(g, CLIP_FRAMES)]
        out["clip"] = _h(*frames, *wrong)
        if judge:
            out["clip_verdict"] = _h(_clip_verdict(verify_clip(frames, g)))
    return out


def _clip_verdict(cv: Any) -> dict[str, Any]:
    return {"frames": [v.to_dict() for v in cv.frames], "temporal": cv.temporal,
            "reason": cv.reason, "tracks": cv.tracks, "verdict": cv.physics_verdict}


def compute(scenes_per_cell: int = SCENES_PER_CELL) -> dict[str, Any]:
    """The digest of every (category, split, index) of the sample, keyed ``cat/split/index``."""
    from ..csg import TOYWORLD_CATEGORIES
    from .data import ALL_SPLITS
    scenes = {f"{c}/{sp}/{i}": scene_digest(sp, i, c) for c in TOYWORLD_CATEGORIES
              for sp in ALL_SPLITS for i in range(scenes_per_cell)}
    return {"about": "sha256 (16 hex) per item of ToyWorld's generated scenes: lina_core/"
                     "toyworld/golden.py; rewrite on purpose: python -m lina_core golden --write",
            "scenes_per_cell": scenes_per_cell, "render_size": RENDER_SIZE,
            "judge_size": JUDGE_SIZE, "scenes": scenes}


def differences(expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """``scene: item`` for every hash that differs, is missing or is new (empty: equal)."""
    a, b = expected.get("scenes", {}), got.get("scenes", {})
    out = []
    for key in sorted(set(a) | set(b)):
        items = set(a.get(key, {})) | set(b.get(key, {}))
        out += [f"{key}: {item}" for item in sorted(items)
                if a.get(key, {}).get(item) != b.get(key, {}).get(item)]
    return out


def read(path: str | Path = GOLDEN_FILE) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def write(digest: dict[str, Any], path: str | Path = GOLDEN_FILE) -> Path:
    path = Path(path)
    path.write_text(json.dumps(digest, indent=1, sort_keys=True) + "\n")
    return path
