"""Lay a scene graph out on an image: move its boxes to where the model drew the first object.

The model places objects where it likes, not at the graph's canonical layout; CSG-guided masks
(inpainting, latent guidance) must follow the image.  We find the first object by its stated colour
(or material) and translate every box by the same offset, so implicit effects keep their place
relative to their causes.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..csg import COLOURS, MATERIALS, CausalSceneGraph


def find_object(image: np.ndarray, graph: CausalSceneGraph, node: str = "obj0",
                tol: float = 60.0) -> list[float] | None:
    """Normalised box [x0, y0, x1, y1] of the largest blob of ``node``'s colour, or None."""
    a = graph.node(node)["attrs"]
    ref = np.array(COLOURS[a["colour"]] if "colour" in a else MATERIALS[a.get("material",
                                                                              "wood")], float)
    img = image.astype(float)
    close = np.linalg.norm(img - ref, axis=-1) < tol
    lab, n = ndimage.label(close)
    if n == 0:
        return None
    sizes = ndimage.sum(close, lab, range(1, n + 1))
    k = int(np.argmax(sizes)) + 1
    if sizes[k - 1] < 3:
        return None
    ys, xs = np.nonzero(lab == k)
    h, w = close.shape
    return [xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h]


def align_layout(graph: CausalSceneGraph, image: np.ndarray) -> CausalSceneGraph:
    """A copy of ``graph`` whose boxes are shifted so obj0 sits where the image shows it."""
    g = graph.copy()
    objs = g.nodes("object")
    if not objs or g.node(objs[0])["box"] is None:
        return g
    found = find_object(image, g, objs[0])
    if found is None:
        return g
    b = g.node(objs[0])["box"]
    dx = (found[0] + found[2]) / 2 - (b[0] + b[2]) / 2
    dy = found[3] - b[3]
    for n in g.graph.nodes:
        box = g.node(n)["box"]
        if box is None:
            continue
        x0, y0, x1, y1 = box
        g.graph.nodes[n]["box"] = [float(np.clip(x0 + dx, 0, 1)), float(np.clip(y0 + dy, 0, 1)),
                                   float(np.clip(x1 + dx, 0, 1)), float(np.clip(y1 + dy, 0, 1))]
    return g.validate()
