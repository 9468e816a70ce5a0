"""`Embeddings`: trained vectors with their vocabulary."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence

import numpy as np

from .errors import ConfigError, MissingDependencyError


class Embeddings:
    """Word vectors, most frequent word first.

    `words` are the keys (`lang:word` when several languages were trained
    jointly); `vectors` is the input matrix `w_in` (float32, one row per key);
    `counts` the corpus counts when known.
    """

    def __init__(self, words: Sequence[str], vectors: np.ndarray, counts: np.ndarray | None = None):
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise ConfigError(f"vectors must have shape ({len(words)}, dim), got {vectors.shape}")
        self.words = list(words)
        self.vectors = vectors
        self.counts = counts
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

    def __getitem__(self, word: str) -> np.ndarray:
        try:
            return self.vectors[self.index[word]]
        except KeyError:
            raise KeyError(f"'{word}' is not in the vocabulary") from None

    def __repr__(self) -> str:
        return f"Embeddings({len(self)} words x {self.dim} dims)"

    @property
    def languages(self) -> list[str]:
        """Language prefixes of `lang:word` keys, in order of first appearance (empty if none)."""
        seen = dict.fromkeys(w.split(":", 1)[0] for w in self.words if ":" in w)
        return list(seen) if all(":" in w for w in self.words[:1000]) else []

    def by_language(self, language: str) -> Embeddings:
        """The words of one language, without their `lang:` prefix."""
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
        return Embeddings(words, self.vectors[rows], counts)

    def unit_vectors(self) -> np.ndarray:
        """Rows scaled to unit length (zero rows stay zero); cached."""
        if self._unit is None:
            norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
            self._unit = (self.vectors / np.maximum(norms, 1e-12)).astype(np.float32)
        return self._unit

    def most_similar(self, query: str | np.ndarray, topn: int = 10,
                     restrict: int | None = None) -> list[tuple[str, float]]:
        """The `topn` nearest words by cosine similarity to a word or a vector
        (the query word itself excluded), among the `restrict` most frequent."""
        unit = self.unit_vectors()[:restrict]
        vector = self[query] if isinstance(query, str) else np.asarray(query, dtype=np.float32)
        vector = vector / max(float(np.linalg.norm(vector)), 1e-12)
        scores = unit @ vector
        if isinstance(query, str) and self.index[query] < len(scores):
            scores[self.index[query]] = -np.inf
        k = min(topn, len(scores))
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best])]
        return [(self.words[i], float(scores[i])) for i in best if np.isfinite(scores[i])]

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
        """Reads a word2vec text or binary file (format detected when binary is None)."""
        from .io import load_word2vec

        words, vectors = load_word2vec(path, binary=binary)
        return cls(words, vectors)

    def to_gensim(self):
        """A gensim KeyedVectors with the same keys and vectors (needs gensim)."""
        with _optional("gensim"):
            from gensim.models import KeyedVectors

        kv = KeyedVectors(self.dim)
        kv.add_vectors(self.words, self.vectors)
        return kv

    def to_torch(self, device: str = "cpu"):
        """The vectors as a torch tensor; on the CPU it shares memory with `vectors`."""
        with _optional("torch"):
            import torch

        return torch.from_numpy(self.vectors).to(device)


def per_language_paths(prefix, languages: Sequence[str], binary: bool = False) -> list[str]:
    """Where save_per_language writes: `PREFIX.<lang>.vec` (or `.bin`) for each language."""
    return [f"{os.fspath(prefix)}.{language}.{'bin' if binary else 'vec'}" for language in languages]


@contextlib.contextmanager
def _optional(extra: str):
    """Turns the ImportError of an optional package into one that says how to install it."""
    try:
        yield
    except ImportError as error:
        raise MissingDependencyError(f"this needs {extra}, which is not installed: pip install "
                                     f'"mtlembed[{extra}]" (or pip install {extra}) ({error})') from None
