"""Which ToyWorld categories a model knows (its vocabulary), and the app's verdicts and presets
for them: a model with the first vocabulary knows the first five; one whose tokenizer has the
ToyWorld v2 words (the shipped fine-tune) gets roles, fill and place too."""
from __future__ import annotations

from pathlib import Path

import pytest

from lina_core import grid
from lina_core.csg import CATEGORIES, TOYWORLD_CATEGORIES, RELATIONAL_CATEGORIES, from_prompt
from lina_core.pipelines.tokenizer import RELATIONAL_WORDS, known_categories, write_tokenizer
from lina_core.toyworld.categories import CATEGORIES as TABLE
from lina_core.pipelines.toyworld import build_pipeline
from lina_core.toyworld.data import RELATIONAL_INDEX_BASE, sample_scene, scene_index
from lina_core.toyworld.render import render

SHIPPED_TOKENIZER = Path(__file__).resolve().parents[1] / "assets" / "toyworld" / "tokenizer"


def tiny(folder: Path, extra=()):
    write_tokenizer(folder, extra=extra)
    pipe = build_pipeline(str(folder), 32, small=True, seed=0)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def old_pipe(tmp_path_factory):
    return tiny(tmp_path_factory.mktemp("old"))


@pytest.fixture(scope="module")
def relational_pipe(tmp_path_factory):
    return tiny(tmp_path_factory.mktemp("v2"), RELATIONAL_WORDS)


def test_first_vocabulary_knows_the_first_five_and_the_shipped_one_all_eight(old_pipe):
    from transformers import AutoTokenizer
    assert known_categories(old_pipe.tokenizer) == CATEGORIES
    assert known_categories(AutoTokenizer.from_pretrained(SHIPPED_TOKENIZER)) == \
        TOYWORLD_CATEGORIES


def test_extended_tokenizer_knows_all_eight(relational_pipe, tmp_path):
    assert known_categories(relational_pipe.tokenizer) == TOYWORLD_CATEGORIES
    # one missing word drops its category, and only that one
    t = write_tokenizer(tmp_path, extra=[w for w in RELATIONAL_WORDS if w != "jar"])
    assert known_categories(t) == CATEGORIES + ("roles", "place")


def test_category_words_cover_the_captions(old_pipe):
    """Each relational category's caption words are the first vocabulary's or its
    ``new_words``."""
    import re
    old = old_pipe.tokenizer.get_vocab()
    for cat in RELATIONAL_CATEGORIES:
        words = {w for i in range(60) for ex in (False, True)
                 for w in re.findall(r"[a-z]+", sample_scene("train", i, cat).caption(ex))}
        assert {w for w in words if w + "</w>" not in old} == set(TABLE[cat].new_words), cat


def test_grid_categories_follow_the_vocabulary(old_pipe, relational_pipe):
    from lina_core.pipelines.toyworld_video import inflate
    assert grid.categories(old_pipe) == CATEGORIES
    assert grid.categories(relational_pipe) == TOYWORLD_CATEGORIES
    assert grid.categories(inflate(old_pipe)) == ("reflection", "buoyancy", "shadow")


def test_scene_index_keeps_the_first_fives_scenes():
    for i in range(4):
        for cat in CATEGORIES:
            want = i * 5 + CATEGORIES.index(cat)
            assert scene_index(i, cat, CATEGORIES) == want
            assert scene_index(i, cat, TOYWORLD_CATEGORIES) == want
    v2 = {scene_index(i, c, TOYWORLD_CATEGORIES) for i in range(50) for c in RELATIONAL_CATEGORIES}
    assert len(v2) == 150 and min(v2) == RELATIONAL_INDEX_BASE
    clip = ("reflection", "buoyancy", "shadow")
    assert [scene_index(1, c, clip) for c in clip] == [3, 4, 5]


def test_grid_items_of_the_eight(relational_pipe):
    cats = grid.categories(relational_pipe)
    items = grid.work_items(["dev-ood"], 1, [0], cats)
    assert [it["category"] for it in items] == list(TOYWORLD_CATEGORIES)
    for it in items:
        s = grid.scene(it, cats)
        assert s.category == it["category"] and s.graph.is_toyworld
        if it["category"] in CATEGORIES:     # the same scene as a five-category grid draws
            assert s.seed == grid.scene(it, CATEGORIES).seed


# ------------------------------------------------------------------ the app


@pytest.fixture
def handle():
    from app import state
    from lina_core.service import ModelService
    before = state.HANDLE
    yield lambda pipe: state.set_handle(ModelService("toyworld", pipe=pipe, threads=1))
    state.HANDLE = before


@pytest.mark.parametrize("cat", RELATIONAL_CATEGORIES)
def test_verdicts_for_relational_scenes_follow_the_model(cat, old_pipe, relational_pipe, handle):
    from app.verdicts import verdict
    g = sample_scene("dev-ood", 0, cat).graph
    truth = render(g, 64).image
    ok = verdict(truth, g)                       # the ground truth: judged, whichever model
    assert "no_verifier" not in ok and "error" not in ok and ok["physics"]
    handle(old_pipe)
    v = verdict(truth, g, "toyworld")
    assert "not trained on them" in v["no_verifier"]
    # a first-five scene is judged as before
    g5 = sample_scene("dev-ood", 0, "shadow").graph
    assert "no_verifier" not in verdict(render(g5, 64).image, g5, "toyworld")
    handle(relational_pipe)
    v = verdict(truth, g, "toyworld")
    assert "no_verifier" not in v and "error" not in v
    assert v["physics"] == ok["physics"]


def test_generate_and_judge_a_relational_prompt_with_the_extended_model(relational_pipe, handle):
    from app import state
    from app.verdicts import verdict
    from lina_core.interventions import InterventionSpec
    h = handle(relational_pipe)
    assert h.categories() == TOYWORLD_CATEGORIES
    r = from_prompt("a tall jar with more empty space than sand")
    spec = InterventionSpec(prompt="a tall jar with more empty space than sand", steps=2,
                            seed=0, graph=r.graph.to_dict()).validate()
    out = state.generate("toyworld", spec.to_dict())
    v = verdict(out["image"], r.graph, "toyworld")
    assert "no_verifier" not in v and "error" not in v
    assert set(v["physics"]) == {"fill_level"}


def test_presets_follow_the_model(old_pipe, relational_pipe, handle):
    from app import presets
    assert presets.lina_presets(CATEGORIES) == presets.LINA_PRESETS
    assert presets.lina_presets(handle(old_pipe).categories()) == presets.LINA_PRESETS
    more = presets.lina_presets(handle(relational_pipe).categories())
    assert more[:len(presets.LINA_PRESETS)] == presets.LINA_PRESETS
    extra = more[len(presets.LINA_PRESETS):]
    assert len(extra) == 3
    cats = []
    for label, prompt, seed in extra:
        r = from_prompt(prompt)
        assert not r.unknown_words and relational_pipe.unknown_words(prompt) == []
        cats.append(r.graph.category)
    assert cats == list(RELATIONAL_CATEGORIES)
    # every v2 preset is a held-out (dev-ood) scene, measured there; the jar the prior's rare side
    from lina_core.toyworld.data import split_of
    assert [split_of(from_prompt(p).graph) for _, p, _ in extra] == ["dev-ood"] * 3
    assert "more empty space" in extra[1][1] and all("dev-ood:" in lb for lb, _, _ in extra)
