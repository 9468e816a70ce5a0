"""Growing a model: start from pretrained vectors (`init`), fix the vocabulary (`vocab`), and add a
language to a trained model while the others stay frozen (`freeze`).

init (gensim's `intersect_word2vec_format` semantics): the rows of the words that are both in
the run's vocabulary and in the file take the file's vectors; every other row starts as usual
(uniform noise), and the file's other words are ignored. Keys are matched as the run writes them:
plain words in a one-language run, `lang:word` in a joint run. A joint run reads a joint file
(`lang:word` keys), the PREFIX of per-language files (`PREFIX.<lang>.vec`: the languages found
there), or one per-language file `PREFIX.<lang>.vec` (that language's rows).

vocab: the vocabulary is the file's words, all of them whatever min_count and max_vocab say, most
frequent first. `word count` lines (word2vec's -save-vocab format) give the counts that the
noise distribution and subsampling use, as word2vec's -read-vocab does; a plain word list takes
the corpus counts (a listed word the corpus lacks counts 1, so that it can be drawn and kept).

freeze: the frozen languages' rows of the input matrix (their vectors) end training bit for bit
as init gave them. A frozen language keeps init's vocabulary (its words, with their corpus
counts), so that each of its rows has a trained vector; languages own contiguous id ranges, so it
is a range of rows. Its monolingual tasks (and parallel texts between frozen languages only) leave
the schedule; the ties to the new language (parallel text, dictionaries) train as usual. A vectors
file holds no output rows: a frozen language's start as copies of its vectors, so that the new
language's words, trained to predict frozen words, are drawn toward the frozen vectors themselves.
The kernel updates the rows of every word it reads, so the trainer trains in segments of at most a
chunk per thread and copies the frozen rows back after each: the new language learns against the
frozen vectors to within one segment's updates (an exact freeze would skip those updates in the
kernel: a per-id mask there is the clean way, left for when the kernel is not being changed).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import ConfigError, FormatError
from .io import read_text

__all__ = ["FrozenRows", "check_freeze", "check_outputs", "fixed_order", "fixed_vocabulary", "init_vectors",
           "initialize", "kept_chunks", "read_vocabulary", "trained_tasks", "vocabulary_files"]


# ----------------------------------------------------------------------------- init


def initialize(w_in: np.ndarray, w_out: list[np.ndarray], vocab, config) -> dict:
    """Copies the vectors of `config.init` into the rows of `w_in` of the words of `vocab` (a
    vocab.Vocabulary) it holds; the frozen languages' output rows start as copies of their vectors.
    Returns {"path", "rows", "of", "by_language"} (the rows initialized)."""
    keys, languages, dim = vocab.keys(), vocab.languages, config.dim
    model = init_vectors(config.init, languages)
    if model.dim != dim:
        raise ConfigError(f"init {config.init}: its vectors have {model.dim} dimensions, the run {dim}: give "
                          f"dim = {model.dim}")
    index = model.index
    rows = np.array([i for i, key in enumerate(keys) if key in index], np.int64)
    if len(rows):
        w_in[rows, :dim] = model.vectors[[index[keys[i]] for i in rows]]
    # A vectors file holds no output rows. Those of a frozen language start as its vectors: the new
    # language's words, predicting the frozen ones, are then drawn toward the frozen vectors themselves
    # (BLI P@1 twice that of zero output rows with a parallel tie: benchmarks/results/growth.md).
    for lang in config.freeze or ():
        first, last = vocab.range_of(lang)
        for head in w_out:
            head[first:last] = w_in[first:last]
    by_language = {}
    if len(languages) > 1:
        found = [keys[i].split(":", 1)[0] for i in rows]
        by_language = {lang: found.count(lang) for lang in languages}
    return {"path": os.path.abspath(config.init), "rows": int(len(rows)), "of": len(keys),
            "by_language": by_language}


def init_vectors(path: str, languages: list[str]):
    """The Embeddings of `path` (see the module docstring), keyed as the run's words are."""
    from .query import open_vectors, per_language_language

    model = open_vectors(path)
    file_languages = model.languages
    if len(languages) > 1 and not file_languages:
        lang = per_language_language(path)
        if lang is None:
            raise ConfigError(f"init {path}: its keys have no lang: prefix and this joint run has "
                              f"{', '.join(languages)}: give a joint file (lang:word keys), per-language "
                              "files PREFIX.<lang>.vec (--init PREFIX) or one of them")
        model.words = [f"{lang}:{word}" for word in model.words]
        model._index, file_languages = None, [lang]
    elif len(languages) == 1 and file_languages:
        if languages[0] not in file_languages:
            raise ConfigError(f"init {path}: it holds {', '.join(file_languages)} words, the run's language "
                              f"is {languages[0]}")
        model = model.by_language(languages[0])
    if len(languages) > 1 and not set(file_languages) & set(languages):
        raise ConfigError(f"init {path}: it holds {', '.join(file_languages)} words, the run "
                          f"{', '.join(languages)}")
    return model


# ----------------------------------------------------------------------------- vocab


def read_vocabulary(path: str) -> tuple[list[str], np.ndarray | None]:
    """The words of a vocabulary file and their counts (None for a plain word list)."""
    words, counts = [], []
    for lineno, line in enumerate(read_text(path, "vocabulary").splitlines(), start=1):
        columns = line.split()
        if not columns:
            continue
        if len(columns) > 2 or (len(columns) == 2 and not columns[1].isdigit()):
            raise FormatError(f"{path}:{lineno}: expected 'word count' or one word, got {line[:80]!r}")
        words.append(columns[0])
        counts.append(int(columns[1]) if len(columns) == 2 else None)
    if not words:
        raise FormatError(f"{path}: no words in the vocabulary file")
    if len(set(words)) != len(words):
        seen, duplicate = set(), None
        for word in words:
            duplicate = duplicate or (word if word in seen else None)
            seen.add(word)
        raise FormatError(f"{path}: the word {duplicate!r} is listed twice")
    given = [c is not None for c in counts]
    if any(given) and not all(given):
        raise FormatError(f"{path}: some lines have a count and some do not: give 'word count' on every line "
                          "or none")
    return words, (np.array(counts, np.int64) if all(given) else None)


def fixed_vocabulary(config, languages: list[str]) -> dict | None:
    """{language: (words, counts or None)} for vocab.build: the `vocab` file's, and for each frozen
    language not in it the init file's words (a frozen language keeps the vocabulary it was trained
    with, so that every row of it has its trained vector); None when there are neither."""
    fixed = _vocabulary_file(config.vocab, languages) if config.vocab else {}
    frozen = [lang for lang in config.freeze or () if lang not in fixed]
    if frozen:
        keys = init_vectors(config.init, languages).words
        for lang in frozen:
            words = [key[len(lang) + 1:] for key in keys if key.startswith(lang + ":")]  # a joint run's keys
            if not words:
                raise ConfigError(f"freeze: init {config.init} holds no {lang} words")
            fixed[lang] = (words, None)
    return fixed or None


def vocabulary_files(config) -> list[str]:
    """The files a fixed vocabulary is read from (the cache's key holds them): vocab, and init (a file
    or a PREFIX's files) when it gives the frozen languages their words."""
    return ([config.vocab] if config.vocab else []) + (_init_files(config) if config.freeze else [])


def _vocabulary_file(path: str, languages: list[str]) -> dict:
    words, counts = read_vocabulary(path)
    if len(languages) == 1:
        return {languages[0]: (words, counts)}
    fixed = {}
    for i, key in enumerate(words):
        lang, _, word = key.partition(":")
        if not word or lang not in languages:
            raise FormatError(f"{path}: {key!r} is not lang:word with a language of the run "
                              f"({', '.join(languages)}): a joint run's vocabulary keys are lang:word")
        entry = fixed.setdefault(lang, ([], []))
        entry[0].append(word)
        entry[1].append(None if counts is None else counts[i])
    return {lang: (w, None if counts is None else np.array(c, np.int64)) for lang, (w, c) in fixed.items()}


# ----------------------------------------------------------------------------- freeze


def check_freeze(config, task_specs, parallel) -> None:
    """A freeze that can be honoured: languages of the run, from init, some task left to train."""
    if not config.freeze:
        return
    languages = list(dict.fromkeys(t.lang for t in task_specs))
    unknown = [lang for lang in config.freeze if lang not in languages]
    if unknown:
        raise ConfigError(f"freeze: no task has language {', '.join(unknown)} (the run's languages: "
                          f"{', '.join(languages)})")
    if config.init is None:
        raise ConfigError("freeze keeps the vectors that init gives the frozen languages: give init too")
    if getattr(config, "subwords", False):
        raise ConfigError("freeze cannot be used with subwords: the n-gram rows are shared by every "
                          "language, so a frozen language's vectors would still change")
    if set(languages) <= set(config.freeze):
        raise ConfigError("freeze: every language of the run is frozen: there is nothing to train")


def trained_tasks(config, task_specs, parallel) -> list[bool]:
    """For each task, then each parallel text: whether it trains (it touches a language not frozen)."""
    frozen = set(config.freeze or ())
    return ([t.lang not in frozen for t in task_specs]
            + [not set(p.langs) <= frozen for p in parallel])


def kept_chunks(chunks: dict, trains: list[bool]) -> dict:
    """The schedule without the chunks of tasks that do not train, its progress (the learning rate's
    timeline) recomputed over the chunks kept."""
    keep = np.asarray(trains, bool)[chunks["task"]]
    if keep.all():
        return chunks
    kept = {key: value[keep] for key, value in chunks.items()}
    tokens = (chunks["progress_end"] - chunks["progress_begin"])[keep]
    ends = np.cumsum(tokens)
    total = float(ends[-1]) if len(ends) and ends[-1] > 0 else 1.0
    kept["progress_end"], kept["progress_begin"] = ends / total, (ends - tokens) / total
    kept["id"] = np.ascontiguousarray(kept["id"])
    return kept


class FrozenRows:
    """A copy of the frozen languages' rows of w_in, written back after each segment."""

    def __init__(self, w_in: np.ndarray, ranges: list[tuple[int, int]]):
        self.w_in, self.ranges = w_in, ranges
        self.saved = [w_in[first:last].copy() for first, last in ranges]

    def restore(self) -> None:
        for (first, last), rows in zip(self.ranges, self.saved):
            self.w_in[first:last] = rows


def fixed_order(corpus_words: list[str], corpus_counts: np.ndarray, words: list[str],
                counts: np.ndarray | None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """One language's vocabulary from a `vocab` file: its words, most frequent first (ties in the
    file's order), their counts (the file's, else the corpus's, at least 1), and for each corpus
    word its index among them (-1: not in the file)."""
    seen = {word: i for i, word in enumerate(corpus_words)}
    if counts is None:
        counts = np.array([max(int(corpus_counts[seen[w]]), 1) if w in seen else 1 for w in words], np.int64)
    order = np.argsort(-counts, kind="stable")
    ordered = [words[i] for i in order]
    final = {word: i for i, word in enumerate(ordered)}
    mapping = np.array([final.get(word, -1) for word in corpus_words], np.int64)
    return ordered, counts[order], mapping


def check_outputs(config, outputs) -> None:
    """No output may overwrite what the run reads to grow: init's vectors or the vocab file (the dev
    sets are paths.check_run's evaluation files)."""
    reads = [("the init vectors", path) for path in _init_files(config)]
    reads += [("the vocab file", config.vocab)] if config.vocab else []
    for output in outputs:
        for what, path in reads:
            if Path(output).resolve() == Path(path).resolve():
                raise ConfigError(f"{output} would overwrite {what} {path}: give another output")


def _init_files(config) -> list[str]:
    if not config.init:
        return []
    init = Path(config.init)
    return [str(init)] if init.is_file() else sorted(str(p) for p in init.parent.glob(f"{init.name}.*"))
