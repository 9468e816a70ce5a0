"""Reading corpora: paths, globs and folders; plain, gzip, bz2 or xz files; plain text or
JSON Lines (jsonl.py takes a field's text out of each line).

Files are read in large blocks, cut at whitespace. A background thread reads
and decompresses the next block while the compiled tokenizer works on the
current one, on the training threads (each takes a part of the block): it
checks the UTF-8, lowercases, splits the text into tokens, counts them and
encodes them to ids; nothing here loops over tokens. Python decodes only the
blocks the tokenizer refuses (invalid UTF-8, to report or replace it, and text
whose lowercase depends on context: Greek capital sigma).
"""

from __future__ import annotations

import bz2
import codecs
import errno
import functools
import glob
import gzip
import lzma
import os
import queue
import re
import stat
import threading
import warnings
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from . import backend
from .errors import CorpusError

BLOCK_BYTES = 1 << 22
# A "token" longer than this is split rather than buffered without bound
# (a 100 MB line of junk without whitespace must not exhaust memory).
MAX_TOKEN_BYTES = 1 << 20
NEWLINE = b"\n"
_WHITESPACE = (b" ", b"\n", b"\t", b"\r", b"\v", b"\f")
# Compressed files are recognized by their whole headers, not 2-3 bytes: a plain
# text may well begin with "BZh" (or the bytes 1f 8b), and must not be taken for a
# damaged archive. gzip: magic and the deflate method; bz2: "BZh", the block size
# and the magic of the first block (or of the end of an empty stream); xz: 6 bytes.
HEADER_BYTES = 10
_HEADERS = ((re.compile(rb"\x1f\x8b\x08"), "gzip"),
            (re.compile(rb"BZh[1-9](\x31\x41\x59\x26\x53\x59|\x17\x72\x45\x38\x50\x90)"), "bz2"),
            (re.compile(rb"\xfd7zXZ\x00"), "xz"))
_OPENERS = {"gzip": lambda raw: gzip.GzipFile(fileobj=raw), "bz2": bz2.BZ2File, "xz": lzma.LZMAFile}
_DECOMPRESSION_ERRORS = (EOFError, zlib.error, lzma.LZMAError, gzip.BadGzipFile)


class CorpusWarning(UserWarning):
    """Something in a corpus was repaired (invalid UTF-8 replaced)."""


def expand_paths(patterns: Iterable[str | os.PathLike]) -> list[Path]:
    """Files named by paths, globs (`**` recurses) and folders (all files below, sorted).

    Neither folders nor `**` follow symbolic links to folders: a link loop cannot
    make them endless.
    """
    files: list[Path] = []
    for pattern in patterns:
        text = os.fspath(pattern)
        if is_pattern(text):
            matches = sorted(Path(p) for p in _glob(text) if os.path.isfile(p))
            if not matches:
                raise CorpusError(f"{text}: no files match this pattern")
            files.extend(matches)
        elif os.path.isdir(text):
            found = sorted(_files_below(Path(text)))
            if not found:
                raise CorpusError(f"{text}: folder contains no files")
            files.extend(found)
        elif os.path.isfile(text):
            files.append(Path(text))
        elif os.path.lexists(text) and not os.path.exists(text):
            try:
                os.stat(text)
                reason = "its target is missing"
            except OSError as error:  # a missing target, or a loop
                reason = error.strerror
            raise CorpusError(f"{text}: broken symbolic link ({reason})")
        elif os.path.exists(text):
            raise CorpusError(f"{text}: not a regular file or folder (a pipe, socket or device)")
        else:
            raise CorpusError(f"{text}: no such file or folder")
    if not files:
        raise CorpusError("no corpus files given")
    return files


def _glob(pattern: str) -> list[str]:
    """glob.glob, but a `**` component does not follow symbolic links to folders.

    glob's own `**` does: a link to the folder itself lists every file under
    ever longer names (a/loop/loop/x) until the OS refuses, and two such links
    make that 2^40 paths, a hang. Like folders (os.walk), `**` here walks only
    real subfolders.
    """
    head, sep, tail = pattern.partition("**")
    whole_component = (not head or head.endswith(os.sep)) and (not tail or tail.startswith(os.sep))
    if not sep or not whole_component:
        return glob.glob(pattern)  # no `**`, or `**` inside a name, where it means `*`
    bases = glob.glob(head) if glob.has_magic(head) else [head]
    tail = tail.lstrip(os.sep)
    found: list[str] = []
    for base in (b for b in bases if os.path.isdir(b or os.curdir)):
        for root, dirs, names in os.walk(base or os.curdir, onerror=_raise_walk_error):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            # a pattern starting with `**` names paths relative to here, without "./", as glob does
            here = ("" if root == os.curdir else os.path.relpath(root)) if not base else root
            if tail:
                found.extend(_glob(os.path.join(glob.escape(here), tail)))
            else:
                found.extend(os.path.join(here, n) for n in names if not n.startswith("."))
    return found


def _files_below(folder: Path) -> Iterator[Path]:
    # followlinks=False: a symlink loop cannot make the walk endless.
    for root, dirs, names in os.walk(folder, onerror=_raise_walk_error):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            if not name.startswith("."):
                path = Path(root) / name
                if os.path.exists(path) and not os.path.isfile(path):  # opening a FIFO blocks for ever
                    raise CorpusError(f"{path}: not a regular file (a pipe, socket or device)")
                yield path


def _raise_walk_error(error: OSError) -> None:
    raise CorpusError(f"{error.filename}: cannot list folder ({error.strerror})")


def is_pattern(text: str) -> bool:
    """Whether a corpus path is a glob: an existing name (a link included) is taken literally,
    even with glob characters (a file `data[1].txt`)."""
    return not os.path.lexists(text) and any(c in text for c in "*?[")


def open_regular(path: str | os.PathLike):
    """An input file opened for reading (unbuffered), if it is a regular file: a device such as
    /dev/zero would be read without end, and a FIFO would block for ever. The file is opened
    with O_NONBLOCK (opening a FIFO then returns at once; reads of a regular file ignore the
    flag) and checked with fstat, so the file checked is the file read. Raises OSError: that
    of open(), or one saying what the file is instead."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = ("a folder" if stat.S_ISDIR(mode) else "a named pipe" if stat.S_ISFIFO(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "a device")
        raise OSError(errno.EINVAL, f"not a regular file but {kind}", os.fspath(path))
    return open(fd, "rb", buffering=0)


def compression_of(head: bytes) -> str:
    """'gzip', 'bz2', 'xz' or 'plain', from the first HEADER_BYTES bytes of a file."""
    return next((kind for header, kind in _HEADERS if header.match(head)), "plain")


def open_compressed(path: Path):
    """(stream, raw, kind): the file decompressed by content (not by name), the
    file itself (its tell() is how far it has been read, for error messages) and
    the format. Close both."""
    try:
        raw = open_regular(path)
    except OSError as error:  # unreadable, a link loop, or gone since the folder was listed
        raise CorpusError(f"{path}: cannot open ({error.strerror or error})") from None
    try:
        kind = compression_of(raw.read(HEADER_BYTES))
        raw.seek(0)
        return (raw if kind == "plain" else _OPENERS[kind](raw)), raw, kind
    except OSError as error:
        raw.close()
        raise CorpusError(f"{path}: read error at byte 0 ({error.strerror or error})") from None


def _read_error(path: Path, kind: str, text_bytes: int, raw, error: BaseException) -> CorpusError:
    """A failed read: the device (an errno: EIO, ...) or the compressed data, with where it
    happened (`text_bytes`: how much text the file had given)."""
    try:
        where = f"byte {raw.tell()}" + (f" of the compressed file, after {text_bytes} bytes of text"
                                        if kind != "plain" else "")
    except (OSError, ValueError):
        where = f"an unknown byte, after {text_bytes} bytes of text"
    if isinstance(error, OSError) and error.errno is not None:
        return CorpusError(f"{path}: read error at {where} ({error.strerror or error})")
    # bz2 reports bad data as an OSError without errno; gzip as BadGzipFile; EOFError if cut short
    return CorpusError(f"{path}: corrupt or truncated {kind} data ({where}): {error}")


@dataclass
class ReadStats:
    """What reading a corpus found."""

    files: int = 0
    bytes: int = 0
    invalid_bytes: int = 0
    first_invalid: str = ""


class _InvalidCounter:
    """A codecs error handler that replaces invalid UTF-8 and counts the bytes."""

    def __init__(self) -> None:
        self.count = 0
        self.first_offset = -1

    def __call__(self, error: UnicodeDecodeError):
        if self.first_offset < 0:
            self.first_offset = error.start
        self.count += error.end - error.start
        return "\ufffd", error.end


def _reads(path: Path, stats: ReadStats, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
    """The text of a file as read, decompressed, in pieces of up to BLOCK_BYTES (cut anywhere), a UTF-8
    byte order mark removed; with `start`/`stop`, of bytes [start, stop) of a plain file only."""
    handle, raw, kind = open_compressed(path)
    text_before = stats.bytes  # of the text read before this file
    first = start == 0
    left = None if stop is None else stop - start  # bytes of the range still to read
    with raw, handle:
        if start:
            handle.seek(start)
        while True:
            try:
                data = handle.read(BLOCK_BYTES if left is None else min(BLOCK_BYTES, left))
            except _DECOMPRESSION_ERRORS + (OSError,) as error:
                raise _read_error(path, kind, stats.bytes - text_before, raw, error) from None
            if left is not None:
                left -= len(data)
            if first:
                first = False
                if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                    # UTF-16 of ASCII text is valid UTF-8 (every other byte NUL): it would train
                    # on garbage with hardly a warning.
                    raise CorpusError(f"{path}: UTF-16 text (byte order mark {data[:2].hex(' ')}); "
                                      "corpora must be UTF-8: convert it, e.g. iconv -f UTF-16 -t UTF-8")
                if data.startswith(codecs.BOM_UTF8):
                    data = data[len(codecs.BOM_UTF8):]
                    if not data:  # the BOM was the whole first read, not necessarily the file
                        continue
            stats.bytes += len(data)
            if not data:
                return
            yield data


def _blocks(path: Path, stats: ReadStats, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
    """The blocks of a file, each ending at whitespace (or at end of file), never inside a UTF-8 character;
    with `start`/`stop`, of bytes [start, stop) of a plain file only (a distributed rank's shard)."""
    carry = b""
    for number, data in enumerate(_reads(path, stats, start, stop)):
        if number == 0 and start == 0 and data.lstrip()[:2] == b'{"':
            warnings.warn(f"{path} looks like JSON Lines: read as plain text, its keys and quotes become "
                          "words; name the field that holds the text with --jsonl-field (jsonl_field)",
                          CorpusWarning, stacklevel=2)
        block = carry + data
        cut = max(block.rfind(w) for w in _WHITESPACE)
        if cut < 0 and len(block) < MAX_TOKEN_BYTES:
            carry = block
            continue
        if cut < 0:  # one over-long token: split it, but never inside a UTF-8 character
            cut = len(block) - 1
            while cut > len(block) - 4 and block[cut] & 0xC0 == 0x80:
                cut -= 1
            cut -= 1  # the character starting at the old `cut` goes to the carry
        block, carry = block[: cut + 1], block[cut + 1:]
        if block:
            yield block
    if carry:
        yield carry


def decode(block: bytes, path: Path, line: int, lowercase: bool, strict: bool, stats: ReadStats) -> bytes:
    """A block as valid UTF-8, lowercased if asked, by Python's codecs and str.lower: for the
    blocks the tokenizer refuses. Invalid UTF-8 raises (strict) or becomes U+FFFD, counted in
    `stats`; `line` is the block's first line, for the messages."""
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError as error:
        where = f"{path}:{line + block.count(NEWLINE, 0, error.start)}"
        if strict:
            bad = block[error.start:error.end].hex(" ")
            raise CorpusError(f"{where}: invalid UTF-8 (bytes {bad}); use encoding_errors='replace' "
                              "(--encoding-errors replace) to replace them") from None
        counter = _InvalidCounter()
        codecs.register_error("mtlembed.count", counter)
        text = block.decode("utf-8", "mtlembed.count")
        if not stats.invalid_bytes:
            stats.first_invalid = where
        stats.invalid_bytes += counter.count
    if lowercase:
        text = text.lower()
    return text.encode("utf-8")


def read_blocks(paths: list[Path], stats: ReadStats, jsonl_field: str | None = None,
                strict: bool = False) -> Iterator[tuple[Path, bytes]]:
    """(path, block) for every block of every file, and (path, b"") at the end of each file,
    read ahead in a background thread. Blocks are bytes as read: core.tokenize checks them.
    With `jsonl_field`, the files are JSON Lines and the blocks the text of that field
    (jsonl.py; `strict`: invalid UTF-8 there raises, as encoding_errors='strict')."""

    from . import jsonl  # which reads through this module

    def produce() -> Iterator[tuple[Path, bytes]]:
        for path in paths:
            stats.files += 1
            blocks = _blocks(path, stats) if jsonl_field is None else \
                jsonl.text_blocks(_reads(path, stats), path, jsonl_field, strict, stats)
            for block in blocks:
                yield path, block
            yield path, b""

    yield from _prefetch(produce(), depth=3)
    if stats.invalid_bytes:
        warnings.warn(f"{stats.invalid_bytes} invalid UTF-8 bytes replaced by U+FFFD "
                      f"(first at {stats.first_invalid})", CorpusWarning, stacklevel=2)


def _prefetch(items: Iterator, depth: int) -> Iterator:
    """Runs an iterator in a thread, `depth` items ahead; its exceptions re-raise here."""
    slots: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(done)
        except BaseException as error:  # handed to the consumer, raised there
            put(error)

    worker = threading.Thread(target=run, name="mtlembed-reader", daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


# str.lower changes no code point past U+1FFFF (planes 2 and up hold ideographs, tags and
# private use; tests/test_tokenizer.py checks it), so the map needs 0.03 s, not 0.3 s.
_CASED_END = 0x20000
# Capital sigma lowercases to final sigma at the end of a word, to sigma elsewhere: the one
# rule of str.lower that looks at neighbours. Blocks holding it go through decode().
_CAPITAL_SIGMA = 0x3A3


@functools.cache
def case_map():
    """The tokenizer's lowercase map: every non-ASCII character that str.lower changes."""
    chars = [chr(c) for c in range(0x80, _CASED_END) if not 0xD800 <= c < 0xE000]  # no surrogates
    lowered = "\0".join(chars).lower().split("\0")  # one call: about 0.1 us a character
    changed = [(ord(c), low.encode()) for c, low in zip(chars, lowered)
               if c != low and ord(c) != _CAPITAL_SIGMA]
    ends, end = [], 0
    for _, form in changed:
        end += len(form)
        ends.append(end)
    return backend.core().CaseMap([c for c, _ in changed], b"".join(form for _, form in changed), ends,
                                  [_CAPITAL_SIGMA])
