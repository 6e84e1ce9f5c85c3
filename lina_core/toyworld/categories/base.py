"""The protocol a ToyWorld scene category implements, and the one table of categories.

A category is one module of this package: a :class:`Category` subclass registered with
:func:`register`.  The generic code (the layout, the renderer, ...) looks a graph's category
up in :data:`CATEGORIES` instead of branching on its name, so adding a category touches no
generic module.  This module imports nothing of ``lina_core`` at run time: everything may look
categories up here without an import circle, and a category module may import the generic
building blocks (:mod:`..canvas`, :mod:`lina_core.csg.geometry`) it needs.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, TypeVar

if TYPE_CHECKING:
    import numpy as np

    from ...csg.graph import CausalSceneGraph
    from ...csg.words import Tokens
    from ..answers import Answers
    from ..canvas import Canvas
    from ..counterfactual import Counterfactual

#: ``jit(s)``: a draw in ``[-s, s]`` (0 for the canonical layout)
Jitter = Callable[[float], float]


class Category:
    """One ToyWorld scene category.  Subclass it, set :attr:`name`, override every method and
    register the class; the base methods raise so a forgotten one fails loudly."""

    #: the category's name, as graphs (``CausalSceneGraph.category``) and prompts' data carry it
    name: str = ""
    #: canonical words (:data:`lina_core.csg.words.SYNONYMS`) that name this scene in a prompt
    cue_words: frozenset[str] = frozenset()
    #: the grammar tries categories by increasing rank, so a prompt that cues two ("a ball on
    #: top of a cube on a mirror") is read as the one with the lower rank
    cue_rank: int = 0
    #: cue words that, beside another category's, make the open world read the prompt (a
    #: mirror and a light: ToyWorld keeps one effect, the open world both)
    open_world_cues: frozenset[str] = frozenset()
    #: how many object nodes a scene has (the reader, the validation and the verifier)
    objects: int = 0
    #: the surface type a scene cannot do without (None: none beyond the floor)
    surface: str | None = None
    #: its objects are told apart by material (else by colour)
    by_material: bool = False
    #: the one shape the category draws its objects as (None: the stated shape); the reader
    #: rewrites a stated one, and no counterfactual draws another
    object_shape: str | None = None
    #: whether :meth:`questions` asks ``count`` (each object drawn once, told by colour): not
    #: where objects are not told apart by a colour count (a ball and its water, stacked
    #: cubes, a jar and its fill); ``verify_eval`` then adds a "drawn twice" counterfactual
    counted: bool = False
    #: the words its captions (implicit and explicit) use that the first model's tokenizer
    #: lacks (``pipelines.tokenizer``): a model knows the category when each is one token
    new_words: tuple[str, ...] = ()
    #: for a category with no implicit effect (what it asserts is a relation, carried by edges
    #: and attributes no donor changes): the ``(node kind or surface type, attribute)`` slots a
    #: structure donor swaps (the appearance the relation was never seen with) and those a
    #: texture donor swaps (the layout the appearance was never seen in), as
    #: ``{"structure": (...), "texture": (...)}``; None: the donors keep the causal rules'
    #: parents and swap the rest (``lina_core.donors``)
    donor_slots: dict[str, tuple[tuple[str, str], ...]] | None = None
    #: the held-out combinations of a category not listed in ``toyworld/held_out.json`` (one
    #: defined outside the package, as a test's): ``{"combos": [...], "dev": [...]}``
    held_out: dict[str, Any] | None = None

    def read(self, tok: Tokens) -> tuple[CausalSceneGraph, list[dict[str, str]]]:
        """The graph of a prompt that cues this category (its words marked used in ``tok``,
        so the rest are reported unknown) and its objects as the prompt stated them (before
        the category's defaults: the grammar hands a prompt whose objects it rewrote to the
        open world).  Raise ``GraphError`` saying what the prompt lacks."""
        raise NotImplementedError(f"{self.name}: read")

    def recognise(self, og: CausalSceneGraph
                  ) -> tuple[CausalSceneGraph, list[dict[str, str]]] | None:
        """The graph of this category (before layout) that the open-world graph ``og`` states,
        and its objects as stated (as :meth:`read` returns them), read from ``og``'s entities,
        attributes, relations and stated effects only, never the sentence; None when ``og`` is
        not a scene of this category or states something the scene would drop (an extra
        entity, a colour on an object told by material, a second light: :mod:`.open_scene`).
        The grammar asks it when the templates cannot read a prompt or would lose part of
        it.  The default recognises nothing: a category without one is read by its templates
        only (a newcomer's category works before it has one)."""
        return None

    def caption(self, g: CausalSceneGraph, explicit: bool) -> str:
        """What a user would write for ``g`` (``explicit=False``), or its causal completion
        ``c+`` that states every effect; :meth:`read` must read either back to ``g``."""
        raise NotImplementedError(f"{self.name}: caption")

    def check(self, g: CausalSceneGraph) -> None:
        """Raise ``GraphError`` (naming the node or edge) for what a scene of this category
        needs beyond the shared checks (object count, required surface), which
        ``CausalSceneGraph.validate`` runs first; an edited graph must fail here, not in the
        renderer."""

    def layout(self, g: CausalSceneGraph, jit: Jitter) -> None:
        """Give every node of ``g`` a box in [0, 1]^2.  The renderer draws only from these
        boxes (so an edited graph renders as edited) and the verifier predicts from the same
        constants, so the geometry lives in one place; ``jit`` varies it for training data."""
        raise NotImplementedError(f"{self.name}: layout")

    def draw(self, cv: Canvas, g: CausalSceneGraph, floor: np.ndarray) -> None:
        """Paint the scene on ``cv`` (wall and floor are already there; ``floor`` is its mask)
        and mark each node's pixels with ``cv.mark``: the masks are how guidance, inpainting
        and the tests find a node, so every drawn node must have its own."""
        raise NotImplementedError(f"{self.name}: draw")

    def questions(self, g: CausalSceneGraph, img: np.ndarray, raw: np.ndarray) -> Answers:
        """The verifier's questions about a picture of ``g``: texture (each object's colour
        or material and shape) and physics (what the category is about), each True when the
        picture shows what the graph says.  ``img`` is the canonical 64 px picture denoised,
        ``raw`` before denoising (for fitting).  Built for generated pictures: find
        everything in the pixels (:mod:`..unmix`, :mod:`..blobs`, :mod:`..answers`), never
        from the layout boxes, and list in ``meas["undetermined"]`` the questions that failed
        only because their subject was not found; ``meas["physics_margin"]`` says how clearly
        the physics is right (> 0) or wrong."""
        raise NotImplementedError(f"{self.name}: questions")

    def refit(self, g: CausalSceneGraph) -> CausalSceneGraph:
        """``g``'s boxes recomputed by the layout's rules after an edit (another shape or
        size, an effect moved), keeping this scene's jitter read from its current boxes, so a
        counterfactual differs from the scene in the one thing it changes."""
        raise NotImplementedError(f"{self.name}: refit")

    def counterfactuals(self, g: CausalSceneGraph, size: int, rng: np.random.Generator
                        ) -> list[Counterfactual]:
        """Renders of ``g`` at ``size`` px with one thing wrong, each with the question that
        should then answer False (:mod:`..counterfactual`: the shared texture ones, and the
        tuple's form).  They measure how often the verifier rejects what it must reject, so
        every physics question needs at least one."""
        raise NotImplementedError(f"{self.name}: counterfactuals")

    def random_prompt(self, rng: np.random.Generator, more_share: float) -> str:
        """A random caption for the data generator (``data.sample_scene`` reads it and keeps
        it when its held-out key belongs to the split being drawn).  ``more_share``: the
        split's prior for a comparison the category draws skewed in train (the fill level,
        ``data.FILL_MORE_SHARE``); categories without one ignore it."""
        raise NotImplementedError(f"{self.name}: random_prompt")

    def held_out_key(self, g: CausalSceneGraph) -> tuple[str, ...]:
        """The attributes whose combination decides the split (``held_out.json``'s
        ``keys``): train never holds a held-out combination, so the out-of-distribution
        splits test composition, not memory."""
        raise NotImplementedError(f"{self.name}: held_out_key")

    def switched(self, prompt: str, rng: np.random.Generator) -> str:
        """The switch probe's counterfactual prompt ``c'`` of this category's caption
        ``prompt`` (:mod:`lina_core.insights.switching`): one texture attribute changed and, where a
        prompt can state another, the physics, so the probe can tell from which denoising step
        on each factor no longer follows the prompt.  ``rng`` picks the new colour or shape."""
        raise NotImplementedError(f"{self.name}: switched")

    # --- the clip (the video model's dynamic version of the scene); a category without one
    # leaves ``clip`` None and the methods below unimplemented

    #: the clip in words ("a ball falling onto a mirror"); None: the category has no clip
    clip: str | None = None
    #: where its clips come in the video data's cycle of clip kinds (``render.CLIP_KINDS``)
    clip_rank: int = 0
    #: the clip's temporal question: its name (saved runs and benches read it) and its words
    #: (``{obj}``: the scene's object, "the cube")
    temporal_question: str = ""
    temporal_words: str = ""

    def move(self, g: CausalSceneGraph, fg: CausalSceneGraph, t: float, last: bool) -> None:
        """Set the boxes (and what else moves) of ``fg``, a copy of the still scene ``g``, at
        time ``t`` in [0, 1] of the clip (``last``: its final frame, which is the still
        scene): the clip is drawn frame by frame from these graphs."""
        raise NotImplementedError(f"{self.name}: move")

    def rest_frames(self, frames: int) -> list[int]:
        """The frames at which the still scene's physics holds, where the verifier asks it
        (default: the first and the last)."""
        return [0, frames - 1]

    def clip_tracks(self, verdicts: list[Any]) -> dict[str, list[float | None]]:
        """Measurements followed across the frames for :meth:`temporal`, beyond the object's
        centre (``verify_video.track``)."""
        return {}

    def temporal(self, verdicts: list[Any], tracks: dict[str, list[float | None]],
                 obj: str = "object") -> tuple[bool, str]:
        """The clip's temporal question answered from every frame's verdict and the tracks
        (never the layout), with the reason in words."""
        raise NotImplementedError(f"{self.name}: temporal")

    def wrong_motion(self, g: CausalSceneGraph, frames: int) -> list[CausalSceneGraph]:
        """Per-frame graphs of the clip with a wrong motion, which the clip verifier must
        reject (``verify_eval.evaluate_clips``, the golden digest)."""
        raise NotImplementedError(f"{self.name}: wrong_motion")


#: every registered category by name, in registration order (the package registers ToyWorld's
#: eight in ``TOYWORLD_CATEGORIES``'s order)
CATEGORIES: dict[str, Category] = {}

C = TypeVar("C", bound=type)


def register(cls: C) -> C:
    """Class decorator: add one instance of ``cls`` to :data:`CATEGORIES` under its name."""
    if not cls.name:
        raise ValueError(f"{cls.__name__}: a category needs a name")
    CATEGORIES[cls.name] = cls()
    return cls


def unregister(name: str) -> None:
    """Take a category out of the table (a test's toy category, when the test is done)."""
    CATEGORIES.pop(name, None)


def category(name: object) -> Category | None:
    """The registered category called ``name``, else None (an open-world or unknown one)."""
    return CATEGORIES.get(name) if isinstance(name, str) else None
