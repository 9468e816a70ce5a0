"""Bilingual lexicon induction (BLI): translation retrieval, MUSE protocol.

As in MUSE's ``get_word_translation_accuracy`` (Conneau et al., 2018):

* dictionary pairs are kept when both words are in the vocabularies (exact
  match, the dictionaries are lower-cased);
* the queries are the distinct source words kept; the candidates are the whole
  target vocabulary (or its `max_vocab` most frequent words, the source being
  cut the same way);
* scores are cosines (``nn``) or CSLS: ``2 cos(x, y) - r_T(x) - r_S(y)``, where
  ``r_T(x)`` is the mean cosine of x's `k` nearest target words and ``r_S(y)``
  that of y's `k` nearest source words;
* P@k counts a query as a hit when any of its gold translations is among the k
  best candidates.

Everything is computed in blocks of rows, so memory stays bounded (a few
hundred MiB) even for 200k x 200k vocabularies: no n^2 matrix is ever built.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from mtlembed.dictionary import read_dictionary
from mtlembed.errors import ConfigError, FormatError
from mtlembed.eval.vectors import CHUNK_BYTES, add_unseen, check_oov, prefix_hint, resolve, unit_rows

__all__ = ["METHODS", "CSLS_K", "PRECISION_AT", "FREQUENCY_BANDS", "evaluate_bli", "precision_by_band",
           "read_dictionary", "topk_mean"]

METHODS = ("nn", "csls")
CSLS_K = 10
PRECISION_AT = (1, 5, 10)
# P@1 by band of the source word's frequency rank: 1-1000, 1001-5000, 5001-20000, beyond.
FREQUENCY_BANDS = (1000, 5000, 20000)
# Below this share of the dictionary's source words in the vocabularies, the score is warned about.
LOW_COVERAGE = 0.5
_GROUP_SIZE = 64  # columns per group when looking for a row's top k (see topk_mean)


def topk_mean(scores: np.ndarray, k: int) -> np.ndarray:
    """Mean of the `k` largest values of each row (float64).

    A full sort or partition of wide rows is the slow part of CSLS, so the
    candidates are narrowed first. The columns fall into groups of 64 with a
    stride (j, j + stride, j + 2 stride, ...), so each group's maximum is one
    contiguous reduction; the k largest values of a row all lie in its k groups
    with the largest maxima (any value outside them has k larger maxima above
    it), and only those 64 k values are partitioned.
    """
    rows, width = scores.shape
    if width <= k:
        return scores.mean(axis=1, dtype=np.float64)
    stride = width // _GROUP_SIZE
    if stride < 4 * k:
        top = np.partition(scores, width - k, axis=1)[:, width - k :]
        return top.mean(axis=1, dtype=np.float64)
    body = scores[:, : _GROUP_SIZE * stride].reshape(rows, _GROUP_SIZE, stride)
    groups = np.argpartition(body.max(axis=1), stride - k, axis=1)[:, stride - k :]
    picked = np.take_along_axis(body, groups[:, None, :], axis=2).reshape(rows, -1)
    candidates = np.concatenate((picked, scores[:, _GROUP_SIZE * stride :]), axis=1)  # + the leftover columns
    top = np.partition(candidates, candidates.shape[1] - k, axis=1)[:, candidates.shape[1] - k :]
    return top.mean(axis=1, dtype=np.float64)


def _mean_topk_similarity(queries, candidates, k):
    """For each row of `queries`, the mean cosine of its `k` nearest `candidates` (unit rows)."""
    out = np.empty(len(queries), np.float64)
    block = max(1, CHUNK_BYTES // (4 * max(1, len(candidates))))
    for lo in range(0, len(queries), block):
        out[lo : lo + block] = topk_mean(queries[lo : lo + block] @ candidates.T, k)
    return out


def evaluate_bli(
    src, tgt, dictionary_path, method="csls", k=CSLS_K, max_vocab=None, src_lang=None, tgt_lang=None,
    oov="skip",
):
    """Precision at 1, 5 and 10 of translation retrieval (MUSE protocol).

    Parameters
    ----------
    src, tgt : Embeddings, gensim KeyedVectors, (words, vectors) or str
        Source and target models or word2vec files; `tgt` None means `src`
        (one joint model, with `src_lang` and `tgt_lang`).
    dictionary_path : str or PathLike
        Gold pairs ``source target`` (MUSE or xling format).
    method : {"csls", "nn"}
        CSLS or plain cosine nearest neighbours.
    k : int
        CSLS neighbourhood size.
    max_vocab : int or None
        Only the most frequent `max_vocab` words of each side take part.
    src_lang, tgt_lang : str, optional
        With prefixed keys (``en:house``), the prefix of each side.
    oov : {"skip", "subwords"}
        Source words outside the vocabulary are skipped, or queried with their
        vectors from n-grams (a source model with subwords). Candidates stay the
        target vocabulary: pairs whose target is outside it are left out either way.

    Returns
    -------
    dict
        ``p@1``, ``p@5``, ``p@10`` (fractions of the queries), ``queries``,
        ``coverage`` (queries / distinct source words of the dictionary),
        ``pairs`` (pairs kept), ``pairs_total``, ``method``, ``k``,
        ``src_vocab``, ``tgt_vocab``, ``unseen`` (queries from n-grams),
        ``coverage_vocabulary`` (queries in the vocabulary / distinct source words), ``file`` and
        ``p@1_by_band`` (see :func:`precision_by_band`).
    """
    check_oov(oov)
    if method not in METHODS:
        raise ConfigError(f"BLI method must be one of {', '.join(METHODS)}, got {method!r}")
    if k < 1:
        raise ConfigError(f"CSLS k must be >= 1, got {k}")
    if max_vocab is not None and max_vocab < 1:
        raise ConfigError(f"max_vocab must be >= 1, got {max_vocab}")
    same = tgt is None
    src_vs = resolve(src)
    tgt_vs = src_vs if same else resolve(tgt)
    src_vs = (src_vs if not src_lang else resolve(src_vs, src_lang)).head(max_vocab)
    tgt_vs = (tgt_vs if not tgt_lang else resolve(tgt_vs, tgt_lang)).head(max_vocab)
    src_dim, tgt_dim = src_vs.vectors.shape[1], tgt_vs.vectors.shape[1]
    if src_dim != tgt_dim:
        raise FormatError(f"{src_vs.name} has dim {src_dim} but {tgt_vs.name} has dim {tgt_dim}")
    pairs = read_dictionary(dictionary_path)
    src_index = {w: i for i, w in reversed(list(enumerate(src_vs.words)))}
    tgt_index = {w: i for i, w in reversed(list(enumerate(tgt_vs.words)))}
    n_src = len(src_vs.words)  # the source rows that are neighbours (r_S); unseen queries come after
    if oov == "subwords":
        src_vs = add_unseen(src_vs, src_index, [s for s, t in pairs if t in tgt_index])
    kept = sorted({(src_index[s], tgt_index[t]) for s, t in pairs if s in src_index and t in tgt_index})
    n_sources = len({s for s, _ in pairs})
    if not kept:
        n_src = sum(s in src_index for s, _ in pairs)
        n_tgt = sum(t in tgt_index for _, t in pairs)
        matches_reversed = any(t in src_index and s in tgt_index for s, t in pairs)
        reversed_hint = f"; {_looks_reversed(same)}" if matches_reversed else ""
        raise FormatError(
            f"{dictionary_path}: none of its {len(pairs)} pairs has both words in the vocabularies "
            f"({n_src} source words found in {src_vs.name}, {n_tgt} target words in {tgt_vs.name})"
            f"{prefix_hint(src_vs)}{reversed_hint}"
        )
    _warn_low_coverage(dictionary_path, pairs, src_index, tgt_index, len(kept), n_sources, same)
    pair_src, pair_tgt = (np.asarray(v, dtype=np.int64) for v in zip(*kept))
    queries, first_pair = np.unique(pair_src, return_index=True)  # kept is sorted by source
    src_unit, tgt_unit = unit_rows(src_vs.vectors), unit_rows(tgt_vs.vectors)
    ranks = _gold_ranks(src_unit, tgt_unit, queries, first_pair, pair_tgt, method, k, n_src)
    result = {f"p@{at}": float(np.mean(ranks < at)) for at in PRECISION_AT}
    result.update(
        queries=len(queries),
        coverage=len(queries) / n_sources,
        pairs=len(kept),
        pairs_total=len(pairs),
        method=method,
        k=k,
        src_vocab=n_src,
        unseen=int(np.count_nonzero(queries >= n_src)),
        coverage_vocabulary=int(np.count_nonzero(queries < n_src)) / n_sources,
        tgt_vocab=len(tgt_vs.words),
        file=os.fspath(dictionary_path),
        **{"p@1_by_band": precision_by_band(ranks, queries, n_src)},
    )
    return result


def precision_by_band(ranks, queries, n_src, bands=FREQUENCY_BANDS):
    """P@1 of the queries in each band of source-frequency rank (rows are most frequent first):
    ``[{"band": "1-1000", "from": 1, "to": 1000, "queries": n, "p@1": x}, ...]``, empty bands left
    out; queries outside the vocabulary (their vectors from n-grams) form the band "unseen"."""
    edges = [0, *(b for b in bands if b < n_src), n_src]
    result = []
    for low, high in zip(edges[:-1], edges[1:]):
        chosen = (queries >= low) & (queries < high)
        if chosen.any():
            label = f"{low + 1}-{high}" if high in bands else f"{low + 1}+"
            result.append({"band": label, "from": low + 1, "to": int(high), "queries": int(chosen.sum()),
                           "p@1": float(np.mean(ranks[chosen] < 1))})
    unseen = queries >= n_src
    if unseen.any():
        result.append({"band": "unseen", "from": None, "to": None, "queries": int(unseen.sum()),
                       "p@1": float(np.mean(ranks[unseen] < 1))})
    return result


def _looks_reversed(same_file: bool) -> str:
    swap = "--src-lang and --tgt-lang" if same_file else "the vectors files (or the dictionary's columns)"
    return f"it looks reversed, read the other way it matches far more pairs: swap {swap}?"


def _warn_low_coverage(path, pairs, src_index, tgt_index, n_kept, n_sources, same_file) -> None:
    """A score on a small share of the dictionary is no score of it: say so, and say when
    the dictionary matches much better the other way round (target -> source)."""
    coverage = len({s for s, t in pairs if s in src_index and t in tgt_index}) / n_sources
    n_reversed = len({(t, s) for s, t in pairs if t in src_index and s in tgt_index})
    if n_reversed >= 2 * max(n_kept, 1):
        warnings.warn(f"{path}: {_looks_reversed(same_file)} ({n_reversed} pairs against {n_kept}; "
                      f"coverage {coverage:.0%})", stacklevel=3)
    elif coverage < LOW_COVERAGE:
        warnings.warn(f"{path}: only {coverage:.0%} of its source words have a translation in the "
                      "vocabularies: the score covers a small, probably frequent, part of the dictionary",
                      stacklevel=3)


def _gold_ranks(src_unit, tgt_unit, queries, first_pair, pair_tgt, method, k, n_src):
    """For each query, how many candidates score strictly above its best gold translation.

    A query is a hit at P@n when this rank is below n; this equals "a gold word
    is in the top n" whenever scores do not tie exactly.
    """
    k = min(k, n_src, len(tgt_unit))
    if method == "csls":
        r_src = _mean_topk_similarity(tgt_unit, src_unit[:n_src], k)  # r_S(y) for every candidate y
    ranks = np.empty(len(queries), np.int64)
    block = max(1, CHUNK_BYTES // (4 * len(tgt_unit)))
    bounds = np.append(first_pair, len(pair_tgt))
    for lo in range(0, len(queries), block):
        hi = min(lo + block, len(queries))
        scores = src_unit[queries[lo:hi]] @ tgt_unit.T
        if method == "csls":
            r_tgt = topk_mean(scores, k)  # r_T(x) for these queries
            scores *= 2
            scores -= r_tgt[:, None].astype(np.float32)
            scores -= r_src[None, :].astype(np.float32)
        counts = np.diff(bounds[lo : hi + 1])
        rows = np.repeat(np.arange(hi - lo), counts)
        gold = scores[rows, pair_tgt[bounds[lo] : bounds[hi]]]
        best = np.maximum.reduceat(gold, bounds[lo:hi] - bounds[lo])
        ranks[lo:hi] = np.count_nonzero(scores > best[:, None], axis=1)
    return ranks
