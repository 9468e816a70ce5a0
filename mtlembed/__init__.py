"""mtlembed: fast joint word embeddings (skip-gram / CBOW with negative sampling).

    >>> import mtlembed
    >>> vectors = mtlembed.train("corpus.txt.gz", dim=100, epochs=5)
    >>> vectors.most_similar("king")
    >>> vectors.save("vectors.bin")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# The public API, loaded on first use: `import mtlembed` then costs nothing, so the `mtlembed`
# command starts its error handling before numpy and the compiled kernel load (a Ctrl-C during
# start-up is then one line, not a traceback).
_PUBLIC = {"TrainConfig": "config", "Embeddings": "model", "TaskSpec": "tasks", "Trainer": "trainer",
           "train": "trainer", "BackendError": "errors", "ConfigError": "errors", "CorpusError": "errors",
           "FormatError": "errors", "MtlembedError": "errors", "ResourceError": "errors"}

__all__ = [
    "BackendError", "ConfigError", "CorpusError", "Embeddings", "FormatError", "MtlembedError",
    "ResourceError", "TaskSpec", "TrainConfig", "Trainer", "train", "__version__",
]

if TYPE_CHECKING:
    from .config import TrainConfig
    from .errors import BackendError, ConfigError, CorpusError, FormatError, MtlembedError, ResourceError
    from .model import Embeddings
    from .tasks import TaskSpec
    from .trainer import Trainer, train


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    else:  # a submodule (mtlembed.io, ...), as an eager package would have imported it
        try:
            value = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
