"""Checkpoints: everything a run needs to continue exactly where it stopped.

One file, `DIR/checkpoint.npz`, written atomically (a temporary name, then a
rename): the vocabulary, the matrices, the config and tasks, the index of the
next chunk of the schedule and the caller's own notes (the CLI keeps its
output paths there). The RNG needs no saving: each chunk seeds its own from
(seed, chunk id), so resuming at chunk K replays exactly what an
uninterrupted run would have done.

A checkpoint is data, never trusted: `load` checks every key and type of its
metadata (the config and specs with their own schema), the counters and the
arrays' shapes, and any damage is one FormatError naming the file. Every path
is saved absolute, so a resume reads and writes the same files from any folder.

A finished run's checkpoint is replaced by a small record of it (`finish`):
the metadata alone, `finished` true, so that `--resume` says the run is done
instead of training its last segment again, and the matrices' disk is freed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import TrainConfig, from_mapping
from .errors import ConfigError, FormatError
from .tasks import DictionarySpec, ParallelSpec, TaskSpec

FILE_NAME = "checkpoint.npz"
FORMAT_VERSION = 1

# The notes the CLI keeps (key -> allowed types); `output` and `report` are paths.
NOTES = {"output": (str, type(None)), "report": (str, type(None)), "checkpoint_every": (str, type(None)),
         "per_language": (bool, type(None)), "binary": (bool, type(None)), "fasttext_out": (str, type(None)),
         "eval_history": (list,)}  # the trainer's: eval_every's points so far (dev_eval.Milestones)
PATH_NOTES = ("output", "report", "fasttext_out")
MAX_METADATA = 1 << 24  # bytes: a run's metadata is a few kB
_COUNTERS = ("next_chunk", "total_chunks", "words_done")
_META_KEYS = ("version", "config", "tasks", "parallel", "dictionaries", "languages", *_COUNTERS, "notes")

# What reading a damaged file raises, from the zip layer (a truncated archive, a bad
# CRC), the .npy layer (a bad header) or JSON (bad text, absurd nesting).
_DAMAGE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error, struct.error,
           NotImplementedError, OverflowError, RecursionError)


@dataclass
class Checkpoint:
    config: TrainConfig
    tasks: list[TaskSpec]
    parallel: list[ParallelSpec]
    dictionaries: list[DictionarySpec]
    languages: list[str]
    next_chunk: int
    total_chunks: int
    words_done: int
    notes: dict = field(default_factory=dict)
    finished: bool = False    # a finished run's record: no vocabulary, no matrices
    words: list[str] = field(default_factory=list)
    counts: np.ndarray | None = None
    starts: np.ndarray | None = None
    w_in: np.ndarray | None = None
    w_out: list[np.ndarray] = field(default_factory=list)
    path: Path | None = None  # where it was loaded from
    # A distributed run's: world_size, round (meetings done), rounds, and each rank's
    # positions [next_chunk, total_chunks, words_done] (the counters above are rank 0's).
    ranks: dict = field(default_factory=dict)


def save(directory: os.PathLike | str, state: Checkpoint) -> Path:
    """Writes `state` to DIR/checkpoint.npz atomically; returns the file's absolute path."""
    arrays = {"words": np.frombuffer("\n".join(state.words).encode("utf-8"), dtype=np.uint8),
              "counts": state.counts, "starts": state.starts, "w_in": state.w_in}
    arrays.update({f"w_out_{i}": head for i, head in enumerate(state.w_out)})
    return _write(directory, _metadata(state), arrays)


def finish(directory: os.PathLike | str, state: Checkpoint) -> Path:
    """Replaces the checkpoint in `directory` by the record of a finished run (metadata only)."""
    return _write(directory, {**_metadata(state), "finished": True}, {})


def _write(directory: os.PathLike | str, meta: dict, arrays: dict) -> Path:
    from .io import atomic_write

    directory = Path(os.path.abspath(directory))
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot create checkpoint folder {directory}: {error.strerror}") from None
    path = directory / FILE_NAME
    with atomic_write(path, "wb") as handle:
        np.savez(handle, meta=np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8), **arrays)
    return path


def _absolute(value: Any) -> Any:
    """A path, or each of a list of paths, made absolute (None stays None)."""
    if isinstance(value, (list, tuple)):
        return [os.path.abspath(v) for v in value]
    return None if value is None else os.path.abspath(value)


def spec_table(spec) -> dict:
    """A spec as a JSON table, its path fields absolute."""
    return {f.name: _absolute(getattr(spec, f.name)) if f.metadata.get("path") else getattr(spec, f.name)
            for f in dataclasses.fields(spec)}


def _metadata(state: Checkpoint) -> dict:
    config = spec_table(state.config)  # every path (cache_dir, init, vocab, the dev sets) absolute
    notes = {key: _absolute(value) if key in PATH_NOTES else value for key, value in state.notes.items()}
    return {"version": FORMAT_VERSION, "config": config, "tasks": [spec_table(t) for t in state.tasks],
            "parallel": [spec_table(p) for p in state.parallel],
            "dictionaries": [spec_table(d) for d in state.dictionaries], "languages": state.languages,
            "next_chunk": state.next_chunk, "total_chunks": state.total_chunks,
            "words_done": state.words_done, "notes": notes, **({"ranks": state.ranks} if state.ranks else {})}


def load(directory: os.PathLike | str) -> Checkpoint:
    """The checkpoint in `directory`, checked: ConfigError if there is none, FormatError if it
    is damaged or malformed."""
    from .io import remove_stale_temporaries

    path = Path(directory) / FILE_NAME
    # First, a run killed (kill -9) while saving left its half-written temporary: remove it.
    removed = remove_stale_temporaries(path)
    if not path.is_file():
        if removed:
            raise ConfigError(f"{directory}: no checkpoint here: the run was killed while it wrote its "
                              f"first checkpoint (its unfinished {removed[0].name} was removed); start the "
                              "run again")
        raise ConfigError(f"{directory}: no checkpoint here (expected {path})")
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise FormatError(f"{path}: not a checkpoint (not an .npz archive)")
        with archive:
            if archive.zip.getinfo("meta.npy").file_size > MAX_METADATA:  # a crafted one: not read whole
                raise _malformed(path, "its metadata is too large")
            state = _from_metadata(json.loads(_text(archive, "meta")), path)
            if not state.finished:
                _read_arrays(archive, state, path)
        return state
    except FormatError:
        raise
    except _DAMAGE as error:
        raise FormatError(f"{path}: unreadable or damaged checkpoint ({type(error).__name__}: "
                          f"{error})") from None


def _text(archive, key: str) -> str:
    array = archive[key]
    if array.dtype != np.uint8 or array.ndim != 1:
        raise ValueError(f"'{key}' is not text")
    return bytes(array).decode("utf-8")


def _malformed(path: Path, message: str) -> FormatError:
    return FormatError(f"{path}: malformed checkpoint: {message}")


def _from_metadata(meta: Any, path: Path) -> Checkpoint:
    """The metadata checked key by key, type by type."""
    if not isinstance(meta, dict):
        raise _malformed(path, f"the metadata is a {type(meta).__name__}, not a table")
    if meta.get("version") != FORMAT_VERSION or isinstance(meta.get("version"), bool):
        raise FormatError(f"{path}: checkpoint format {meta.get('version')!r} is not supported "
                          f"(this mtlembed reads format {FORMAT_VERSION})")
    unknown = sorted(set(meta) - {*_META_KEYS, "finished", "ranks"})
    missing = [key for key in _META_KEYS if key not in meta]
    if unknown or missing:
        raise _malformed(path, f"unknown keys {unknown}" if unknown else f"missing keys {missing}")
    try:
        saved = meta["config"]
        config = from_mapping({**CONFIG_AS_BEFORE, **saved} if isinstance(saved, dict) else saved)
        tasks = _specs(TaskSpec, meta["tasks"], "tasks")
        parallel = _specs(ParallelSpec, meta["parallel"], "parallel")
        dictionaries = _specs(DictionarySpec, meta["dictionaries"], "dictionaries")
    except ConfigError as error:
        raise _malformed(path, str(error)) from None
    if not tasks:
        raise _malformed(path, "no tasks")
    languages = meta["languages"]
    if (not isinstance(languages, list) or not languages or not all(isinstance(x, str) for x in languages)
            or len(set(languages)) != len(languages)):
        raise _malformed(path, f"languages must be a list of distinct names, got {languages!r}")
    for key in _COUNTERS:
        if type(meta[key]) is not int or meta[key] < 0:
            raise _malformed(path, f"{key} must be a whole number >= 0, got {meta[key]!r}")
    if meta["next_chunk"] > meta["total_chunks"]:
        raise _malformed(path, f"next_chunk {meta['next_chunk']} is past total_chunks {meta['total_chunks']}")
    notes = meta["notes"]
    if not isinstance(notes, dict):
        raise _malformed(path, f"notes must be a table, got {notes!r}")
    for key, value in notes.items():
        if key not in NOTES or not isinstance(value, NOTES[key]):
            raise _malformed(path, f"unknown or mistyped note {key!r}: {value!r}")
    finished = meta.get("finished", False)
    if not isinstance(finished, bool):
        raise _malformed(path, f"finished must be true or false, got {finished!r}")
    return Checkpoint(config=config, tasks=tasks, parallel=parallel, dictionaries=dictionaries,
                      languages=languages, next_chunk=meta["next_chunk"], total_chunks=meta["total_chunks"],
                      words_done=meta["words_done"], notes=notes, finished=finished, path=path,
                      ranks=_ranks(meta.get("ranks", {}), path))


def _ranks(ranks: Any, path: Path) -> dict:
    """A distributed run's record, checked: {} for one process's run."""
    if ranks == {}:
        return ranks

    def whole(value: Any) -> bool:
        return type(value) is int and value >= 0

    keys = ("world_size", "round", "rounds", "positions")
    if (not isinstance(ranks, dict) or sorted(ranks) != sorted(keys)
            or not all(whole(ranks[k]) for k in keys[:3])):
        raise _malformed(path, f"ranks must be a table of whole numbers {', '.join(keys[:3])} and positions, "
                               f"got {ranks!r}")
    positions = ranks["positions"]
    if (ranks["world_size"] < 2 or ranks["round"] > ranks["rounds"] or not isinstance(positions, list)
            or len(positions) != ranks["world_size"]
            or not all(isinstance(p, list) and len(p) == 3 and all(map(whole, p)) for p in positions)):
        raise _malformed(path, f"ranks {ranks!r} do not describe the ranks of a run")
    return ranks


# Settings whose default changed what a run does when they were added: a checkpoint written before
# names none of them, and resumes as it was trained (skip-gram drew its negatives per center, chunks
# were read in corpus order).
CONFIG_AS_BEFORE = {"negatives": "center", "order": "corpus"}

# Spec fields newer than some checkpoints: absent, they take their default, which is what the version
# that wrote the checkpoint did (a task read as plain text, a dictionary read from its path).
SPEC_FIELDS_ADDED = frozenset({"jsonl_field", "induced_from"})


def _specs(schema, tables: Any, key: str) -> list:
    """Specs from their JSON tables: every field present (but those added since, SPEC_FIELDS_ADDED), no
    other key, each checked by the spec."""
    if not isinstance(tables, list):
        raise ConfigError(f"{key} must be a list of tables, got {tables!r}")
    names = {f.name for f in dataclasses.fields(schema)}
    specs = []
    for i, table in enumerate(tables):
        if not isinstance(table, dict) or not names - SPEC_FIELDS_ADDED <= set(table) <= names:
            raise ConfigError(f"{key}[{i}] must be a table of exactly {', '.join(sorted(names))}, "
                              f"got {table!r}")
        try:
            specs.append(schema(**table))
        except ConfigError as error:
            raise ConfigError(f"{key}[{i}]: {error}") from None
    return specs


def _read_arrays(archive, state: Checkpoint, path: Path) -> None:
    """The vocabulary and the matrices, their types and shapes checked against each other."""
    heads = sorted((k for k in archive.files if re.fullmatch(r"w_out_\d+", k)), key=lambda k: int(k[6:]))
    unknown = sorted(set(archive.files) - {"meta", "words", "counts", "starts", "w_in", *heads})
    if unknown or not heads or heads != [f"w_out_{i}" for i in range(len(heads))]:
        raise _malformed(path, f"unexpected arrays {unknown or archive.files}")
    text = _text(archive, "words")
    words = text.split("\n") if text else []
    counts, starts = archive["counts"], archive["starts"]
    for name, array, length in (("counts", counts, len(words)), ("starts", starts, len(state.languages) + 1)):
        if array.dtype.kind not in "iu" or array.shape != (length,):
            raise _malformed(path, f"{name} must be {length} integers, got {array.dtype} {array.shape}")
    if starts[0] != 0 or starts[-1] != len(words) or np.any(np.diff(starts) < 0):
        raise _malformed(path, "starts do not cut the vocabulary into languages")
    matrices = [archive["w_in"]] + [archive[k] for k in heads]
    # w_in holds the subword buckets after the words (the config's spec); the trainer checks the
    # columns and the number of heads against the config and tasks.
    buckets = state.config.buckets if state.config.subwords else 0
    for i, matrix in enumerate(matrices):
        rows = len(words) + (buckets if i == 0 else 0)
        if (matrix.dtype != np.float32 or matrix.ndim != 2 or matrix.shape[1:] != matrices[0].shape[1:]
                or matrix.shape[0] != rows):
            raise _malformed(path, f"a matrix of {matrix.dtype} {matrix.shape} where {len(words)} words"
                                   + (f" + {buckets} subword buckets" if i == 0 and buckets else "")
                                   + f" need {rows} rows")
    state.words, state.counts, state.starts = words, counts, starts
    state.w_in, state.w_out = matrices[0], matrices[1:]


# Bounds of a checkpoint interval: beyond them a run is never checkpointed before its end anyway.
MAX_SECONDS = 10**4 * 3600
MAX_WORDS = 10**15
_RANGE = f"more than 0s and at most {MAX_SECONDS // 3600}h of training, or 1w to {MAX_WORDS // 10**9}Gw"


@dataclass(frozen=True)
class Interval:
    """How often to checkpoint: every `seconds` of training or every `words` words."""

    seconds: float | None = None
    words: int | None = None

    def __post_init__(self) -> None:
        seconds_ok = self.seconds is None or (isinstance(self.seconds, (int, float)) and not isinstance(
            self.seconds, bool) and 0 < self.seconds <= MAX_SECONDS)  # NaN fails the comparison
        words_ok = self.words is None or (type(self.words) is int and 1 <= self.words <= MAX_WORDS)
        if (self.seconds is None) == (self.words is None) or not seconds_ok or not words_ok:
            raise ConfigError(f"checkpoint interval must be {_RANGE}; got {self}")


_INTERVAL = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(s|m|h|w|kw|Mw|Gw)\s*$")
_SCALE = {"s": 1, "m": 60, "h": 3600, "w": 1, "kw": 10**3, "Mw": 10**6, "Gw": 10**9}


def parse_interval(text: str) -> Interval:
    """'30s', '10m', '1h' (time) or '500000w', '50Mw' (words)."""
    match = _INTERVAL.match(str(text))
    if not match or float(match.group(1)) <= 0:
        raise ConfigError("checkpoint interval must look like 30s, 10m, 1h (time) or 5000000w, 50Mw "
                          f"(words); got {text!r}")
    value, unit = float(match.group(1)) * _SCALE[match.group(2)], match.group(2)
    try:
        if unit in ("s", "m", "h"):
            return Interval(seconds=value)
        return Interval(words=int(value) if value <= MAX_WORDS else MAX_WORDS + 1)  # int(inf) would raise
    except ConfigError:
        raise ConfigError(f"checkpoint interval {text!r} is out of range: it must be {_RANGE}") from None
