"""The encode stage: corpus files -> token counts per language -> vocabulary -> ids per task.

Each task is tokenized once (in C++), its tokens counted per language and
written as ids to a sink: memory (MemorySink) or, with config.cache_dir, files
that later runs reuse (cache.py).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Callable

from . import backend, corpus, growth
from . import vocab as vocab_module
from .config import TrainConfig
from .encoded import EncodedCorpus, MemorySink, release_free_memory
from .errors import ConfigError, CorpusError, MtlembedError, ResourceError
from .resources import available_memory
from .tasks import ParallelSpec, TaskSpec


def _read_into(blocks, counter, stream, sink, config: TrainConfig, stats: corpus.ReadStats,
               lines: bool) -> int:
    """Tokenizes (path, block) pairs (corpus.read_blocks') into a sink; returns the token count.
    With `lines`, a final line without a newline still counts as a line."""
    core = backend.core()
    lower = corpus.case_map() if config.lowercase else None
    strict = config.encoding_errors == "strict"
    words, last, line = 0, b"", 1
    for path, block in blocks:
        if block:
            done = core.tokenize(block, counter, stream, config.worker_threads, lower, config.tokenizer)
            if done is None:  # invalid UTF-8, or a capital sigma to lowercase: Python decodes it
                text = corpus.decode(block, path, line, config.lowercase, strict, stats)
                done = core.tokenize(text, counter, stream, config.worker_threads, None, config.tokenizer)
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
                parallel_specs: Sequence[ParallelSpec] = (), ranks=None) -> EncodedCorpus:
    """Reads every task once: tokens are counted per language and encoded per task,
    in RAM or, with config.cache_dir, in files there (reused by later runs). With `ranks`
    (distributed.Ranks), this process reads its shard of every task (never a cache)."""
    if ranks is not None and config.cache_dir is not None:
        raise ConfigError("cache_dir cannot be used with distributed training yet: leave it out")
    if ranks is not None and config.vocab is not None:
        raise ConfigError("vocab cannot be used with distributed training yet: leave it out")
    try:
        if config.cache_dir is not None:
            from . import cache  # cache.py encodes with this module's encode(): imported when needed

            data = cache.load_or_build(config.cache_dir, task_specs, parallel_specs, config)
        else:
            data = encode(task_specs, config, parallel_specs,
                          lambda keep_empty: MemorySink(keep_empty, available_memory), ranks)
    except MemoryError as error:
        if isinstance(error, ResourceError) or config.cache_dir is not None:
            raise
        raise ResourceError("out of memory reading the corpus into RAM; train from a disk cache with "
                            "--cache-dir DIR (cache_dir)") from None
    release_free_memory()
    return data


def encode(task_specs: Sequence[TaskSpec], config: TrainConfig, parallel_specs: Sequence[ParallelSpec],
           new_sink: Callable, ranks=None) -> EncodedCorpus:
    """read_corpus's work (and the cache's); `new_sink(keep_empty)` makes where each task's ids go
    (called for the tasks, then both sides of each parallel text, in order). With `ranks`, each
    source (task or parallel side) is counted apart and ranks.vocabulary merges every rank's counts
    in the order one process reads them."""
    core = backend.core()
    counters: dict[str, object] = {}
    sources: list[tuple[str, object]] = []  # (language, counter) of each task, then each parallel side
    sinks: list = []
    words_read, failure = 0, None
    stats = corpus.ReadStats()

    def read_source(lang, blocks, stream, keep_empty: bool) -> int:
        counter = core.Counter(config.max_distinct) if ranks else \
            counters.setdefault(lang, core.Counter(config.max_distinct))
        sinks.append(new_sink(keep_empty))
        sources.append((lang, counter))
        return _read_into(blocks, counter, stream, sinks[-1], config, stats, keep_empty)

    try:
        for spec in task_specs:
            files = corpus.expand_paths(spec.paths)
            field = spec.jsonl_field or config.jsonl_field
            if ranks and field:
                raise ConfigError("jsonl_field cannot be used with distributed training yet: extract the "
                                  "field's text into plain files")
            blocks = ranks.task_blocks(files, stats) if ranks else \
                corpus.read_blocks(files, stats, field, config.encoding_errors == "strict")
            task_words = read_source(spec.lang, blocks, core.Stream(config.max_sentence_length), False)
            if task_words == 0:
                shard = f"rank {ranks.rank}'s shard of " if ranks else ""
                raise CorpusError(f"task '{spec.name}': {shard}the corpus has no words "
                                  f"({', '.join(map(str, files[:3]))}{', ...' if len(files) > 3 else ''})")
            words_read += task_words
        for spec in parallel_specs:
            for lang in spec.langs:
                if lang not in {t.lang for t in task_specs}:
                    raise ConfigError(f"parallel '{spec.name}': no task has language '{lang}'")
            sides = ranks.parallel_blocks([corpus.expand_paths([p])[0] for p in spec.paths], stats) if ranks \
                else [corpus.read_blocks(corpus.expand_paths([p]), stats) for p in spec.paths]
            for lang, blocks in zip(spec.langs, sides):
                stream = core.Stream(2**62, keep_empty=True)  # one sentence per line, never split
                words_read += read_source(lang, blocks, stream, True)
            lines = [side.sentences for side in sinks[-2:]]
            if lines[0] != lines[1]:
                short = int(lines[1] < lines[0])
                raise CorpusError(f"{spec.paths[short]}:{lines[short] + 1}: parallel '{spec.name}' is not "
                                  f"line-aligned: this file ends after {lines[short]} lines, "
                                  f"{spec.paths[1 - short]} has {lines[1 - short]}")
    except MtlembedError as error:
        if ranks is None:
            raise
        failure = error  # every rank raises it (ranks.vocabulary), none waits for this one

    if ranks:
        vocab, mappings = ranks.vocabulary(sources, config, failure)
    else:
        _warn_prunings(counters, config)
        vocab, by_language = vocab_module.build(counters, config.min_count, config.max_vocab,
                                                growth.fixed_vocabulary(config, list(counters)))
        mappings = [by_language[lang] for lang, _ in sources]
    streams = []
    for spec, sink, mapping, (_, counter) in zip(task_specs, sinks, mappings, sources):
        streams.append(sink.finish(mapping))
        if len(streams[-1].tokens) == 0:
            raise CorpusError(f"task '{spec.name}': no word occurs at least min_count={config.min_count} "
                              f"times ({len(counter)} distinct words); lower --min-count")
    sides = list(zip(sinks, mappings))[len(task_specs):]
    parallel = [(first.finish(first_map), second.finish(second_map))
                for (first, first_map), (second, second_map) in zip(sides[::2], sides[1::2])]
    return EncodedCorpus(vocab, list(task_specs), streams, words_read, stats, parallel)


def _warn_prunings(counters: dict, config: TrainConfig) -> None:
    for lang, counter in counters.items():
        if counter.prunings:
            warnings.warn(f"language '{lang}': more than max_distinct={config.max_distinct} distinct tokens: "
                          f"{counter.prunings} prunings dropped {counter.dropped} rare ones as word2vec does "
                          f"(the last dropped those seen at most {counter.threshold} times); raise "
                          "--max-distinct to keep them", corpus.CorpusWarning, stacklevel=4)
