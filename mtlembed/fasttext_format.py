"""fastText's binary model format (``.bin``): written from our matrices, read from any model.

Layout (little-endian, as fastText writes it on every platform it ships for):

- magic ``793712314`` and version ``12`` (int32 each);
- the args: dim, ws, epoch, minCount, neg, wordNgrams, loss, model, bucket, minn,
  maxn, lrUpdateRate (int32 each), then t (float64);
- the dictionary: size, nwords, nlabels (int32), ntokens, pruneidx_size (int64),
  then each entry as its UTF-8 bytes, a NUL, its count (int64) and type (int8:
  0 word, 1 label), then pruneidx_size pairs of int32;
- quant_input (bool), the input matrix: rows, cols (int64) and rows x cols float32,
  the ``nwords`` word rows then the ``bucket`` n-gram rows;
- qout (bool), the output matrix the same way.

Reading maps the matrices from the file (``np.memmap``): a published ``cc.*.bin``
(7 GB) opens in seconds and only the rows used are read.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .corpus import open_regular
from .errors import ConfigError, FormatError
from .subwords import SubwordSpec, SubwordVectors, build_table, compose

MAGIC, VERSION = 793712314, 12
READABLE_VERSIONS = (11, 12)
LOSSES = {"hs": 1, "ns": 2, "softmax": 3, "ova": 4}
MODELS = {"cbow": 1, "sg": 2, "sup": 3}
ARG_NAMES = ("dim", "ws", "epoch", "min_count", "neg", "word_ngrams", "loss", "model", "bucket",
             "minn", "maxn", "lr_update_rate")
_HEADER = struct.Struct("<2i")
_ARGS = struct.Struct("<12id")
_DICT = struct.Struct("<3i2q")
_ENTRY = struct.Struct("<qb")
_MATRIX = struct.Struct("<2q")
_BOOL = struct.Struct("<B")
ROWS_PER_WRITE = 1 << 14


@dataclass
class FastTextArgs:
    """A model's training arguments, as fastText stores them (gensim's names in comments)."""

    dim: int = 100            # vector_size
    ws: int = 5               # window
    epoch: int = 5            # epochs
    min_count: int = 5
    neg: int = 5              # negative
    word_ngrams: int = 1
    loss: int = LOSSES["ns"]
    model: int = MODELS["sg"]
    bucket: int = 2_000_000
    minn: int = 3             # min_n
    maxn: int = 6             # max_n
    lr_update_rate: int = 100
    t: float = 1e-4           # sample


@dataclass
class FastTextModel:
    """A fastText model read by :func:`read_fasttext`. The matrices may be memory maps."""

    path: str
    args: FastTextArgs
    words: list[str]
    counts: np.ndarray            # int64, one per word
    input_matrix: np.ndarray      # float32, nwords + bucket rows
    output_matrix: np.ndarray     # float32
    labels: list[str] = field(default_factory=list)

    @property
    def word_vectors(self) -> np.ndarray:
        """The words' own rows (not their composed vectors)."""
        return self.input_matrix[:len(self.words)]

    @property
    def bucket_vectors(self) -> np.ndarray:
        return self.input_matrix[len(self.words):]


class FastTextVectors(NamedTuple):
    """A fastText model as vectors (:func:`load_vectors`)."""

    words: list[str]
    counts: np.ndarray
    vectors: np.ndarray                 # float32, the words' vectors as fastText's get_word_vector gives them
    subwords: SubwordVectors | None     # any word's vector; None for a model without n-grams


def subword_spec(args: FastTextArgs) -> SubwordSpec | None:
    """The n-grams a model was trained with; None when it has none (maxn 0, no buckets)."""
    if args.bucket < 1 or args.maxn < max(args.minn, 1):
        return None
    return SubwordSpec(max(args.minn, 1), args.maxn, args.bucket, sharing="all")


def load_vectors(path, limit: int | None = None) -> FastTextVectors:
    """The words of a fastText ``.bin`` (the `limit` most frequent when given) with their
    vectors: each the mean of the word's own row and its n-grams' rows, as fastText and
    gensim compute them. ``subwords`` gives the vector of any other word."""
    model = read_fasttext(path)
    words, counts = model.words[:limit], model.counts[:limit]
    spec = subword_spec(model.args)
    if spec is None:
        return FastTextVectors(words, counts, np.array(model.word_vectors[:limit], dtype=np.float32), None)
    vectors = compose(build_table(words, spec, len(model.words)), model.input_matrix)
    return FastTextVectors(words, counts, vectors, SubwordVectors(model.words, model.input_matrix, spec))


def is_fasttext(path) -> bool:
    """Whether `path` starts with fastText's magic number (a word2vec .bin does not)."""
    try:
        with open_regular(path) as handle:  # a FIFO or a device is no model, and must not block
            head = handle.read(4)
    except OSError:
        return False
    return len(head) == 4 and struct.unpack("<i", head)[0] == MAGIC


def read_fasttext(path) -> FastTextModel:
    """Read a fastText ``.bin`` model; its matrices are memory maps of the file.

    Raises
    ------
    FormatError
        Not a fastText model, an unsupported version, a quantized model (``.ftz``),
        or a damaged file; the message names the file and what is wrong.
    """
    path = os.fspath(path)
    try:
        handle = open_regular(path)
    except OSError as exc:
        raise FormatError(f"{path}: cannot read: {exc.strerror}") from None
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if size < _HEADER.size:
            raise FormatError(f"{path}: not a fastText model: {size} bytes")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _Reader(path, data).model()


class _Reader:
    """One pass over a model's bytes, with every field checked before it is used."""

    def __init__(self, path: str, data: mmap.mmap):
        self.path, self.data, self.pos = path, data, 0

    def fail(self, what: str):
        raise FormatError(f"{self.path}: {what}")

    def unpack(self, layout: struct.Struct, what: str) -> tuple:
        if self.pos + layout.size > len(self.data):
            self.fail(f"truncated in the {what} (byte {self.pos} of {len(self.data)})")
        values = layout.unpack_from(self.data, self.pos)
        self.pos += layout.size
        return values

    def model(self) -> FastTextModel:
        magic, version = self.unpack(_HEADER, "header")
        if magic != MAGIC:
            self.fail(f"not a fastText model (magic number {magic}, expected {MAGIC})")
        if version not in READABLE_VERSIONS:
            self.fail(f"unsupported fastText version {version} (readable: "
                      f"{', '.join(map(str, READABLE_VERSIONS))})")
        values = self.unpack(_ARGS, "arguments")
        args = FastTextArgs(*values)
        if version == 11 and args.model == MODELS["sup"]:
            args.maxn = 0  # fastText's rule: version 11 supervised models had no character n-grams
        self.check_args(args)
        words, counts, labels = self.dictionary()
        input_matrix = self.matrix("input", args.dim)
        if input_matrix.shape[0] != len(words) + args.bucket:
            self.fail(f"the input matrix has {input_matrix.shape[0]} rows, expected {len(words)} words "
                      f"+ {args.bucket} buckets")
        output_matrix = self.matrix("output", args.dim)
        if self.pos != len(self.data):
            self.fail(f"{len(self.data) - self.pos} unexpected bytes after the output matrix")
        self.check_finite("input", input_matrix, words)
        self.check_finite("output", output_matrix, words + labels)
        return FastTextModel(self.path, args, words, counts, input_matrix, output_matrix, labels)

    def check_args(self, args: FastTextArgs) -> None:
        if args.dim < 1 or args.bucket < 0 or args.minn < 0 or args.maxn < 0:
            self.fail(f"bad arguments: dim {args.dim}, bucket {args.bucket}, "
                      f"minn {args.minn}, maxn {args.maxn}")
        if args.model not in MODELS.values() or args.loss not in LOSSES.values():
            self.fail(f"bad arguments: model {args.model}, loss {args.loss}")

    def check_finite(self, name: str, matrix: np.ndarray, words: list[str]) -> None:
        # A NaN or infinite value would pass silently into every score: refused, as word2vec files' are.
        row = _first_nonfinite_row(matrix)
        if row is not None:
            what = repr(words[row]) if row < len(words) else f"bucket {row - len(words)}"
            self.fail(f"row {row} ({what}) of the {name} matrix holds a NaN or infinite value")

    def dictionary(self) -> tuple[list[str], np.ndarray, list[str]]:
        size, nwords, nlabels, _ntokens, pruned = self.unpack(_DICT, "dictionary")
        if nwords < 0 or nlabels < 0 or size != nwords + nlabels:
            self.fail(f"bad dictionary sizes: {size} entries, {nwords} words, {nlabels} labels")
        if pruned > 0:
            self.fail("unsupported: a pruned (quantized) model")
        minimum_entry = 1 + _ENTRY.size
        if size * minimum_entry > len(self.data) - self.pos:
            self.fail(f"truncated: {size} dictionary entries cannot fit in the file")
        entries, counts, types = [], np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int8)
        data, pos = self.data, self.pos
        for i in range(size):  # one step per entry (its end is its NUL): a few seconds for 2M words
            end = data.find(b"\0", pos)
            if end < 0 or end + 1 + _ENTRY.size > len(data):
                self.pos = pos
                self.fail(f"truncated in dictionary entry {i}")
            entries.append(data[pos:end])
            counts[i], types[i] = _ENTRY.unpack_from(data, end + 1)
            pos = end + 1 + _ENTRY.size
        self.pos = pos
        if (types[:nwords] != 0).any() or (types[nwords:] != 1).any():
            self.fail("bad dictionary: entry types are not words (0) then labels (1)")
        if (counts < 0).any():
            self.fail(f"bad dictionary: negative count for entry {int(np.argmax(counts < 0))}")
        text = [e.decode("utf-8", "surrogateescape") for e in entries]
        return text[:nwords], counts[:nwords], text[nwords:]

    def matrix(self, name: str, dim: int) -> np.ndarray:
        (quantized,) = self.unpack(_BOOL, f"{name} matrix flag")
        if quantized == 1:
            self.fail(f"unsupported: a quantized model (.ftz: quantized {name} matrix)")
        if quantized != 0:
            self.fail(f"bad {name} matrix flag {quantized}")
        rows, cols = self.unpack(_MATRIX, f"{name} matrix shape")
        if rows < 0 or cols != dim:
            self.fail(f"bad {name} matrix shape {rows} x {cols} (dim is {dim})")
        nbytes = rows * cols * 4
        if self.pos + nbytes > len(self.data):
            self.fail(f"truncated in the {name} matrix: {rows} x {cols} floats need {nbytes} bytes, "
                      f"{len(self.data) - self.pos} left")
        matrix = np.memmap(self.path, dtype="<f4", mode="r", offset=self.pos, shape=(rows, cols)) if nbytes \
            else np.zeros((rows, cols), dtype=np.float32)
        self.pos += nbytes
        return matrix



def write_fasttext(path, words: Sequence[str], counts: np.ndarray, word_vectors: np.ndarray,
                   bucket_vectors: np.ndarray, output_vectors: np.ndarray, args: FastTextArgs,
                   bucket_shift: int = 0, group=None) -> None:
    """Write a fastText ``.bin`` model, atomically.

    Parameters
    ----------
    words, counts : the vocabulary, most frequent first (gensim re-sorts by count), counts >= 1.
    word_vectors : the words' own input rows (not composed vectors), ``(len(words), dim)``.
    bucket_vectors : the n-gram rows, ``(args.bucket, dim)``.
    output_vectors : the output rows, ``(len(words), dim)``.
    args : the arguments to record; ``dim`` and ``bucket`` must match the matrices.
    bucket_shift : the language's bucket rotation in a joint model (see mtlembed.subwords):
        row ``b`` of the file is ``bucket_vectors[(b + bucket_shift) % bucket]``.
    group : an :class:`mtlembed.atomic.AtomicGroup` to write within (renamed with its other files).
    """
    from .atomic import atomic_group

    _check_model(words, counts, word_vectors, bucket_vectors, output_vectors, args)
    encoded = [w.encode("utf-8", "surrogateescape") for w in words]
    if any(b"\0" in w or not w for w in encoded):
        raise ConfigError("fastText words cannot be empty or hold a NUL character")
    with contextlib.ExitStack() as stack:
        group = group or stack.enter_context(atomic_group())
        handle = stack.enter_context(group.write(path))
        handle.write(_HEADER.pack(MAGIC, VERSION))
        handle.write(_ARGS.pack(*(getattr(args, name) for name in ARG_NAMES), args.t))
        handle.write(_DICT.pack(len(words), len(words), 0, int(np.sum(counts, dtype=np.int64)), -1))
        handle.write(b"".join(w + b"\0" + _ENTRY.pack(int(c), 0) for w, c in zip(encoded, counts)))
        shift = bucket_shift % args.bucket if args.bucket else 0
        _write_matrix(handle, len(words) + args.bucket, args.dim,
                      [word_vectors, bucket_vectors[shift:], bucket_vectors[:shift]])
        _write_matrix(handle, len(words), args.dim, [output_vectors])


def write_trained(path, vocab, w_in: np.ndarray, w_out: np.ndarray, spec: SubwordSpec, config,
                  language: str | None = None, group=None) -> None:
    """Write one language of a trained model as a fastText ``.bin`` that gives the same vectors.

    Parameters
    ----------
    vocab : the run's :class:`mtlembed.vocab.Vocabulary`.
    w_in : its input matrix: ``len(vocab)`` word rows, then ``spec.buckets`` bucket rows (columns
        past ``config.dim``, the kernel's padding, are left out).
    w_out : the output rows of the vocabulary (the head that predicts this language's words).
    spec : the n-grams it was trained with.
    config : its TrainConfig (model, dim, window, epochs, min_count, negative, sample).
    language : the language to write; may be left out when there is only one.
    group : an :class:`mtlembed.atomic.AtomicGroup` to write within.
    """
    if language is None:
        if len(vocab.languages) != 1:
            raise ConfigError(f"a joint model is written one language at a time: name one of "
                              f"{', '.join(vocab.languages)}")
        language = vocab.languages[0]
    if language not in vocab.languages:
        raise ConfigError(f"no language {language!r} in the model: {', '.join(vocab.languages)}")
    lo, hi = vocab.range_of(language)
    shift = int(spec.shifts(len(vocab.languages))[vocab.languages.index(language)])
    dim, words = config.dim, len(vocab)
    args = FastTextArgs(dim=dim, ws=config.window, epoch=config.epochs, min_count=config.min_count,
                        neg=config.negative, model=MODELS[config.model], bucket=spec.buckets, minn=spec.min_n,
                        maxn=spec.max_n, t=config.sample)
    write_fasttext(path, vocab.words[lo:hi], vocab.counts[lo:hi], w_in[lo:hi, :dim], w_in[words:, :dim],
                   w_out[lo:hi, :dim], args, bucket_shift=shift, group=group)


def fasttext_paths(path, config, languages: Sequence[str]) -> list[str]:
    """Where ``--fasttext-out PATH`` writes a run of `config` on `languages`: PATH itself for one
    language; for several, a model per language with ``.<lang>`` before the ``.bin``
    (model.bin -> model.en.bin, model.es.bin). Refuses, before training, a run it cannot export."""
    path = os.fspath(path)
    if not config.subwords:
        raise ConfigError("--fasttext-out writes a model trained with subwords: add --subwords")
    if config.refine != "none":
        raise ConfigError(f"--fasttext-out writes the trained matrices, which refine = {config.refine!r} "
                          "does not rotate: the models would not give the run's vectors; drop one of them")
    if not path.endswith(".bin"):
        raise ConfigError(f"{path}: a fastText model's name must end with .bin")
    if len(languages) == 1:
        return [path]
    return [f"{path[:-len('.bin')]}.{language}.bin" for language in languages]


def save_run(path, trainer) -> list[str]:
    """Writes a trained :class:`mtlembed.trainer.Trainer`'s model as fastText models (see
    :func:`fasttext_paths`), all renamed together; returns their paths. A language's output
    rows are those of the head its first task trained."""
    from .atomic import atomic_group
    from .kernel import head_of
    from .subwords import spec_of

    config, vocab = trainer.config, trainer.corpus.vocab
    paths = fasttext_paths(path, config, vocab.languages)
    with atomic_group() as group:
        for language, target in zip(vocab.languages, paths):
            task = next(t for t in trainer.task_specs if t.lang == language)
            w_out = trainer.w_out[trainer.heads.index(head_of(task))]
            write_trained(target, vocab, trainer.w_in, w_out, spec_of(config), config, language, group)
    return paths


def _check_model(words, counts, word_vectors, bucket_vectors, output_vectors, args) -> None:
    shapes = {"word_vectors": (word_vectors, len(words)), "bucket_vectors": (bucket_vectors, args.bucket),
              "output_vectors": (output_vectors, len(words))}
    for name, (matrix, rows) in shapes.items():
        if matrix.shape != (rows, args.dim):
            raise ConfigError(f"{name} must have shape ({rows}, {args.dim}), got {matrix.shape}")
    counts = np.asarray(counts)
    if counts.shape != (len(words),) or (len(counts) and counts.min() < 1):
        raise ConfigError(f"counts must be {len(words)} integers >= 1")
    if (np.diff(counts) > 0).any():
        raise ConfigError("words must come most frequent first (gensim re-sorts a fastText dictionary "
                          "by count)")
    if len(set(words)) != len(words):
        raise ConfigError("fastText words must be unique")
    for name, (matrix, _) in shapes.items():
        row = _first_nonfinite_row(matrix)
        if row is not None:  # a diverged model: a file no reader would take
            raise FormatError(f"row {row} of {name} holds a NaN or infinite value; refusing to write it")


def _first_nonfinite_row(matrix: np.ndarray) -> int | None:
    """Block by block, so a memory-mapped cc.*.bin is read once and never copied whole."""
    step = 1 << 16
    for start in range(0, matrix.shape[0], step):
        bad = np.flatnonzero(~np.isfinite(matrix[start : start + step]).all(axis=1))
        if bad.size:
            return start + int(bad[0])
    return None


def _write_matrix(handle, rows: int, cols: int, blocks: list[np.ndarray]) -> None:
    """The flag, the shape and the rows of `blocks` one after the other, a slice at a time."""
    handle.write(_BOOL.pack(0) + _MATRIX.pack(rows, cols))
    for block in blocks:
        for lo in range(0, len(block), ROWS_PER_WRITE):
            handle.write(np.ascontiguousarray(block[lo:lo + ROWS_PER_WRITE], dtype="<f4").tobytes())
