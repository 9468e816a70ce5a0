"""The linear algebra of alignment: normalization, orthogonal Procrustes, the multi-step map."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mtlembed.errors import ConfigError
from mtlembed.model import unit_rows

__all__ = ["NORMALIZATIONS", "multistep", "normalize", "parse_normalization", "procrustes"]

NORMALIZATIONS = ("unit", "center", "unitdim", "none")


def parse_normalization(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"unit,center,unit"`` (VecMap's notation) as a tuple of steps, each one of NORMALIZATIONS;
    a tuple already parsed comes back as it is (``()`` for ``"none"``)."""
    steps = tuple(s.strip() for s in text.split(",")) if isinstance(text, str) else tuple(text)
    bad = [s for s in steps if s not in NORMALIZATIONS]
    if bad:
        raise ConfigError(f"normalization steps must be a comma-separated list of "
                          f"{', '.join(NORMALIZATIONS)}; got {','.join(steps)!r}")
    return tuple(s for s in steps if s != "none")


def normalize(vectors: np.ndarray, steps: Sequence[str]) -> np.ndarray:
    """`vectors` (float32) after each step in turn, in place when it is a float32 array.

    * ``unit``: every row scaled to length 1 (a zero row stays zero);
    * ``center``: the mean row subtracted (so the two spaces share an origin);
    * ``unitdim``: every column scaled to unit variance.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    for step in parse_normalization(steps):
        if step == "unit":
            unit_rows(vectors, in_place=True)
        elif step == "center":
            vectors -= vectors.mean(axis=0, dtype=np.float64).astype(np.float32)
        elif step == "unitdim":
            spread = vectors.std(axis=0, dtype=np.float64)
            vectors /= np.where(spread > 0, spread, 1).astype(np.float32)
    return vectors


def procrustes(src: np.ndarray, tgt: np.ndarray) -> np.ndarray:
    """The orthogonal W (dim x dim, float64) minimizing ||src W - tgt||_F.

    Rows of `src` and `tgt` are translation pairs. Solution (Schönemann,
    1966): with U S V^T the SVD of src^T tgt, W = U V^T. Computed in float64.
    """
    src = np.asarray(src, dtype=np.float64)
    tgt = np.asarray(tgt, dtype=np.float64)
    if src.ndim != 2 or src.shape != tgt.shape:
        raise ConfigError(f"procrustes needs two matrices of the same shape (pairs x dim), "
                          f"got {src.shape} and {tgt.shape}")
    if src.shape[0] == 0:
        raise ConfigError("procrustes needs at least one pair of rows")
    if not (np.isfinite(src).all() and np.isfinite(tgt).all()):
        raise ConfigError("procrustes: the vectors hold NaN or infinite values")
    u, _, vt = np.linalg.svd(src.T @ tgt)
    return u @ vt


def multistep(src: np.ndarray, tgt: np.ndarray, reweight: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """VecMap's multi-step map (Artetxe et al., 2018, AAAI) fitted on translation pairs (rows of `src`
    and `tgt`): the (A, B), float64 dim x dim, to apply to each whole space (``x A``, ``z B``).

    Whitening each side on the pairs makes the fit independent of how the dimensions are
    correlated, an orthogonal map takes both into a shared space, each dimension is re-weighted by
    its singular value to the power `reweight` (the dimensions where the languages agree count
    more), and de-whitening restores each side's own variances. Not orthogonal: within-language
    cosines change, which is why it is an option of `align` and never of training's refine.
    """
    src = np.asarray(src, dtype=np.float64)
    tgt = np.asarray(tgt, dtype=np.float64)
    if src.shape != tgt.shape or src.shape[0] < src.shape[1]:
        raise ConfigError(f"the multi-step map needs at least as many pairs as dimensions, got "
                          f"{src.shape[0]} pairs for dim {src.shape[1]}")

    def whitening(rows):  # (rows^T rows)^(-1/2) and its inverse, from the dim x dim Gram matrix
        eigenvalues, vectors = np.linalg.eigh(rows.T @ rows)
        if eigenvalues[0] <= 1e-12 * eigenvalues[-1]:
            raise ConfigError("the multi-step map: the dictionary's vectors do not span the space "
                              "(too few distinct pairs)")
        root = np.sqrt(eigenvalues)
        return (vectors / root) @ vectors.T, (vectors * root) @ vectors.T

    white_src, unwhite_src = whitening(src)
    white_tgt, unwhite_tgt = whitening(tgt)
    u, s, vt = np.linalg.svd((src @ white_src).T @ (tgt @ white_tgt))
    weight = s ** reweight
    a = white_src @ (u * weight) @ u.T @ unwhite_src @ u
    b = white_tgt @ (vt.T * weight) @ vt @ unwhite_tgt @ vt.T
    return a, b
