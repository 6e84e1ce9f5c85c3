"""``fill``: a jar filled with sand, soil or water to a stated level ("a tall jar with more sand
than empty space" / "... with more empty space than sand").  Graph: ``fill -in-> jar -on->
floor``; the fill surface has ``material`` and ``level`` ("more": more material than empty
space, "less": less).  The exact level is the fill box's share of the jar's inside."""
from __future__ import annotations

import itertools
import re
from typing import Any

import numpy as np
from scipy import ndimage

from ...csg.geometry import FLOOR_Y, put
from ...csg.graph import CausalSceneGraph, GraphError
from ...csg.vocabulary import FILL_LEVELS, FILL_MATERIALS, JAR_SHAPES
from ...csg.words import JAR_AND_PLACE_WORDS, Tokens, use_words
from ..answers import Answers, fmt
from ..blobs import EIGHT
from ..canvas import FLOOR, GLASS, WALL, Canvas, box
from ..counterfactual import Counterfactual
from ..render import render
from ..unmix import unmix
from .base import Category, Jitter, register
from .open_scene import OpenScene

#: the words for a jar's shape
JAR_WORDS = {"tall": "tall", "narrow": "tall", "wide": "wide", "broad": "wide"}

#: a jar's inside (width, height) per shape; its glass wall and lid (fractions of the picture)
JAR_INSIDE = {"tall": (0.22, 0.44), "wide": (0.42, 0.30)}
JAR_GLASS = 0.025
JAR_LID = 0.04
#: the fill's share of the jar's inside: centre and half-range per level (never near 1/2)
FILL_SHARE = {"more": (0.74, 0.11), "less": (0.26, 0.11)}
JAR_EMPTY = np.array((200, 225, 235), np.float32)   #: a jar's empty inside (frosted glass)
LID_COLOUR = np.array((90, 95, 110), np.float32)


def fill_colour(material: str) -> np.ndarray:
    return np.array(FILL_MATERIALS[material], np.float32)


def fill_of(g: CausalSceneGraph) -> str | None:
    """The fill surface of a jar scene."""
    return g.surface("fill")


def fill_level(words: list[str], material: str) -> str:
    """"more" or "less" material than empty space, from the first comparative word and
    whether the material or the empty space comes first after it."""
    for i, w in enumerate(words):
        if w in ("more", "less"):
            rest = words[i + 1:]
            first_material = rest.index(material) if material in rest else len(rest)
            first_space = min([rest.index(s) for s in ("empty", "space") if s in rest],
                              default=len(rest))
            if first_material == first_space:
                break
            about_material = first_material < first_space
            return w if about_material else {"more": "less", "less": "more"}[w]
    raise GraphError("prompt: a jar scene says 'more' or 'less' of its material than empty "
                     "space ('a tall jar with more sand than empty space')")


def jar_inside(jar_box: list[float]) -> list[float]:
    """The inside of a jar drawn in ``jar_box`` (glass walls, bottom and lid removed)."""
    return [jar_box[0] + JAR_GLASS, jar_box[1] + JAR_LID, jar_box[2] - JAR_GLASS,
            jar_box[3] - JAR_GLASS]


# --- the questions (canonical px, RGB units 0..255)
TALL_MIN = 1.1         #: height / width of a jar's inside from which it is tall
MATERIAL_MIN = 1.0     #: alpha^2-weighted px of fill needed to name its material


def _jar_mix(img: np.ndarray) -> Any:
    bgs = [WALL, FLOOR, GLASS, JAR_EMPTY, LID_COLOUR]
    mats = [fill_colour(m) for m in FILL_MATERIALS]
    pairs = list(itertools.combinations(range(len(bgs)), 2))
    return unmix(img, bgs, mats, list(FILL_MATERIALS), pairs,
                  obj_over=lambda i, o: i in (2, 3))       # a fill shows over glass or empty


def _jar_inside(mix: Any) -> tuple[np.ndarray | None, dict[str, Any]]:
    """The jar's inside (its central columns: a bool mask) and its measurements: the level
    share and the inside's height / width."""
    inside = mix.share[..., 3] + mix.alpha
    lab, n = ndimage.label(inside >= 0.5, structure=EIGHT)
    if n == 0:
        return None, {}
    sizes = ndimage.sum(np.ones_like(inside), lab, range(1, n + 1))
    comp = lab == int(np.argmax(sizes)) + 1
    if comp.sum() < 12:
        return None, {}
    counts = comp.sum(0)
    central = counts >= 0.5 * counts.max()
    ys = np.nonzero(comp.any(1))[0]
    xs = np.nonzero(central)[0]
    rows = slice(max(ys.min() - 1, 0), ys.max() + 2)
    filled = float(mix.alpha[rows][:, central].sum())
    empty = float(mix.share[..., 3][rows][:, central].sum())
    share = filled / max(filled + empty, 1e-6)
    aspect = (ys.max() - ys.min() + 1) / (xs.max() - xs.min() + 1)
    core = np.zeros_like(comp)
    core[rows, xs.min() + 1:xs.max()] = True      # the central columns, less the glass's blur
    return comp & core, {"fill_share": share, "jar_aspect": float(aspect)}


def _filled_jar(g: CausalSceneGraph, cx: float, bottom: float, share: float) -> None:
    """The jar's inside centred at ``cx`` with its floor at ``bottom``, filled to ``share`` of
    its height (the layout's rule, and a counterfactual's refit)."""
    jar, fill = g.surface("jar"), fill_of(g)
    w, h = JAR_INSIDE[g.attr(jar, "shape")]
    put(g, jar, [cx - w / 2 - JAR_GLASS, bottom - h - JAR_LID, cx + w / 2 + JAR_GLASS,
                 bottom + JAR_GLASS])
    put(g, fill, [cx - w / 2, bottom - share * h, cx + w / 2, bottom])


def _jar_scene(category: str, shape: str, material: str, level: str) -> CausalSceneGraph:
    """A fill scene (of ``category``): the floor, the jar of ``shape`` on it, the fill of
    ``material`` at ``level`` in it."""
    g = CausalSceneGraph(category=category)
    g.add_node("floor", "surface", type="floor")
    g.add_node("jar", "surface", type="jar", shape=shape)
    g.add_node("fill", "surface", type="fill", material=material, level=level)
    g.add_edge("jar", "floor", "on")
    g.add_edge("fill", "jar", "in")
    return g


def _stated_jar(scene: OpenScene, jar: str) -> str | None:
    """The jar's shape from its one stated shape word (a size "tall" or a state "wide",
    "narrow", "broad"), "tall" when none; claimed; None for anything else said of it."""
    said = [str(v) for k, v in scene.attrs(jar).items() if k in ("size", "state")]
    if len(said) > 1 or not all(w in JAR_WORDS for w in said) or \
            not scene.plain(jar, ("size", "state")):
        return None
    return JAR_WORDS[said[0]] if said else "tall"


def _middle_agrees(scene: OpenScene, inside: tuple[str, str], side: str) -> bool:
    """Whether "the middle", where named ("filled above the middle"), is the jar's and the
    contents are on the ``side`` of it the level says (claimed and read if so)."""
    middles = scene.named("middle")
    if not middles:
        return True
    if len(middles) > 1 or not scene.plain(middles[0]):
        return False
    said = [rel for n in inside for rel in ("above", "under") if scene.has(n, rel, middles[0])]
    return bool(said) and set(said) == {side}


@register
class Fill(Category):
    name = "fill"
    cue_words = frozenset({"jar"})
    cue_rank = 20
    objects = 0
    surface = "jar"
    new_words = ("jar", "tall", "wide", "sand", "soil", "empty", "space", "more", "filled",
                 "middle")
    donor_slots = {"structure": (("fill", "material"),), "texture": (("jar", "shape"),)}

    def read(self, tok: Tokens) -> tuple[CausalSceneGraph, list[dict[str, str]]]:
        """A jar scene states no object (its words stay unknown)."""
        use_words(tok, JAR_AND_PLACE_WORDS)
        words = tok.canon
        material = next((w for w in words if w in FILL_MATERIALS), None)
        if material is None:
            raise GraphError(f"prompt: a jar scene is filled with one of "
                             f"{list(FILL_MATERIALS)}")
        shape = next((JAR_WORDS[w] for w in tok.words if w in JAR_WORDS), "tall")
        return _jar_scene(self.name, shape, material, fill_level(words, material)), []

    def recognise(self, og: CausalSceneGraph
                  ) -> tuple[CausalSceneGraph, list[dict[str, str]]] | None:
        """A jar (tall or wide, or unsaid: tall), one fill material in it and its empty
        space, one more or less than the other (either said of either)."""
        scene = OpenScene(og)
        jars, spaces = scene.named("jar"), scene.named("space")
        fills = [n for n in scene.entities if scene.noun(n) in FILL_MATERIALS]
        if len(jars) != 1 or len(spaces) != 1 or len(fills) != 1:
            return None
        jar, space, fill = jars[0], spaces[0], fills[0]
        shape = _stated_jar(scene, jar)
        filled = {"action": "fill"}          # "filled above the middle" says it of both
        if shape is None or scene.attrs(space) not in ({"state": "empty"},
                                                       {"state": "empty", **filled}) \
                or scene.attrs(fill) not in ({}, filled) or \
                not (scene.plain(space, ("state", "action")) and scene.plain(fill, ("action",))):
            return None
        scene.has(space, "in", jar)
        more = [scene.has(fill, "more than", space), scene.has(space, "less than", fill),
                scene.has(space, "fewer than", fill)]
        less = [scene.has(space, "more than", fill), scene.has(fill, "less than", space),
                scene.has(fill, "fewer than", space)]
        if not scene.has(fill, "in", jar) or any(more) == any(less) or \
                not _middle_agrees(scene, (fill, space), "above" if any(more) else "under"):
            return None
        g = _jar_scene(self.name, shape, scene.noun(fill), "more" if any(more) else "less")
        return (g, []) if scene.complete(g) else None

    def caption(self, g: CausalSceneGraph, explicit: bool) -> str:
        """``explicit`` adds how far the jar is filled (no implicit effect: it restates the
        graph's level)."""
        fill = fill_of(g)
        mat, level = g.attr(fill, "material"), g.attr(fill, "level")
        s = f"a {g.attr(g.surface('jar'), 'shape')} jar with " + (
            f"more {mat} than empty space" if level == "more" else
            f"more empty space than {mat}")
        if explicit:
            s += ", filled " + ("above" if level == "more" else "below") + " the middle"
        return s

    def check(self, g: CausalSceneGraph) -> None:
        jar, fill = g.surface("jar"), fill_of(g)
        if g.attr(jar, "shape") not in JAR_SHAPES:
            raise GraphError(f"node {jar!r}: a jar needs attribute 'shape' (one of "
                             f"{list(JAR_SHAPES)})")
        if fill is None or g.attr(fill, "material") not in FILL_MATERIALS or \
                g.attr(fill, "level") not in FILL_LEVELS:
            raise GraphError(f"nodes: a fill scene needs a surface node with type='fill', "
                             f"'material' (one of {list(FILL_MATERIALS)}) and 'level' (one of "
                             f"{list(FILL_LEVELS)})")

    def layout(self, g: CausalSceneGraph, jit: Jitter) -> None:
        cx = 0.5 + jit(0.12)
        bottom = 0.86 + jit(0.03)
        centre, half = FILL_SHARE[g.attr(fill_of(g), "level")]
        _filled_jar(g, cx, bottom, centre + jit(half))
        put(g, g.surface("floor"), [0.0, FLOOR_Y, 1.0, 1.0])

    def draw(self, cv: Canvas, g: CausalSceneGraph, floor: np.ndarray) -> None:
        """A glass jar (walls, bottom, a lid), its empty inside, and the fill from the bottom
        up."""
        jar = g.surface("jar")
        jb = box(g, jar)
        outer = cv.rect(jb)
        inside = cv.rect(jar_inside(jb))
        lid = cv.rect([jb[0] - 0.01, jb[1], jb[2] + 0.01, jb[1] + JAR_LID])
        cv.paint(outer, GLASS)
        cv.paint(inside, JAR_EMPTY)
        cv.paint(lid, LID_COLOUR)
        cv.mark(jar, outer | lid)
        f = fill_of(g)
        fm = cv.rect(box(g, f)) & inside
        cv.paint(fm, fill_colour(g.attr(f, "material")))
        cv.mark(f, fm)

    def questions(self, g: CausalSceneGraph, img: np.ndarray, raw: np.ndarray) -> Answers:
        mix = _jar_mix(img)
        ans = Answers()
        jar, fill = g.surface("jar"), fill_of(g)
        want_mat, level = g.attr(fill, "material"), g.attr(fill, "level")
        want_shape = g.attr(jar, "shape")
        comp, meas = _jar_inside(mix)
        ans.meas.update(meas)
        if comp is None:
            ans.texture.update(material=False, jar_shape=False)
            ans.physics["fill_level"] = False
            ans.meas["undetermined"] = ["fill_level"]
            ans.per_node[jar] = "no jar found"
            return ans
        votes: dict[str, float] = {}
        sel = comp & (mix.obj >= 0)       # a thin fill at 32 px is a blurred line: every share votes
        for idx, wgt in zip(mix.obj[sel], mix.alpha[sel] ** 2):
            votes[mix.names[idx]] = votes.get(mix.names[idx], 0.0) + float(wgt)
        seen_mat = max(votes, key=votes.get) if sum(votes.values()) >= MATERIAL_MIN else "none"
        seen_shape = "tall" if meas["jar_aspect"] >= TALL_MIN else "wide"
        share = meas["fill_share"]
        seen_level = "more" if share > 0.5 else "less"
        ans.texture.update(material=seen_mat == want_mat, jar_shape=seen_shape == want_shape)
        ans.meas.update(material=seen_mat, jar_shape=seen_shape)
        ans.physics["fill_level"] = seen_level == level
        ans.meas["physics_margin"] = (share - 0.5) / 0.5 * (1 if level == "more" else -1)
        ans.per_node[jar] = f"{seen_shape} jar (inside {fmt(meas['jar_aspect'])} x as tall as " \
                            f"wide)" + ("" if seen_shape == want_shape else f", expected {want_shape}")
        ans.per_node[fill] = f"{seen_mat}, {100 * share:.0f}% of the jar: {seen_level} than " \
                             f"empty space" + ("" if seen_level == level else f" (expected {level})")
        return ans

    def refit(self, g: CausalSceneGraph) -> CausalSceneGraph:
        """Keeps the jar's centre and bottom and the fill's share of its inside."""
        old = jar_inside(g.node(g.surface("jar"))["box"])
        share = (old[3] - g.node(fill_of(g))["box"][1]) / (old[3] - old[1])
        _filled_jar(g, (old[0] + old[2]) / 2, old[3], share)
        return g

    def counterfactuals(self, g: CausalSceneGraph, size: int, rng: np.random.Generator
                        ) -> list[Counterfactual]:
        """The other level (the fill's share ``s`` drawn as ``1 - s``); another fill
        material; the other jar shape (no object, so no shared texture ones)."""
        out = []
        h = g.copy()
        jar, fill = h.surface("jar"), fill_of(h)
        inside = jar_inside(h.node(jar)["box"])
        fb = h.node(fill)["box"]
        share = (inside[3] - fb[1]) / (inside[3] - inside[1])
        fb[1] = inside[3] - (1.0 - share) * (inside[3] - inside[1])
        out.append(("fill_level", "the other level", render(h, size).image, g))
        h = g.copy()
        mat = g.attr(fill, "material")
        others = [m for m in FILL_MATERIALS if m != mat]
        h.node(fill)["attrs"]["material"] = others[int(rng.integers(len(others)))]
        out.append(("material", "other material", render(h, size).image, g))
        h = g.copy()
        h.node(jar)["attrs"]["shape"] = next(s for s in JAR_SHAPES if s != g.attr(jar, "shape"))
        out.append(("jar_shape", "other jar shape", render(self.refit(h), size).image, g))
        return out

    def random_prompt(self, rng: np.random.Generator, more_share: float) -> str:
        """A jar at a level drawn with the prior ``more_share``."""
        pick = lambda xs: xs[int(rng.integers(len(xs)))]  # noqa: E731
        mat, jar = pick(list(FILL_MATERIALS)), pick(JAR_SHAPES)
        more = bool(rng.random() < more_share)
        return f"a {jar} jar with " + (f"more {mat} than empty space" if more else
                                       f"more empty space than {mat}")

    def held_out_key(self, g: CausalSceneGraph) -> tuple[str, ...]:
        """(material, jar shape): the level is a prior, not held out."""
        return (g.attr(fill_of(g), "material"), g.attr(g.surface("jar"), "shape"))

    def switched(self, prompt: str, rng: np.random.Generator) -> str:
        """The other level (more material <-> more empty space) in the other jar shape."""
        jar, rest = re.match(r"an? (\w+) jar with (.+)$", prompt).groups()
        less = re.match(r"more empty space than (\w+)$", rest)
        more = re.match(r"more (\w+) than empty space$", rest)
        level = f"more {less.group(1)} than empty space" if less else \
            f"more empty space than {more.group(1)}"
        return f"a {'wide' if jar == 'tall' else 'tall'} jar with {level}"
