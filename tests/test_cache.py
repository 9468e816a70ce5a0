"""Encoding in pieces, and the corpus cache (cache_dir): memory-mapped, reused, rebuilt, checked."""

from __future__ import annotations

import errno
import json
import os
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import zipf_text

import mtlembed
import mtlembed.cache as cache
import mtlembed.corpus as corpus
import mtlembed.encoded as encoded
from mtlembed import TaskSpec, TrainConfig, Trainer
from mtlembed.cli import main
from mtlembed.encode import read_corpus
from mtlembed.errors import ConfigError, FormatError
from mtlembed.tasks import ParallelSpec

FAST = dict(dim=8, epochs=2, threads=1, min_count=2, seed=3)


@pytest.fixture
def joint(tmp_path):
    """Two languages (three tasks, one a folder of two files) and a parallel text with empty lines."""
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "a.txt").write_text(zipf_text(3000, seed=1))
    (tmp_path / "en" / "b.txt").write_text(zipf_text(2000, seed=2, line_words=7))
    (tmp_path / "xx.txt").write_text(zipf_text(4000, seed=3).replace("w", "x"))
    # lines longer than a sentence
    (tmp_path / "news.txt").write_text(zipf_text(1500, seed=4, line_words=3000))
    lines = [f"w{i % 7} w{i % 11} rare{i}" if i % 5 else "" for i in range(300)]
    (tmp_path / "par.en").write_text("\n".join(lines) + "\n")
    (tmp_path / "par.xx").write_text("\n".join(x.replace("w", "x") for x in lines))  # no final newline
    tasks = [TaskSpec("en", (str(tmp_path / "en"),), lang="en"), TaskSpec("xx", (str(tmp_path / "xx.txt"),),
             lang="xx"), TaskSpec("news", (str(tmp_path / "news.txt"),), lang="en", head="per_task")]
    parallel = [ParallelSpec("p", ("en", "xx"), (str(tmp_path / "par.en"), str(tmp_path / "par.xx")))]
    return tasks, parallel


def streams_of(data) -> list:
    return [s for s in data.streams] + [side for pair in data.parallel for side in pair]


def same_encoding(a, b) -> None:
    assert a.vocab.words == b.vocab.words and a.vocab.languages == b.vocab.languages
    assert np.array_equal(a.vocab.counts, b.vocab.counts) and a.words_read == b.words_read
    for x, y in zip(streams_of(a), streams_of(b), strict=True):
        assert np.array_equal(x.tokens, y.tokens) and np.array_equal(x.offsets, y.offsets)


def count_reads(monkeypatch) -> list:
    calls = []
    real = corpus.read_blocks

    def counted(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(corpus, "read_blocks", counted)
    return calls


# ----------------------------------------------------------------------------- encoding in pieces


@pytest.mark.parametrize("keep_empty", [False, True])
def test_remap_piece_matches_a_plain_loop(keep_empty):
    rng = np.random.default_rng(0)
    lengths = rng.integers(0, 6, size=200) if keep_empty else rng.integers(1, 6, size=200)
    tokens = rng.integers(0, 40, size=int(lengths.sum())).astype(np.int32)
    ends = np.cumsum(lengths)
    mapping = np.where(rng.random(40) < 0.5, -1, rng.permutation(40)).astype(np.int32)
    expected_tokens, expected_ends, begin = [], [], 0
    for end in ends:
        kept = [int(mapping[t]) for t in tokens[begin:end] if mapping[t] >= 0]
        expected_tokens += kept
        if kept or keep_empty:
            expected_ends.append(len(expected_tokens))
        begin = end
    got_tokens, got_ends = encoded.remap_piece(tokens, ends, mapping, keep_empty)
    assert got_tokens.tolist() == expected_tokens and got_ends.tolist() == expected_ends
    assert got_tokens.dtype == np.int32 and got_ends.dtype == np.int64


def test_the_size_of_blocks_and_pieces_changes_nothing(joint, tmp_path, monkeypatch):
    tasks, parallel = joint
    config = TrainConfig(min_count=2, max_sentence_length=50)
    reference = read_corpus(tasks, config, parallel)
    monkeypatch.setattr(corpus, "BLOCK_BYTES", 97)  # many small pieces, sentences across blocks
    monkeypatch.setattr(encoded, "FILE_PIECE_TOKENS", 300)
    same_encoding(reference, read_corpus(tasks, config, parallel))
    same_encoding(reference, read_corpus(tasks, config.replace(cache_dir=str(tmp_path / "c")), parallel))


_READ_PEAK = """
import sys
import numpy.random  # loaded before measuring, as training loads it anyway
import mtlembed
from mtlembed.encode import read_corpus

def status(key):
    return next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith(key))

before = status("VmRSS:")
data = read_corpus([mtlembed.TaskSpec("t", (sys.argv[1],))], mtlembed.TrainConfig(min_count=1))
print(status("VmHWM:") - before, data.streams[0].tokens.nbytes + data.streams[0].offsets.nbytes)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_reading_holds_about_one_copy_of_the_encoded_corpus(tmp_path):
    """16M tokens (61 MiB encoded): the peak grows by the corpus plus a fixed ~45 MiB of
    blocks in flight. One growing vector of ids (and its shrink-to-fit copy) took 2x."""
    import subprocess
    import sys

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(5000)]
    ids = np.minimum(rng.zipf(1.2, size=1_000_000), 5000) - 1
    block = "\n".join(" ".join(words[i] for i in ids[k:k + 20]) for k in range(0, len(ids), 20)) + "\n"
    path = tmp_path / "c.txt"
    path.write_text(block * 16)
    run = subprocess.run([sys.executable, "-c", _READ_PEAK, str(path)], capture_output=True, text=True,
                         check=True)
    growth, encoded_bytes = map(int, run.stdout.split())
    assert encoded_bytes > 60 << 20
    assert growth < 1.25 * encoded_bytes + (48 << 20), (growth >> 20, encoded_bytes >> 20)


# ----------------------------------------------------------------------------- the cache


def test_training_from_the_cache_is_bit_identical_to_training_in_ram(joint, tmp_path, monkeypatch):
    tasks, parallel = joint
    monkeypatch.setattr(cache, "IN_RAM_SHARE", 1 << 60)  # as if larger than RAM: trained memory-mapped
    in_ram = Trainer(TrainConfig(**FAST), tasks, parallel).train()
    trainer = Trainer(TrainConfig(cache_dir=str(tmp_path / "cache"), **FAST), tasks, parallel)
    from_cache = trainer.train()
    assert in_ram.words == from_cache.words
    assert np.array_equal(in_ram.vectors, from_cache.vectors)
    # the kernel trained straight from the read-only memory maps, nothing copied to RAM first
    for stream in streams_of(trainer.corpus):
        assert isinstance(stream.tokens, np.memmap) and not stream.tokens.flags.writeable
    reused = Trainer(TrainConfig(cache_dir=str(tmp_path / "cache"), **FAST), tasks, parallel).train()
    assert np.array_equal(in_ram.vectors, reused.vectors)


def test_a_cache_is_reused_without_reading_the_corpus(small_corpus, tmp_path, monkeypatch):
    reads = count_reads(monkeypatch)
    config = TrainConfig(cache_dir=str(tmp_path / "cache"), **FAST)
    first = mtlembed.train(small_corpus, config)
    assert len(reads) == 1
    # what training does not depend on for its encoding may change: still no reading
    second = mtlembed.train(small_corpus, config.replace(dim=8, seed=3, window=3, epochs=1))
    assert len(reads) == 1 and second.words == first.words
    # so the cache is what trains: a corpus of the same size and time but other words changes nothing
    stat = os.stat(small_corpus)
    small_corpus.write_text(small_corpus.read_text().replace("w", "v"))
    os.utime(small_corpus, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert np.array_equal(mtlembed.train(small_corpus, config).vectors, first.vectors)
    assert len(reads) == 1


def test_a_stale_cache_is_rebuilt(small_corpus, tmp_path, monkeypatch):
    reads = count_reads(monkeypatch)
    config = TrainConfig(cache_dir=str(tmp_path / "cache"), **FAST)
    before = mtlembed.train(small_corpus, config)
    with open(small_corpus, "a") as handle:
        handle.write("novel novel novel\n")
    after = mtlembed.train(small_corpus, config)
    assert len(reads) == 2 and "novel" in after.words and "novel" not in before.words
    mtlembed.train(small_corpus, config.replace(min_count=1))  # an encoding setting changed
    assert len(reads) == 3
    in_ram = mtlembed.train(small_corpus, config.replace(min_count=1, cache_dir=None))
    assert np.array_equal(mtlembed.train(small_corpus, config.replace(min_count=1)).vectors, in_ram.vectors)
    assert len(reads) == 4  # the last cached run reused the cache


def test_rebuilding_removes_the_files_of_the_old_cache(joint, tmp_path):
    tasks, parallel = joint
    directory = tmp_path / "cache"
    read_corpus(tasks, TrainConfig(cache_dir=str(directory)), parallel)
    assert (directory / "task2.tokens").exists() and (directory / "parallel0.1.offsets").exists()
    read_corpus(tasks[:1], TrainConfig(cache_dir=str(directory)))
    assert sorted(os.listdir(directory)) == ["manifest.json", "task0.offsets", "task0.tokens", "vocab.counts",
                                              "vocab.words"]


def damage(directory: Path, name: str, change) -> None:
    path = directory / name
    data = bytearray(path.read_bytes())
    change(data)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name, change, message", [
    ("task0.tokens", lambda d: d.__setitem__(41, d[41] ^ 1), "checksum mismatch"),
    ("task0.tokens", lambda d: d.__delitem__(slice(-4, None)), r"bytes, expected"),
    ("task0.offsets", lambda d: d.__setitem__(slice(8, 16), (10**9).to_bytes(8, "little")), "out of order"),
    ("vocab.words", lambda d: d.__setitem__(0, ord("X")), "checksum mismatch"),
    ("manifest.json", lambda d: d.__delitem__(slice(len(d) // 2, None)), "damaged corpus cache manifest"),
])
def test_a_damaged_cache_is_a_clear_error(small_corpus, tmp_path, name, change, message):
    config = TrainConfig(cache_dir=str(tmp_path / "cache"), **FAST)
    mtlembed.train(small_corpus, config)
    damage(tmp_path / "cache", name, change)
    with pytest.raises(FormatError, match=message) as caught:
        mtlembed.train(small_corpus, config)
    assert str(tmp_path / "cache" / name) in str(caught.value) and "delete" in str(caught.value)


def test_ids_outside_the_vocabulary_are_refused_even_with_a_matching_checksum(small_corpus, tmp_path, capsys):
    directory = tmp_path / "cache"
    config = TrainConfig(cache_dir=str(directory), **FAST)
    mtlembed.train(small_corpus, config)
    tokens = np.fromfile(directory / "task0.tokens", dtype=np.int32)
    tokens[7] = 10**6
    tokens.tofile(directory / "task0.tokens")
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["streams"]["task0"]["tokens"]["crc32"] = zlib.crc32(tokens)
    manifest["checksum"] = cache.manifest_checksum(manifest)
    (directory / "manifest.json").write_text(json.dumps(manifest))
    assert main(["train", str(small_corpus), "-o", str(tmp_path / "v.bin"), "--quiet", "--dim", "8",
                 "--epochs", "2", "--threads", "1", "--min-count", "2", "--seed", "3",
                 "--cache-dir", str(directory)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    damaged = directory / "task0.tokens"
    assert err.startswith(f"mtlembed: error: {damaged}: damaged corpus cache (an id outside the vocabulary")


def test_a_cache_folder_that_cannot_be_made_is_a_config_error(small_corpus, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    for where in (blocker, blocker / "sub"):
        with pytest.raises(ConfigError, match=f"cache_dir {where}"):
            mtlembed.train(small_corpus, TrainConfig(cache_dir=str(where), **FAST))


def test_a_read_only_cache_folder_is_a_config_error(small_corpus, tmp_path, monkeypatch):
    directory = tmp_path / "cache"
    directory.mkdir()
    monkeypatch.setattr(os, "access", lambda *_: False)  # root ignores chmod, so pretend
    with pytest.raises(ConfigError, match=f"cache_dir {directory}: folder is not writable"):
        mtlembed.train(small_corpus, TrainConfig(cache_dir=str(directory), **FAST))


class _FullDisk:
    """A file whose writes fail with ENOSPC once `budget` bytes are written."""

    def __init__(self, handle, budget: int):
        self.handle, self.budget = handle, budget

    def write(self, data) -> int:
        self.budget -= memoryview(data).nbytes
        if self.budget < 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.handle.write(data)

    def __getattr__(self, name):
        return getattr(self.handle, name)


@pytest.mark.parametrize("phase", ["reading", "remapping"])
def test_a_full_disk_while_caching_is_a_resource_error_and_leaves_nothing(small_corpus, tmp_path, monkeypatch,
                                                                          capsys, phase):
    directory = tmp_path / "cache"
    if phase == "reading":
        monkeypatch.setattr(encoded, "open", lambda *a: _FullDisk(open(*a), 5000), raising=False)
    else:
        def full(*_):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(encoded.os, "pwrite", full)
    assert main(["train", str(small_corpus), "-o", str(tmp_path / "v.bin"), "--quiet", "--dim", "8",
                 "--cache-dir", str(directory)]) == 1
    err = capsys.readouterr().err
    tokens = directory / "task0.tokens"
    assert err == f"mtlembed: error: no space left on the device writing the corpus cache {tokens}\n"
    assert os.listdir(directory) == []


def test_running_out_of_memory_in_ram_suggests_the_cache(small_corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(encoded, "MEMORY_RESERVE", 1 << 60)
    assert main(["train", str(small_corpus), "-o", str(tmp_path / "v.bin"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mtlembed: error: out of memory holding the encoded corpus in RAM")
    assert "--cache-dir DIR" in err and err.count("\n") == 1
    # the cache does not hold the corpus in RAM, so the same run works with it
    assert main(["train", str(small_corpus), "-o", str(tmp_path / "v.bin"), "--quiet",
                 "--cache-dir", str(tmp_path / "cache")]) == 0


def test_the_job_file_and_the_command_line_take_cache_dir(small_corpus, tmp_path):
    job = tmp_path / "job.toml"
    job.write_text(f'[train]\ndim = 8\nepochs = 1\ncache_dir = "{tmp_path / "cache"}"\n'
                   f'[[task]]\nname = "t"\npaths = ["{small_corpus}"]\n')
    assert main(["train", "--config", str(job), "-o", str(tmp_path / "v.bin"), "--quiet"]) == 0
    assert (tmp_path / "cache" / "manifest.json").exists()
    assert main(["train", str(small_corpus), "-o", str(tmp_path / "w.bin"), "--quiet", "--dim", "8",
                 "--epochs", "1", "--cache-dir", str(tmp_path / "cache2")]) == 0
    assert (tmp_path / "cache2" / "manifest.json").exists()
