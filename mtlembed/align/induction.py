"""Dictionaries for alignment: given, seeded by identical strings, or induced under CSLS.

Induction retrieves each word's nearest neighbour on the other side by CSLS
(Conneau et al., 2018): ``2 cos(x, y) - r_T(x) - r_S(y)``, with ``r`` the mean
cosine of a word's `k` nearest neighbours on the other side (eval/bli.py's
`topk_mean`). Only the `cutoff` most frequent words of each side take part, and
the scores are computed a block of rows at a time (eval's CHUNK_BYTES), so memory
stays bounded whatever the vocabulary.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from mtlembed.errors import ConfigError
from mtlembed.eval.bli import _mean_topk_similarity, topk_mean
from mtlembed.eval.vectors import CHUNK_BYTES, first_index

__all__ = ["Induced", "csls_neighbours", "dictionary_pairs", "identical_pairs", "induce"]

DIRECTIONS = ("mutual", "union", "forward")
_NUMERAL = re.compile(r"^[0-9]+(?:[.,:/-][0-9]+)*$")


class Induced(NamedTuple):
    """An induced dictionary as row pairs, and how well the mapping scored while inducing it."""

    src: np.ndarray     # int64 rows of the source
    tgt: np.ndarray     # int64 rows of the target
    objective: float    # mean best CSLS score over both directions
    mean_cosine: float  # mean cosine of the CSLS translations of the first `criterion_words` source rows


def dictionary_pairs(pairs: Iterable[tuple[str, str]], src_words: Sequence[str],
                     tgt_words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The row pairs of the dictionary pairs whose two words are in the vocabularies (distinct, sorted)."""
    src_index = first_index(src_words, case_insensitive=False)
    tgt_index = first_index(tgt_words, case_insensitive=False)
    kept = sorted({(src_index[s], tgt_index[t]) for s, t in pairs if s in src_index and t in tgt_index})
    rows = np.asarray(kept, dtype=np.int64).reshape(-1, 2)
    return rows[:, 0], rows[:, 1]


def identical_pairs(src_words: Sequence[str], tgt_words: Sequence[str],
                    numerals_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the words spelled the same on both sides (VecMap's --identical), or of the
    numerals only (--numerals): the seed dictionary when there is none."""
    tgt_index = first_index(tgt_words, case_insensitive=False)
    pairs = [(i, tgt_index[w]) for i, w in enumerate(src_words)
             if w in tgt_index and (not numerals_only or _NUMERAL.match(w))]
    rows = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return rows[:, 0], rows[:, 1]


def csls_neighbours(queries: np.ndarray, candidates: np.ndarray, r_candidates: np.ndarray, k: int = 0,
                    keep: float = 1.0, rng: np.random.Generator | None = None):
    """For each query row, its best candidate by ``2 cos - r_candidates``, that score, and
    (with `k` > 0) the query's own ``r``: the mean cosine of its `k` nearest candidates.

    Rows are unit vectors. The query's own ``r`` does not change which candidate is
    best, so the caller subtracts it from the scores; computing it here saves a
    pass over the scores. With `keep` < 1, each score is dropped with probability
    1 - keep first (VecMap's stochastic dictionary induction), drawn from `rng`.
    """
    best = np.empty(len(queries), np.int64)
    score = np.empty(len(queries), np.float64)
    r_queries = np.empty(len(queries), np.float64) if k else None
    block = max(1, CHUNK_BYTES // (4 * max(1, len(candidates))))
    penalty = r_candidates.astype(np.float32)[None, :]
    for lo in range(0, len(queries), block):
        scores = queries[lo:lo + block] @ candidates.T
        if k:
            r_queries[lo:lo + block] = topk_mean(scores, k)
        scores *= 2
        scores -= penalty
        if keep < 1:
            scores[rng.random(scores.shape, dtype=np.float32) >= keep] = -np.inf
        best[lo:lo + block] = np.argmax(scores, axis=1)
        score[lo:lo + block] = scores[np.arange(len(scores)), best[lo:lo + block]]
    return best, score, r_queries


def induce(mapped_src: np.ndarray, tgt: np.ndarray, k: int = 10, direction: str = "mutual",
           keep: float = 1.0, rng: np.random.Generator | None = None,
           criterion_words: int = 10000) -> Induced:
    """A dictionary between two aligned spaces (unit rows, most frequent first, already cut).

    `direction`: ``mutual`` keeps the pairs that are each other's nearest
    neighbour (MUSE's S2T&T2S); ``union`` the source-to-target and
    target-to-source pairs together (VecMap's default; a mutual pair counts
    twice, as there); ``forward`` source-to-target only. `mean_cosine` is MUSE's
    unsupervised model-selection criterion (Conneau et al., 2018), taken on
    the deterministic translations even when `keep` < 1.
    """
    if direction not in DIRECTIONS:
        raise ConfigError(f"dictionary induction direction must be one of {', '.join(DIRECTIONS)}, "
                          f"got {direction!r}")
    if keep < 1 and rng is None:
        raise ConfigError("stochastic induction (keep < 1) needs a random generator")
    k = min(k, len(mapped_src), len(tgt))
    # Three passes over the scores: r_T(x) of every source word; then r_S(y) with each target
    # word's best source word (which needs r_T); then each source word's best target word.
    r_tgt = _mean_topk_similarity(mapped_src, tgt, k)
    backward, backward_score, r_src = csls_neighbours(tgt, mapped_src, r_tgt, k, keep, rng)
    forward, forward_score, _ = csls_neighbours(mapped_src, tgt, r_src, 0, keep, rng)
    objective = (np.mean(forward_score - r_tgt) + np.mean(backward_score - r_src)) / 2
    top = min(criterion_words, len(mapped_src))
    translations = forward[:top] if keep >= 1 else csls_neighbours(mapped_src[:top], tgt, r_src)[0]
    mean_cosine = float(np.einsum("ij,ij->i", mapped_src[:top], tgt[translations], dtype=np.float64).mean())
    src_rows = np.arange(len(mapped_src))
    if direction == "mutual":
        mutual = backward[forward] == src_rows
        pairs = src_rows[mutual], forward[mutual]
    elif direction == "union":
        pairs = np.concatenate((src_rows, backward)), np.concatenate((forward, np.arange(len(tgt))))
    else:
        pairs = src_rows, forward
    return Induced(pairs[0], pairs[1], float(objective), mean_cosine)
