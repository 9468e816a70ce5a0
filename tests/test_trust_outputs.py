"""Issue 16, outputs: nothing we write may destroy a user's file, and every output path is
checked before the corpus is read (hostile-input battery)."""

from __future__ import annotations

import os

import numpy as np
import pytest

import mtlembed.io as mio
from mtlembed.errors import ConfigError

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
