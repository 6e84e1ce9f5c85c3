"""A CLIP BPE tokenizer whose vocabulary is generated from the PAP-Toy grammar.

vocab.json holds the special tokens, every letter with and without ``</w>``, and for each domain
word the chain of merges that assembles it, so any word still tokenizes (letter by letter at worst)
and ``CLIPTokenizerFast`` converts it with identical ids.
"""
from __future__ import annotations

import json
from pathlib import Path

from transformers import CLIPTokenizer

from ..csg import EFFECT_WORDS, FUNCTION_WORDS, SYNONYMS

MAX_LENGTH = 40
EXTRA_WORDS = """a the on of in and its it to floor lit from casting shadow beneath reflection appears
mirror below beaker water floating at surface sunk bottom submerged part bent by refraction cube
balance beam tilting down left right one is bigger larger smaller than above""".split()


def domain_words() -> list[str]:
    words = set(SYNONYMS) | set(FUNCTION_WORDS) | set(EFFECT_WORDS) | set(EXTRA_WORDS)
    return sorted(w for w in words if w.isalpha())


def write_tokenizer(folder: str | Path, words: list[str] | None = None) -> CLIPTokenizer:
    """Write vocab.json/merges.txt into ``folder`` and return the loaded tokenizer."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab: dict[str, int] = {}

    def add(tok: str) -> None:
        if tok not in vocab:
            vocab[tok] = len(vocab)

    add("<|startoftext|>")
    add("<|endoftext|>")
    for sym in list("abcdefghijklmnopqrstuvwxyz") + [",", ".", "!", "?", "'", "-", "0", "1",
                                                     "2", "3", "4", "5", "6", "7", "8", "9"]:
        add(sym)
        add(sym + "</w>")
    merges: list[tuple[str, str]] = []
    ranks: dict[tuple[str, str], int] = {}
    for w in words or domain_words():
        # run BPE with the merges so far; append merges until the word is one token. A merge
        # appended last never fires inside a word that already assembles with earlier merges.
        pieces = _bpe(list(w[:-1]) + [w[-1] + "</w>"], ranks)
        while len(pieces) > 1:
            pair = (pieces[0], pieces[1])
            ranks[pair] = len(merges)
            merges.append(pair)
            add(pair[0] + pair[1])
            pieces = _bpe(pieces, ranks)
    (folder / "vocab.json").write_text(json.dumps(vocab, indent=0))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges)
                                       + "\n")
    tok = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"),
                        model_max_length=MAX_LENGTH, pad_token="<|endoftext|>")
    tok.save_pretrained(folder)
    return tok


def _bpe(pieces: list[str], ranks: dict[tuple[str, str], int]) -> list[str]:
    """CLIP's BPE loop: merge the lowest-ranked adjacent pair until none applies."""
    pieces = list(pieces)
    while len(pieces) > 1:
        pairs = [(ranks.get((a, b), 1 << 30), i) for i, (a, b) in
                 enumerate(zip(pieces, pieces[1:]))]
        rank, _ = min(pairs)
        if rank == 1 << 30:
            break
        a_b = next((a, b) for a, b in zip(pieces, pieces[1:]) if ranks.get((a, b)) == rank)
        out, i = [], 0
        while i < len(pieces):
            if i < len(pieces) - 1 and (pieces[i], pieces[i + 1]) == a_b:
                out.append(pieces[i] + pieces[i + 1])
                i += 2
            else:
                out.append(pieces[i])
                i += 1
        pieces = out
    return pieces
