"""Reading and writing word vectors in the word2vec formats.

The word2vec formats, as written by word2vec's C tool and read by gensim's
``KeyedVectors.load_word2vec_format``:

* a header line ``"<count> <dim>\\n"``;
* text: one row per word, ``word v1 v2 ... vdim\\n`` (single spaces);
* binary: ``word<space>`` then ``dim`` little-endian float32, then ``\\n``.

Loading is vectorized: rows are located with numpy on the raw bytes and the
numbers of a whole block of rows are converted in one call, never one Python
``float()`` per value. Every output goes through atomic.py's :func:`atomic_write`
or :func:`atomic_group`, so a crash or Ctrl-C never leaves half a file where the
old one was. Writing streams blocks of rows, so it takes bounded memory.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import os
import re
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np

from mtlembed.atomic import (
    AtomicGroup,
    atomic_group,
    atomic_write,
    check_output_path,
    exclusive_temporary,
    remove_stale_temporaries,
)
from mtlembed.corpus import HEADER_BYTES, compression_of, open_regular
from mtlembed.errors import ConfigError, FormatError
from mtlembed.subwords import SubwordVectors

# The safe-writing primitives live in atomic.py and are used through this module too.
__all__ = ["AtomicGroup", "atomic_group", "atomic_write", "check_output_path", "exclusive_temporary",
           "load_word2vec", "remove_stale_temporaries", "read_vectors", "save_word2vec",
           "vectors_format", "vectors_suffix"]

_DECOMPRESS = {"gzip": gzip.decompress, "bz2": bz2.decompress, "xz": lzma.decompress}
_ROWS_PER_BLOCK = 4096  # text rows converted per np.fromstring call (bounds the temporary copies)
_EXPORT_VALUES = 1 << 17  # values formatted at a time when writing: bounds the export's memory at any dim
VECTOR_SUFFIXES = {".bin": True, ".txt": False, ".vec": False}  # name -> binary; each may end in .gz
# What separates fields in both formats (and all the tokenizer splits on): ASCII whitespace.
# Unicode spaces (U+00A0, U+3000) and controls (\x1c) can be inside a trained word.
_WHITESPACE = re.compile(r"[ \t\n\r\v\f]")
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_CONTROL_NOT_LINE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # no text holds these, line ends aside
_DIGITS = 8  # significant digits written in text files: relative error <= 5e-8, under float32's own
_POW10_ZERO = 64  # _POW10[i + _POW10_ZERO] == 10.0**i; a table is much faster than np.power
_POW10 = 10.0 ** np.arange(-_POW10_ZERO, _POW10_ZERO + 1)


# ----------------------------------------------------------------------------- saving


def vectors_suffix(path) -> tuple[str | None, bool]:
    """(suffix, gzip) of a file named `path`: its suffix of VECTOR_SUFFIXES before an optional
    ``.gz`` (None if it has none), and whether it ends with ``.gz``."""
    name = os.fspath(path)
    compressed = name.endswith(".gz")
    stem = name[:-3] if compressed else name
    return next((suffix for suffix in VECTOR_SUFFIXES if stem.endswith(suffix)), None), compressed


def vectors_format(path) -> tuple[bool, bool]:
    """(binary, gzip) of a vectors file named `path`: ``.bin`` is word2vec binary, ``.txt``
    and ``.vec`` text, each optionally compressed as ``.gz``; any other name is refused."""
    suffix, compressed = vectors_suffix(path)
    if suffix is None:
        raise ConfigError(f"{os.fspath(path)}: a vectors file name must end with .bin (binary), .txt or .vec "
                          "(text), optionally followed by .gz")
    return VECTOR_SUFFIXES[suffix], compressed


def export_memory(dim: int) -> int:
    """Bytes that writing vectors of `dim` takes beside the matrix: one block of rows formatted
    (under 100 bytes a value as text, 16 as binary), whatever the number of rows."""
    return 100 * _rows_per_block(dim) * dim


def _rows_per_block(dim: int) -> int:
    return max(1, _EXPORT_VALUES // max(dim, 1))


def save_word2vec(path, words, vectors, binary=None, group: AtomicGroup | None = None) -> None:
    """Write vectors in word2vec format, in bounded memory (a block of rows at a time).

    Parameters
    ----------
    path : str or PathLike
        Output file, written atomically; gzip-compressed if it ends with ``.gz``.
    words : sequence of str
        One word per row; no whitespace, no duplicates.
    vectors : array_like, shape (len(words), dim)
        Finite values; written as float32.
    binary : bool or None
        Binary format if True, or if None and `path` ends with ``.bin`` (or ``.bin.gz``); else text.
    group : AtomicGroup or None
        Write within this group (renamed with the group's other files) instead of alone.
    """
    words = list(words)
    vectors = np.asarray(vectors)
    if vectors.ndim != 2:
        raise ConfigError(f"vectors must be a 2-D array, got shape {vectors.shape}")
    if len(words) != vectors.shape[0]:
        raise ConfigError(f"{len(words)} words but {vectors.shape[0]} vectors")
    _check_words(words)
    n, dim = vectors.shape
    step = _rows_per_block(dim)

    def float32_rows(start: int) -> np.ndarray:
        # Block by block: a float32 copy of the whole matrix (the trained one is a view
        # of the padded w_in) would be the run's largest temporary.
        with np.errstate(over="ignore"):  # a value beyond float32 becomes inf, refused below by name
            return np.ascontiguousarray(vectors[start : start + step], dtype="<f4")

    for start in range(0, n, step):
        bad = np.flatnonzero(~np.isfinite(float32_rows(start)).all(axis=1))
        if bad.size:
            row = start + int(bad[0])
            raise FormatError(f"vector of {words[row]!r} (row {row}) is not finite; refusing to write {path}")
    name = os.fspath(path)
    suffix, compressed = vectors_suffix(name)
    if binary is None:
        binary = suffix == ".bin"
    with contextlib.ExitStack() as stack:
        group = group or stack.enter_context(atomic_group())
        handle = stack.enter_context(group.write(path, "wb"))
        if compressed:  # the header names the final file, not the temporary
            handle = stack.enter_context(gzip.GzipFile(Path(name).name, "wb", 6, handle, mtime=0))
        handle.write(b"%d %d\n" % (n, dim))
        for start in range(0, n, step):
            block = float32_rows(start)
            keys = [w.encode("utf-8") for w in words[start : start + step]]
            rows = [r.tobytes() for r in block] if binary else _format_rows(block)
            handle.write(b"".join(k + b" " + r + b"\n" for k, r in zip(keys, rows)))


def _check_words(words) -> None:
    for i, w in enumerate(words):
        if not isinstance(w, str):
            raise ConfigError(f"word {i} is not a str: {w!r}")
        if not w or _WHITESPACE.search(w):
            raise FormatError(
                f"word {i} ({w!r}) is empty or contains whitespace; word2vec files cannot hold it"
            )
    if len(set(words)) != len(words):
        seen = set()
        dup = next(w for w in words if w in seen or seen.add(w))
        raise FormatError(f"word {dup!r} appears more than once")


def _format_rows(block: np.ndarray) -> list:
    """Format float32 rows as text, all values at once (no Python loop per float).

    Each value becomes ``[-]d.ddddddde±XX`` with 8 significant digits, trailing
    zeros, a ``+`` sign and a zero exponent left out (``0.5`` -> ``5e-01``,
    ``1.25`` -> ``1.25``): short, and read back within 1.1e-7 relative error.
    Characters are laid out in a fixed-width byte grid in which 0 marks "no
    character"; removing the zeros gives the rows.
    """
    m, dim = block.shape
    x = block.astype(np.float64).ravel()
    ax = np.abs(x)
    nz = ax > 0
    exp = np.floor(np.log10(np.where(nz, ax, 1.0))).astype(np.int32)
    top = 10.0 ** (_DIGITS - 1)
    mant = np.rint(ax * _POW10[_DIGITS - 1 + _POW10_ZERO - exp])
    off = (mant >= 10 * top).astype(np.int32) - (nz & (mant < top))  # log10 was off by one
    if off.any():
        exp += off
        mant = np.rint(ax * _POW10[_DIGITS - 1 + _POW10_ZERO - exp])
    mant = mant.astype(np.int32)
    u8 = np.uint8
    zero, char0 = u8(0), u8(ord("0"))
    digits = np.empty((_DIGITS, x.size), u8)  # digits[0] is the most significant
    for k in range(_DIGITS - 1, -1, -1):
        q = mant // 10
        digits[k] = mant - 10 * q
        mant = q
    width = _DIGITS + 7  # sign, digits, '.', 'e', exponent sign, 2 exponent digits, separator
    grid = np.zeros((width, x.size), u8)  # one row per character position, transposed at the end
    grid[0] = np.where(x < 0, u8(ord("-")), zero)
    grid[1] = digits[0] + char0
    trailing = np.ones(x.size, bool)
    for k in range(_DIGITS - 1, 0, -1):  # drop trailing zeros of the fraction
        trailing &= digits[k] == 0
        grid[k + 2] = np.where(trailing, zero, digits[k] + char0)
    grid[2] = np.where(trailing, zero, u8(ord(".")))
    has_exp = exp != 0
    aexp = np.abs(exp).astype(u8)
    grid[_DIGITS + 2] = np.where(has_exp, u8(ord("e")), zero)
    grid[_DIGITS + 3] = np.where(has_exp, np.where(exp < 0, u8(ord("-")), u8(ord("+"))), zero)
    grid[_DIGITS + 4] = np.where(has_exp, aexp // 10 + char0, zero)
    grid[_DIGITS + 5] = np.where(has_exp, aexp % 10 + char0, zero)
    grid[_DIGITS + 6] = ord(" ")
    grid = np.ascontiguousarray(grid.T).reshape(m, dim * width)
    grid[:, -1] = ord("\n")
    flat = grid.ravel()
    return flat[flat != 0].tobytes().split(b"\n")[:m]


# ----------------------------------------------------------------------------- loading


def load_word2vec(path, binary=None, limit=None):
    """Load a word2vec text or binary file (plain, gzip, bzip2 or xz).

    Parameters
    ----------
    path : str or PathLike
        The file.
    binary : bool or None
        Format; None sniffs it from the first row.
    limit : int or None
        Read only the first `limit` rows (the most frequent words).

    Returns
    -------
    words : list of str
    vectors : numpy.ndarray of float32, shape (len(words), dim), C-contiguous

    Raises
    ------
    FormatError
        A malformed file; the message names ``file:line`` (text) or the byte
        offset (binary) and the offending value. NaN or infinite values are an
        error too. Duplicate words are not: the first is kept, with a warning.

    A fastText ``.bin`` model reads as its words' vectors (see :func:`read_vectors`).
    """
    return read_vectors(path, binary, limit)[:2]


class VectorsFile(NamedTuple):
    """What :func:`read_vectors` found: counts and subwords come only with a fastText model."""

    words: list[str]
    vectors: np.ndarray
    counts: np.ndarray | None
    subwords: SubwordVectors | None


def read_vectors(path, binary=None, limit=None) -> VectorsFile:
    """The one choice of reader for a vectors file: a fastText ``.bin`` model (by its magic number)
    gives its words' vectors (composed from their n-grams), counts and subwords (any word's
    vector); anything else is read as word2vec (:func:`load_word2vec`'s parameters and errors)."""
    path = Path(os.fspath(path))
    from .fasttext_format import is_fasttext, load_vectors

    if is_fasttext(path):
        loaded = load_vectors(path, limit)
        return VectorsFile(loaded.words, loaded.vectors, loaded.counts, loaded.subwords)
    return VectorsFile(*_read_word2vec(path, binary, limit), None, None)


def _read_word2vec(path: Path, binary, limit) -> tuple[list[str], np.ndarray]:
    data = _read_all(path)
    if not data or data.isspace():  # isspace() stops at the first byte that is not (strip() would copy)
        raise FormatError(f"{path}: empty file, expected a word2vec header '<count> <dim>'")
    nl = data.find(b"\n")
    header = data[: nl if nl >= 0 else len(data)]
    try:
        count, dim = (int(v) for v in header.split())
        if count < 0 or dim <= 0:
            raise ValueError
    except ValueError:
        raise FormatError(f"{path}:1: header must be '<count> <dim>', got {_show(header)}") from None
    if limit is not None:
        if limit < 0:
            raise ConfigError(f"limit must be >= 0, got {limit}")
        count = min(count, limit)
    body = data[nl + 1 :] if nl >= 0 else b""
    if binary is None:
        binary = _looks_binary(body, dim)
    if binary:
        words, vectors = _parse_binary(path, body, count, dim, nl + 1, check_end=limit is None)
    else:
        words, vectors = _parse_text(path, body, count, dim, check_end=limit is None)
    return _drop_duplicates(path, words, vectors)


def read_bytes(path, what: str) -> bytes:
    """The whole file; a missing or unreadable one is a ConfigError that names it as a `what` file."""
    path = Path(os.fspath(path))
    if path.is_dir():
        raise ConfigError(f"{path} is a folder, expected a {what} file")
    try:
        with open_regular(path) as handle:  # not /dev/zero or a FIFO: no endless read, no hang
            return handle.read()
    except FileNotFoundError:
        raise ConfigError(f"{what} file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} file {path}: {exc.strerror}") from None


def read_text(path, what: str, error: type[Exception] = FormatError) -> str:
    """A UTF-8 text file (a BOM is dropped) as read_bytes reads it; invalid UTF-8 raises
    `error` with the line and the offending bytes."""
    raw = read_bytes(path, what)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise error(f"{path}:{line}: not valid UTF-8 (bytes {raw[exc.start : exc.start + 4]!r})") from None


def _read_all(path: Path) -> bytes:
    data = read_bytes(path, "vectors")
    kind = compression_of(data[:HEADER_BYTES])
    if kind == "plain":
        return data
    try:
        return _DECOMPRESS[kind](data)
    except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error) as exc:  # bz2: ValueError
        raise FormatError(f"{path}: corrupt or truncated compressed file ({exc})") from None


def _show(raw, limit=40) -> str:
    """A short printable form of an offending value for messages."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "backslashreplace")
    return repr(raw if len(raw) <= limit else raw[:limit] + "...")


def _looks_binary(body: bytes, dim: int) -> bool:
    """Text iff the first row is a word followed by printable numbers (however many: the
    text parser then names a wrong count), unless the row's bytes are a binary row's (below);
    raw float32 bytes are never all printable."""
    start = 0
    while start < len(body) and body[start] == 10:
        start += 1
    end = body.find(b"\n", start)
    line = body[start : end if end >= 0 else len(body)]
    parts = line.split(b" ", 1)
    if len(parts) < 2:
        return False  # not a vector row in either format; the text parser names the line
    values = parts[1].rstrip(b"\r")
    if not values.isascii() or _CONTROL.search(values):
        return True
    try:
        numbers = np.fromstring(values, dtype=np.float32, sep=" ").size
    except ValueError:
        # Printable but not all numbers: a text row with a bad value if it has the `dim` fields the
        # header announces (16+ raw float32 bytes are never all printable and split that way); the
        # text parser then names the value instead of the binary one reporting a phantom truncation.
        return not (dim >= 4 and len(values.split()) == dim)
    if numbers == 0:
        return True
    if numbers == dim:
        return False
    # Printable numbers, but not `dim` of them: a text row with a wrong count (the text parser names it),
    # or a binary row whose first float's bytes read as digits and a newline (b"5\n\xd7>" is 0.42). A
    # binary row's 4 * dim bytes hold control bytes no text has, and end at a newline or the file's end.
    begin = start + len(parts[0]) + 1
    row_end = begin + 4 * dim
    return (row_end <= len(body) and body[row_end:row_end + 1] in (b"", b"\n")
            and _CONTROL_NOT_LINE.search(body, begin, row_end) is not None)


def _parse_binary(path, body, count, dim, offset0, check_end):
    row_bytes = 4 * dim
    # A row takes at least row_bytes + 1 bytes: a header lying about count or dim must not
    # allocate terabytes before the rows run out (the loop below names the truncated row).
    out = bytearray(min(count, len(body) // (row_bytes + 1)) * row_bytes)
    words = []
    pos = 0
    newline_rows = None  # whether rows end with '\n' (word2vec and gensim write one)
    for i in range(count):
        while pos < len(body) and body[pos] == 10:
            pos += 1
        space = body.find(b" ", pos)  # no length cap: the corpus reader keeps tokens of megabytes
        if space < 0:
            raise FormatError(
                f"{path}: byte {offset0 + pos}: file truncated in row {i + 1} of {count}, no word found "
                f"(the header says {count} vectors of dim {dim})"
            )
        raw = body[pos:space]
        try:
            word = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FormatError(
                f"{path}: byte {offset0 + pos}: word of row {i + 1} is not valid UTF-8: {_show(raw)} "
                f"(is the header's dim {dim} right?)"
            ) from None
        end = space + 1 + row_bytes
        if end > len(body):
            raise FormatError(
                f"{path}: byte {offset0 + len(body)}: file truncated in row {i + 1} ({word!r}) of {count}"
            )
        out[i * row_bytes : (i + 1) * row_bytes] = body[space + 1 : end]
        ends_nl = end < len(body) and body[end] == 10
        if newline_rows is None:
            newline_rows = ends_nl
        elif newline_rows != ends_nl and (end < len(body) or i + 1 < count):
            raise FormatError(
                f"{path}: byte {offset0 + end}: row {i + 1} ({word!r}) does not end like the rows before it; "
                f"the header's dim {dim} or count {count} is wrong, or the file is corrupt"
            )
        words.append(word)
        pos = end
    if check_end and body[pos:].strip(b"\n"):
        raise FormatError(
            f"{path}: byte {offset0 + pos}: data after the {count} vectors the header announces "
            f"(header count or dim is wrong)"
        )
    vectors = np.frombuffer(out, dtype="<f4").reshape(count, dim).astype(np.float32)
    bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    if bad.size:
        raise FormatError(f"{path}: row {bad[0] + 1} ({words[bad[0]]!r}) holds a NaN or infinite value")
    return words, vectors


def _parse_text(path, body, count, dim, check_end):
    arr = np.frombuffer(body, dtype=np.uint8)
    nl = np.flatnonzero(arr == 10)
    starts = np.concatenate(([0], nl + 1))
    ends = np.concatenate((nl, [len(body)]))
    if body.endswith(b"\n"):  # final newline: no row after it
        starts, ends = starts[:-1], ends[:-1]
    if arr.size:  # an empty body has no line ends to look at
        ends = ends - ((arr[np.maximum(ends - 1, 0)] == 13) & (ends > starts))  # tolerate CRLF
    nonblank = ends > starts
    n_lines = len(starts)
    short = np.flatnonzero(~nonblank[:count])
    if n_lines < count or short.size:
        r = short[0] if short.size else n_lines
        if nonblank[r:].any():
            raise FormatError(f"{path}:{r + 2}: blank line among the vectors")
        raise FormatError(f"{path}:{r + 2}: file ends after {r} vectors, the header says {count}")
    if check_end and nonblank[count:].any():
        raise FormatError(f"{path}:{count + 2}: more vectors than the {count} the header announces")
    starts, ends = starts[:count].tolist(), ends[:count].tolist()
    words, first = [], []
    for i, (s, e) in enumerate(zip(starts, ends)):
        f = body.find(b" ", s, e)
        if f <= s:
            what = "an empty word" if f == s else "no values"
            raise FormatError(f"{path}:{i + 2}: row has {what}: {_show(body[s:e])}")
        # single spaces (and one trailing space, as word2vec.c writes) are the fast path
        n = body.count(b" ", f + 1, e) + 1 - (body[e - 1] == 32)
        if n != dim:
            n = len(body[f + 1 : e].split())
            if n != dim:
                raise FormatError(
                    f"{path}:{i + 2}: row of {_show(body[s:f])} has {n} values, the header says dim {dim}"
                )
        try:
            words.append(body[s:f].decode("utf-8"))
        except UnicodeDecodeError:
            raise FormatError(f"{path}:{i + 2}: word is not valid UTF-8: {_show(body[s:f])}") from None
        first.append(f)
    vectors = np.empty((count, dim), np.float32)
    blocks = range(0, count, _ROWS_PER_BLOCK)

    def convert(lo):
        hi = min(lo + _ROWS_PER_BLOCK, count)
        chunk = b" ".join([body[f + 1 : e] for f, e in zip(first[lo:hi], ends[lo:hi])])
        try:
            vectors[lo:hi] = np.fromstring(chunk, dtype=np.float32, sep=" ").reshape(hi - lo, dim)
        except ValueError:
            _raise_bad_number(path, body, starts, ends, first, lo, hi)

    workers = min(4, os.cpu_count() or 1, len(blocks))
    if workers > 1:  # np.fromstring releases the GIL part of the time
        with ThreadPoolExecutor(workers) as ex:
            list(ex.map(convert, blocks))
    else:
        for lo in blocks:
            convert(lo)
    bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    if bad.size:
        r = bad[0]
        value = body[first[r] + 1 : ends[r]].split()[int(np.flatnonzero(~np.isfinite(vectors[r]))[0])]
        raise FormatError(
            f"{path}:{r + 2}: value {_show(value)} of {words[r]!r} is NaN, infinite or too large"
        )
    return words, vectors


def _raise_bad_number(path, body, starts, ends, first, lo, hi):
    for r in range(lo, hi):
        for token in body[first[r] + 1 : ends[r]].split():
            try:
                np.fromstring(token, dtype=np.float32, sep=" ")
            except ValueError:
                word = body[starts[r] : first[r]]
                raise FormatError(
                    f"{path}:{r + 2}: value {_show(token)} of {_show(word)} is not a number"
                ) from None
    raise FormatError(f"{path}:{lo + 2}: unreadable numbers between lines {lo + 2} and {hi + 1}")


def _drop_duplicates(path, words, vectors):
    if len(set(words)) == len(words):
        return words, np.ascontiguousarray(vectors, dtype=np.float32)
    first = {}
    for i, w in enumerate(words):
        first.setdefault(w, i)
    keep = np.fromiter(sorted(first.values()), dtype=np.int64)
    dup = next(w for i, w in enumerate(words) if first[w] != i)
    warnings.warn(
        f"{path}: {len(words) - len(keep)} duplicate words (first: {dup!r}); kept the first row of each",
        stacklevel=3,
    )
    return [words[i] for i in keep], np.ascontiguousarray(vectors[keep], dtype=np.float32)
