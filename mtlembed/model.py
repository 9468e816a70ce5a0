"""`Embeddings`: trained vectors with their vocabulary."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Sequence

import numpy as np

from .errors import ConfigError, MissingDependencyError, UnknownWordError

_UNIT_BLOCK_ROWS = 1 << 15  # rows unit_rows scales at once: its temporaries stay a block's size


class Embeddings:
    """Word vectors, most frequent word first.

    `words` are the keys (`lang:word` when several languages were trained
    jointly); `vectors` is the input matrix `w_in` (float32, one row per key);
    `counts` the corpus counts when known.
    """

    def __init__(self, words: Sequence[str], vectors: np.ndarray, counts: np.ndarray | None = None,
                 subwords=None):
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise ConfigError(f"vectors must have shape ({len(words)}, dim), got {vectors.shape}")
        self.words = list(words)
        self.vectors = vectors
        self.counts = counts
        self.subwords = subwords  # a subwords.SubwordVectors: vectors of unseen words from their n-grams
        self._index: dict[str, int] | None = None
        self._unit: np.ndarray | None = None

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def index(self) -> dict[str, int]:
        if self._index is None:
            self._index = {w: i for i, w in enumerate(self.words)}
        return self._index

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def __repr__(self) -> str:
        return f"Embeddings({len(self)} words x {self.dim} dims)"

    @property
    def languages(self) -> list[str]:
        """Language prefixes of `lang:word` keys, in order of first appearance (empty if none)."""
        seen = dict.fromkeys(w.split(":", 1)[0] for w in self.words if ":" in w)
        return list(seen) if all(":" in w for w in self.words[:1000]) else []

    def by_language(self, language: str) -> Embeddings:
        """The words of one language, without their `lang:` prefix (with subwords: unseen words of
        that language too)."""
        prefix = language + ":"
        rows = [i for i, w in enumerate(self.words) if w.startswith(prefix)]
        if not rows:
            raise KeyError(f"no words with prefix '{prefix}'")
        if rows[-1] - rows[0] + 1 == len(rows):  # one range, as trained vocabularies are: a view, no copy
            rows = slice(rows[0], rows[-1] + 1)
            words = [w[len(prefix):] for w in self.words[rows]]
        else:
            words = [self.words[i][len(prefix):] for i in rows]
        counts = None if self.counts is None else self.counts[rows]
        subwords = self.subwords.for_language(language) if self.subwords is not None else None
        return Embeddings(words, self.vectors[rows], counts, subwords)

    def unit_vectors(self) -> np.ndarray:
        """Rows scaled to unit length (zero rows stay zero); cached."""
        if self._unit is None:
            self._unit = unit_rows(self.vectors)
        return self._unit

    # gensim's KeyedVectors names, with its semantics: code written for gensim works on Embeddings.

    @property
    def key_to_index(self) -> dict[str, int]:
        return self.index

    @property
    def index_to_key(self) -> list[str]:
        return self.words

    def get_index(self, key: str | int) -> int:
        """The row of a word (an int is taken as a row number, as gensim does)."""
        row = self.index.get(key, -1) if isinstance(key, str) else -1
        if row < 0 and isinstance(key, (int, np.integer)) and 0 <= key < len(self.words):
            row = int(key)
        if row < 0:
            raise UnknownWordError(f"not in the vocabulary: {key}")
        return row

    def get_vector(self, key: str | int, norm: bool = False) -> np.ndarray:
        """A word's vector (scaled to unit length with norm=True); an unseen word's from its
        n-grams when the model has subwords."""
        if self.subwords is not None and isinstance(key, str) and key not in self.index:
            vector = self.subwords.vector(key)
        else:
            vector = self.vectors[self.get_index(key)]
        return vector / max(float(np.linalg.norm(vector)), 1e-12) if norm else vector

    def __getitem__(self, key_or_keys) -> np.ndarray:
        """A word's vector, or a (len(keys), dim) array for a list of words."""
        if isinstance(key_or_keys, (str, int, np.integer)):
            return self.get_vector(key_or_keys)
        self._check_known(key_or_keys)
        return np.vstack([self.get_vector(key) for key in key_or_keys])

    def similarity(self, w1: str, w2: str) -> float:
        """Cosine similarity of two words."""
        return float(self.get_vector(w1, norm=True) @ self.get_vector(w2, norm=True))

    def most_similar(self, positive=None, negative=None, topn: int | None = 10,
                     restrict_vocab: int | None = None):
        """The `topn` words nearest by cosine to the mean of the `positive` words' unit vectors
        minus the `negative` ones' (gensim's semantics, 3CosAdd for an analogy).

        Words, row numbers, vectors (used as given) or (item, weight) pairs; one word or vector
        alone is a list of one. The query words themselves are never returned. Only the
        `restrict_vocab` most frequent words are candidates when given; topn=None returns the
        scores of all of them.
        """
        terms = [(item, 1.0) for item in _as_list(positive)] + [(item, -1.0) for item in _as_list(negative)]
        terms = [item if isinstance(item, tuple) else (item, weight) for item, weight in terms]
        if topn is not None and topn < 1:
            return []
        if not terms:
            raise ValueError("cannot compute similarity with no input")
        self._check_known(item for item, _ in terms if not isinstance(item, np.ndarray))
        query, exclude = np.zeros(self.dim), []
        for item, weight in terms:
            if isinstance(item, np.ndarray):
                query += weight * item
            else:
                if not (self.subwords is not None and isinstance(item, str) and item not in self.index):
                    exclude.append(self.get_index(item))
                query += weight * self.get_vector(item, norm=True)
        query /= sum(abs(weight) for _, weight in terms)
        query = (query / max(float(np.linalg.norm(query)), 1e-12)).astype(np.float32)
        scores = self.unit_vectors()[:restrict_vocab] @ query
        if topn is None:
            return scores
        scores[[row for row in exclude if row < len(scores)]] = -np.inf
        k = min(topn, len(scores))
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.words[i], float(scores[i])) for i in best if np.isfinite(scores[i])]

    def doesnt_match(self, words: Sequence[str]) -> str:
        """The word farthest from the mean of the others' unit vectors (unknown words are ignored)."""
        known = [word for word in words if word in self]
        if len(known) < len(words):
            ignored = ", ".join(word for word in words if word not in self)
            warnings.warn(f"not in the vocabulary, ignored: {ignored}", stacklevel=2)
        if not known:
            raise ValueError("cannot select a word from an empty list")
        unit = np.vstack([self.get_vector(word, norm=True) for word in known])
        mean = unit.mean(axis=0)
        scores = unit @ (mean / max(float(np.linalg.norm(mean)), 1e-12))
        return known[int(np.argmin(scores))]

    def _check_known(self, keys) -> None:
        """One error naming every unknown word at once."""
        if self.subwords is not None:  # every word has a vector
            return
        unknown = [str(key) for key in keys if isinstance(key, str) and key not in self.index]
        if unknown:
            raise UnknownWordError(f"not in the vocabulary: {', '.join(unknown)}")

    def save(self, path: str | os.PathLike, binary: bool | None = None) -> None:
        """word2vec format: binary for `.bin` (or binary=True), else text; gzip for `.gz`.
        Written atomically, a block of rows at a time."""
        from .io import save_word2vec

        save_word2vec(path, self.words, self.vectors, binary=binary)

    def save_per_language(self, prefix: str | os.PathLike, binary: bool = False) -> list[str]:
        """One word2vec file per language, `PREFIX.<lang>.vec` (or `.bin`), keys without prefix.

        The files are replaced together: all are written under temporary names first,
        then renamed, so a failure or Ctrl-C while writing changes none of them (see
        io.AtomicGroup for what a crash during the renames can leave)."""
        from .io import atomic_group, save_word2vec

        paths = per_language_paths(prefix, self.languages, binary)
        with atomic_group() as group:
            for language, path in zip(self.languages, paths):
                part = self.by_language(language)
                save_word2vec(path, part.words, part.vectors, binary=binary, group=group)
        return paths

    @classmethod
    def load(cls, path: str | os.PathLike, binary: bool | None = None) -> Embeddings:
        """Reads a word2vec text or binary file (format detected when binary is None), or a
        fastText .bin model (by its magic number), whose unseen words get vectors from n-grams."""
        from .io import read_vectors

        return cls(*read_vectors(path, binary=binary))

    def to_gensim(self):
        """A gensim KeyedVectors with the same keys and vectors (needs gensim)."""
        with _optional("gensim"):
            from gensim.models import KeyedVectors

        kv = KeyedVectors(self.dim)
        kv.add_vectors(self.words, self.vectors)
        return kv

    def to_torch(self, device: str = "cpu"):
        """The vectors as a torch tensor; on the CPU it shares memory with `vectors` (DLPack, no copy:
        torch_interop.as_tensor)."""
        from .torch_interop import as_tensor

        return as_tensor(self.vectors, device)

    def to_torch_embedding(self, freeze: bool = True, device: str = "cpu"):
        """A torch.nn.Embedding whose row `index[word]` is the word's vector, sharing memory with
        `vectors` on the CPU (torch_interop.embedding_layer)."""
        from .torch_interop import embedding_layer

        return embedding_layer(self.vectors, freeze, device)


def unit_rows(matrix: np.ndarray, dtype=np.float32, in_place: bool = False) -> np.ndarray:
    """Rows scaled to unit length; an all-zero row stays zero (cosine 0, never NaN). A C-contiguous
    copy of `dtype`, or with `in_place` `matrix` itself (an array of `dtype`). A block of rows at
    a time, so the only full-size array is the result."""
    matrix = matrix if in_place else np.array(matrix, dtype=dtype, order="C")
    for lo in range(0, len(matrix), _UNIT_BLOCK_ROWS):
        block = matrix[lo:lo + _UNIT_BLOCK_ROWS]
        norms = np.linalg.norm(block, axis=1, keepdims=True)
        block /= np.where(norms > 0, norms, 1)
    return matrix


def per_language_paths(prefix, languages: Sequence[str], binary: bool = False) -> list[str]:
    """Where save_per_language writes: `PREFIX.<lang>.vec` (or `.bin`) for each language."""
    return [f"{os.fspath(prefix)}.{language}.{'bin' if binary else 'vec'}" for language in languages]


def _as_list(value) -> list:
    """gensim's convention: one word, row number or vector stands for a list of one."""
    if value is None:
        return []
    if isinstance(value, (str, int, np.integer)) or (isinstance(value, np.ndarray) and value.ndim == 1):
        return [value]
    return list(value)


@contextlib.contextmanager
def _optional(extra: str):
    """Turns the ImportError of an optional package into one that says how to install it."""
    try:
        yield
    except ImportError as error:
        raise MissingDependencyError(f"this needs {extra}, which is not installed: pip install "
                                     f'"mtlembed[{extra}]" (or pip install {extra}) ({error})') from None
