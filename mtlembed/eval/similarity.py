"""Word similarity: rank correlation of cosines with human judgements.

Reads the usual formats of word-pair files: tab-, space- or comma-separated,
with or without a header line (``word1 word2 score``, SimLex-999's ten
columns, pandas CSVs with an index column), ``#`` comments, any line ending.
Like gensim's ``evaluate_word_pairs``, words are compared case-insensitively
by default (a word stands for its most frequent case variant) and pairs with an
out-of-vocabulary word are skipped and counted.
"""

from __future__ import annotations

import math
import os
import re

import numpy as np

from mtlembed.errors import FormatError
from mtlembed.eval.vectors import (
    add_unseen,
    check_oov,
    first_index,
    prefix_hint,
    read_lines,
    resolve,
    unit_rows,
)

__all__ = ["evaluate_similarity", "read_pairs"]

# header names of the gold score column, most specific first
_SCORE_NAMES = (
    "simlex999",
    "similarity",
    "score",
    "human(mean)",
    "humanmean",
    "sim",
    "relatedness",
    "mean",
    "gold",
)
_WORD_NAMES = (("word1", "w1"), ("word2", "w2"))


def _number(text):
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _split(line, sep):
    return [f.strip() for f in line.split(sep)] if sep else line.split()


def _columns(header):
    """Positions of the two words and of the score, from a header's names (None if not a header)."""
    names = [re.sub(r"[\s_]", "", h.lower()) for h in header]
    cols = [next((i for i, h in enumerate(names) if h in aliases), None) for aliases in _WORD_NAMES]
    named_words = None not in cols
    if not named_words:  # unnamed: the first two named columns (skips a pandas index column)
        cols = [i for i, h in enumerate(names) if h][:2]
    score = next((names.index(s) for s in _SCORE_NAMES if s in names and names.index(s) not in cols), None)
    if len(cols) < 2 or (score is None and not named_words):
        return None
    if score is None:
        score = max(cols) + 1
    return cols + [score]


def read_pairs(path):
    """Read a word-pair file.

    Returns
    -------
    list of (line_number, word1, word2, score)
    """
    lines = [
        (n, t) for n, t in read_lines(path, "word pairs") if t.strip() and not t.lstrip().startswith("#")
    ]
    if not lines:
        raise FormatError(f"{path}: no word pairs in the file")
    first = lines[0][1]
    sep = "\t" if "\t" in first else ("," if first.count(",") >= 2 else None)
    head = _split(first, sep)
    cols = (0, 1, 2)
    if len(head) >= 3 and _number(head[2]) is None:  # a header line
        cols = _columns(head)
        if cols is None:
            raise FormatError(
                f"{path}:{lines[0][0]}: score {head[2]!r} is not a number (nor is this a header)"
            )
        lines = lines[1:]
    pairs = []
    for lineno, text in lines:
        fields = _split(text, sep)
        if len(fields) <= max(cols):
            raise FormatError(
                f"{path}:{lineno}: expected 'word1 word2 score' ({max(cols) + 1} fields), got {len(fields)}: "
                f"{text[:60]!r}"
            )
        score = _number(fields[cols[2]])
        if score is None:
            raise FormatError(f"{path}:{lineno}: score {fields[cols[2]]!r} is not a finite number")
        pairs.append((lineno, fields[cols[0]], fields[cols[1]], score))
    if not pairs:
        raise FormatError(f"{path}: no word pairs in the file")
    return pairs


def _ranks(values):
    """Ranks 1..n, ties sharing their average rank (as Spearman's rho needs)."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values), np.float64)
    ranks[order] = np.repeat((starts + ends + 1) / 2, ends - starts)
    return ranks


def _pearson(x, y):
    x = np.asarray(x, np.float64) - np.mean(x)
    y = np.asarray(y, np.float64) - np.mean(y)
    return float(np.clip(x @ y / np.sqrt((x @ x) * (y @ y)), -1.0, 1.0))


def spearman(x, y) -> float:
    """Spearman's rho of two sequences, ties at their average rank."""
    return _pearson(_ranks(np.asarray(x)), _ranks(np.asarray(y)))


def evaluate_similarity(vectors, pairs_path, case_insensitive=True, restrict=None, lang=None, oov="skip"):
    """Spearman and Pearson correlation between cosines and human scores.

    Parameters
    ----------
    vectors : Embeddings, gensim KeyedVectors, (words, vectors) or str
        The model or a word2vec file.
    pairs_path : str or PathLike
        Word pairs with a gold score (see the module docstring for the formats).
    case_insensitive : bool
        Compare upper-cased words (gensim's default).
    restrict : int or None
        Only the `restrict` most frequent words count as in the vocabulary.
    lang : str, optional
        Evaluate the ``"<lang>:"`` keys of a joint model.
    oov : {"skip", "subwords"}
        Pairs with a word outside the vocabulary are skipped, or scored with its
        vector from its n-grams (a model with subwords).

    Returns
    -------
    dict
        ``spearman``, ``pearson`` (None when a side is constant), ``pairs``
        (pairs scored), ``oov`` (pairs skipped), ``unseen`` (pairs scored from
        n-grams), ``coverage`` (pairs / total), ``coverage_vocabulary`` (share of
        pairs with both words in the vocabulary), ``total`` and ``file``.
    """
    check_oov(oov)
    vs = resolve(vectors, lang).head(restrict)
    pairs = read_pairs(pairs_path)
    index = first_index(vs.words, case_insensitive)
    key = str.upper if case_insensitive else str
    known = sum(key(a) in index and key(b) in index for _, a, b, _ in pairs)
    if oov == "subwords":
        vs = add_unseen(vs, index, [w for _, a, b, _ in pairs for w in (a, b)], key)
    found = [(index.get(key(a)), index.get(key(b)), s) for _, a, b, s in pairs]
    found = [(i, j, s) for i, j, s in found if i is not None and j is not None]
    if len(found) < 2:
        raise FormatError(
            f"{pairs_path}: only {len(found)} of its {len(pairs)} pairs have both words in the vocabulary of "
            f"{vs.name}; a correlation needs at least 2{prefix_hint(vs)}"
        )
    i, j, gold = (np.asarray(v) for v in zip(*found))
    rows, inverse = np.unique(np.concatenate((i, j)), return_inverse=True)
    unit = unit_rows(vs.vectors[rows], np.float64)
    cosine = np.einsum("ij,ij->i", unit[inverse[: len(i)]], unit[inverse[len(i) :]])
    constant = np.ptp(cosine) == 0 or np.ptp(gold) == 0
    return {
        "spearman": None if constant else spearman(gold, cosine),
        "pearson": None if constant else _pearson(gold, cosine),
        "pairs": len(found),
        "oov": len(pairs) - len(found),
        "unseen": len(found) - known,
        "coverage": len(found) / len(pairs),
        "coverage_vocabulary": known / len(pairs),
        "total": len(pairs),
        "file": os.fspath(pairs_path),
    }
