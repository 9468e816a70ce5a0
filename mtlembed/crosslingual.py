"""Cross-lingual ties: seed dictionaries, the code-switching table, Procrustes.

* `read_dictionary` (dictionary.py, shared with the BLI evaluation):
  MUSE-format dictionaries (`source target` per line, space- or
  tab-separated; the xling/Glavaš et al. files are tab-separated).
* `translation_table`: the dictionary as a CSR table over global ids, both
  directions, which the kernel uses for code-switching (sgns.h, Translations).
* `procrustes` / `refine`: the post-hoc orthogonal map of each language onto a
  pivot language, fitted on the dictionary pairs (Xing et al., 2015; Conneau
  et al., 2018's supervised refinement).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from .align.orthogonal import procrustes  # the one implementation, shared with mtlembed align
from .dictionary import read_dictionary
from .errors import ConfigError
from .model import Embeddings
from .tasks import DictionarySpec

_BLOCK_ROWS = 1 << 15  # rows mapped at once by refine (float64: 32k x 300 x 8 B = 79 MB)

__all__ = ["TranslationTable", "merge_tables", "procrustes", "read_dictionary", "refine", "translation_table"]


class TranslationTable(NamedTuple):
    """The translations of global id i are `ids[offsets[i]:offsets[i + 1]]`.

    `usable` counts the distinct dictionary pairs whose two words are both in
    the vocabulary: the trainer warns when it is a small share of the
    dictionary and stops when it is zero (nothing would be tied).
    """

    offsets: np.ndarray  # int64, n_ids + 1
    ids: np.ndarray      # int32
    usable: int


def translation_table(pairs: Iterable[tuple[str, str]], src_index: Mapping[str, int],
                      tgt_index: Mapping[str, int], n_ids: int) -> TranslationTable:
    """The CSR table of the pairs over global ids, in both directions.

    `src_index` / `tgt_index` map the words of each language (without
    `lang:` prefix) to global ids below `n_ids`. Pairs with a word outside
    the vocabulary are dropped; repeated pairs count once; each row lists
    its translations in increasing id order.
    """
    src_ids, tgt_ids = [], []
    for source, target in pairs:
        s, t = src_index.get(source), tgt_index.get(target)
        if s is not None and t is not None:
            src_ids.append(s)
            tgt_ids.append(t)
    src = np.asarray(src_ids, dtype=np.int64)
    tgt = np.asarray(tgt_ids, dtype=np.int64)
    _check_range(src, n_ids, "src_index")
    _check_range(tgt, n_ids, "tgt_index")
    keep = src != tgt  # a word listed as its own translation would only dilute the draw
    usable = len(np.unique(src[keep] * n_ids + tgt[keep])) if n_ids else 0
    return _csr(np.concatenate((src[keep], tgt[keep])), np.concatenate((tgt[keep], src[keep])), n_ids, usable)


def merge_tables(tables: Sequence[TranslationTable], n_ids: int) -> TranslationTable:
    """One table holding the translations of several (en-es, en-de, ...);
    `usable` is the sum of theirs. The kernel takes one table per task."""
    rows, cols = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for table in tables:
        if len(table.offsets) != n_ids + 1:
            raise ConfigError(f"a translation table over {len(table.offsets) - 1} ids cannot be merged into "
                              f"one over {n_ids}")
        rows.append(np.repeat(np.arange(n_ids, dtype=np.int64), np.diff(table.offsets)))
        cols.append(table.ids.astype(np.int64))
    return _csr(np.concatenate(rows), np.concatenate(cols), n_ids, sum(t.usable for t in tables))


def _check_range(ids: np.ndarray, n_ids: int, name: str) -> None:
    if ids.size and (ids.min() < 0 or ids.max() >= n_ids):
        bad = ids[(ids < 0) | (ids >= n_ids)][0]
        raise ConfigError(f"{name} maps a word to id {bad}, outside 0..{n_ids - 1}")


def _csr(rows: np.ndarray, cols: np.ndarray, n_ids: int, usable: int) -> TranslationTable:
    keys = np.unique(rows * max(n_ids, 1) + cols)  # sorted by row, then column; duplicates gone
    rows, cols = keys // max(n_ids, 1), keys % max(n_ids, 1)
    offsets = np.zeros(n_ids + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_ids), out=offsets[1:])
    return TranslationTable(offsets, cols.astype(np.int32), int(usable))


def refine(embeddings: Embeddings, pivot_lang: str,
           dictionaries: Sequence[DictionarySpec | tuple[tuple[str, str], Sequence[tuple[str, str]]]],
           ) -> Embeddings:
    """Maps every other language's rows onto the pivot language's space.

    `embeddings` has `lang:word` keys. `dictionaries` are DictionarySpecs (read
    from their path) or `((src_lang, tgt_lang), pairs)` tuples. For each
    language L other than the pivot, the pairs of every dictionary between L
    and the pivot (either direction) whose two words are in the vocabulary
    fit an orthogonal W (`procrustes`) on length-normalized rows, so frequent
    words with long vectors do not dominate the fit (Artetxe et al., 2016);
    W is then applied to all of L's raw rows. Being orthogonal, it keeps the
    cosines within L, so monolingual quality is unchanged.

    A language with no usable pair to the pivot (no dictionary to it, or only
    through a third language) is left as is, with a warning. Returns new
    Embeddings; the pivot's rows are unchanged.
    """
    languages = embeddings.languages
    if pivot_lang not in languages:
        raise ConfigError(f"refine: pivot language '{pivot_lang}' has no words in the embeddings "
                          f"(languages: {', '.join(languages) or 'none: keys have no lang: prefix'})")
    rows = _rows_by_language(embeddings.words)
    pairs_to_pivot: dict[str, list[tuple[str, str]]] = {}  # lang -> (word in lang, pivot word)
    for entry in dictionaries:
        if isinstance(entry, DictionarySpec):
            langs, pairs = tuple(entry.langs), read_dictionary(entry.path, tuple(entry.langs))
        else:
            langs, pairs = tuple(entry[0]), entry[1]
        if langs[1] == pivot_lang:
            pairs_to_pivot.setdefault(langs[0], []).extend(pairs)
        elif langs[0] == pivot_lang:
            pairs_to_pivot.setdefault(langs[1], []).extend((t, s) for s, t in pairs)

    vectors = np.array(embeddings.vectors, dtype=np.float32, copy=True)
    for lang in languages:
        if lang == pivot_lang:
            continue
        own, pivot = rows[lang], rows[pivot_lang]
        found = [(own[w], pivot[p]) for w, p in dict.fromkeys(pairs_to_pivot.get(lang, ()))
                 if w in own and p in pivot]
        if not found:
            reason = ("no dictionary to it" if lang not in pairs_to_pivot
                      else "none of its dictionary pairs is in the vocabulary")
            warnings.warn(f"refine: language '{lang}' left as is: {reason} (pivot '{pivot_lang}')",
                          stacklevel=2)
            continue
        if len(found) < embeddings.dim:
            warnings.warn(f"refine: only {len(found)} usable pairs between '{lang}' and '{pivot_lang}' for "
                          f"{embeddings.dim} dimensions: the mapping is poorly determined", stacklevel=2)
        source_rows, pivot_rows = (np.asarray(r, dtype=np.int64) for r in zip(*found))
        w = procrustes(_unit(vectors[source_rows]), _unit(vectors[pivot_rows]))
        lang_rows = np.asarray(list(own.values()), dtype=np.int64)
        for begin in range(0, len(lang_rows), _BLOCK_ROWS):  # bounded memory for large vocabularies
            block = lang_rows[begin:begin + _BLOCK_ROWS]
            vectors[block] = (vectors[block].astype(np.float64) @ w).astype(np.float32)
    return Embeddings(embeddings.words, vectors, embeddings.counts)


def _rows_by_language(words: Sequence[str]) -> dict[str, dict[str, int]]:
    rows: dict[str, dict[str, int]] = {}
    for i, key in enumerate(words):
        lang, sep, word = key.partition(":")
        if sep:
            rows.setdefault(lang, {})[word] = i
    return rows


def _unit(matrix: np.ndarray) -> np.ndarray:
    matrix = matrix.astype(np.float64)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)
