"""The one schema of training parameters.

`TrainConfig` is the single place where names, defaults, ranges and help
texts live: the Python API, the TOML config (`[train]` table) and the CLI
flags are all generated from it.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from .errors import ConfigError


def _param(default, help, *, low=None, high=None, choices=None, flag=None):
    return field(default=default,
                 metadata={"help": help, "low": low, "high": high, "choices": choices, "flag": flag})


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of a training run (word2vec semantics)."""

    model: str = _param("sg", "sg (skip-gram) or cbow", choices=("sg", "cbow"))
    dim: int = _param(100, "vector dimensionality", low=1, high=100000)
    window: int = _param(5, "maximum context window; each center draws its window from 1..window",
                         low=1, high=64)
    negative: int = _param(5, "negative samples per center word", low=1, high=63)
    cbow_share: int = _param(4, "CBOW: this many centers, a window apart, share one draw of negatives "
                             "(1: word2vec's CBOW, a draw per center; the CUDA kernel always draws per "
                             "center)",
                             low=1, high=8)
    sample: float = _param(1e-3, "subsampling threshold for frequent words (0 disables)", low=0.0, high=1.0)
    min_count: int = _param(5, "ignore words with fewer occurrences", low=1)
    max_vocab: int | None = _param(None, "keep at most this many words per language (most frequent)", low=1)
    max_distinct: int = _param(21_000_000, "while counting, hold at most this many distinct tokens per "
                               "language: beyond it the rarest are dropped, as word2vec does (bounds memory)",
                               low=100, high=2**31 - 1)
    epochs: int = _param(5, "passes over the corpus", low=1, high=10000)
    alpha: float | None = _param(None, "initial learning rate (default 0.025 for sg, 0.05 for cbow)",
                                 low=1e-9, high=10.0)
    min_alpha: float | None = _param(None, "final learning rate (default alpha * 1e-4)", low=0.0, high=10.0)
    threads: int = _param(0, "worker threads (0: all cores)", low=0, high=4096)
    copy_hot_rows: bool = _param(True, "CPU, several threads: each keeps private copies of the most frequent "
                                 "words' output rows and merges them every 2**17/threads words, so that "
                                 "threads on different chiplets or sockets do not trade those rows' cache "
                                 "lines at every write (off: plain Hogwild)")
    seed: int = _param(1, "random seed; with threads=1 results are bit-identical", low=0, high=2**63 - 1)
    lowercase: bool = _param(False, "lowercase the text (Unicode-aware: Ä -> ä)")
    encoding_errors: str = _param("replace",
                                  "invalid UTF-8: replace with U+FFFD (with a warning) or strict (error)",
                                  choices=("replace", "strict"))
    max_sentence_length: int = _param(1000, "split longer lines into sentences of this many words", low=1)
    sampling: str = _param("proportional", "how tasks interleave: proportional (by size, all finish each "
                           "epoch together) or temperature (share ~ size^(1/T): the largest read once per "
                           "epoch, smaller ones repeated)",
                           choices=("proportional", "temperature"))
    temperature: float = _param(2.0, "T of temperature sampling (1: proportional; larger: flatter)", low=1.0,
                                high=1000.0)
    refine: str = _param("none", "after training, map each language onto the first task's language by "
                         "orthogonal Procrustes on the seed dictionaries", choices=("none", "procrustes"))
    cache_dir: str | None = _param(None, "keep the encoded corpus in files in this folder and train from "
                                   "them memory-mapped (for corpora larger than RAM); a later run on the "
                                   "same files reuses them without reading the corpus")
    device: str = _param("cpu", "cpu, cuda, or auto (cuda when compiled in and a GPU is present)",
                         choices=("cpu", "cuda", "auto"))

    def __post_init__(self) -> None:
        for f in fields(self):
            _check_value(f, getattr(self, f.name))
        if self.min_alpha is not None and self.min_alpha > self.learning_rate:
            raise ConfigError(f"min_alpha ({self.min_alpha}) must not exceed alpha ({self.learning_rate})")

    @property
    def learning_rate(self) -> float:
        """alpha, or word2vec's default for the model."""
        if self.alpha is not None:
            return self.alpha
        return 0.025 if self.model == "sg" else 0.05

    @property
    def final_learning_rate(self) -> float:
        return self.min_alpha if self.min_alpha is not None else self.learning_rate * 1e-4

    @property
    def worker_threads(self) -> int:
        return self.threads or max(1, os.cpu_count() or 1)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some values changed; unknown names are errors."""
        return from_mapping({**dataclasses.asdict(self), **changes}, source="arguments")


def _type_name(f: dataclasses.Field) -> str:
    return str(f.type).replace(" | None", "")  # a string: annotations are not evaluated here


def _check_value(f: dataclasses.Field, value: Any) -> None:
    meta, kind = f.metadata, _type_name(f)
    if value is None:
        if str(f.type).endswith(" | None"):
            return
        raise ConfigError(f"{f.name} must be set")
    if kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        ok = isinstance(value, str)
    if not ok:
        raise ConfigError(f"{f.name} must be of type {kind}, got {value!r}")
    if kind == "float" and not math.isfinite(value):  # NaN passes every range comparison
        raise ConfigError(f"{f.name} must be a finite number, got {value!r}")
    if meta["choices"] and value not in meta["choices"]:
        raise ConfigError(f"{f.name} must be one of {', '.join(meta['choices'])}; got {value!r}")
    low, high = meta["low"], meta["high"]
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"{low}..{high}" if high is not None else f">= {low}"
        raise ConfigError(f"{f.name} must be {bounds}, got {value!r}")


def field_names() -> list[str]:
    return [f.name for f in fields(TrainConfig)]


# The names gensim, fastText and word2vec give our parameters (the README's table), for
# suggestions: difflib alone answers 'encoding_errors' for 'learning_rate'.
PEER_NAMES = {
    "vector_size": "dim", "size": "dim", "ws": "window", "neg": "negative", "t": "sample",
    "mincount": "min_count", "max_final_vocab": "max_vocab", "max_vocab_size": "max_distinct",
    "epoch": "epochs", "iter": "epochs", "lr": "alpha", "learning_rate": "alpha", "workers": "threads",
    "thread": "threads", "sg": "model", "cbow": "model",
}


def unknown_key_error(key: str, valid: list[str], where: str) -> ConfigError:
    """An error for an unknown key that suggests the closest valid one."""
    key = str(key)
    peer = PEER_NAMES.get(key.lower().replace("-", "_"))
    close = [peer] if peer in valid else difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    hint = f" (did you mean '{close[0]}'?)" if close else f" (valid keys: {', '.join(valid)})"
    return ConfigError(f"{where}: unknown key {key!r}{hint}")  # repr: a TOML key may hold a newline


def from_mapping(values: dict[str, Any], source: str = "config") -> TrainConfig:
    """TrainConfig from a dict (a TOML table, keyword arguments), checking every key."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"{source}: expected a table of parameters, got {type(values).__name__}")
    valid = field_names()
    for key in values:
        if key not in valid:
            raise unknown_key_error(key, valid, source)
    known = {f.name: f for f in fields(TrainConfig)}
    coerced = {}
    for key, value in values.items():
        # TOML and Python users write 1 for 1.0; accept ints where floats are expected.
        if _type_name(known[key]) == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        coerced[key] = value
    try:
        return TrainConfig(**coerced)
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None


def add_arguments(parser) -> None:
    """Adds one --flag per TrainConfig field to an argparse parser (defaults stay unset)."""
    import argparse

    for f in fields(TrainConfig):
        meta, kind = f.metadata, _type_name(f)
        flag = "--" + f.name.replace("_", "-")
        default_text = f" (default: {f.default})" if f.default is not None else ""
        if kind == "bool":
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                                help=meta["help"] + default_text)
            continue
        convert = {"int": int, "float": float}.get(kind, str)
        parser.add_argument(flag, dest=f.name, type=convert, default=None, choices=meta["choices"],
                            metavar=None if meta["choices"] else f.name.upper(),
                            help=meta["help"] + default_text)


def from_arguments(args, base: dict | None = None) -> TrainConfig:
    """TrainConfig from parsed flags; flags given on the command line override `base`."""
    values = dict(base or {})
    for name in field_names():
        value = getattr(args, name, None)
        if value is not None:
            values[name] = value
    return from_mapping(values, source="command line")
