"""Tasks and the schedule that interleaves them.

A task is one corpus of one language (or domain) with a loss weight. The
schedule cuts every task's sentences into chunks and orders the chunks of all
tasks and epochs into one run; each chunk carries its place on the run's
0..1 timeline (for the learning-rate decay) and an id that seeds its RNG.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from .errors import ConfigError

# Tokens per chunk: small enough to balance threads and report progress,
# large enough that per-chunk overhead does not show.
CHUNK_TOKENS = 32768


@dataclass(frozen=True)
class TaskSpec:
    """One corpus: files/globs/folders of one language, with a loss weight."""

    name: str
    paths: tuple[str, ...]
    lang: str = "default"
    weight: float = 1.0
    head: str = field(default="shared")

    def __post_init__(self) -> None:
        if not self.paths:
            raise ConfigError(f"task '{self.name}' has no paths")
        if isinstance(self.paths, (str, os.PathLike)):
            object.__setattr__(self, "paths", (os.fspath(self.paths),))
        object.__setattr__(self, "paths", tuple(os.fspath(p) for p in self.paths))
        if not isinstance(self.weight, (int, float)) or isinstance(self.weight, bool) or not self.weight > 0:
            raise ConfigError(f"task '{self.name}': weight must be a number > 0, got {self.weight!r}")
        if not self.lang or ":" in self.lang or any(c.isspace() for c in self.lang):
            raise ConfigError(f"task '{self.name}': lang must be a non-empty name without ':' or spaces, "
                              f"got {self.lang!r}")


@dataclass(frozen=True)
class ParallelSpec:
    """Two line-aligned files of two languages: a word predicts the words around
    its aligned position in the other sentence (BiSkip-style)."""

    name: str
    langs: tuple[str, str]
    paths: tuple[str, str]
    weight: float = 1.0


@dataclass(frozen=True)
class DictionarySpec:
    """Seed translation pairs (`source target` per line) for code-switching:
    while training on a language's text, a word with translations is replaced
    by one of them with probability `codeswitch`. The pivot language (the first
    task's) is never switched, so its text and quality stay its own."""

    langs: tuple[str, str]
    path: str
    codeswitch: float = 0.25


def chunk_bounds(offsets: np.ndarray, chunk_tokens: int = CHUNK_TOKENS) -> np.ndarray:
    """Sentence indices cutting a task into chunks of about `chunk_tokens` tokens."""
    n_sentences, total = len(offsets) - 1, int(offsets[-1])
    marks = np.arange(chunk_tokens, total, chunk_tokens)
    cuts = np.searchsorted(offsets, marks, side="left")
    return np.unique(np.concatenate(([0], cuts, [n_sentences]))).astype(np.int64)


def schedule(task_offsets: list[np.ndarray], epochs: int, sampling: str = "proportional",
             temperature: float = 1.0, chunk_tokens: int = CHUNK_TOKENS) -> dict[str, np.ndarray]:
    """Chunks of all tasks over all epochs, in run order.

    proportional: every task is read once per epoch, each advancing at a rate
    proportional to its size, so all finish the epoch together.
    temperature: task t's share of an epoch is q_t ~ n_t^(1/T). The largest
    task is still read exactly once per epoch (sharing must not starve the
    task with the most data); smaller ones are repeated, each continuing where
    it stopped, so an epoch holds more tokens than the corpora. Each task's
    chunks stay evenly spread over the epoch. Deterministic: no randomness.
    """
    sizes = np.array([max(int(o[-1]), 1) for o in task_offsets], dtype=np.float64)
    if sampling == "temperature":
        quota = sizes.max() * (sizes / sizes.max()) ** (1.0 / temperature)  # tokens per epoch
    else:
        quota = sizes
    parts = []
    for task, offsets in enumerate(task_offsets):
        bounds = chunk_bounds(offsets, chunk_tokens)
        tokens = np.diff(offsets[bounds]).astype(np.float64)
        # Enough passes over the task's chunks to cover every epoch's quota.
        passes = int(np.ceil(quota[task] * epochs / sizes[task])) + 1
        cycle = np.tile(np.arange(len(tokens)), passes)
        ends = np.cumsum(tokens[cycle])
        taken = cycle[: int(np.searchsorted(ends, quota[task] * epochs - 0.5)) + 1]
        position = np.cumsum(tokens[taken]) / (quota[task] * epochs)  # 0..1 over the whole run
        parts.append({"task": np.full(len(taken), task, dtype=np.int32), "sentence_begin": bounds[taken],
                      "sentence_end": bounds[taken + 1], "tokens": tokens[taken], "position": position})
    merged = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    order = np.lexsort((merged["task"], merged["position"]))
    chunks = {key: merged[key][order] for key in ("task", "sentence_begin", "sentence_end")}
    tokens = merged["tokens"][order]
    ends = np.cumsum(tokens)
    total = max(float(ends[-1]), 1.0) if len(ends) else 1.0
    chunks["progress_end"] = ends / total
    chunks["progress_begin"] = (ends - tokens) / total
    chunks["id"] = np.arange(len(tokens), dtype=np.uint64)
    return chunks
