"""The seam into the compiled kernel: a run's parameters, tables and tasks as the
typed objects of `_core` (TrainParams, NoiseTable, Task, Schedule, KernelJob).

The bound objects hold the arrays they point into, and accept only numpy
arrays of the exact dtype, C-contiguous: nothing is converted, so nothing can
be freed while the kernel runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Callable

import numpy as np

from . import backend
from .config import TrainConfig
from .encoded import EncodedCorpus
from .subwords import SubwordTable
from .tasks import DictionarySpec, ParallelSpec, TaskSpec


def head_of(spec: TaskSpec) -> str:
    """The name of the output matrix a task trains (its own with head = "per_task")."""
    return spec.name if spec.head == "per_task" else spec.head


def codeswitch_of(spec: TaskSpec, task_specs: Sequence[TaskSpec],
                  dictionaries: Sequence[DictionarySpec]) -> float:
    """The probability that a word of this task is switched to a translation. The pivot language (the
    first task's, usually the large one) keeps its text as is: switching it costs its own quality
    (benchmarks/results/codeswitch.md)."""
    if spec.lang == task_specs[0].lang:
        return 0.0
    return max((d.codeswitch for d in dictionaries if spec.lang in d.langs), default=0.0)


def job_features(task_specs: Sequence[TaskSpec], parallel: Sequence[ParallelSpec],
                 dictionaries: Sequence[DictionarySpec], config: TrainConfig) -> list[str]:
    """The features a job uses beyond plain tasks, "parallel", "codeswitch" and "per_pair_negatives" (asked
    for by name: auto never needs them), for backend.device_for_job (subwords train on both devices)."""
    needed = ["parallel"] if parallel else []
    if config.model == "sg" and config.negatives == "pair":
        needed.append("per_pair_negatives")
    if any(codeswitch_of(spec, task_specs, dictionaries) > 0 for spec in task_specs):
        needed.append("codeswitch")
    return needed


def train_params(**fields):
    """A _core.TrainParams with these fields set (the rest at the kernel's defaults, sgns.h)."""
    p = backend.core().TrainParams()
    for name, value in fields.items():
        setattr(p, name, value)  # an unknown name is an AttributeError
    return p


# CUDA: device rows hold the config's dim columns padded to this many floats (4 or 16). 16, as the CPU's
# rows, until a GPU measures 4 (12% less memory traffic at dim 100; benchmarks/bench_gpu.py --row-floats).
CUDA_ROW_FLOATS = 16


# auto draws per pair with subwords from this many training words (corpus words x epochs) on: one draw
# per center learns faster on little text, a draw per pair better on more (analogy accuracy,
# benchmarks/results/subwords-negatives.md: center ahead up to 4M training words, pair from 10M).
PAIR_FROM_WORDS = 8_000_000
# ... and with or without subwords from this many epochs on: where each window comes back that often, a
# draw shared by a center's contexts (or by CBOW's cbow_share centers) costs word similarity (2M words x
# 20 epochs, SimLex: skip-gram 0.214 against gensim's 0.248, CBOW 0.199 against 0.216; at 10 epochs
# within 0.01 of gensim: benchmarks/results/quality-2M-20ep-causes.md), for 2.8x (skip-gram) the time.
PAIR_FROM_EPOCHS = 15


def negatives_of(config: TrainConfig, device: str, corpus_words: int = 0) -> str:
    """How negatives are drawn on a device ('cpu' or 'cuda'): "center" (skip-gram: one draw per center,
    shared by its contexts; CBOW: one per cbow_share centers) or "pair" (word2vec's: skip-gram a draw per
    (center, context) pair, CBOW per center). auto is pair from PAIR_FROM_EPOCHS epochs on, and for
    skip-gram with subwords once corpus_words x epochs reaches PAIR_FROM_WORDS; center elsewhere, and
    always for skip-gram on CUDA, which draws per center only."""
    if config.negatives != "auto":
        return config.negatives
    if config.model == "sg" and device != "cpu":
        return "center"
    longer = config.subwords and config.model == "sg" and corpus_words * config.epochs >= PAIR_FROM_WORDS
    return "pair" if longer or config.epochs >= PAIR_FROM_EPOCHS else "center"


# A long run of skip-gram with subwords (corpus words x epochs from here on) draws its negatives by
# fastText's count^0.5 and reads each epoch's chunks in a fresh order; shorter runs by word2vec's
# count^0.75 and in corpus order. Each scores higher on its side: 17M words x 5 epochs (85M), Rare Words
# 0.421 with both against 0.414 with the noise alone and 0.408 with neither; 17M x 1 and 4M x 5 (17M,
# 20M) lose Rare Words with either (shuffled -0.009 / -0.008, count^0.5 -0.012 / -0.006); 34M and 51M are
# about even (benchmarks/results/subwords-sg-shuffle.md).
LONG_SUBWORD_RUN = 50_000_000


def long_subword_run(config: TrainConfig, corpus_words: int) -> bool:
    """Skip-gram with subwords on LONG_SUBWORD_RUN training words or more (where it was measured)."""
    return config.subwords and config.model == "sg" and corpus_words * config.epochs >= LONG_SUBWORD_RUN


def noise_exponent_of(config: TrainConfig, corpus_words: int) -> float:
    """The exponent of the noise distribution: ns_exponent, or by default 0.75, and 0.5 on a long subword
    run (long_subword_run)."""
    if config.ns_exponent is not None:
        return config.ns_exponent
    return 0.5 if long_subword_run(config, corpus_words) else 0.75


def order_of(config: TrainConfig, corpus_words: int) -> str:
    """How each pass reads a corpus: "corpus" or "shuffled" (order; auto: shuffled on a long subword run)."""
    if config.order != "auto":
        return config.order
    return "shuffled" if long_subword_run(config, corpus_words) else "corpus"


def params(config: TrainConfig, dim: int, device: str = "cpu", corpus_words: int = 0):
    """The kernel's TrainParams for a config on a device; `dim` is the padded row length, `corpus_words`
    the words of the whole corpus (the vocabulary's counts: the same on every rank)."""
    shared = negatives_of(config, device, corpus_words) == "center"
    return train_params(model=config.model, dim=dim, window=config.window, negative=config.negative,
                        cbow_share=config.cbow_share if shared else 1, shared_negatives=shared,
                        alpha=config.learning_rate, min_alpha=config.final_learning_rate, seed=config.seed,
                        threads=config.worker_threads, copy_hot_rows=config.copy_hot_rows,
                        cuda_cols=config.dim, cuda_row_floats=CUDA_ROW_FLOATS)


def kernel_job(w_in: np.ndarray, w_out: list[np.ndarray], keep_prob: np.ndarray, noise: list[tuple],
               tasks: list, chunks: dict, chunk_stats: np.ndarray | None = None,
               subwords: SubwordTable | None = None):
    """A _core.KernelJob: `noise` holds (prob, alias, first id) per language, `tasks` _core.Task objects,
    `chunks` tasks.schedule's arrays and `chunk_stats` (chunks, 2) float64 for each one's (loss, pairs).
    With `subwords` (its offsets int64, rows int32, as subwords.build_table gives them) a word's input
    vector is the mean of its rows of w_in, which then has the vocabulary's rows and the buckets'."""
    core = backend.core()
    subword_arrays = {} if subwords is None else {"subword_offsets": subwords.offsets,
                                                  "subword_rows": subwords.rows}
    return core.KernelJob(w_in=w_in, w_out=list(w_out), keep_prob=keep_prob,
                          noise=[core.NoiseTable(*table) for table in noise], tasks=tasks,
                          schedule=core.Schedule(**chunks), chunk_stats=chunk_stats, **subword_arrays)


class Kernel:
    """The one place that calls the kernel: a run's job (matrices, tables, tasks and the whole
    schedule), bound once, and `run`, which trains a range of the schedule's chunks."""

    def __init__(self, config: TrainConfig, device: str, data: EncodedCorpus, w_in: np.ndarray,
                 w_out: list[np.ndarray], tasks: list, chunks: dict, chunk_stats: np.ndarray,
                 subwords: SubwordTable | None = None):
        self.w_in, self.w_out, self.subwords = w_in, w_out, subwords
        corpus_words = data.vocab.total_words
        self.params = params(config, w_in.shape[1], device, corpus_words)
        self.noise_exponent = noise_exponent_of(config, corpus_words)  # the default resolved (the report's)
        keep = data.vocab.keep_probabilities(config.sample)
        noise = data.vocab.noise_tables(self.noise_exponent)
        self._bind = lambda tasks: kernel_job(w_in, w_out, keep, noise, tasks, chunks, chunk_stats, subwords)
        self.job = self._bind(tasks)
        self.backend = "cuda" if device == "cuda" else backend.info()["simd"]

    def retie(self, tasks: list) -> None:
        """Binds the job again with other tasks (align while training gives them new translations
        between two runs); the matrices and tables stay, the schedule is copied again."""
        self.job = self._bind(tasks)

    @staticmethod
    def task_list(data: EncodedCorpus, task_specs: list[TaskSpec], parallel: list[ParallelSpec],
                  dictionaries: list[DictionarySpec], heads: list[str], translations) -> list:
        """One _core.Task per task, then per parallel text: its ids, noise table, head and weight."""
        core = backend.core()
        lang_index = {lang: i for i, lang in enumerate(data.vocab.languages)}
        kernel_tasks = []
        for spec, stream in zip(task_specs, data.streams):
            task = core.Task(stream.tokens, stream.offsets, noise=lang_index[spec.lang],
                             head=heads.index(head_of(spec)), weight=spec.weight)
            codeswitch = codeswitch_of(spec, task_specs, dictionaries)
            if codeswitch > 0:
                task.set_translations(codeswitch, translations.offsets, translations.ids)
            kernel_tasks.append(task)
        for spec, (first, second) in zip(parallel, data.parallel):
            task = core.Task(first.tokens, first.offsets, noise=lang_index[spec.langs[0]],
                             head=heads.index("shared"), weight=spec.weight)
            task.set_second_side(second.tokens, second.offsets, noise=lang_index[spec.langs[1]])
            kernel_tasks.append(task)
        return kernel_tasks

    def run(self, begin: int, end: int, monitor: Callable) -> dict:
        """Trains chunks [begin, end) of the schedule in order, writing each one's (loss, pairs) to
        the job's chunk_stats; `monitor` is called about every 0.1 s and stops the workers by raising."""
        try:
            return backend.core().train(self.params, self.job, self.backend, begin=begin, end=end,
                                        progress=monitor)
        except RuntimeError as error:  # a failure inside the kernel: CUDA errors are RuntimeErrors
            raise backend.kernel_error(error) from None
