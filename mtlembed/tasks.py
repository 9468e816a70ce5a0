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


def chunk_bounds(offsets: np.ndarray, chunk_tokens: int = CHUNK_TOKENS) -> np.ndarray:
    """Sentence indices cutting a task into chunks of about `chunk_tokens` tokens."""
    n_sentences, total = len(offsets) - 1, int(offsets[-1])
    marks = np.arange(chunk_tokens, total, chunk_tokens)
    cuts = np.searchsorted(offsets, marks, side="left")
    return np.unique(np.concatenate(([0], cuts, [n_sentences]))).astype(np.int64)


def schedule(task_offsets: list[np.ndarray], epochs: int, first_chunk_id: int = 0,
             chunk_tokens: int = CHUNK_TOKENS) -> dict[str, np.ndarray]:
    """Chunks of all tasks over all epochs, in run order ("proportional"
    sampling: every task advances at a rate proportional to its size, so all
    finish each epoch together)."""
    parts = []
    for task, offsets in enumerate(task_offsets):
        bounds = chunk_bounds(offsets, chunk_tokens)
        tokens = offsets[bounds]
        total = max(int(offsets[-1]), 1)
        parts.append({
            "task": np.full(len(bounds) - 1, task, dtype=np.int32),
            "sentence_begin": bounds[:-1],
            "sentence_end": bounds[1:],
            "tokens": np.diff(tokens),
            "position": tokens[1:] / total,  # where the chunk ends within its task's epoch
        })
    one_epoch = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    order = np.lexsort((one_epoch["task"], one_epoch["position"]))
    one_epoch = {key: value[order] for key, value in one_epoch.items()}

    n = len(order)
    chunks = {key: np.tile(one_epoch[key], epochs) for key in ("task", "sentence_begin", "sentence_end")}
    tokens = np.tile(one_epoch["tokens"], epochs).astype(np.float64)
    ends = np.cumsum(tokens)
    grand_total = max(ends[-1], 1.0) if len(ends) else 1.0
    chunks["progress_end"] = ends / grand_total
    chunks["progress_begin"] = (ends - tokens) / grand_total
    chunks["id"] = np.arange(first_chunk_id, first_chunk_id + n * epochs, dtype=np.uint64)
    return chunks
