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
    updates = np.bincount(words_table.rows, weights=per_row, minlength=len(w_in)) * EPOCHS
    n_words = len(counts)
    scale = np.sqrt(np.minimum(1.0, updates[n_words:] / trainer.WIDE_FROM_UPDATES)).astype(np.float32)
    w_in[n_words:] *= scale[:, None]
    return cleared


subwords.vocabulary_table, subwords.clear_unused_rows = table, clear
sys.exit(main())
