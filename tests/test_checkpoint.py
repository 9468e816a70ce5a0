"""Checkpoints: Ctrl-C / SIGTERM save the state, --resume continues bit-identically (threads=1)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import zipf_text

import mtlembed.io as mio
from mtlembed import ConfigError, ResourceError, TaskSpec, TrainConfig, Trainer
from mtlembed.checkpoint import Interval, parse_interval

TRAIN = ["--dim", "16", "--epochs", "12", "--threads", "1", "--min-count", "1", "--seed", "3",
         "--sample", "0"]


def wait_for_first_checkpoint(proc, ckpt):
    """Training is under way once the first periodic checkpoint exists."""
    deadline = time.monotonic() + 60
    while not (ckpt / "checkpoint.npz").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "training ended before a checkpoint"
        time.sleep(0.02)


def cli(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "mtlembed.cli", *map(str, args)], stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}, **kw)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "corpus.txt"
    path.write_text(zipf_text(300000, vocab=3000, seed=5))
    return path


@pytest.fixture(scope="module")
def uninterrupted(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("full") / "full.bin"
    proc = cli("train", corpus, "-o", out, "--quiet", *TRAIN)
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    return out.read_bytes()


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_saves_a_checkpoint_and_resume_is_bit_identical(sig, code, corpus, uninterrupted, tmp_path):
    out, ckpt = tmp_path / "out.bin", tmp_path / "ckpt"
    proc = cli("train", corpus, "-o", out, "--checkpoint-dir", ckpt, "--checkpoint-every", "20000w", *TRAIN)
    wait_for_first_checkpoint(proc, ckpt)
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == code
    assert "--resume" in proc.stderr.read()
    assert not out.exists()  # an unfinished run never writes its output
    assert (ckpt / "checkpoint.npz").is_file()

    resumed = cli("train", "--resume", ckpt, "--quiet")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    assert out.read_bytes() == uninterrupted
    assert not [p for p in tmp_path.rglob(".*.tmp")]  # no stray temporary files


def test_resume_rejects_a_changed_corpus(corpus, tmp_path):
    data = tmp_path / "c.txt"
    data.write_text(corpus.read_text())
    ckpt = tmp_path / "ckpt"
    proc = cli("train", data, "-o", tmp_path / "o.bin", "--checkpoint-dir", ckpt,
               "--checkpoint-every", "20000w", *TRAIN)
    wait_for_first_checkpoint(proc, ckpt)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    data.write_text("something else entirely\n" * 10)
    resumed = cli("train", "--resume", ckpt, "--quiet")
    assert resumed.wait(timeout=60) == 1
    assert "corpus has changed" in resumed.stderr.read()


def test_a_full_disk_while_checkpointing_keeps_the_last_checkpoint(corpus, tmp_path, monkeypatch):
    ckpt = tmp_path / "ckpt"
    config = TrainConfig(dim=8, epochs=2, threads=1, min_count=1)
    real_fdopen, saves = os.fdopen, []

    def disk_full(data):
        raise OSError(errno.ENOSPC, "No space left on device")

    def fdopen(fd, *args, **kwargs):  # the third checkpoint finds the disk full
        handle = real_fdopen(fd, *args, **kwargs)
        saves.append(handle)
        if len(saves) == 3:
            handle.write = disk_full
        return handle

    monkeypatch.setattr(mio.os, "fdopen", fdopen)
    trainer = Trainer(config, [TaskSpec("t", (str(corpus),))])
    with pytest.raises(ResourceError, match=f"no space left on the device writing {ckpt / 'checkpoint.npz'}"):
        trainer.train(checkpoint_dir=str(ckpt), checkpoint_every="50000w")
    assert os.listdir(ckpt) == ["checkpoint.npz"]  # the second checkpoint, whole; no temporary
    monkeypatch.undo()
    # a later run killed (kill -9) while saving left a half-written temporary: resuming removes it
    (ckpt / ".checkpoint.npz.k1ll3d_.tmp").write_bytes(b"half a checkpoint")
    resumed = Trainer.resume(ckpt)
    assert resumed._resume_state.next_chunk > 0 and os.listdir(ckpt) == ["checkpoint.npz"]
    assert len(resumed.train(checkpoint_dir=str(ckpt), checkpoint_every="50000w")) > 1000


@pytest.mark.parametrize("text, expected", [("30s", Interval(seconds=30)), ("10m", Interval(seconds=600)),
                                            ("1h", Interval(seconds=3600)), ("5000w", Interval(words=5000)),
                                            ("2Mw", Interval(words=2_000_000))])
def test_intervals(text, expected):
    assert parse_interval(text) == expected


@pytest.mark.parametrize("text", ["", "10", "5 minutes", "-3s", "0m"])
def test_bad_intervals(text):
    with pytest.raises(ConfigError, match="checkpoint interval"):
        parse_interval(text)
