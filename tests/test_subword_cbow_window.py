"""CBOW with subwords through the window cache (csrc/cpu/cbow_window.h, TrainParams.cbow_window_cache).

Each context position's mean of rows is composed once, when the span of centers that can reach it begins;
a center's hidden vector is its contexts' means weighted by their rows; its gradient is owed by each
context position (and moves that position's mean by the word's mean gain) and is added to the word's rows
when no later center can reach the position, or the sentence ends. The kernel runs against a float64
numpy reference of that algorithm, with the kernel's own random draws (reduced windows, negatives), within
sentences and across a parallel pair, at every SIMD level."""

from __future__ import annotations

import numpy as np
import pytest
import test_subword_kernel as plain
from test_subword_kernel import DIM, NOISE_WORD, VOCAB, WORD_ROWS, chunks, start, table

from mtlembed import _core
from mtlembed.kernel import kernel_job, train_params

LEVELS = _core.simd_available()
MASK = (1 << 64) - 1
SENTENCES = [[0, 1, 4, 2, 1, 3, 5, 0, 2, 3, 1, 4, 0], [5, 2, 0], [3], [1, 0, 3, 3, 2, 5, 4, 1]]
SECOND = [[2, 3, 5, 1, 0, 4], [1, 3, 2, 4, 0], [0, 5], [4, 2]]  # aligned sentences of a parallel task


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


class Rng:
    """sampling.h's xorshift64*, seeded per chunk."""

    def __init__(self, seed, stream):
        self.state = splitmix64(seed ^ splitmix64(stream)) | 1

    def next(self):
        s = self.state
        s ^= s >> 12
        s ^= (s << 25) & MASK
        s ^= s >> 27
        self.state = s
        return (s * 0x2545F4914F6CDD1D) & MASK

    def below(self, n):
        return ((self.next() >> 32) * n) >> 32


class Reference:
    """The window cache's training in float64."""

    def __init__(self, w_in, w_out, window, share, negative, lr, seed):
        self.w_in, self.w_out = w_in.astype(np.float64), w_out.astype(np.float64)
        self.window, self.share, self.negative, self.lr = window, share, negative, lr
        self.rng = Rng(seed, 0)  # one chunk, id 0
        self.loss = self.pairs = 0
        # mean gain: sum over a word's listed rows of how often each is listed, over the count
        self.gains = [sum(rows.count(r) for r in rows) / len(rows) for rows in WORD_ROWS]

    def centers(self, words, source, reach):
        """train_centers: spans of `share` steps, the cache released and composed before each."""
        n, w = len(words), self.window
        stride = 2 * w + 1 if self.share > 1 else 1
        span = stride * self.share
        self.source, self.slots, self.released, self.composed = source, {}, 0, 0
        for base in range(0, n, span):
            self.release_before(reach(base, w)[0])
            last = reach(min(base + span, n) - 1, w)[1]
            for p in range(self.composed, last + 1):
                self.slots[p] = [self.w_in[WORD_ROWS[source[p]]].mean(axis=0), np.zeros(self.w_in.shape[1])]
            self.composed = max(self.composed, last + 1)
            for offset in range(min(stride, n - base)):
                step = []
                for i in range(base + offset, min(n, base + span), stride):
                    lo, hi, skip = reach(i, w - self.rng.below(w))
                    contexts = [j for j in range(lo, hi + 1) if j != skip]
                    if contexts:
                        step.append((words[i], contexts))
                if step:
                    self.step(step)
        self.release_before(len(source))

    def release_before(self, end):
        for p in range(self.released, end):
            np.add.at(self.w_in, WORD_ROWS[self.source[p]], self.slots.pop(p)[1])
        self.released = max(self.released, end)

    def step(self, step):
        positives = [word for word, _ in step]
        targets = list(positives)
        for _ in range(self.negative):
            self.rng.next()  # the one noise word
            if NOISE_WORD not in positives:
                targets.append(NOISE_WORD)
        h = []
        for _, contexts in step:
            rows = [len(WORD_ROWS[self.source[p]]) for p in contexts]
            h.append(sum(r / sum(rows) * self.slots[p][0] for r, p in zip(rows, contexts)))
        h, outs = np.array(h), self.w_out[targets].copy()
        scores = h @ outs.T  # (centers, targets): each center against its own word and every negative
        nc = len(step)
        labels = np.zeros_like(scores)
        labels[np.arange(nc), np.arange(nc)] = 1
        used = np.ones_like(scores, bool)
        used[:, :nc] = labels[:, :nc] > 0  # a center scores no other center's word
        g = np.where(used, self.lr * (labels - plain.clipped_sigmoid(scores)), 0.0)
        self.loss += plain.pair_loss(scores[used], labels[used], 1.0)
        self.pairs += int(used.sum())
        np.add.at(self.w_out, targets, g.T @ h)
        for (_, contexts), grad in zip(step, g @ outs):
            for p in contexts:
                self.slots[p][1] += grad
                self.slots[p][0] += self.gains[self.source[p]] * grad

    def sentence(self, words):
        n = len(words)
        self.centers(words, words, lambda i, r: (max(i - r, 0), min(i + r, n - 1), i))

    def across(self, first, second):
        n, m = len(first), len(second)
        self.centers(first, second, lambda i, r: (max((2 * i + 1) * m // (2 * n) - r, 0),
                                                  min((2 * i + 1) * m // (2 * n) + r, m - 1), -1))


def offsets_of(sentences):
    offsets = np.zeros(len(sentences) + 1, np.int64)
    offsets[1:] = np.cumsum([len(s) for s in sentences])
    return offsets


def job_of(w_in, w_out, sentences, second=None):
    tokens = np.array([w for s in sentences for w in s], np.int32)
    task = _core.Task(tokens, offsets_of(sentences), noise=0, head=0)
    if second is not None:
        task.set_second_side(np.array([w for s in second for w in s], np.int32), offsets_of(second), noise=0)
    prob, alias = _core.alias_table(np.ones(1))
    return kernel_job(w_in, [w_out], np.ones(VOCAB, np.float32), [(prob, alias, NOISE_WORD)], [task],
                      chunks(len(sentences), 1), subwords=table())


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("window, share, parallel",
                         [(1, 1, False), (3, 1, False), (2, 2, False), (2, 3, True)])
def test_window_cache_matches_the_float64_reference(level, window, share, parallel):
    w_in, w_out = start(3)
    lr, negative, seed = 0.3, 2, 11
    ref = Reference(w_in, w_out, window, share, negative, lr, seed)
    for s, words in enumerate(SENTENCES):
        if parallel:
            ref.across(words, SECOND[s])
            ref.across(SECOND[s], words)
        else:
            ref.sentence(words)
    new_in, new_out = w_in.copy(), w_out.copy()
    params = train_params(model="cbow", dim=w_in.shape[1], window=window, negative=negative, cbow_share=share,
                          alpha=lr, min_alpha=lr, seed=seed, cbow_window_cache=True)
    stats = _core.train(params, job_of(new_in, new_out, SENTENCES, SECOND if parallel else None), level)
    assert stats["pairs"] == ref.pairs
    assert stats["loss"] == pytest.approx(ref.loss, rel=1e-4)
    assert np.abs(ref.w_in[VOCAB:] - w_in[VOCAB:]).max(axis=1).min() > 1e-3  # every bucket row learnt
    for new, old, expected in ((new_in, w_in, ref.w_in), (new_out, w_out, ref.w_out)):
        assert not new[:, DIM:].any()  # the padding stays zero
        delta, ref_delta = new.astype(np.float64) - old, expected - old
        assert np.abs(delta - ref_delta).max() / np.abs(ref_delta).max() < 1e-5


def test_the_window_cache_is_not_the_exact_step():
    # The reference above must tell the two apart: on the same job the exact step (every row read at
    # every center) ends elsewhere, by more than its tolerance: positions share rows (bucket 6: words 0, 3).
    results = []
    for cached in (False, True):
        w_in, w_out = start(3)
        params = train_params(model="cbow", dim=w_in.shape[1], window=2, negative=2, cbow_share=2, alpha=0.3,
                              min_alpha=0.3, seed=11, cbow_window_cache=cached)
        _core.train(params, job_of(w_in, w_out, SENTENCES), "generic")
        results.append(w_in.astype(np.float64))
    start_in = start(3)[0]
    assert np.abs(results[1] - results[0]).max() / np.abs(results[0] - start_in).max() > 1e-3


@pytest.mark.parametrize("level", LEVELS)
def test_one_thread_is_bit_identical_run_to_run(level):
    def run():
        params, job, w_in, w_out = plain.random_job("cbow", threads=1)
        params.cbow_window_cache = True
        stats = _core.train(params, job, level)
        return stats["loss"], stats["pairs"], w_in.tobytes(), w_out.tobytes()

    first = run()
    assert first == run()
    assert first[1] > 10_000


def test_a_run_in_two_calls_is_the_run_in_one():
    # Nothing stays cached between chunks (every sentence releases its positions): training the schedule in
    # two calls, as a resumed run or a distributed round does, gives one call's floats.
    results = []
    for cuts in ([0, 10], [0, 4, 10]):
        params, job, w_in, w_out = plain.random_job("cbow", threads=1)
        params.cbow_window_cache = True
        for begin, end in zip(cuts, cuts[1:]):
            _core.train(params, job, "generic", begin=begin, end=end)
        results.append((w_in.tobytes(), w_out.tobytes()))
    assert results[0] == results[1]
