"""`mtlembed` with each epoch's chunks interleaved from the epoch's two halves, so that two threads, taking
consecutive chunks, read the first and the second half of the corpus at once, as fastText's threads do
(subwords-sg-residual-17M-5epochs.md; one task only). Run as `python halves_launch.py train ...`."""

import sys

import numpy as np

from mtlembed import tasks
from mtlembed.cli import main

plain = tasks.schedule


def halves(task_offsets, epochs, *args, **kwargs):
    chunks = plain(task_offsets, epochs, *args, **kwargs)
    assert len(task_offsets) == 1
    n = len(chunks["id"])
    per_epoch = n // epochs
    order = []
    for epoch in range(epochs):
        lo = epoch * per_epoch
        hi = n if epoch == epochs - 1 else lo + per_epoch
        mid = lo + (hi - lo) // 2
        first, second = np.arange(lo, mid), np.arange(mid, hi)
        both = np.empty(hi - lo, dtype=np.int64)
        both[0:2 * len(first):2], both[1:2 * len(first):2] = first, second[:len(first)]
        both[2 * len(first):] = second[len(first):]
        order.append(both)
    order = np.concatenate(order)
    assert sorted(order) == list(range(n))
    out = {key: chunks[key][order] for key in ("task", "sentence_begin", "sentence_end", "id")}
    offsets = task_offsets[0]
    tokens = (offsets[out["sentence_end"]] - offsets[out["sentence_begin"]]).astype(np.float64)
    ends = np.cumsum(tokens)
    out["progress_end"], out["progress_begin"] = ends / ends[-1], (ends - tokens) / ends[-1]
    return out


tasks.schedule = halves
sys.exit(main())
