"""Job files: one TOML file describing a whole joint training run.

    [train]                      # exactly TrainConfig's names (config.py)
    dim = 300
    lowercase = true

    [[task]]                     # one corpus of one language or domain
    name = "wiki"
    lang = "en"
    paths = ["wiki/*.txt.gz"]    # a list, or one string
    weight = 1.0
    head = "shared"              # "shared", "per_task", or a head name shared by several tasks

    [[parallel]]                 # two line-aligned files (first file: first language)
    langs = ["en", "es"]
    paths = ["tatoeba.en", "tatoeba.es"]

    [[dictionary]]               # seed translations, `source target` per line
    langs = ["en", "es"]         # the first column is the first language
    path = "en-es.txt"           # or induced_from = "en-es": the name of a [[parallel]] table
    codeswitch = 0.25

    [output]
    per_language = true          # one word2vec file per language
    binary = false

Relative paths are relative to the folder of the job file. Every error is a
ConfigError naming the file, the table (`[[task]] #2`) and the key; unknown
keys get the closest valid one suggested. Files are not opened here: the
corpus reader reports a missing corpus when training starts, so a job can be
checked before its data is prepared. Defaults are those of the dataclasses
(TrainConfig, TaskSpec, ParallelSpec, DictionarySpec, OutputSpec): a key
left out is simply not passed.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from .config import TrainConfig, check_fields, field_names, from_mapping, normalized, unknown_key_error
from .errors import ConfigError
from .io import read_text
from .tasks import DictionarySpec, ParallelSpec, TaskSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib

__all__ = ["Job", "OutputSpec", "apply_overrides", "load_job", "parse_job"]

# The codeswitch default lives in tasks.DictionarySpec (0.25). Code-switching ties a word to
# its translations by letting them appear in its contexts (Gouws & Søgaard, 2015), but every
# switch takes an occurrence away from the word's own language, so the pivot language (the
# first task's) is never switched. Measured (benchmarks/results/codeswitch.md, English 17M +
# Spanish 1.6M words): switching both languages cost English 1.4-11 analogy points; keeping
# English as is, p = 0.25 gave the best held-out BLI without parallel text (7.1% vs 6.1% at
# 0.5 and 1.0% for separate training + Procrustes) and was neutral with it (61.8% vs 61.6%).

_TABLES = ("train", "task", "parallel", "dictionary", "output")
_ARRAYS = ("task", "parallel", "dictionary")  # arrays of tables: [[task]]


@dataclass(frozen=True)
class OutputSpec:
    """How the trained vectors are written: one file per language (keys without
    the `lang:` prefix) or one file with prefixed keys; word2vec binary or text."""

    per_language: bool = False
    binary: bool = False


@dataclass(frozen=True)
class Job:
    """Everything a joint training run needs, as read from a job file."""

    config: TrainConfig
    tasks: tuple[TaskSpec, ...]
    parallel: tuple[ParallelSpec, ...] = ()
    dictionaries: tuple[DictionarySpec, ...] = ()
    output: OutputSpec = OutputSpec()

    @property
    def languages(self) -> tuple[str, ...]:
        """The tasks' languages in order of first appearance (the first is the
        pivot of `refine = "procrustes"`)."""
        return tuple(dict.fromkeys(t.lang for t in self.tasks))


def load_job(path: str | os.PathLike) -> Job:
    """Reads and checks a TOML job file (see the module docstring)."""
    path = os.fspath(path)
    text = read_text(path, "config", ConfigError)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(_toml_message(path, str(error), text)) from None
    return parse_job(document, base=os.path.dirname(os.path.abspath(path)), source=path)


def parse_job(document: Mapping[str, Any], base: str | os.PathLike = ".",
              source: str = "config") -> Job:
    """A Job from an already parsed TOML document (a dict); relative paths are
    taken relative to `base`; `source` names the document in messages."""
    if not isinstance(document, Mapping):
        raise ConfigError(f"{source}: expected a table at the top level, got {type(document).__name__}")
    for key, value in document.items():
        if key not in _TABLES:
            if key in field_names():
                raise ConfigError(f"{source}: '{key}' is a training parameter: put it under [train]")
            raise unknown_key_error(key, list(_TABLES), f"{source}: top level")
        if key in _ARRAYS and not _is_array_of_tables(value):
            raise ConfigError(f"{source}: '{key}' must be an array of tables: write [[{key}]], not [{key}]"
                              if isinstance(value, Mapping) else
                              f"{source}: '{key}' must be an array of tables [[{key}]], got {value!r}")
        if key not in _ARRAYS and not isinstance(value, Mapping):
            raise ConfigError(f"{source}: '{key}' must be a table: write [{key}], not [[{key}]]"
                              if _is_array_of_tables(value) else
                              f"{source}: '{key}' must be a table [{key}], got {value!r}")
    base = os.fspath(base)
    config = from_mapping(_with_paths_resolved(TrainConfig, dict(document.get("train", {})), base),
                          source=f"{source}: [train]")
    # Task and parallel names share one namespace: both are tasks of the schedule.
    owners: dict[str, _Where] = {}
    tasks = []
    for i, table in enumerate(document.get("task", []), start=1):
        where = _Where(source, "task", i)
        tasks.append(_spec(TaskSpec, table, where, base))
        _claim(owners, tasks[-1].name, where)
    if not tasks:
        raise ConfigError(f"{source}: no [[task]]: a job needs at least one corpus")
    languages = tuple(dict.fromkeys(t.lang for t in tasks))
    parallel = []
    for i, table in enumerate(document.get("parallel", []), start=1):
        where = _Where(source, "parallel", i)
        parallel.append(_parallel(table, where, base, languages, owners))
        _claim(owners, parallel[-1].name, where)
    dictionaries = tuple(_dictionary(table, _Where(source, "dictionary", i), base, languages, parallel)
                         for i, table in enumerate(document.get("dictionary", []), start=1))
    output = _output(document.get("output", {}), f"{source}: [output]")
    job = Job(config, tuple(tasks), tuple(parallel), dictionaries, output)
    _check_job(job, source)
    return job


def apply_overrides(job: Job, overrides: Mapping[str, Any], source: str = "command line") -> Job:
    """The job with some values replaced (the command-line flags actually given).

    Keys are TrainConfig names (they replace `[train]` values) or OutputSpec
    names (`per_language`, `binary`). None means "not given" and is skipped,
    so a dict of every parsed flag can be passed as is.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    output_names = [f.name for f in fields(OutputSpec)]
    valid = field_names() + output_names
    for key in given:
        if key not in valid:
            raise unknown_key_error(key, valid, source)
    train = {key: value for key, value in given.items() if key not in output_names}
    output = {key: value for key, value in given.items() if key in output_names}
    config = job.config
    if train:
        config = from_mapping({**dataclasses.asdict(job.config), **train}, source=source)
    if output:
        _output(output, source)  # type checks
    job = dataclasses.replace(job, config=config, output=dataclasses.replace(job.output, **output))
    _check_job(job, source)
    return job


class _Where:
    """`file: [[task]] #2 ('es')`: where a value sits, for messages."""

    def __init__(self, source: str, table: str, number: int):
        self.source, self.table, self.number, self.name = source, table, number, None

    def named_after(self, table: Any) -> None:
        name = table.get("name") if isinstance(table, Mapping) else None
        self.name = name if isinstance(name, str) and name.strip() else None

    def __str__(self) -> str:
        name = f" ('{self.name}')" if self.name else ""
        return f"{self.source}: [[{self.table}]] #{self.number}{name}"


def _is_array_of_tables(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, Mapping) for item in value)


def _toml_message(path: str, message: str, text: str) -> str:
    """`file:line:column: invalid TOML: ...` from tomllib's '... (at line 3, column 7)'."""
    found = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", message)
    if found:
        return f"{path}:{found.group(1)}:{found.group(2)}: invalid TOML: {message[:found.start()]}"
    found = re.search(r"\s*\(at end of document\)\s*$", message)
    if found:
        line = text.count("\n") + (0 if text.endswith("\n") else 1)
        return f"{path}:{max(line, 1)}: invalid TOML: {message[:found.start()]} (at the end of the file)"
    return f"{path}: invalid TOML: {message}"


def _check_keys(table: Any, valid: tuple[str, ...], where: Any, required: tuple[str, ...]) -> dict:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: expected a table, got {table!r}")
    for key in table:
        if key not in valid:
            raise unknown_key_error(key, list(valid), str(where))
    for key in required:
        if key not in table:
            raise ConfigError(f"{where}: missing required key '{key}'")
    return dict(table)


def _spec(schema, table: Any, where: _Where, base: str, defaults: Mapping[str, Any] | None = None):
    """A TaskSpec, ParallelSpec or DictionarySpec from its table: the keys, the required ones
    and the checks are the spec's own fields (tasks.py); relative paths are taken from `base`;
    `defaults` fill keys the spec requires but a table may leave out."""
    where.named_after(table)
    defaults = defaults or {}
    required = tuple(f.name for f in fields(schema)
                     if f.default is dataclasses.MISSING and f.name not in defaults)
    values = _check_keys(table, tuple(f.name for f in fields(schema)), where, required)
    try:
        values = _with_paths_resolved(schema, normalized(schema, values), base)
        check_fields(schema, values)
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from None
    return schema(**{**defaults, **values})


def _with_paths_resolved(schema, values: dict, base: str) -> dict:
    """`values` with those of the schema's path fields (param(path=True)) taken from `base`."""
    return {key: _resolved(value, base) if key in _path_fields(schema) else value
            for key, value in values.items()}


def _path_fields(schema) -> set[str]:
    return {f.name for f in fields(schema) if f.metadata["path"]}


def _resolved(value: Any, base: str) -> Any:
    """A path (or each of a tuple of paths) taken relative to `base`, `~` expanded; other
    values (a type error to report) as they are."""
    if isinstance(value, tuple):
        return tuple(_resolved(v, base) for v in value)
    if not isinstance(value, str) or not value.strip():
        return value
    return os.path.normpath(os.path.join(base, os.path.expanduser(value)))


def _languages_known(spec, where: Any, languages: tuple[str, ...]) -> None:
    for lang in spec.langs:
        if lang not in languages:
            raise ConfigError(f"{where}: langs: no [[task]] has language '{lang}' "
                              f"(task languages: {', '.join(languages)})")


def _parallel(table: Any, where: _Where, base: str, languages: tuple[str, ...],
              taken: Mapping) -> ParallelSpec:
    # A readable default name that stays unique when one pair has several corpora.
    langs = table.get("langs") if isinstance(table, Mapping) else None
    stem = "-".join(map(str, langs)) if isinstance(langs, list) and langs else "parallel"
    name, k = stem, 1
    while name in taken:
        k += 1
        name = f"{stem}-{k}"
    spec = _spec(ParallelSpec, table, where, base, defaults={"name": name})
    _languages_known(spec, where, languages)
    return spec


def _dictionary(table: Any, where: _Where, base: str, languages: tuple[str, ...],
                parallel: list[ParallelSpec]) -> DictionarySpec:
    if isinstance(table, Mapping) and "path" not in table and "induced_from" not in table:
        where.named_after(table)
        raise ConfigError(f"{where}: missing required key 'path' (a dictionary file; or induced_from, the "
                          "name of a [[parallel]] table to induce the pairs from)")
    try:
        spec = _spec(DictionarySpec, table, where, base)
    except ConfigError as error:  # both path and induced_from: refused by the spec itself
        raise ConfigError(error if str(error).startswith(str(where)) else f"{where}: {error}") from None
    _languages_known(spec, where, languages)
    if spec.induced_from is not None:
        try:
            spec.source_text(parallel)
        except ConfigError as error:
            raise ConfigError(f"{where}: induced_from: {error}") from None
    return spec


def _output(table: Any, where: str) -> OutputSpec:
    values = _check_keys(table, tuple(f.name for f in fields(OutputSpec)), where, required=())
    for key, value in values.items():
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: {key} must be true or false, got {value!r}")
    return OutputSpec(**values)


def _claim(owners: dict, name: str, where: _Where) -> None:
    if name in owners:
        first = owners[name]
        raise ConfigError(f"{where}: name '{name}' is already used by [[{first.table}]] #{first.number} "
                          "(the names of [[task]] and [[parallel]] tables must be unique)")
    owners[name] = where


def _check_job(job: Job, source: str) -> None:
    """Rules that involve several tables (checked again after overrides)."""
    if job.config.refine in ("procrustes", "iterative") and not job.dictionaries:
        raise ConfigError(f"{source}: refine = \"{job.config.refine}\" needs at least one [[dictionary]] "
                          "(the seed translations the mapping is fitted on; refine = \"self-learning\" "
                          "needs none)")
