"""mtlembed: fast joint word embeddings (skip-gram / CBOW with negative sampling).

    >>> import mtlembed
    >>> vectors = mtlembed.train("corpus.txt.gz", dim=100, epochs=5)
    >>> vectors.most_similar("king")
    >>> vectors.save("vectors.bin")
"""

from .config import TrainConfig
from .errors import BackendError, ConfigError, CorpusError, FormatError, MtlembedError, ResourceError
from .model import Embeddings
from .tasks import TaskSpec
from .trainer import Trainer, train

__version__ = "0.1.0"

__all__ = [
    "BackendError", "ConfigError", "CorpusError", "Embeddings", "FormatError", "MtlembedError",
    "ResourceError", "TaskSpec", "TrainConfig", "Trainer", "train", "__version__",
]
