"""The encode stage: corpus files -> token counts per language -> vocabulary -> ids per task.

Each task is tokenized once (in C++), its tokens counted per language and
written as ids to a sink: memory (MemorySink) or, with config.cache_dir, files
that later runs reuse (cache.py).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Callable

from . import backend, corpus
from . import vocab as vocab_module
from .config import TrainConfig
from .encoded import EncodedCorpus, MemorySink, release_free_memory
from .errors import ConfigError, CorpusError, ResourceError
from .resources import available_memory
from .tasks import ParallelSpec, TaskSpec


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
            from . import cache  # cache.py encodes with this module's encode(): imported when needed

            data = cache.load_or_build(config.cache_dir, task_specs, parallel_specs, config)
        else:
            data = encode(task_specs, config, parallel_specs,
                           lambda keep_empty: MemorySink(keep_empty, available_memory))
    except MemoryError as error:
        if isinstance(error, ResourceError) or config.cache_dir is not None:
            raise
        raise ResourceError("out of memory reading the corpus into RAM; train from a disk cache with "
                            "--cache-dir DIR (cache_dir)") from None
    release_free_memory()
    return data


def encode(task_specs: Sequence[TaskSpec], config: TrainConfig, parallel_specs: Sequence[ParallelSpec],
            new_sink: Callable) -> EncodedCorpus:
    """read_corpus's work (and the cache's); `new_sink(keep_empty)` makes where each task's ids go
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
