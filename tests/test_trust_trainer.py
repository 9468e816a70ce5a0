"""Issue 16, the trainer's part: a checkpoint is data (never obeyed, never a traceback), resume is
honest about what it does, and an interrupt is what Python users expect."""

from __future__ import annotations

import contextlib
import io as stdio
import json
import os
import signal
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from conftest import zipf_text

import mtlembed
import mtlembed.checkpoint as checkpoint_module
from mtlembed import ConfigError, FormatError, TaskSpec, TrainConfig, Trainer
from mtlembed.checkpoint import Interval, parse_interval
from mtlembed.cli import main
from mtlembed.progress import ProgressBar

CONFIG = dict(dim=16, epochs=4, threads=1, min_count=1, seed=3, sample=0)
FLAGS = ["--dim", "16", "--epochs", "4", "--threads", "1", "--min-count", "1", "--seed", "3", "--sample", "0"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("trust-trainer") / "corpus.txt"
    path.write_text(zipf_text(120000, vocab=2000, seed=11))
    return path


@contextlib.contextmanager
def ctrl_c_at_first_checkpoint():
    """Ctrl-C while the first periodic checkpoint is written: the run stops right after it,
    whatever the machine's speed."""
    real_save, saves = checkpoint_module.save, []

    def save(directory, state):
        saves.append(state.next_chunk)
        if len(saves) == 1:
            os.kill(os.getpid(), signal.SIGINT)
        return real_save(directory, state)

    checkpoint_module.save = save
    try:
        yield saves
    finally:
        checkpoint_module.save = real_save


def interrupted_run(trainer: Trainer, directory) -> None:
    """Trains until Ctrl-C at the first checkpoint; expects the interrupt as a KeyboardInterrupt."""
    with ctrl_c_at_first_checkpoint(), pytest.raises(KeyboardInterrupt):
        trainer.train(checkpoint_dir=str(directory), checkpoint_every="20000w")
    assert (directory / "checkpoint.npz").is_file()


@pytest.fixture(scope="module")
def original(corpus, tmp_path_factory):
    """The bytes of a checkpoint saved part way, with the notes the CLI keeps."""
    directory = tmp_path_factory.mktemp("original") / "ckpt"
    trainer = Trainer(TrainConfig(**CONFIG), [TaskSpec("corpus", (str(corpus),))])
    trainer.notes = {"output": str(directory.parent / "out.vec"), "report": None,
                     "checkpoint_every": "20000w", "per_language": False, "binary": None}
    interrupted_run(trainer, directory)
    return (directory / "checkpoint.npz").read_bytes()


def rewrite(path, change_meta=None, change_arrays=None) -> None:
    """Rewrites a checkpoint with its metadata or arrays changed."""
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    meta = json.loads(bytes(arrays["meta"]).decode())
    if change_meta:
        meta = change_meta(meta)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    if change_arrays:
        change_arrays(arrays)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def resume_cli(directory, capsys) -> tuple[int, str]:
    """`mtlembed train --resume DIR --quiet` in this process: its exit code and stderr."""
    capsys.readouterr()
    code = main(["train", "--resume", str(directory), "--quiet"])
    return code, capsys.readouterr().err


def one_error_line(code: int, err: str, path) -> None:
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1, err
    assert lines[0].startswith("mtlembed: error: ") and str(path) in lines[0], err
    assert "Traceback" not in err


@pytest.fixture
def saved(original, tmp_path):
    """A copy of the checkpoint saved part way, to damage."""
    path = tmp_path / "ckpt" / "checkpoint.npz"
    path.parent.mkdir()
    path.write_bytes(original)
    return path


# Item 2: a checkpoint's metadata is checked key by key, type by type.
MALFORMED = {
    "a list for the metadata": lambda m: [m],
    "an unknown key": lambda m: {**m, "evil": 1},
    "a missing key": lambda m: {k: v for k, v in m.items() if k != "total_chunks"},
    "a future version": lambda m: {**m, "version": 99},
    "config as a list": lambda m: {**m, "config": [1, 2]},
    "config with an unknown key": lambda m: {**m, "config": {**m["config"], "evil": 1}},
    "config with a wrong type": lambda m: {**m, "config": {**m["config"], "dim": "16"}},
    "tasks as a dict": lambda m: {**m, "tasks": {"a": 1}},
    "no tasks": lambda m: {**m, "tasks": []},
    "a task as a list": lambda m: {**m, "tasks": [["corpus"]]},
    "a task missing a key": lambda m: {**m, "tasks": [{k: v for k, v in m["tasks"][0].items()
                                                       if k != "weight"}]},
    "a task with paths as a number": lambda m: {**m, "tasks": [{**m["tasks"][0], "paths": 5}]},
    "a task with an infinite weight": lambda m: {**m, "tasks": [{**m["tasks"][0], "weight": float("inf")}]},
    "parallel as a string": lambda m: {**m, "parallel": "x"},
    "notes as a list": lambda m: {**m, "notes": ["output"]},
    "a note of the wrong type": lambda m: {**m, "notes": {**m["notes"], "output": 5}},
    "an unknown note": lambda m: {**m, "notes": {**m["notes"], "evil": "/etc/passwd"}},
    "next_chunk as a string": lambda m: {**m, "next_chunk": "3"},
    "next_chunk as a bool": lambda m: {**m, "next_chunk": True},
    "next_chunk as a float": lambda m: {**m, "next_chunk": 1.5},
    "a negative next_chunk": lambda m: {**m, "next_chunk": -1},
    "next_chunk past the end": lambda m: {**m, "next_chunk": m["total_chunks"] + 1},
    "total_chunks not the schedule's": lambda m: {**m, "total_chunks": m["total_chunks"] + 5},
    "words_done not the schedule's": lambda m: {**m, "words_done": m["words_done"] + 1},
    "languages as a string": lambda m: {**m, "languages": "default"},
    "finished as a string": lambda m: {**m, "finished": "yes"},
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_metadata_is_one_format_error(name, saved, capsys):
    rewrite(saved, change_meta=MALFORMED[name])
    with pytest.raises(FormatError, match=str(saved)):
        Trainer.resume(saved.parent).train(checkpoint_dir=str(saved.parent))
    one_error_line(*resume_cli(saved.parent, capsys), saved)


def test_a_checkpoint_of_the_previous_version_resumes(saved, original, tmp_path):
    """Settings and spec fields added since a checkpoint was written take their defaults: a run started
    before an upgrade resumes, to the same vectors as a checkpoint that names them."""
    older = {"subwords", "min_n", "max_n", "buckets", "subword_sharing", "tokenizer", "jsonl_field", "init",
             "vocab", "freeze", "eval_every", "eval_analogy", "eval_similarity", "eval_bli", "align_every"}

    def as_written_before(meta):
        config = {k: v for k, v in meta["config"].items() if k not in older}
        tasks = [{k: v for k, v in task.items() if k != "jsonl_field"} for task in meta["tasks"]]
        return {**meta, "config": config, "tasks": tasks}

    rewrite(saved, change_meta=as_written_before)
    resumed = Trainer.resume(saved.parent).train(checkpoint_dir=str(saved.parent))
    current = tmp_path / "current" / "checkpoint.npz"
    current.parent.mkdir()
    current.write_bytes(original)
    expected = Trainer.resume(current.parent).train(checkpoint_dir=str(current.parent))
    assert np.array_equal(resumed.vectors, expected.vectors)


def drop(key):
    return lambda arrays: arrays.pop(key)


BAD_ARRAYS = {
    "no w_in": drop("w_in"),
    "no output matrix": drop("w_out_0"),
    "an extra output matrix": lambda a: a.update(w_out_1=a["w_out_0"]),
    "an unknown array": lambda a: a.update(evil=np.zeros(3)),
    "w_in of float64": lambda a: a.update(w_in=a["w_in"].astype(np.float64)),
    "w_in one row short": lambda a: a.update(w_in=a["w_in"][:-1]),
    "w_in with other columns": lambda a: a.update(w_in=np.zeros((len(a["w_in"]), 32), np.float32),
                                                  w_out_0=np.zeros((len(a["w_in"]), 32), np.float32)),
    "counts one short": lambda a: a.update(counts=a["counts"][:-1]),
    "counts as floats": lambda a: a.update(counts=a["counts"].astype(np.float32)),
    "starts past the vocabulary": lambda a: a.update(starts=a["starts"] + 1),
    "words as floats": lambda a: a.update(words=np.zeros(4)),
    "metadata as int64": lambda a: a.update(meta=a["meta"].astype(np.int64)),
}


@pytest.mark.parametrize("name", BAD_ARRAYS)
def test_arrays_that_do_not_fit_are_one_format_error(name, saved, capsys):
    rewrite(saved, change_arrays=BAD_ARRAYS[name])
    one_error_line(*resume_cli(saved.parent, capsys), saved)


# Items 6a, 6b: a damaged file, however damaged, is one error line.
def test_truncated_checkpoints_are_one_format_error(saved, capsys):
    whole = saved.read_bytes()
    for size in (0, 1, 10, 100, 1000, len(whole) // 3, len(whole) // 2, len(whole) - 100, len(whole) - 1):
        saved.write_bytes(whole[:size])
        one_error_line(*resume_cli(saved.parent, capsys), saved)


def test_bit_flips_never_give_a_traceback(saved, capsys):
    whole = saved.read_bytes()
    rng = np.random.default_rng(5)
    offsets = [0, 4, 30, 60, 200, len(whole) // 2, len(whole) - 30, len(whole) - 10]
    offsets += sorted(rng.integers(0, len(whole), 12).tolist())
    failures = 0
    for offset in offsets:
        damaged = bytearray(whole)
        damaged[offset] ^= 0x5A
        saved.write_bytes(bytes(damaged))
        code, err = resume_cli(saved.parent, capsys)
        assert "Traceback" not in err and code in (0, 1), (offset, err)
        if code == 1:  # a flip in a field nothing reads (a timestamp) changes nothing
            one_error_line(code, err, saved)
            failures += 1
        saved.parent.joinpath("checkpoint.npz").write_bytes(whole)  # a finished run replaced it
    assert failures >= len(offsets) - 4


def test_damaged_checkpoint_through_the_command_line(saved):
    """The real command: exit 1, one line, no traceback."""
    whole = saved.read_bytes()
    flipped = whole[:200] + bytes(b ^ 0xFF for b in whole[200:400]) + whole[400:]
    for damaged in (whole[: len(whole) // 2], flipped, b"PK\x03\x04" + b"\x00" * 100,
                    b"\x93NUMPY not an archive"):
        saved.write_bytes(damaged)
        proc = subprocess.run([sys.executable, "-m", "mtlembed.cli", "train", "--resume", str(saved.parent),
                               "--quiet"], capture_output=True, text=True, timeout=120)
        one_error_line(proc.returncode, proc.stderr, saved)


def test_a_crc_error_is_a_format_error(saved):
    with zipfile.ZipFile(saved) as archive:
        info = archive.getinfo("w_in.npy")
    whole = bytearray(saved.read_bytes())
    whole[info.header_offset + 30 + len(info.filename) + info.file_size // 2] ^= 1  # inside the data
    saved.write_bytes(bytes(whole))
    with pytest.raises(FormatError, match="damaged checkpoint"):
        checkpoint_module.load(saved.parent)


# Item 2: paths are stored absolute, and resume is checked and told like a new run.
def test_checkpoint_paths_are_absolute_and_resume_works_from_any_folder(corpus, tmp_path, monkeypatch,
                                                                        capsys):
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    (work / "c.txt").write_text(corpus.read_text())
    monkeypatch.chdir(work)
    trainer = Trainer(TrainConfig(**CONFIG, cache_dir="cache"), [TaskSpec("corpus", ("c.txt",))])
    trainer.notes = {"output": "out.vec", "report": "run.json", "checkpoint_every": "20000w",
                     "per_language": False, "binary": None}
    interrupted_run(trainer, work / "ckpt")
    with np.load(work / "ckpt" / "checkpoint.npz") as data:
        meta = json.loads(bytes(data["meta"]).decode())
    assert meta["tasks"][0]["paths"] == [str(work / "c.txt")]
    assert meta["notes"]["output"] == str(work / "out.vec")
    assert meta["notes"]["report"] == str(work / "run.json")
    assert meta["config"]["cache_dir"] == str(work / "cache")

    monkeypatch.chdir(elsewhere)
    capsys.readouterr()
    assert main(["train", "--resume", str(work / "ckpt")]) == 0
    err = capsys.readouterr().err
    assert (work / "out.vec").is_file() and (work / "run.json").is_file() and not os.listdir(elsewhere)
    said = err.splitlines()[0]  # what will be read and written, before training resumes
    assert "resum" in said and str(work / "c.txt") in said and str(work / "out.vec") in said, err


def test_a_crafted_checkpoint_cannot_overwrite_an_input(saved, corpus, capsys):
    before = corpus.read_bytes()
    rewrite(saved, change_meta=lambda m: {**m, "notes": {**m["notes"], "output": str(corpus)}})
    code, err = resume_cli(saved.parent, capsys)
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert corpus.read_bytes() == before


# Item 6d: the checkpoint interval is bounded.
@pytest.mark.parametrize("text", ["10000000000Gw", "9" * 400 + "s", "99999999999h", "0.5w", "0.0001kw"])
def test_absurd_intervals_are_config_errors(text):
    with pytest.raises(ConfigError, match="checkpoint interval"):
        parse_interval(text)


@pytest.mark.parametrize("fields", [dict(seconds=float("nan")), dict(seconds=float("inf")), dict(words=0),
                                    dict(words=-5), dict(), dict(seconds=1, words=1), dict(words=1.5)])
def test_intervals_check_themselves(fields):
    with pytest.raises(ConfigError, match="checkpoint interval"):
        Interval(**fields)


def test_a_huge_interval_on_the_command_line_is_one_error_line(corpus, tmp_path, capsys):
    code = main(["train", str(corpus), "-o", str(tmp_path / "o.vec"), "--quiet", "--checkpoint-dir",
                 str(tmp_path / "ckpt"), "--checkpoint-every", "10000000000Gw", *FLAGS])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("mtlembed: error: checkpoint interval") and "Traceback" not in err


# Item 9b: an interrupt saves the checkpoint once.
def test_an_interrupt_during_a_checkpoint_saves_once(corpus, tmp_path):
    trainer = Trainer(TrainConfig(**CONFIG), [TaskSpec("corpus", (str(corpus),))])
    with ctrl_c_at_first_checkpoint() as saves, pytest.raises(KeyboardInterrupt):
        trainer.train(checkpoint_dir=str(tmp_path / "ckpt"), checkpoint_every="20000w")
    assert len(saves) == 1, saves


# Item 10: a temporary left by kill -9 during the first checkpoint.
def test_resume_after_a_kill_during_the_first_checkpoint(tmp_path):
    directory = tmp_path / "ckpt"
    directory.mkdir()
    stale = directory / ".checkpoint.npz.0a1b2c3d4e5f.tmp"  # as io.exclusive_temporary names one
    stale.write_bytes(b"PK\x03\x04 the first 75 MB of a checkpoint")
    with pytest.raises(ConfigError, match="killed while it wrote its first checkpoint"):
        Trainer.resume(directory)
    assert not stale.exists()


def test_a_real_kill_during_the_first_checkpoint(corpus, tmp_path):
    """kill -9 a process while it writes its first checkpoint (held open mid-write)."""
    directory = tmp_path / "ckpt"
    script = f"""
import sys, time
import mtlembed.checkpoint as c
def slow(handle, **arrays):
    handle.write(b"PK\\x03\\x04 part of it")
    handle.flush()
    print("writing", flush=True)
    time.sleep(60)
c.np.savez = slow
from mtlembed import Trainer, TrainConfig, TaskSpec
Trainer(TrainConfig(**{CONFIG!r}), [TaskSpec("c", ({str(corpus)!r},))]).train(
    checkpoint_dir={str(directory)!r}, checkpoint_every="20000w")
"""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(ConfigError, match="killed while it wrote its first checkpoint"):
        Trainer.resume(directory)
    assert os.listdir(directory) == []


# Item 15a: progress after --resume.
class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_progress_of_a_resumed_run(monkeypatch):
    clock = Clock()
    monkeypatch.setattr("mtlembed.progress.time.monotonic", clock)
    out = stdio.StringIO()
    bar = ProgressBar(1000, 0.025, 0.0, stream=out, start_words=400)
    bar(400, 4, 0.0, 0)  # the first line, at the resumed position: no speed yet, so no ETA
    clock.now += 10
    bar(700, 7, 1.0, 10)
    clock.now += 10
    bar(1000, 10, 2.0, 20, final=True)
    first, middle, last = out.getvalue().splitlines()
    assert " 40.0%" in first and "ETA --:--" in first and "ETA 0:00:00" not in first
    assert " 70.0%" in middle and "| 30 words/s" in middle and "ETA 0:00:10" in middle  # 300 words in 10 s
    assert "100.0%" in last


def test_the_last_progress_line_of_a_resumed_run_is_100_percent(saved, capsys):
    trainer = Trainer.resume(saved.parent)
    capsys.readouterr()
    trainer.train(progress=True, checkpoint_dir=str(saved.parent), checkpoint_every="20000w")
    lines = capsys.readouterr().err.strip().splitlines()
    assert "100.0%" in lines[-1], lines


# Item 15b: a finished run is not trained again.
def test_resume_of_a_finished_run_says_so(corpus, tmp_path, capsys):
    out, ckpt = tmp_path / "out.vec", tmp_path / "ckpt"
    assert main(["train", str(corpus), "-o", str(out), "--quiet", "--checkpoint-dir", str(ckpt),
                 "--checkpoint-every", "20000w", *FLAGS]) == 0
    written = out.stat().st_mtime_ns, out.read_bytes()
    assert (ckpt / "checkpoint.npz").stat().st_size < 100_000  # the record, not the matrices
    capsys.readouterr()
    assert main(["train", "--resume", str(ckpt)]) == 0
    err = capsys.readouterr().err
    assert "finished" in err and str(out) in err and "%" not in err, err  # nothing trained
    assert (out.stat().st_mtime_ns, out.read_bytes()) == written
    with pytest.raises(ConfigError, match="finished"):
        Trainer.resume(ckpt).train()


# Item 11a: Ctrl-C and SIGTERM in the Python API.
@pytest.mark.parametrize("signum, raised", [(signal.SIGINT, KeyboardInterrupt),
                                            (signal.SIGTERM, mtlembed.trainer.Terminated)])
def test_a_signal_in_the_api_is_not_an_exception(signum, raised, corpus):
    def progress(*_):
        os.kill(os.getpid(), signum)

    with pytest.raises(raised):
        try:  # 200 epochs: the signal comes at the first progress call, long before the end
            mtlembed.train(str(corpus), progress=progress, **{**CONFIG, "epochs": 200})
        except Exception as error:  # what user code writes; Ctrl-C must get through it
            pytest.fail(f"`except Exception` caught {error!r}")


# Item 15f: the report records the rates used, the version, the inputs and the outputs.
def test_the_report_records_what_the_run_did(corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.txt").write_text(corpus.read_text())
    assert main(["train", "c.txt", "-o", "v.vec", "--report", "r.json", "--quiet", *FLAGS]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["config"]["alpha"] == 0.025 and report["config"]["min_alpha"] == pytest.approx(0.025e-4)
    used = {key: report["config"][key] for key in ("negatives", "ns_exponent", "order")}  # auto, resolved
    assert used == {"negatives": "center", "ns_exponent": 0.75, "order": "corpus"}
    assert report["version"] == mtlembed.__version__
    assert report["inputs"]["tasks"][0]["paths"] == [str(tmp_path / "c.txt")]
    assert report["outputs"] == [str(tmp_path / "v.vec")]


def test_huge_metadata_is_not_read(saved, capsys):
    rewrite(saved, change_meta=lambda m: {**m, "padding": "x" * (1 << 25)})
    code, err = resume_cli(saved.parent, capsys)
    one_error_line(code, err, saved)
    assert "too large" in err
