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


def streams(task_offsets, epochs, *args, **kwargs):
    chunks = plain(task_offsets, epochs, *args, **kwargs)
    if K == 1:
        return chunks
    assert len(task_offsets) == 1
    n = len(chunks["id"])
    per_epoch = n // epochs
    order = []
    for epoch in range(epochs):
        lo = epoch * per_epoch
        hi = n if epoch == epochs - 1 else lo + per_epoch
        parts = np.array_split(np.arange(lo, hi), K)
        grid = np.full((max(len(p) for p in parts), K), -1, dtype=np.int64)
        for j, p in enumerate(parts):
            grid[:len(p), j] = p
        flat = grid.ravel()
        order.append(flat[flat >= 0])
    order = np.concatenate(order)
    out = {key: chunks[key][order] for key in ("task", "sentence_begin", "sentence_end", "id")}
    offsets = task_offsets[0]
    tokens = (offsets[out["sentence_end"]] - offsets[out["sentence_begin"]]).astype(np.float64)
    ends = np.cumsum(tokens)
    out["progress_end"], out["progress_begin"] = ends / ends[-1], (ends - tokens) / ends[-1]
    return out


tasks.schedule = streams
sys.exit(quality_launch.main())
