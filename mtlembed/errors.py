"""Errors raised by mtlembed.

Each one also inherits the matching built-in, so ``except ValueError`` or
``except OSError`` in user code keeps working. Messages name the file, line and
value at fault; the CLI prints them as one line.
"""


class MtlembedError(Exception):
    """Base class of every error mtlembed raises on purpose."""


class ConfigError(MtlembedError, ValueError):
    """An invalid parameter, config file or command-line value."""


class CorpusError(MtlembedError, OSError):
    """A corpus that cannot be read: missing, empty, undecodable, corrupt."""


class FormatError(MtlembedError, ValueError):
    """A malformed vectors, dictionary or evaluation file."""


class ResourceError(MtlembedError, MemoryError):
    """Not enough memory or disk for what was asked."""


class BackendError(MtlembedError, RuntimeError):
    """The compiled kernel failed or a requested backend is unavailable."""


class MissingDependencyError(MtlembedError, ImportError):
    """An optional package is not installed; the message names the extra that brings it."""


class UnknownWordError(MtlembedError, KeyError):
    """Words that are not in a model's vocabulary (the message lists them)."""

    def __str__(self) -> str:  # KeyError's would quote the message
        return str(self.args[0]) if self.args else ""
