"""Evaluation while training: the run's dev sets scored at the end of each epoch (`eval_every = "epoch"`).

The dev sets are TrainConfig's `eval_analogy`, `eval_similarity` and `eval_bli` (job file `[train]`
keys, or `--eval-analogy FILE` ... on the command line). In a joint run an analogy or similarity
set scores the words of the language named by a folder of its path (`analogy/it/...` -> it), else
those of the first task's language; a BLI dictionary names its pair, `SRC-TGT.*` (MUSE's
`en-es.5000-6500.txt`), and is scored by CSLS over the whole target vocabulary.

Each epoch adds one point to the report's `eval_history`:
``{"epoch": 2, "words": ..., "seconds": ..., "words_per_second": ..., "analogy": {"questions-words": 0.41},
"similarity": {...}, "bli": {"en-es.5000-6500": 0.33}}`` (accuracy, Spearman's rho, P@1); the last
epoch's full results (BLI P@1 by frequency band among them) become the report's `evaluation`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .dictionary import language_pair
from .errors import ConfigError, MtlembedError

__all__ = ["DevSet", "DevSets", "HEADLINE", "Milestones", "dev_files"]

HEADLINE = {"analogy": "accuracy", "similarity": "spearman", "bli": "p@1"}  # the metric a chart shows


@dataclass(frozen=True)
class DevSet:
    kind: str               # analogy, similarity or bli
    path: str
    languages: tuple        # (), (lang,) or (src, tgt)

    @property
    def name(self) -> str:
        name = Path(self.path).name
        return name[:-4] if name.endswith(".txt") else name


class DevSets:
    """The dev sets of a run, checked before training (missing files, unknown languages)."""

    def __init__(self, config, languages: list[str]):
        self.sets: list[DevSet] = []
        joint = len(languages) > 1
        for kind, path in dev_files(config):
            if not Path(path).is_file():
                raise ConfigError(f"eval_{kind}: file not found: {path}")
            self.sets.append(DevSet(kind, path, _languages_of(kind, path, languages, joint)))
        if config.eval_every != "none" and not self.sets:
            raise ConfigError(f"eval_every = {config.eval_every!r} scores the dev sets: give eval_analogy, "
                              "eval_similarity or eval_bli")

    def __bool__(self) -> bool:
        return bool(self.sets)

    def score(self, embeddings) -> tuple[dict, dict]:
        """({kind: {name: headline metric}}, {kind: {name: full result}}) of `embeddings` (an error
        in one set, e.g. none of its words in the vocabulary, is its result: {"error": message})."""
        from . import eval as ev

        scores, results = {}, {}
        for dev in self.sets:
            try:
                if dev.kind == "bli":
                    result = ev.bli(embeddings, None, dev.path, src_lang=dev.languages[0],
                                    tgt_lang=dev.languages[1])
                else:
                    lang = dev.languages[0] if dev.languages else None
                    result = getattr(ev, dev.kind)(embeddings, dev.path, lang=lang)
            except MtlembedError as error:
                if not isinstance(error, ValueError):
                    raise
                result = {"error": str(error)}
            results.setdefault(dev.kind, {})[dev.name] = result
            scores.setdefault(dev.kind, {})[dev.name] = result.get(HEADLINE[dev.kind])
        return scores, results


def dev_files(config) -> list[tuple[str, str]]:
    """(kind, path) of each dev set of a TrainConfig (analogy, similarity, bli)."""
    return [(kind, path) for kind in HEADLINE for path in getattr(config, f"eval_{kind}") or ()]


def _languages_of(kind: str, path: str, languages: list[str], joint: bool) -> tuple:
    if kind == "bli":
        pair = language_pair(path) or ()
        if not joint or len(pair) != 2 or not set(pair) <= set(languages) or pair[0] == pair[1]:
            raise ConfigError(f"eval_bli {path}: BLI needs a joint run and a dictionary named SRC-TGT.* "
                              f"with two of the run's languages ({', '.join(languages)}), e.g. "
                              f"{'-'.join(languages[:2]) if joint else 'en-es'}.5000-6500.txt")
        return pair
    if not joint:
        return ()
    named = [part for part in Path(path).parts[:-1] if part in languages]
    return (named[-1] if named else languages[0],)


class Milestones:
    """What the trainer does between two segments of the schedule: the frozen rows copied back
    (growth.FrozenRows; segments then hold at most a chunk per thread) and, at each epoch's end,
    the dev sets scored into `history` (segments then end at epoch ends).

    `progress_end` is the schedule's (each chunk's end on the run's 0..1 timeline), `chunk_words` the
    run's words before each chunk; `report` the trainer's (its train_words and train_seconds so far:
    this process's); `embeddings()` the vectors as they are."""

    def __init__(self, progress_end, chunk_words, config, report, embeddings, frozen, dev: DevSets,
                 history: list):
        epochs = config.epochs
        ends = np.searchsorted(progress_end, np.arange(1, epochs + 1) / epochs - 1e-9, side="left") + 1
        self.epoch_ends = [int(min(end, len(progress_end))) for end in ends]
        self.chunk_words, self.threads = chunk_words, config.worker_threads
        self.report, self.embeddings = report, embeddings
        self.frozen = frozen if frozen.ranges else None
        self.dev = dev if config.eval_every == "epoch" else None
        self.history = history
        self.results: dict = {}
        self._last = (report.train_words, report.train_seconds)

    def segment_end(self, position: int, end: int) -> int:
        if self.frozen is not None:
            end = min(end, position + self.threads)
        if self.dev is not None:
            end = min([end] + [e for e in self.epoch_ends if e > position])
        return end

    def after(self, position: int) -> None:
        if self.frozen is not None:
            self.frozen.restore()
        if self.dev is None or position not in self.epoch_ends:
            return
        epoch = self.epoch_ends.index(position) + 1
        if any(point.get("epoch") == epoch for point in self.history):  # resumed at this very point
            return
        words, seconds = self.report.train_words, self.report.train_seconds
        speed = (words - self._last[0]) / max(seconds - self._last[1], 1e-9)
        self._last = (words, seconds)
        start = time.perf_counter()
        scores, self.results = self.dev.score(self.embeddings())
        self.report.eval_seconds += time.perf_counter() - start
        self.history.append({"epoch": epoch, "words": int(self.chunk_words[position]),
                             "seconds": round(seconds, 3), "words_per_second": speed, **scores})
