"""Blobs: the connected components of an object colour in an unmixed picture (:mod:`.unmix`),
with their soft mass, colour votes, centre and extent, and how many copies of an object they
are.  A building block of every category's questions; imports no category.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .unmix import Mix

EIGHT = np.ones((3, 3), bool)    #: 8-connectivity


@dataclass
class Blob:
    core: np.ndarray          # bool: alpha >= 0.5, this component
    region: np.ndarray        # bool: core dilated (its soft edge)
    mass: float               # sum of alpha over region, in canonical px
    votes: dict[str, float]   # name -> alpha-weighted votes
    cx: float
    cy: float
    x0: int
    x1: int
    y0: int
    y1: int

    @property
    def colour(self) -> str:
        return max(self.votes, key=self.votes.get) if self.votes else "?"

    @property
    def width(self) -> int:
        return self.x1 - self.x0 + 1

    @property
    def height(self) -> int:
        return self.y1 - self.y0 + 1


def find_blobs(mix: Mix, where: np.ndarray | None = None, min_mass: float = 12.0,
           thr: float = 0.5) -> list[Blob]:
    """Object components, largest mass first."""
    core_all = mix.alpha >= thr
    if where is not None:
        core_all &= where
    lab, n = ndimage.label(core_all, structure=EIGHT)
    out = []
    for i in range(1, n + 1):
        core = lab == i
        if core.sum() < 3:
            continue
        region = ndimage.binary_dilation(core, EIGHT, iterations=2)
        if where is not None:
            region &= where
        a = np.where(region, mix.alpha, 0.0)
        mass = float(a.sum())
        if mass < min_mass:
            continue
        votes: dict[str, float] = {}
        sel = region & (mix.obj >= 0)
        for idx, wgt in zip(mix.obj[sel], mix.alpha[sel] ** 2):
            nm = mix.names[idx]
            votes[nm] = votes.get(nm, 0.0) + float(wgt)
        ys, xs = np.nonzero(core)
        yy, xx = np.mgrid[0:a.shape[0], 0:a.shape[1]]
        out.append(Blob(core, region, mass, votes, float((a * xx).sum() / mass),
                         float((a * yy).sum() / mass), int(xs.min()), int(xs.max()),
                         int(ys.min()), int(ys.max())))
    out.sort(key=lambda b: -b.mass)
    return out


#: a second component of an object's colour with at least this share of the first one's mass is
#: a second copy of the object (a diffusion model draws doubled objects; the other questions,
#: which read the largest component, would pass them)
COUNT_SHARE = 0.3

def colour_blobs(mix: Mix, colour: str, thr: float = 0.5) -> list[Blob]:
    """The components of one palette colour, largest first (none if it names no colour)."""
    if colour not in mix.names:
        return []
    return find_blobs(mix, where=mix.obj == mix.names.index(colour), thr=thr)


def count_copies(blobs: list[Blob]) -> int:
    """How many separate objects a colour's components are."""
    return sum(1 for b in blobs if b.mass >= COUNT_SHARE * blobs[0].mass)
