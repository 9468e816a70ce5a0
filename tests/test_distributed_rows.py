"""The meetings' row work in _core (rows_changed, rows_gather, rows_apply) against numpy, and the NCCL
path's device placement with a stand-in GPU (no GPU where these run)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from mtlembed import _core, distributed

needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")


def _pair(rows: int = 40, cols: int = 16, width: int = 13):
    rng = np.random.default_rng(3)
    base = np.zeros((rows, cols), np.float32)
    base[:, :width] = rng.normal(size=(rows, width))
    matrix = base.copy()
    touched = rng.choice(rows, 12, replace=False)
    matrix[touched, :width] += rng.normal(size=(12, width)).astype(np.float32)
    matrix[touched[0], 5] = base[touched[0], 5]  # a row changed in some columns only
    return matrix, base, np.sort(touched)


def test_changed_rows_are_those_that_differ_before_the_padding():
    matrix, base, touched = _pair()
    padding_only = np.setdiff1d(np.arange(40), touched)[0]
    matrix[padding_only, 14] = 1.0  # never sent, so not a change
    changed = _core.rows_changed(matrix, base, 13)
    assert changed.dtype == np.uint8
    np.testing.assert_array_equal(np.flatnonzero(changed), touched)


def test_gather_and_apply_equal_numpy_fancy_indexing():
    matrix, base, touched = _pair()
    unchanged = np.setdiff1d(np.arange(40), touched)[:2]
    ids = np.concatenate([touched, unchanged]).astype(np.int64)
    out = np.empty((len(ids), 13), np.float32)
    _core.rows_gather(matrix, base, ids, out)
    np.testing.assert_array_equal(out, matrix[ids, :13] - base[ids, :13])
    merged = np.random.default_rng(4).normal(size=out.shape).astype(np.float32)
    expected_base = base.copy()
    expected_base[ids, :13] += np.float32(0.25) * merged
    expected_matrix = matrix.copy()
    expected_matrix[ids, :13] = expected_base[ids, :13]
    _core.rows_apply(matrix, base, ids, merged, 0.25)
    np.testing.assert_allclose(base, expected_base, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(matrix, base)  # every row: the merged ones written back, the rest equal
    np.testing.assert_allclose(matrix, expected_matrix, rtol=0, atol=1e-6)


def test_bad_row_arguments_are_value_errors():
    matrix, base, _ = _pair()
    out = np.empty((1, 13), np.float32)
    with pytest.raises(ValueError, match="row id 40 outside the 40 rows"):
        _core.rows_gather(matrix, base, np.array([40], np.int64), out)
    with pytest.raises(ValueError, match="same shape"):
        _core.rows_changed(matrix, base[:5], 13)
    with pytest.raises(ValueError, match="changes must be"):
        _core.rows_apply(matrix, base, np.array([1, 2], np.int64), out, 1.0)
    with pytest.raises(ValueError, match="dtype int64"):
        _core.rows_gather(matrix, base, np.array([1], np.int32), out)


class _Dist:
    """torch.distributed as a Ranks sees it, for one rank: all_reduce doubles (two equal ranks' SUM)."""

    class ReduceOp:
        SUM, MAX = "sum", "max"

    def __init__(self):
        self.devices = []

    def get_rank(self):
        return 0

    def get_world_size(self):
        return 2

    def all_reduce(self, tensor, op):
        self.devices.append(getattr(tensor, "on_gpu", False))
        tensor.mul_(2 if op == "sum" else 1)


@needs_torch
def test_nccl_collectives_run_on_the_rank_gpu_copy_and_come_back_to_the_host(monkeypatch):
    import torch

    def to_gpu(tensor):  # a stand-in: a copy marked as the GPU's
        copy = tensor.clone()
        copy.on_gpu = True
        return copy

    monkeypatch.setattr(torch.Tensor, "cuda", to_gpu, raising=False)
    for on_gpu in (True, False):
        dist = _Dist()
        ranks = distributed.Ranks(torch, dist, on_gpu=on_gpu)
        assert ranks.total([1.5, 2.0]) == [3.0, 4.0]  # reduced, and back in the host array
        assert dist.devices == [on_gpu]
