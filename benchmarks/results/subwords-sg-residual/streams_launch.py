"""quality_launch.py with each epoch's chunks interleaved from STREAMS equal parts of it (env; default 10,
1 = the plain order), so that consecutive chunks come from STREAMS places of the corpus at once, as
fastText's threads read it (each starts at its own tenth of the file); one task only.

    STREAMS=10 python benchmarks/results/subwords-sg-residual/streams_launch.py SETTINGS train corpus.txt ...
"""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/
import numpy as np  # noqa: E402
import quality_launch  # noqa: E402

from mtlembed import tasks  # noqa: E402

plain = tasks.schedule
K = int(os.environ.get("STREAMS", "10"))


def reordered(chunks, task_offsets, epochs, interleave):
    """The schedule `chunks` of one task with each epoch's chunk indices put in the order `interleave`
    gives them, and the learning rate's progress recounted along the new order."""
    assert len(task_offsets) == 1
    n = len(chunks["id"])
    per_epoch = n // epochs
    bounds = [e * per_epoch for e in range(epochs)] + [n]  # the last epoch takes the rest
    order = np.concatenate([interleave(np.arange(lo, hi)) for lo, hi in zip(bounds, bounds[1:])])
    assert sorted(order) == list(range(n))
    out = {key: chunks[key][order] for key in ("task", "sentence_begin", "sentence_end", "id")}
    offsets = task_offsets[0]
    tokens = (offsets[out["sentence_end"]] - offsets[out["sentence_begin"]]).astype(np.float64)
    ends = np.cumsum(tokens)
    out["progress_end"], out["progress_begin"] = ends / ends[-1], (ends - tokens) / ends[-1]
    return out


def from_places(indices):
    """`indices` in K equal parts, read a chunk from each part in turn."""
    parts = np.array_split(indices, K)
    grid = np.full((max(len(p) for p in parts), K), -1, dtype=np.int64)
    for j, p in enumerate(parts):
        grid[:len(p), j] = p
    flat = grid.ravel()
    return flat[flat >= 0]


def in_corpus_order(task_offsets, epochs, *args, **kwargs):
    """The schedule as these runs had it: each epoch in corpus order (the default shuffles it since)."""
    return plain(task_offsets, epochs, *args, **{**kwargs, "shuffle_seed": None})


def streams(task_offsets, epochs, *args, **kwargs):
    chunks = in_corpus_order(task_offsets, epochs, *args, **kwargs)
    return chunks if K == 1 else reordered(chunks, task_offsets, epochs, from_places)


if __name__ == "__main__":
    tasks.schedule = streams
    sys.exit(quality_launch.main())
