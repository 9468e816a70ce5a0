"""Data-parallel training across processes, on torch.distributed (launched by torchrun).

    torchrun --nnodes N --nproc-per-node K -m mtlembed train corpus.txt -o vectors.bin

Each of the WORLD_SIZE ranks reads its own shard of every task, the ranks merge
their counts into the one vocabulary a single process would build, and each
trains its shard with the kernel as one process would. The schedule's 0..1
timeline (the learning-rate decay) is global: every rank's chunks lie on it by
their share of the rank's shard, and the ranks meet at the same points of it, the
ends of `rounds`. Every rank trains at `scale` times the learning rate, and at each
meeting each row takes 1/scale of the ranks' summed changes since the last one, times
a boost for the rows that a round updates rarely (one all_reduce of the rows any rank
changed; see learning_rate_scale and distributed_merge.py for why); a small all_reduce
of flags carries a stop request (a signal to any rank) and each rank's position, for
the checkpoint that rank 0 writes. MTLEMBED_RANK_SCALE overrides the scale,
MTLEMBED_MERGE=scale leaves out the boosts (the former rule) and MTLEMBED_MERGE_ROWS=all
sends every row (both for benchmarks).

The kernel and `_core` never know about ranks, and torch is imported only here,
only when WORLD_SIZE asks for more than one process. The collectives run on
gloo, or on NCCL with --device cuda (backend_for; that path is untested: it was
written without a GPU).
"""

from __future__ import annotations

import atexit
import dataclasses
import datetime
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from . import corpus, distributed_merge
from . import vocab as vocab_module
from .errors import BackendError, ConfigError, CorpusError, MissingDependencyError

# A round (the words each rank trains between two meetings) is at most SYNC_WORDS of its shard, and an
# epoch holds at least MIN_ROUNDS_PER_EPOCH rounds. MTLEMBED_SYNC_WORDS overrides SYNC_WORDS.
SYNC_WORDS = 1 << 16
MIN_ROUNDS_PER_EPOCH = 4
# Which rows a meeting reduces: "touched" (those any rank changed; the default) or "all" (dense, for
# benchmarks/results/distributed-comm.md, which measures both).
MERGE_ROWS = os.environ.get("MTLEMBED_MERGE_ROWS", "touched")
# How much of the summed changes a row takes: "rows" (1/s, times the row's boost: distributed_merge.py; the
# default) or "scale" (the former rule: 1/s for every row).
MERGE_RULE = os.environ.get("MTLEMBED_MERGE", "rows")
# How long a collective waits for a rank that stopped answering (one that died is noticed at once: its
# sockets close). MTLEMBED_DIST_TIMEOUT (seconds) overrides it.
TIMEOUT_SECONDS = 600


class RankError(BackendError):
    """Another rank failed, died or stopped answering."""


def world_size() -> int:
    """The number of ranks torchrun's environment (WORLD_SIZE) asks for; 1 without it."""
    text = os.environ.get("WORLD_SIZE", "1")
    try:
        size = int(text)
    except ValueError:
        size = 0
    if size < 1:
        raise ConfigError(f"WORLD_SIZE must be a whole number >= 1, got {text!r}")
    return size


def _env_number(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"{name} must be a whole number >= 1, got {text!r}")
    return int(text)


def learning_rate_scale(size: int) -> float:
    """s: each of `size` ranks trains at s times the learning rate, and a meeting adds 1/s of the ranks'
    summed changes (times each row's boost, distributed_merge.py; MTLEMBED_RANK_SCALE overrides s). A
    row that changes little in a round (most rows) changes in proportion to the rate, so that is the
    sum of every update made once at the rate, as one process makes them, whatever s (up to the
    saturation the boosts make up). A row that many updates pull to one point within a round (a
    frequent word) reaches it on every rank, and 1/s of the sum moves it size/s times as far: beyond
    2 it overshoots more each round (the plain sum, s = 1, diverges with 4 ranks, and s = 1.5 did),
    while s = size (the ranks' mean) is exact for such rows. But a larger s makes each rank's model
    move s times as far on its 1/size of the text, noisier: with 4 ranks on 17M words s = 4 lost 1.1
    analogy points to s = 2 (benchmarks/results/distributed.md). So s = max(2, size / 2): the
    smallest that keeps the frequent rows stable, and at 2 ranks the mean of models trained at twice
    the rate."""
    text = os.environ.get("MTLEMBED_RANK_SCALE")
    if text is None:
        return max(2.0, size / 2)
    try:
        scale = float(text)
    except ValueError:
        scale = 0.0
    if not scale >= 1:
        raise ConfigError(f"MTLEMBED_RANK_SCALE must be a number >= 1, got {text!r}")
    return scale


_joined: Ranks | None = None


def backend_for(device: str) -> str:
    """The collectives' backend: NCCL when the ranks train on GPUs (--device cuda), gloo otherwise."""
    return "nccl" if device == "cuda" else "gloo"


def join(device: str = "cpu") -> Ranks | None:
    """This process's place among the ranks torchrun started (the process group is made once, on
    backend_for(device)), or None when it trains alone."""
    global _joined
    size = world_size()
    if size == 1:
        return None
    if _joined is not None:
        return _joined
    try:
        import torch
        import torch.distributed as dist
    except ImportError:
        raise MissingDependencyError(f"distributed training (WORLD_SIZE={size}) needs torch: "
                                     'pip install "mtlembed[torch]"') from None
    timeout = datetime.timedelta(seconds=_env_number("MTLEMBED_DIST_TIMEOUT", TIMEOUT_SECONDS))
    backend = backend_for(device)
    try:
        if backend == "nccl":  # UNTESTED (no GPU where this was written): a GPU per rank, by LOCAL_RANK
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        if not dist.is_initialized():
            dist.init_process_group(backend, timeout=timeout)
    except (RuntimeError, ValueError) as error:  # e.g. MASTER_ADDR unset or unreachable
        raise RankError(f"cannot join the {size} ranks: {_first_line(error)}") from None
    _joined = Ranks(torch, dist, on_gpu=backend == "nccl")
    atexit.register(_leave, dist)
    return _joined


def _leave(dist) -> None:
    """Closes the process group's connections in order as the process exits (gloo's threads could
    otherwise find them closed under them and abort)."""
    try:
        dist.destroy_process_group()
    except (RuntimeError, ValueError):
        pass


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


class _MergedCounts:
    """The ranks' counts of one language, merged in the order one process would have seen the words:
    what vocab.build reads from a _core.Counter."""

    def __init__(self) -> None:
        self.index: dict[bytes, int] = {}
        self.counts: list[int] = []

    def add(self, words: list[bytes], counts: np.ndarray) -> np.ndarray:
        """Adds a shard's words (in its first-seen order); returns their merged indices."""
        indices = np.empty(len(words), np.int64)
        for i, (word, count) in enumerate(zip(words, counts.tolist())):
            j = self.index.setdefault(word, len(self.counts))
            if j == len(self.counts):
                self.counts.append(0)
            self.counts[j] += count
            indices[i] = j
        return indices

    @property
    def issued(self) -> int:
        return len(self.counts)

    def words(self):
        lengths = np.fromiter((len(w) for w in self.index), np.int64, len(self.index))
        return (b"".join(self.index), np.cumsum(lengths), np.array(self.counts, np.int64),
                np.arange(len(self.counts), dtype=np.int32))


def _split_words(blob: bytes, ends: np.ndarray) -> list[bytes]:
    begins = np.concatenate(([0], ends[:-1])).tolist()
    return [blob[b:e] for b, e in zip(begins, ends.tolist())]


class Ranks:
    """The process group seen from one rank: sharding, the vocabulary's merge, the rounds' meetings."""

    def __init__(self, torch, dist, on_gpu: bool = False) -> None:
        self.torch, self.dist = torch, dist
        self.on_gpu = on_gpu  # NCCL: collectives of GPU tensors
        self.rank, self.size = dist.get_rank(), dist.get_world_size()
        if MERGE_RULE not in ("rows", "scale"):
            raise ConfigError(f"MTLEMBED_MERGE must be rows or scale, got {MERGE_RULE!r}")
        self.scale = learning_rate_scale(self.size)  # the learning rate's factor and the merge's divisor
        self._boosts: list[np.ndarray] | None = None  # "rows": each matrix's rows' boosts (plan_merge)
        self._rounds = 1
        self.bytes_sent = 0  # by the meetings' all_reduce of the matrices' rows (see _sent)
        self._bases: list[np.ndarray] = []
        self._width: int | None = None
        self.rows: dict[str, int] = {}  # rows changed, merged and held at the meetings (see traffic)
        self.seconds = {"meeting_seconds": 0.0, "collective_seconds": 0.0}  # the latter: inside all_reduce

    @property
    def writer(self) -> bool:
        """Rank 0 writes the outputs, report and checkpoints."""
        return self.rank == 0

    def _all_reduce(self, array: np.ndarray, op=None) -> None:
        """Reduces a C-contiguous array over the ranks in place (by `op`, a ReduceOp; SUM if None)."""
        op = self.dist.ReduceOp.SUM if op is None else op
        tensor = self.torch.from_numpy(array)
        start = time.perf_counter()
        if not self.on_gpu:
            self._collective(self.dist.all_reduce, tensor, op)
        else:
            # UNTESTED (no GPU where this was written): NCCL reduces GPU tensors. The kernel's matrices
            # are host arrays between segments, so each buffer goes to this rank's GPU and back.
            on_gpu = tensor.cuda()
            self._collective(self.dist.all_reduce, on_gpu, op)
            tensor.copy_(on_gpu)
        self.seconds["collective_seconds"] += time.perf_counter() - start

    def _collective(self, call, *args):
        """A collective call; a failure (a rank died or stopped answering) is one RankError line."""
        try:
            return call(*args)
        except RuntimeError as error:
            raise RankError(f"rank {self.rank} of {self.size}: another rank died or stopped answering "
                            f"({_first_line(error)})") from None

    # -- Data: each rank's shard of every task ---------------------------------------------------------

    def task_blocks(self, files: list[Path], stats: corpus.ReadStats) -> Iterator[tuple[Path, bytes]]:
        """This rank's shard of a task's files, as corpus.read_blocks yields a whole task: the
        concatenated files cut into `size` byte ranges in rank order, each cut moved to the start of a
        line (a compressed file is not cut: it goes whole to the rank its first byte falls to). So
        the shards, in rank order, are the task's text in order, every line once."""
        sizes = [os.stat(f).st_size for f in files]
        total = max(sum(sizes), 1)
        low, high = total * self.rank // self.size, total * (self.rank + 1) // self.size
        begin = 0
        for path, size in zip(files, sizes):
            if _compressed(path):
                if low <= begin < high:
                    yield from corpus.read_blocks([path], stats)
            else:
                start = _line_start(path, min(max(low - begin, 0), size), size)
                stop = _line_start(path, min(max(high - begin, 0), size), size)
                if start < stop:
                    yield from _range_blocks(path, start, stop, stats)
            begin += size

    def parallel_blocks(self, paths: Sequence[str], stats: corpus.ReadStats) -> list:
        """This rank's lines of a parallel text's two files: the same line range of both (the lines
        cut into `size` ranges in rank order); (path, block) iterators, one per side."""
        files = [Path(p) for p in paths]
        for path in files:
            if _compressed(path):
                raise CorpusError(f"{path}: a compressed parallel text cannot be cut into shards by line; "
                                  "decompress it for distributed training")
        counts = [_count_lines(path) for path in files]
        if counts[0] != counts[1]:
            short = int(counts[1] < counts[0])
            raise CorpusError(f"{files[short]}:{counts[short] + 1}: the parallel text is not line-aligned: "
                              f"this file ends after {counts[short]} lines, {files[1 - short]} has "
                              f"{counts[1 - short]}")
        lines = (counts[0] * self.rank // self.size, counts[0] * (self.rank + 1) // self.size)
        sides = []
        for path in files:
            start, stop = _line_offsets(path, lines)
            sides.append(_range_blocks(path, start, stop, stats) if start < stop else iter([(path, b"")]))
        return sides

    # -- The vocabulary: the ranks' counts merged ----------------------------------------------------

    def vocabulary(self, sources: list[tuple[str, object]], config, failure: BaseException | None):
        """The vocabulary one process would build, from every rank's counters (one per task and
        parallel side, in reading order), and for each source this rank's map from its provisional
        ids to the final ones. A rank's `failure` (its reading failed) is raised on every rank."""
        payload = failure if failure is not None else [
            (counter.words()[:3], counter.prunings) for _, counter in sources]
        gathered: list = [None] * self.size
        self._collective(self.dist.all_gather_object, gathered, payload)
        for rank, item in enumerate(gathered):
            if isinstance(item, BaseException):
                raise item if rank == self.rank else _from_rank(item, rank)
        merged: dict[str, _MergedCounts] = {}
        indices = []  # this rank's merged index of each word of each source
        for s, (lang, _) in enumerate(sources):
            counts = merged.setdefault(lang, _MergedCounts())
            for rank in range(self.size):
                (blob, ends, word_counts), prunings = gathered[rank][s]
                if prunings:
                    raise _too_many_distinct(lang, config.max_distinct, None)
                index = counts.add(_split_words(blob, ends), word_counts)
                if rank == self.rank:
                    indices.append(index)
        for lang, counts in merged.items():
            if counts.issued > config.max_distinct:
                raise _too_many_distinct(lang, config.max_distinct, counts.issued)
        vocab, mappings = vocab_module.build(merged, config.min_count, config.max_vocab)
        local = []
        for (lang, counter), index in zip(sources, indices):
            mapping = np.full(counter.issued, -1, dtype=np.int32)
            mapping[counter.words()[3]] = mappings[lang][index]
            local.append(mapping)
        return vocab, local

    # -- Training: rounds and their meetings ------------------------------------------------------------

    def total(self, values: Sequence[float]) -> list[float]:
        """The sums over the ranks of each of `values`."""
        array = np.array(values, np.float64)
        self._all_reduce(array)
        return array.tolist()

    def round_ends(self, progress_end: np.ndarray, words: int, epochs: int) -> np.ndarray:
        """The chunk each round ends before: round k ends at k / rounds of the global timeline,
        the same number of rounds on every rank (from the largest shard)."""
        largest = self.total([0.0] * self.rank + [float(words)] + [0.0] * (self.size - self.rank - 1))
        sync_words = _env_number("MTLEMBED_SYNC_WORDS", SYNC_WORDS)
        rounds = max(MIN_ROUNDS_PER_EPOCH * epochs, -(-int(max(largest)) // sync_words))
        marks = np.arange(1, rounds + 1) / rounds
        ends = np.searchsorted(progress_end, marks * (1 + 1e-12), side="right")
        ends[-1] = len(progress_end)
        self._rounds = len(ends)
        return ends

    def plan_merge(self, data, task_of_chunk: np.ndarray, words_of_chunk: np.ndarray, config,
                   input_rows: int, heads: int, subword_table=None) -> None:
        """The "rows" rule's boosts, from each row's expected updates in a round on a rank (the same on
        every rank: the ranks' occurrences summed, per rank and round), from the text this rank trains
        (its tasks' tokens times the passes the schedule `task_of_chunk`, `words_of_chunk` makes)."""
        if MERGE_RULE != "rows":
            return
        streams = [*data.streams, *data.parallel]
        trained = np.bincount(task_of_chunk, weights=words_of_chunk, minlength=len(streams))
        occurrences = distributed_merge.task_occurrences(streams, trained, len(data.vocab))
        self._all_reduce(occurrences)
        occurrences /= self.size * self._rounds
        vocab = data.vocab
        rows_in, words_out = distributed_merge.expected_updates(
            occurrences, vocab.keep_probabilities(config.sample), vocab.counts, vocab.starts, config,
            input_rows, subword_table)
        out = distributed_merge.boosts(words_out, input_rows=False, merge_factor=self.size / self.scale)
        self._boosts = [distributed_merge.boosts(rows_in, input_rows=True), *[out] * heads]

    def chunk_ids(self, ids: np.ndarray) -> np.ndarray:
        """Chunk ids (they seed each chunk's RNG) unique across ranks."""
        return ids * np.uint64(self.size) + np.uint64(self.rank)

    def kernel_config(self, config):
        """The config the kernel trains this rank with: the learning rates times `scale`."""
        return dataclasses.replace(config, alpha=config.learning_rate * self.scale,
                                   min_alpha=config.final_learning_rate * self.scale)

    def track(self, matrices: Sequence[np.ndarray], width: int | None = None) -> None:
        """Remembers the matrices as they are now (identical on every rank): the base of the changes.
        Columns from `width` on are the kernel's zero padding, never changed: not sent."""
        self._bases = [m.copy() for m in matrices]
        self._width = width

    def traffic(self) -> dict:
        """What the meetings sent so far, for the report: bytes by this rank, and rows (summed over
        the meetings and matrices) this rank changed, all ranks changed (the rows sent), and held."""
        return {"bytes_sent": self.bytes_sent, "merge_rows": MERGE_ROWS, "learning_rate_scale": self.scale,
                "merge_rule": MERGE_RULE,
                **self.rows, **self.seconds}

    def meet(self, matrices: Sequence[np.ndarray], stop: int, checkpoint_due: bool,
             mine: Sequence[int]) -> tuple[int, bool, list[tuple[int, ...]]]:
        """The end of a round: the ranks' changes since the last meeting merged into every rank's
        matrices (_merge). Returns the strongest stop request of any rank, whether any rank wants a
        checkpoint, and every rank's `mine` (its counters: whole numbers >= 0)."""
        flags = np.zeros((1 + self.size, len(mine)), np.int64)  # row 0: the requests; then one per rank
        flags[0, :2] = stop, checkpoint_due
        flags[1 + self.rank] = mine
        start = time.perf_counter()
        self._all_reduce(flags, self.dist.ReduceOp.MAX)
        self._merge(matrices)
        self.seconds["meeting_seconds"] += time.perf_counter() - start
        return int(flags[0, 0]), bool(flags[0, 1]), [tuple(row) for row in flags[1:].tolist()]

    def _merge(self, matrices: Sequence[np.ndarray]) -> None:
        """1/scale of the ranks' summed changes to the matrices since the last meeting (times each row's
        boost with the "rows" rule), added to every rank's matrices, in two collectives whatever the
        matrices: a bitmap of the rows any rank changed (MAX of a byte per row: NCCL has no OR), then
        one buffer of those rows' changes, without the padding. A row that no rank changed would add
        zeros: leaving it out changes no sum. MERGE_ROWS=all sends every row (and no bitmap). _core
        finds, gathers and writes back the rows in one pass each (numpy's fancy indexing: 3-4 x as long)."""
        from . import _core

        width = self._width or matrices[0].shape[1]
        held = sum(len(matrix) for matrix in matrices)
        if MERGE_ROWS == "all":
            rows, local = [np.arange(len(matrix)) for matrix in matrices], held
        else:
            changed = np.concatenate([_core.rows_changed(matrix, base, width)
                                      for matrix, base in zip(matrices, self._bases)])
            local = int(np.count_nonzero(changed))
            self._all_reduce(changed, self.dist.ReduceOp.MAX)
            self._sent(changed)
            rows = [np.flatnonzero(part)
                    for part in np.split(changed, np.cumsum([len(m) for m in matrices])[:-1])]
        spans = np.cumsum([0, *map(len, rows)])
        buffer = np.empty((spans[-1], width), np.float32)
        for matrix, base, these, begin, end in zip(matrices, self._bases, rows, spans, spans[1:]):
            _core.rows_gather(matrix, base, these, buffer[begin:end])
        self._all_reduce(buffer)
        self._sent(buffer)
        for m, (matrix, base, these) in enumerate(zip(matrices, self._bases, rows)):
            change = buffer[spans[m]:spans[m + 1]]
            if self._boosts is not None:
                change *= self._boosts[m][these][:, None]
            _core.rows_apply(matrix, base, these, change, 1.0 / self.scale)
        for key, value in (("rows_touched", local), ("rows_merged", len(buffer)), ("rows_held", held)):
            self.rows[key] = self.rows.get(key, 0) + value

    def _sent(self, array: np.ndarray) -> None:
        """Counts the bytes this rank sends to all_reduce `array` (a ring's 2 (W - 1) / W of it)."""
        self.bytes_sent += 2 * (self.size - 1) * array.nbytes // self.size


def _from_rank(error: BaseException, rank: int) -> BaseException:
    """Another rank's error, raised here as the same kind, saying which rank."""
    try:
        return type(error)(f"rank {rank}: {error}")
    except TypeError:
        return RankError(f"rank {rank}: {error}")


def _too_many_distinct(lang: str, max_distinct: int, distinct: int | None) -> ConfigError:
    found = f"{distinct}" if distinct is not None else "more than that"
    return ConfigError(f"language '{lang}': {found} distinct tokens, more than max_distinct={max_distinct}: "
                       "one process would prune rare ones while reading, which ranks reading shards "
                       "cannot reproduce; raise --max-distinct for distributed training")


def _compressed(path: Path) -> bool:
    with open(path, "rb") as handle:
        return corpus.compression_of(handle.read(corpus.HEADER_BYTES)) != "plain"


def _line_start(path: Path, offset: int, size: int) -> int:
    """The start of the first line at or after byte `offset` (`size` past the last)."""
    if offset <= 0 or offset >= size:
        return min(max(offset, 0), size)
    with open(path, "rb") as handle:
        handle.seek(offset - 1)
        while True:
            block = handle.read(1 << 16)
            if not block:
                return size
            found = block.find(b"\n")
            if found >= 0:
                return offset + found
            offset += len(block)


def _count_lines(path: Path) -> int:
    """Lines of a file; a last line without a newline counts."""
    lines, last = 0, b"\n"
    with open(path, "rb") as handle:
        while block := handle.read(corpus.BLOCK_BYTES):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


def _line_offsets(path: Path, lines: tuple[int, int]) -> tuple[int, int]:
    """The byte offsets where lines `lines[0]` and `lines[1]` start (the file's size past the last)."""
    wanted, found = sorted(set(lines)), {}
    seen, block_start = 0, 0  # newlines before the block, and its offset
    with open(path, "rb") as handle:
        while wanted and (block := handle.read(corpus.BLOCK_BYTES)):
            newlines, position, counted = block.count(b"\n"), -1, 0
            while wanted and wanted[0] <= seen + newlines:
                while counted < wanted[0] - seen:  # line t starts after the t-th newline
                    position, counted = block.index(b"\n", position + 1), counted + 1
                found[wanted.pop(0)] = block_start + position + 1
            seen, block_start = seen + newlines, block_start + len(block)
    found.update({line: os.path.getsize(path) for line in wanted})
    return found[lines[0]], found[lines[1]]


def _range_blocks(path: Path, start: int, stop: int, stats: corpus.ReadStats) -> Iterator[tuple[Path, bytes]]:
    """Bytes [start, stop) of a plain file (both at line starts), read as corpus.read_blocks reads a
    file: blocks ending at whitespace, then (path, b"") for its end."""
    stats.files += 1
    for block in corpus._blocks(path, stats, start, stop):
        yield path, block
    yield path, b""
