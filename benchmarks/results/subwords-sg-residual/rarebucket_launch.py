"""`mtlembed` with the rare-start rule of word rows extended to the n-gram buckets: a bucket whose words
occur fewer than trainer.WIDE_FROM_UPDATES times over all epochs (summed over the vocabulary words that use
it) starts narrower by the square root of the ratio (subwords-sg-residual-17M-5epochs.md). The epochs come
from MTL_EPOCHS. Run as `MTL_EPOCHS=5 python rarebucket_launch.py train ...`."""

import os
import sys

import numpy as np

from mtlembed import subwords, trainer
from mtlembed.cli import main

EPOCHS = int(os.environ["MTL_EPOCHS"])
seen = {}
plain_table, plain_clear = subwords.vocabulary_table, subwords.clear_unused_rows


def table(vocab, spec):
    seen["vocab"] = vocab
    return plain_table(vocab, spec)


def clear(w_in, words_table):
    cleared = plain_clear(w_in, words_table)
    counts = np.asarray(seen["vocab"].counts, dtype=np.float64)
    per_row = np.repeat(counts, np.diff(words_table.offsets))
    bucket_counts = np.bincount(words_table.rows, weights=per_row, minlength=len(w_in))[len(counts):]
    w_in[len(counts):] *= trainer.start_scales(bucket_counts, EPOCHS)[:, None]
    return cleared


subwords.vocabulary_table, subwords.clear_unused_rows = table, clear
sys.exit(main())
