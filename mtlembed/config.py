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
import re
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from . import backend
from .errors import ConfigError


def _kernel_limit(name: str):
    """A bound written once in csrc/sgns.h (window, negative, cbow_share, threads), read from _core
    when a value is checked: importing the schema needs no compiled extension."""
    return lambda: backend.kernel_limits()[name]


# What a `lang` may be: it becomes part of output file names (OUT.<lang>.vec), so nothing
# that could leave the folder or confuse a shell ('/', '..', NUL, spaces).
SAFE_NAME = (re.compile(r"[A-Za-z0-9_-]{1,64}"), "a name of 1 to 64 letters, digits, '_' or '-'")


def param(default=MISSING, help="", *, low=None, high=None, above=None, choices=None, pattern=None,
          what=None, rule=None, path=False):
    """A field of a schema (TrainConfig, the task specs): its default, help text and the values it
    takes. Numbers lie in low..high (`above`: strictly greater); strings are non-empty, one of
    `choices` or matching `pattern` ((regex, description)); `rule(value)` returns the message of
    a value it refuses; a tuple field (paths, a pair of languages) checks each item so, and is
    described by `what` in messages; `path` marks file names (job files resolve them). A bound may
    be a function, called when a value is checked (see `field_bounds`)."""
    return field(default=default, metadata={"help": help, "low": low, "high": high, "above": above,
                                            "choices": choices, "pattern": pattern, "what": what,
                                            "rule": rule, "path": path})


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of a training run (word2vec semantics)."""

    model: str = param("sg", "sg (skip-gram) or cbow", choices=("sg", "cbow"))
    dim: int = param(100, "vector dimensionality", low=1, high=100000)
    window: int = param(5, "maximum context window; each center draws its window from 1..window",
                         low=1, high=_kernel_limit("window"))
    negative: int = param(5, "negative samples per center word", low=1, high=_kernel_limit("negative"))
    cbow_share: int = param(4, "CBOW: this many centers, a window apart, share one draw of negatives "
                             "where negatives is center (1: word2vec's CBOW, a draw per center, as "
                             "negatives pair; the CUDA kernel always draws per center)",
                             low=1, high=_kernel_limit("cbow_share"))
    negatives: str = param("auto", "center: skip-gram draws the negatives once per center, shared by its "
                           "contexts, and CBOW once per cbow_share centers (faster; with subwords ahead "
                           "on little text); pair: as word2vec, fastText and gensim, skip-gram once per "
                           "(center, context) pair and CBOW once per center (with subwords ahead from "
                           "about 10M training words: 4M words x 5 epochs, analogy 52.4 against 45.2, "
                           "fastText 46.6; from 15 epochs better word similarity: 2M words x 20 epochs, "
                           "SimLex 0.244 against 0.214, for 2.8x the time); auto: pair from 15 epochs, and "
                           "for skip-gram with subwords on the CPU once corpus words x epochs reach 8M, "
                           "else center (the CUDA kernel draws skip-gram's per center)",
                           choices=("auto", "center", "pair"))
    ns_exponent: float | None = param(None, "negatives are drawn with probability count^ns_exponent within "
                                      "their language (word2vec's and gensim's 0.75, fastText's 0.5; 0: "
                                      "uniform; below 0: rare words more often); default: 0.75, and 0.5 for "
                                      "skip-gram with subwords once corpus words x epochs reach 50M, as "
                                      "order's auto (where it scores higher: Rare Words at 17M words x 5 "
                                      "epochs; 0.75 up to 20M)", low=-1.0, high=1.0)
    sample: float = param(1e-3, "subsampling threshold for frequent words (0 disables)", low=0.0, high=1.0)
    min_count: int = param(5, "ignore words with fewer occurrences", low=1, high=2**63 - 1)
    max_vocab: int | None = param(None, "keep at most this many words per language (most frequent)", low=1,
                                  high=2**31 - 1)
    max_distinct: int = param(21_000_000, "while counting, hold at most this many distinct tokens per "
                               "language: beyond it the rarest are dropped, as word2vec does (bounds memory)",
                               low=100, high=2**31 - 1)
    epochs: int = param(5, "passes over the corpus", low=1, high=10000)
    order: str = param("auto", "the order each pass reads a corpus's chunks (about 32k words each) in: "
                       "corpus (as written, as gensim reads it), shuffled (a fresh order each pass, drawn "
                       "from the seed, so that every stretch of the learning rate's decay sees text from "
                       "all over the corpus, as word2vec's and fastText's threads, each reading its own "
                       "part of the file, do) or auto: shuffled for skip-gram with subwords once corpus "
                       "words x epochs reach 50M (with fastText's noise, 17M words x 5 epochs: Rare Words "
                       "0.421 against 0.414), corpus elsewhere (where shuffled costs rare words: 17M "
                       "words x 1 epoch, 4M x 5)", choices=("auto", "corpus", "shuffled"))
    alpha: float | None = param(None, "initial learning rate (default 0.025 for sg, 0.05 for cbow)",
                                 low=1e-9, high=10.0)
    min_alpha: float | None = param(None, "final learning rate (default alpha * 1e-4)", low=0.0, high=10.0)
    threads: int = param(0, "worker threads (0: all cores)", low=0, high=_kernel_limit("threads"))
    copy_hot_rows: bool = param(True, "CPU, several threads, corpora of 2**23 words an epoch or more: each "
                                 "thread keeps private copies of the most frequent words' output rows and "
                                 "merges them every 2**17/threads of its words, so that threads on different "
                                 "chiplets or sockets do not trade those rows' cache lines at every write "
                                 "(smaller corpora, or off: plain Hogwild)")
    seed: int = param(1, "random seed; with threads=1 results are bit-identical", low=0, high=2**63 - 1)
    lowercase: bool = param(False, "lowercase the text (Unicode-aware: Ä -> ä)")
    encoding_errors: str = param("replace",
                                  "invalid UTF-8: replace with U+FFFD (with a warning) or strict (error)",
                                  choices=("replace", "strict"))
    tokenizer: str = param("whitespace", "how text is cut into words: whitespace (as word2vec) or unicode "
                           "(Unicode word boundaries: punctuation and symbols split off as tokens of their "
                           "own, every Unicode space separates, each Han or hiragana character a word; "
                           "docs/walkthrough.md)", choices=("whitespace", "unicode"))
    jsonl_field: str | None = param(None, "read the corpus files as JSON Lines, one object per line, and "
                                    "train on the text of this field (a job's task may name its own)")
    max_sentence_length: int = param(1000, "split longer lines into sentences of this many words", low=1,
                                     high=2**31 - 1)
    sampling: str = param("proportional", "how tasks interleave: proportional (by size, all finish each "
                           "epoch together) or temperature (share ~ size^(1/T): the largest read once per "
                           "epoch, smaller ones repeated)",
                           choices=("proportional", "temperature"))
    temperature: float = param(2.0, "T of temperature sampling (1: proportional; larger: flatter)", low=1.0,
                                high=1000.0)
    refine: str = param("none", "after training, map each language onto the first task's language "
                         "orthogonally (mtlembed align): procrustes on the dictionaries, iterative (MUSE "
                         "refinement from them) or self-learning (VecMap; identical strings seed languages "
                         "without a dictionary)",
                         choices=("none", "procrustes", "iterative", "self-learning"))
    align_every: int = param(0, "align while training: every this many chunks, a dictionary of mutual CSLS "
                              "nearest neighbours between each language and the first task's, induced from "
                              "the vectors so far, becomes code-switching ties (0: never)", low=0,
                             high=2**31 - 1)
    subwords: bool = param(False, "also train character n-grams of <word>, hashed as fastText hashes them: "
                            "rare words get better vectors and unseen words get one (--fasttext-out writes "
                            "the model)")
    min_n: int = param(3, "subwords: the shortest n-gram, in characters of <word>", low=1, high=100)
    max_n: int = param(6, "subwords: the longest n-gram", low=1, high=100)
    buckets: int = param(2_000_000, "subwords: the rows the n-grams are hashed into", low=1, high=2**31 - 1)
    subword_sharing: str = param("all", "subwords of several languages: all (an n-gram is one row in every "
                                  "language: cognates tie them; 3x the BLI P@1 on MUSE en-es/de/fr) or "
                                  "language (each language hashes into the buckets its own way)",
                                  choices=("all", "language"))
    cache_dir: str | None = param(None, "keep the encoded corpus in files in this folder (for corpora larger "
                                   "than RAM: they are then trained on memory-mapped); a later run on the "
                                   "same files reuses them without reading the corpus", path=True)
    device: str = param("cpu", "cpu, cuda, or auto (cuda when compiled in and a GPU is present)",
                         choices=("cpu", "cuda", "auto"))
    # Growing a model and evaluating while training (growth.py, dev_eval.py).
    init: str | None = param(None, "start from these vectors (word2vec .bin/.txt/.vec, fastText .bin, or "
                              "PREFIX of per-language PREFIX.<lang>.vec files): words in both the vocabulary "
                              "and the file take the file's vectors, the others start as usual", path=True)
    vocab: str | None = param(None, "the vocabulary: this file's words, `word count` per line (word2vec's "
                               "-save-vocab; counts used for noise and subsampling) or one word per line "
                               "(corpus counts); lang:word keys in a joint run", path=True)
    freeze: tuple[str, ...] | None = param(None, "languages whose vectors stay as init gave them, bit for "
                                            "bit: their monolingual tasks are skipped, their rows not "
                                            "trained", pattern=SAFE_NAME, what="a list of languages")
    eval_every: str = param("none", "score the dev sets (eval_analogy, eval_similarity, eval_bli) after "
                             "each epoch: the report's eval_history", choices=("none", "epoch"))
    eval_analogy: tuple[str, ...] | None = param(None, "analogy dev sets (questions-words format)", path=True,
                                                 what="a path or a list of paths")
    eval_similarity: tuple[str, ...] | None = param(None, "word-similarity dev sets (`w1 w2 score`)",
                                                    path=True, what="a path or a list of paths")
    eval_bli: tuple[str, ...] | None = param(None, "BLI dev dictionaries named SRC-TGT.* (MUSE: "
                                              "en-es.5000-6500.txt)", path=True,
                                             what="a path or a list of paths")

    def __post_init__(self) -> None:
        validate(self)
        if self.min_alpha is not None and self.min_alpha > self.learning_rate:
            raise ConfigError(f"min_alpha ({self.min_alpha}) must not exceed alpha ({self.learning_rate})")
        if self.min_n > self.max_n:
            raise ConfigError(f"min_n ({self.min_n}) must not exceed max_n ({self.max_n})")

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


def check_fields(schema, values: Mapping[str, Any]) -> None:
    """Checks `values` (field name -> value) against the fields of the dataclass `schema`
    they name; the message names the field and the value."""
    known = {f.name: f for f in fields(schema)}
    for name, value in values.items():
        _check_value(known[name], value)


def validate(instance, label: str | None = None) -> None:
    """Stores the values of a schema dataclass (TrainConfig, a spec) in their normal form and
    checks them (see `param`); `label` (e.g. "task 'wiki'") starts the message of an error."""
    for name, value in normalized(type(instance), vars(instance)).items():
        object.__setattr__(instance, name, value)
    try:
        check_fields(type(instance), vars(instance))
    except ConfigError as error:
        if label is None:
            raise
        raise ConfigError(f"{label}: {error}") from None


def normalized(schema, values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` as the schema stores them: paths as strings (from PathLike), tuples for lists,
    one path for a tuple of paths given as a single one, floats for ints (TOML and Python
    users write 1 for 1.0)."""
    known = {f.name: f for f in fields(schema)}
    result = dict(values)
    for name, value in values.items():
        f, kind = known[name], _type_name(known[name])
        if f.metadata.get("path") and isinstance(value, (str, os.PathLike)):
            value = os.fspath(value)
        if kind.startswith("tuple[") and isinstance(value, str):
            value = (value,)
        if kind.startswith("tuple[") and isinstance(value, (tuple, list)):
            value = tuple(os.fspath(v) if f.metadata.get("path") and isinstance(v, os.PathLike) else v
                          for v in value)
        if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        result[name] = value
    return result


def _type_name(f: dataclasses.Field) -> str:
    return str(f.type).replace(" | None", "")  # a string: annotations are not evaluated here


def _check_value(f: dataclasses.Field, value: Any) -> None:
    kind = _type_name(f)
    if value is None:
        if str(f.type).endswith(" | None"):
            return
        raise ConfigError(f"{f.name} must be set")
    if not kind.startswith("tuple["):
        _check_item(f, kind, value, f.name)
        return
    item_kind, _, rest = kind[len("tuple["):-1].partition(", ")
    count = None if rest == "..." else kind.count(",") + 1
    if (not isinstance(value, (tuple, list)) or not value or (count and len(value) != count)
            or (count and len(set(map(str, value))) != count)):
        raise ConfigError(f"{f.name} must be {f.metadata['what']}, got {value!r}")
    for item in value:
        _check_item(f, item_kind, item, f.name)


def _check_item(f: dataclasses.Field, kind: str, value: Any, name: str) -> None:
    meta = f.metadata
    if kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        ok = isinstance(value, str)
    if not ok:
        raise ConfigError(f"{name} must be a number, got {value!r}" if kind == "float" else
                          f"{name} must be of type {kind}, got {value!r}")
    if kind == "float" and not math.isfinite(value):  # NaN passes every range comparison
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if kind == "str" and not value.strip():
        raise ConfigError(f"{name} must be a non-empty string, got {value!r}")
    if meta["choices"] and value not in meta["choices"]:
        raise ConfigError(f"{name} must be one of {', '.join(meta['choices'])}; got {value!r}")
    if meta["pattern"] and not meta["pattern"][0].fullmatch(value):
        raise ConfigError(f"{name} must be {meta['pattern'][1]}, got {value!r}")
    low, high, above = field_bounds(f)
    if ((low is not None and value < low) or (above is not None and not value > above)
            or (high is not None and value > high)):
        if above is not None:
            bounds = f"> {above:g}" + (f" and <= {high:g}" if high is not None else "")
        else:
            bounds = f"{low}..{high}" if high is not None else f">= {low}"
        raise ConfigError(f"{name} must be {bounds}, got {value!r}")
    problem = meta["rule"](value) if meta["rule"] else None
    if problem:
        raise ConfigError(f"{name} {value!r}: {problem}")


def field_bounds(f: dataclasses.Field) -> tuple:
    """(low, high, above) of a schema field, each None or a number."""
    return tuple(b() if callable(b) else b for b in (f.metadata[key] for key in ("low", "high", "above")))


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
    try:
        return TrainConfig(**normalized(TrainConfig, values))
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
                            action="append" if kind.startswith("tuple[") else "store",  # repeatable
                            help=meta["help"] + default_text)


def from_arguments(args, base: dict | None = None) -> TrainConfig:
    """TrainConfig from parsed flags; flags given on the command line override `base`."""
    values = dict(base or {})
    for name in field_names():
        value = getattr(args, name, None)
        if value is not None:
            values[name] = value
    return from_mapping(values, source="command line")
