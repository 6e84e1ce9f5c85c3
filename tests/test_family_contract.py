"""A model family is one descriptor: its adapter (``lina_core/adapters.py``).  Everything else
that names families reads the adapters' table, so a family written only in this file, registered
for this test alone, is in the tests' family lists, gets a tiny pipeline, loads through the one
loader and passes the shared family suite (:mod:`family_suite`), with no other file touched."""
from __future__ import annotations

import pytest

from lina_core import adapters
from lina_core.adapters import (KINDS, ToyWorld, adapter_for, registered, tiny_adapter,
                                tiny_names, tiny_pipeline)
from lina_core.pipelines import registry, tiny_families
from lina_core.pipelines.toyworld import ToyWorldPipeline
from family_suite import loads_back, records_attention_and_leaves_the_pipeline
from test_attention import processors
from test_engine import same_state, snapshot


class RecipePipeline(ToyWorldPipeline):
    """A newcomer's pipeline class: ToyWorld's, under a name of its own."""


class Recipe(ToyWorld):
    """Its descriptor: the kind, the class the loader builds, the tiny test pipeline."""

    kind = "recipe"
    zerogpu_seconds_per_step = 0.07

    def pipeline_class(self) -> type:
        return RecipePipeline

    def tiny(self, folder, **options):
        pipe = RecipePipeline(**tiny_families.toyworld_pipeline(folder).components)
        pipe.set_progress_bar_config(disable=True)
        return pipe, {}


def test_every_registered_family_has_a_tiny_pipeline_and_a_zerogpu_rate():
    """No family in the table without its tiny test pipeline or its ZeroGPU seconds per step
    (``Adapter.tiny`` raises by default; a family that forgets it fails here)."""
    from app.zerogpu import seconds_per_step
    for kind, a in KINDS.items():
        assert kind in {tiny_adapter(v).kind for v in a.variants()}
        assert type(a).tiny is not adapters.Adapter.tiny, f"{kind}: no tiny pipeline"
        assert seconds_per_step(kind) == a.zerogpu_seconds_per_step


def test_a_family_defined_in_this_file_passes_the_family_suite(tmp_path):
    assert "recipe" not in tiny_names()
    with registered(Recipe, "RecipePipeline") as ad:
        # in every list derived from the table, and nowhere after the block
        assert "recipe" in tiny_names()
        from app.zerogpu import seconds_per_step
        assert seconds_per_step("recipe") == 0.07
        pipe, kw = tiny_pipeline("recipe", tmp_path / "tok")
        assert type(pipe) is RecipePipeline and adapter_for(pipe) is ad
        pipe.save_pretrained(tmp_path / "model", safe_serialization=True)
        loaded = loads_back(pipe, kw, tmp_path / "model", "recipe")
        assert type(loaded) is RecipePipeline
        assert registry.kind_of_folder(tmp_path / "model") == "recipe"
        records_attention_and_leaves_the_pipeline(pipe, kw, 3, processors, snapshot, same_state)
    assert "recipe" not in tiny_names() and "RecipePipeline" not in adapters.ADAPTERS


def test_a_family_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="registered already"):
        with registered(type("Again", (ToyWorld,), {"kind": "toyworld"}), "AgainPipeline"):
            pass
    assert KINDS["toyworld"].__class__ is ToyWorld and "AgainPipeline" not in adapters.ADAPTERS
