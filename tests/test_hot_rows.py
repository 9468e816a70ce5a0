"""Several CPU threads: each trains private copies of the hot rows (the most
frequent words' output rows) and adds their change to the shared rows at every sync
(csrc/cpu/train.cc), on corpora of 2^23 words an epoch or more, or at any size
with an explicit hot_sync_words (as here). A sync that lost an update, overwrote
another thread's rows with its copy, or left a copy unmerged at the end fails these."""

from __future__ import annotations

import numpy as np
import pytest

from mtlembed import _core
from mtlembed.kernel import kernel_job, train_params

DIM = 16
VOCAB = 300           # per language: all of it hot (a worker copies up to 2048 rows)
WORDS = 300_000       # per language: each worker syncs many times (every SYNC_WORDS words)
SYNC_WORDS = 4096


def language(rng, first_id, vocab=VOCAB):
    """Zipf-like token ids in [first_id, first_id + vocab), in sentences of 1,000."""
    counts = 1.0 / np.arange(1, vocab + 1)
    tokens = first_id + rng.choice(vocab, size=WORDS, p=counts / counts.sum()).astype(np.int32)
    offsets = np.arange(0, WORDS + 1, 1000, dtype=np.int64)
    prob, alias = _core.alias_table(counts ** 0.75)
    return tokens, offsets, (prob, alias, first_id)


def train(model, threads, langs, w_in, w_out, chunks_per_language=1, lr=(0.05, 0.001), sync_words=SYNC_WORDS):
    tasks = [_core.Task(tokens, offsets, noise=i, head=0) for i, (tokens, offsets, _) in enumerate(langs)]
    # Each language's sentences in `chunks_per_language` equal chunks, languages one after the other.
    per = [(len(offsets) - 1) // chunks_per_language for _, offsets, _ in langs]
    pieces = [(t, k * per[t], (k + 1) * per[t])
              for t in range(len(langs)) for k in range(chunks_per_language)]
    n = len(pieces)
    chunks = {"task": np.array([t for t, _, _ in pieces], np.int32),
              "sentence_begin": np.array([b for _, b, _ in pieces], np.int64),
              "sentence_end": np.array([e for _, _, e in pieces], np.int64),
              "progress_begin": np.arange(n) / n, "progress_end": np.arange(1, n + 1) / n,
              "id": np.arange(n, dtype=np.uint64)}
    params = train_params(model=model, dim=DIM, window=3, negative=4, alpha=lr[0], min_alpha=lr[1], seed=7,
                          threads=threads, hot_sync_words=sync_words)
    job = kernel_job(w_in, [w_out], np.ones(w_in.shape[0], np.float32), [noise for *_, noise in langs], tasks,
                     chunks)
    return _core.train(params, job, "generic")


@pytest.mark.parametrize("model", ["sg", "cbow"])
@pytest.mark.parametrize("n_languages", [1, 2])
def test_two_threads_on_disjoint_rows_train_exactly_as_one(model, n_languages):
    # One language: the second worker finds no chunk, the first syncs alone.
    # Two languages, one chunk each: both workers sync, each holding stale
    # copies of the other's hot rows, which must never be written back.
    # 3,000 words a language: hot and cold rows both.
    rng = np.random.default_rng(3)
    vocab = 3000
    langs = [language(rng, i * vocab, vocab) for i in range(n_languages)]
    rows = n_languages * vocab
    w_in = (rng.random((rows, DIM), dtype=np.float32) - 0.5) / DIM
    w_out = np.zeros((rows, DIM), np.float32)
    results = []
    for threads in (1, 2):
        a, b = w_in.copy(), w_out.copy()
        stats = train(model, threads, langs, a, b)
        assert stats["chunks"] == n_languages and stats["words"] == n_languages * WORDS
        results.append((a, b))
    (a1, b1), (a2, b2) = results
    assert np.abs(b1).max() > 0.1  # trained, hot rows included
    np.testing.assert_array_equal(a2, a1)
    np.testing.assert_array_equal(b2, b1)


@pytest.mark.parametrize("model", ["sg", "cbow"])
def test_two_threads_sharing_every_row_add_up_their_updates(model):
    # Every row starts as the same long vector, so every score is far above the
    # sigmoid's clip: positive pairs get no gradient and each negative pair
    # the constant -lr. Training is then a plain sum of updates, the same in
    # any order, so with two threads on the same rows the output rows (all
    # hot here) must reach the one-thread result to rounding; a lost or
    # overwritten sync loses about half. (The input rows are plain Hogwild,
    # where two threads writing one row at once can lose an update.)
    langs = [language(np.random.default_rng(5), 0)]
    start = np.full((VOCAB, DIM), 2.5, np.float32)
    drifts = []
    for threads in (1, 2):
        w_in, w_out = start.copy(), start.copy()
        train(model, threads, langs, w_in, w_out, chunks_per_language=4, lr=(1e-7, 1e-7))
        drifts.append(w_out - start)
    one, two = drifts
    assert np.abs(one).max() > 0.01
    assert np.abs(two - one).max() < 1e-3 * np.abs(one).max()


def test_only_a_large_corpus_or_an_explicit_interval_gets_copies():
    # Copies cost small corpora accuracy (stale rows) and pay only across chiplets: the rule keeps them
    # for epochs of 2^23 words or more. 300k words with the rule: plain Hogwild; with an interval: copies.
    langs = [language(np.random.default_rng(6), 0)]
    rows = (VOCAB, DIM)
    by_rule = train("sg", 2, langs, np.zeros(rows, np.float32), np.zeros(rows, np.float32), sync_words=0)
    forced = train("sg", 2, langs, np.zeros(rows, np.float32), np.zeros(rows, np.float32))
    one_thread = train("sg", 1, langs, np.zeros(rows, np.float32), np.zeros(rows, np.float32))
    assert by_rule["hot_rows"] == 0 and one_thread["hot_rows"] == 0
    assert forced["hot_rows"] == VOCAB
