"""The corpus cache: an encoded corpus kept in files and trained from memory maps.

With `cache_dir` (--cache-dir DIR), what reading the corpus produces lives in DIR:

    manifest.json            what the files hold and what they were made from
    vocab.words              the words in id order, one per line (UTF-8)
    vocab.counts             their counts (int64)
    task<i>.tokens           task i's ids (int32) ...
    task<i>.offsets          ... and its sentence offsets (int64, from 0)
    parallel<j>.<k>.tokens   side k (0, 1) of parallel text j; and .offsets

(all numbers little-endian, as the machine writes them). The ids are written
while the corpus is read, a piece at a time, so a corpus larger than RAM never
has to fit in it. A later run whose corpus files (path, size, modification
time) and encoding settings match the manifest uses the files without reading
the corpus; any other run rebuilds them. The manifest is written last and
atomically, so files without a matching manifest are never used.

What is guaranteed against changes made outside mtlembed:

* Every load (the first run's too, right after building) checks the manifest
  against its SHA-256 checksum and its fields against each other (language
  starts, vocabulary size), and each file's type (regular), size and CRC-32,
  that every id lies in its own language's range and that sentence offsets
  start at 0, never decrease and end at the stream's length: a cache damaged
  or edited between runs is one clear error, never silent garbage.
* A cache taking at most 1/IN_RAM_SHARE of the available memory is copied
  into RAM as it is checked: what was checked is what is trained on, and
  truncating or rewriting its files during training cannot reach the run.
* A larger cache (the case it exists for: corpora larger than RAM) is trained
  on read-only memory maps of the files. Another mtlembed run never changes a
  cache file in place (a rebuild writes new files and renames them; a mapped
  old file lives on), so concurrent runs are safe. But a file truncated in
  place by another program during training makes the kernel's next read of
  a lost page fault (SIGBUS): no memory map can prevent it; and ids or offsets
  rewritten in place after the checks can make the kernel read outside its
  arrays. Do not edit a cache while a run uses it; delete the folder to
  rebuild it.

Temporaries get fresh names created with O_CREAT|O_EXCL|O_NOFOLLOW, so a
link planted in the folder is never followed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import re
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import corpus, growth
from . import vocab as vocab_module
from .encode import encode
from .encoded import Encoded, EncodedCorpus, FileSink, anonymous_array, map_file
from .errors import ConfigError, CorpusError, FormatError
from .io import atomic_write
from .resources import available_memory

FORMAT_VERSION = 2  # 2: the manifest carries its own checksum
MANIFEST = "manifest.json"
# The settings that change what reading a corpus produces (the others only change training).
ENCODING_KEYS = ("lowercase", "encoding_errors", "tokenizer", "min_count", "max_vocab", "max_sentence_length",
                 "max_distinct")
_FILE_NAME = re.compile(r"^(vocab\.(words|counts)|(task\d+|parallel\d+\.[01])\.(tokens|offsets))$")
_CHECK_ITEMS = 1 << 22  # ids checked per step when a cache is loaded
# A cache taking at most this share of the available memory is loaded into RAM, where no
# outside change to its files can reach training; a larger one is trained on memory-mapped.
IN_RAM_SHARE = 4


def corpus_key(task_specs: Sequence, parallel_specs: Sequence, config) -> dict:
    """What the cached files depend on: each corpus file's path, size and modification time
    (in task order), the languages, and the encoding settings."""

    def identity(patterns) -> list:
        files = []
        for path in corpus.expand_paths(patterns):
            try:
                status = os.stat(path)
            except OSError as error:
                raise CorpusError(f"{path}: cannot open ({error.strerror})") from None
            files.append([os.path.abspath(path), status.st_size, status.st_mtime_ns])
        return files

    return {"encoding": {key: getattr(config, key) for key in ENCODING_KEYS},
            "vocab": [identity([path]) for path in growth.vocabulary_files(config)],  # (vocab, freeze)
            "tasks": [{"lang": t.lang, "files": identity(t.paths),
                       "jsonl_field": t.jsonl_field or config.jsonl_field} for t in task_specs],
            "parallel": [{"langs": list(p.langs), "files": [identity([path]) for path in p.paths]}
                         for p in parallel_specs]}


def manifest_checksum(manifest: dict) -> str:
    """SHA-256 of the manifest's fields but its checksum, as canonical JSON: an edited field
    (the language `starts`, a size) is found at load, not trained on."""
    fields = {key: value for key, value in manifest.items() if key != "checksum"}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def load_or_build(directory, task_specs: Sequence, parallel_specs: Sequence, config) -> EncodedCorpus:
    """The corpus from the cache in `directory`, reading and caching it first if the cache
    is missing or stale (encode.encode reads it into files here)."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cache_dir {directory}: cannot create the folder ({error.strerror})") from None
    if not directory.is_dir():
        raise ConfigError(f"cache_dir {directory}: not a folder")
    key = corpus_key(task_specs, parallel_specs, config)
    with _locked(directory):  # one process builds at a time; others then find its cache
        manifest = _read_manifest(directory)
        if manifest is not None and manifest.get("format") == FORMAT_VERSION and manifest.get("key") == key:
            data = _load(directory, manifest, task_specs, parallel_specs)
            if data.stats.invalid_bytes:  # said again: the user may not have seen the run that built it
                warnings.warn(f"{data.stats.invalid_bytes} invalid UTF-8 bytes replaced by U+FFFD (first at "
                              f"{data.stats.first_invalid})", corpus.CorpusWarning, stacklevel=3)
            return data
        if not os.access(directory, os.W_OK | os.X_OK):
            raise ConfigError(f"cache_dir {directory}: folder is not writable")
        _remove(directory, manifest)
        # Trained on as loaded (checked, in RAM if small), not on the maps the build wrote through.
        return _load(directory, _build(directory, key, task_specs, parallel_specs, config), task_specs,
                     parallel_specs)


@contextlib.contextmanager
def _locked(directory: Path):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError as error:
        raise ConfigError(f"cache_dir {directory}: cannot open the folder ({error.strerror})") from None
    try:
        with contextlib.suppress(OSError):  # a file system without locks: go on unlocked
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _read_manifest(directory: Path):
    path = directory / MANIFEST
    try:
        with corpus.open_regular(path) as handle:  # a FIFO or device named like it is refused, not read
            text = handle.read().decode("utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise FormatError(f"{path}: unreadable corpus cache manifest ({error}); delete {directory} "
                          "to rebuild the cache") from None
    try:
        manifest = json.loads(text)
        if not isinstance(manifest, dict):
            raise ValueError("not a JSON object")
    except ValueError as error:
        raise FormatError(f"{path}: damaged corpus cache manifest ({error}); delete {directory} "
                          "to rebuild the cache") from None
    return manifest


def _remove(directory: Path, manifest) -> None:
    """Removes a stale cache: the manifest first, so no crash can leave it describing other files."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(directory / MANIFEST)
    names = [f["file"] for f in _listed_files(manifest)] if isinstance(manifest, dict) else []
    for name in names:
        if isinstance(name, str) and _FILE_NAME.match(name):  # never a path a damaged manifest made up
            with contextlib.suppress(FileNotFoundError):
                os.unlink(directory / name)


def _listed_files(manifest: dict) -> list[dict]:
    try:
        streams = list(manifest["streams"].values())
        return [manifest["vocab"]["words"], manifest["vocab"]["counts"]] + \
            [s[part] for s in streams for part in ("tokens", "offsets")]
    except (KeyError, TypeError, AttributeError):
        return []


def _stream_names(task_specs: Sequence, parallel_specs: Sequence) -> list[str]:
    return [f"task{i}" for i in range(len(task_specs))] + \
        [f"parallel{j}.{k}" for j in range(len(parallel_specs)) for k in (0, 1)]


def _build(directory: Path, key: dict, task_specs, parallel_specs, config) -> dict:
    """Reads the corpus into the cache's files and returns the manifest written last."""
    names = iter(_stream_names(task_specs, parallel_specs))  # encode() makes its sinks in this order
    sinks: dict[str, FileSink] = {}

    def new_sink(keep_empty: bool) -> FileSink:
        name = next(names)
        sinks[name] = FileSink(directory / f"{name}.tokens", directory / f"{name}.offsets", keep_empty)
        return sinks[name]

    try:
        data = encode(task_specs, config, parallel_specs, new_sink)
    except BaseException:
        for sink in sinks.values():
            sink.discard()
        raise
    words = "\n".join(data.vocab.words).encode("utf-8")
    counts = np.ascontiguousarray(data.vocab.counts, dtype=np.int64)
    files = {}
    for name, content in (("vocab.words", words), ("vocab.counts", counts)):
        with atomic_write(directory / name, "wb") as handle:
            handle.write(memoryview(content).cast("B"))
        files[name] = {"file": name, "items": len(content), "crc32": zlib.crc32(content)}
    streams = {}
    for name, sink in sinks.items():
        streams[name] = {part: {"file": path.name, "items": items, "crc32": crc}
                         for part, path, items, crc in zip(("tokens", "offsets"), sink.paths,
                                                           (sink.tokens, sink.sentences + 1), sink.crc32)}
    manifest = {"format": FORMAT_VERSION, "key": key, "words_read": data.words_read,
                "stats": dataclasses.asdict(data.stats), "languages": data.vocab.languages,
                "starts": [int(s) for s in data.vocab.starts], "vocab_size": len(data.vocab),
                "vocab": {"words": files["vocab.words"], "counts": files["vocab.counts"]}, "streams": streams}
    manifest["checksum"] = manifest_checksum(manifest)
    with atomic_write(directory / MANIFEST, "w") as handle:
        json.dump(manifest, handle, indent=1)
    return manifest


def _damaged(directory: Path, name: str, what: str) -> FormatError:
    return FormatError(f"{directory / name}: damaged corpus cache ({what}); delete {directory} to rebuild it")


def _checked(directory: Path, entry: dict, dtype, ids: tuple[int, int, str] | None = None,
             offsets: bool = False, in_ram: bool = False) -> np.ndarray:
    """A cache file, after checking its size and checksum, and with `ids` = (low, high,
    language) that every id is in low..high-1, with `offsets` that they start at 0 and never
    decrease (block by block: a file may be larger than RAM). The array is a read-only
    memory map of the file or, `in_ram`, a copy in memory, made as it is checked: then what
    was checked is what is trained on, whatever happens to the file afterwards."""
    name, items = entry["file"], int(entry["items"])
    if not isinstance(name, str) or not _FILE_NAME.match(name):
        raise _damaged(directory, MANIFEST, f"bad file name {name!r}")
    expected = items * np.dtype(dtype).itemsize
    try:
        with corpus.open_regular(directory / name) as handle:
            size = os.fstat(handle.fileno()).st_size
            if size != expected:
                raise _damaged(directory, name, f"{size} bytes, expected {expected}")
            mapped = map_file(handle, dtype, items)
    except (OSError, ValueError) as error:
        if isinstance(error, FormatError):
            raise
        raise _damaged(directory, name, getattr(error, "strerror", None) or str(error)) from None
    array = anonymous_array(items, dtype) if in_ram else mapped
    crc, last = 0, 0
    for start in range(0, items, _CHECK_ITEMS):
        block = mapped[start:start + _CHECK_ITEMS]
        if in_ram:
            array[start:start + len(block)] = block
            block = array[start:start + len(block)]
        crc = zlib.crc32(block, crc)
        if ids and len(block) and (block.min() < ids[0] or block.max() >= ids[1]):
            raise _damaged(directory, name, f"an id outside the vocabulary of language '{ids[2]}' "
                           f"(ids {ids[0]}..{ids[1] - 1})")
        if offsets and (block[0] < last or (start == 0 and block[0] != 0) or np.any(block[1:] < block[:-1])):
            raise _damaged(directory, name, "sentence offsets out of order")
        last = block[-1] if offsets else 0
    if crc != entry["crc32"]:
        raise _damaged(directory, name, "checksum mismatch")
    return array


def _fits_in_ram(manifest: dict) -> bool:
    """Whether the cached streams take at most 1/IN_RAM_SHARE of the memory available."""
    available = available_memory()
    streams = manifest["streams"].values()
    size = sum(int(s["tokens"]["items"]) * 4 + int(s["offsets"]["items"]) * 8 for s in streams)
    return available is not None and size * IN_RAM_SHARE <= available


def _check_fields(directory: Path, manifest: dict) -> tuple[int, list[str], list[int]]:
    """The vocabulary size, languages and language starts, after checking them against each
    other and the manifest against its checksum (the kernel indexes with them)."""
    if manifest.get("checksum") != manifest_checksum(manifest):
        raise _damaged(directory, MANIFEST, "checksum mismatch: edited since the cache was built")
    size, languages, starts = manifest["vocab_size"], manifest["languages"], manifest["starts"]
    if not (_whole(size) and isinstance(languages, list) and languages
            and all(isinstance(lang, str) for lang in languages) and len(set(languages)) == len(languages)):
        raise _damaged(directory, MANIFEST, f"vocab_size {size!r}, languages {languages!r}")
    if not (isinstance(starts, list) and len(starts) == len(languages) + 1 and all(map(_whole, starts))
            and starts[0] == 0 and starts[-1] == size and all(a <= b for a, b in zip(starts, starts[1:]))):
        raise _damaged(directory, MANIFEST, f"starts {starts!r} do not cut 0..{size} into {len(languages)} "
                       "languages")
    if not _whole(manifest["words_read"]):
        raise _damaged(directory, MANIFEST, f"words_read {manifest['words_read']!r}")
    return size, languages, starts


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _load(directory: Path, manifest: dict, task_specs: Sequence, parallel_specs: Sequence) -> EncodedCorpus:
    try:
        size, languages, starts = _check_fields(directory, manifest)
        vocab_entries = manifest["vocab"]
        words_blob = bytes(_checked(directory, vocab_entries["words"], np.uint8))
        counts = np.array(_checked(directory, vocab_entries["counts"], np.int64))
        words = words_blob.decode("utf-8").split("\n") if size else []
        if len(words) != size or len(counts) != size:
            raise _damaged(directory, "vocab.words", f"{len(words)} words and {len(counts)} counts, "
                           f"expected {size}")
        vocab = vocab_module.Vocabulary(words, counts, list(languages), np.array(starts, dtype=np.int64))
        in_ram = _fits_in_ram(manifest)
        stream_langs = [t.lang for t in task_specs] + [lang for p in parallel_specs for lang in p.langs]
        encoded = {}
        for name, lang in zip(_stream_names(task_specs, parallel_specs), stream_langs):
            entry = manifest["streams"][name]
            low, high = vocab.range_of(lang)  # the key matched: every stream's language is in the manifest
            tokens = _checked(directory, entry["tokens"], np.int32, ids=(low, high, lang), in_ram=in_ram)
            offsets = _checked(directory, entry["offsets"], np.int64, offsets=True, in_ram=in_ram)
            if len(offsets) == 0 or offsets[-1] != len(tokens):
                raise _damaged(directory, entry["offsets"]["file"], f"offsets do not end at {len(tokens)}")
            encoded[name] = Encoded(tokens, offsets)
        streams = [encoded[f"task{i}"] for i in range(len(task_specs))]
        parallel = [(encoded[f"parallel{j}.0"], encoded[f"parallel{j}.1"])
                    for j in range(len(parallel_specs))]
        for j, (first, second) in enumerate(parallel):  # line i of one side is line i of the other
            if len(first.offsets) != len(second.offsets):
                raise _damaged(directory, f"parallel{j}.1.offsets", f"{len(second.offsets) - 1} lines, the "
                               f"other side has {len(first.offsets) - 1}")
        stats = corpus.ReadStats(**manifest["stats"])
        words_read = manifest["words_read"]
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as error:
        if isinstance(error, FormatError):
            raise
        raise _damaged(directory, MANIFEST, f"{type(error).__name__}: {error}") from None
    return EncodedCorpus(vocab, list(task_specs), streams, words_read, stats, parallel)
