"""Pixel unmixing: each pixel of a picture explained as a mixture of two background colours or
an object colour over one background, with the object's share ``alpha``.

A building block of the verifier (:mod:`.verify`) and of every category's questions
(:mod:`.categories`): generated pictures are blurred, so edges are mixtures, and explaining them
(rather than thresholding) keeps them from being misclassified.  Imports no category.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

CANON = 64                       #: every image is judged at CANON x CANON
UNEXPLAINED = 60.0               #: RGB distance beyond which a pixel is not a ToyWorld colour


@dataclass
class Mix:
    alpha: np.ndarray      # H x W: share of an object colour (0 where only background)
    obj: np.ndarray        # H x W int: index of that object colour, -1 for none
    share: np.ndarray      # H x W x K: share of each background colour
    names: list[str]       # object-colour index -> name it votes for
    bgcol: np.ndarray      # H x W x 3: the background colour behind the pixel
    resid: np.ndarray      # H x W: RGB distance left unexplained by the chosen model


def unmix(img: np.ndarray, bgs: list[np.ndarray], objs: list[np.ndarray], names: list[str],
           pairs: list[tuple[int, int]], pen_obj: float = 2.0, pen_pair: float = 6.0,
           obj_over: Any = None) -> Mix:
    """Explain each pixel as bg_i + t (bg_j - bg_i) for an allowed pair (i, j) (an edge between
    two backgrounds), or as bg_i + alpha (obj_k - bg_i) (an object colour over a background).

    The best model has the smallest residual (RGB distance) plus a small penalty: ``pen_obj *
    alpha`` for object models, ``pen_pair * 2 min(t, 1 - t)`` for background mixtures, so that
    a pure background wins ties.
    """
    h, w, _ = img.shape
    flat = img.reshape(-1, 3)
    a_list, b_list, kind = [], [], []     # kind: (0 bg pair / 1 object, i, j or k)
    k = len(bgs)
    for i, j in [(i, i) for i in range(k)] + [tuple(pr) for pr in pairs]:
        a_list.append(bgs[i])
        b_list.append(bgs[j])
        kind.append((0, i, j))
    for i in range(k):
        for o in range(len(objs)):
            if obj_over is not None and not obj_over(i, o):
                continue
            a_list.append(bgs[i])
            b_list.append(objs[o])
            kind.append((1, i, o))
    a = np.asarray(a_list, np.float32)                  # models x 3
    d = np.asarray(b_list, np.float32) - a
    # one pixels x models plane per channel, summed over channels left to right: the very
    # floats a sum over a last axis of 3 gives (numpy adds those in order), ~3x faster
    pa = [flat[:, c, None] - a[None, :, c] for c in range(3)]
    dd = np.maximum(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] + d[:, 2] * d[:, 2], 1e-6)
    t = np.clip((pa[0] * d[:, 0] + pa[1] * d[:, 1] + pa[2] * d[:, 2]) / dd, 0.0, 1.0)
    e = [pa[c] - t * d[:, c] for c in range(3)]
    r = np.sqrt(e[0] ** 2 + e[1] ** 2 + e[2] ** 2)
    is_obj = np.array([kd[0] for kd in kind], bool)[None]
    score = r + np.where(is_obj, pen_obj * t, pen_pair * 2 * np.minimum(t, 1 - t))
    best = score.argmin(1)
    rows = np.arange(h * w)
    tb = t[rows, best]
    kinds = np.array(kind)[best]
    alpha = np.where(kinds[:, 0] == 1, tb, 0.0)
    obj = np.where(kinds[:, 0] == 1, kinds[:, 2], -1)
    share = np.zeros((h * w, k), np.float32)
    pair = kinds[:, 0] == 0
    np.add.at(share, (rows[pair], kinds[pair, 1]), 1 - tb[pair])
    np.add.at(share, (rows[pair], kinds[pair, 2]), tb[pair])
    share[rows[~pair], kinds[~pair, 1]] += 1 - tb[~pair]
    ab = a[best]
    bgcol = np.where(pair[:, None], ab + tb[:, None] * d[best], ab)
    rb = r[rows, best]
    lost = rb > UNEXPLAINED              # not a ToyWorld colour: neither object nor background
    alpha[lost] = 0.0
    obj[lost] = -1
    share[lost] = 0.0
    return Mix(alpha.reshape(h, w).astype(np.float32), obj.reshape(h, w), share.reshape(h, w, k),
                names, bgcol.reshape(h, w, 3).astype(np.float32), rb.reshape(h, w))


def alpha_lin(img: np.ndarray, bgcol: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Unclipped share of ``colour`` over the background (unbiased under noise, for fitting)."""
    d = colour - bgcol
    a = ((img - bgcol) * d).sum(-1) / np.maximum((d * d).sum(-1), 100.0)
    return np.clip(a, -0.5, 1.5)
