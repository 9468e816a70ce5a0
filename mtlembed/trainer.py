"""Training: corpus -> vocabulary -> encoded ids -> schedule -> kernel -> Embeddings."""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import backend, checkpoint, corpus, crosslingual, dev_eval, distributed, growth, subwords
from . import tasks as tasks_module
from .align import training as align_training
from .config import TrainConfig, from_mapping
from .encode import read_corpus
from .encoded import EncodedCorpus, anonymous_array
from .errors import ConfigError, CorpusError, FormatError
from .kernel import Kernel, head_of, job_features, order_of
from .model import Embeddings
from .progress import ProgressBar, TaskTally
from .resources import check_memory
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
    config: dict = field(default_factory=dict)  # alpha, min_alpha and the auto settings as used
    tasks: list = field(default_factory=list)  # per task: name, words, passes, loss
    version: str = ""
    inputs: dict = field(default_factory=dict)  # tasks, parallel texts, dictionaries; paths absolute
    outputs: list = field(default_factory=list)  # absolute paths (the CLI fills them in)
    ranks: dict = field(default_factory=dict)  # distributed: world_size, rounds, bytes_sent (by rank 0)
    init: dict = field(default_factory=dict)  # init: path, rows initialized, of, by_language (growth.py)
    eval_history: list = field(default_factory=list)  # eval_every: a point per epoch (dev_eval.py)
    evaluation: dict = field(default_factory=dict)  # eval_every: the last epoch's full dev results
    eval_seconds: float = 0.0  # eval_every: the time spent scoring dev sets (not in train_seconds)


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
# ... except for words trained on few times: what little they are updated leaves most of their start in
# their vector as noise. A word occurring fewer than WIDE_FROM_UPDATES times over all epochs (count x
# epochs) starts narrower by sqrt(count x epochs / WIDE_FROM_UPDATES): gensim's r = 1 at 3 occurrences
# x 5 epochs. On 0.5M words it lifted Rare Words (CBOW 5 epochs: 0.070 against gensim's 0.098 over 8
# seeds before, 0.088 against 0.089 over 24 after) and BLI; on 2M and 17M words nothing moved beyond the
# seeds' spread (benchmarks/results/rare-start.md).
WIDE_FROM_UPDATES = 250
# The subword buckets' rows start at BUCKET_START times the frequent words' range. fastText, 2 threads, leaves
# ~80% of its buckets at zero (it fills threads/10 of the matrix); zero here lost on every score but 17M x 5
# analogy (RW 0.406 against 0.409 there; benchmarks/results/subwords-sg-residual/bucket-zero-*.md).
BUCKET_START = 1.0


def start_scales(counts: np.ndarray, epochs: int) -> np.ndarray:
    """float32 per word: how much narrower than INIT_RANGE its row starts (1 for most words)."""
    updates = np.asarray(counts, np.float64) * epochs
    return np.sqrt(np.minimum(1.0, updates / WIDE_FROM_UPDATES)).astype(np.float32)


def padded_matrix(rows: int, dim: int) -> np.ndarray:
    """A zeroed float32 (rows, dim rounded up to ROW_BLOCK) matrix on huge pages (2 MiB aligned)."""
    cols = -(-dim // ROW_BLOCK) * ROW_BLOCK
    return anonymous_array(rows * cols, np.float32, huge_pages=True).reshape(rows, cols)


class Terminated(BaseException):
    """SIGTERM, raised as Ctrl-C raises KeyboardInterrupt (so `except Exception` does not catch
    it either); the CLI exits 143."""


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


# The stop requests as the ranks exchange them (distributed.Ranks.meet): 0 none; the larger wins.
_STOPS = (None, KeyboardInterrupt, Terminated)


@dataclass
class _Job:
    """A run in progress: the kernel, the schedule and how far along it training is."""

    data: EncodedCorpus
    kernel: Kernel            # holds the schedule: task, sentence range and id of each chunk, in order
    chunk_words: np.ndarray   # words of the schedule before each chunk (and the total last)
    chunk_stats: np.ndarray   # (loss, pairs) of each chunk, NaN until trained
    tally: TaskTally
    position: int = 0         # the next chunk to train
    loss: float = 0.0         # summed over this process's chunks, with their pairs
    pairs: float = 0.0
    round_ends: np.ndarray | None = None  # distributed: the chunk each round of the ranks ends before
    round: int = 0                        # distributed: rounds done (ended by a meeting of all ranks)
    ranks: list = field(default_factory=list)  # distributed: (position, chunks, words done) of each rank
    saved_at: tuple = (0.0, 0)            # distributed: (time, words) of the last checkpoint

    @property
    def n_chunks(self) -> int:
        return len(self.chunk_stats)

    @property
    def done(self) -> bool:
        if self.round_ends is not None:
            return self.round == len(self.round_ends)
        return self.position == self.n_chunks


class Trainer:
    """Trains embeddings on one or more tasks.

    >>> trainer = Trainer(TrainConfig(dim=100), [TaskSpec("wiki", ("corpus.txt",))])
    >>> embeddings = trainer.train()
    >>> trainer.report.words_per_second

    With `checkpoint_dir`, the state is saved atomically every
    `checkpoint_every` (see checkpoint.parse_interval) and when training is
    interrupted; `Trainer.resume(dir)` continues the run (bit-identical to an
    uninterrupted one with threads=1).

    Launched by torchrun (WORLD_SIZE > 1), it trains as one of the ranks
    (distributed.py): its shard of every task, the one vocabulary, the matrices
    merged at each round's end; rank 0 alone (`writes_outputs`) checkpoints.
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
                    where = "parallel " + repr(tie.name) if isinstance(tie, ParallelSpec) else tie.name
                    raise ConfigError(f"{where}: no task has language '{lang}'")
        for spec in dictionaries:
            if spec.induced_from is not None:
                spec.source_text(parallel)  # names a parallel text of its languages
        self.config = config
        self.task_specs = list(task_specs)
        self.parallel = list(parallel)
        self.dictionaries = list(dictionaries)
        growth.check_freeze(config, self.task_specs, self.parallel)  # before anything is read
        self._dev_sets = dev_eval.DevSets(config, list(dict.fromkeys(t.lang for t in self.task_specs)))
        from . import __version__

        self.report = Report(config={**dataclasses.asdict(config), "alpha": config.learning_rate,
                                     "min_alpha": config.final_learning_rate},
                             version=__version__, inputs=self.inputs())
        self.corpus: EncodedCorpus | None = None
        self.notes: dict = {}            # saved with checkpoints (the CLI keeps its output paths here)
        self.finished = False            # resumed from the record of a finished run: nothing to train
        self._resume_state: checkpoint.Checkpoint | None = None
        self._last_state: checkpoint.Checkpoint | None = None  # where the last train() ended
        self._ranks: distributed.Ranks | None = None  # the other processes of a distributed run
        self._pairs: list | None = None  # the dictionaries' pairs, once read or induced

    @property
    def writes_outputs(self) -> bool:
        """Whether this process writes the outputs, report and checkpoints: rank 0 of a distributed run."""
        return self._ranks is None or self._ranks.writer

    @classmethod
    def resume(cls, directory: str | os.PathLike) -> Trainer:
        """A trainer that continues the run saved in `directory` (`finished` if it was done)."""
        state = checkpoint.load(directory)
        try:
            trainer = cls(state.config, state.tasks, state.parallel, state.dictionaries)
        except ConfigError as error:
            raise FormatError(f"{state.path}: malformed checkpoint: {error}") from None
        trainer.notes = dict(state.notes)
        trainer.finished = state.finished
        trainer._resume_state = state
        return trainer

    def inputs(self) -> dict:
        """The files the run reads: its tasks, parallel texts and dictionaries, paths absolute."""
        return {"tasks": [checkpoint.spec_table(t) for t in self.task_specs],
                "parallel": [checkpoint.spec_table(p) for p in self.parallel],
                "dictionaries": [checkpoint.spec_table(d) for d in self.dictionaries]}

    def input_paths(self) -> list[str]:
        """Every corpus, parallel and dictionary path (file, glob or folder) the run reads, absolute."""
        paths = [p for spec in (*self.task_specs, *self.parallel) for p in spec.paths]
        return [os.path.abspath(p) for p in (*paths, *(d.path for d in self.dictionaries if d.path))]

    def finish_checkpoint(self, directory: str | os.PathLike) -> None:
        """Marks the run in `directory` finished, once its outputs are safely written: the checkpoint
        becomes a small record (see checkpoint.finish), and `resume` says the run is done."""
        if self._last_state is None or self._last_state.next_chunk < self._last_state.total_chunks:
            raise ConfigError("the run has not finished training: its checkpoint stays resumable")
        checkpoint.finish(directory, self._last_state)

    def read(self) -> EncodedCorpus:
        start = time.perf_counter()
        self._ranks = distributed.join(self.config.device)  # --device cuda: NCCL
        self.corpus = read_corpus(self.task_specs, self.config, self.parallel, self._ranks)
        self.report.vocab_seconds = time.perf_counter() - start
        self.report.corpus_words = self.corpus.words_read
        if self._ranks:
            self.report.corpus_words = int(self._ranks.total([self.corpus.words_read])[0])
        self.report.vocab_size = len(self.corpus.vocab)
        return self.corpus

    def _initial_matrices(self, rows: int, n_heads: int) -> tuple[np.ndarray, list[np.ndarray]]:
        cfg = self.config
        spec = subwords.spec_of(cfg)
        buckets = spec.buckets if spec else 0  # w_in: the words' rows, then the n-gram buckets'
        check_memory(rows, -(-cfg.dim // ROW_BLOCK) * ROW_BLOCK, 1 + n_heads, buckets)
        w_in = padded_matrix(rows + buckets, cfg.dim)
        w_out = [padded_matrix(rows, cfg.dim) for _ in range(n_heads)]
        state = self._resume_state
        if state is not None:
            vocab = self.corpus.vocab
            if state.words != vocab.words or not np.array_equal(state.counts, vocab.counts):
                raise CorpusError("the corpus has changed since the checkpoint was written (its vocabulary "
                                  "differs); resume needs the same files")
            if state.w_in.shape != w_in.shape or len(state.w_out) != n_heads:
                raise FormatError(f"{state.path}: malformed checkpoint: {1 + len(state.w_out)} matrices of "
                                  f"{state.w_in.shape} where the run has {1 + n_heads} of {w_in.shape}")
            # Each loaded matrix is dropped once copied, so at most one of them is held beside the new ones.
            w_in[:] = state.w_in
            state.w_in = None
            for i, head in enumerate(w_out):
                head[:] = state.w_out[i]
                state.w_out[i] = None
        else:
            # w_in uniform in [-INIT_RANGE/dim, INIT_RANGE/dim), rare words' rows narrower (start_scales),
            # the subword buckets' rows as the frequent words' (fastText's narrower 1/dim for the buckets
            # cost 17 analogy points with skip-gram, 22 with CBOW, for 0.04-0.06 of Rare Words:
            # benchmarks/results/subwords-init.md); w_out starts at zero. Drawn in blocks of rows (the
            # same numbers) so that no temporary is as large as the matrix.
            rng = np.random.default_rng(cfg.seed)
            scales = start_scales(self.corpus.vocab.counts, cfg.epochs)
            for start in range(0, rows + buckets, INIT_ROWS):
                block = rng.random((min(INIT_ROWS, rows + buckets - start), cfg.dim), dtype=np.float32)
                block -= 0.5
                block /= cfg.dim / (2 * INIT_RANGE)
                words = scales[start:start + len(block)]
                block[:len(words)] *= words[:, None]
                block[len(words):] *= BUCKET_START
                w_in[start:start + len(block), :cfg.dim] = block
            if cfg.init:  # pretrained rows over the random ones (gensim's intersect)
                vocab = self.corpus.vocab
                self.report.init = growth.initialize(w_in, w_out, vocab, cfg)
        return w_in, w_out

    def train(self, progress: bool | Callable | None = False, checkpoint_dir: str | None = None,
              checkpoint_every: str | checkpoint.Interval = "10m") -> Embeddings:
        """Reads the corpus (if not yet read) and trains; `progress=True` draws a bar on stderr.

        Assembles the kernel's job, runs the schedule in segments (a checkpoint
        after each), tallies the run into `report` and returns the vectors.
        Ctrl-C raises KeyboardInterrupt and SIGTERM Terminated, once the state is saved (with
        `checkpoint_dir`); the exception's `checkpoint` attribute is the file's path.
        """
        if self.finished:
            raise ConfigError(f"the run in {self._resume_state.path.parent} is finished: nothing to resume")
        interval = checkpoint.parse_interval(checkpoint_every) if isinstance(checkpoint_every, str) \
            else checkpoint_every
        job = self._assemble()
        self._run_schedule(job, progress, checkpoint_dir, interval)
        self._tally(job)
        return self._embeddings(job)

    def _assemble(self) -> _Job:
        """The matrices (new or resumed), the kernel's tasks and the schedule of chunks."""
        cfg = self.config
        # Before anything is read: a device that cannot train the job is an error (cuda) or falls back (auto).
        device = backend.device_for_job(cfg.device,
                                        job_features(self.task_specs, self.parallel, self.dictionaries, cfg))
        self._check_world_size()
        data = self.corpus or self.read()
        heads = sorted({head_of(t) for t in self.task_specs} | ({"shared"} if self.parallel else set()))
        self.heads = heads  # the names of w_out's matrices (fasttext_format.save_run picks by them)
        w_in, w_out = self._initial_matrices(len(data.vocab), len(heads))
        task_offsets = [stream.offsets for stream in data.streams]
        task_offsets += [first.offsets + second.offsets for first, second in data.parallel]  # a pair: both
        shuffled = order_of(cfg, data.vocab.total_words) == "shuffled"
        chunks = tasks_module.schedule(task_offsets, cfg.epochs, cfg.sampling, cfg.temperature,
                                       tasks_module.chunk_size(w_in.shape[1], cfg.window, cfg.negative),
                                       shuffle_seed=cfg.seed if shuffled else None)
        chunks = growth.kept_chunks(chunks, growth.trained_tasks(cfg, self.task_specs, self.parallel))
        words_of_chunk = np.array([int(task_offsets[t][e] - task_offsets[t][b]) for t, b, e in
                                   zip(chunks["task"], chunks["sentence_begin"], chunks["sentence_end"])],
                                  np.int64)
        chunk_stats = np.full((len(words_of_chunk), 2), np.nan)  # (loss, pairs) per chunk, from the kernel
        tally = TaskTally([t.name for t in self.task_specs] + [p.name for p in self.parallel],
                          [int(o[-1]) for o in task_offsets], chunks["task"], words_of_chunk, chunk_stats)
        chunk_words = np.cumsum(np.concatenate(([0], words_of_chunk)))
        if self._ranks:
            chunks["id"] = self._ranks.chunk_ids(chunks["id"])
        spec = subwords.spec_of(cfg)
        table = subwords.vocabulary_table(data.vocab, spec) if spec else None
        if table is not None and self._resume_state is None:  # the buckets no word uses start at zero
            subwords.clear_unused_rows(w_in, table)
        kernel = Kernel(self._ranks.kernel_config(cfg) if self._ranks else cfg, device, data, w_in, w_out,
                        Kernel.task_list(data, self.task_specs, self.parallel, self.dictionaries, heads,
                                         self._translations(data)), chunks, chunk_stats, subwords=table)
        r = self.report
        r.simd, r.device, r.threads = kernel.backend, device, cfg.worker_threads
        r.config.update(negatives="center" if kernel.params.shared_negatives else "pair",  # auto, as used
                        ns_exponent=kernel.noise_exponent, order="shuffled" if shuffled else "corpus")
        job = _Job(data, kernel, chunk_words, chunk_stats, tally)
        if self._ranks:
            job.round_ends = self._ranks.round_ends(chunks["progress_end"], int(chunk_words[-1]), cfg.epochs)
            r.ranks = {"world_size": self._ranks.size, "rounds": len(job.round_ends), "bytes_sent": 0}
            self._ranks.plan_merge(data, chunks["task"], words_of_chunk, cfg, w_in.shape[0], len(w_out),
                                   kernel.subwords)
        job.position, job.round = self._resumed_position(chunk_words)
        frozen = growth.FrozenRows(w_in, [data.vocab.range_of(lang) for lang in cfg.freeze or ()])
        self._milestones = dev_eval.Milestones(  # frozen rows kept, dev sets scored at epoch ends
            chunks["progress_end"], chunk_words, cfg, r, lambda: self._embeddings(job), frozen,
            self._dev_sets, self.notes.setdefault("eval_history", []))
        self._aligner = align_training.for_run(self, job, heads)  # align_every: ties from the vectors
        if self._ranks:
            self._ranks.track([w_in, *w_out], cfg.dim)
            job.saved_at = (time.monotonic(), int(chunk_words[job.position]))
        return job

    def _check_world_size(self) -> None:
        """A run resumes with the number of processes that wrote its checkpoint (its shards)."""
        state = self._resume_state
        if state is not None:
            saved, now = state.ranks.get("world_size", 1), distributed.world_size()
            if saved != now:
                raise ConfigError(f"{state.path}: the run was trained by {saved} process(es) "
                                  f"(WORLD_SIZE); resume it with {saved}, not {now}")

    def _resumed_position(self, chunk_words: np.ndarray) -> tuple[int, int]:
        """The chunk to start from and the rounds done: 0, or the checkpoint's (this rank's) next
        chunk once its counters are checked against the schedule its config makes."""
        state = self._resume_state
        if state is None:
            return 0, 0
        next_chunk, total_chunks, words_done = state.next_chunk, state.total_chunks, state.words_done
        if self._ranks:
            next_chunk, total_chunks, words_done = state.ranks["positions"][self._ranks.rank]
        if (total_chunks != len(chunk_words) - 1 or next_chunk > total_chunks
                or words_done != chunk_words[next_chunk]):
            raise FormatError(f"{state.path}: malformed checkpoint: its counters (chunk {next_chunk} "
                              f"of {total_chunks}, {words_done} words) do not fit the schedule "
                              f"of its config ({len(chunk_words) - 1} chunks)")
        return next_chunk, state.ranks.get("round", 0)

    def _run_schedule(self, job: _Job, progress, checkpoint_dir: str | None,
                      interval: checkpoint.Interval) -> None:
        """Runs the chunks from job.position to the end: in one go, or with `checkpoint_dir` in
        segments with a checkpoint after each. Between two segments every thread has joined, so
        the matrices are a consistent state to save."""
        callback = progress if self.writes_outputs else None  # one bar: rank 0's (its shard)
        if callback is True:
            callback = ProgressBar(int(job.chunk_words[-1]), self.config.learning_rate,
                                   self.config.final_learning_rate, tasks=job.tally,
                                   start_words=int(job.chunk_words[job.position]))
        start = time.perf_counter()
        planned = job.position  # one process: where the checkpoint interval ends
        with _StopRequests() as stop:
            while not job.done:
                if job.round_ends is not None:
                    end = int(job.round_ends[job.round])
                else:
                    if job.position >= planned:
                        planned = self._segment_end(job, interval) if checkpoint_dir else job.n_chunks
                    end = self._milestones.segment_end(job.position, planned)  # an epoch's end may be sooner
                    if self._aligner:
                        end = self._aligner.segment_end(job.position, end)
                stats = self._run_segment(job, end, stop, callback)
                self._milestones.after(job.position)
                if self._aligner:
                    self._aligner.after(job.position)
                cause = stats["interrupted"] or stop.cause
                due = bool(checkpoint_dir) and not job.done and job.position >= planned
                if self._ranks:
                    cause, due = self._meet(job, cause, bool(checkpoint_dir) and self._checkpoint_due(job,
                                                                                                     interval))
                saved = None
                if checkpoint_dir and (cause is not None or due) and self.writes_outputs:
                    saved = self._checkpoint(job, checkpoint_dir)
                    job.saved_at = (time.monotonic(), int(job.chunk_words[job.position]))
                if not self._ranks:  # (ranks act on a signal at their next meeting, all together)
                    cause = cause or stop.cause  # a signal during the save: the checkpoint is already made
                if cause is not None:
                    # Ctrl-C is a KeyboardInterrupt, SIGTERM a Terminated: what the caller expects. The
                    # checkpoint's path rides along for the CLI's "continue with --resume" message.
                    cause.checkpoint = saved
                    raise cause
        if self._ranks:  # the run's time, meetings included, for its words/s
            self.report.train_seconds = time.perf_counter() - start
        if isinstance(callback, ProgressBar):
            callback(int(job.chunk_words[job.position]), job.position, job.loss, int(job.pairs), final=True)

    def _meet(self, job: _Job, cause: BaseException | None, due: bool) -> tuple[BaseException | None, bool]:
        """The end of a distributed round: the ranks' changes summed into the matrices; a stop asked of
        any rank stops them all, a checkpoint asked by any is written (a stopped round is not done:
        resumed, each rank trains what is left of it)."""
        code = _STOPS.index(type(cause)) if type(cause) in _STOPS[1:] else int(cause is not None)
        mine = (job.position, job.n_chunks, int(job.chunk_words[job.position]))
        code, due, job.ranks = self._ranks.meet([job.kernel.w_in, *job.kernel.w_out], code, due, mine)
        if code == 0:
            job.round += 1
        self.report.ranks.update(self._ranks.traffic())
        return cause or (_STOPS[code]() if code else None), due and not job.done

    def _checkpoint_due(self, job: _Job, interval: checkpoint.Interval) -> bool:
        """Whether `interval` has passed since the last checkpoint (words: this rank's times the ranks)."""
        seconds, words = job.saved_at
        if interval.words:
            return (int(job.chunk_words[job.position]) - words) * self._ranks.size >= interval.words
        return time.monotonic() - seconds >= interval.seconds

    def _segment_end(self, job: _Job, interval: checkpoint.Interval) -> int:
        """Where the segment from job.position ends: after `interval` words, or as many words as the
        speed seen so far trains in `interval` seconds; at least one chunk."""
        words = interval.words or max(int((self.report.words_per_second or 2e5) * interval.seconds), 1)
        end = int(np.searchsorted(job.chunk_words, job.chunk_words[job.position] + words, side="left"))
        return min(max(end, job.position + 1), job.n_chunks)

    def _run_segment(self, job: _Job, end: int, stop: _StopRequests, callback) -> dict:
        """Trains chunks [job.position, end) and adds them to the job and the report."""
        begin, words_before, loss_before, pairs_before = job.position, int(job.chunk_words[job.position]), \
            job.loss, job.pairs
        if end <= begin:  # a rank with nothing left in this round (it trained it before a stop)
            return {"interrupted": None}

        def monitor(words, done, seg_loss, seg_pairs):
            stop.check()  # raising here stops the workers after their current chunk
            if callback:
                callback(words_before + words, begin + done, loss_before + seg_loss, pairs_before + seg_pairs)

        stats = job.kernel.run(begin, end, monitor)
        job.position += int(stats["chunks"])
        job.loss, job.pairs = job.loss + stats["loss"], job.pairs + stats["pairs"]
        r = self.report
        r.train_seconds += stats["seconds"]
        r.train_words += int(stats["words"])
        r.words_per_second = r.train_words / max(r.train_seconds, 1e-9)
        return stats

    def _state(self, job: _Job) -> checkpoint.Checkpoint:
        """The run at job.position, as a checkpoint (its matrices not copied)."""
        vocab = job.data.vocab
        return checkpoint.Checkpoint(
            config=self.config, tasks=self.task_specs, parallel=self.parallel, dictionaries=self.dictionaries,
            languages=vocab.languages, next_chunk=job.position, total_chunks=job.n_chunks,
            words_done=int(job.chunk_words[job.position]), notes=self.notes, words=vocab.words,
            counts=vocab.counts, starts=vocab.starts, w_in=job.kernel.w_in, w_out=job.kernel.w_out,
            ranks={"world_size": self._ranks.size, "round": job.round, "rounds": len(job.round_ends),
                   "positions": [list(p) for p in job.ranks]} if self._ranks else {})

    def _checkpoint(self, job: _Job, directory: str) -> str:
        """Saves the run at job.position; returns the file's absolute path."""
        return str(checkpoint.save(directory, self._state(job)))

    def _tally(self, job: _Job) -> None:
        if self._ranks:  # the run's words and loss: every rank's
            words, job.loss, job.pairs = self._ranks.total([self.report.train_words, job.loss, job.pairs])
            self.report.train_words = int(words)
            self.report.words_per_second = words / max(self.report.train_seconds, 1e-9)
        self.report.final_loss = job.loss / max(job.pairs, 1)
        self.report.tasks = job.tally.summary(job.position)
        self.report.eval_history = list(self._milestones.history)
        self.report.evaluation = self._milestones.results
        # What finish_checkpoint writes: the metadata alone.
        self._last_state = dataclasses.replace(self._state(job), words=[], w_in=None, w_out=[])

    def _embeddings(self, job: _Job) -> Embeddings:
        self.w_in, self.w_out = job.kernel.w_in, job.kernel.w_out
        vocab, spec = job.data.vocab, subwords.spec_of(self.config)
        if spec:  # each word's vector is the mean of its row and its n-grams' rows, as fastText's
            vectors, unseen = subwords.trained_vectors(vocab, job.kernel.w_in, spec, self.config.dim,
                                                       job.kernel.subwords)  # the table trained with
        else:
            vectors, unseen = job.kernel.w_in[:, :self.config.dim], None
        embeddings = Embeddings(vocab.keys(), vectors, vocab.counts, unseen)
        if self.config.refine != "none" and len(vocab.languages) > 1:
            embeddings = crosslingual.refine(embeddings, self.task_specs[0].lang,
                                             self._dictionary_pairs(job.data), self.config.refine)
        return embeddings

    def _dictionary_pairs(self, data: EncodedCorpus) -> list[tuple[tuple[str, str], list]]:
        """Every dictionary as ((first language, second language), pairs): read, or induced from its
        parallel text (once per run)."""
        if self._pairs is None:
            self._pairs = [(tuple(spec.langs), crosslingual.dictionary_pairs(spec, data, self.parallel))
                           for spec in self.dictionaries]
        return self._pairs

    def _translations(self, data: EncodedCorpus):
        """One CSR table of every dictionary's usable pairs, both directions."""
        if not self.dictionaries:
            return None
        vocab = data.vocab
        index = {}
        for lang in vocab.languages:
            first, last = vocab.range_of(lang)
            index[lang] = {w: first + i for i, w in enumerate(vocab.words[first:last])}
        tables = []
        for spec, (_, pairs) in zip(self.dictionaries, self._dictionary_pairs(data)):
            table = crosslingual.translation_table(pairs, index[spec.langs[0]], index[spec.langs[1]],
                                                   len(vocab))
            if table.usable == 0:
                raise CorpusError(f"{spec.name}: no usable pairs: no pair has both words in the "
                                  f"vocabulary ({len(pairs)} pairs read; check langs = {list(spec.langs)} "
                                  "and lowercase)")
            if table.usable < 0.1 * len(pairs):
                warnings.warn(f"{spec.name}: only {table.usable} of {len(pairs)} pairs have both words in "
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
