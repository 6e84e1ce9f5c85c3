"""How the five categories with causal rules read a prompt: the stated effects, the objects,
the category's own scene (surfaces, light, edges), then the rules (:mod:`lina_core.csg.rules`)
add the effects the prompt leaves unsaid, and those it named are marked explicit.  Their graph
recogniser finds the same pieces in an open-world graph (``find``, :mod:`.open_scene`) and
builds the scene the same way (``build``), so both paths give the same graph."""
from __future__ import annotations

from ...csg.graph import CausalSceneGraph
from ...csg.rules import add_implicit_effects
from ...csg.words import Tokens, add_objects, mark_stated, read_objects
from .base import Category
from .open_scene import OpenScene


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
        return self.build(objects, tok.canon, mirror, stated)

    def build(self, objects: list[dict[str, str]], canon: list[str], mirror: dict[str, str],
              stated: set[str]) -> tuple[CausalSceneGraph, list[dict[str, str]]]:
        """The graph of the stated ``objects`` (the category's defaults filled in), the scene
        (:meth:`add_scene`), the effects the rules add and those ``stated`` marked explicit,
        and the objects as stated: what the template reader and the graph recogniser share,
        so both build a scene alike."""
        as_stated = [dict(o) for o in objects]
        g = CausalSceneGraph(category=self.name)
        add_objects(g, objects, self.object_shape)
        self.add_scene(g, canon, mirror)
        add_implicit_effects(g)
        mark_stated(g, stated)
        return g, as_stated

    def find(self, scene: OpenScene) -> tuple[list[dict[str, str]], list[str],
                                               dict[str, str]] | None:
        """What :meth:`build` needs, read from the open graph: the objects as stated, the
        canonical words :meth:`add_scene` reads (the light's side, "smaller") and the
        mirror's attributes; None when the graph is no scene of this category."""
        return None

    def recognise(self, og: CausalSceneGraph
                  ) -> tuple[CausalSceneGraph, list[dict[str, str]]] | None:
        scene = OpenScene(og)
        found = self.find(scene)
        if found is None:
            return None
        g, as_stated = self.build(*found, scene.toy_stated())
        return (g, as_stated) if scene.complete(g) else None
