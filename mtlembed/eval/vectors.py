"""Where the evaluations get their vectors from, and the helpers they share.

Every protocol accepts the same things as "vectors": an ``Embeddings``-like
object (``.words`` and ``.vectors``), a gensim ``KeyedVectors``
(``.index_to_key`` and ``.vectors``), a ``(words, vectors)`` pair, or the path
of a word2vec text/binary file. Neither ``mtlembed.model`` nor the compiled
extension is imported: objects are recognised by their attributes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from mtlembed.errors import ConfigError, FormatError
from mtlembed.io import read_text, read_vectors
from mtlembed.model import unit_rows  # in __all__: the evaluations use it from here

__all__ = ["OOV_MODES", "VectorSet", "resolve", "check_oov", "add_unseen", "unit_rows", "first_index",
           "read_lines", "prefix_hint"]

OOV_MODES = ("skip", "subwords")  # words outside the vocabulary: skipped, or scored from their n-grams
CHUNK_BYTES = 1 << 27  # size of one block of scores (128 MiB): bounds memory whatever the vocabulary


@dataclass(frozen=True)
class VectorSet:
    """Words (most frequent first) and their float32 vectors, with a name for messages."""

    words: list
    vectors: np.ndarray
    name: str
    unseen: Callable | None = None  # vectors of other words (a fastText model's n-grams), if known

    def head(self, n):
        """The `n` most frequent words (all of them when `n` is None, 0 or too large)."""
        if not n or n >= len(self.words):
            return self
        return VectorSet(self.words[:n], self.vectors[:n], self.name, self.unseen)


def resolve(vectors, lang=None) -> VectorSet:
    """Turn any accepted kind of `vectors` into a :class:`VectorSet`.

    Parameters
    ----------
    vectors : Embeddings, gensim KeyedVectors, (words, vectors), str or PathLike
        The model, or a word2vec file or fastText model (read with :func:`mtlembed.io.read_vectors`).
    lang : str, optional
        Keep only the keys prefixed ``"<lang>:"`` (one joint model holding several
        languages, e.g. ``en:house``, ``es:casa``) and strip the prefix.
    """
    if isinstance(vectors, VectorSet):
        vs = vectors
    elif isinstance(vectors, (str, os.PathLike)):
        loaded = read_vectors(vectors)
        unseen = loaded.subwords.vectors if loaded.subwords else None
        vs = VectorSet(loaded.words, loaded.vectors, os.fspath(vectors), unseen)
    else:
        if hasattr(vectors, "index_to_key") and hasattr(vectors, "vectors"):
            words, matrix = vectors.index_to_key, vectors.vectors
        elif hasattr(vectors, "words") and hasattr(vectors, "vectors"):
            words, matrix = vectors.words, vectors.vectors
        elif isinstance(vectors, tuple) and len(vectors) == 2:
            words, matrix = vectors
        else:
            raise ConfigError(
                "vectors must be an Embeddings, a gensim KeyedVectors, a (words, vectors) pair or the path "
                f"of a word2vec file; got {type(vectors).__name__}"
            )
        vs = _checked(list(words), matrix, type(vectors).__name__)
        subwords = getattr(vectors, "subwords", None)  # an Embeddings trained with subwords
        vs = replace(vs, unseen=subwords.vectors) if subwords is not None else vs
    return select_language(vs, lang) if lang else vs


def _checked(words, matrix, name) -> VectorSet:
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != len(words):
        raise FormatError(f"{name}: {len(words)} words but vectors of shape {matrix.shape}")
    if not np.issubdtype(matrix.dtype, np.floating):
        raise FormatError(f"{name}: vectors must be floating point, got {matrix.dtype}")
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    bad = np.flatnonzero(~np.isfinite(matrix).all(axis=1))
    if bad.size:
        raise FormatError(f"{name}: the vector of {words[bad[0]]!r} (row {bad[0]}) holds NaN or infinity")
    return VectorSet(words, matrix, name)


def select_language(vs: VectorSet, lang: str) -> VectorSet:
    """The rows of keys ``"<lang>:word"``, renamed ``"word"``, in their original order."""
    prefix = f"{lang}:"
    rows = [i for i, w in enumerate(vs.words) if w.startswith(prefix)]
    if not rows:
        found = sorted({w.split(":", 1)[0] for w in vs.words[:10000] if ":" in w[1:]})[:10]
        seen = f"; prefixes seen: {', '.join(found)}" if found else "; its keys have no language prefix"
        raise ConfigError(f"{vs.name}: no key starts with {prefix!r}{seen}")
    words = [vs.words[i][len(prefix) :] for i in rows]
    unseen = (lambda ws: vs.unseen([prefix + w for w in ws])) if vs.unseen else None
    return VectorSet(words, vs.vectors[np.asarray(rows)], f"{vs.name}[{lang}]", unseen)


def check_oov(oov: str) -> None:
    """What to do with unseen words: one of OOV_MODES."""
    if oov not in OOV_MODES:
        raise ConfigError(f"oov must be one of {', '.join(OOV_MODES)}, got {oov!r}")


def add_unseen(vs: VectorSet, index: dict, words, key=str) -> VectorSet:
    """`vs` with a row appended for each of `words` whose ``key(word)`` is not in `index`, its
    vector from ``vs.unseen`` (n-grams); `index` gets the new rows. Scoring unseen words needs
    a model with subwords: a fastText ``.bin``, or Embeddings given them."""
    if vs.unseen is None:
        raise ConfigError(f"{vs.name}: --oov subwords needs a model with subwords (a fastText .bin); "
                          "this one has none")
    new = {}
    for word in words:
        if key(word) not in index:
            new.setdefault(key(word), word)
    if not new:
        return vs
    for i, k in enumerate(new):
        index[k] = len(vs.words) + i
    added = np.asarray(vs.unseen(list(new.values())), dtype=np.float32)
    return VectorSet(vs.words + list(new.values()), np.concatenate((vs.vectors, added)), vs.name, vs.unseen)


def prefix_hint(vs: VectorSet) -> str:
    """A hint for an empty vocabulary match: joint models need a language."""
    sample = vs.words[:1000]
    prefixed = [w for w in sample if ":" in w[1:]]
    if sample and len(prefixed) > len(sample) // 2:
        langs = sorted({w.split(":", 1)[0] for w in prefixed})[:5]
        return f"; its keys carry language prefixes ({', '.join(langs)}): choose one with lang= / --lang"
    return ""


def first_index(words, case_insensitive: bool) -> dict:
    """Map each word (upper-cased if `case_insensitive`) to its first, most frequent, row.

    This is gensim's rule: of ``Paris`` and ``paris``, the more frequent one stands for both.
    """
    index = {}
    if case_insensitive:
        for i, w in enumerate(words):
            index.setdefault(w.upper(), i)
    else:
        for i, w in enumerate(words):
            index.setdefault(w, i)
    return index


def read_lines(path, what: str) -> list:
    """``(line_number, text)`` of a UTF-8 evaluation file (any line ending; a BOM is ignored)."""
    # splitlines() also splits on \r alone (old Mac files, such as one of the shared SimLex copies)
    return list(enumerate(read_text(path, what).splitlines(), start=1))
