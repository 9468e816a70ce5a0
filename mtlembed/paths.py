"""Where a run reads and writes, checked before anything is read.

The rules, checked by :func:`check_run` on resolved paths (symbolic links followed,
hard links found by device and inode):

* every output can be written: a file output's folder exists and is writable, and
  it is not a folder; a folder output (checkpoints, cache) is a writable folder, or
  can be created under one; vectors end in .bin/.txt/.vec (optionally .gz), a report
  in .json or .html;
* no output is an input: not a corpus file (nor any file a corpus glob matches, now
  or when the output exists), not inside a corpus folder, not a parallel, dictionary
  or config file; a folder output holds no input, and is not inside a corpus folder;
* no output is another output, and no output is inside an output folder.

A run that breaks one stops with one ConfigError naming both paths, before the
corpus is read and before any training: nothing the user owns is overwritten.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from . import corpus, io
from .errors import ConfigError


@dataclass(frozen=True)
class _Place:
    """One path of the run: what it is (for messages), and whether it is a folder."""

    what: str
    path: str
    folder: bool = False

    @cached_property
    def real(self) -> str:
        return os.path.realpath(self.path)

    @cached_property
    def inode(self) -> tuple[int, int] | None:
        try:
            status = os.stat(self.path)
        except OSError:
            return None
        return status.st_dev, status.st_ino

    def __str__(self) -> str:
        return f"{self.what} {self.path}"


def check_run(*, vectors: Sequence[str | os.PathLike] = (), report: str | os.PathLike | None = None,
              checkpoint_dir: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
              tasks: Sequence = (), parallel: Sequence = (), dictionaries: Sequence = (),
              config_file: str | os.PathLike | None = None,
              eval_files: Sequence[str | os.PathLike] = (), files: Sequence[str | os.PathLike] = ()) -> None:
    """Checks a run's outputs against the rules of this module; raises ConfigError.

    `vectors` are the vector files (one, or one per language), `tasks`, `parallel`
    and `dictionaries` the run's specs (TaskSpec, ParallelSpec, DictionarySpec),
    `config_file` the job file, `eval_files` what the run evaluates on, `files` other outputs (any
    name). A corpus that cannot be found is a CorpusError.
    """
    outputs = [_Place("the output", os.fspath(path)) for path in vectors]
    outputs.extend(_Place("the output file", os.fspath(path)) for path in files)  # any name (a dictionary)
    if report is not None:
        outputs.append(_Place("the report", os.fspath(report)))
    for what, folder in (("the checkpoint folder", checkpoint_dir), ("the cache folder", cache_dir)):
        if folder is not None:
            outputs.append(_Place(what, os.fspath(folder), folder=True))
    for place in outputs:
        _check_writable(place)
    inputs, patterns = _inputs(tasks, parallel, dictionaries)
    if config_file is not None:
        inputs.append(_Place("the config file", os.fspath(config_file)))
    inputs.extend(_Place("the evaluation file", os.fspath(path)) for path in eval_files)
    for i, output in enumerate(outputs):
        for other in outputs[:i]:
            _check_apart(output, other, "is also")
        for place in inputs:
            _check_apart(output, place, "would overwrite")
        for pattern in patterns:
            if not output.folder and _matches(output.path, pattern.path):
                raise ConfigError(f"{output} matches {pattern}: the next run would read it as corpus; "
                                  "write it elsewhere")


def _check_writable(place: _Place) -> None:
    if place.folder:
        _check_folder_output(place)
        return
    io.check_output_path(place.path)
    if place.what == "the report":
        if not place.path.endswith((".json", ".html")):
            raise ConfigError(f"{place}: a report name must end with .json (the data) or .html (a page)")
    elif place.what == "the output":
        io.vectors_format(place.path)


def _check_folder_output(place: _Place) -> None:
    """A folder we write into: an existing writable folder, or one we can create (its
    nearest existing ancestor is a writable folder)."""
    path = Path(place.path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{place} is a file, expected a folder")
    existing = path
    while not existing.exists():
        if existing.is_symlink():
            raise ConfigError(f"{place}: {existing} is a broken symbolic link")
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"cannot create {place}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write {place}: folder {existing} is not writable")


def _inputs(tasks, parallel, dictionaries) -> tuple[list[_Place], list[_Place]]:
    """The run's input files and corpus folders, and its corpus glob patterns."""
    inputs, patterns = [], []
    for task in tasks:
        for pattern in task.paths:
            text = os.fspath(pattern)
            if os.path.isdir(text):
                inputs.append(_Place("the corpus folder", text, folder=True))
            elif corpus.is_pattern(text):
                patterns.append(_Place("the corpus pattern", text))
            inputs.extend(_Place("the corpus file", os.fspath(p)) for p in corpus.expand_paths([text]))
    for spec in parallel:
        inputs.extend(_Place("the parallel file", os.fspath(p)) for p in spec.paths)
    inputs.extend(_Place("the dictionary file", os.fspath(spec.path)) for spec in dictionaries
                  if spec.path is not None)  # an induced dictionary has no file
    return inputs, patterns


def _check_apart(output: _Place, other: _Place, verb: str) -> None:
    """Refuses two places that are the same file or folder, or one inside the other's folder."""
    if output.real == other.real or (output.inode is not None and output.inode == other.inode):
        raise ConfigError(f"{output} {verb} {other}: they are the same file; give another name")
    inner, outer = (output, other) if _inside(output.real, other.real) else (other, output)
    if outer.folder and _inside(inner.real, outer.real):
        raise ConfigError(f"{inner} is inside {outer}; keep them apart")


def _inside(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip(os.sep) + os.sep)


def _matches(path: str, pattern: str) -> bool:
    """Whether a corpus glob would take `path` (`*` and `**` both taken to cross folders: stricter)."""
    return fnmatch.fnmatchcase(os.path.abspath(path), os.path.abspath(pattern))
