"""Training: corpus -> vocabulary -> encoded ids -> schedule -> kernel -> Embeddings."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence, Union

import numpy as np

from . import backend, corpus, tasks as tasks_module, vocab as vocab_module
from .config import TrainConfig, from_mapping
from .errors import CorpusError, ResourceError
from .model import Embeddings
from .progress import ProgressBar
from .tasks import TaskSpec


@dataclass
class EncodedCorpus:
    """Every task's text as final ids, with the vocabulary they index."""

    vocab: vocab_module.Vocabulary
    tasks: list[TaskSpec]
    streams: list            # _core.Stream per task: .tokens (int32), .offsets (int64)
    words_read: int          # tokens before min_count / max_vocab
    stats: corpus.ReadStats

    @property
    def words(self) -> int:
        """Tokens left for training, all tasks."""
        return sum(int(s.offsets[-1]) for s in self.streams)


@dataclass
class Report:
    """Timings and counts of a run (what `--report` writes)."""

    corpus_words: int = 0
    train_words: int = 0
    vocab_size: int = 0
    vocab_seconds: float = 0.0
    train_seconds: float = 0.0
    export_seconds: float = 0.0
    total_seconds: float = 0.0
    words_per_second: float = 0.0
    final_loss: float = float("nan")
    simd: str = ""
    device: str = ""
    threads: int = 0
    config: dict = field(default_factory=dict)


def read_corpus(task_specs: Sequence[TaskSpec], config: TrainConfig) -> EncodedCorpus:
    """Reads every task once: tokens are counted per language and encoded per task."""
    core = backend.core()
    counters: dict[str, object] = {}
    streams, words_read = [], 0
    stats = corpus.ReadStats()
    for spec in task_specs:
        files = corpus.expand_paths(spec.paths)
        counter = counters.setdefault(spec.lang, core.Counter())
        stream = core.Stream(config.max_sentence_length)
        task_words = 0
        for block, end_of_file in corpus.read_blocks(files, config.lowercase, config.encoding_errors == "strict", stats):
            if end_of_file:
                stream.end_sentence()
            else:
                task_words += core.tokenize(block, counter, stream)
        if task_words == 0:
            raise CorpusError(f"task '{spec.name}': the corpus has no words ({', '.join(map(str, files[:3]))}"
                              f"{', ...' if len(files) > 3 else ''})")
        streams.append(stream)
        words_read += task_words

    vocab, mappings = vocab_module.build(counters, config.min_count, config.max_vocab)
    for spec, stream in zip(task_specs, streams):
        stream.remap(mappings[spec.lang])
        if int(stream.offsets[-1]) == 0:
            distinct = len(counters[spec.lang])
            raise CorpusError(f"task '{spec.name}': no word occurs at least min_count={config.min_count} times "
                              f"({distinct} distinct words); lower --min-count")
    return EncodedCorpus(vocab, list(task_specs), streams, words_read, stats)


# The CPU kernel works on 16-float blocks: rows are padded with zero columns
# (which stay zero) and start on 64-byte cache-line boundaries.
ROW_BLOCK = 16


def padded_matrix(rows: int, dim: int) -> np.ndarray:
    """A zeroed float32 (rows, dim rounded up to ROW_BLOCK) matrix, 64-byte aligned."""
    cols = -(-dim // ROW_BLOCK) * ROW_BLOCK
    buffer = np.zeros(rows * cols + ROW_BLOCK, dtype=np.float32)
    offset = (-buffer.ctypes.data % 64) // 4
    return buffer[offset:offset + rows * cols].reshape(rows, cols)


def available_memory() -> Optional[int]:
    """Bytes of memory available to allocate (MemAvailable), None if unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_memory(rows: int, dim: int, matrices: int) -> None:
    """Refuses, before allocating, matrices that cannot fit in memory."""
    need = rows * dim * 4 * matrices
    free = available_memory()
    if free is not None and need > free:
        raise ResourceError(f"the matrices need {need / 2**30:.1f} GiB ({matrices} x {rows} words x {dim} dims, "
                            f"float32) but only {free / 2**30:.1f} GiB of memory is available; "
                            "lower --dim or --max-vocab")


class Trainer:
    """Trains embeddings on one or more tasks.

    >>> trainer = Trainer(TrainConfig(dim=100), [TaskSpec("wiki", ("corpus.txt",))])
    >>> embeddings = trainer.train()
    """

    def __init__(self, config: TrainConfig, task_specs: Sequence[TaskSpec]):
        if not task_specs:
            raise CorpusError("no tasks to train")
        names = [t.name for t in task_specs]
        if len(set(names)) != len(names):
            raise CorpusError(f"task names must be unique: {names}")
        self.config = config
        self.task_specs = list(task_specs)
        self.report = Report(config={k: v for k, v in vars(config).items()})
        self.corpus: Optional[EncodedCorpus] = None

    def read(self) -> EncodedCorpus:
        start = time.perf_counter()
        self.corpus = read_corpus(self.task_specs, self.config)
        self.report.vocab_seconds = time.perf_counter() - start
        self.report.corpus_words = self.corpus.words_read
        self.report.vocab_size = len(self.corpus.vocab)
        return self.corpus

    def train(self, progress: Union[bool, Callable, None] = False) -> Embeddings:
        """Reads the corpus (if not yet read) and trains; `progress=True` draws a bar on stderr."""
        cfg = self.config
        data = self.corpus or self.read()
        device = backend.resolve_device(cfg.device)
        heads = sorted({t.head if t.head != "per_task" else t.name for t in self.task_specs})
        head_of = {t.name: heads.index(t.head if t.head != "per_task" else t.name) for t in self.task_specs}
        rows = len(data.vocab)
        check_memory(rows, -(-cfg.dim // ROW_BLOCK) * ROW_BLOCK, 1 + len(heads))

        rng = np.random.default_rng(cfg.seed)
        w_in = padded_matrix(rows, cfg.dim)
        # word2vec's init: uniform in [-0.5/dim, 0.5/dim); w_out starts at zero.
        w_in[:, :cfg.dim] = (rng.random((rows, cfg.dim), dtype=np.float32) - 0.5) / cfg.dim
        w_out = [padded_matrix(rows, cfg.dim) for _ in heads]
        keep = data.vocab.keep_probabilities(cfg.sample)
        noise = data.vocab.noise_tables()
        lang_index = {lang: i for i, lang in enumerate(data.vocab.languages)}
        task_tuples = [(s.tokens, s.offsets, lang_index[t.lang], head_of[t.name], float(t.weight))
                       for t, s in zip(self.task_specs, data.streams)]
        chunks = tasks_module.schedule([s.offsets for s in data.streams], cfg.epochs)

        total_words = data.words * cfg.epochs
        callback = progress
        if progress is True:
            callback = ProgressBar(total_words, cfg.learning_rate, cfg.final_learning_rate)
        info = backend.info()
        simd = info["simd"]
        stats = backend.core().train(
            model=cfg.model, dim=w_in.shape[1], window=cfg.window, negative=cfg.negative, alpha=cfg.learning_rate,
            min_alpha=cfg.final_learning_rate, seed=cfg.seed, threads=cfg.worker_threads,
            backend="cuda" if device == "cuda" else simd, w_in=w_in, w_out=w_out, keep_prob=keep, noise=noise,
            tasks=task_tuples, chunks=chunks, progress=callback or None)
        if isinstance(callback, ProgressBar):
            callback(stats["words"], stats["chunks"], stats["loss"], stats["pairs"], final=True)

        r = self.report
        r.train_seconds = stats["seconds"]
        r.train_words = int(stats["words"])
        r.words_per_second = stats["words"] / max(stats["seconds"], 1e-9)
        r.final_loss = stats["loss"] / max(stats["pairs"], 1)
        r.simd, r.device, r.threads = (simd if device == "cpu" else "cuda"), device, cfg.worker_threads
        self.w_out = w_out
        return Embeddings(data.vocab.keys(), w_in[:, :cfg.dim], data.vocab.counts)


def train(corpus_paths: Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]],
          config: Optional[TrainConfig] = None, progress: bool = False, **params) -> Embeddings:
    """Trains on one corpus (paths, globs or folders) and returns the Embeddings.

    Parameters are TrainConfig's (dim, window, negative, sample, min_count,
    max_vocab, epochs, alpha, threads, seed, model, lowercase, ...):

    >>> vectors = train("corpus.txt.gz", dim=100, epochs=5)
    >>> vectors.most_similar("king")
    """
    if config is None:
        config = from_mapping(params, source="train()")
    elif params:
        config = config.replace(**params)
    if isinstance(corpus_paths, (str, os.PathLike)):
        corpus_paths = [corpus_paths]
    return Trainer(config, [TaskSpec("corpus", tuple(corpus_paths))]).train(progress=progress)
