"""The generated CLIP BPE tokenizer: one token per domain word, fast == slow, unknown words."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import regex
from transformers import CLIPTokenizerFast

from lina_core.csg import CATEGORIES, from_prompt, to_prompt
from lina_core.pipelines.tokenizer import MAX_LENGTH, domain_words, write_tokenizer
from lina_core.toyworld.data import SPLITS, sample_scene

# CLIP's own pre-tokenizer pattern (openai/CLIP simple_tokenizer.py)
CLIP_PAT = regex.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|"""
                         r"""[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""", regex.IGNORECASE)


class SlowCLIP:
    """A pure-Python CLIP BPE tokenizer read from vocab.json/merges.txt, written after
    openai/CLIP's ``simple_tokenizer`` (independent of the code that generated the files)."""

    def __init__(self, folder: Path):
        self.encoder = json.loads((folder / "vocab.json").read_text())
        lines = (folder / "merges.txt").read_text().split("\n")[1:]
        merges = [tuple(m.split()) for m in lines if m.strip()]
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.bos, self.eos = self.encoder["<|startoftext|>"], self.encoder["<|endoftext|>"]

    def bpe(self, token: str) -> list[str]:
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        while len(word) > 1:
            pairs = {(a, b) for a, b in zip(word, word[1:])}
            first, second = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if (first, second) not in self.ranks:
                break
            new, i = [], 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                except ValueError:
                    new.extend(word[i:])
                    break
                new.extend(word[i:j])
                i = j
                if i < len(word) - 1 and word[i + 1] == second:
                    new.append(first + second)
                    i += 2
                else:
                    new.append(word[i])
                    i += 1
            word = tuple(new)
        return list(word)

    def tokenize(self, text: str) -> list[str]:
        text = " ".join(text.split()).lower()
        return [t for tok in CLIP_PAT.findall(text) for t in self.bpe(tok)]

    def ids(self, text: str) -> list[int]:
        unk = self.eos
        return [self.bos] + [self.encoder.get(t, unk) for t in self.tokenize(text)] + [self.eos]


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tokenizer")
    write_tokenizer(folder)
    return folder


@pytest.fixture(scope="module")
def tok(tok_dir):
    from transformers import CLIPTokenizer
    return CLIPTokenizer.from_pretrained(tok_dir)


@pytest.fixture(scope="module")
def fast_from_files(tok_dir, tmp_path_factory):
    """CLIPTokenizerFast converted from vocab.json + merges.txt alone (no tokenizer.json)."""
    bare = tmp_path_factory.mktemp("bare")
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(tok_dir / name, bare / name)
    return CLIPTokenizerFast(vocab=str(bare / "vocab.json"), merges=str(bare / "merges.txt"),
                             model_max_length=MAX_LENGTH, pad_token="<|endoftext|>")


@pytest.fixture(scope="module")
def slow(tok_dir):
    return SlowCLIP(tok_dir)


def captions() -> list[str]:
    out = []
    for split in SPLITS:
        for i in range(25):
            g = sample_scene(split, i).graph
            out += [to_prompt(g), to_prompt(g, explicit=True)]
    out += ["A Wooden Sphere in a glass of water!", "a tiny violet box on a rectangular mirror",
            "an iron block and a cork block on a seesaw, tilting down on the left",
            "a red ball bigger than a blue pyramid, the red one is bigger",
            "a yellow cone on the floor, lit from overhead, casting a shadow beneath it",
            "  extra   spaces\tand\nnewlines  on a mirror  "]
    assert {from_prompt(c).graph.category for c in out[:-1]} == set(CATEGORIES)
    return out


def test_write_tokenizer_files(tok_dir):
    for name in ("vocab.json", "merges.txt", "tokenizer_config.json"):
        assert (tok_dir / name).is_file(), name
    assert (tok_dir / "merges.txt").read_text().startswith("#version: 0.2\n")


def test_every_domain_word_is_one_token(tok, fast_from_files, slow):
    words = domain_words()
    assert len(words) > 100 and "reflection" in words and "submerged" in words
    vocab = tok.get_vocab()
    for w in words:
        assert w + "</w>" in vocab, w
        assert tok.tokenize(w) == [w + "</w>"], w
        assert fast_from_files.tokenize(w) == [w + "</w>"], w
        assert slow.tokenize(w) == [w + "</w>"], w
        assert tok(w, add_special_tokens=False).input_ids == [vocab[w + "</w>"]], w


def test_caption_words_are_all_in_the_vocabulary(tok):
    vocab = tok.get_vocab()
    for c in captions()[:-1]:
        for w in regex.findall(r"[a-z]+", c.lower()):
            assert w + "</w>" in vocab, (w, c)


def test_fast_from_files_matches_slow(tok, fast_from_files, slow):
    for c in captions():
        expected = slow.ids(c)
        assert fast_from_files(c).input_ids == expected, c
        assert tok(c).input_ids == expected, c


def test_captions_fit_max_length(tok):
    longest = max(len(tok(c).input_ids) for c in captions())
    assert longest <= MAX_LENGTH
    ids = tok(captions()[1], padding="max_length", max_length=MAX_LENGTH).input_ids
    assert len(ids) == MAX_LENGTH


@pytest.mark.parametrize("text", ["a zebra on a mirror", "a quokka", "xylophone",
                                  "a red ball beside 42 penguins", "Qwerty UIOP"])
def test_unknown_words_still_tokenize(tok, fast_from_files, slow, text):
    ids = tok(text).input_ids
    assert ids == slow.ids(text) == fast_from_files(text).input_ids
    unk = tok.convert_tokens_to_ids(tok.unk_token)
    # spelled letter by letter, never mapped to the unknown token
    assert unk not in ids[1:-1]
    decoded = tok.decode(ids, skip_special_tokens=True)
    if any(ch.isdigit() for ch in text):   # CLIP splits numbers into single digits
        assert decoded == "a red ball beside 4 2 penguins"
    else:
        assert decoded == " ".join(text.lower().split())
    for w in regex.findall(r"[a-z]+", text.lower()):
        if w + "</w>" not in tok.get_vocab():
            assert len(tok.tokenize(w)) > 1


def test_write_tokenizer_is_deterministic(tok_dir, tmp_path):
    write_tokenizer(tmp_path)
    for name in ("vocab.json", "merges.txt"):
        assert (tmp_path / name).read_text() == (tok_dir / name).read_text()


def test_write_tokenizer_custom_words(tmp_path):
    t = write_tokenizer(tmp_path, ["alpha", "beta", "alphabet"])
    for w in ("alpha", "beta", "alphabet"):
        assert t.tokenize(w) == [w + "</w>"]
    assert len(t.tokenize("gamma")) > 1


# ToyWorld v2 (issue 16): the new categories' words appended to the first vocabulary

SHIPPED_TOKENIZER = Path(__file__).resolve().parents[1] / "assets" / "toyworld" / "tokenizer"


def relational_captions() -> list[str]:
    from lina_core.csg import RELATIONAL_CATEGORIES
    from lina_core.toyworld.data import ALL_SPLITS
    return [sample_scene(split, i, cat).caption(ex) for cat in RELATIONAL_CATEGORIES
            for split in ALL_SPLITS for i in range(40) for ex in (False, True)]


@pytest.fixture(scope="module")
def ext_dir(tmp_path_factory, tok_dir) -> Path:
    from lina_core.pipelines.tokenizer import extend_tokenizer
    folder = tmp_path_factory.mktemp("tokenizer_relational")
    extend_tokenizer(tok_dir, folder)
    return folder


def test_shipped_tokenizer_is_the_default_vocabulary_extended(ext_dir):
    """The shipped model is the ToyWorld v2 fine-tune: the first vocabulary with RELATIONAL_WORDS
    appended (``train --finetune-from``)."""
    from transformers import AutoTokenizer, CLIPTokenizer
    shipped = AutoTokenizer.from_pretrained(SHIPPED_TOKENIZER)
    assert shipped.get_vocab() == CLIPTokenizer.from_pretrained(ext_dir).get_vocab()
    # the shipped model's embedding matrix has one row per token of it
    cfg = json.loads((SHIPPED_TOKENIZER.parent / "text_encoder" / "config.json").read_text())
    assert cfg["vocab_size"] == len(shipped)


def test_extended_tokenizer_keeps_every_id_and_merge(ext_dir, tok_dir, tok):
    from transformers import CLIPTokenizer
    ext = CLIPTokenizer.from_pretrained(ext_dir)
    old, new = tok.get_vocab(), ext.get_vocab()
    assert len(new) > len(old)
    assert {k: new[k] for k in old} == old               # every earlier token keeps its id
    assert sorted(set(new.values()) - set(old.values())) == list(range(len(old), len(new)))
    old_merges = (tok_dir / "merges.txt").read_text().splitlines()
    assert (ext_dir / "merges.txt").read_text().splitlines()[:len(old_merges)] == old_merges
    for c in captions()[:-1]:     # every caption of the first five encodes to the same ids
        assert ext(c).input_ids == tok(c).input_ids, c
    # (a word outside both vocabularies may spell differently: "spaces" now starts with "space")
    assert ext.tokenize("spaces") != tok.tokenize("spaces")


def test_extended_tokenizer_knows_every_relational_caption_word(ext_dir, tok):
    from lina_core.pipelines.tokenizer import RELATIONAL_WORDS, write_tokenizer
    from transformers import CLIPTokenizer
    ext, slow_ext = CLIPTokenizer.from_pretrained(ext_dir), SlowCLIP(ext_dir)
    missing_before = set()
    for c in relational_captions():
        assert slow_ext.ids(c) == ext(c).input_ids, c
        for w in regex.findall(r"[a-z]+", c.lower()):
            assert ext.tokenize(w) == [w + "</w>"], (w, c)
            if w + "</w>" not in tok.get_vocab():
                missing_before.add(w)
    assert {"top", "jar", "sand", "empty", "space", "close", "far", "off"} <= missing_before
    for w in ("near", "narrow", "broad", "beside"):       # grammar synonyms, not in captions
        assert ext.tokenize(w) == [w + "</w>"]
    assert set(RELATIONAL_WORDS) >= missing_before
    # write_tokenizer(extra=RELATIONAL_WORDS) builds the same files from scratch
    t2 = write_tokenizer(ext_dir.parent / "v2_from_scratch", extra=RELATIONAL_WORDS)
    assert t2.get_vocab() == ext.get_vocab()
