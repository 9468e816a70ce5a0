"""Issue 16, outputs: nothing we write may destroy a user's file, and every output path is
checked before the corpus is read (hostile-input battery)."""

from __future__ import annotations

import gzip
import os
import sys
import tracemalloc

import numpy as np
import pytest

import mtlembed.io as mio
from mtlembed import Embeddings
from mtlembed.errors import ConfigError, MissingDependencyError, MtlembedError, ResourceError

# ----------------------------------------------------------------------------- temporaries (item 3)


def test_a_planted_link_at_the_temporary_name_is_never_followed(tmp_path, monkeypatch):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    names = iter(["planted", "planted", "fresh"])
    monkeypatch.setattr(mio.secrets, "token_hex", lambda n: next(names))
    path = tmp_path / "out.vec"
    (tmp_path / ".out.vec.planted.tmp").symlink_to(victim)
    fd, temporary = mio.exclusive_temporary(path)
    os.close(fd)
    assert temporary.name == ".out.vec.fresh.tmp" and not temporary.is_symlink()
    assert victim.read_text() == "precious"


def test_a_dangling_planted_link_creates_nothing_at_its_target(tmp_path, monkeypatch):
    names = iter(["planted", "fresh"])
    monkeypatch.setattr(mio.secrets, "token_hex", lambda n: next(names))
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

    monkeypatch.setattr(mio.os, "replace", refuse_second)
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
