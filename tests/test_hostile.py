"""Hostile input (issue 7): bad corpora, vectors files, configs and full disks.

Each bad input either works (and the result is right) or gives ONE clear line
naming the file (and the line or byte where it applies): through the CLI,
``mtlembed: error: ...`` on stderr with exit 1 and no traceback; through the
Python API, the matching ``MtlembedError`` subclass. Nothing is ever left
half-written. Formats' basic malformations (header lies, bad numbers, ...) are
tested at the API level in test_io.py; here they go through the CLI, plus what
test_io.py does not cover.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import io as stdio
import lzma
import os
import re
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import zipf_text

import mtlembed
import mtlembed.corpus as corpus
import mtlembed.io as mio
from mtlembed import CorpusError, TaskSpec, TrainConfig
from mtlembed.cli import main
from mtlembed.config import from_mapping
from mtlembed.corpus import CorpusWarning
from mtlembed.encode import read_corpus
from mtlembed.errors import ConfigError, FormatError, ResourceError
from mtlembed.io import load_word2vec, save_word2vec

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
QUESTIONS = FIXTURES / "tiny_questions.txt"
COMPRESSORS = {"gzip": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}
TRAIN_FAST = ["--quiet", "--dim", "8", "--epochs", "1", "--min-count", "1", "--threads", "1"]


def read(paths, **config):
    cfg = TrainConfig(min_count=1, **config)
    return read_corpus([TaskSpec("t", tuple(str(p) for p in paths))], cfg)


def tokens_of(result) -> list[str]:
    words = result.vocab.words
    return [words[i] for i in result.streams[0].tokens.tolist()]


def cli_error(capsys, *argv, code=1) -> str:
    """Runs the CLI expecting failure; checks the one-line rule and returns the message."""
    assert main([str(a) for a in argv]) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if not line.startswith("mtlembed: warning:")]
    assert len(lines) == 1 and lines[0].startswith("mtlembed: error: "), err
    return lines[0]


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or p.name.endswith(".tmp"))


def corrupt_middle(data: bytes, span: int = 16) -> bytes:
    """`data` with `span` bytes in the middle flipped: not merely truncated."""
    out = bytearray(data)
    mid = len(out) // 2
    for i in range(mid, mid + span):
        out[i] ^= 0x5A
    return bytes(out)


# ----------------------------------------------------------------------------- corpora: bytes


def test_random_bytes_train_with_a_warning_and_the_vectors_load_back(tmp_path, capsys):
    rng = np.random.default_rng(7)
    path = tmp_path / "random.bin"
    path.write_bytes(rng.integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    for name in ("v.bin", "v.vec"):
        out = tmp_path / name
        with warnings.catch_warnings():
            warnings.simplefilter("always")  # the same warning twice in one process
            assert main(["train", str(path), "-o", str(out), *TRAIN_FAST]) == 0
        err = capsys.readouterr().err
        assert "mtlembed: warning:" in err and "invalid UTF-8 bytes replaced" in err and f"{path}:1" in err
        # tokens of random bytes hold controls (\x1c) and U+FFFD; both formats carry them
        words, vectors = load_word2vec(out)
        assert len(words) > 100 and vectors.shape == (len(words), 8)
        assert any("\ufffd" in w for w in words)


def test_random_bytes_strict_names_file_and_line(tmp_path, capsys):
    path = tmp_path / "mixed.txt"
    rng = np.random.default_rng(8)
    junk = rng.integers(128, 256, 100, dtype=np.uint8).tobytes()
    path.write_bytes(b"clean line one\r\nclean line two\r\n" + junk)
    strict = ["--encoding-errors", "strict"]
    message = cli_error(capsys, "train", path, "-o", tmp_path / "v.bin", *TRAIN_FAST, *strict)
    assert f"{path}:3: invalid UTF-8" in message
    with pytest.raises(CorpusError, match=rf"{path}:3: invalid UTF-8"):
        read([path], encoding_errors="strict")
    assert not (tmp_path / "v.bin").exists()


def test_nul_is_not_whitespace_it_is_part_of_a_token(tmp_path):
    path = tmp_path / "nul.txt"
    path.write_bytes(b"a\x00b c \x00\x00 d\x00\n" * 3)
    result = read([path])
    assert tokens_of(result)[:4] == ["a\x00b", "c", "\x00\x00", "d\x00"]
    assert result.streams[0].offsets.tolist() == [0, 4, 8, 12]
    vectors = mtlembed.train(path, dim=4, epochs=1, min_count=1, threads=1)
    for name in ("v.vec", "v.bin"):
        vectors.save(tmp_path / name)
        assert sorted(load_word2vec(tmp_path / name)[0]) == sorted(["a\x00b", "c", "\x00\x00", "d\x00"])


def test_a_line_far_beyond_the_block_size_is_split_in_bounded_memory(tmp_path, monkeypatch):
    # 20 MB on one line (5 read blocks): the 100 MB variant runs in tests/fuzz/run_fuzz.py
    words = " ".join(f"w{i}" for i in range(1000)).encode() + b" "
    repeats = (20 << 20) // len(words)
    path = tmp_path / "one-line.txt"
    with open(path, "wb") as handle:
        handle.write(words * repeats)
    largest = []
    blocks = corpus._blocks

    def watched(*args):
        for block in blocks(*args):
            largest.append(len(block))
            yield block

    monkeypatch.setattr(corpus, "_blocks", watched)
    result = read([path], max_sentence_length=1000)
    assert result.words_read == 1000 * repeats  # nothing truncated
    offsets = result.streams[0].offsets
    assert len(offsets) == repeats + 1 and set(np.diff(offsets).tolist()) == {1000}
    assert len(largest) >= 5 and max(largest) <= corpus.BLOCK_BYTES + 16  # a block and a carried token


def test_a_long_line_without_whitespace_is_not_cut_inside_a_character(tmp_path):
    # 9 MB of 3-byte characters and no whitespace: the reader must split the "token" at block
    # size, but between characters, or valid UTF-8 turns invalid at every cut.
    text = "日本語の文章" * ((9 << 20) // 18)
    path = tmp_path / "cjk.txt"
    path.write_text(text + "\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorpusWarning)
        result = read([path], encoding_errors="strict")
    assert "".join(tokens_of(result)) == text  # split, never truncated nor corrupted


def test_crlf_bom_and_lone_cr(tmp_path):
    (tmp_path / "a.txt.gz").write_bytes(gzip.compress(b"\xef\xbb\xbfone two\r\nthree\r\n"))
    (tmp_path / "b.txt").write_bytes(b"\xef\xbb\xbffour\rfive\r\n\r\n")
    result = read([tmp_path])
    assert tokens_of(result) == ["one", "two", "three", "four", "five"]
    assert result.streams[0].offsets.tolist() == [0, 2, 3, 5]  # CR alone is a space, not a line end


@pytest.mark.parametrize("bom", [b"\xff\xfe", b"\xfe\xff"])
def test_utf16_is_a_clear_error_not_garbage(tmp_path, capsys, bom):
    path = tmp_path / "utf16.txt"
    path.write_bytes(bom + "some words\n".encode("utf-16-le" if bom == b"\xff\xfe" else "utf-16-be") * 50)
    message = cli_error(capsys, "train", path, "-o", tmp_path / "v.bin", *TRAIN_FAST)
    assert f"{path}: UTF-16 text" in message
    with pytest.raises(CorpusError, match="UTF-16"):
        read([path])


# ----------------------------------------------------------------------------- corpora: compression


@pytest.mark.parametrize("kind", list(COMPRESSORS))
def test_corrupt_compressed_corpus_in_the_middle(tmp_path, capsys, kind):
    path = tmp_path / f"corpus.{kind}"
    path.write_bytes(corrupt_middle(COMPRESSORS[kind](zipf_text(60_000).encode())))
    out = tmp_path / "v.bin"
    out.write_bytes(b"previous")
    message = cli_error(capsys, "train", path, "-o", out, *TRAIN_FAST)
    assert f"{path}: corrupt or truncated {kind} data" in message
    assert out.read_bytes() == b"previous" and temp_files(tmp_path) == []
    with pytest.raises(CorpusError, match=f"corrupt or truncated {kind}"):
        read([path])


def test_gzip_with_trailing_garbage(tmp_path):
    path = tmp_path / "c.gz"
    path.write_bytes(gzip.compress(b"hello world\n") + b"garbage after the member")
    with pytest.raises(CorpusError, match=rf"{path}: corrupt or truncated gzip"):
        read([path])


def test_the_one_corrupt_file_of_a_folder_is_named(tmp_path, capsys):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for i in range(4):
        data = gzip.compress(zipf_text(20_000, seed=i).encode())
        (folder / f"part{i}.gz").write_bytes(corrupt_middle(data) if i == 2 else data)
    message = cli_error(capsys, "train", folder, "-o", tmp_path / "v.bin", *TRAIN_FAST)
    assert f"{folder / 'part2.gz'}: corrupt" in message
    assert "part0" not in message and "part1" not in message and "part3" not in message


# ----------------------------------------------------------------------------- corpora: paths


def test_unreadable_file_chmod(tmp_path, capsys):
    path = tmp_path / "secret.txt"
    path.write_text("some words\n")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root: chmod 000 does not stop reading (see the monkeypatched test)")
        message = cli_error(capsys, "train", path, "-o", tmp_path / "v.bin", *TRAIN_FAST)
        assert f"{path}: cannot open (Permission denied)" in message
    finally:
        path.chmod(0o644)


@pytest.mark.parametrize("where", ["file", "file in folder"])
def test_unreadable_file_simulated(tmp_path, capsys, monkeypatch, where):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("fine words\n")
    secret = folder / "secret.txt"
    secret.write_text("some words\n")
    real_open = corpus.open_regular

    def guarded_open(file):
        if Path(os.fspath(file)) == secret:
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(file))
        return real_open(file)

    monkeypatch.setattr(corpus, "open_regular", guarded_open)
    target = secret if where == "file" else folder
    message = cli_error(capsys, "train", target, "-o", tmp_path / "v.bin", *TRAIN_FAST)
    assert f"{secret}: cannot open (Permission denied)" in message
    with pytest.raises(CorpusError, match="Permission denied"):
        read([target])


def test_unlistable_folder_simulated(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "corpus"
    (folder / "locked").mkdir(parents=True)
    (folder / "a.txt").write_text("fine words\n")
    real_scandir = os.scandir

    def guarded_scandir(path="."):
        if Path(os.fspath(path)) == folder / "locked":
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", guarded_scandir)
    message = cli_error(capsys, "train", folder, "-o", tmp_path / "v.bin", *TRAIN_FAST)
    assert f"{folder / 'locked'}: cannot list folder (Permission denied)" in message


def test_symlink_loops_never_hang_nor_repeat_files(tmp_path, capsys):
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.txt").write_text("one two three\n")
    (folder / "b.txt").write_text("four five\n")
    (folder / "sub" / "loop").symlink_to(".")          # a folder linking to itself
    (folder / "sub" / "up").symlink_to("..")           # and to its parent
    assert read([folder]).words_read == 5
    assert read([folder / "**" / "*.txt"]).words_read == 5  # `**` follows links: each file once
    self_link = tmp_path / "self"
    self_link.symlink_to("self")                       # a link pointing to itself
    message = cli_error(capsys, "train", self_link, "-o", tmp_path / "v.bin", *TRAIN_FAST)
    assert f"{self_link}: broken symbolic link" in message
    (folder / "self").symlink_to("self")               # and the same inside a corpus folder
    message = cli_error(capsys, "train", folder, "-o", tmp_path / "v.bin", *TRAIN_FAST)
    assert f"{folder / 'self'}: cannot open" in message


def test_dangling_link_in_a_folder_is_named(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("words here\n")
    (folder / "gone.txt").symlink_to(tmp_path / "deleted.txt")
    with pytest.raises(CorpusError, match=rf"{folder / 'gone.txt'}: cannot open \(No such file"):
        read([folder])


def test_out_of_memory_is_one_line(small_corpus, tmp_path, capsys, monkeypatch):
    import mtlembed.trainer

    def exhausted(*args, **kwargs):
        raise MemoryError  # what the C++ counter's std::bad_alloc becomes on a vast vocabulary

    monkeypatch.setattr(mtlembed.trainer, "read_corpus", exhausted)
    message = cli_error(capsys, "train", small_corpus, "-o", tmp_path / "v.bin", *TRAIN_FAST)
    assert message.startswith("mtlembed: error: out of memory")


def test_pipes_and_devices_are_refused_not_waited_on(tmp_path, capsys):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("words here\n")
    os.mkfifo(folder / "pipe")  # opening it for reading would block until a writer comes: never
    message = cli_error(capsys, "train", folder, "-o", tmp_path / "v.bin", *TRAIN_FAST)
    assert f"{folder / 'pipe'}: not a regular file" in message
    message = cli_error(capsys, "train", folder / "pipe", "-o", tmp_path / "v.bin", *TRAIN_FAST)
    assert f"{folder / 'pipe'}: not a regular file or folder" in message
    assert read([folder / "*.txt"]).words_read == 2  # a glob simply does not match it


# ----------------------------------------------------------------------------- word2vec files


def w2v_text(count=2, dim=4, rows=None) -> bytes:
    rows = rows if rows is not None else [f"w{i} " + " ".join(["0.5"] * dim) for i in range(count)]
    return f"{count} {dim}\n".encode() + "".join(r + "\n" for r in rows).encode()


def w2v_binary(header: bytes, rows) -> bytes:
    return header + b"".join(w + b" " + struct.pack(f"<{len(v)}f", *v) + b"\n" for w, v in rows)


AB = ["a 1 2 3 4", "b 1 2 3 4"]
GOOD_ROWS = [(b"man", [1.0, 0, 0, 0]), (b"woman", [0, 1.0, 0, 0]), (b"king", [1.0, 0, 1, 0])]
BAD_VECTORS = {
    "text count too big": (w2v_text(count=5, rows=AB), r"v\.vec:4: file ends after 2"),
    "text count too small": (w2v_text(count=1, rows=AB), r"v\.vec:3: more vectors"),
    "text dim wrong": (w2v_text(dim=5, rows=AB), r"v\.vec:2: row of 'a' has 4 values"),
    "text truncated": (w2v_text(dim=4)[:-9], r"v\.vec:3: row of 'w1' has 2 values"),
    "text not a number": (w2v_text(rows=["a 1 2 x 4", AB[1]]), r"v\.vec:2: value 'x' of 'a' is not a number"),
    "text empty": (b"", r"v\.vec: empty file"),
    "text header only": (b"3 4\n", r"v\.vec:2: file ends after 0 vectors, the header says 3"),
    "binary count too big": (w2v_binary(b"4 4\n", GOOD_ROWS), r"v\.vec: byte \d+: file truncated in row 4"),
    "binary count too small": (w2v_binary(b"2 4\n", GOOD_ROWS), r"v\.vec: byte \d+: data after the 2"),
    "binary dim too big": (w2v_binary(b"3 5\n", GOOD_ROWS), r"v\.vec: byte \d+: "),
    "binary truncated": (w2v_binary(b"3 4\n", GOOD_ROWS)[:-7], r"v\.vec: byte \d+: file truncated in row 3"),
    "binary key not UTF-8": (w2v_binary(b"3 4\n", [GOOD_ROWS[0], (b"\xc3\x28", [0.0] * 4), GOOD_ROWS[2]]),
                             r"v\.vec: byte 25: word of row 2 is not valid UTF-8"),
    "binary header of 10^11 rows": (w2v_binary(b"99999999999 300\n", GOOD_ROWS), r"v\.vec: byte \d+: "),
    "binary header of dim 4e9": (w2v_binary(b"3 4000000000\n", GOOD_ROWS), r"v\.vec: byte \d+: file trunc"),
    "corrupt gzip": (corrupt_middle(gzip.compress(w2v_text(count=300, dim=50))), r"v\.vec: corrupt or trunc"),
    "corrupt xz": (corrupt_middle(lzma.compress(w2v_text(count=300, dim=50))), r"v\.vec: corrupt or trunc"),
    "truncated bz2": (bz2.compress(w2v_text(count=300, dim=50))[:-30], r"v\.vec: corrupt or trunc"),
}


@pytest.mark.parametrize("case", list(BAD_VECTORS))
def test_bad_vectors_through_eval_analogy(tmp_path, capsys, case):
    content, match = BAD_VECTORS[case]
    path = tmp_path / "v.vec"
    path.write_bytes(content)
    message = cli_error(capsys, "eval", "analogy", path, QUESTIONS)
    assert message.startswith(f"mtlembed: error: {path}")
    assert re.search(match, message), message
    with pytest.raises(FormatError):
        load_word2vec(path)


def test_header_with_zero_vectors_loads_empty(tmp_path):
    path = tmp_path / "v.vec"
    path.write_bytes(b"0 4\n")
    words, vectors = load_word2vec(path)
    assert words == [] and vectors.shape == (0, 4)


def test_gzip_whose_deflate_stream_is_corrupt(tmp_path):
    # flipping bytes of the deflate stream itself raises zlib.error (not an OSError) in Python
    data = gzip.compress(w2v_text(count=2000, dim=20))
    for seed in range(200):
        rng = np.random.default_rng(seed)
        bad = bytearray(data)
        at = int(rng.integers(20, len(bad) - 20))
        bad[at:at + 4] = rng.integers(0, 256, 4, dtype=np.uint8).tobytes()
        try:
            gzip.decompress(bytes(bad))
        except gzip.BadGzipFile:
            continue
        except Exception:  # zlib.error: the case to test
            break
    else:
        pytest.skip("no zlib.error corruption found")
    path = tmp_path / "v.vec.gz"
    path.write_bytes(bytes(bad))
    with pytest.raises(FormatError, match=rf"{path}: corrupt or truncated compressed file"):
        load_word2vec(path)


@pytest.mark.parametrize("binary", [False, True])
def test_words_with_unicode_spaces_controls_and_long_words_round_trip(tmp_path, binary):
    # The tokenizer splits only ASCII whitespace, so trained words can hold these; the files
    # separate fields by ASCII space and newline only, so they must hold them too.
    words = ["a\u00a0b", "x\x1cy", "n\x00ul", "日本\u3000語", "\x85nel", "long" * 50_000, "\ufffd"]
    vectors = np.arange(len(words) * 3, dtype=np.float32).reshape(-1, 3)
    path = tmp_path / ("v.bin" if binary else "v.vec")
    save_word2vec(path, words, vectors)
    got_words, got = load_word2vec(path)
    assert got_words == words
    np.testing.assert_array_equal(got, vectors)
    gensim_models = pytest.importorskip("gensim.models")
    assert gensim_models.KeyedVectors.load_word2vec_format(str(path), binary=binary).index_to_key == words


# ----------------------------------------------------------------------------- configs


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"dim": "100"}, r"config: dim must be of type int, got '100'"),
        ({"dim": 1.5}, r"dim must be of type int, got 1.5"),
        ({"dim": True}, r"dim must be of type int, got True"),
        ({"lowercase": "yes"}, r"lowercase must be of type bool"),
        ({"model": 1}, r"model must be of type str"),
        ({"epochs": None}, r"epochs must be set"),
        ({"window": [5]}, r"window must be of type int"),
        ({"dims": 100}, r"unknown key 'dims' \(did you mean 'dim'\?\)"),
        ({"window_size": 3}, r"unknown key 'window_size' \(did you mean 'window'\?\)"),
        ({"minCount": 3}, r"unknown key 'minCount' \(did you mean 'min_count'\?\)"),
        ({"learning_rate": 0.1}, r"unknown key 'learning_rate' \(did you mean 'alpha'\?\)"),
        ({"vector_size": 100}, r"did you mean 'dim'"),
        ({"iter": 5}, r"did you mean 'epochs'"),
        ({"qqqq": 5}, r"unknown key 'qqqq' \(valid keys: model, dim,"),
        ({1: 5}, r"unknown key '1'"),
        ({"dim": 0}, r"dim must be 1..100000, got 0"),
        ({"negative": 64}, r"negative must be 1..63"),
        ({"sample": 1.5}, r"sample must be 0.0..1.0"),
        ({"alpha": float("nan")}, r"alpha must be a finite number, got nan"),
        ({"sample": float("nan")}, r"sample must be a finite number"),
        ({"alpha": float("inf")}, r"alpha must be"),
        ({"threads": -1}, r"threads must be 0..4096"),
        ({"seed": 2**64}, r"seed must be"),
        ({"max_vocab": 0}, r"max_vocab must be 1\.\.2147483647, got 0"),
        ({"alpha": 0.01, "min_alpha": 0.1}, r"min_alpha \(0.1\) must not exceed alpha \(0.01\)"),
        ({"device": "gpu"}, r"device must be one of cpu, cuda, auto; got 'gpu'"),
    ],
)
def test_bad_config_values(values, match):
    with pytest.raises(ConfigError, match=match) as caught:
        from_mapping(values)
    assert "\n" not in str(caught.value)


def test_config_must_be_a_mapping():
    for bad in (None, 5, ["dim", 3]):
        with pytest.raises(ConfigError, match="config: expected a table of parameters"):
            from_mapping(bad)


def test_bad_keyword_arguments_of_the_python_api(small_corpus):
    with pytest.raises(ConfigError, match=r"train\(\): unknown key 'dims' \(did you mean 'dim'\?\)"):
        mtlembed.train(small_corpus, dims=10)
    with pytest.raises(ConfigError, match="did you mean 'window'"):
        TrainConfig().replace(windw=3)


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        (["--alpha", "nan"], "command line: alpha must be a finite number, got nan"),
        (["--sample", "2"], "command line: sample must be 0.0..1.0, got 2.0"),
        (["--alpha", "0.01", "--min-alpha", "0.5"], "min_alpha (0.5) must not exceed alpha (0.01)"),
        (["--max-vocab", "0"], "max_vocab must be 1..2147483647, got 0"),
        (["--max-sentence-length", "0"], "max_sentence_length must be 1..2147483647, got 0"),
        (["--seed", "-1"], "seed must be 0.."),
        (["--threads", "100000"], "threads must be 0..4096"),
    ],
)
def test_bad_flag_values_are_one_line_exit_1(small_corpus, tmp_path, capsys, flags, match):
    message = cli_error(capsys, "train", small_corpus, "-o", tmp_path / "v.bin", "--quiet", *flags)
    assert match in message
    assert not (tmp_path / "v.bin").exists()


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        (["--dim", "abc"], "argument --dim: invalid int value: 'abc'"),
        (["--alpha", "fast"], "argument --alpha: invalid float value: 'fast'"),
        (["--model", "glove"], "argument --model: invalid choice: 'glove'"),
        (["--dims", "3"], "unrecognized arguments: --dims 3"),
    ],
)
def test_bad_flag_types_are_usage_errors_exit_2(small_corpus, tmp_path, capsys, flags, match):
    with pytest.raises(SystemExit) as exit_:
        main(["train", str(small_corpus), "-o", str(tmp_path / "v.bin"), "--quiet", *flags])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and match in err.splitlines()[-1]


@pytest.mark.parametrize(
    ("train_table", "match"),
    [
        ("dims = 3", r"job.toml: \[train\]: unknown key 'dims' \(did you mean 'dim'\?\)"),
        ('dim = "3"', r"job.toml: \[train\]: dim must be of type int, got '3'"),
        ("alpha = nan", r"job.toml: \[train\]: alpha must be a finite number, got nan"),
        ("window = 0", r"job.toml: \[train\]: window must be 1..64, got 0"),
    ],
)
def test_bad_values_in_a_config_file(small_corpus, tmp_path, capsys, train_table, match):
    job = tmp_path / "job.toml"
    job.write_text(f'[train]\n{train_table}\n\n[[task]]\nname = "t"\npaths = ["{small_corpus}"]\n')
    message = cli_error(capsys, "train", "--config", job, "-o", tmp_path / "v.bin", "--quiet")
    assert re.search(match, message), message


# ----------------------------------------------------------------------------- outputs


class _FailingFile:
    """Wraps a file object: its write fails with `error` once `budget` bytes have been written."""

    def __init__(self, handle, budget: int, error: BaseException):
        self._handle, self._budget, self._error = handle, budget, error

    def write(self, data):
        if len(data) > self._budget:
            self._handle.write(data[: self._budget])
            raise self._error
        self._budget -= len(data)
        return self._handle.write(data)

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._handle.__exit__(*exc)


def fail_writes_after(monkeypatch, budget: int, error: BaseException) -> None:
    real_fdopen = os.fdopen

    def fdopen(fd, *args, **kwargs):
        return _FailingFile(real_fdopen(fd, *args, **kwargs), budget, error)

    monkeypatch.setattr(mio.os, "fdopen", fdopen)


def enospc() -> OSError:
    return OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("suffix", [".bin", ".vec"])
def test_disk_full_while_saving_vectors(tmp_path, monkeypatch, suffix):
    path = tmp_path / f"v{suffix}"
    path.write_bytes(b"previous vectors")
    fail_writes_after(monkeypatch, 5000, enospc())
    with pytest.raises(ResourceError, match=rf"no space left on the device writing {path}") as caught:
        save_word2vec(path, [f"w{i}" for i in range(5000)], np.ones((5000, 10)))
    assert "\n" not in str(caught.value)
    assert path.read_bytes() == b"previous vectors"
    assert os.listdir(tmp_path) == [path.name]


@pytest.mark.parametrize("target", ["vectors", "report"])
def test_disk_full_through_the_cli(small_corpus, tmp_path, capsys, monkeypatch, target):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    vectors, report = out_dir / "v.bin", out_dir / "run.json"
    vectors.write_bytes(b"previous vectors")
    report.write_text("previous report")
    real_fdopen = os.fdopen

    def fdopen(fd, mode="r", *args, **kwargs):
        handle = real_fdopen(fd, mode, *args, **kwargs)
        is_report = mode == "w"  # the report is the one text-mode output
        return _FailingFile(handle, 10, enospc()) if is_report == (target == "report") else handle

    monkeypatch.setattr(mio.os, "fdopen", fdopen)
    message = cli_error(capsys, "train", small_corpus, "-o", vectors, "--report", report, *TRAIN_FAST)
    failed = vectors if target == "vectors" else report
    assert message == f"mtlembed: error: no space left on the device writing {failed}"
    assert report.read_text() == "previous report"
    if target == "vectors":
        assert vectors.read_bytes() == b"previous vectors"
    assert temp_files(out_dir) == []


def test_io_error_while_writing_names_the_file(small_corpus, tmp_path, capsys, monkeypatch):
    vectors = tmp_path / "v.bin"
    vectors.write_bytes(b"previous vectors")
    fail_writes_after(monkeypatch, 100, OSError(errno.EIO, "Input/output error"))
    message = cli_error(capsys, "train", small_corpus, "-o", vectors, *TRAIN_FAST)
    assert message == f"mtlembed: error: [Errno 5] Input/output error: '{vectors}'"
    assert vectors.read_bytes() == b"previous vectors" and temp_files(tmp_path) == []


def test_interrupt_in_the_middle_of_saving(tmp_path, monkeypatch):
    path = tmp_path / "v.vec"
    path.write_bytes(b"previous vectors")
    fail_writes_after(monkeypatch, 3000, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        save_word2vec(path, [f"w{i}" for i in range(5000)], np.ones((5000, 10)))
    assert path.read_bytes() == b"previous vectors"
    assert os.listdir(tmp_path) == [path.name]


def test_interrupt_while_the_cli_writes_the_vectors(small_corpus, tmp_path, capsys, monkeypatch):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    vectors = out_dir / "v.bin"
    vectors.write_bytes(b"previous vectors")
    fail_writes_after(monkeypatch, 100, KeyboardInterrupt())
    assert main(["train", str(small_corpus), "-o", str(vectors), *TRAIN_FAST]) == 130
    assert "Traceback" not in capsys.readouterr().err
    assert vectors.read_bytes() == b"previous vectors"
    assert temp_files(out_dir) == []


def test_failing_write_leaves_no_temporary_file_even_when_close_fails(tmp_path, monkeypatch):
    # the wrapped file's own close (flushing buffered bytes) fails too on a full disk
    path = tmp_path / "v.bin"
    real_fdopen = os.fdopen

    class Unclosable(stdio.BufferedWriter):
        def close(self):
            super().close()
            raise enospc()

    def fdopen(fd, mode="wb", *args, **kwargs):
        return Unclosable(real_fdopen(fd, "wb", buffering=0))

    monkeypatch.setattr(mio.os, "fdopen", fdopen)
    with pytest.raises(ResourceError, match="no space left"):
        save_word2vec(path, ["a", "b"], np.ones((2, 3)))
    assert os.listdir(tmp_path) == []
