"""Writing files safely: unique temporaries, atomic renames, groups of files renamed together.

Every file mtlembed writes (vectors, reports, checkpoints, the corpus cache) is
written to a temporary beside it, created by :func:`exclusive_temporary`
(O_CREAT|O_EXCL|O_NOFOLLOW: a planted file or link is never followed), fsync'ed,
then renamed onto its name: a crash, a full disk or Ctrl-C never leaves half a
file where the old one was. :func:`atomic_group` does the same for several files
that belong together (one per language).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # not on Windows: killed writers' temporaries are then left alone
    fcntl = None

from mtlembed.errors import ConfigError, ResourceError

__all__ = ["AtomicGroup", "atomic_group", "atomic_write", "check_output_path", "exclusive_temporary",
           "remove_stale_temporaries"]



def check_output_path(path) -> Path:
    """Check that `path` can be written, without writing anything.

    The trainer calls it before a long run, so that a typo in the output path
    fails in a second rather than after hours.

    Raises
    ------
    ConfigError
        If the parent folder is missing or not writable, or `path` is a folder, a
        device, a pipe or a socket (renaming onto /dev/null as root would replace it).
    """
    path = Path(os.fspath(path))
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise ConfigError(f"cannot write {path}: it is a folder, expected a file name")
    if path.exists() and not path.is_file():
        raise ConfigError(f"cannot write {path}: it is a device, pipe or socket, not a regular file")
    if not parent.exists():
        raise ConfigError(f"cannot write {path}: folder {parent} does not exist")
    if not parent.is_dir():
        raise ConfigError(f"cannot write {path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write {path}: folder {parent} is not writable")
    return path


def exclusive_temporary(path) -> tuple[int, Path]:
    """A new, empty file beside `path` to write it under another name: ``.NAME.<random>.tmp``.

    It is created with O_CREAT|O_EXCL|O_NOFOLLOW, so a file or symbolic link already
    at that name (planted by someone else) is never opened, followed or truncated: a
    fresh name is drawn instead. Its mode is what a plain ``open()`` would give
    (0666 less the umask), and it is locked (flock) at once as a live writer's: the
    lock lasts while the returned descriptor, or a duplicate of it, stays open (see
    :func:`remove_stale_temporaries`). The caller renames or removes the file.

    Returns
    -------
    (fd, temporary) : the descriptor, opened read-write, and the file's path.

    Raises
    ------
    ConfigError
        The folder cannot be written.
    """
    path = Path(os.fspath(path))
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(temporary, flags, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
        if fcntl is not None:
            with contextlib.suppress(OSError):  # a file system without locks: nothing is taken for stale
                fcntl.flock(fd, fcntl.LOCK_EX)
        return fd, temporary
    raise ConfigError(f"cannot write {path}: no free temporary name in {path.parent}")


class AtomicGroup:
    """Files written under temporary names, all renamed onto their final names at the end.

    Used through :func:`atomic_group`. Each :meth:`write` fills and fsyncs one
    temporary; nothing is renamed until every write of the group has succeeded. On
    any exception (KeyboardInterrupt included) every temporary is removed and no
    final file changes. Renames are not jointly atomic: a crash (kill -9, a power
    loss) or a failing rename during the renaming step, which takes microseconds
    per file, can leave the first files of the group new and the others old; no file
    is ever half-written, and the temporaries left are removed by the next write of
    the same names.
    """

    def __init__(self):
        self._pending: list[tuple[Path, Path, int]] = []  # (temporary, final path, lock descriptor)

    @contextlib.contextmanager
    def write(self, path, mode: str = "wb"):
        """A file object for `path`'s temporary: ``"wb"``, or ``"w"`` (UTF-8, ``\\n`` line ends)."""
        if mode not in ("w", "wb"):
            raise ConfigError(f"atomic_write mode must be 'w' or 'wb', got {mode!r}")
        path = check_output_path(path)
        if any(final == path for _, final, _ in self._pending):
            raise ConfigError(f"{path} is written twice in one group")
        remove_stale_temporaries(path)
        fd, temporary = exclusive_temporary(path)
        lock = os.dup(fd)  # keeps the writer's lock after the file object is closed, until the rename
        self._pending.append((temporary, path, lock))
        try:
            kwargs = {"encoding": "utf-8", "newline": "\n"} if mode == "w" else {}
            with os.fdopen(fd, mode, **kwargs) as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException as exc:
            self._discard(self._pending.pop())
            if isinstance(exc, OSError):
                _raise_write_error(path, exc)
            raise

    def _commit(self) -> None:
        folders = []
        while self._pending:
            temporary, path, lock = self._pending[0]
            try:
                os.replace(temporary, path)
            except OSError as exc:
                _raise_write_error(path, exc)
            os.close(lock)  # only now: until renamed, the temporary is marked as a live writer's
            self._pending.pop(0)
            if path.parent not in folders:
                folders.append(path.parent)
        for folder in folders:  # make the renames durable; not possible everywhere
            with contextlib.suppress(OSError):
                dir_fd = os.open(folder, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)

    @staticmethod
    def _discard(entry: tuple[Path, Path, int]) -> None:
        temporary, _, lock = entry
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        os.close(lock)


@contextlib.contextmanager
def atomic_group():
    """Write several files so that they change together: see :class:`AtomicGroup`.

        with atomic_group() as group:
            with group.write("out.en.vec") as f: ...
            with group.write("out.es.vec") as f: ...
        # both renamed here; after an exception above, neither file changed
    """
    group = AtomicGroup()
    try:
        yield group
        group._commit()
    finally:
        for entry in group._pending:  # after an exception: nothing of the group is renamed further
            AtomicGroup._discard(entry)
        group._pending.clear()


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file beside `path`; rename it onto `path` on success.

    The file is flushed and fsync'ed before :func:`os.replace`, so after a power
    loss `path` holds either the old or the new content. On any exception,
    KeyboardInterrupt included, the temporary file is removed and an existing
    `path` is left untouched. Temporaries of `path` left by a killed writer
    (kill -9), which nothing could remove, are removed first. The temporary is
    made by :func:`exclusive_temporary`: a planted file or link is never followed.

    Parameters
    ----------
    path : str or PathLike
        Final file name.
    mode : str
        ``"wb"`` (default) or ``"w"`` (UTF-8 text, ``\\n`` line ends).

    Raises
    ------
    ConfigError
        A bad output path (see :func:`check_output_path`).
    ResourceError
        The disk is full or over quota.
    """
    with atomic_group() as group, group.write(path, mode) as handle:
        yield handle


def _raise_write_error(path: Path, exc: OSError):
    """Raises a write, flush, fsync or rename error of `path` naming it; a full disk is a ResourceError."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        raise ResourceError(f"no space left on the device writing {path}") from exc
    if exc.filename is None:  # a write, flush or fsync of this output (EIO...): name the file
        raise OSError(exc.errno, exc.strerror or str(exc), os.fspath(path)) from exc
    raise exc


# A writer locks its temporary right after creating it, before writing to it. An unlocked
# temporary is a killed writer's if it holds data, or if it is empty but this old.
STALE_SECONDS = 10


def remove_stale_temporaries(path) -> list[Path]:
    """Delete the temporaries of `path` left by writers that were killed (kill -9, the
    OOM killer, a power loss): nothing could clean up after them. A live writer holds
    an exclusive lock on its temporary from its creation to its rename, released by the
    system when it dies; an empty file not yet locked is spared by its age. Returns what
    was deleted."""
    path = Path(path)
    prefix = f".{path.name}."
    removed = []
    if fcntl is None or not path.parent.is_dir():
        return removed
    for candidate in path.parent.iterdir():
        name = candidate.name
        # the random part has no dot: `.v.bin.x.tmp` is not a temporary of `v`
        if not (name.startswith(prefix) and name.endswith(".tmp") and "." not in name[len(prefix):-4]):
            continue
        try:
            fd = os.open(candidate, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            status = os.fstat(fd)
            if status.st_size > 0 or time.time() - status.st_mtime > STALE_SECONDS:
                os.unlink(candidate)
                removed.append(candidate)
        except OSError:  # locked by a live writer, or gone meanwhile
            pass
        finally:
            os.close(fd)
    return removed
