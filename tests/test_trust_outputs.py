"""Issue 16, outputs: nothing we write may destroy a user's file, and every output path is
checked before the corpus is read (hostile-input battery)."""

from __future__ import annotations

import gzip
import os
import stat
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import mtlembed.atomic as atomic
import mtlembed.io as mio
from mtlembed import Embeddings
from mtlembed.cli import main
from mtlembed.errors import ConfigError, MissingDependencyError, MtlembedError, ResourceError

# ----------------------------------------------------------------------------- temporaries (item 3)


def test_a_planted_link_at_the_temporary_name_is_never_followed(tmp_path, monkeypatch):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    names = iter(["planted", "planted", "fresh"])
    monkeypatch.setattr(atomic.secrets, "token_hex", lambda n: next(names))
    path = tmp_path / "out.vec"
    (tmp_path / ".out.vec.planted.tmp").symlink_to(victim)
    fd, temporary = mio.exclusive_temporary(path)
    os.close(fd)
    assert temporary.name == ".out.vec.fresh.tmp" and not temporary.is_symlink()
    assert victim.read_text() == "precious"


def test_a_dangling_planted_link_creates_nothing_at_its_target(tmp_path, monkeypatch):
    names = iter(["planted", "fresh"])
    monkeypatch.setattr(atomic.secrets, "token_hex", lambda n: next(names))
    target = tmp_path / "would-be-created"
    (tmp_path / ".v.bin.planted.tmp").symlink_to(target)
    with mio.atomic_write(tmp_path / "v.bin") as handle:
        handle.write(b"new")
    assert not target.exists() and (tmp_path / "v.bin").read_bytes() == b"new"


def test_temporaries_have_the_mode_of_a_plain_open_and_are_locked(tmp_path):
    fd, temporary = mio.exclusive_temporary(tmp_path / "x.bin")
    try:
        umask = os.umask(0)
        os.umask(umask)
        assert temporary.stat().st_mode & 0o777 == 0o666 & ~umask
        assert mio.remove_stale_temporaries(tmp_path / "x.bin") == []  # locked: a live writer's
    finally:
        os.close(fd)


def test_an_unwritable_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot write"):
        mio.exclusive_temporary(tmp_path / "missing" / "x.bin")


# ----------------------------------------------------------------------------- export memory (item 5)


@pytest.mark.parametrize("suffix", [".vec", ".bin"])
def test_writing_vectors_takes_bounded_memory_at_a_large_dim(tmp_path, suffix):
    # before: the text export held ~20x the matrix (2 GB at dim 5000, OOM at dim 100000)
    words = [f"w{i}" for i in range(600)]
    vectors = np.random.default_rng(0).standard_normal((600, 20000)).astype(np.float32)
    tracemalloc.start()
    try:
        mio.save_word2vec(tmp_path / f"v{suffix}", words, vectors)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < min(mio.export_memory(20000), vectors.nbytes // 2)
    loaded_words, loaded = mio.load_word2vec(tmp_path / f"v{suffix}")
    assert loaded_words == words and np.allclose(loaded, vectors, rtol=1e-6)


def test_the_memory_check_before_training_counts_the_export(monkeypatch):
    from mtlembed import resources

    monkeypatch.setattr(resources, "available_memory", lambda: 90 * 2**20)
    resources.check_memory(1000, 1000, 2)  # 8 MB of matrices and a block of rows fit
    with pytest.raises(ResourceError, match="export 19 MiB"):
        resources.check_memory(100, 200000, 1)  # 80 MB of matrix fit, but not with a row formatted


# ----------------------------------------------------------------------------- per-language files (item 4)


def joint_embeddings():
    words = ["en:a", "en:b", "es:c", "es:d"]
    return Embeddings(words, np.arange(8, dtype=np.float32).reshape(4, 2))


@pytest.mark.parametrize("failure", [KeyboardInterrupt, OSError])
def test_per_language_files_change_together_or_not_at_all(tmp_path, monkeypatch, failure):
    prefix = tmp_path / "out"
    for lang in ("en", "es"):
        (tmp_path / f"out.{lang}.vec").write_text(f"old {lang}")
    real_format = mio._format_rows
    calls = []

    def fail_on_second_file(block):
        calls.append(1)
        if len(calls) == 2:
            raise failure("while writing out.es.vec")
        return real_format(block)

    monkeypatch.setattr(mio, "_format_rows", fail_on_second_file)
    with pytest.raises(failure):
        joint_embeddings().save_per_language(prefix)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.en.vec", "out.es.vec"]  # no temporaries
    assert (tmp_path / "out.en.vec").read_text() == "old en"  # before: already the new English vectors
    monkeypatch.setattr(mio, "_format_rows", real_format)
    assert joint_embeddings().save_per_language(prefix) == [f"{prefix}.en.vec", f"{prefix}.es.vec"]
    assert mio.load_word2vec(f"{prefix}.es.vec")[0] == ["c", "d"]


def test_a_failed_rename_removes_the_group_s_remaining_temporaries(tmp_path, monkeypatch):
    real_replace = os.replace

    def refuse_second(src, dst):
        if str(dst).endswith("b.txt"):
            raise OSError(13, "Permission denied", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", refuse_second)
    with pytest.raises(OSError, match="Permission denied"):
        with mio.atomic_group() as group:
            for name in ("a.txt", "b.txt", "c.txt"):
                with group.write(tmp_path / name, "w") as handle:
                    handle.write(name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]  # renamed before the failure


def test_a_language_is_a_view_of_the_matrix_not_a_copy():
    embeddings = joint_embeddings()
    spanish = embeddings.by_language("es")
    assert np.shares_memory(spanish.vectors, embeddings.vectors) and spanish.words == ["c", "d"]


# ----------------------------------------------------------------------------- newcomer items (15)


def test_gzip_text_output_is_written_and_read_back(tmp_path):
    path = tmp_path / "v.vec.gz"
    words = ["a", "b"]
    mio.save_word2vec(path, words, np.eye(2, dtype=np.float32))
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert gzip.decompress(path.read_bytes()).startswith(b"2 2\na 1")
    assert mio.load_word2vec(path)[0] == words
    assert mio.vectors_format("v.bin.gz") == (True, True) and mio.vectors_format("v.txt") == (False, False)
    with pytest.raises(ConfigError, match="must end with .bin"):
        mio.vectors_format("v.gz")


def test_to_torch_without_torch_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now fails as if it were not installed
    with pytest.raises(MissingDependencyError, match=r'pip install "mtlembed\[torch\]"') as caught:
        joint_embeddings().to_torch()
    assert isinstance(caught.value, ImportError) and isinstance(caught.value, MtlembedError)


# ----------------------------------------------------------------------------- outputs never inputs (item 1)


@pytest.fixture
def never_read(monkeypatch):
    """Fails the test if the corpus is read: path errors must come first."""
    import mtlembed.encode
    import mtlembed.trainer

    def read_corpus(*args, **kwargs):
        raise AssertionError("the corpus was read before the paths were checked")

    for module in (mtlembed.encode, mtlembed.trainer):
        monkeypatch.setattr(module, "read_corpus", read_corpus)


def refused(argv, capsys, *needles):
    """Runs the CLI: exit 1, one error line that contains every needle."""
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("mtlembed: error: ") and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err
    return err


def test_training_never_overwrites_its_corpus(small_corpus, capsys, never_read):
    before = small_corpus.read_bytes()
    refused(["train", str(small_corpus), "-o", str(small_corpus), "--quiet"], capsys,
            "would overwrite the corpus file")
    assert small_corpus.read_bytes() == before


def test_an_output_inside_a_corpus_folder_is_refused(tmp_path, capsys, never_read):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("one two three\n")
    (folder / "b.txt").write_text("four five six\n")
    refused(["train", str(folder), "-o", str(folder / "b.txt"), "--quiet"], capsys, "corpus")
    refused(["train", str(folder), "-o", str(folder / "new.vec"), "--quiet"], capsys,
            "is inside the corpus folder")
    assert (folder / "b.txt").read_text() == "four five six\n" and not (folder / "new.vec").exists()


def test_a_report_may_be_neither_the_output_nor_a_corpus(tmp_path, small_corpus, capsys, never_read):
    out = str(tmp_path / "v.vec")
    refused(["train", str(small_corpus), "-o", out, "--report", out, "--quiet"], capsys, "end with .json")
    corpus = tmp_path / "c.json"
    corpus.write_text("a b c\n")
    refused(["train", str(corpus), "-o", out, "--report", str(corpus), "--quiet"], capsys,
            "the report", "would overwrite the corpus file")
    refused(["train", str(small_corpus), "-o", out, "--report", str(tmp_path / "r.txt"), "--quiet"], capsys,
            ".json")
    assert corpus.read_text() == "a b c\n"


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_links_to_the_corpus_are_the_corpus(tmp_path, small_corpus, capsys, never_read, link):
    alias = tmp_path / "alias.txt"
    (os.symlink if link == "symlink" else os.link)(small_corpus, alias)
    refused(["train", str(small_corpus), "-o", str(alias), "--quiet"], capsys, "would overwrite")
    refused(["train", str(alias), "-o", str(small_corpus), "--quiet"], capsys, "would overwrite")


def test_an_output_a_corpus_glob_would_read_is_refused(tmp_path, small_corpus, capsys, never_read):
    refused(["train", str(tmp_path / "*.txt"), "-o", str(tmp_path / "vectors.txt"), "--quiet"], capsys,
            "matches the corpus pattern")


def test_outputs_may_not_be_each_other_or_hold_inputs(tmp_path, small_corpus, capsys, never_read):
    out = str(tmp_path / "out" / "v.vec")
    (tmp_path / "out").mkdir()
    (tmp_path / "ck").mkdir()
    ck = str(tmp_path / "ck")
    refused(["train", str(small_corpus), "-o", out, "--checkpoint-dir", ck, "--cache-dir", ck, "--quiet"],
            capsys, "the cache folder", "is also the checkpoint folder")
    refused(["train", str(small_corpus), "-o", str(tmp_path / "ck" / "v.vec"), "--checkpoint-dir", ck,
             "--quiet"], capsys, "is inside the checkpoint folder")
    refused(["train", str(small_corpus), "-o", out, "--checkpoint-dir", str(small_corpus.parent / "."),
             "--quiet"], capsys, "is inside the checkpoint folder")
    data = tmp_path / "data"
    data.mkdir()
    (data / "c.txt").write_text("a b c\n")
    refused(["train", str(data / "c.txt"), "-o", out, "--cache-dir", str(data), "--quiet"], capsys,
            "the corpus file", "is inside the cache folder")


# ----------------------------------------------------------------------------- paths checked first (item 7)


@pytest.mark.parametrize("flag", ["--checkpoint-dir", "--cache-dir"])
def test_a_folder_output_that_is_a_file_fails_before_the_corpus_is_read(tmp_path, small_corpus, capsys,
                                                                         never_read, flag):
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("mine")
    out = str(tmp_path / "v.vec")
    refused(["train", str(small_corpus), "-o", out, flag, str(a_file), "--quiet"], capsys,
            "is a file, expected a folder")
    refused(["train", str(small_corpus), "-o", out, flag, str(a_file / "sub"), "--quiet"], capsys,
            "is not a folder")
    assert a_file.read_text() == "mine"


def test_every_output_path_is_checked_before_the_corpus_is_read(tmp_path, small_corpus, capsys, never_read):
    out = str(tmp_path / "v.vec")
    refused(["train", str(small_corpus), "-o", str(tmp_path / "nodir" / "v.vec"), "--quiet"], capsys,
            "does not exist")
    report = str(tmp_path / "nodir" / "r.json")
    refused(["train", str(small_corpus), "-o", out, "--report", report, "--quiet"], capsys, "does not exist")
    refused(["train", str(small_corpus), "-o", out, "--report", str(tmp_path), "--quiet"], capsys,
            "is a folder")



def test_a_job_file_s_inputs_are_protected(tmp_path, small_corpus, capsys, never_read):
    dictionary = tmp_path / "en-es.txt"
    dictionary.write_text("w1 w2\n")
    job = tmp_path / "job.toml"
    job.write_text(f'[[task]]\nname = "en"\nlang = "en"\npaths = ["{small_corpus}"]\n'
                   f'[[task]]\nname = "es"\nlang = "es"\npaths = ["{small_corpus}"]\n'
                   f'[[dictionary]]\nlangs = ["en", "es"]\npath = "{dictionary}"\n')
    refused(["train", "--config", str(job), "-o", str(dictionary), "--no-per-language", "--quiet"], capsys,
            "would overwrite the dictionary file")
    refused(["train", "--config", str(job), "-o", str(tmp_path / "r.vec"), "--report", str(job),
             "--no-per-language", "--quiet"], capsys, ".json")
    assert dictionary.read_text() == "w1 w2\n"


def test_the_demo_checks_its_paths_before_training(tmp_path, capsys, never_read):
    from mtlembed.cli import DEMO_DATA

    (tmp_path / "x.en.vec").symlink_to(DEMO_DATA / "tatoeba.en-es.en.gz")
    refused(["demo", "-o", str(tmp_path / "x")], capsys, "would overwrite the corpus file")
    refused(["demo", "-o", str(tmp_path / "y"), "--data-dir", str(tmp_path / "nonexistent")], capsys,
            "data folder not found")
    refused(["demo", "-o", str(tmp_path / "missing" / "y")], capsys, "does not exist")


# ---------------------------------------------------------------------------- Ctrl-C during start-up (item 6)

# Imported by Python at start-up (from PYTHONPATH): sends this process a SIGINT when the module named
# by $SIGINT_AT is first imported, an exact moment of start-up rather than a guessed delay.
SIGINT_AT_IMPORT = """
import os, signal, sys

def _interrupt_at(event, args):
    if event == "import" and args[0] == os.environ["SIGINT_AT"]:
        os.kill(os.getpid(), signal.SIGINT)

sys.addaudithook(_interrupt_at)
"""
# the `mtlembed` console script as pip writes it for the entry point in pyproject.toml
CONSOLE_SCRIPT = "import re, sys; from mtlembed.__main__ import main; sys.exit(main())"


@pytest.mark.parametrize("command", [["-m", "mtlembed"], ["-c", CONSOLE_SCRIPT]], ids=["-m", "script"])
@pytest.mark.parametrize("moment", ["mtlembed.cli", "numpy", "mtlembed._core", "mtlembed.trainer",
                                    "mtlembed.eval.cli"])  # the last while the arguments are parsed
def test_ctrl_c_during_start_up_is_one_line_and_exit_130(tmp_path, small_corpus, command, moment):
    (tmp_path / "sitecustomize.py").write_text(SIGINT_AT_IMPORT)
    env = {**os.environ, "SIGINT_AT": moment,
           "PYTHONPATH": os.pathsep.join([str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])])}
    argv = [sys.executable, *command, "train", str(small_corpus), "-o", str(tmp_path / "v.vec")]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    assert (done.returncode, done.stderr) == (130, "mtlembed: interrupted\n")
    assert not (tmp_path / "v.vec").exists()


# ----------------------------------------------------------------------------- --resume (items 1 and 2)


@pytest.mark.parametrize("target, message", [("output", "would overwrite the corpus file"),
                                             ("report", "must end with .json"),
                                             ("cache_dir", "is inside the cache folder")])
def test_resume_checks_the_checkpoint_s_paths_like_a_new_run(tmp_path, small_corpus, capsys, target, message):
    import dataclasses

    from mtlembed import TaskSpec, TrainConfig, Trainer, checkpoint

    folder = tmp_path / "ck"
    trainer = Trainer(TrainConfig(dim=8, epochs=3, min_count=1, threads=1),
                      [TaskSpec("corpus", (str(small_corpus),))])
    trainer.notes = {"output": str(tmp_path / "v.vec"), "report": None}
    trainer.train(checkpoint_dir=str(folder), checkpoint_every="1w")  # leaves the checkpoint of chunk 2 of 3
    state = checkpoint.load(folder)
    # a crafted checkpoint aims its writes at the corpus
    if target == "cache_dir":
        state.config = dataclasses.replace(state.config, cache_dir=str(small_corpus.parent))
    else:
        state.notes[target] = str(small_corpus)
    checkpoint.save(folder, state)
    before = small_corpus.read_bytes()
    refused(["train", "--resume", str(folder), "--quiet"], capsys, message)
    assert small_corpus.read_bytes() == before


def test_a_missing_output_is_one_line_and_exit_1(small_corpus, tmp_path, capsys):
    refused(["train", str(small_corpus), "--quiet"], capsys, "give the output with -o/--output")
    from mtlembed import TaskSpec, TrainConfig, Trainer

    trainer = Trainer(TrainConfig(dim=8, epochs=3, min_count=1, threads=1),
                      [TaskSpec("corpus", (str(small_corpus),))])
    trainer.train(checkpoint_dir=str(tmp_path / "ck"), checkpoint_every="1w")  # no output in its notes
    refused(["train", "--resume", str(tmp_path / "ck"), "--quiet"], capsys, "give the output")
    assert main(["train", "--resume", str(tmp_path / "ck"), "-o", str(tmp_path / "v.vec"), "--quiet"]) == 0
    assert mio.load_word2vec(tmp_path / "v.vec")[1].shape[1] == 8


def test_the_command_writes_gzip_vectors(small_corpus, tmp_path):
    job = tmp_path / "job.toml"
    job.write_text(f'[[task]]\nname = "c"\npaths = ["{small_corpus}"]\n[output]\nbinary = false\n')
    for argv in ([str(small_corpus)], ["--config", str(job)]):
        out = tmp_path / "v.vec.gz"
        assert main(["train", *argv, "-o", str(out), "--dim", "8", "--epochs", "1", "--quiet"]) == 0
        assert out.read_bytes()[:2] == b"\x1f\x8b" and mio.load_word2vec(out)[1].shape[1] == 8
        out.unlink()


def test_an_output_that_is_a_pipe_or_device_is_refused(tmp_path, small_corpus, capsys, never_read):
    pipe = tmp_path / "fifo.vec"
    os.mkfifo(pipe)
    with pytest.raises(ConfigError, match="not a regular file"):
        mio.save_word2vec(pipe, ["a"], np.ones((1, 2)))
    refused(["train", str(small_corpus), "-o", str(pipe), "--quiet"], capsys, "not a regular file")
    assert stat.S_ISFIFO(os.lstat(pipe).st_mode)


def test_no_per_language_overrides_the_job_file(small_corpus, tmp_path):
    job = tmp_path / "job.toml"
    job.write_text(f'[[task]]\nname = "en"\nlang = "en"\npaths = ["{small_corpus}"]\n'
                   f'[[task]]\nname = "es"\nlang = "es"\npaths = ["{small_corpus}"]\n'
                   "[output]\nper_language = true\n")
    out = tmp_path / "joint.vec"
    assert main(["train", "--config", str(job), "-o", str(out), "--no-per-language", "--dim", "8",
                 "--epochs", "1", "--quiet"]) == 0
    words = mio.load_word2vec(out)[0]
    assert {w.split(":")[0] for w in words} == {"en", "es"}
    assert not list(tmp_path.glob("joint.vec.*.vec"))


def test_an_unwritable_folder_for_the_checkpoints_fails_first(tmp_path, small_corpus, capsys, never_read,
                                                              monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != locked and real_access(path, mode))
    refused(["train", str(small_corpus), "-o", str(tmp_path / "v.vec"), "--checkpoint-dir",
             str(locked / "new" / "ck"), "--quiet"], capsys, f"folder {locked} is not writable")
    refused(["train", str(small_corpus), "-o", str(locked / "v.vec"), "--quiet"], capsys, "is not writable")
