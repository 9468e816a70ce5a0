"""Training: corpus -> vocabulary -> encoded ids -> schedule -> kernel -> Embeddings."""

from __future__ import annotations

import os
import signal
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import backend, checkpoint, corpus, crosslingual
from . import tasks as tasks_module
from . import vocab as vocab_module
from .cache import load_or_build as load_or_build_cache
from .config import TrainConfig, from_mapping
from .encoded import EncodedCorpus, MemorySink, anonymous_array, release_free_memory
from .errors import ConfigError, CorpusError, ResourceError
from .model import Embeddings
from .progress import ProgressBar, TaskTally
from .resources import available_memory, check_memory
from .tasks import DictionarySpec, ParallelSpec, TaskSpec


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
    tasks: list = field(default_factory=list)  # per task: name, words, passes, loss


def _read_into(files, counter, stream, sink, config: TrainConfig, stats: corpus.ReadStats,
               lines: bool) -> int:
    """Tokenizes files into a sink, block by block; returns the token count. With
    `lines`, a final line without a newline still counts as a line."""
    core = backend.core()
    lower = corpus.case_map() if config.lowercase else None
    strict = config.encoding_errors == "strict"
    words, last, line = 0, b"", 1
    for path, block in corpus.read_blocks(files, stats):
        if block:
            done = core.tokenize(block, counter, stream, config.worker_threads, lower)
            if done is None:  # invalid UTF-8, or a capital sigma to lowercase: Python decodes it
                text = corpus.decode(block, path, line, config.lowercase, strict, stats)
                done = core.tokenize(text, counter, stream, config.worker_threads)
            words += done[0]
            line += done[1]
            last = block[-1:]
        else:  # the end of a file
            if not lines or last not in (b"", b"\n"):
                stream.end_sentence()
            last, line = b"", 1
        sink.add(*stream.take_sentences())
    return words


def read_corpus(task_specs: Sequence[TaskSpec], config: TrainConfig,
                parallel_specs: Sequence[ParallelSpec] = ()) -> EncodedCorpus:
    """Reads every task once: tokens are counted per language and encoded per task,
    in RAM or, with config.cache_dir, in files there (reused by later runs)."""
    try:
        if config.cache_dir is not None:
            data = load_or_build_cache(config.cache_dir, task_specs, parallel_specs, config, _encode)
        else:
            data = _encode(task_specs, config, parallel_specs,
                           lambda keep_empty: MemorySink(keep_empty, available_memory))
    except MemoryError as error:
        if isinstance(error, ResourceError) or config.cache_dir is not None:
            raise
        raise ResourceError("out of memory reading the corpus into RAM; train from a disk cache with "
                            "--cache-dir DIR (cache_dir)") from None
    release_free_memory()
    return data


def _encode(task_specs: Sequence[TaskSpec], config: TrainConfig, parallel_specs: Sequence[ParallelSpec],
            new_sink: Callable) -> EncodedCorpus:
    """read_corpus's work; `new_sink(keep_empty)` makes where each task's ids go
    (called for the tasks, then both sides of each parallel text, in order)."""
    core = backend.core()
    counters: dict[str, object] = {}
    sinks, words_read = [], 0
    stats = corpus.ReadStats()
    for spec in task_specs:
        files = corpus.expand_paths(spec.paths)
        sink = new_sink(False)
        task_words = _read_into(files, counters.setdefault(spec.lang, core.Counter(config.max_distinct)),
                                core.Stream(config.max_sentence_length), sink, config, stats, False)
        if task_words == 0:
            raise CorpusError(f"task '{spec.name}': the corpus has no words ({', '.join(map(str, files[:3]))}"
                              f"{', ...' if len(files) > 3 else ''})")
        sinks.append(sink)
        words_read += task_words

    parallel = []
    for spec in parallel_specs:
        sides = []
        for lang, path in zip(spec.langs, spec.paths):
            if lang not in counters:
                raise ConfigError(f"parallel '{spec.name}': no task has language '{lang}'")
            sink = new_sink(True)
            stream = core.Stream(2**62, keep_empty=True)  # one sentence per line, never split
            words_read += _read_into(corpus.expand_paths([path]), counters[lang], stream, sink, config, stats,
                                     True)
            sides.append(sink)
        lines = [side.sentences for side in sides]
        if lines[0] != lines[1]:
            short = int(lines[1] < lines[0])
            raise CorpusError(f"{spec.paths[short]}:{lines[short] + 1}: parallel '{spec.name}' is not "
                              f"line-aligned: this file ends after {lines[short]} lines, "
                              f"{spec.paths[1 - short]} has {lines[1 - short]}")
        parallel.append(tuple(sides))

    for lang, counter in counters.items():
        if counter.prunings:
            warnings.warn(f"language '{lang}': more than max_distinct={config.max_distinct} distinct tokens: "
                          f"{counter.prunings} prunings dropped {counter.dropped} rare ones as word2vec does "
                          f"(the last dropped those seen at most {counter.threshold} times); raise "
                          "--max-distinct to keep them", corpus.CorpusWarning, stacklevel=3)
    vocab, mappings = vocab_module.build(counters, config.min_count, config.max_vocab)
    streams = []
    for spec, sink in zip(task_specs, sinks):
        streams.append(sink.finish(mappings[spec.lang]))
        if len(streams[-1].tokens) == 0:
            distinct = len(counters[spec.lang])
            raise CorpusError(f"task '{spec.name}': no word occurs at least min_count={config.min_count} "
                              f"times ({distinct} distinct words); lower --min-count")
    parallel = [tuple(side.finish(mappings[lang]) for lang, side in zip(spec.langs, sides))
                for spec, sides in zip(parallel_specs, parallel)]
    return EncodedCorpus(vocab, list(task_specs), streams, words_read, stats, parallel)


# The CPU kernel works on 16-float blocks: rows are padded with zero columns
# (which stay zero) and start on 64-byte cache-line boundaries.
ROW_BLOCK = 16
INIT_ROWS = 1024  # rows of w_in initialized per step
# w_in starts uniform in [-INIT_RANGE/dim, INIT_RANGE/dim): word2vec uses 0.5, gensim 4 1.0. Both
# models start near a saddle (w_out is zero, so each matrix's gradient is the other times a small
# number), and a wider start leaves it sooner: on 1M and 17M words, sg and cbow, dim 100 and 300,
# accuracy rose with the range up to 4 everywhere (CBOW dim 300: +1.7 points); skip-gram on 1M words
# fell from 8 to 16 (benchmarks/results/init-range.md).
INIT_RANGE = 4.0


def padded_matrix(rows: int, dim: int) -> np.ndarray:
    """A zeroed float32 (rows, dim rounded up to ROW_BLOCK) matrix on huge pages (2 MiB aligned)."""
    cols = -(-dim // ROW_BLOCK) * ROW_BLOCK
    return anonymous_array(rows * cols, np.float32, huge_pages=True).reshape(rows, cols)


class Terminated(Exception):
    """Raised by the CLI's SIGTERM handler; stops training like Ctrl-C (exit 143)."""


class _StopRequests:
    """Turns SIGINT/SIGTERM into a request that training honours at a chunk boundary.

    The handlers only record the signal. The kernel's monitor polls the
    request every 0.1 s (through the progress callback) and stops the workers
    after their current chunk; between segments the loop checks it. Either
    way the state at the stop is consistent, so a checkpoint resumes exactly.
    Handlers can only be installed from the main thread; elsewhere signals
    keep their usual behaviour.
    """

    def __init__(self) -> None:
        self.cause: BaseException | None = None
        self._previous: dict = {}

    def __enter__(self) -> _StopRequests:
        if threading.current_thread() is threading.main_thread():
            for signum, cause in ((signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, Terminated)):
                self._previous[signum] = signal.signal(signum, lambda *_, c=cause: self._request(c()))
        return self

    def _request(self, cause: BaseException) -> None:
        if self.cause is None:
            self.cause = cause

    def check(self) -> None:
        if self.cause is not None:
            raise self.cause

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


class Interrupted(Exception):
    """Training stopped early (Ctrl-C, SIGTERM); `checkpoint` is where it was saved, if anywhere."""

    def __init__(self, cause: BaseException, checkpoint: str | None):
        super().__init__(str(cause))
        self.cause, self.checkpoint = cause, checkpoint


class Trainer:
    """Trains embeddings on one or more tasks.

    >>> trainer = Trainer(TrainConfig(dim=100), [TaskSpec("wiki", ("corpus.txt",))])
    >>> embeddings = trainer.train()
    >>> trainer.report.words_per_second

    With `checkpoint_dir`, the state is saved atomically every
    `checkpoint_every` (see checkpoint.parse_interval) and when training is
    interrupted; `Trainer.resume(dir)` continues the run (bit-identical to an
    uninterrupted one with threads=1).
    """

    def __init__(self, config: TrainConfig, task_specs: Sequence[TaskSpec],
                 parallel: Sequence[ParallelSpec] = (), dictionaries: Sequence[DictionarySpec] = ()):
        if not task_specs:
            raise ConfigError("no tasks to train")
        names = [t.name for t in task_specs] + [p.name for p in parallel]
        if len(set(names)) != len(names):
            raise ConfigError(f"task names must be unique: {names}")
        languages = {t.lang for t in task_specs}
        for tie in (*parallel, *dictionaries):
            for lang in tie.langs:
                if lang not in languages:
                    where = "parallel " + repr(tie.name) if isinstance(tie, ParallelSpec) else tie.path
                    raise ConfigError(f"{where}: no task has language '{lang}'")
        self.config = config
        self.task_specs = list(task_specs)
        self.parallel = list(parallel)
        self.dictionaries = list(dictionaries)
        self.report = Report(config=dict(vars(config)))
        self.corpus: EncodedCorpus | None = None
        self.notes: dict = {}            # saved with checkpoints (the CLI keeps its output path here)
        self._resume_state: checkpoint.Checkpoint | None = None

    @classmethod
    def resume(cls, directory: str | os.PathLike) -> Trainer:
        """A trainer that continues the run saved in `directory`."""
        state = checkpoint.load(directory)
        trainer = cls(from_mapping(state.config, source=f"{directory}: config"),
                      [TaskSpec(**{**t, "paths": tuple(t["paths"])}) for t in state.tasks],
                      [ParallelSpec(**{**p, "langs": tuple(p["langs"]), "paths": tuple(p["paths"])})
                       for p in state.parallel],
                      [DictionarySpec(**{**d, "langs": tuple(d["langs"])}) for d in state.dictionaries])
        trainer.notes = dict(state.notes)
        trainer._resume_state = state
        return trainer

    def read(self) -> EncodedCorpus:
        start = time.perf_counter()
        self.corpus = read_corpus(self.task_specs, self.config, self.parallel)
        self.report.vocab_seconds = time.perf_counter() - start
        self.report.corpus_words = self.corpus.words_read
        self.report.vocab_size = len(self.corpus.vocab)
        return self.corpus

    def _initial_matrices(self, rows: int, n_heads: int) -> tuple[np.ndarray, list[np.ndarray]]:
        cfg = self.config
        check_memory(rows, -(-cfg.dim // ROW_BLOCK) * ROW_BLOCK, 1 + n_heads)
        w_in = padded_matrix(rows, cfg.dim)
        w_out = [padded_matrix(rows, cfg.dim) for _ in range(n_heads)]
        state = self._resume_state
        if state is not None:
            vocab = self.corpus.vocab
            if state.words != vocab.words or not np.array_equal(state.counts, vocab.counts):
                raise CorpusError("the corpus has changed since the checkpoint was written (its vocabulary "
                                  "differs); resume needs the same files")
            # Each loaded matrix is dropped once copied, so at most one of them is held beside the new ones.
            w_in[:] = state.w_in
            state.w_in = None
            for i, head in enumerate(w_out):
                head[:] = state.w_out[i]
                state.w_out[i] = None
        else:
            # w_in uniform in [-INIT_RANGE/dim, INIT_RANGE/dim); w_out starts at zero. Drawn in blocks
            # of rows (the same numbers) so that no temporary is as large as the matrix.
            rng = np.random.default_rng(cfg.seed)
            for start in range(0, rows, INIT_ROWS):
                block = rng.random((min(INIT_ROWS, rows - start), cfg.dim), dtype=np.float32)
                block -= 0.5
                block /= cfg.dim / (2 * INIT_RANGE)
                w_in[start:start + len(block), :cfg.dim] = block
        return w_in, w_out

    def train(self, progress: bool | Callable | None = False, checkpoint_dir: str | None = None,
              checkpoint_every: str | checkpoint.Interval = "10m") -> Embeddings:
        """Reads the corpus (if not yet read) and trains; `progress=True` draws a bar on stderr.

        Raises `Interrupted` (with the checkpoint path) on Ctrl-C or SIGTERM.
        """
        cfg = self.config
        data = self.corpus or self.read()
        device = backend.resolve_device(cfg.device)
        head_names = [t.head if t.head != "per_task" else t.name for t in self.task_specs]
        heads = sorted(set(head_names) | ({"shared"} if self.parallel else set()))
        w_in, w_out = self._initial_matrices(len(data.vocab), len(heads))
        keep = data.vocab.keep_probabilities(cfg.sample)
        noise = data.vocab.noise_tables()
        lang_index = {lang: i for i, lang in enumerate(data.vocab.languages)}
        translations = self._translations(data.vocab)
        kernel_tasks, task_offsets = [], []
        for spec, stream, head in zip(self.task_specs, data.streams, head_names):
            task = {"tokens": stream.tokens, "offsets": stream.offsets, "noise": lang_index[spec.lang],
                    "head": heads.index(head), "weight": float(spec.weight)}
            # The pivot language (the first task's, usually the large one) keeps its text as is:
            # switching it costs its own quality (benchmarks/results/codeswitch.md).
            codeswitch = max((d.codeswitch for d in self.dictionaries if spec.lang in d.langs), default=0.0)
            if spec.lang == self.task_specs[0].lang:
                codeswitch = 0.0
            if codeswitch > 0:
                task.update(codeswitch=codeswitch, translation_offsets=translations.offsets,
                            translation_ids=translations.ids)
            kernel_tasks.append(task)
            task_offsets.append(stream.offsets)
        for spec, (first, second) in zip(self.parallel, data.parallel):
            kernel_tasks.append({"tokens": first.tokens, "offsets": first.offsets,
                                 "noise": lang_index[spec.langs[0]],
                                 "head": heads.index("shared"), "weight": float(spec.weight),
                                 "second_tokens": second.tokens, "second_offsets": second.offsets,
                                 "second_noise": lang_index[spec.langs[1]]})
            task_offsets.append(first.offsets + second.offsets)  # a sentence pair's size: both sides
        chunks = tasks_module.schedule(task_offsets, cfg.epochs, cfg.sampling, cfg.temperature)
        n_chunks = len(chunks["id"])
        words_of_chunk = np.array([int(task_offsets[t][e] - task_offsets[t][b]) for t, b, e in
                                   zip(chunks["task"], chunks["sentence_begin"], chunks["sentence_end"])],
                                  np.int64)
        chunk_words = np.cumsum(np.concatenate(([0], words_of_chunk)))
        chunk_stats = np.full((n_chunks, 2), np.nan)  # (loss, pairs) of each chunk, filled by the kernel
        tally = TaskTally([t.name for t in self.task_specs] + [p.name for p in self.parallel],
                          [int(o[-1]) for o in task_offsets], chunks["task"], words_of_chunk, chunk_stats)

        interval = checkpoint.parse_interval(checkpoint_every) if isinstance(checkpoint_every, str) \
            else checkpoint_every
        position = self._resume_state.next_chunk if self._resume_state else 0
        callback = progress
        if progress is True:
            callback = ProgressBar(int(chunk_words[-1]), cfg.learning_rate, cfg.final_learning_rate,
                                   tasks=tally)
        simd = backend.info()["simd"]
        r = self.report
        r.simd, r.device, r.threads = (simd if device == "cpu" else "cuda"), device, cfg.worker_threads
        loss = pairs = 0.0

        def save(next_chunk: int) -> str:
            vocab = data.vocab
            state = checkpoint.Checkpoint(
                config=dict(vars(cfg)), tasks=[dict(vars(t)) for t in self.task_specs],
                parallel=[dict(vars(p)) for p in self.parallel],
                dictionaries=[dict(vars(d)) for d in self.dictionaries], words=vocab.words,
                counts=vocab.counts, languages=vocab.languages, starts=vocab.starts, w_in=w_in, w_out=w_out,
                next_chunk=next_chunk, total_chunks=n_chunks, words_done=int(chunk_words[next_chunk]),
                notes=self.notes)
            return str(checkpoint.save(checkpoint_dir, state))

        # The schedule runs in segments; between two, every thread has joined,
        # so the matrices are a consistent state to checkpoint.
        segment_words = interval.words or 0
        with _StopRequests() as stop:
            while position < n_chunks:
                end = n_chunks
                if checkpoint_dir:
                    if not segment_words:  # a time interval: size segments by the speed seen so far
                        segment_words = max(int((r.words_per_second or 2e5) * interval.seconds), 1)
                    end = int(np.searchsorted(chunk_words, chunk_words[position] + segment_words,
                                              side="left"))
                    end = min(max(end, position + 1), n_chunks)
                    if interval.seconds:
                        segment_words = 0

                def monitor(words, done, seg_loss, seg_pairs, _o=int(chunk_words[position]), _c=position,
                            _l=loss, _p=pairs):
                    stop.check()  # raising here stops the workers after their current chunk
                    if callback:
                        callback(_o + words, _c + done, _l + seg_loss, _p + seg_pairs)

                try:
                    stats = backend.core().train(
                        model=cfg.model, dim=w_in.shape[1], window=cfg.window, negative=cfg.negative,
                        alpha=cfg.learning_rate, min_alpha=cfg.final_learning_rate, seed=cfg.seed,
                        threads=cfg.worker_threads, backend="cuda" if device == "cuda" else simd, w_in=w_in,
                        w_out=w_out, keep_prob=keep, noise=noise, tasks=kernel_tasks,
                        chunks={key: value[position:end] for key, value in chunks.items()}, progress=monitor,
                        chunk_stats=chunk_stats[position:end].reshape(-1), cbow_share=cfg.cbow_share,
                        copy_hot_rows=cfg.copy_hot_rows)
                except RuntimeError as error:  # a failure inside the kernel: CUDA errors are RuntimeErrors
                    raise backend.kernel_error(error) from None
                position += int(stats["chunks"])
                r.train_seconds += stats["seconds"]
                r.train_words += int(stats["words"])
                r.words_per_second = r.train_words / max(r.train_seconds, 1e-9)
                loss, pairs = loss + stats["loss"], pairs + stats["pairs"]
                cause = stats["interrupted"] or stop.cause
                if cause is None and checkpoint_dir and position < n_chunks:
                    save(position)
                    cause = stop.cause
                if cause is not None:
                    raise Interrupted(cause, save(position) if checkpoint_dir else None)
        if isinstance(callback, ProgressBar):
            callback(r.train_words, position, loss, int(pairs), final=True)
        r.final_loss = loss / max(pairs, 1)
        r.tasks = tally.summary(position)
        self.w_out = w_out
        embeddings = Embeddings(data.vocab.keys(), w_in[:, :cfg.dim], data.vocab.counts)
        if cfg.refine == "procrustes" and self.dictionaries:
            embeddings = crosslingual.refine(embeddings, self.task_specs[0].lang, self.dictionaries)
        return embeddings

    def _translations(self, vocab: vocab_module.Vocabulary):
        """One CSR table of every dictionary's usable pairs, both directions."""
        if not self.dictionaries:
            return None
        index = {}
        for lang in vocab.languages:
            first, last = vocab.range_of(lang)
            index[lang] = {w: first + i for i, w in enumerate(vocab.words[first:last])}
        tables = []
        for spec in self.dictionaries:
            pairs = crosslingual.read_dictionary(spec.path, tuple(spec.langs))
            table = crosslingual.translation_table(pairs, index[spec.langs[0]], index[spec.langs[1]],
                                                   len(vocab))
            if table.usable == 0:
                raise CorpusError(f"{spec.path}: no usable pairs: no pair has both words in the "
                                  f"vocabulary ({len(pairs)} pairs read; check langs = {list(spec.langs)} "
                                  "and lowercase)")
            if table.usable < 0.1 * len(pairs):
                warnings.warn(f"{spec.path}: only {table.usable} of {len(pairs)} pairs have both words in "
                              "the vocabulary", corpus.CorpusWarning, stacklevel=3)
            tables.append(table)
        return crosslingual.merge_tables(tables, len(vocab))


def train(corpus_paths: str | os.PathLike | Sequence[str | os.PathLike],
          config: TrainConfig | None = None, progress: bool = False, **params) -> Embeddings:
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
