"""The compiled steps against a float64 numpy reference, for every SIMD level."""

from __future__ import annotations

import numpy as np
import pytest

from mtlembed import _core

LEVELS = _core.simd_available()
MAX_SCORE = 6.0


def clipped_sigmoid(x):
    s = 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))
    return np.where(x > MAX_SCORE, 1.0, np.where(x < -MAX_SCORE, 0.0, s))


def pair_loss(scores, labels):
    z = np.clip(scores, -MAX_SCORE, MAX_SCORE)
    return float(np.sum(np.log1p(np.exp(np.where(labels > 0, -z, z)))))


def reference_step(model, w_in, w_out, contexts, targets, lr):
    """One center word's update in float64: all scores from the old rows, then the updates."""
    w_in, w_out = w_in.astype(np.float64), w_out.astype(np.float64)
    outs = w_out[targets]
    if model == "sg":
        inputs = w_in[contexts]
        scores = inputs @ outs.T                       # contexts x targets
        labels = np.zeros_like(scores)
        labels[:, 0] = 1.0
        g = lr * (labels - clipped_sigmoid(scores))
        np.add.at(w_out, targets, g.T @ inputs)
        np.add.at(w_in, contexts, g @ outs)
    else:
        h = w_in[contexts].mean(axis=0)
        scores = outs @ h
        labels = np.zeros_like(scores)
        labels[0] = 1.0
        g = lr * (labels - clipped_sigmoid(scores))
        np.add.at(w_out, targets, np.outer(g, h))
        np.add.at(w_in, contexts, np.broadcast_to(g @ outs, (len(contexts), h.size)))
    return w_in, w_out, pair_loss(scores, labels)


def padded(matrix):
    """The kernel's layout: columns padded with zeros to a multiple of 16."""
    out = np.zeros((matrix.shape[0], -(-matrix.shape[1] // 16) * 16), np.float32)
    out[:, :matrix.shape[1]] = matrix
    return out


def random_case(dim, scale, seed=0, n_targets=6):
    rng = np.random.default_rng(seed)
    w_in = padded(rng.standard_normal((40, dim)) * scale)
    w_out = padded(rng.standard_normal((40, dim)) * scale)
    # a repeated context and a repeated negative, as real windows and draws have
    contexts = np.array([3, 7, 11, 7, 19, 23], dtype=np.int32)
    targets = np.array([5, 8, 13, 8, 30, 2, 17, 8, 21, 33, 5, 36, 1, 12][:n_targets], dtype=np.int32)
    return w_in, w_out, contexts, targets


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("model", ["sg", "cbow"])
@pytest.mark.parametrize("dim, scale, n_targets", [(100, 0.15, 6), (37, 0.2, 6), (300, 0.08, 6), (16, 2.0, 6),
                                                   (100, 0.15, 2), (100, 0.15, 14)])
def test_step_matches_float64_reference(level, model, dim, scale, n_targets):
    w_in, w_out, contexts, targets = random_case(dim, scale, n_targets=n_targets)
    lr = 0.5
    ref_in, ref_out, ref_loss = reference_step(model, w_in, w_out, contexts, targets, lr)
    new_in, new_out = w_in.copy(), w_out.copy()
    loss = _core.step(model, new_in, new_out, contexts, targets, lr, level)
    for new, old, ref in ((new_in, w_in, ref_in), (new_out, w_out, ref_out)):
        assert not new[:, dim:].any()  # the padding stays zero
        delta, ref_delta = new.astype(np.float64) - old, ref - old
        assert np.abs(ref_delta).max() > 1e-3  # the step really moved something
        assert np.abs(delta - ref_delta).max() / np.abs(ref_delta).max() < 1e-5
    assert loss == pytest.approx(ref_loss, rel=1e-4)


def reference_cbow_shared(w_in, w_out, contexts, centers, negatives, lr):
    """CBOW centers sharing negatives, in float64: h_i predicts its own center and every negative."""
    w_in, w_out = w_in.astype(np.float64), w_out.astype(np.float64)
    h = np.stack([w_in[c].mean(axis=0) for c in contexts])               # centers x dim
    positives, shared = w_out[centers], w_out[negatives]
    pos_scores = np.einsum("id,id->i", h, positives)
    neg_scores = shared @ h.T                                             # negatives x centers
    g_pos = lr * (1.0 - clipped_sigmoid(pos_scores))
    g_neg = lr * (0.0 - clipped_sigmoid(neg_scores))
    grad_h = g_pos[:, None] * positives + g_neg.T @ shared
    np.add.at(w_out, centers, g_pos[:, None] * h)
    np.add.at(w_out, negatives, g_neg @ h)
    for c, grad in zip(contexts, grad_h):
        np.add.at(w_in, c, np.broadcast_to(grad, (len(c), h.shape[1])))
    loss = pair_loss(pos_scores, np.ones_like(pos_scores)) + pair_loss(neg_scores, np.zeros_like(neg_scores))
    return w_in, w_out, loss


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("dim, n_centers", [(100, 4), (37, 3), (300, 8), (16, 2)])
def test_cbow_centers_sharing_negatives_match_float64_reference(level, dim, n_centers):
    rng = np.random.default_rng(dim)
    w_in = padded(rng.standard_normal((40, dim)) * 0.15)
    w_out = padded(rng.standard_normal((40, dim)) * 0.15)
    # Windows of different sizes; a word in two windows, twice in one, and as a center and a negative.
    sizes = [2, 6, 3, 1, 4, 10, 2, 5][:n_centers]
    contexts = [rng.integers(0, 40, size).astype(np.int32) for size in sizes]
    contexts[0][0] = contexts[-1][-1] = 7
    centers = np.array([5, 9, 5, 21, 30, 2, 17, 11][:n_centers], dtype=np.int32)
    negatives = np.array([8, 13, 8, 9, 33], dtype=np.int32)
    lr = 0.5
    ref_in, ref_out, ref_loss = reference_cbow_shared(w_in, w_out, contexts, centers, negatives, lr)
    new_in, new_out = w_in.copy(), w_out.copy()
    loss = _core.step("cbow", new_in, new_out, np.concatenate(contexts), np.concatenate([centers, negatives]),
                      lr, level, context_ends=np.cumsum(sizes).tolist())
    for new, old, ref in ((new_in, w_in, ref_in), (new_out, w_out, ref_out)):
        assert not new[:, dim:].any()
        delta, ref_delta = new.astype(np.float64) - old, ref - old
        assert np.abs(ref_delta).max() > 1e-3
        assert np.abs(delta - ref_delta).max() / np.abs(ref_delta).max() < 1e-5
    assert loss == pytest.approx(ref_loss, rel=1e-4)


def test_only_cbow_shares_negatives_across_centers():
    w_in, w_out, contexts, targets = random_case(16, 0.1)
    with pytest.raises(ValueError, match="only CBOW"):
        _core.step("sg", w_in, w_out, contexts, targets, 0.1, "generic", context_ends=[2, 6])
    with pytest.raises(ValueError, match="end at the number of contexts"):
        _core.step("cbow", w_in, w_out, contexts, targets, 0.1, "generic", context_ends=[2, 5])


def test_saturated_scores_give_the_full_gradient():
    # Beyond +-6 word2vec treats the sigmoid as exactly 0/1: a confident wrong
    # negative gets gradient -lr, a confident right positive gets none.
    dim = 16
    w_in = np.zeros((4, dim), np.float32)
    w_out = np.zeros((4, dim), np.float32)
    w_in[0, :8] = 1.0
    w_out[1, :8] = 1.0   # positive: score 8 > 6 -> no update
    w_out[2, :8] = 1.0   # negative: score 8 > 6 -> g = -lr
    before, in_before = w_out.copy(), w_in.copy()
    _core.step("sg", w_in, w_out, np.array([0], np.int32), np.array([1, 2], np.int32), 0.1, LEVELS[0])
    np.testing.assert_array_equal(w_out[1], before[1])
    np.testing.assert_allclose(w_out[2], before[2] - 0.1 * in_before[0])


@pytest.mark.parametrize("bad", ["float64", "fortran", "readonly"])
def test_matrices_are_never_converted(bad):
    w_in, w_out, contexts, targets = random_case(16, 0.1)
    if bad == "float64":
        w_in = w_in.astype(np.float64)
    elif bad == "fortran":
        w_in = np.asfortranarray(w_in)
    else:
        w_in.setflags(write=False)
    with pytest.raises(ValueError, match="w_in must"):
        _core.step("sg", w_in, w_out, contexts, targets, 0.1, "generic")


def test_unpadded_rows_are_rejected():
    w = np.zeros((4, 10), np.float32)
    with pytest.raises(ValueError, match="multiple of 16"):
        _core.step("sg", w, w.copy(), np.array([0], np.int32), np.array([1], np.int32), 0.1, "generic")


def test_alias_table_draws_the_distribution():
    weights = np.array([5.0, 1.0, 0.0, 3.0, 1.0])
    prob, alias = _core.alias_table(weights)
    # The implied distribution: slot k gives k with prob[k], alias[k] otherwise.
    implied = np.zeros(len(weights))
    for k in range(len(weights)):
        implied[k] += prob[k] / len(weights)
        implied[alias[k]] += (1 - prob[k]) / len(weights)
    np.testing.assert_allclose(implied, weights / weights.sum(), atol=1e-6)
