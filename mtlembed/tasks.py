"""Tasks and the schedule that interleaves them.

A task is one corpus of one language (or domain) with a loss weight. The
schedule cuts every task's sentences into chunks and orders the chunks of all
tasks and epochs into one run; each chunk carries its place on the run's
0..1 timeline (for the learning-rate decay) and an id that seeds its RNG.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .config import SAFE_NAME, param, validate
from .errors import ConfigError

# Tokens per chunk: small enough to balance threads and report progress,
# large enough that per-chunk overhead does not show.
CHUNK_TOKENS = 32768
# A chunk is also what a stop (Ctrl-C, a checkpoint) waits for, so its work is
# bounded, not only its words: tokens x padded dim x (window + 1) x
# (negative + 1) stays under CHUNK_WORK, about 0.05 s on one AVX-512 core (which
# does ~1e10 of these a second at any dim), but a chunk keeps at least
# MIN_CHUNK_TOKENS tokens. Ordinary dims (up to ~400 at window 5, negative 5)
# keep CHUNK_TOKENS.
CHUNK_WORK = 5e8
MIN_CHUNK_TOKENS = 256


# A task's or parallel text's loss weight scales its learning rate: beyond this the updates
# diverge to NaN vectors whatever alpha is (alpha itself is at most 10).
MAX_WEIGHT = 1000.0
_HEADS = ("shared", "per_task")


def _misspelled_head(head: str) -> str | None:
    """Any name is a valid head (tasks naming the same head share it), so a misspelled
    "per_task" would silently become one head shared by all: names that look like a
    misspelling of the two keywords are refused."""
    if head in _HEADS:
        return None
    normalized_head = re.sub(r"[\s-]+", "_", head.strip().lower())
    close = ([normalized_head] if normalized_head in _HEADS
             else difflib.get_close_matches(normalized_head, _HEADS, 1, 0.8))
    return (f"did you mean '{close[0]}'? (heads are \"shared\", \"per_task\", or a name that the tasks "
            "sharing one head give)") if close else None


_LANG = {"pattern": SAFE_NAME}
_WEIGHT = {"above": 0.0, "high": MAX_WEIGHT}


@dataclass(frozen=True)
class TaskSpec:
    """One corpus: files/globs/folders of one language, with a loss weight."""

    name: str = param(help="the task's name, unique among tasks and parallel texts (progress, report)")
    paths: tuple[str, ...] = param(help="files, globs (** recurses) or folders of the corpus", path=True,
                                   what="a path or a non-empty list of paths")
    lang: str = param("default", "its language (or domain): tasks of one language share word rows", **_LANG)
    weight: float = param(1.0, "loss weight: scales the learning rate of this task's updates", **_WEIGHT)
    head: str = param("shared", "output matrix: shared, per_task, or a name shared by several tasks",
                      rule=_misspelled_head)
    jsonl_field: str | None = param(None, "the files are JSON Lines: train on this field's text (default: "
                                    "[train]'s jsonl_field)")

    def __post_init__(self) -> None:
        validate(self, f"task {self.name!r}")


@dataclass(frozen=True)
class ParallelSpec:
    """Two line-aligned files of two languages: a word predicts the words around
    its aligned position in the other sentence (BiSkip-style)."""

    name: str = param(help="its name, unique among tasks and parallel texts (default: the language pair)")
    langs: tuple[str, str] = param(help="the languages of the two files", **_LANG,
                                   what='a pair of two different languages, e.g. ["en", "es"]')
    paths: tuple[str, str] = param(help="the two line-aligned files, the first language's first", path=True,
                                   what="a list of two different line-aligned files (first language first)")
    weight: float = param(1.0, "loss weight: scales the learning rate of its updates", **_WEIGHT)

    def __post_init__(self) -> None:
        validate(self, f"parallel {self.name!r}")


@dataclass(frozen=True)
class DictionarySpec:
    """Seed translation pairs (`source target` per line) for code-switching:
    while training on a language's text, a word with translations is replaced
    by one of them with probability `codeswitch`. The pivot language (the first
    task's) is never switched, so its text and quality stay its own."""

    langs: tuple[str, str] = param(help="source and target language (the file's first and second column)",
                                   **_LANG, what='a pair of two different languages, e.g. ["en", "es"]')
    path: str | None = param(None, "the dictionary file, `source target` per line", path=True)
    codeswitch: float = param(0.25, "probability that a word with translations is replaced by one",
                              low=0.0, high=1.0)
    induced_from: str | None = param(None, "instead of a file: the name of a [[parallel]] text of the same "
                                           "languages, whose pairs are induced from it (Dice over aligned "
                                           "lines, mutual best; mtlembed induce)")

    def __post_init__(self) -> None:
        label = (f"dictionary {self.path!r}" if self.path else
                 f"dictionary induced from {self.induced_from!r}" if self.induced_from else "dictionary")
        validate(self, label)
        if (self.path is None) == (self.induced_from is None):
            raise ConfigError(f"{label}: give either path (a dictionary file) or induced_from (the name of a "
                              "[[parallel]] text), not " + ("both" if self.path else "neither"))

    @property
    def name(self) -> str:
        """How messages name it: its file, or where it is induced from."""
        return self.path or f"the dictionary induced from '{self.induced_from}'"

    def source_text(self, parallel: Sequence[ParallelSpec]) -> ParallelSpec:
        """The parallel text an induced dictionary is read from; a ConfigError when `induced_from` names
        none, or one of other languages."""
        found = [p for p in parallel if p.name == self.induced_from]
        if not found:
            names = ", ".join(repr(p.name) for p in parallel) or "none"
            raise ConfigError(f"{self.name}: no [[parallel]] text is named '{self.induced_from}' "
                              f"(parallel texts: {names})")
        if set(found[0].langs) != set(self.langs):
            raise ConfigError(f"{self.name}: its langs {list(self.langs)} are not those of the parallel "
                              f"text '{found[0].name}' ({list(found[0].langs)})")
        return found[0]


def chunk_size(dim: int, window: int, negative: int) -> int:
    """Tokens per chunk for rows of `dim` floats (padded): CHUNK_TOKENS, fewer where that is too much work."""
    work_per_token = dim * (window + 1) * (negative + 1)
    return int(min(CHUNK_TOKENS, max(MIN_CHUNK_TOKENS, CHUNK_WORK // work_per_token)))


def chunk_bounds(offsets: np.ndarray, chunk_tokens: int = CHUNK_TOKENS) -> np.ndarray:
    """Sentence indices cutting a task into chunks of about `chunk_tokens` tokens."""
    n_sentences, total = len(offsets) - 1, int(offsets[-1])
    marks = np.arange(chunk_tokens, total, chunk_tokens)
    cuts = np.searchsorted(offsets, marks, side="left")
    return np.unique(np.concatenate(([0], cuts, [n_sentences]))).astype(np.int64)


def schedule(task_offsets: list[np.ndarray], epochs: int, sampling: str = "proportional",
             temperature: float = 1.0, chunk_tokens: int = CHUNK_TOKENS,
             shuffle_seed: int | None = None) -> dict[str, np.ndarray]:
    """Chunks of all tasks over all epochs, in run order.

    Each pass over a task reads its chunks in corpus order, or with
    `shuffle_seed` in a fresh permutation per pass drawn from it (task t's
    passes from the seed and t: the same for any other task's size).

    proportional: every task is read once per epoch, each advancing at a rate
    proportional to its size, so all finish the epoch together.
    temperature: task t's share of an epoch is q_t ~ n_t^(1/T). The largest
    task is still read exactly once per epoch (sharing must not starve the
    task with the most data); smaller ones are repeated, each continuing where
    it stopped, so an epoch holds more tokens than the corpora. Each task's
    chunks stay evenly spread over the epoch. Deterministic: the same
    arguments give the same schedule.
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
        if shuffle_seed is None:
            cycle = np.tile(np.arange(len(tokens)), passes)
        else:
            rng = np.random.default_rng([shuffle_seed, task])
            cycle = np.concatenate([rng.permutation(len(tokens)) for _ in range(passes)])
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
