"""Training: fine-tuning an image model with the extended (ToyWorld v2) tokenizer, and
checkpoints that resume to exactly what an uninterrupted run gives (tiny model, a few steps)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lina_core import train as train_mod
from lina_core.csg import TOYWORLD_CATEGORIES
from lina_core.pipelines.tokenizer import RELATIONAL_WORDS, write_tokenizer
from lina_core.pipelines.toyworld import ToyWorldPipeline, build_pipeline
from lina_core.toyworld.data import write_split

RELATIONAL_PROMPT = "a tall jar with more sand than empty space"


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A tiny random-weight image model saved as a folder, on the first vocabulary."""
    root = tmp_path_factory.mktemp("base")
    write_tokenizer(root / "tok")
    pipe = build_pipeline(str(root / "tok"), 32, small=True, seed=0)
    pipe.save_pretrained(root / "model", safe_serialization=True)
    return root / "model"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data")
    write_split(out, "train", 16, size=32, categories=TOYWORLD_CATEGORIES)
    return out


def cfg(data: Path, out: Path, base: Path, **kw) -> train_mod.TrainConfig:
    args = dict(steps=4, batch=2, ckpt_every=2, warmup=1, threads=1, finetune_from=str(base))
    return train_mod.TrainConfig(data=str(data), out=str(out), **{**args, **kw})


def test_finetune_pipeline_extends_the_vocabulary_and_keeps_the_trained_rows(base, tmp_path):
    old = ToyWorldPipeline.from_pretrained(base, local_files_only=True)
    pipe = train_mod.finetune_pipeline(base, tmp_path / "tok")
    n_old = len(old.tokenizer)
    assert old.unknown_words(RELATIONAL_PROMPT) and pipe.unknown_words(RELATIONAL_PROMPT) == []
    assert len(pipe.tokenizer) > n_old
    assert pipe.text_encoder.config.vocab_size == len(pipe.tokenizer)
    w_old = old.text_encoder.get_input_embeddings().weight
    w = pipe.text_encoder.get_input_embeddings().weight
    assert w.shape == (len(pipe.tokenizer), w_old.shape[1])
    assert torch.equal(w[:n_old], w_old)
    assert torch.allclose(w[n_old:], w_old.mean(0).expand(w.shape[0] - n_old, -1))
    old_vocab = old.tokenizer.get_vocab()
    assert {k: pipe.tokenizer.get_vocab()[k] for k in old_vocab} == old_vocab
    # a first-five prompt embeds as before (same ids, same rows)
    p = "a large red ball on a small round mirror"
    with torch.no_grad():
        assert torch.equal(old.encode_prompt(p, do_classifier_free_guidance=False)[0],
                           pipe.encode_prompt(p, do_classifier_free_guidance=False)[0])


def test_finetune_refuses_a_video_model_and_both_sources(base, data, tmp_path):
    with pytest.raises(ValueError, match="give one"):
        train_mod.train(cfg(data, tmp_path / "x", base, init_from=str(base)), log=lambda m: 0)
    (tmp_path / "vid").mkdir()
    (tmp_path / "vid" / "model_index.json").write_text(
        json.dumps({"_class_name": "ToyWorldVideoPipeline"}))
    with pytest.raises(ValueError, match="not a ToyWorld image model"):
        train_mod.finetune_pipeline(tmp_path / "vid", tmp_path / "tok")


def _ckpt(out: Path) -> dict:
    c = out / "checkpoint"
    return {name: load_file(c / name) for name in ("unet.safetensors", "text_encoder.safetensors",
                                                   "ema.safetensors", "optimizer.safetensors")}


def test_finetune_resumes_exactly(base, data, tmp_path, monkeypatch):
    from lina_core.__main__ import main
    full = tmp_path / "full"
    assert main(["train", "--data", str(data), "--out", str(full), "--finetune-from", str(base),
                 "--steps", "4", "--batch", "2", "--ckpt-every", "2", "--warmup", "1",
                 "--threads", "1"]) == 0
    # the same run killed during step 3 (after the step-2 checkpoint), then resumed
    part = tmp_path / "part"
    real_step, calls = train_mod._train_step, []

    def dies_at_step_3(run, rng, gen):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(1)
        real_step(run, rng, gen)

    monkeypatch.setattr(train_mod, "_train_step", dies_at_step_3)
    with pytest.raises(KeyboardInterrupt):
        train_mod.train(cfg(data, part, base), log=lambda m: 0)
    monkeypatch.setattr(train_mod, "_train_step", real_step)
    assert json.loads((part / "checkpoint" / "state.json").read_text())["step"] == 2
    logs: list[str] = []
    train_mod.train(cfg(data, part, base), log=logs.append)
    assert "resumed at step 2" in logs
    a, b = _ckpt(full), _ckpt(part)
    for name in a:
        assert a[name].keys() == b[name].keys()
        for k in a[name]:
            assert torch.equal(a[name][k], b[name][k]), (name, k)
    sa = json.loads((full / "checkpoint" / "state.json").read_text())
    sb = json.loads((part / "checkpoint" / "state.json").read_text())
    assert sa["losses"] == sb["losses"] and len(sa["losses"]) == 4
    # the exported model knows the new words and samples a v2 prompt
    pipe = ToyWorldPipeline.from_pretrained(full / "model", local_files_only=True)
    assert pipe.unknown_words(RELATIONAL_PROMPT) == []
    assert all(pipe.tokenizer.tokenize(w) == [w + "</w>"] for w in RELATIONAL_WORDS)
    pipe.set_progress_bar_config(disable=True)
    im = pipe(RELATIONAL_PROMPT, num_inference_steps=2, generator=torch.Generator().manual_seed(0),
              output_type="np").images[0]
    assert im.shape == (32, 32, 3)


def test_resume_without_saved_generators_still_works(base, data, tmp_path):
    """A checkpoint written before the generator states were saved resumes (seed + step)."""
    out = tmp_path / "old"
    train_mod.train(cfg(data, out, base, steps=2), log=lambda m: 0)
    st = json.loads((out / "checkpoint" / "state.json").read_text())
    del st["rng"]
    (out / "checkpoint" / "state.json").write_text(json.dumps(st))
    (out / "checkpoint" / "rng.safetensors").unlink()
    logs: list[str] = []
    train_mod.train(cfg(data, out, base, steps=3), log=logs.append)
    assert "resumed at step 2" in logs
    assert len(json.loads((out / "checkpoint" / "state.json").read_text())["losses"]) == 3
