"""Checkpoints: everything a run needs to continue exactly where it stopped.

One file, `DIR/checkpoint.npz`, written atomically (a temporary name, then a
rename): the vocabulary, the matrices, the config and tasks, the index of the
next chunk of the schedule and the caller's own notes (the CLI keeps its
output path there). The RNG needs no saving: each chunk seeds its own from
(seed, chunk id), so resuming at chunk K replays exactly what an
uninterrupted run would have done.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ConfigError, FormatError

FILE_NAME = "checkpoint.npz"
FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    config: dict
    tasks: list[dict]
    words: list[str]
    counts: np.ndarray
    languages: list[str]
    starts: np.ndarray
    w_in: np.ndarray
    w_out: list[np.ndarray]
    next_chunk: int
    total_chunks: int
    words_done: int
    notes: dict = field(default_factory=dict)
    parallel: list[dict] = field(default_factory=list)
    dictionaries: list[dict] = field(default_factory=list)


def save(directory: os.PathLike | str, state: Checkpoint) -> Path:
    from .io import atomic_write

    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot create checkpoint folder {directory}: {error.strerror}") from None
    meta = {"version": FORMAT_VERSION, "config": state.config, "tasks": state.tasks,
            "languages": state.languages, "next_chunk": state.next_chunk, "total_chunks": state.total_chunks,
            "words_done": state.words_done, "notes": state.notes, "parallel": state.parallel,
            "dictionaries": state.dictionaries}
    arrays = {"meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
              "words": np.frombuffer("\n".join(state.words).encode("utf-8"), dtype=np.uint8),
              "counts": state.counts, "starts": state.starts, "w_in": state.w_in}
    arrays.update({f"w_out_{i}": head for i, head in enumerate(state.w_out)})
    path = directory / FILE_NAME
    with atomic_write(path, "wb") as handle:
        np.savez(handle, **arrays)
    return path


def load(directory: os.PathLike | str) -> Checkpoint:
    from .io import remove_stale_temporaries

    path = Path(directory) / FILE_NAME
    if not path.is_file():
        raise ConfigError(f"{directory}: no checkpoint here (expected {path})")
    remove_stale_temporaries(path)  # a run killed (kill -9) while saving left its half-written one
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode("utf-8"))
            if meta.get("version") != FORMAT_VERSION:
                raise FormatError(f"{path}: checkpoint format {meta.get('version')} is not supported")
            heads = sorted(k for k in data.files if k.startswith("w_out_"))
            words = bytes(data["words"]).decode("utf-8").split("\n") if data["words"].size else []
            return Checkpoint(config=meta["config"], tasks=meta["tasks"], words=words, counts=data["counts"],
                              languages=meta["languages"], starts=data["starts"], w_in=data["w_in"],
                              w_out=[data[k] for k in sorted(heads, key=lambda k: int(k.split("_")[-1]))],
                              next_chunk=int(meta["next_chunk"]), total_chunks=int(meta["total_chunks"]),
                              words_done=int(meta["words_done"]), notes=meta.get("notes", {}),
                              parallel=meta.get("parallel", []), dictionaries=meta.get("dictionaries", []))
    except (OSError, ValueError, KeyError, EOFError) as error:
        if isinstance(error, FormatError):
            raise
        raise FormatError(f"{path}: unreadable or damaged checkpoint ({error})") from None


@dataclass(frozen=True)
class Interval:
    """How often to checkpoint: every `seconds` of training or every `words` words."""

    seconds: float | None = None
    words: int | None = None


_INTERVAL = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(s|m|h|w|kw|Mw|Gw)\s*$")
_SCALE = {"s": 1, "m": 60, "h": 3600, "w": 1, "kw": 10**3, "Mw": 10**6, "Gw": 10**9}


def parse_interval(text: str) -> Interval:
    """'30s', '10m', '1h' (time) or '500000w', '50Mw' (words)."""
    match = _INTERVAL.match(str(text))
    if not match or float(match.group(1)) <= 0:
        raise ConfigError("checkpoint interval must look like 30s, 10m, 1h (time) or 5000000w, 50Mw "
                          f"(words); got {text!r}")
    value, unit = float(match.group(1)) * _SCALE[match.group(2)], match.group(2)
    return Interval(seconds=value) if unit in ("s", "m", "h") else Interval(words=int(value))
