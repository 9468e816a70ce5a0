"""`mtlembed` with each epoch's chunks interleaved from the epoch's two halves, so that two threads, taking
consecutive chunks, read the first and the second half of the corpus at once, as fastText's threads do
(subwords-sg-residual-17M-5epochs.md; one task only). Run as `python halves_launch.py train ...`."""

import sys

import numpy as np
from streams_launch import in_corpus_order, reordered  # this folder: the script's own

from mtlembed import tasks
from mtlembed.cli import main


def two_halves(indices):
    """The first half's chunks and the second's in turn (the second's extra one last)."""
    mid = len(indices) // 2
    first, second = indices[:mid], indices[mid:]
    both = np.empty(len(indices), dtype=np.int64)
    both[0:2 * len(first):2], both[1:2 * len(first):2] = first, second[:len(first)]
    both[2 * len(first):] = second[len(first):]
    return both


def halves(task_offsets, epochs, *args, **kwargs):
    return reordered(in_corpus_order(task_offsets, epochs, *args, **kwargs), task_offsets, epochs, two_halves)


tasks.schedule = halves
sys.exit(main())
