"""word2vec formats and atomic writes (mtlembed.io)."""

from __future__ import annotations

import errno
import gzip
import os
import signal
import struct
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mtlembed.atomic as atomic
import mtlembed.io as mio
from mtlembed.errors import ConfigError, FormatError, ResourceError
from mtlembed.io import atomic_write, check_output_path, load_word2vec, save_word2vec

gensim_models = pytest.importorskip("gensim.models")


def random_model(n=50, dim=7, seed=0):
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(n)]
    words[1], words[2] = "héllo", "日本"
    scale = 10.0 ** rng.uniform(-6, 4, size=(n, 1))
    return words, (rng.standard_normal((n, dim)) * scale).astype(np.float32)


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("suffix", [".txt", ".bin"])
def test_round_trip_and_gensim_reads_it(tmp_path, suffix):
    words, vectors = random_model()
    path = tmp_path / f"v{suffix}"
    save_word2vec(path, words, vectors)
    binary = suffix == ".bin"
    assert path.read_bytes().startswith(b"50 7\n")
    loaded_words, loaded = load_word2vec(path)
    assert loaded_words == words
    assert loaded.dtype == np.float32 and loaded.flags.c_contiguous
    kv = gensim_models.KeyedVectors.load_word2vec_format(str(path), binary=binary)
    assert kv.index_to_key == words
    if binary:
        np.testing.assert_array_equal(loaded, vectors)
        np.testing.assert_array_equal(kv.vectors, vectors)
    else:
        np.testing.assert_allclose(loaded, vectors, rtol=1e-6, atol=0)
        np.testing.assert_allclose(kv.vectors, vectors, rtol=1e-6, atol=0)


def test_reads_gensim_files_both_formats(tmp_path):
    words, vectors = random_model(seed=1)
    kv = gensim_models.KeyedVectors(vectors.shape[1])
    kv.add_vectors(words, vectors)
    kv.save_word2vec_format(str(tmp_path / "g.txt"), binary=False)
    kv.save_word2vec_format(str(tmp_path / "g.bin"), binary=True)
    for name in ("g.txt", "g.bin"):  # format sniffed, whatever the extension
        w, v = load_word2vec(tmp_path / name)
        assert w == words
        np.testing.assert_allclose(v, vectors, rtol=1e-6)


def test_text_values_are_short_and_precise(tmp_path):
    path = tmp_path / "v.txt"
    values = np.array([[0.5, -1.25, 0.0, 3.4e38, 1.4e-45, 1e-8, 123456.7]], np.float32)
    save_word2vec(path, ["x"], values)
    row = path.read_text().splitlines()[1].split(" ")
    assert row[:4] == ["x", "5e-01", "-1.25", "0"]
    np.testing.assert_allclose(np.array(row[1:], np.float32), values[0], rtol=1.2e-7)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    words=st.lists(
        st.text(st.characters(blacklist_categories=("Z", "C")), min_size=1, max_size=6),
        min_size=1,
        max_size=8,
        unique=True,
    ),
    data=st.data(),
)
def test_round_trip_property(tmp_path, words, data):
    dim = data.draw(st.integers(1, 5))
    floats = st.floats(width=32, allow_nan=False, allow_infinity=False)
    vectors = np.array(
        data.draw(
            st.lists(st.lists(floats, min_size=dim, max_size=dim), min_size=len(words), max_size=len(words))
        ),
        dtype=np.float32,
    ).reshape(len(words), dim)
    for binary in (False, True):
        path = tmp_path / ("p.bin" if binary else "p.txt")
        save_word2vec(path, words, vectors, binary=binary)
        got_words, got = load_word2vec(path)
        assert got_words == words
        if binary:
            np.testing.assert_array_equal(got, vectors)
        else:
            np.testing.assert_allclose(got, vectors, rtol=1.2e-7, atol=0)


def test_word2vec_c_style_text_gzip_crlf_and_limit(tmp_path):
    text = "3 2\r\nthe 0.500000 -1.000000 \r\nof 1.5 2 \r\nand 3e-3 4\r\n\r\n"
    path = tmp_path / "v.txt.gz"
    path.write_bytes(gzip.compress(text.encode()))
    words, vectors = load_word2vec(path)
    assert words == ["the", "of", "and"]
    np.testing.assert_array_equal(vectors, np.array([[0.5, -1], [1.5, 2], [0.003, 4]], np.float32))
    words, vectors = load_word2vec(path, limit=2)
    assert words == ["the", "of"] and vectors.shape == (2, 2)


def test_binary_without_row_newlines_and_limit(tmp_path):
    rows = [("a", [1.0, 2.0]), ("bb", [3.0, -4.0])]
    body = b"".join(w.encode() + b" " + struct.pack("<2f", *v) for w, v in rows)
    path = tmp_path / "v.bin"
    path.write_bytes(b"2 2\n" + body)
    words, vectors = load_word2vec(path)
    assert words == ["a", "bb"]
    np.testing.assert_array_equal(vectors, [[1, 2], [3, -4]])
    assert load_word2vec(path, limit=1)[0] == ["a"]


@pytest.mark.parametrize("suffix", [".bin", ".vec"])  # sniffed: a binary file need not be called .bin
def test_binary_whose_first_float_reads_as_a_number_and_a_newline(tmp_path, suffix):
    # 0.42 is b"5\n\xd7>" in float32: the first row then starts "the 5\n" like a text row (a 17M-word
    # model of the quality grid was read as text and failed on a "blank line"). A text row with a wrong
    # count still gets the text parser's message.
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3, 100)).astype(np.float32)
    vectors[0, 0] = np.frombuffer(b"5\n\xd7>", "<f4")[0]
    path = tmp_path / f"v{suffix}"
    save_word2vec(path, ["the", "of", "and"], vectors, binary=True)
    assert path.read_bytes().split(b"\n")[1] == b"the 5"
    words, got = load_word2vec(path)
    assert words == ["the", "of", "and"]
    np.testing.assert_array_equal(got, vectors)
    text = tmp_path / "wrong-count.txt"
    text.write_text("2 100\nthe 5\nof " + " ".join(["1"] * 100) + "\n")
    with pytest.raises(FormatError, match="wrong-count.txt:2"):
        load_word2vec(text)


def test_duplicate_words_keep_first_with_warning(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("3 1\na 1\nb 2\na 3\n")
    with pytest.warns(UserWarning, match="duplicate"):
        words, vectors = load_word2vec(path)
    assert words == ["a", "b"]
    np.testing.assert_array_equal(vectors[:, 0], [1, 2])


# ----------------------------------------------------------------------------- malformed files


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", r"empty file"),
        (b"three 2\na 1 2\n", r"v\.txt:1: header"),
        (b"2 2\na 1 2\n", r"v\.txt:3: file ends after 1 vectors"),
        (b"1 2\na 1 2\nb 3 4\n", r"v\.txt:3: more vectors"),
        (b"2 3\na 1 2\nb 3 4\n", r"v\.txt:2: row of 'a' has 2 values, the header says dim 3"),
        (b"2 2\na 1 2\nb 3 4 5\n", r"v\.txt:3: row of 'b' has 3 values"),
        (b"2 2\na 1 2\nb 3 x4\n", r"v\.txt:3: value 'x4' of 'b' is not a number"),
        (b"2 2\na 1 nan\nb 3 4\n", r"v\.txt:2: value 'nan' of 'a' is NaN"),
        (b"2 2\na 1 2\nb 3 1e39\n", r"v\.txt:3: value '1e39'"),
        (b"3 2\na 1 2\n\nb 3 4\n", r"v\.txt:3: blank line"),
        (b"2 2\na 1 2\n\xff\xfe 3 4\n", r"v\.txt:3: word is not valid UTF-8"),
        (b"2 2\na 1 2\nb\n", r"v\.txt:3: row has no values"),
    ],
)
def test_malformed_text_names_file_and_line(tmp_path, content, match):
    path = tmp_path / "v.txt"
    path.write_bytes(content)
    with pytest.raises(FormatError, match=match):
        load_word2vec(path)


def binary_file(tmp_path, header, rows):
    path = tmp_path / "v.bin"
    path.write_bytes(header + b"".join(w + b" " + struct.pack(f"<{len(v)}f", *v) + b"\n" for w, v in rows))
    return path


def test_malformed_binary_names_byte_offsets(tmp_path):
    good = [(b"a", [1.0, 2.0]), (b"b", [3.0, 4.0])]
    with pytest.raises(FormatError, match=r"byte \d+: file truncated in row 3"):
        load_word2vec(binary_file(tmp_path, b"3 2\n", good), binary=True)
    with pytest.raises(FormatError, match=r"byte \d+: data after the 1 vectors"):
        load_word2vec(binary_file(tmp_path, b"1 2\n", good), binary=True)
    with pytest.raises(FormatError, match=r"byte 4: word of row 1 is not valid UTF-8"):
        load_word2vec(binary_file(tmp_path, b"2 2\n", [(b"\xff", [1.0, 2.0])] + good[1:]), binary=True)
    with pytest.raises(FormatError, match=r"row 2 \('b'\) holds a NaN"):
        load_word2vec(binary_file(tmp_path, b"2 2\n", [good[0], (b"b", [float("nan"), 1.0])]), binary=True)
    # a header whose dim is too small misaligns the rows: caught, never read as garbage vectors
    with pytest.raises(FormatError, match=r"byte \d+"):
        load_word2vec(binary_file(tmp_path, b"2 1\n", good), binary=True)
    path = binary_file(tmp_path, b"2 2\n", good)
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(FormatError, match="truncated"):
        load_word2vec(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_word2vec(tmp_path / "nope.txt")
    with pytest.raises(ConfigError, match="is a folder"):
        load_word2vec(tmp_path)
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(FormatError, match="corrupt or truncated"):
        load_word2vec(tmp_path / "bad.gz")


def test_save_refuses_what_word2vec_cannot_hold(tmp_path):
    path = tmp_path / "v.txt"
    with pytest.raises(FormatError, match="whitespace"):
        save_word2vec(path, ["a b"], np.zeros((1, 2)))
    with pytest.raises(FormatError, match="whitespace"):
        save_word2vec(path, [""], np.zeros((1, 2)))
    with pytest.raises(FormatError, match="more than once"):
        save_word2vec(path, ["a", "a"], np.zeros((2, 2)))
    with pytest.raises(FormatError, match="not finite"):
        save_word2vec(path, ["a"], np.array([[np.nan, 1]]))
    rows = np.ones((5000, 2))  # checked block by block: the bad row is found past the first block
    rows[4500, 1] = 1e300  # finite in float64, infinite as the float32 the file holds
    with pytest.raises(FormatError, match=r"vector of 'w4500' \(row 4500\) is not finite"):
        save_word2vec(path, [f"w{i}" for i in range(5000)], rows)
    with pytest.raises(ConfigError, match="2 words but 3 vectors"):
        save_word2vec(path, ["a", "b"], np.zeros((3, 2)))
    assert not path.exists()


# ----------------------------------------------------------------------------- atomic writes


def test_atomic_write_replaces_on_success(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with atomic_write(path, "w") as f:
        f.write("new")
        assert path.read_text() == "old"  # not visible until the end
    assert path.read_text() == "new"
    assert os.listdir(tmp_path) == ["out.txt"]
    assert (path.stat().st_mode & 0o777) == (0o666 & ~_umask())


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_atomic_write_keeps_old_file_on_failure(tmp_path, exc):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with pytest.raises(type(exc)):
        with atomic_write(path) as f:
            f.write(b"partial")
            raise exc
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_atomic_write_disk_full_is_a_resource_error(tmp_path, monkeypatch):
    path = tmp_path / "v.bin"
    path.write_bytes(b"old")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(ResourceError, match="no space left"):
        save_word2vec(path, ["a"], np.ones((1, 3)))
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["v.bin"]


KILLED_WRITER = """
import os, signal, sys
from mtlembed.io import atomic_write
with atomic_write(sys.argv[1]) as handle:
    handle.write(b"half of the new content")
    handle.flush()
    os.kill(os.getpid(), signal.SIGKILL)  # kill -9: no exception handler, no finally, runs
"""


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    path = tmp_path / "checkpoint.npz"
    path.write_bytes(b"previous")
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(path)])
    assert killed.returncode == -signal.SIGKILL
    [stray] = [p for p in tmp_path.iterdir() if p != path]
    assert stray.name.startswith(".checkpoint.npz.") and path.read_bytes() == b"previous"
    with atomic_write(path) as handle:
        handle.write(b"new")
    assert os.listdir(tmp_path) == ["checkpoint.npz"] and path.read_bytes() == b"new"


def test_an_empty_unlocked_temporary_is_removed_only_when_old(tmp_path):
    # a writer creates its temporary, then locks it: one found empty and unlocked may be
    # that instant of a live writer, or a writer killed right then
    path = tmp_path / "v.bin"
    empty = tmp_path / ".v.bin.abc_123.tmp"
    empty.touch()
    assert mio.remove_stale_temporaries(path) == []
    old = time.time() - atomic.STALE_SECONDS - 1
    os.utime(empty, (old, old))
    assert mio.remove_stale_temporaries(path) == [empty]


def test_a_live_writers_temporary_and_other_files_are_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "STALE_SECONDS", -1)  # any unlocked temporary counts as stale
    path = tmp_path / "v.bin"
    names = (".v.bin.x.tmp.keep", ".v.bin.part.x.tmp", ".w.bin.abc.tmp", "v.bin.tmp")
    others = [tmp_path / name for name in names]
    for other in others:
        other.write_bytes(b"not a temporary of v.bin")
    with atomic_write(path) as handle:
        handle.write(b"in progress")
        [live] = [p for p in tmp_path.iterdir() if p.name.startswith(".v.bin.") and p not in others]
        assert mio.remove_stale_temporaries(path) == []  # locked: its writer is alive (this one)
    stale = tmp_path / ".v.bin.k1ll3d_.tmp"
    stale.write_bytes(b"left by a killed writer")
    assert mio.remove_stale_temporaries(path) == [stale]
    assert sorted(tmp_path.iterdir()) == sorted([path, *others]) and not live.exists()


def test_bad_output_paths(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        check_output_path(tmp_path / "missing" / "v.bin")
    with pytest.raises(ConfigError, match="is a folder"):
        check_output_path(tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        with atomic_write(tmp_path / "missing" / "v.bin"):
            pass
    assert check_output_path(tmp_path / "ok.bin") == tmp_path / "ok.bin"
