"""Subwords in the compiled kernel (issue 21): a word's input vector is the mean of its rows of w_in (its
own, then its n-grams' buckets), and the input gradient goes, undivided, to each of them (fastText).

The kernel's training loop runs against a float64 numpy reference on a job whose draws are all fixed
(window 1, one noise word, no subsampling, constant lr), at every SIMD level."""

from __future__ import annotations

import numpy as np
import pytest
from test_cuda_emulator import run_emulator

from mtlembed import _core
from mtlembed.kernel import kernel_job, train_params
from mtlembed.subwords import SubwordTable

LEVELS = _core.simd_available()
MAX_SCORE = 6.0
DIM, PADDED = 37, 48
VOCAB, BUCKETS = 6, 5
# Word i's rows: its own first, then buckets (rows VOCAB..), with a bucket repeated and buckets shared.
WORD_ROWS = [[0, 6, 7, 6], [1, 8], [2], [3, 6, 9, 10], [4, 10], [5, 7]]
SENTENCES = [[0, 1, 4, 2, 1, 3], [5, 2, 0]]
NOISE_WORD = 4  # the one negative: also a word of the first sentence, so it is sometimes refused


def table(word_rows=WORD_ROWS):
    offsets = np.zeros(len(word_rows) + 1, np.int64)
    offsets[1:] = np.cumsum([len(r) for r in word_rows])
    return SubwordTable(offsets, np.concatenate(word_rows).astype(np.int32))


def clipped_sigmoid(x):
    s = 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))
    return np.where(x > MAX_SCORE, 1.0, np.where(x < -MAX_SCORE, 0.0, s))


def pair_loss(scores, labels, weights):
    z = np.clip(scores, -MAX_SCORE, MAX_SCORE)
    return float(np.sum(weights * np.log1p(np.exp(np.where(labels > 0, -z, z)))))


def reference_update(w_in, w_out, rows, targets, n_positive, negative_weight, lr):
    """fastText's update in float64: h, the mean of `rows`, against `targets` (the first n_positive
    positive); all scores from the old rows; the gradient of h added to each row, repeats included."""
    h = w_in[rows].mean(axis=0)
    outs = w_out[targets].copy()
    scores = outs @ h
    labels = (np.arange(len(targets)) < n_positive).astype(np.float64)
    weights = np.where(labels > 0, 1.0, negative_weight)
    g = weights * lr * (labels - clipped_sigmoid(scores))
    np.add.at(w_out, targets, np.outer(g, h))
    np.add.at(w_in, rows, np.broadcast_to(g @ outs, (len(rows), h.size)))
    return pair_loss(scores, labels, weights), len(targets) if negative_weight == 1 else n_positive * (
        1 + len(targets) - n_positive)


def reference_train(model, w_in, w_out, lr, shared_negatives=True, sentences=SENTENCES):
    """The kernel's loop over `sentences` with window 1, in float64. Returns the matrices, loss and pairs."""
    w_in, w_out = w_in.astype(np.float64), w_out.astype(np.float64)
    loss = pairs = 0
    for sentence in sentences:
        for i, center in enumerate(sentence):
            contexts = [sentence[j] for j in (i - 1, i + 1) if 0 <= j < len(sentence)]
            if model == "cbow":
                rows = [r for c in contexts for r in WORD_ROWS[c]]
                targets = [center] + ([NOISE_WORD] if NOISE_WORD != center else [])
                step = reference_update(w_in, w_out, rows, targets, 1, 1.0, lr)
            elif shared_negatives:  # the center's mean predicts every context, one draw of negatives
                targets = contexts + ([NOISE_WORD] if NOISE_WORD not in contexts else [])
                n = len(contexts)
                step = reference_update(w_in, w_out, WORD_ROWS[center], targets, n, n, lr)
            else:
                for context in contexts:
                    targets = [context] + ([NOISE_WORD] if NOISE_WORD != context else [])
                    step = reference_update(w_in, w_out, WORD_ROWS[center], targets, 1, 1.0, lr)
                    loss, pairs = loss + step[0], pairs + step[1]
                continue
            loss, pairs = loss + step[0], pairs + step[1]
    return w_in, w_out, loss, pairs


def start(seed=0):
    rng = np.random.default_rng(seed)
    w_in = np.zeros((VOCAB + BUCKETS, PADDED), np.float32)
    w_out = np.zeros((VOCAB, PADDED), np.float32)
    w_in[:, :DIM] = rng.standard_normal((VOCAB + BUCKETS, DIM)) * 0.3
    w_out[:, :DIM] = rng.standard_normal((VOCAB, DIM)) * 0.3
    return w_in, w_out


def fixed_job(w_in, w_out, subwords=None, sentences=SENTENCES, vocab=VOCAB):
    tokens = np.array([w for s in sentences for w in s], np.int32)
    offsets = np.zeros(len(sentences) + 1, np.int64)
    offsets[1:] = np.cumsum([len(s) for s in sentences])
    prob, alias = _core.alias_table(np.ones(1))
    return kernel_job(w_in, [w_out], np.ones(vocab, np.float32), [(prob, alias, NOISE_WORD)],
                      [_core.Task(tokens, offsets, noise=0, head=0)], chunks(len(sentences), 1),
                      subwords=subwords)


def chunks(n_sentences, n):
    """The schedule of one task's sentences in `n` equal chunks."""
    return {"task": np.zeros(n, np.int32), "sentence_begin": np.arange(n, dtype=np.int64) * n_sentences // n,
            "sentence_end": np.arange(1, n + 1, dtype=np.int64) * n_sentences // n,
            "progress_begin": np.arange(n) / n, "progress_end": np.arange(1, n + 1) / n,
            "id": np.arange(n, dtype=np.uint64)}


def fixed_params(model, lr, **fields):
    # alpha == min_alpha: the same lr all along; CBOW's exact step (its window cache has its own
    # reference: test_subword_cbow_window.py)
    return train_params(model=model, dim=PADDED, window=1, negative=1, alpha=lr, min_alpha=lr, seed=5,
                        cbow_window_cache=False, **fields)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("model, shared", [("sg", True), ("sg", False), ("cbow", True)])
def test_training_matches_the_float64_reference(level, model, shared):
    w_in, w_out = start()
    lr = 0.3
    ref_in, ref_out, ref_loss, ref_pairs = reference_train(model, w_in, w_out, lr, shared)
    new_in, new_out = w_in.copy(), w_out.copy()
    stats = _core.train(fixed_params(model, lr, shared_negatives=shared), fixed_job(new_in, new_out, table()),
                        level)
    assert stats["pairs"] == ref_pairs
    assert stats["loss"] == pytest.approx(ref_loss, rel=1e-4)
    assert np.abs(ref_in[VOCAB:] - w_in[VOCAB:]).max(axis=1).min() > 1e-3  # every bucket row learnt
    for new, old, ref in ((new_in, w_in, ref_in), (new_out, w_out, ref_out)):
        assert not new[:, DIM:].any()  # the padding stays zero
        delta, ref_delta = new.astype(np.float64) - old, ref - old
        assert np.abs(delta - ref_delta).max() / np.abs(ref_delta).max() < 1e-5


@pytest.mark.parametrize("level", LEVELS)
def test_a_draw_per_context_moves_the_mean_as_its_rows_move(level):
    # The kernel composes the center's mean once and moves it by each context's gradient; word 0 lists
    # bucket 6 twice, so its mean moves 1.5 times the gradient: the reference recomposes it every time.
    sentences = [[1, 0, 2, 0, 3], [0, 5]]
    w_in, w_out = start(2)
    lr = 0.3
    ref_in, ref_out, ref_loss, _ = reference_train("sg", w_in, w_out, lr, False, sentences)
    new_in, new_out = w_in.copy(), w_out.copy()
    stats = _core.train(fixed_params("sg", lr, shared_negatives=False),
                        fixed_job(new_in, new_out, table(), sentences=sentences), level)
    assert stats["loss"] == pytest.approx(ref_loss, rel=1e-4)
    for new, old, ref in ((new_in, w_in, ref_in), (new_out, w_out, ref_out)):
        delta, ref_delta = new.astype(np.float64) - old, ref - old
        assert np.abs(delta - ref_delta).max() / np.abs(ref_delta).max() < 1e-5


@pytest.mark.parametrize("level", LEVELS)
def test_a_table_of_own_rows_only_is_cbow_without_subwords(level):
    # CBOW's hidden vector is the mean of the context words' rows either way: the same floats.
    w_in, w_out = start(1)
    plain_in, plain_out = w_in[:VOCAB].copy(), w_out.copy()
    own = SubwordTable(np.arange(VOCAB + 1, dtype=np.int64), np.arange(VOCAB, dtype=np.int32))
    sub_in, sub_out = w_in[:VOCAB].copy(), w_out.copy()
    _core.train(fixed_params("cbow", 0.3), fixed_job(plain_in, plain_out), level)
    _core.train(fixed_params("cbow", 0.3), fixed_job(sub_in, sub_out, own), level)
    assert plain_in.tobytes() == sub_in.tobytes() and plain_out.tobytes() == sub_out.tobytes()


def random_job(model, threads, seed=3):
    """A larger job with random draws: subsampling, window 5, several chunks."""
    rng = np.random.default_rng(seed)
    vocab, buckets, dim = 300, 500, 32
    words = [[i, *(vocab + rng.integers(0, buckets, rng.integers(0, 12)))] for i in range(vocab)]
    tokens = np.minimum(rng.zipf(1.3, 20_000), vocab) - 1
    offsets = np.arange(0, tokens.size + 1, 20, dtype=np.int64)
    w_in = ((rng.random((vocab + buckets, dim)) - 0.5) / dim).astype(np.float32)
    w_out = np.zeros((vocab, dim), np.float32)
    counts = np.bincount(tokens, minlength=vocab) + 1
    prob, alias = _core.alias_table(counts ** 0.75)
    keep = np.minimum(1.0, np.sqrt(1e-3 / (counts / counts.sum()))).astype(np.float32)
    job = kernel_job(w_in, [w_out], keep, [(prob, alias, 0)],
                     [_core.Task(tokens.astype(np.int32), offsets, noise=0, head=0)],
                     chunks(len(offsets) - 1, 10), subwords=table(words))
    params = train_params(model=model, dim=dim, window=5, negative=5, cbow_share=2 if model == "cbow" else 1,
                          alpha=0.05, min_alpha=0.0001, seed=7, threads=threads)
    return params, job, w_in, w_out


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("model", ["sg", "cbow"])
def test_one_thread_is_bit_identical_run_to_run(level, model):
    def run():
        params, job, w_in, w_out = random_job(model, threads=1)
        stats = _core.train(params, job, level)
        return stats["loss"], stats["pairs"], w_in.tobytes(), w_out.tobytes()

    first = run()
    assert first == run()
    assert first[1] > 10_000


@pytest.mark.parametrize("model", ["sg", "cbow"])
def test_two_threads_on_disjoint_rows_train_exactly_as_one(model):
    # Two languages with their own words and buckets, a chunk each: the two workers share no row, and
    # each syncs its private copies of the hot w_out rows several times (tests/test_hot_rows.py), so
    # two threads must give one thread's floats exactly.
    rng = np.random.default_rng(4)
    vocab, buckets, words, dim = 400, 600, 150_000, 16
    rows, tokens, noise = [], [], []
    for lang in range(2):
        first, first_bucket = lang * vocab, 2 * vocab + lang * buckets
        rows += [[first + i, *(first_bucket + rng.integers(0, buckets, rng.integers(0, 8)))]
                 for i in range(vocab)]
        counts = 1.0 / np.arange(1, vocab + 1)
        tokens.append(first + rng.choice(vocab, size=words, p=counts / counts.sum()).astype(np.int32))
        noise.append((*_core.alias_table(counts ** 0.75), first))
    offsets = np.arange(0, words + 1, 1000, dtype=np.int64)
    tasks = [_core.Task(t, offsets, noise=i, head=0) for i, t in enumerate(tokens)]
    n = len(offsets) - 1
    schedule = {"task": np.array([0, 1], np.int32), "sentence_begin": np.zeros(2, np.int64),
                "sentence_end": np.full(2, n, np.int64), "progress_begin": np.array([0, 0.5]),
                "progress_end": np.array([0.5, 1]), "id": np.arange(2, dtype=np.uint64)}
    w_in = ((rng.random((2 * (vocab + buckets), dim)) - 0.5) / dim).astype(np.float32)
    results = []
    for threads in (1, 2):
        a, b = w_in.copy(), np.zeros((2 * vocab, dim), np.float32)
        params = train_params(model=model, dim=dim, window=3, negative=4, alpha=0.05, min_alpha=0.001, seed=7,
                              threads=threads, hot_sync_words=4096)  # copies at this size too
        job = kernel_job(a, [b], np.ones(2 * vocab, np.float32), noise, tasks, schedule, subwords=table(rows))
        assert _core.train(params, job, "generic")["words"] == 2 * words
        results.append((a, b))
    (a1, b1), (a2, b2) = results
    assert np.abs(b1).max() > 0.1 and np.abs(a1[2 * vocab:] - w_in[2 * vocab:]).max() > 0.01  # buckets learnt
    np.testing.assert_array_equal(a2, a1)
    np.testing.assert_array_equal(b2, b1)


@pytest.mark.slow
def test_the_cuda_kernel_matches_the_cpu_on_emulated_warps(tmp_path):
    # tests/cuda_emulator/driver.cc --subwords: kernels.cuh on CPU threads against cpu::train, with a
    # table of bucket rows; skip-gram and CBOW, plain, parallel with code-switching, and padded rows.
    run_emulator(tmp_path, "--subwords")


# -- the table is checked when the job is bound -------------------------------------------------------

def bad_table(kind):
    t = table()
    if kind == "row out of range":
        rows = t.rows.copy()
        rows[3] = VOCAB + BUCKETS
        return SubwordTable(t.offsets, rows), "subword row 11 at position 3 is outside w_in"
    if kind == "negative row":
        rows = t.rows.copy()
        rows[0] = -1
        return SubwordTable(t.offsets, rows), "subword row -1 at position 0 is outside w_in"
    if kind == "decreasing offsets":
        offsets = t.offsets.copy()
        offsets[2] = offsets[1] - 1
        return SubwordTable(offsets, t.rows), "subword_offsets must not decrease"
    if kind == "a word without rows":
        offsets = t.offsets.copy()
        offsets[3] = offsets[2]
        return SubwordTable(offsets, t.rows), "subword_offsets must increase"
    if kind == "not from 0":
        return SubwordTable(t.offsets + 1, t.rows), "subword_offsets must run from 0"
    if kind == "wrong length":
        return SubwordTable(t.offsets[:-1], t.rows[:t.offsets[-2]]), \
            "subword_offsets must have one entry per vocabulary word plus one"
    if kind == "int32 offsets":
        return SubwordTable(t.offsets.astype(np.int32), t.rows), "subword_offsets must have dtype int64"
    if kind == "int64 rows":
        return SubwordTable(t.offsets, t.rows.astype(np.int64)), "subword_rows must have dtype int32"
    if kind == "rows as a list":
        return SubwordTable(t.offsets, t.rows.tolist()), "subword_rows must be a numpy array"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["row out of range", "negative row", "decreasing offsets",
                                  "a word without rows", "not from 0", "wrong length", "int32 offsets",
                                  "int64 rows", "rows as a list"])
def test_a_bad_table_is_refused_with_a_clear_error(kind):
    subwords, message = bad_table(kind)
    w_in, w_out = start()
    with pytest.raises(ValueError, match=message):
        fixed_job(w_in, w_out, subwords)


def test_ids_are_checked_against_the_vocabulary_not_the_rows_of_w_in():
    w_in, w_out = start()
    with pytest.raises(ValueError, match=f"id {VOCAB} at position 1 is outside the vocabulary"):
        fixed_job(w_in, w_out, table(), sentences=[[0, VOCAB, 1]])  # a bucket's row is no word


def test_half_a_table_is_refused():
    w_in, w_out = start()
    prob, alias = _core.alias_table(np.ones(1))
    with pytest.raises(ValueError, match="subword_offsets and subword_rows come together"):
        _core.KernelJob(w_in=w_in, w_out=[w_out], keep_prob=np.ones(VOCAB, np.float32),
                        noise=[_core.NoiseTable(prob, alias, 0)], tasks=[],
                        schedule=_core.Schedule(**chunks(0, 0)),
                        subword_offsets=table().offsets)


def test_w_in_needs_a_row_per_word_and_w_out_one_per_word_only():
    w_in, w_out = start()
    with pytest.raises(ValueError, match="subword_offsets must have one entry per vocabulary word plus one"):
        fixed_job(w_in, np.zeros((VOCAB + BUCKETS, PADDED), np.float32), table())
    many = SubwordTable(np.arange(20, dtype=np.int64), np.zeros(19, np.int32))
    with pytest.raises(ValueError, match="w_in must have at least a row per vocabulary word"):
        fixed_job(w_in[:12], np.zeros((19, PADDED), np.float32), many, vocab=19)
