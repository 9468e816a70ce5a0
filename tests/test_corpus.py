"""Reading corpora: compression, globs, folders, UTF-8, lowercasing, long lines."""

from __future__ import annotations

import bz2
import errno
import gzip
import lzma
import os
import re
import warnings

import pytest

import mtlembed.corpus as corpus
from mtlembed import CorpusError, TaskSpec, TrainConfig
from mtlembed.cli import main
from mtlembed.corpus import CorpusWarning, compression_of
from mtlembed.encode import read_corpus


def read(paths, **config):
    cfg = TrainConfig(min_count=1, **config)
    return read_corpus([TaskSpec("t", tuple(str(p) for p in paths))], cfg)


def test_plain_gzip_bz2_xz_read_the_same(tmp_path):
    text = b"the cat sat on the mat\nthe dog\n"
    files = {"a.txt": text, "b.gz": gzip.compress(text), "c.bz2": bz2.compress(text),
             "d.xz": lzma.compress(text)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    results = [read([tmp_path / name]) for name in files]
    for result in results:
        assert result.vocab.words == results[0].vocab.words
        assert result.streams[0].tokens.tolist() == results[0].streams[0].tokens.tolist()
        assert result.words_read == 8


def test_folders_and_globs(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("x y\n")
    (tmp_path / "sub" / "b.txt").write_text("z\n")
    assert read([tmp_path]).words_read == 3
    assert read([tmp_path / "**" / "*.txt"]).words_read == 3
    assert read([tmp_path / "*.txt"]).words_read == 2


def test_lines_are_sentences_and_long_lines_are_split_not_truncated(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(" ".join(["w"] * 2500) + "\nshort line\n")
    result = read([path], max_sentence_length=1000)
    offsets = result.streams[0].offsets.tolist()
    assert offsets == [0, 1000, 2000, 2500, 2502]


def test_blocks_never_split_a_token(tmp_path, monkeypatch):
    import mtlembed.corpus as corpus

    monkeypatch.setattr(corpus, "BLOCK_BYTES", 7)
    path = tmp_path / "c.txt"
    path.write_text("alpha beta gamma delta\nepsilon\n")
    assert read([path]).vocab.words == ["alpha", "beta", "gamma", "delta", "epsilon"]


def test_lowercase_is_unicode_aware(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("Äpfel ÑANDÚ Straße ΣΟΦΙΑ apple\n", encoding="utf-8")
    assert read([path], lowercase=True).vocab.words == ["äpfel", "ñandú", "straße", "σοφια", "apple"]


def test_bom_and_crlf(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(b"\xef\xbb\xbfone two\r\nthree\r\n")
    assert read([path]).vocab.words == ["one", "two", "three"]


def test_invalid_utf8_is_replaced_with_a_counted_warning(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(b"good line\nbad \xff\xfe here\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = read([path])
    messages = [str(w.message) for w in caught if issubclass(w.category, CorpusWarning)]
    assert messages and "2 invalid UTF-8 bytes" in messages[0] and f"{path}:2" in messages[0]
    assert "\ufffd\ufffd" in result.vocab.words


def test_invalid_utf8_strict_names_file_and_line(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(b"good\nline two\nbad \xc3\x28\n")
    with pytest.raises(CorpusError, match=rf"{path}:3: invalid UTF-8"):
        read([path], encoding_errors="strict")


@pytest.mark.parametrize("maker", [gzip.compress, bz2.compress, lzma.compress])
def test_truncated_compressed_file_is_a_clear_error(tmp_path, maker):
    path = tmp_path / "c.bin"
    path.write_bytes(maker(b"word " * 20000)[:-40])
    with pytest.raises(CorpusError, match="corrupt or truncated"):
        read([path])


@pytest.mark.parametrize("text", [b"BZh", b"BZh9 is a word\n", b"BZh91AY is not a block\n",
                                  b"BZhello world\n", b"\x1f\x8b but not deflate\n", b"\x1f\x8b",
                                  b"\xfd7zXZ without the nul\n"])
def test_plain_text_starting_like_a_compressed_file_is_text(tmp_path, text):
    path = tmp_path / "c.txt"
    path.write_bytes(text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorpusWarning)  # \x8b and \xfd are invalid UTF-8, replaced
        result = read([path])
    assert result.words_read == len(text.split())
    assert result.vocab.words[0] == text.split()[0].decode("utf-8", "replace")


def test_real_headers_are_recognized():
    for level in range(1, 10):
        assert compression_of(bz2.compress(b"text", level)[:10]) == "bz2"
    assert compression_of(bz2.compress(b"")[:10]) == "bz2"  # no block: the end-of-stream magic follows
    assert compression_of(gzip.compress(b"")[:10]) == "gzip"
    assert compression_of(lzma.compress(b"")[:10]) == "xz"
    assert compression_of(b"") == compression_of(b"BZh9") == "plain"


@pytest.mark.parametrize(("kind", "maker"), [("gzip", gzip.compress), ("bz2", bz2.compress)])
@pytest.mark.parametrize("keep", [10, 30, 0.5])
def test_compressed_files_cut_anywhere_after_the_header_are_clear_errors(tmp_path, kind, maker, keep):
    data = maker(b"word " * 20000)
    path = tmp_path / "c.txt"
    path.write_bytes(data[:keep if isinstance(keep, int) else int(len(data) * keep)])
    with pytest.raises(CorpusError, match=rf"{path}: corrupt or truncated {kind} data \(byte \d+ "
                                          r"of the compressed file, after \d+ bytes of text\)"):
        read([path])


class _FailingDisk:
    """A raw file whose reads fail with EIO from byte `bad` on, as a dying disk's do."""

    def __init__(self, path, bad: int):
        self._file, self._bad = open(path, "rb", buffering=0), bad

    def read(self, size=-1):
        at = self._file.tell()
        if at >= self._bad:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return self._file.read(min(size if size >= 0 else self._bad, self._bad - at))

    def __getattr__(self, name):
        return getattr(self._file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._file.close()


@pytest.mark.parametrize(("name", "maker", "where"), [
    ("c.txt", bytes, r"byte 300000"),
    ("c.gz", gzip.compress, r"byte 3000 of the compressed file, after \d+ bytes of text"),
])
def test_an_io_error_while_reading_names_the_file_and_byte(tmp_path, monkeypatch, capsys, name, maker, where):
    path = tmp_path / name
    path.write_bytes(maker(b"".join(b"w%d " % i for i in range(200_000))))
    bad = 300_000 if name == "c.txt" else 3000
    real_open = corpus.open_regular
    monkeypatch.setattr(corpus, "open_regular", lambda file: _FailingDisk(file, bad)
                        if os.fspath(file) == str(path) else real_open(file))
    message = rf"{re.escape(str(path))}: read error at {where} \(Input/output error\)"
    with pytest.raises(CorpusError, match=message):
        read([path])
    assert main(["train", str(path), "-o", str(tmp_path / "v.bin"), "--quiet", "--min-count", "1"]) == 1
    assert re.fullmatch(f"mtlembed: error: {message}\n", capsys.readouterr().err)


def test_missing_empty_and_unmatched_inputs(tmp_path):
    with pytest.raises(CorpusError, match="no such file"):
        read([tmp_path / "nope.txt"])
    (tmp_path / "empty.txt").write_text("  \n\n")
    with pytest.raises(CorpusError, match="no words"):
        read([tmp_path / "empty.txt"])
    (tmp_path / "void").mkdir()
    with pytest.raises(CorpusError, match="contains no files"):
        read([tmp_path / "void"])
    with pytest.raises(CorpusError, match="no files match"):
        read([tmp_path / "*.nothing"])


def test_everything_under_min_count(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a b c d\n")
    with pytest.raises(CorpusError, match="min_count=5"):
        read_corpus([TaskSpec("t", (str(path),))], TrainConfig(min_count=5))
