"""JSON Lines corpora (--jsonl-field / jsonl_field): the named field's text is the corpus.

Read through the one corpus reader (gzip, bz2, globs, folders); a line that is not a JSON
object with the field as a string is an error naming the file and line.
"""

from __future__ import annotations

import bz2
import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

import mtlembed
from mtlembed import TaskSpec, TrainConfig, corpus
from mtlembed.cache import corpus_key
from mtlembed.encode import read_corpus
from mtlembed.errors import CorpusError
from mtlembed.jobconfig import load_job

DOCUMENTS = [{"id": 1, "title": "Kings", "text": "The king rules.\nThe queen rules too."},
             {"id": 2, "title": "Dogs", "text": "A dog barks, a cat sleeps."}]


def write_jsonl(path: Path, records, opener=open) -> Path:
    with opener(path, "wt", encoding="utf-8") as out:
        for record in records:
            out.write((record if isinstance(record, str) else json.dumps(record, ensure_ascii=False)) + "\n")
    return path


def read(paths, field="text", **config) -> tuple[list[str], list[list[str]]]:
    """The vocabulary and the sentences as words, read with min_count 1."""
    data = read_corpus([TaskSpec("t", tuple(map(str, paths)), jsonl_field=field)],
                       TrainConfig(min_count=1, **config))
    words = data.vocab.words
    tokens, offsets = data.streams[0].tokens.tolist(), data.streams[0].offsets.tolist()
    return words, [[words[t] for t in tokens[a:b]] for a, b in zip(offsets, offsets[1:])]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mtlembed", *args], capture_output=True, text=True)


def test_the_field_is_the_text_and_its_newlines_end_sentences(tmp_path):
    words, sentences = read([write_jsonl(tmp_path / "docs.jsonl", DOCUMENTS)])
    assert sentences == [["The", "king", "rules."], ["The", "queen", "rules", "too."],
                         ["A", "dog", "barks,", "a", "cat", "sleeps."]]
    assert not [w for w in words if "{" in w or '"' in w or "id" in w]


def test_with_the_unicode_tokenizer_and_lowercase(tmp_path):
    words, sentences = read([write_jsonl(tmp_path / "docs.jsonl", DOCUMENTS)], tokenizer="unicode",
                            lowercase=True)
    assert sentences[2] == ["a", "dog", "barks", ",", "a", "cat", "sleeps", "."]


def test_gzip_bz2_globs_and_folders(tmp_path):
    folder = tmp_path / "dump"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl.gz", DOCUMENTS[:1], gzip.open)
    write_jsonl(folder / "b.jsonl.bz2", DOCUMENTS[1:], bz2.open)
    expected = read([write_jsonl(tmp_path / "all.jsonl", DOCUMENTS)])
    assert read([folder]) == expected
    assert read([folder / "*.jsonl.*"]) == expected


def test_blank_lines_are_skipped_and_a_last_line_needs_no_newline(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text("\n" + json.dumps(DOCUMENTS[0]) + "\n\n  \n" + json.dumps(DOCUMENTS[1]))
    assert read([path]) == read([write_jsonl(tmp_path / "plain.jsonl", DOCUMENTS)])


def test_lines_longer_than_a_read_are_whole(tmp_path, monkeypatch):
    long_text = " ".join(f"w{i % 50}" for i in range(5000))
    path = write_jsonl(tmp_path / "long.jsonl", [{"text": long_text}, *DOCUMENTS])
    whole = read([path])
    monkeypatch.setattr(corpus, "BLOCK_BYTES", 64)
    assert read([path]) == whole
    assert sum(whole[1][:5], []) == long_text.split()  # in sentences of max_sentence_length


@pytest.mark.parametrize("line, message", [
    ('{"text": "fine"', r"bad.jsonl:2: not JSON: Expecting ',' delimiter \(column 16\)"),
    ("not json at all", r"bad.jsonl:2: not JSON: Expecting value \(column 1\)"),
    ('{"id": 7, "body": "x"}', r'bad.jsonl:2: no "text" field \(this line has "id", "body"\); --jsonl-field'),
    ('{"text": null}', r'bad.jsonl:2: the "text" field is null, not a string'),
    ('{"text": ["a", "b"]}', r'bad.jsonl:2: the "text" field is an array, not a string'),
    ('["text", "a"]', r'bad.jsonl:2: an array where a JSON Lines corpus has an object with a "text" field'),
])
def test_a_bad_line_is_an_error_naming_file_and_line(tmp_path, line, message):
    path = write_jsonl(tmp_path / "bad.jsonl", [DOCUMENTS[0], line, DOCUMENTS[1]])
    with pytest.raises(CorpusError, match=message):
        read([path])


def test_invalid_utf8_and_lone_surrogates_follow_encoding_errors(tmp_path):
    path = tmp_path / "bytes.jsonl"
    path.write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n{"text": "half \\ud800 pair"}\n')
    with pytest.raises(CorpusError, match=r"bytes.jsonl:2: invalid UTF-8 \(bytes e9\)"):
        read([path], encoding_errors="strict")
    path.write_bytes(b'{"text": "ok"}\n{"text": "half \\ud800 pair"}\n')
    with pytest.raises(CorpusError, match=r"bytes.jsonl:2: the \"text\" field holds a lone surrogate"):
        read([path], encoding_errors="strict")
    path.write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n{"text": "half \\ud800 pair"}\n')
    replaced = r"2 invalid UTF-8 bytes replaced by U\+FFFD \(first at .*bytes.jsonl:2\)"
    with pytest.warns(corpus.CorpusWarning, match=replaced):
        words, _ = read([path])
    assert set(words) == {"ok", "caf\ufffd", "half", "\ufffd", "pair"}


def test_a_jsonl_file_read_as_plain_text_warns(tmp_path):
    path = write_jsonl(tmp_path / "docs.jsonl", DOCUMENTS)
    with pytest.warns(corpus.CorpusWarning, match="looks like JSON Lines.*--jsonl-field"):
        read_corpus([TaskSpec("t", (str(path),))], TrainConfig(min_count=1))


def test_the_cache_tells_fields_and_tokenizers_apart(tmp_path):
    path = str(write_jsonl(tmp_path / "docs.jsonl", DOCUMENTS))
    keys = [corpus_key([TaskSpec("t", (path,), jsonl_field=field)], [], TrainConfig(tokenizer=tokenizer))
            for field in (None, "text", "title") for tokenizer in ("whitespace", "unicode")]
    assert len({json.dumps(key, sort_keys=True) for key in keys}) == len(keys)
    task_field = corpus_key([TaskSpec("t", (path,), jsonl_field="text")], [], TrainConfig())
    assert task_field == corpus_key([TaskSpec("t", (path,))], [], TrainConfig(jsonl_field="text"))


def test_the_python_train_function_takes_the_field(tmp_path):
    path = write_jsonl(tmp_path / "docs.jsonl", DOCUMENTS * 20)
    vectors = mtlembed.train(path, jsonl_field="text", tokenizer="unicode", lowercase=True, min_count=1,
                             dim=8, epochs=1, threads=1)
    assert "king" in vectors and "sleeps" in vectors and "sleeps." not in vectors
    assert not [w for w in vectors.words if '"' in w]
    with pytest.raises(CorpusError, match=r'docs.jsonl:1: no "body" field'):
        mtlembed.train(path, jsonl_field="body", min_count=1, dim=8, epochs=1)


def test_cli_reads_jsonl_and_reports_a_bad_line_in_one_line(tmp_path):
    path = write_jsonl(tmp_path / "docs.jsonl.gz", DOCUMENTS * 20, gzip.open)
    out = tmp_path / "v.vec"
    result = run_cli("train", str(path), "--jsonl-field", "text", "--tokenizer", "unicode", "--lowercase",
                     "--min-count", "1", "--dim", "8", "--epochs", "1", "--threads", "1", "-o", str(out))
    assert result.returncode == 0, result.stderr
    vocabulary = {line.split(" ")[0] for line in out.read_text().splitlines()[1:]}
    assert vocabulary == {"the", "king", "rules", ".", "queen", "too", "a", "dog", "barks", ",", "cat",
                          "sleeps"}
    result = run_cli("train", str(path), "--jsonl-field", "body", "-o", str(tmp_path / "w.vec"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f'mtlembed: error: {path}:1: no "body" field (this line has "id", "title", "text"); '
        "--jsonl-field (jsonl_field) names the field that holds the text"]
    assert not (tmp_path / "w.vec").exists()


def test_a_job_names_the_field_per_task(tmp_path):
    write_jsonl(tmp_path / "news.jsonl", DOCUMENTS * 10)
    (tmp_path / "plain.txt").write_text("the king and the dog\n" * 10)
    job = tmp_path / "job.toml"
    job.write_text('[train]\nmin_count = 1\ndim = 8\nepochs = 1\nthreads = 1\ntokenizer = "unicode"\n\n'
                   '[[task]]\nname = "news"\npaths = "news.jsonl"\njsonl_field = "text"\n\n'
                   '[[task]]\nname = "plain"\npaths = "plain.txt"\n')
    parsed = load_job(job)
    assert [t.jsonl_field for t in parsed.tasks] == ["text", None]
    data = read_corpus(parsed.tasks, parsed.config)
    expected = "The king rules . queen too A dog barks , a cat sleeps the and"  # the plain task's too
    assert set(data.vocab.words) == set(expected.split())
    result = run_cli("train", "--config", str(job), "-o", str(tmp_path / "job.vec"))
    assert result.returncode == 0, result.stderr
