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
#: ToyWorld v2's words (issue 16: roles, fill, place): every word of their captions and the
#: synonyms their grammar reads.  :func:`write_tokenizer` (``extra=RELATIONAL_WORDS``) and
#: :func:`extend_tokenizer` append them *after* the first vocabulary, so every earlier token keeps
#: its id and a model trained on the first vocabulary can be fine-tuned with its token embedding
#: matrix resized (the new rows at the end).
RELATIONAL_WORDS = """top resting jar tall wide narrow broad sand soil empty space more filled middle well
close near next beside far away edge off""".split()


def known_categories(tokenizer) -> tuple[str, ...]:
    """The ToyWorld categories a model with this tokenizer was built for: each whose words
    beyond the first vocabulary (:attr:`~lina_core.toyworld.categories.Category.new_words`;
    none for the first five) are all single tokens of it (a model fine-tuned with
    :func:`extend_tokenizer`; the first model has none of them)."""
    from ..toyworld.categories import CATEGORIES
    vocab = tokenizer.get_vocab()
    return tuple(name for name, c in CATEGORIES.items()
                 if all(w + "</w>" in vocab for w in c.new_words))


def domain_words() -> list[str]:
    words = set(SYNONYMS) | set(FUNCTION_WORDS) | set(EFFECT_WORDS) | set(EXTRA_WORDS)
    return sorted(w for w in words if w.isalpha())


def write_tokenizer(folder: str | Path, words: list[str] | None = None,
                    extra: list[str] | tuple[str, ...] = ()) -> CLIPTokenizer:
    """Write vocab.json/merges.txt into ``folder`` and return the loaded tokenizer: ``words``
    (default :func:`domain_words`), then ``extra`` appended (their new tokens get the next ids)."""
    vocab: dict[str, int] = {}
    for sym in ["<|startoftext|>", "<|endoftext|>"] + [
            s + end for s in list("abcdefghijklmnopqrstuvwxyz") + [
                ",", ".", "!", "?", "'", "-", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
            for end in ("", "</w>")]:
        vocab.setdefault(sym, len(vocab))
    merges: list[tuple[str, str]] = []
    _append_words(vocab, merges, list(words or domain_words()) + list(extra))
    return _save(folder, vocab, merges)


def extend_tokenizer(src: str | Path, folder: str | Path,
                     words: list[str] | tuple[str, ...] = tuple(RELATIONAL_WORDS)) -> CLIPTokenizer:
    """The tokenizer in ``src`` (vocab.json + merges.txt, or a fast tokenizer.json) with
    ``words`` appended, written to ``folder``: every token of ``src`` keeps its id and every
    merge its rank, so each word ``src`` spelled as one token still is that token."""
    src = Path(src)
    if (src / "vocab.json").is_file():
        vocab = json.loads((src / "vocab.json").read_text())
        lines = (src / "merges.txt").read_text().split("\n")[1:]
        merges = [tuple(m.split()) for m in lines if m.strip()]
    else:
        model = json.loads((src / "tokenizer.json").read_text())["model"]
        vocab = dict(model["vocab"])
        merges = [tuple(m.split() if isinstance(m, str) else m) for m in model["merges"]]
    if sorted(vocab.values()) != list(range(len(vocab))):
        raise ValueError(f"tokenizer {src}: ids are not 0..{len(vocab) - 1}")
    _append_words(vocab, merges, list(words))
    return _save(folder, vocab, merges)


def _append_words(vocab: dict[str, int], merges: list[tuple[str, str]],
                  words: list[str]) -> None:
    """Append merges (and their tokens) until each of ``words`` is one token.  Run BPE with the
    merges so far; a merge appended last never fires inside a word that already assembles with
    earlier merges, so appending never changes how an earlier word tokenizes."""
    ranks = {m: i for i, m in enumerate(merges)}
    for w in words:
        pieces = _bpe(list(w[:-1]) + [w[-1] + "</w>"], ranks)
        while len(pieces) > 1:
            pair = (pieces[0], pieces[1])
            ranks[pair] = len(merges)
            merges.append(pair)
            vocab.setdefault(pair[0] + pair[1], len(vocab))
            pieces = _bpe(pieces, ranks)


def _save(folder: str | Path, vocab: dict[str, int],
          merges: list[tuple[str, str]]) -> CLIPTokenizer:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
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
