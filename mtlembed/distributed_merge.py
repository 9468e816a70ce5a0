"""Each row's share of the ranks' summed changes at a meeting (distributed.Ranks._merge).

W ranks train at s = max(2, W / 2) times the learning rate and a meeting adds 1/s of their summed
changes (distributed.learning_rate_scale says why s), times a boost b >= 1 for each row: a row's
updates saturate sooner at s x the rate than at the rate, so a round at 2 x the rate, halved,
moves a rarely updated row less than one process at the rate would. b makes that up, by the
row's expected updates in a rank's round, n (expected_updates: from the run's counts, the same on
every rank).

Measured, not derived (benchmarks/distributed_probe.py; distributed-probe-2-mean.json): one
process trains to a point of the run, then from that state the next 2 rounds' words as one process
and as 2 ranks (each a round, at 1 x and at 2 x the rate), each averaged over 6 seeds; b is one
process's change over the 2-rank merge's, least squares over the rows in bins of n: 1.26 for the
input rows updated less than once a round (most of the vocabulary), falling to 1 by ~50 updates,
and up to 1.20 for output rows updated 5-50 times. The sum at 1 x the rate instead is exact for
those rows (b 0.99-1.00) but moves the rows updated hundreds of times a round 1.5 x as far as one
process at 2 ranks (2.5-4 x at 4: it diverges), and shares that match one process's expected
change for every row (the sum for rare rows, near the mean for hot ones) lost 1.2-3.5 analogy
points: those rows keep learning across rounds. b never damps a row, so the hot rows keep s.
"""

from __future__ import annotations

import numpy as np

from .kernel import noise_exponent_of

# The boost b by a row's expected updates in a round (log-interpolated, constant beyond the ends), for
# w_in's rows and for w_out's (distributed-probe-2-mean.json, 30% into a 1-epoch 17M-word run; the
# 5% and 70% probes in distributed-probe-2.json agree within 0.05).
BOOST_UPDATES = np.array([0.3, 1.7, 5.4, 17.0, 51.5, 159.0])
BOOST_IN = np.array([1.26, 1.20, 1.12, 1.06, 1.02, 1.0])
BOOST_OUT = np.array([1.0, 1.02, 1.11, 1.20, 1.14, 1.02])


def boosts(updates: np.ndarray, input_rows: bool, merge_factor: float = 1.0) -> np.ndarray:
    """b (float32) for rows of w_in (`input_rows`) or of a w_out head updated `updates` times a round.

    `merge_factor` is ranks / s: how far a meeting moves a row that every rank pulls to one point, in
    units of the distance. Output rows are boosted only where it is at most 1 (2 ranks: the mean). At 2
    (4 ranks and more) such a row already swings to the mirror point, the edge of stability, and the
    output boosts on top diverged (4 ranks, 5 epochs, seed 2: 20.0% analogy against 37.8% without them,
    38.2% with the input rows' boosts alone, benchmarks/results/distributed.md). The input rows' boosts
    are largest for rows a round updates less than once, which move in proportion to the rate."""
    n = np.log(np.clip(np.asarray(updates, np.float64), BOOST_UPDATES[0], BOOST_UPDATES[-1]))
    if not input_rows and merge_factor > 1:
        return np.ones(len(n), np.float32)
    return np.interp(n, np.log(BOOST_UPDATES), BOOST_IN if input_rows else BOOST_OUT).astype(np.float32)


def expected_updates(occurrences: np.ndarray, keep: np.ndarray, counts: np.ndarray, starts: np.ndarray,
                     config, input_rows: int, subword_table=None) -> tuple[np.ndarray, np.ndarray]:
    """Updates per rank and round of each row of w_in and of a w_out head, from each word's trained
    occurrences per rank and round (`occurrences`), subsampling's `keep`, and the counts and language
    starts of the vocabulary (for the noise distribution, count^exponent within a language).

    Skip-gram: a kept center's window holds window + 1 words on average (a reduced window of 1..window
    each side), and each (center, context) pair is one update of the context's input row and of the
    center's output row, and of each of the step's `negative` negatives' output rows. CBOW: the
    input rows the same, the output rows one update a center. Subword rows of w_in take the updates
    of every word they are part of."""
    kept = occurrences * keep
    per_center = config.window + 1.0
    words_in = kept * per_center
    noise = np.empty(len(counts), np.float64)
    centers = np.empty(len(counts), np.float64)  # kept centers of each word's language
    exponent = noise_exponent_of(config, int(counts.sum()))
    for begin, end in zip(starts[:-1], starts[1:]):
        weights = counts[begin:end].astype(np.float64) ** exponent
        noise[begin:end] = weights / max(weights.sum(), 1e-300)
        centers[begin:end] = kept[begin:end].sum()
    out_per_center = per_center if config.model == "sg" else 1.0
    words_out = out_per_center * (kept + config.negative * noise * centers)
    if subword_table is None:
        rows_in = np.zeros(input_rows, np.float64)
        rows_in[:len(words_in)] = words_in
    else:
        lengths = np.diff(subword_table.offsets)
        rows_in = np.bincount(subword_table.rows, weights=np.repeat(words_in, lengths), minlength=input_rows)
    return rows_in, words_out


def task_occurrences(streams: list, words_trained: np.ndarray, vocab_size: int) -> np.ndarray:
    """Each word's occurrences in the text a rank trains over the whole run: each task's counted once
    (a parallel task: (first, second) streams) times the passes its schedule makes over it
    (`words_trained[t]` / its words)."""
    total = np.zeros(vocab_size, np.float64)
    for task, stream in enumerate(streams):
        sides = stream if isinstance(stream, tuple) else (stream,)
        words = sum(int(side.offsets[-1] - side.offsets[0]) for side in sides)
        if words == 0:
            continue
        passes = words_trained[task] / words
        for side in sides:
            tokens = np.asarray(side.tokens[int(side.offsets[0]):int(side.offsets[-1])])
            total += passes * np.bincount(tokens, minlength=vocab_size)[:vocab_size]
    return total
