"""Character n-grams of words, hashed as fastText hashes them, and the vectors they give.

A word's n-grams are the substrings of ``<word>`` of ``min_n`` to ``max_n``
characters (a character is a UTF-8 lead byte and its continuation bytes, as in
fastText; ``<`` and ``>`` alone never count). Each n-gram falls in one of
``buckets`` rows: FNV-1a over its UTF-8 bytes, 32 bits, where a byte >= 0x80 is
first sign-extended (fastText hashes ``int8_t`` chars), modulo ``buckets``.

The input matrix ``w_in`` holds the word rows first and the bucket rows after
them (fastText's layout): row ``n_words + b`` is bucket ``b``. A word's vector is
the mean of its own row and its n-grams' rows; an unseen word's is the mean of
its n-grams' rows (zero when it has none). fastText's ``</s>`` has no n-grams.

Languages. By default (``sharing="all"``) an n-gram is one row in every language,
so cognates and shared stems tie the languages: on joint en-es/de/fr training it
tripled BLI P@1 (benchmarks/results/subwords-joint-bli-4M-1epoch.md). With
``sharing="language"`` each language hashes apart, through a per-language rotation:
language ``l``'s n-gram ``g`` goes to bucket ``(hash(g) % buckets + shift_l) % buckets``,
``shift_l = l * buckets // L``, so the same n-gram in two languages lands in two
rows. A rotation, rather than hashing a language prefix or seed into the string,
keeps every language exportable as an exact fastText model of the same size: its
bucket matrix is the shared one rolled by ``-shift_l`` (a prefix or seed changes
which n-grams collide, which no reordering of rows can undo). A model of one
language always has shift 0: it is a fastText model as it stands.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError, UnknownWordError

MIN_N, MAX_N, BUCKETS = 3, 6, 2_000_000   # fastText's defaults (gensim: min_n, max_n, bucket)
SHARING = ("language", "all")
EOS = "</s>"                               # fastText's end-of-line token: it has no n-grams
MAX_ROWS = 2**31 - 1                       # rows of w_in are int32 in the table

FNV_OFFSET, FNV_PRIME = 2166136261, 16777619
WORDS_PER_BLOCK = 1 << 17                  # bounds the temporaries of build_table
BLOCK_BYTES = 1 << 21                      # compose's accumulator: cache-sized


@dataclass(frozen=True)
class SubwordSpec:
    """How words are cut and hashed."""

    min_n: int = MIN_N
    max_n: int = MAX_N
    buckets: int = BUCKETS
    sharing: str = "all"

    def __post_init__(self):
        if not 1 <= self.min_n <= self.max_n:
            raise ConfigError(f"subwords need 1 <= min_n <= max_n, got min_n={self.min_n}, "
                              f"max_n={self.max_n}")
        if not 1 <= self.buckets <= MAX_ROWS:
            raise ConfigError(f"buckets must be between 1 and {MAX_ROWS}, got {self.buckets}")
        if self.sharing not in SHARING:
            raise ConfigError(f"subword_sharing must be one of {', '.join(SHARING)}, got {self.sharing!r}")

    def shifts(self, n_languages: int) -> np.ndarray:
        """The bucket rotation of each language (int64): see the module docstring."""
        if self.sharing == "all":
            return np.zeros(n_languages, dtype=np.int64)
        return np.arange(n_languages, dtype=np.int64) * self.buckets // max(n_languages, 1)


@dataclass(frozen=True)
class SubwordTable:
    """The rows of ``w_in`` that make each word's vector, in CSR form.

    Word ``i``'s rows are ``rows[offsets[i]:offsets[i + 1]]``: its own row first
    (when it has one), then its n-grams' rows ``n_words + bucket`` in fastText's
    order (by start character, then length; repeats kept, as fastText keeps them).
    """

    offsets: np.ndarray   # int64, len(words) + 1, offsets[0] == 0
    rows: np.ndarray      # int32, rows of w_in

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def rows_of(self, i: int) -> np.ndarray:
        return self.rows[self.offsets[i]:self.offsets[i + 1]]


# ---------------------------------------------------------------------------------------------
# Reference: one word at a time, plain Python. The vectorized builder must agree with it.

def fnv1a(data: bytes) -> int:
    """fastText's hash: 32-bit FNV-1a where bytes >= 0x80 are sign-extended first."""
    h = FNV_OFFSET
    for byte in data:
        h = ((h ^ (byte | 0xFFFFFF00 if byte >= 0x80 else byte)) * FNV_PRIME) & 0xFFFFFFFF
    return h


def ngrams(word: str, min_n: int = MIN_N, max_n: int = MAX_N) -> list[bytes]:
    """The n-grams of ``<word>`` (UTF-8 bytes) in fastText's order."""
    if word == EOS:
        return []
    data = f"<{word}>".encode("utf-8", "surrogateescape")
    starts = [i for i, byte in enumerate(data) if byte & 0xC0 != 0x80] + [len(data)]
    chars = len(starts) - 1
    return [data[starts[i]:starts[i + n]]
            for i in range(chars) for n in range(min_n, min(max_n, chars - i) + 1)
            if not (n == 1 and i in (0, chars - 1))]


def ngram_buckets(word: str, spec: SubwordSpec = SubwordSpec(), shift: int = 0) -> list[int]:
    """The buckets of a word's n-grams (not yet offset by the number of words)."""
    return [(fnv1a(g) % spec.buckets + shift) % spec.buckets for g in ngrams(word, spec.min_n, spec.max_n)]


# ---------------------------------------------------------------------------------------------
# Vectorized: a whole vocabulary at once.

def build_table(words: Sequence[str], spec: SubwordSpec, n_words: int,
                own_rows: np.ndarray | None = None, shifts: np.ndarray | int = 0) -> SubwordTable:
    """The :class:`SubwordTable` of `words`.

    Parameters
    ----------
    words : the words, without language prefix.
    spec : the n-gram lengths, buckets and sharing.
    n_words : rows of w_in before the first bucket (the vocabulary's size).
    own_rows : each word's own row of w_in, -1 for none (an unseen word);
        default ``0 .. len(words) - 1`` (the vocabulary itself).
    shifts : each word's bucket rotation (one int for all), from :meth:`SubwordSpec.shifts`.
    """
    if n_words + spec.buckets > MAX_ROWS:
        raise ConfigError(f"{n_words} words + {spec.buckets} buckets exceed {MAX_ROWS} rows")
    count = len(words)
    own = np.arange(count, dtype=np.int64) if own_rows is None else np.asarray(own_rows, dtype=np.int64)
    shift = np.broadcast_to(np.asarray(shifts, dtype=np.int64), (count,))
    if own.shape != (count,):
        raise ConfigError(f"own_rows must have one entry per word ({count}), got shape {own.shape}")
    parts = [_block(words[lo:lo + WORDS_PER_BLOCK], spec, n_words, own[lo:lo + WORDS_PER_BLOCK],
                    shift[lo:lo + WORDS_PER_BLOCK]) for lo in range(0, count, WORDS_PER_BLOCK)]
    sizes = [np.diff(offsets) for offsets, _ in parts]
    offsets = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(np.concatenate(sizes) if sizes else [], out=offsets[1:])
    rows = np.concatenate([r for _, r in parts]) if parts else np.zeros(0, np.int32)
    return SubwordTable(offsets, rows)


def spec_of(config) -> SubwordSpec | None:
    """The n-grams a :class:`mtlembed.config.TrainConfig` trains; None without ``subwords``."""
    if not config.subwords:
        return None
    return SubwordSpec(config.min_n, config.max_n, config.buckets, config.subword_sharing)


def vocabulary_table(vocab, spec: SubwordSpec) -> SubwordTable:
    """The table of a :class:`mtlembed.vocab.Vocabulary`: word ``i`` is row ``i``, buckets
    follow the ``len(vocab)`` word rows, each word hashed within its language."""
    shifts = spec.shifts(len(vocab.languages))[vocab.language_of_ids()]
    return build_table(vocab.words, spec, len(vocab), shifts=shifts)


def clear_unused_rows(w_in: np.ndarray, table: SubwordTable) -> int:
    """Zeroes the rows of `w_in` that no word of `table` uses, and returns how many. Training never
    reads nor writes them (the buckets of n-grams no vocabulary word has), so the run is the same;
    only unseen words' vectors change: a random start there is noise in every unseen word that hits
    such a bucket (Rare Words from n-grams on 500k words: 0.15 -> 0.19, no change on 4M x 5 epochs;
    benchmarks/results/subwords-sg-quality.md)."""
    used = np.zeros(len(w_in), dtype=bool)
    used[table.rows] = True
    unused = np.flatnonzero(~used)
    w_in[unused] = 0
    return len(unused)


def trained_vectors(vocab, w_in: np.ndarray, spec: SubwordSpec, dim: int,
                    table: SubwordTable | None = None) -> tuple[np.ndarray, SubwordVectors]:
    """After training: every vocabulary word's vector (own row and n-grams, as fastText's
    ``getWordVector``), and a :class:`SubwordVectors` for any other word. `w_in` may be
    padded past `dim` (the kernel's row length): the padding is left out. `table` is the
    vocabulary's (the one the run trained with; built here when not given)."""
    rows = w_in[:, :dim]
    model = SubwordVectors(vocab.keys(), rows, spec, vocab.languages)
    return compose(vocabulary_table(vocab, spec) if table is None else table, rows), model


def _block(words, spec: SubwordSpec, n_words: int, own: np.ndarray, shift: np.ndarray):
    """build_table for one block of words: (offsets, rows)."""
    encoded = [w.encode("utf-8", "surrogateescape") for w in words]
    data = np.frombuffer(b"<" + b"><".join(encoded) + b">", dtype=np.uint8)
    word_bytes = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)) + 2
    word_start = np.concatenate(([0], np.cumsum(word_bytes)))

    # Characters: a lead byte starts one. The next word's '<' ends each word's last character.
    char_pos = np.flatnonzero((data & 0xC0) != 0x80)
    char_end = np.append(char_pos[1:], len(data))
    char_word = np.searchsorted(word_start, char_pos, side="right") - 1
    word_chars = np.bincount(char_word, minlength=len(words))
    first_char = np.concatenate(([0], np.cumsum(word_chars)))
    index = np.arange(len(char_pos)) - first_char[char_word]      # character index within <word>
    length = word_chars[char_word]

    # N-grams starting at each character: lengths n_lo .. n_hi, laid out start by start.
    n_lo = np.where((spec.min_n == 1) & (index == 0), 2, spec.min_n)
    n_hi = np.minimum(spec.max_n, length - index)
    n_hi = np.where((spec.min_n == 1) & (index == length - 1), 0, n_hi)
    eos = np.fromiter((w == EOS for w in words), dtype=bool, count=len(words))
    n_hi = np.where(eos[char_word], 0, n_hi)
    per_start = np.maximum(n_hi - n_lo + 1, 0)
    start_base = np.concatenate(([0], np.cumsum(per_start)))
    ngram_count = np.add.reduceat(per_start, first_char[:-1]) if len(words) else per_start  # >= 2 chars each

    has_own = (own >= 0).astype(np.int64)
    sizes = ngram_count + has_own
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    rows = np.empty(int(offsets[-1]), dtype=np.int32)
    rows[offsets[:-1][has_own == 1]] = own[has_own == 1]
    # Where each start's n-grams go: its rank among n-grams, moved past the own rows up to its word.
    dest_base = start_base[:-1] + np.cumsum(has_own)[char_word]

    signed = data.astype(np.uint32)
    signed[data >= 0x80] |= np.uint32(0xFFFFFF00)
    hashes = np.full(len(char_pos), FNV_OFFSET, dtype=np.uint32)
    active = np.arange(len(char_pos))
    for n in range(1, spec.max_n + 1):
        active = active[n <= n_hi[active]]
        if not len(active):
            break
        last = active + n - 1                                      # the character added now
        h = hashes[active]
        pos, end = char_pos[last], char_end[last]
        for byte in range(int((end - pos).max())):
            more = pos + byte < end
            h[more] = (h[more] ^ signed[pos[more] + byte]) * np.uint32(FNV_PRIME)
        hashes[active] = h
        emit = active[n >= n_lo[active]]
        if len(emit):
            bucket = (hashes[emit].astype(np.int64) % spec.buckets + shift[char_word[emit]]) % spec.buckets
            rows[dest_base[emit] + n - n_lo[emit]] = n_words + bucket
    return offsets, rows


# ---------------------------------------------------------------------------------------------
# Vectors.

def compose(table: SubwordTable, w_in: np.ndarray) -> np.ndarray:
    """Each word's vector: the mean of its rows of `w_in` (float32, zero when it has none).

    `w_in` may be a memory map. Words go a block at a time, longest first, so that
    step ``k`` adds the ``k``-th row of a prefix of the block: contiguous sums into a
    small accumulator instead of one huge gather (3x faster than ``np.add.reduceat``)."""
    count, dim = len(table), w_in.shape[1]
    # np.take copies the whole matrix first, at every step, unless it is C-contiguous and aligned: not
    # so the trainer's padded w_in[:, :dim], nor a fastText file mapped at an offset that is not a
    # multiple of 4. Those rows are gathered by indexing.
    contiguous = w_in.flags.c_contiguous and w_in.flags.aligned
    out = np.zeros((count, dim), dtype=np.float32)
    sizes = np.diff(table.offsets)
    block = max(1, BLOCK_BYTES // (4 * max(dim, 1)))
    total = np.empty((min(block, count), dim), dtype=np.float32)
    row = np.empty_like(total)
    for lo in range(0, count, block):
        order = np.argsort(-sizes[lo:lo + block], kind="stable")
        size, first = sizes[lo:lo + block][order], table.offsets[lo:lo + block][order]
        filled = int(np.count_nonzero(size))
        total[:filled] = 0
        for k in range(int(size[0]) if filled else 0):
            m = int(np.count_nonzero(size > k))            # the words with a k-th row: a prefix
            if contiguous:
                np.take(w_in, table.rows[first[:m] + k], axis=0, out=row[:m])
            else:
                row[:m] = w_in[table.rows[first[:m] + k]]
            total[:m] += row[:m]
        out[lo + order[:filled]] = total[:filled] / size[:filled, None].astype(np.float32)
    return out


class SubwordVectors:
    """A vector for any word, as fastText's ``getWordVector`` gives it.

    Parameters
    ----------
    keys : the vocabulary's keys, row order of `w_in` (``lang:word`` for several languages).
    w_in : ``len(keys) + spec.buckets`` rows: words, then buckets (a memory map is fine).
    spec : the n-gram lengths, buckets and sharing the rows were trained with.
    languages : the languages in vocabulary order, for a joint model (keys ``lang:word``);
        None for one language (plain keys).
    """

    def __init__(self, keys: Sequence[str], w_in: np.ndarray, spec: SubwordSpec,
                 languages: Sequence[str] | None = None):
        if w_in.ndim != 2 or w_in.shape[0] != len(keys) + spec.buckets:
            raise ConfigError(f"w_in must have {len(keys)} word rows + {spec.buckets} bucket rows, "
                              f"got shape {w_in.shape}")
        self.keys = keys
        self.w_in = w_in
        self.spec = spec
        self.languages = list(languages) if languages and len(languages) > 1 else None
        self._shift = dict(zip(self.languages or [""], spec.shifts(len(self.languages or [""])).tolist()))
        self._index: dict[str, int] | None = None
        self._prefix = ""  # for_language's: put before every key asked for

    def for_language(self, language: str) -> SubwordVectors:
        """One language of a joint model, asked with plain words (``casa`` for ``es:casa``)."""
        if not self.languages or language not in self.languages:
            raise UnknownWordError(f"no language {language!r} in the model: "
                                   f"{', '.join(self.languages or ['(one language, no prefixes)'])}")
        view = copy.copy(self)  # shares the rows and the index
        view._prefix = f"{language}:"
        return view

    @property
    def index(self) -> dict[str, int]:
        if self._index is None:
            self._index = {k: i for i, k in enumerate(self.keys)}
        return self._index

    def table(self, keys: Sequence[str]) -> SubwordTable:
        """The rows that make each of `keys`' vectors."""
        keys = [self._prefix + key for key in keys] if self._prefix else keys
        words, shifts = list(keys), np.zeros(len(keys), dtype=np.int64)
        if self.languages:
            for i, key in enumerate(keys):
                language, _, word = key.partition(":")
                if language not in self._shift or not word:
                    raise UnknownWordError(f"{key!r}: a joint model's keys are lang:word, with lang one of "
                                           f"{', '.join(self.languages)}")
                words[i], shifts[i] = word, self._shift[language]
        own = np.fromiter((self.index.get(k, -1) for k in keys), dtype=np.int64, count=len(keys))
        return build_table(words, self.spec, len(self.keys), own, shifts)

    def vectors(self, keys: Sequence[str]) -> np.ndarray:
        """The vectors of `keys`, seen or not: shape ``(len(keys), dim)``, float32."""
        return compose(self.table(keys), self.w_in)

    def vector(self, key: str) -> np.ndarray:
        return self.vectors([key])[0]
