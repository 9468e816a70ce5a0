"""A bilingual dictionary induced from line-aligned text: Dice over aligned lines, mutual best.

For words s (first language) and t (second), with c(s) the number of lines
holding s, c(t) likewise, and c(s, t) the number of aligned line pairs holding
both, Dice(s, t) = 2 c(s, t) / (c(s) + c(t)) (Smadja et al., 1996; Och & Ney's
baseline). A pair is kept when each word is the other's best match by Dice
(ties: the more frequent partner) and the two occur together in at least
`min_count` line pairs, so rare coincidences do not count.

The words are the trainer's own tokens (the corpus reader's tokenizer and
lowercasing): `dice_pairs` works on encoded ids, `induce_dictionary` reads files.
Training uses it for `[[dictionary]] induced_from = "<parallel name>"`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from mtlembed.errors import ConfigError

__all__ = ["InducedPairs", "dice_pairs", "induce_dictionary", "pairs_from_encoded"]

MIN_COUNT = 3  # default: aligned lines a pair must share


class InducedPairs(NamedTuple):
    """Induced pairs, best Dice first: row ids of each side, their Dice and line co-occurrences."""

    src: np.ndarray    # int64 ids of the first side
    tgt: np.ndarray    # int64 ids of the second side
    dice: np.ndarray   # float64
    count: np.ndarray  # int64, lines holding both


def _check_min_count(min_count: int) -> None:
    if min_count < 1:
        raise ConfigError(f"min_count (aligned lines a pair must share) must be >= 1, got {min_count}")


def _incidence(tokens: np.ndarray, offsets: np.ndarray, first_id: int, n_ids: int):
    """Lines x words, 1 where the line holds the word (scipy CSR)."""
    from mtlembed.model import _optional

    with _optional("scipy"):  # not a default dependency: only induction needs it
        from scipy import sparse

    columns = np.asarray(tokens, dtype=np.int64) - first_id
    if columns.size and (columns.min() < 0 or columns.max() >= n_ids):
        raise ConfigError(f"dice_pairs: token ids outside {first_id}..{first_id + n_ids - 1}")
    matrix = sparse.csr_matrix((np.ones(len(columns), np.float32), columns, np.asarray(offsets, np.int64)),
                               shape=(len(offsets) - 1, n_ids))
    matrix.sum_duplicates()
    matrix.data[:] = 1  # presence: a word repeated in a line counts once
    return matrix


def dice_pairs(first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray],
               first_range: tuple[int, int], second_range: tuple[int, int],
               min_count: int = MIN_COUNT) -> InducedPairs:
    """Mutual-best Dice pairs of two line-aligned encoded sides.

    `first` / `second` are (tokens, offsets): line i is tokens[offsets[i]:offsets[i + 1]];
    `first_range` / `second_range` the [begin, end) ids each side's words take.
    """
    _check_min_count(min_count)
    if len(first[1]) != len(second[1]):
        raise ConfigError(f"dice_pairs: the two sides are not line-aligned ({len(first[1]) - 1} and "
                          f"{len(second[1]) - 1} lines)")
    a = _incidence(*first, first_range[0], first_range[1] - first_range[0])
    b = _incidence(*second, second_range[0], second_range[1] - second_range[0])
    lines_a = np.asarray(a.sum(axis=0)).ravel()
    lines_b = np.asarray(b.sum(axis=0)).ravel()
    both = (a.T.tocsr() @ b).tocoo()  # lines holding both words, for every pair seen together
    keep = both.data >= min_count
    rows, cols, count = both.row[keep].astype(np.int64), both.col[keep].astype(np.int64), both.data[keep]
    dice = 2.0 * count / (lines_a[rows] + lines_b[cols])
    forward = _best(rows, cols, dice, lines_b[cols])
    backward = _best(cols, rows, dice, lines_a[rows])
    mutual = forward & backward
    order = np.lexsort((cols[mutual], rows[mutual], -dice[mutual]))  # best first; ties by ids: deterministic
    return InducedPairs(rows[mutual][order] + first_range[0], cols[mutual][order] + second_range[0],
                        dice[mutual][order], count[mutual][order].astype(np.int64))


def _best(keys: np.ndarray, partners: np.ndarray, score: np.ndarray, partner_lines: np.ndarray) -> np.ndarray:
    """True at the entry that is its key's best (highest score, then the more frequent partner, then the
    lower id)."""
    order = np.lexsort((partners, -partner_lines, -score, keys))
    first = np.ones(len(order), bool)
    first[1:] = keys[order][1:] != keys[order][:-1]
    chosen = np.zeros(len(order), bool)
    chosen[order[first]] = True
    return chosen


def pairs_from_encoded(data, which: Sequence[int], langs: tuple[str, str],
                       min_count: int = MIN_COUNT) -> list[tuple[str, str]]:
    """The (first-language word, second-language word) pairs induced from parallel texts `which`
    (indices into data.parallel, all of the language pair `langs`) of an EncodedCorpus."""
    vocab = data.vocab
    first_range, second_range = vocab.range_of(langs[0]), vocab.range_of(langs[1])
    sides = [data.parallel[i] for i in which]
    first = _concatenated([s[0] for s in sides])
    second = _concatenated([s[1] for s in sides])
    found = dice_pairs(first, second, first_range, second_range, min_count)
    return [(vocab.words[s], vocab.words[t]) for s, t in zip(found.src, found.tgt)]


def _concatenated(encoded) -> tuple[np.ndarray, np.ndarray]:
    """Several Encoded texts as one (tokens, offsets)."""
    tokens = np.concatenate([np.asarray(e.tokens) for e in encoded])
    offsets, base = [np.zeros(1, np.int64)], 0
    for e in encoded:
        offsets.append(np.asarray(e.offsets[1:], np.int64) + base)
        base += int(e.offsets[-1])
    return tokens, np.concatenate(offsets)


def induce_dictionary(files: Sequence[tuple[str | os.PathLike, str | os.PathLike]],
                      langs: tuple[str, str] = ("src", "tgt"), lowercase: bool = False,
                      min_count: int = MIN_COUNT, threads: int = 0) -> list[tuple[str, str, float, int]]:
    """Reads line-aligned file pairs (first language first) with the trainer's tokenizer and returns
    (first word, second word, Dice, lines holding both), best first."""
    from mtlembed.config import TrainConfig
    from mtlembed.encode import read_corpus
    from mtlembed.tasks import ParallelSpec, TaskSpec

    if not files:
        raise ConfigError("induce: no parallel files")
    _check_min_count(min_count)  # before the files are read
    if langs[0] == langs[1]:
        raise ConfigError(f"induce: the two languages are both {langs[0]!r}")
    config = TrainConfig(min_count=1, lowercase=lowercase, threads=threads)
    # The encoder counts words of tasks: each side's first file is its task, so every word of the
    # parallel text is in the vocabulary (min_count 1); Dice has its own threshold.
    tasks = [TaskSpec(f"side-{lang}", (os.fspath(files[0][i]),), lang=lang) for i, lang in enumerate(langs)]
    parallel = [ParallelSpec(f"parallel-{i}", langs, (os.fspath(a), os.fspath(b)))
                for i, (a, b) in enumerate(files)]
    data = read_corpus(tasks, config, parallel)
    vocab = data.vocab
    found = dice_pairs(*(_concatenated([d[side] for d in data.parallel]) for side in (0, 1)),
                       vocab.range_of(langs[0]), vocab.range_of(langs[1]), min_count)
    return [(vocab.words[s], vocab.words[t], float(d), int(c))
            for s, t, d, c in zip(found.src, found.tgt, found.dice, found.count)]
