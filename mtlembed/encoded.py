"""Encoded corpora: every task's text as final vocabulary ids and sentence offsets.

A corpus is read once (encode.read_corpus): the tokenizer counts tokens and
gives each a provisional id in first-seen order, since the vocabulary is known
only when every file has been counted. The provisional ids are taken out of
the tokenizer in pieces of whole sentences, block by block, into a *sink*:
`MemorySink` keeps the pieces in RAM, `FileSink` appends them to a file of
the corpus cache (mtlembed/cache.py). Once the vocabulary is chosen, `finish`
maps every piece to final ids, dropping the words that did not make it, so
at no time is more than about one copy of the corpus (plus one piece) held:
neither a vector doubling as it grows nor a remapped second copy.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import errno
import mmap
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import backend, corpus
from . import vocab as vocab_module
from .atomic import exclusive_temporary, remove_stale_temporaries
from .errors import ConfigError, ResourceError

# Pieces of the cache files read back per step when they are remapped.
FILE_PIECE_TOKENS = 1 << 20
# Stop reading into RAM when less memory than this is left, rather than be
# killed by the kernel's out-of-memory killer.
MEMORY_RESERVE = 64 << 20
HUGE_PAGE = 2 << 20


@dataclass
class Encoded:
    """One task's corpus: sentence s is tokens[offsets[s]:offsets[s+1]] (int32 ids, int64 offsets);
    numpy arrays in RAM or read-only memory maps of cache files."""

    tokens: np.ndarray
    offsets: np.ndarray


@dataclass
class EncodedCorpus:
    """Every task's text as final ids, with the vocabulary they index."""

    vocab: vocab_module.Vocabulary
    tasks: list
    streams: list[Encoded]   # one per task
    words_read: int          # tokens before min_count / max_vocab
    stats: corpus.ReadStats
    parallel: list = field(default_factory=list)  # (Encoded, Encoded) per ParallelSpec, line-aligned

    @property
    def words(self) -> int:
        """Tokens left for training, all tasks."""
        return sum(int(s.offsets[-1]) for s in self.streams) + sum(
            int(a.offsets[-1]) + int(b.offsets[-1]) for a, b in self.parallel)


def remap_piece(tokens: np.ndarray, ends: np.ndarray, mapping: np.ndarray,
                keep_empty: bool) -> tuple[np.ndarray, np.ndarray]:
    """Provisional ids of whole sentences (`ends` counted from tokens[0]) to final ids.

    Ids mapped to -1 are dropped; sentences left empty disappear unless
    `keep_empty` (parallel text, where sentence i must stay line i).
    """
    return backend.core().remap(tokens, ends, mapping, keep_empty)


def release_free_memory() -> None:
    """Gives the memory malloc holds freed back to the OS (glibc's malloc_trim; elsewhere nothing).

    Reading frees tens of MB in blocks below malloc's mmap threshold (text
    blocks, the counters' tables), which the heap would otherwise keep for the
    whole run beside the matrices.
    """
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def anonymous_array(count: int, dtype, huge_pages: bool = False) -> np.ndarray:
    """An array in a memory mapping of its own, zeroed, given back to the OS the moment it is freed.

    Pieces of a few MB from malloc would come from the heap, which keeps freed
    blocks: the pieces of the provisional ids would then stay in memory beside
    the final arrays, doubling the peak. With `huge_pages` the array starts on a
    2 MiB boundary and asks Linux for transparent huge pages: the training
    matrices are read at random rows, and with 4 KiB pages nearly every row is
    a TLB miss (10% of CBOW's time at dim 300).
    """
    dtype = np.dtype(dtype)
    size = max(count * dtype.itemsize, 1)
    slack = HUGE_PAGE if huge_pages else 0
    try:
        buffer = mmap.mmap(-1, size + slack, flags=mmap.MAP_PRIVATE)
    except OSError as error:
        if error.errno != errno.ENOMEM:
            raise
        raise MemoryError(f"cannot allocate {count * dtype.itemsize} bytes") from None
    if huge_pages and hasattr(mmap, "MADV_HUGEPAGE"):
        with contextlib.suppress(OSError):  # a kernel without transparent huge pages: plain pages
            buffer.madvise(mmap.MADV_HUGEPAGE)
    start = -np.frombuffer(buffer, dtype=np.uint8, count=1).ctypes.data % HUGE_PAGE if huge_pages else 0
    return np.frombuffer(buffer, dtype=dtype, count=count, offset=start)


def _anonymous_copy(array: np.ndarray) -> np.ndarray:
    copy = anonymous_array(len(array), array.dtype)
    copy[:] = array
    return copy


class MemorySink:
    """A task's provisional ids, piece by piece, in RAM."""

    def __init__(self, keep_empty: bool, available: Callable[[], int | None] | None = None):
        self.keep_empty = keep_empty
        self.available = available  # bytes of memory left, checked as the corpus grows
        self.pieces: collections.deque = collections.deque()
        self.tokens = self.sentences = 0

    def add(self, tokens: np.ndarray, ends: np.ndarray) -> None:
        if len(ends):
            self.pieces.append((_anonymous_copy(tokens), _anonymous_copy(ends)))
            self.tokens += len(tokens)
            self.sentences += len(ends)
        free = self.available() if self.available else None
        if free is not None and free < MEMORY_RESERVE:
            held = f"{self.tokens} tokens so far, {self.tokens >> 18} MiB; {free >> 20} MiB left"
            raise ResourceError(f"out of memory holding the encoded corpus in RAM ({held}); train from a "
                                "disk cache with --cache-dir DIR (cache_dir)")

    def finish(self, mapping: np.ndarray) -> Encoded:
        # Pass 1 replaces each piece by its remapped (smaller) self, to learn the final sizes;
        # pass 2 copies them into one array each, freeing every piece once copied.
        n_tokens = n_sentences = 0
        for i in range(len(self.pieces)):
            remapped = remap_piece(*self.pieces[i], mapping, self.keep_empty)
            self.pieces[i] = (_anonymous_copy(remapped[0]), _anonymous_copy(remapped[1]))
            n_tokens += len(self.pieces[i][0])
            n_sentences += len(self.pieces[i][1])
        tokens = anonymous_array(n_tokens, np.int32)
        offsets = anonymous_array(n_sentences + 1, np.int64)
        offsets[0] = t = s = 0
        while self.pieces:
            piece_tokens, piece_ends = self.pieces.popleft()
            tokens[t:t + len(piece_tokens)] = piece_tokens
            offsets[s + 1:s + 1 + len(piece_ends)] = piece_ends + t
            t, s = t + len(piece_tokens), s + len(piece_ends)
        return Encoded(tokens, offsets)


def _write_error(path: Path, error: OSError) -> Exception:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return ResourceError(f"no space left on the device writing the corpus cache {path}")
    return ConfigError(f"cannot write the corpus cache {path}: {error.strerror or error}")


def _pwrite_all(fd: int, array: np.ndarray, offset: int) -> None:
    data = memoryview(array).cast("B")
    while data:
        written = os.pwrite(fd, data, offset)
        data, offset = data[written:], offset + written


class FileSink:
    """A task's provisional ids appended to two temporary files laid out like the final
    ones, `tokens` (int32) and `offsets` (int64, from 0); `finish` remaps them in place
    and renames them to their final names."""

    def __init__(self, tokens_path: Path, offsets_path: Path, keep_empty: bool):
        self.paths = (Path(tokens_path), Path(offsets_path))
        self.keep_empty = keep_empty
        self.tokens = self.sentences = 0
        self.crc32 = (0, 0)  # of the final tokens and offsets files
        self.bounds = [(0, 0)]  # (tokens, sentences) at the end of each piece: pieces hold whole sentences
        # Fresh names created with O_EXCL|O_NOFOLLOW: a link planted in the cache folder is never
        # followed (a fixed name was, overwriting its target). Killed builds' leftovers go first.
        self.files, temporary = [], []
        try:
            for path in self.paths:
                remove_stale_temporaries(path)
                fd, name = exclusive_temporary(path)
                temporary.append(name)
                self.files.append(open(fd, "w+b"))
        except BaseException:
            self.temporary = tuple(temporary)
            self.discard()
            raise
        self.temporary = tuple(temporary)
        self._write(1, np.zeros(1, dtype=np.int64))

    def _write(self, which: int, array: np.ndarray) -> None:
        try:
            self.files[which].write(memoryview(np.ascontiguousarray(array)).cast("B"))
        except OSError as error:
            raise _write_error(self.paths[which], error) from None

    def add(self, tokens: np.ndarray, ends: np.ndarray) -> None:
        if not len(ends):
            return
        self._write(0, tokens)
        self._write(1, ends + self.tokens)
        self.tokens += len(tokens)
        self.sentences += len(ends)
        # Pieces are merged up to FILE_PIECE_TOKENS, so finishing does few, large reads.
        if len(self.bounds) > 1 and self.tokens - self.bounds[-2][0] <= FILE_PIECE_TOKENS:
            self.bounds[-1] = (self.tokens, self.sentences)
        else:
            self.bounds.append((self.tokens, self.sentences))

    def finish(self, mapping: np.ndarray) -> Encoded:
        # Piece by piece, read, remap, write back: what is written never passes what is still to read.
        try:
            for handle in self.files:
                handle.flush()
            fds = [handle.fileno() for handle in self.files]
            crc = [0, zlib.crc32(bytes(8))]  # the offsets file starts with a 0
            t = s = 0  # tokens and sentences written
            for (t0, s0), (t1, s1) in zip(self.bounds, self.bounds[1:]):
                tokens = np.frombuffer(os.pread(fds[0], (t1 - t0) * 4, t0 * 4), dtype=np.int32)
                ends = np.frombuffer(os.pread(fds[1], (s1 - s0) * 8, (s0 + 1) * 8), dtype=np.int64) - t0
                tokens, ends = remap_piece(tokens, ends, mapping, self.keep_empty)
                ends += t
                _pwrite_all(fds[0], tokens, t * 4)
                _pwrite_all(fds[1], ends, (s + 1) * 8)
                crc = [zlib.crc32(tokens, crc[0]), zlib.crc32(ends, crc[1])]
                t, s = t + len(tokens), s + len(ends)
            for fd, size in zip(fds, (t * 4, (s + 1) * 8)):
                os.ftruncate(fd, size)
                os.fsync(fd)
            for temporary, path in zip(self.temporary, self.paths):
                os.replace(temporary, path)  # a new file: a run still mapping the old one keeps it intact
        except OSError as error:
            raise _write_error(self.paths[0], error) from None
        finally:
            for handle in self.files:
                handle.close()
        self.tokens, self.sentences, self.crc32 = t, s, tuple(crc)
        return Encoded(map_file(self.paths[0], np.int32, t), map_file(self.paths[1], np.int64, s + 1))

    def discard(self) -> None:
        """After a failure: closes the files and removes the temporary ones."""
        for handle in self.files:
            handle.close()
        for temporary in self.temporary:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)


def map_file(path, dtype, count: int) -> np.ndarray:
    """A read-only memory map of `count` items of a file (a path or an open file; an empty array for
    none: mmap cannot map 0 bytes)."""
    if count == 0:
        return np.zeros(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", shape=(count,))
