"""Property tests of the readers on generated hostile input (issue 7).

Whatever the bytes, a reader either returns the right result (checked against a
plain-Python oracle where one exists) or raises the matching MtlembedError
subclass with a one-line message naming the file; nothing else escapes. Kept
fast (the whole module runs in well under a minute on two cores); set
MTLEMBED_FUZZ_EXAMPLES for a deeper run, and see tests/fuzz/run_fuzz.py for the
long, timed fuzzing campaign.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
import tempfile
import warnings
from dataclasses import fields
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import mtlembed.corpus as corpus
from mtlembed import TaskSpec, TrainConfig
from mtlembed.cli import build_parser
from mtlembed.config import field_bounds, from_arguments, from_mapping
from mtlembed.encode import read_corpus
from mtlembed.errors import ConfigError, CorpusError, FormatError
from mtlembed.eval.analogy import read_questions
from mtlembed.eval.bli import read_dictionary
from mtlembed.eval.similarity import read_pairs
from mtlembed.io import load_word2vec, save_word2vec

settings.register_profile(
    "mtlembed-fuzz",
    max_examples=int(os.environ.get("MTLEMBED_FUZZ_EXAMPLES", "40")),
    deadline=None,  # a shared two-core machine: timing noise is not a failure
    database=None,  # leave no .hypothesis folder behind
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                           HealthCheck.data_too_large],
)
FUZZ = settings.get_profile("mtlembed-fuzz")  # applied per test: the global profile stays as it is

ASCII_WHITESPACE = re.compile(rb"[ \t\r\v\f]+")
COMPRESSORS = (gzip.compress, bz2.compress, lzma.compress)


def compressed(data: bytes) -> bool:
    """Whether the reader takes these bytes for a compressed file (by its whole header)."""
    return corpus.compression_of(data[:corpus.HEADER_BYTES]) != "plain"

# Corpus bytes are built from pieces that hit the reader's edge cases: whitespace of every kind,
# NUL, BOMs, multi-byte characters, lone continuation and lead bytes, case pairs, magic numbers.
PIECES = [b" ", b"\n", b"\r\n", b"\r", b"\t", b"\v\f", b"\x00", b"\xef\xbb\xbf", b"\x1c", b"word", b"W",
          "é".encode(), "日".encode(), "Ä".encode(), "😀".encode(), "İ".encode(), "Σ".encode(), "ΑΣ".encode(),
          "\u00a0".encode(),
          b"\xff", b"\x80", b"\xc3", b"\xe6\x97", b"\xed\xa0\x80", b"BZh", b"\x1f\x8b",
          b"BZh91AY&SY", b"\x1f\x8b\x08"]  # text that starts like a compressed file, and real headers
corpus_bytes = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=60).map(b"".join),
    st.binary(max_size=300),
)


def one_line(error: BaseException, path) -> str:
    message = str(error)
    assert "\n" not in message and str(path) in message, message
    return message


def oracle(data: bytes, lowercase: bool, max_sentence: int):
    """(tokens, offsets) by plain Python: UTF-8 with U+FFFD, split on ASCII whitespace."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    text = data.decode("utf-8", "replace")
    if lowercase:
        text = text.lower()
    tokens, offsets = [], [0]
    for line in text.encode("utf-8").split(b"\n"):
        words = [w for w in ASCII_WHITESPACE.split(line) if w]
        for start in range(0, len(words), max_sentence):
            tokens.extend(words[start:start + max_sentence])
            offsets.append(len(tokens))
    return [t.decode("utf-8") for t in tokens], offsets


def read_one(path: Path, **config):
    cfg = TrainConfig(min_count=1, **config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", corpus.CorpusWarning)
        result = read_corpus([TaskSpec("t", (str(path),))], cfg)
    words = result.vocab.words
    return [words[i] for i in result.streams[0].tokens.tolist()], result.streams[0].offsets.tolist()


# ----------------------------------------------------------------------------- corpora


@FUZZ
# Blocks of at least 3 bytes: the real reads are 4 MB, and a BOM must fit in the first one.
@given(data=corpus_bytes, block=st.integers(3, 40), lowercase=st.booleans(), strict=st.booleans(),
       max_sentence=st.integers(1, 6))
def test_corpus_reader_matches_the_oracle_or_fails_clearly(monkeypatch, data, block, lowercase, strict,
                                                           max_sentence):
    with tempfile.TemporaryDirectory() as folder, monkeypatch.context() as patch:
        patch.setattr(corpus, "BLOCK_BYTES", block)  # every block boundary the data allows
        path = Path(folder) / "c.txt"
        path.write_bytes(data)
        body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
        try:
            body.decode("utf-8")
            valid = True
        except UnicodeDecodeError as error:
            valid, bad_line = False, body.count(b"\n", 0, error.start) + 1
        expected = oracle(data, lowercase, max_sentence)
        try:
            got = read_one(path, lowercase=lowercase, max_sentence_length=max_sentence,
                           encoding_errors="strict" if strict else "replace")
        except CorpusError as error:
            message = one_line(error, path)
            if compressed(data):  # compression is detected by content, as documented
                assert "corrupt or truncated" in message
            elif data[:2] in (b"\xff\xfe", b"\xfe\xff"):
                assert "UTF-16" in message
            elif strict and not valid:
                assert f"{path}:{bad_line}: invalid UTF-8" in message
            else:
                assert not expected[0] and "no words" in message
            return
        assert not compressed(data) and data[:2] not in (b"\xff\xfe", b"\xfe\xff")
        assert valid or not strict
        assert got == expected


@FUZZ
@given(text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=80), block=st.integers(3, 12),
       max_token=st.integers(1, 12))
def test_over_long_tokens_are_split_between_characters(monkeypatch, text, block, max_token):
    # Tokens longer than MAX_TOKEN_BYTES are cut, but never inside a UTF-8 character: valid
    # text stays valid (strict mode never fails) and nothing is lost.
    data = text.encode("utf-8")
    assume(data[:2] not in (b"\xff\xfe", b"\xfe\xff") and ASCII_WHITESPACE.sub(b"", data).strip(b"\n"))
    with tempfile.TemporaryDirectory() as folder, monkeypatch.context() as patch:
        patch.setattr(corpus, "BLOCK_BYTES", block)
        patch.setattr(corpus, "MAX_TOKEN_BYTES", max_token)
        path = Path(folder) / "c.txt"
        path.write_bytes(data)
        tokens, _ = read_one(path, encoding_errors="strict", max_sentence_length=10_000)
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    assert "".join(tokens).encode() == re.sub(rb"[ \t\r\v\f\n]", b"", body)


WORDS = st.sampled_from(["the", "cat", "sat", "日本", "\n"])


@FUZZ
@given(text=st.lists(WORDS, min_size=1, max_size=400).map(" ".join),
       codec=st.sampled_from(COMPRESSORS), mutation=st.sampled_from(["truncate", "flip", "garbage", "none"]),
       where=st.floats(0, 1), noise=st.binary(min_size=1, max_size=8))
def test_damaged_compressed_corpora_fail_clearly(text, codec, mutation, where, noise):
    packed = bytearray(codec(text.encode()))
    at = min(int(where * len(packed)), len(packed) - 1)
    if mutation == "truncate":
        packed = packed[:at]
    elif mutation == "flip":
        packed[at:at + len(noise)] = bytes(b ^ n for b, n in zip(packed[at:at + len(noise)], noise))
    elif mutation == "garbage":
        packed += noise
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.gz"
        path.write_bytes(bytes(packed))
        try:
            tokens, _ = read_one(path)
        except CorpusError as error:
            one_line(error, path)
            return
    if mutation == "none":
        assert tokens == text.split()


# ----------------------------------------------------------------------------- word2vec files

key_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=" \t\n\r\v\f"),
                   min_size=1, max_size=6)


@FUZZ
@given(words=st.lists(key_text, min_size=1, max_size=6, unique=True), dim=st.integers(1, 5),
       binary=st.booleans(), compress=st.sampled_from([None, *COMPRESSORS]),
       edits=st.lists(st.tuples(st.sampled_from(["truncate", "flip", "insert", "header", "crlf"]),
                                st.floats(0, 1), st.binary(min_size=1, max_size=6)), max_size=3),
       header=st.tuples(st.integers(-2, 10**12), st.integers(-2, 10**10)))
def test_word2vec_loader_on_damaged_files(words, dim, binary, compress, edits, header):
    rng = np.random.default_rng(len(words) * 7 + dim)
    vectors = rng.standard_normal((len(words), dim)).astype(np.float32)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "v.bin"
        save_word2vec(path, words, vectors, binary=binary)
        data = bytearray(path.read_bytes())
        for kind, where, noise in edits:
            at = min(int(where * len(data)), max(len(data) - 1, 0))
            if kind == "truncate":
                data = data[:at]
            elif kind == "flip":
                data[at:at + len(noise)] = bytes(b ^ n for b, n in zip(data[at:at + len(noise)], noise))
            elif kind == "insert":
                data[at:at] = noise
            elif kind == "header":  # a header that lies, possibly absurdly
                data = bytearray(b"%d %d" % header) + data[data.find(b"\n"):] if b"\n" in data else data
            else:
                data = bytearray(bytes(data).replace(b"\n", b"\r\n"))
        if compress:
            data = bytearray(compress(bytes(data)))
        path.write_bytes(bytes(data))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # duplicate words made by the edits
                got_words, got = load_word2vec(path)
        except FormatError as error:
            one_line(error, path)
            assert edits, f"an intact file failed: {error}"
            return
    assert got.dtype == np.float32 and got.ndim == 2 and got.shape[0] == len(got_words)
    assert np.isfinite(got).all()
    if not edits:
        assert got_words == words
        if binary:
            np.testing.assert_array_equal(got, vectors)


# ----------------------------------------------------------------------------- evaluation files

EVAL_PIECES = [b"man", b"woman", b"king", b"queen", b": capital", b":", b"1", b"-2.5", b"nan", b"inf", b"x",
               b" ", b"\t", b",", b"\n", b"\r\n", b"\r", b"#", b"\xef\xbb\xbf", b"\xff", b"\x00",
               "é".encode()]
eval_bytes = st.one_of(st.lists(st.sampled_from(EVAL_PIECES), max_size=50).map(b"".join),
                       st.binary(max_size=200))


@FUZZ
@given(data=eval_bytes, reader=st.sampled_from([read_questions, read_pairs, read_dictionary]))
def test_evaluation_file_readers(data, reader):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "eval.txt"
        path.write_bytes(data)
        try:
            reader(path)
        except FormatError as error:
            one_line(error, path)


# ----------------------------------------------------------------------------- configs

FIELD_NAMES = [f.name for f in fields(TrainConfig)]
any_value = st.one_of(st.none(), st.booleans(), st.integers(-(2**65), 2**65), st.floats(),
                      st.sampled_from(["sg", "cbow", "cpu", "strict", "replace", "auto", ""]),
                      st.text(max_size=6),
                      st.lists(st.integers(), max_size=2))


def check_valid(config: TrainConfig) -> None:
    """Every value of an accepted config is inside what the schema promises."""
    for f in fields(config):
        value, meta = getattr(config, f.name), f.metadata
        if value is None:
            continue
        if isinstance(value, float):
            assert np.isfinite(value)
        if meta["choices"]:
            assert value in meta["choices"]
        low, high, _ = field_bounds(f)
        if low is not None and not isinstance(value, (str, bool)):
            assert value >= low and (high is None or value <= high)


@FUZZ
@given(values=st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=10)), any_value,
                              max_size=5))
def test_config_mappings(values):
    try:
        config = from_mapping(values)
    except ConfigError as error:
        assert "\n" not in str(error) and str(error).startswith("config: ")
        return
    check_valid(config)


flag_value = st.one_of(st.integers(-5, 10**6).map(str), st.floats().map(repr), st.sampled_from(
    ["sg", "cbow", "cpu", "strict", "nan", "-inf", "1e400", "0x10", "", "--", "abc"]))


@FUZZ
@given(flags=st.lists(st.tuples(st.sampled_from(FIELD_NAMES), flag_value), max_size=4))
def test_command_line_flags(flags, capsys):
    argv = ["train", "corpus.txt", "-o", "out.bin"]
    for name, value in flags:
        argv += [f"--{name.replace('_', '-')}", value] if name != "lowercase" else ["--lowercase"]
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # a usage error: argparse's message, exit 2
        assert exit_.code == 2 and "Traceback" not in capsys.readouterr().err
        return
    try:
        check_valid(from_arguments(args))
    except ConfigError as error:
        assert "\n" not in str(error) and str(error).startswith("command line: ")

