"""Reading corpora: compression, globs, folders, UTF-8, lowercasing, long lines."""

from __future__ import annotations

import bz2
import gzip
import lzma
import warnings

import pytest

from mtlembed import CorpusError, TaskSpec, TrainConfig
from mtlembed.corpus import CorpusWarning
from mtlembed.trainer import read_corpus


def read(paths, **config):
    cfg = TrainConfig(min_count=1, **config)
    return read_corpus([TaskSpec("t", tuple(str(p) for p in paths))], cfg)


def test_plain_gzip_bz2_xz_read_the_same(tmp_path):
    text = b"the cat sat on the mat\nthe dog\n"
    files = {"a.txt": text, "b.gz": gzip.compress(text), "c.bz2": bz2.compress(text), "d.xz": lzma.compress(text)}
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
