"""Counterfactual wrong renders: a scene drawn with one thing wrong, and the verifier question
that should then answer False (how ``verify_eval`` measures rejection, and what the golden
digest pins).

Each category draws its own (:meth:`.categories.Category.counterfactuals`); here are the ones
every category shares: an object in another colour or material or of another shape
(:func:`texture`), and one drawn twice (:func:`doubled`).  A building block: it imports no
category module, only the renderer, which looks categories up in their table.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..csg.graph import CausalSceneGraph
from ..csg.vocabulary import COLOURS, MATERIALS, SHAPES
from .render import render

if TYPE_CHECKING:
    from .categories.base import Category

Image = np.ndarray
#: (question, variant name, image, graph): verified against ``graph`` (what the picture is meant
#: to show), the verifier should answer False to ``question``
Counterfactual = tuple[str, str, Image, CausalSceneGraph]


def remove(g: CausalSceneGraph, nodes: list[str]) -> CausalSceneGraph:
    """A copy of ``g`` without ``nodes`` (an effect not drawn)."""
    g = g.copy()
    g.graph.remove_nodes_from(nodes)
    return g


def refit_standing(g: CausalSceneGraph) -> CausalSceneGraph:
    """Each object's box refitted to its (possibly edited) shape and size where it stands: the
    same centre and base.  The :meth:`Category.refit` of a scene whose objects stand on the
    floor and depend on nothing else."""
    from ..csg.geometry import object_box, put
    for n in g.nodes("object"):
        b = g.node(n)["box"]
        put(g, n, object_box(g, n, (b[0] + b[2]) / 2, b[3]))
    return g


def other(values: Sequence[Any], current: Any, rng: np.random.Generator,
          exclude: Any = ()) -> Any:
    """One of ``values`` that is neither ``current`` nor in ``exclude``, drawn with ``rng``."""
    opts = [v for v in values if v != current and v not in exclude]
    return opts[int(rng.integers(len(opts)))]


def texture(cat: Category, g: CausalSceneGraph, size: int, rng: np.random.Generator,
            per_object: bool) -> list[Counterfactual]:
    """Each object in another colour (or material; never another object's) and, unless the
    category draws one shape only, as another shape (its boxes refitted by the category).
    ``per_object``: the questions are named per object (``obj0.colour``), as the checkers of
    two-object scenes name them."""
    out: list[Counterfactual] = []
    objs = g.nodes("object")
    for n in objs:
        pre = f"{n}." if per_object else ""
        a = g.node(n)["attrs"]
        key = "colour" if "colour" in a else "material"
        pal = COLOURS if key == "colour" else MATERIALS
        used = {g.attr(x, key) for x in objs}
        h = g.copy()
        h.graph.nodes[n]["attrs"][key] = other(list(pal), a[key], rng, exclude=used)
        out.append((pre + key, f"other {key}", render(h, size).image, g))
        if cat.object_shape is None:   # a balance holds cubes
            h = g.copy()
            h.graph.nodes[n]["attrs"]["shape"] = other(SHAPES, a["shape"], rng)
            cat.refit(h)
            out.append((pre + "shape", "other shape", render(h, size).image, g))
    return out


def doubled(g: CausalSceneGraph, size: int, rng: np.random.Generator) -> Image | None:
    """The render with a copy of one object pasted, whole, where the picture shows only wall or
    open ground (floor, sand, water) and no other node (a diffusion model's doubled object);
    None where no such place exists."""
    r = render(g, size)
    n = g.nodes("object")[int(rng.integers(len(g.nodes("object"))))]
    m = r.masks[n]
    busy = np.zeros_like(m)
    for k, v in r.masks.items():     # every node's pixels but the open ground's
        if k in g.graph and g.attr(k, "type") not in ("floor", "sand", "water"):
            busy |= np.asarray(v, bool)
    ys, xs = np.nonzero(m)
    w = xs.max() - xs.min() + 1
    shifts = [d for d in range(-size, size) if abs(d) >= w + 1 and 0 <= xs.min() + d and
              xs.max() + d < size]
    rng.shuffle(shifts)
    for d in shifts:
        dst = np.zeros_like(m)
        dst[ys, xs + d] = True
        if not (dst & busy).any():
            img = r.image.copy()
            img[ys, xs + d] = r.image[ys, xs]
            return img
    return None
