"""Word analogies ("a is to b as c is to ?"): 3CosAdd and 3CosMul.

The protocol is gensim's ``KeyedVectors.evaluate_word_analogies`` (itself
word2vec's ``compute-accuracy``), reproduced question for question:

* the vocabulary is the `restrict` most frequent words;
* with `case_insensitive`, words are compared upper-cased and a word stands for
  its most frequent case variant;
* a question with a word outside that vocabulary is skipped and counted as OOV,
  and is not part of ``total``;
* the answer is the best-scoring word other than a, b and c (of the five best,
  the first whose upper-cased form is not one of the question's words).

Instead of one matrix-vector product per question, the cosines between the
distinct question words of a block of questions and the whole vocabulary are
one matrix product; each question's scores are then sums (3CosAdd) or
products (3CosMul) of three rows of it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mtlembed.errors import ConfigError, FormatError
from mtlembed.eval.vectors import (
    CHUNK_BYTES,
    add_unseen,
    check_oov,
    first_index,
    prefix_hint,
    read_lines,
    resolve,
    unit_rows,
)

__all__ = ["RESTRICT", "METHODS", "evaluate_analogies", "read_questions"]

RESTRICT = 30000  # word2vec's compute-accuracy default
METHODS = ("add", "mul")
MUL_EPSILON = 1e-3  # Levy & Goldberg (2014)
_TOPN = 5  # gensim looks at the five best answers only


def read_questions(path):
    """Read a questions-words file.

    Returns
    -------
    sections : list of str
        Section names, in file order. A file without ``: section`` lines (such as
        the MSR set) is one section named after the file.
    questions : list of (section_index, line_number, (a, b, c, d))
    """
    sections, questions = [], []
    for lineno, line in read_lines(path, "questions"):
        text = line.strip()
        if not text:
            continue
        if text.startswith(":"):
            sections.append(text[1:].strip() or f"section {len(sections) + 1}")
            continue
        words = text.split()
        if len(words) != 4:
            raise FormatError(
                f"{path}:{lineno}: expected a question 'a b c d' or a ': section' line, "
                f"got {len(words)} words: {text[:60]!r}"
            )
        if not sections:
            sections.append(Path(os.fspath(path)).stem)
        questions.append((len(sections) - 1, lineno, tuple(words)))
    if not questions:
        raise FormatError(f"{path}: no questions in the file")
    return sections, questions


def evaluate_analogies(
    vectors, questions_path, restrict=RESTRICT, method="add", case_insensitive=True, lang=None, oov="skip"
):
    """Accuracy on an analogy test set, per section and in total.

    Parameters
    ----------
    vectors : Embeddings, gensim KeyedVectors, (words, vectors) or str
        The model or a word2vec file; words sorted by descending frequency.
    questions_path : str or PathLike
        Lines ``a b c d`` grouped by ``: section`` lines (questions-words format).
    restrict : int or None
        Only the `restrict` most frequent words are candidates and count as in
        the vocabulary; None or 0 for all.
    method : {"add", "mul"}
        3CosAdd (``cos(d, b) - cos(d, a) + cos(d, c)``) or 3CosMul
        (``cos'(d, b) cos'(d, c) / (cos'(d, a) + 1e-3)`` with ``cos' = (cos + 1) / 2``).
    case_insensitive : bool
        Compare upper-cased words; a word stands for its most frequent case variant.
    lang : str, optional
        Evaluate the ``"<lang>:"`` keys of a joint model.
    oov : {"skip", "subwords"}
        Questions with a word outside the vocabulary are skipped, or answered with
        that word's vector from its n-grams (a model with subwords); the candidates
        stay the vocabulary, so an unseen answer is never found.

    Returns
    -------
    dict
        ``correct``, ``total`` (questions answered, OOV excluded), ``accuracy``
        (``correct / total``), ``oov`` (questions skipped), ``questions``,
        ``sections`` (list of dicts with the same keys and ``section``),
        ``method``, ``restrict`` (vocabulary size used), ``unseen`` (questions
        answered with n-gram vectors), ``coverage`` (share answered),
        ``coverage_vocabulary`` (share with all four words in the vocabulary) and ``file``.
    """
    if method not in METHODS:
        raise ConfigError(f"analogy method must be one of {', '.join(METHODS)}, got {method!r}")
    check_oov(oov)
    if restrict is not None and restrict < 0:
        raise ConfigError(f"restrict must be >= 0, got {restrict}")
    vs = resolve(vectors, lang).head(restrict)
    sections, questions = read_questions(questions_path)
    key = str.upper if case_insensitive else str
    index = first_index(vs.words, case_insensitive)
    canon = np.fromiter((index[key(w)] for w in vs.words), dtype=np.int64, count=len(vs.words))
    candidates = len(vs.words)
    if oov == "subwords":  # unseen words get rows after the candidates
        vs = add_unseen(vs, index, [w for _, _, words in questions for w in words], key)
        canon = np.concatenate((canon, np.arange(candidates, len(vs.words))))
    rows, sec_of, oov_per_section = [], [], np.zeros(len(sections), np.int64)
    for sec, _, words in questions:
        ids = [index.get(key(w)) for w in words]
        if None in ids:
            oov_per_section[sec] += 1
        else:
            rows.append(ids)
            sec_of.append(sec)
    if not rows:
        raise FormatError(
            f"{questions_path}: none of the {len(questions)} questions has its four words among the "
            f"{len(vs.words)} most frequent words of {vs.name}{prefix_hint(vs)}"
        )
    ids = np.asarray(rows, dtype=np.int64)
    predicted = _answer(unit_rows(vs.vectors), ids[:, 0], ids[:, 1], ids[:, 2], canon, method, candidates)
    hit = predicted == ids[:, 3]
    sec_of = np.asarray(sec_of)
    correct = np.bincount(sec_of, weights=hit, minlength=len(sections)).astype(np.int64)
    total = np.bincount(sec_of, minlength=len(sections))
    per_section = [
        _scores(int(correct[s]), int(total[s]), int(oov_per_section[s])) | {"section": name}
        for s, name in enumerate(sections)
    ]
    result = _scores(int(correct.sum()), int(total.sum()), int(oov_per_section.sum()))
    unseen = int((ids >= candidates).any(axis=1).sum())
    result.update(sections=per_section, method=method, restrict=candidates, unseen=unseen,
                  coverage=len(ids) / len(questions),
                  coverage_vocabulary=(len(ids) - unseen) / len(questions),
                  file=os.fspath(questions_path))
    return result


def _scores(correct, total, oov):
    return {
        "correct": correct,
        "total": total,
        "accuracy": correct / total if total else None,
        "oov": oov,
        "questions": total + oov,
    }


def _answer(unit, a, b, c, canon, method, n):
    """Predicted answer (its most frequent case variant's row) for each question; the
    candidates are the first `n` rows (the others: unseen question words)."""
    # per block: scores (q x n), and for 3CosMul the cosines of up to 3q distinct words (3q x n)
    block = max(1, CHUNK_BYTES // ((4 if method == "add" else 16) * n))
    predicted = np.empty(len(a), np.int64)
    # reused: on large blocks, fresh pages cost as much as the arithmetic
    buffer = np.empty((min(block, len(a)), n), np.float32)
    spare = np.empty_like(buffer) if method == "mul" else None
    for lo in range(0, len(a), block):
        qa, qb, qc = a[lo : lo + block], b[lo : lo + block], c[lo : lo + block]
        m = len(qa)
        if method == "add":
            # the query b - a + c against every word: one matrix product
            scores = np.matmul(unit[qb] + unit[qc] - unit[qa], unit[:n].T, out=buffer[:m])
        else:
            # three cosine rows per question, gathered from the few distinct question words of the block
            # (mode="clip": with out=, the default mode copies through a temporary buffer)
            distinct, inverse = np.unique(np.concatenate((qa, qb, qc)), return_inverse=True)
            shifted = unit[distinct] @ unit[:n].T
            shifted += 1  # (cos + 1) / 2, the factors 1/2 folded into the epsilon
            scores = np.take(shifted, inverse[m : 2 * m], axis=0, out=buffer[:m], mode="clip")
            scores *= np.take(shifted, inverse[2 * m :], axis=0, out=spare[:m], mode="clip")
            shifted += 2 * MUL_EPSILON
            scores /= np.take(shifted, inverse[:m], axis=0, out=spare[:m], mode="clip")
        rows = np.arange(m)
        for q in (qa, qb, qc):
            scores[rows[q < n], q[q < n]] = -np.inf
        best = scores.argmax(axis=1)
        answer = canon[best]
        # rare: the best is a case variant of a question word; replay gensim's walk over its top five
        for r in np.flatnonzero((answer == qa) | (answer == qb) | (answer == qc)):
            answer[r] = _walk_top(scores[r], canon, (qa[r], qb[r], qc[r]))
        predicted[lo : lo + m] = answer
    return predicted


def _walk_top(row, canon, question):
    top = np.argpartition(-row, _TOPN)[:_TOPN] if len(row) > _TOPN else np.arange(len(row))
    top = top[np.argsort(-row[top], kind="stable")]
    top = top[np.isfinite(row[top])]
    if not top.size:
        return -1
    for j in top:
        if canon[j] not in question:
            return canon[j]
    return canon[top[-1]]  # none qualifies: gensim keeps the last one looked at
