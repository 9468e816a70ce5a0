"""Cross-lingual ties: seed dictionaries, the code-switching table, Procrustes.

* `read_dictionary` (dictionary.py, shared with the BLI evaluation):
  MUSE-format dictionaries (`source target` per line, space- or
  tab-separated; the xling/Glavaš et al. files are tab-separated).
* `translation_table`: the dictionary as a CSR table over global ids, both
  directions, which the kernel uses for code-switching (sgns.h, Translations).
* `dictionary_pairs`: a dictionary's pairs, from its file or induced from a
  parallel text (`induced_from`, align/dice.py).
* `refine`: the post-hoc orthogonal map of each language onto a pivot
  language by mtlembed align (Procrustes, MUSE's iterative refinement or
  VecMap's self-learning), through dictionaries between any two languages.
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

__all__ = ["TranslationTable", "dictionary_pairs", "id_table", "merge_tables", "procrustes",
           "read_dictionary", "refine", "translation_table"]


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
    return id_table(src[keep], tgt[keep], n_ids)


def id_table(src: np.ndarray, tgt: np.ndarray, n_ids: int) -> TranslationTable:
    """The CSR table of pairs of global ids (src[i], tgt[i]), in both directions; `usable` counts the
    distinct pairs."""
    src, tgt = np.asarray(src, np.int64), np.asarray(tgt, np.int64)
    usable = len(np.unique(src * n_ids + tgt)) if n_ids else 0
    return _csr(np.concatenate((src, tgt)), np.concatenate((tgt, src)), n_ids, usable)


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


def dictionary_pairs(spec: DictionarySpec, data=None, parallel: Sequence = ()) -> list[tuple[str, str]]:
    """A dictionary's (first-language word, second-language word) pairs: read from its file, or induced
    from the parallel text it names (Dice over aligned lines, mutual best: align/dice.py), which needs
    the run's EncodedCorpus `data` and ParallelSpecs `parallel`."""
    if spec.path is not None:
        return read_dictionary(spec.path, tuple(spec.langs))
    if data is None:
        raise ConfigError(f"{spec.name}: an induced dictionary is made from the corpus as read for training")
    from .align.dice import pairs_from_encoded

    text = spec.source_text(parallel)
    found = pairs_from_encoded(data, [list(parallel).index(text)], tuple(text.langs))
    return found if tuple(text.langs) == tuple(spec.langs) else [(t, s) for s, t in found]


def refine(embeddings: Embeddings, pivot_lang: str,
           dictionaries: Sequence[DictionarySpec | tuple[tuple[str, str], Sequence[tuple[str, str]]]],
           method: str = "procrustes") -> Embeddings:
    """Maps every other language's rows onto the pivot language's space.

    `embeddings` has `lang:word` keys. `dictionaries` are DictionarySpecs (read
    from their path) or `((src_lang, tgt_lang), pairs)` tuples, between any two
    languages. `method` is mtlembed align's (procrustes, iterative,
    self-learning): each language is fitted on length-normalized rows, so
    frequent words with long vectors do not dominate the fit (Artetxe et al.,
    2016), and the orthogonal W is then applied to all its raw rows: the
    cosines within a language, so its monolingual quality, are unchanged.

    Languages are placed outward from the pivot: first those with a dictionary
    to it, then those with one to a language already placed (mapped onto that
    one, which is in the pivot's space by then), and so on. With self-learning,
    a language with no dictionary path to the pivot is seeded by the words
    spelled the same in both; otherwise it is left as is, with a warning.
    Returns new Embeddings; the pivot's rows are unchanged.
    """
    from .align import align

    languages = embeddings.languages
    if pivot_lang not in languages:
        raise ConfigError(f"refine: pivot language '{pivot_lang}' has no words in the embeddings "
                          f"(languages: {', '.join(languages) or 'none: keys have no lang: prefix'})")
    rows = _rows_by_language(embeddings.words)
    pairs_between: dict[tuple[str, str], list[tuple[str, str]]] = {}  # (a, b) -> (word in a, word in b)
    for entry in dictionaries:
        if isinstance(entry, DictionarySpec):
            langs, pairs = tuple(entry.langs), dictionary_pairs(entry)
        else:
            langs, pairs = tuple(entry[0]), entry[1]
        pairs_between.setdefault(langs, []).extend(pairs)
        pairs_between.setdefault(langs[::-1], []).extend((t, s) for s, t in pairs)

    vectors = np.array(embeddings.vectors, dtype=np.float32, copy=True)
    placed, waiting = [pivot_lang], [lang for lang in languages if lang != pivot_lang]
    while waiting:
        anchor = None
        for lang in waiting:  # the next language with usable pairs to one already placed (most pairs)
            usable = {other: _usable(pairs_between.get((lang, other), ()), rows[lang], rows[other])
                      for other in placed}
            other = max(placed, key=lambda o: len(usable[o]))
            if usable[other]:
                anchor = lang, other, usable[other]
                break
        if anchor is None:
            lang, other, found = waiting[0], pivot_lang, None
            spelled_alike = method == "self-learning" and any(w in rows[pivot_lang] for w in rows[lang])
            if not spelled_alike:  # self-learning seeds with identical strings: there are none
                reason = ("none of its dictionary pairs is in the vocabulary" if any(
                    (lang, o) in pairs_between for o in languages) else "no dictionary to it")
                if method == "self-learning":
                    reason += " and no word is spelled as one of the pivot's"
                warnings.warn(f"refine: language '{lang}' left as is: {reason} (pivot '{pivot_lang}')",
                              stacklevel=2)
                waiting.remove(lang)
                continue
        else:
            lang, other, found = anchor
            if len(found) < embeddings.dim:
                warnings.warn(f"refine: only {len(found)} usable pairs between '{lang}' and '{other}' for "
                              f"{embeddings.dim} dimensions: the mapping is poorly determined", stacklevel=2)
        source, target = (_side(vectors, rows[name]) for name in (lang, other))
        _, _, info = align(source, target, found, method, normalize=("unit",), multistep=False)
        lang_rows = np.asarray(list(rows[lang].values()), dtype=np.int64)
        for begin in range(0, len(lang_rows), _BLOCK_ROWS):  # bounded memory for large vocabularies
            block = lang_rows[begin:begin + _BLOCK_ROWS]
            vectors[block] = (vectors[block].astype(np.float64) @ info["mapping"]).astype(np.float32)
        placed.append(lang)
        waiting.remove(lang)
    return Embeddings(embeddings.words, vectors, embeddings.counts)


def _usable(pairs, own: Mapping[str, int], other: Mapping[str, int]) -> list[tuple[str, str]]:
    """The distinct pairs whose two words are in the two languages' vocabularies."""
    return [(w, p) for w, p in dict.fromkeys(pairs) if w in own and p in other]


def _side(vectors: np.ndarray, rows: Mapping[str, int]):
    """One language's (words, vectors), most frequent first (its rows are in vocabulary order)."""
    return list(rows), vectors[np.fromiter(rows.values(), np.int64, len(rows))]


def _rows_by_language(words: Sequence[str]) -> dict[str, dict[str, int]]:
    rows: dict[str, dict[str, int]] = {}
    for i, key in enumerate(words):
        lang, sep, word = key.partition(":")
        if sep:
            rows.setdefault(lang, {})[word] = i
    return rows
