"""How the five categories with causal rules read a prompt: the stated effects, the objects,
the category's own scene (surfaces, light, edges), then the rules (:mod:`lina_core.csg.rules`)
add the effects the prompt leaves unsaid, and those it named are marked explicit."""
from __future__ import annotations

from ...csg.graph import CausalSceneGraph
from ...csg.rules import add_implicit_effects
from ...csg.words import Tokens, add_objects, mark_stated, read_objects
from .base import Category


class CausedCategory(Category):
    """A category whose graph the causal rules complete; subclasses say what their scene adds
    (:meth:`add_scene`) and which side words it reads."""

    def side_word(self, c: str, stated: set[str]) -> bool:
        """Whether the scene consumes the side word ``c`` ("left", "right", "above": the
        light's side, a stated tilt's); the others stay unknown."""
        return False

    def add_scene(self, g: CausalSceneGraph, canon: list[str], mirror: dict[str, str]) -> None:
        """The scene's surfaces, light and spatial edges (``canon``: the prompt's canonical
        words; ``mirror``: the size and shape said before "mirror")."""
        raise NotImplementedError(f"{self.name}: add_scene")

    def read(self, tok: Tokens) -> tuple[CausalSceneGraph, list[dict[str, str]]]:
        stated = tok.stated_effects()
        objects, mirror = read_objects(tok, lambda c: self.side_word(c, stated))
        as_stated = [dict(o) for o in objects]
        g = CausalSceneGraph(category=self.name)
        add_objects(g, objects, self.object_shape)
        self.add_scene(g, tok.canon, mirror)
        add_implicit_effects(g)
        mark_stated(g, stated)
        return g, as_stated
