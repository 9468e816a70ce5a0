"""Issue 16, what mtlembed reads: the specs' one schema, bounded numbers, files that are not
regular, literal names, the corpus cache against planted links and outside edits, and the
evaluation's help and warnings. Each test failed before its fix."""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

import mtlembed
import mtlembed.eval as ev
from mtlembed import ConfigError, CorpusError, FormatError, TaskSpec, TrainConfig, cache, corpus
from mtlembed.cli import main
from mtlembed.config import from_mapping
from mtlembed.encode import read_corpus
from mtlembed.io import save_word2vec
from mtlembed.jobconfig import load_job
from mtlembed.tasks import DictionarySpec, ParallelSpec


def cli_error(capsys, *argv) -> str:
    """Runs the CLI expecting exit 1 and one error line, which it returns."""
    assert main([str(a) for a in argv]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if not line.startswith("mtlembed: warning:")]
    assert "Traceback" not in err and len(lines) == 1 and lines[0].startswith("mtlembed: error: "), err
    return lines[0]


# ----------------------------------------------------------------------------- one schema (items 11, 12b)


@pytest.mark.parametrize(("make", "match"), [
    (lambda: TaskSpec("t", "a.txt", weight=math.inf), r"task 't': weight must be a finite number, got inf"),
    (lambda: TaskSpec("t", "a.txt", weight=1e300), r"weight must be > 0 and <= 1000, got 1e\+300"),
    (lambda: ParallelSpec("p", ("en", "es"), ("a", "b"), weight=math.nan), r"weight must be a finite number"),
    (lambda: ParallelSpec("p", ("en", "es"), ("a", "b"), weight=0), r"weight must be > 0"),
    (lambda: DictionarySpec(("en", "es"), "d.txt", codeswitch=math.nan), r"codeswitch must be a finite"),
    (lambda: DictionarySpec(("en", "es"), "d.txt", codeswitch=-1), r"codeswitch must be 0.0..1.0, got -1"),
    (lambda: DictionarySpec(("en", "es"), "d.txt", codeswitch="0.5"), r"codeswitch must be a number"),
    (lambda: DictionarySpec(("en", "en"), "d.txt"), r"langs must be a pair of two different languages"),
    (lambda: ParallelSpec("p", ("en", "es"), ("a", "a")), r"paths must be a list of two different"),
    (lambda: ParallelSpec("p", ("en", "e/s"), ("a", "b")), r"langs must be a name of 1 to 64 letters"),
    (lambda: TaskSpec("t", ()), r"paths must be a path or a non-empty list of paths"),
    (lambda: TaskSpec("t", "a.txt", head="per-task"), r"did you mean 'per_task'"),
])
def test_specs_check_their_values_where_they_are_defined(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


@pytest.mark.parametrize("lang", ["../../etc/x", "en/us", "..", "a\0b", "", "x" * 65, "en us", "en:us", "é"])
def test_a_language_is_a_safe_identifier(lang):
    with pytest.raises(ConfigError, match="lang must be"):
        TaskSpec("t", "a.txt", lang=lang)


def test_a_language_with_a_slash_in_a_job_file_is_refused_before_any_output(tmp_path, capsys):
    (tmp_path / "a.txt").write_text("a b c\n" * 50)
    (tmp_path / "job.toml").write_text('[[task]]\nname = "t"\nlang = "../../evil"\npaths = "a.txt"\n'
                                       "[output]\nper_language = true\n")
    message = cli_error(capsys, "train", "--config", tmp_path / "job.toml", "-o", tmp_path / "out", "--quiet")
    assert "lang must be a name of 1 to 64 letters" in message and "'../../evil'" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "job.toml"]


def test_the_job_file_keys_are_the_spec_fields():
    """jobconfig has no list of keys of its own: a spec field is a job-file key."""
    for schema in (TaskSpec, ParallelSpec, DictionarySpec):
        for f in dataclasses.fields(schema):
            assert f.metadata["help"], (schema.__name__, f.name)


def test_job_file_spec_errors_name_the_table(tmp_path):
    (tmp_path / "job.toml").write_text('[[task]]\nname = "t"\npaths = "a"\nweight = 1e308\n')
    with pytest.raises(ConfigError, match=r"job.toml: \[\[task\]\] #1 \('t'\): weight must be > 0 and <= 1"):
        load_job(tmp_path / "job.toml")


def test_path_fields_are_marked_once_and_resolved_from_the_job_file(tmp_path, monkeypatch):
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "job.toml").write_text('[train]\ncache_dir = "cache"\n'
                                                '[[task]]\nname = "t"\npaths = "a.txt"\n')
    monkeypatch.chdir(tmp_path)
    job = load_job(Path("jobs") / "job.toml")
    assert job.config.cache_dir == str(tmp_path / "jobs" / "cache")
    assert job.tasks[0].paths == (str(tmp_path / "jobs" / "a.txt"),)
    assert TrainConfig(cache_dir=tmp_path / "c").cache_dir == str(tmp_path / "c")  # a Path is taken too


# ----------------------------------------------------------------------------- bounded numbers (item 6c)


def test_every_number_of_every_schema_is_bounded():
    for schema in (TrainConfig, TaskSpec, ParallelSpec, DictionarySpec):
        for f in dataclasses.fields(schema):
            if str(f.type).replace(" | None", "") in ("int", "float"):
                low, high, above = (f.metadata[key] for key in ("low", "high", "above"))
                assert high is not None and (low is not None or above is not None), f.name


@pytest.mark.parametrize("flag", ["--max-sentence-length", "--min-count", "--max-vocab", "--seed", "--epochs",
                                  "--max-distinct"])
def test_huge_integer_flags_are_one_error_line(tmp_path, capsys, flag):
    (tmp_path / "a.txt").write_text("a b c\n" * 50)
    message = cli_error(capsys, "train", tmp_path / "a.txt", "-o", tmp_path / "v.vec", "--quiet",
                        flag, "9223372036854775808" + "0" * (flag == "--seed"))
    assert f"{flag[2:].replace('-', '_')} must be " in message and "got 9223372036854775808" in message


def test_huge_integers_in_python_are_config_errors():
    with pytest.raises(ConfigError, match="max_sentence_length must be 1..2147483647"):
        from_mapping({"max_sentence_length": 2**63})
    with pytest.raises(ConfigError, match="min_count must be 1.."):
        from_mapping({"min_count": 2**64})


def test_an_empty_string_setting_is_refused():
    with pytest.raises(ConfigError, match="cache_dir must be a non-empty string"):
        TrainConfig(cache_dir="")


# ----------------------------------------------------------------------------- not regular files (item 12a)


def run_cli(*argv, timeout=60) -> subprocess.CompletedProcess:
    """The CLI in a child process: a hang (a FIFO opened for reading) fails the test, not the run."""
    return subprocess.run([sys.executable, "-m", "mtlembed.cli", *map(str, argv)], capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def fifo(tmp_path) -> Path:
    path = tmp_path / "pipe.txt"
    os.mkfifo(path)
    return path


def joint_job(tmp_path: Path, dictionary: Path) -> Path:
    (tmp_path / "en.txt").write_text("the cat sat on the mat\n" * 30)
    (tmp_path / "es.txt").write_text("el gato se sienta en la alfombra\n" * 30)
    job = tmp_path / "job.toml"
    job.write_text('[train]\nmin_count = 1\ndim = 4\nepochs = 1\n'
                   '[[task]]\nname = "en"\nlang = "en"\npaths = "en.txt"\n'
                   '[[task]]\nname = "es"\nlang = "es"\npaths = "es.txt"\n'
                   f'[[dictionary]]\nlangs = ["en", "es"]\npath = "{dictionary}"\n')
    return job


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_a_dictionary_that_is_not_a_regular_file_is_refused(tmp_path, request, special):
    dictionary = request.getfixturevalue("fifo") if special == "fifo" else Path(special)
    job = joint_job(tmp_path, dictionary)
    result = run_cli("train", "--config", job, "-o", tmp_path / "v.vec", "--quiet")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{dictionary}: not a regular file but a " in result.stderr, result.stderr
    assert not (tmp_path / "v.vec").exists()


def test_a_job_file_that_is_a_fifo_is_refused(tmp_path, fifo):
    result = run_cli("train", "--config", fifo, "-o", tmp_path / "v.vec")
    assert result.returncode == 1
    assert "not a regular file but a named pipe" in result.stderr, result.stderr


@pytest.mark.parametrize("verb", ["analogy", "similarity"])
def test_evaluation_files_that_are_not_regular_are_refused(tmp_path, fifo, verb):
    vectors = tmp_path / "v.vec"
    vectors.write_text("2 2\na 1 0\nb 0 1\n")
    result = run_cli("eval", verb, vectors, fifo)
    assert result.returncode == 1 and "not a regular file but a named pipe" in result.stderr, result.stderr
    result = run_cli("eval", verb, "/dev/zero", fifo)
    assert result.returncode == 1 and "/dev/zero: not a regular file but a device" in result.stderr


def test_a_corpus_file_swapped_for_a_fifo_after_listing_is_refused_not_waited_on(fifo):
    """expand_paths checks what it lists; opening checks again (fstat of what was opened)."""
    with pytest.raises(CorpusError, match=r"pipe.txt: cannot open \(not a regular file but a named pipe\)"):
        corpus.open_compressed(fifo)  # before the fix: blocks for ever
    with pytest.raises(CorpusError, match="zero: cannot open .not a regular file but a device"):
        corpus.open_compressed(Path("/dev/zero"))


def test_folders_and_globs_give_regular_files_only(tmp_path, fifo):
    (tmp_path / "a.txt").write_text("a b c\n")
    assert corpus.expand_paths([str(tmp_path / "*.txt")]) == [tmp_path / "a.txt"]
    with pytest.raises(CorpusError, match="pipe.txt: not a regular file"):
        corpus.expand_paths([tmp_path])


# ----------------------------------------------------------------------------- literal names (item 13)


def test_an_existing_name_with_glob_characters_is_taken_literally(tmp_path):
    literal = tmp_path / "data[1].txt"
    literal.write_text("a b c\n")
    (tmp_path / "data1.txt").write_text("what the glob would match\n")
    assert corpus.expand_paths([literal]) == [literal]
    assert corpus.expand_paths([tmp_path / "data[12].txt"]) == [tmp_path / "data1.txt"]  # still a glob


# ----------------------------------------------------------------------------- the dictionary reader (seam)


def test_training_does_not_import_the_evaluation():
    """crosslingual.py took its dictionary reader from eval/bli.py; both now use dictionary.py."""
    code = ("import sys, mtlembed.trainer, mtlembed.crosslingual, mtlembed.jobconfig, mtlembed.cache; "
            "print(sorted(m for m in sys.modules if m.startswith('mtlembed.eval')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    from mtlembed import crosslingual, dictionary
    bli = importlib.import_module("mtlembed.eval.bli")  # mtlembed.eval.bli is also the function
    assert crosslingual.read_dictionary is dictionary.read_dictionary is bli.read_dictionary


# ----------------------------------------------------------------------------- eval help, warnings (15d, 15e)


@pytest.mark.parametrize(("verb", "defaults"), [
    ("analogy", ["(0: all; default: 30000)", "(default: add)"]),
    ("bli", ["(default: csls)", "(default: 10)", "(default: all)"]),
    ("suite", ["(default: 30000)"]),
])
def test_eval_help_shows_the_defaults(capsys, verb, defaults):
    with pytest.raises(SystemExit):
        main(["eval", verb, "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for default in defaults:
        assert default in text, text


def bli_vectors(tmp_path: Path, n: int = 40) -> tuple[Path, Path]:
    """Two vocabularies whose word i is the translation of word i (the same vector)."""
    vectors = np.random.default_rng(0).standard_normal((n, 8)).astype(np.float32)
    save_word2vec(tmp_path / "en.vec", [f"e{i}" for i in range(n)], vectors)
    save_word2vec(tmp_path / "es.vec", [f"s{i}" for i in range(n)], vectors)
    return tmp_path / "en.vec", tmp_path / "es.vec"


def test_a_reversed_dictionary_is_said_to_look_reversed(tmp_path, capsys):
    en, es = bli_vectors(tmp_path)
    reversed_dictionary = tmp_path / "es-en.txt"
    # 6 of 40 pairs happen to match the wrong way round too (coverage 15%)
    reversed_dictionary.write_text("".join(f"s{i} e{i}\n" for i in range(40))
                                   + "".join(f"e{i} s{i}\n" for i in range(6)))
    with pytest.warns(UserWarning, match="looks reversed.*swap the vectors files"):
        result = ev.bli(en, es, reversed_dictionary)
    assert result["coverage"] < 0.2
    assert main(["eval", "bli", str(en), str(es), str(reversed_dictionary)]) == 0
    assert "looks reversed" in capsys.readouterr().err


def test_a_low_coverage_is_warned_about(tmp_path):
    en, es = bli_vectors(tmp_path)
    mismatched = tmp_path / "en-es.txt"
    mismatched.write_text("".join(f"e{i} s{i}\n" for i in range(5))
                          + "".join(f"x{i} y{i}\n" for i in range(30)))
    with pytest.warns(UserWarning, match=r"only 14% of its source words have a translation"):
        ev.bli(en, es, mismatched)


def test_a_reversed_dictionary_matching_nothing_says_so(tmp_path):
    en, es = bli_vectors(tmp_path)
    reversed_dictionary = tmp_path / "d.txt"
    reversed_dictionary.write_text("".join(f"s{i} e{i}\n" for i in range(40)))
    with pytest.raises(FormatError, match="none of its 40 pairs.*looks reversed"):
        ev.bli(en, es, reversed_dictionary)


def test_a_good_dictionary_is_not_warned_about(tmp_path, recwarn):
    en, es = bli_vectors(tmp_path)
    (tmp_path / "good.txt").write_text("".join(f"e{i} s{i}\n" for i in range(40)))
    assert ev.bli(en, es, tmp_path / "good.txt")["p@1"] == 1.0
    assert not [w for w in recwarn if "coverage" in str(w.message) or "reversed" in str(w.message)]


# ----------------------------------------------------------------------------- the corpus cache (items 3, 8)


def cache_run(tmp_path: Path) -> tuple[Path, Path, TrainConfig]:
    text = tmp_path / "c.txt"
    text.write_text("".join(f"w{i % 13} w{i % 7} w{i % 5} w{i % 3}\n" for i in range(400)))
    return text, tmp_path / "cache", TrainConfig(cache_dir=str(tmp_path / "cache"), dim=8, epochs=1,
                                                   threads=1, min_count=1)


def test_a_link_planted_at_a_cache_temporary_is_not_followed(tmp_path):
    text, directory, config = cache_run(tmp_path)
    directory.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    names = [f".{stream}.{part}.tmp" for stream in ("task0", "task1") for part in ("tokens", "offsets")]
    names += [".vocab.words.tmp", ".manifest.json.tmp", "task0.tokens.tmp", ".task0.tokens.tmp.tmp"]
    for name in names:
        (directory / name).symlink_to(victim)
    mtlembed.train(text, config)
    assert victim.read_text() == "precious"
    assert all((directory / name).is_symlink() for name in names)  # not ours: left alone
    assert mtlembed.train(text, config) is not None  # and the cache is used


def edit_manifest(directory: Path, change) -> None:
    manifest = json.loads((directory / "manifest.json").read_text())
    change(manifest)
    (directory / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(("change", "what"), [
    (lambda m: m.__setitem__("starts", [0, 1]), "starts"),
    (lambda m: m["starts"].__setitem__(-1, m["starts"][-1] + 5), "starts"),
    (lambda m: m.__setitem__("vocab_size", m["vocab_size"] - 1), "vocab_size"),
    (lambda m: m.__setitem__("languages", ["xx"]), "languages"),
    (lambda m: m.__setitem__("words_read", -3), "words_read"),
])
def test_an_edited_manifest_is_a_clear_error(tmp_path, change, what):
    text, directory, config = cache_run(tmp_path)
    mtlembed.train(text, config)
    edit_manifest(directory, change)
    with pytest.raises(FormatError, match=r"manifest.json: damaged corpus cache \(.*checksum.*delete"):
        mtlembed.train(text, config)


def test_the_manifest_fields_are_checked_even_with_a_matching_checksum(tmp_path):
    """What the kernel indexes with is validated whatever the checksum says."""
    text, directory, config = cache_run(tmp_path)
    mtlembed.train(text, config)

    def spoil(manifest):
        manifest["starts"] = [0, manifest["vocab_size"] + 10]
        manifest["checksum"] = cache.manifest_checksum(manifest)

    edit_manifest(directory, spoil)
    with pytest.raises(FormatError, match=r"manifest.json: damaged corpus cache \(starts"):
        mtlembed.train(text, config)


def test_a_truncated_cache_file_is_a_clear_error_at_load(tmp_path, capsys):
    text, directory, config = cache_run(tmp_path)
    mtlembed.train(text, config)
    tokens = directory / "task0.tokens"
    os.truncate(tokens, tokens.stat().st_size // 2)
    message = cli_error(capsys, "train", text, "-o", tmp_path / "v.vec", "--quiet", "--dim", "8",
                        "--epochs", "1", "--min-count", "1", "--cache-dir", directory)
    assert f"{tokens}: damaged corpus cache" in message and "delete" in message


def test_ids_of_another_language_in_a_task_are_refused(tmp_path):
    en, es = tmp_path / "en.txt", tmp_path / "es.txt"
    en.write_text("a b c d\n" * 50)
    es.write_text("e f g h\n" * 50)
    directory = tmp_path / "cache"
    tasks = [TaskSpec("en", en, lang="en"), TaskSpec("es", es, lang="es")]
    config = TrainConfig(cache_dir=str(directory), min_count=1)
    data = read_corpus(tasks, config)
    tokens = np.array(data.streams[0].tokens)
    tokens[3] = data.vocab.range_of("es")[0]  # in the vocabulary, but a Spanish id in the English task
    del data
    tokens.tofile(directory / "task0.tokens")

    def recrc(manifest):
        manifest["streams"]["task0"]["tokens"]["crc32"] = zlib.crc32(tokens)
        manifest["checksum"] = cache.manifest_checksum(manifest)

    edit_manifest(directory, recrc)
    with pytest.raises(FormatError, match=r"task0.tokens: damaged corpus cache \(an id outside the "
                                          r"vocabulary of language 'en'"):
        read_corpus(tasks, config)


def test_a_small_cache_is_trained_from_ram_so_outside_edits_cannot_reach_it(tmp_path):
    """Truncating a mapped file makes reading it SIGBUS: a cache that fits is copied as it is
    checked, so what was checked is what is trained on, whatever happens to the files."""
    text, directory, config = cache_run(tmp_path)
    for run in ("built", "reused"):
        shutil.rmtree(directory, ignore_errors=True)
        if run == "reused":
            read_corpus([TaskSpec("t", text)], config)
        data = read_corpus([TaskSpec("t", text)], config)
        stream = data.streams[0]
        assert not isinstance(stream.tokens, np.memmap) and not isinstance(stream.offsets, np.memmap), run
        expected = int(stream.tokens.astype(np.int64).sum())
        for name in ("task0.tokens", "task0.offsets"):
            os.truncate(directory / name, 0)
        assert int(stream.tokens.astype(np.int64).sum()) == expected  # a memory map would SIGBUS here
        assert int(stream.offsets[-1]) == len(stream.tokens)


def test_a_cache_larger_than_its_share_of_memory_is_memory_mapped(tmp_path, monkeypatch):
    text, directory, config = cache_run(tmp_path)
    monkeypatch.setattr(cache, "available_memory", lambda: 1000)
    data = read_corpus([TaskSpec("t", text)], config)
    assert isinstance(data.streams[0].tokens, np.memmap) and not data.streams[0].tokens.flags.writeable


def test_a_cache_file_that_is_a_link_to_a_device_is_refused(tmp_path):
    text, directory, config = cache_run(tmp_path)
    read_corpus([TaskSpec("t", text)], config)
    (directory / "task0.tokens").unlink()
    (directory / "task0.tokens").symlink_to("/dev/zero")
    with pytest.raises(FormatError, match=r"task0.tokens: damaged corpus cache \(not a regular file"):
        read_corpus([TaskSpec("t", text)], config)


def test_a_cache_manifest_that_is_a_fifo_is_refused_not_waited_on(tmp_path):
    from mtlembed.cache import MANIFEST

    text, directory, config = cache_run(tmp_path)
    read_corpus([TaskSpec("t", text)], config)
    (directory / MANIFEST).unlink()
    os.mkfifo(directory / MANIFEST)
    with pytest.raises(FormatError, match="not a regular file"):
        read_corpus([TaskSpec("t", text)], config)
