"""One vocabulary across tasks, with a namespace per language.

Each language owns a contiguous range of ids (most frequent first), so a
language's noise distribution is one alias table over its range and
`Embeddings.by_language` is a slice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import backend


@dataclass
class Vocabulary:
    words: list[str]        # without language prefix
    counts: np.ndarray      # int64, one per word
    languages: list[str]    # in id order
    starts: np.ndarray      # int64: language i owns ids starts[i] .. starts[i+1]-1

    def __len__(self) -> int:
        return len(self.words)

    @property
    def total_words(self) -> int:
        """The corpus words the vocabulary counts (every language; the same on every rank of a run)."""
        return int(self.counts.sum())

    def range_of(self, language: str) -> tuple[int, int]:
        i = self.languages.index(language)
        return int(self.starts[i]), int(self.starts[i + 1])

    def language_of_ids(self) -> np.ndarray:
        """Index into `languages` for every id."""
        return np.repeat(np.arange(len(self.languages)), np.diff(self.starts))

    def keys(self) -> list[str]:
        """Word keys: plain for one language, `lang:word` when there are several."""
        if len(self.languages) == 1:
            return list(self.words)
        keys = []
        for i, language in enumerate(self.languages):
            keys.extend(f"{language}:{w}" for w in self.words[self.starts[i]:self.starts[i + 1]])
        return keys

    def keep_probabilities(self, sample: float) -> np.ndarray:
        """word2vec's subsampling: P(keep) = (sqrt(f / t) + 1) * t / f, f the word's
        share of its language's tokens, t = sample."""
        keep = np.ones(len(self), dtype=np.float32)
        if sample <= 0:
            return keep
        for i in range(len(self.languages)):
            counts = self.counts[self.starts[i]:self.starts[i + 1]].astype(np.float64)
            threshold = sample * counts.sum()
            prob = (np.sqrt(counts / threshold) + 1.0) * threshold / counts
            keep[self.starts[i]:self.starts[i + 1]] = np.minimum(prob, 1.0)
        return keep

    def noise_tables(self, power: float) -> list[tuple[np.ndarray, np.ndarray, int]]:
        """One alias table of count^power per language (TrainConfig.ns_exponent): (prob, alias, first id)."""
        tables = []
        for i in range(len(self.languages)):
            counts = self.counts[self.starts[i]:self.starts[i + 1]].astype(np.float64)
            prob, alias = backend.core().alias_table(counts ** power)
            tables.append((prob, alias, int(self.starts[i])))
        return tables


def build(counters: dict[str, object], min_count: int, max_vocab: int | None,
          fixed: dict | None = None) -> tuple[Vocabulary, dict[str, np.ndarray]]:
    """The vocabulary from per-language counters, and for each language the map
    from provisional (first-seen) ids to final ids (-1: dropped). A language in `fixed`
    (growth.fixed_vocabulary: the `vocab` file's words and counts) has exactly those words."""
    words: list[str] = []
    counts: list[np.ndarray] = []
    starts = [0]
    mappings = {}
    for language, counter in counters.items():
        blob, ends, token_counts, ids = counter.words()
        begins = np.concatenate(([0], ends[:-1]))
        mapping = np.full(counter.issued, -1, dtype=np.int32)  # ids pruned while counting stay -1
        if fixed and language in fixed:
            from .growth import fixed_order

            corpus_words = [blob[b:e].decode("utf-8") for b, e in zip(begins.tolist(), ends.tolist())]
            listed, listed_counts, index = fixed_order(corpus_words, token_counts, *fixed[language])
            words.extend(listed)
            counts.append(listed_counts)
            mapping[ids[index >= 0]] = starts[-1] + index[index >= 0]
            mappings[language] = mapping
            starts.append(starts[-1] + len(listed))
            continue
        # Most frequent first; ties keep first-seen order, as word2vec's stable sort does.
        order = np.argsort(-token_counts, kind="stable")
        kept = order[token_counts[order] >= min_count]
        if max_vocab is not None:
            kept = kept[:max_vocab]
        words.extend(blob[begins[i]:ends[i]].decode("utf-8") for i in kept.tolist())
        counts.append(token_counts[kept])
        mapping[ids[kept]] = np.arange(starts[-1], starts[-1] + len(kept), dtype=np.int32)
        mappings[language] = mapping
        starts.append(starts[-1] + len(kept))
    vocab = Vocabulary(words, np.concatenate(counts) if counts else np.zeros(0, np.int64),
                       list(counters), np.array(starts, dtype=np.int64))
    return vocab, mappings
