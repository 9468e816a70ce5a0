"""Shared fixtures: small synthetic corpora and the shared data folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest


def shared_data() -> Path | None:
    """The shared data folder ($MTLEMBED_DATA or ../shared/data beside the checkout), if present."""
    candidates = [os.environ.get("MTLEMBED_DATA"), Path(__file__).resolve().parents[2] / "shared" / "data"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def shared_file(relative: str) -> Path:
    """A shared data file, or skip the test saying which one is missing."""
    root = shared_data()
    if root is None or not (root / relative).exists():
        pytest.skip(f"shared data file {relative} not found (set MTLEMBED_DATA to the shared data folder)")
    return root / relative


def zipf_text(n_words: int, vocab: int = 500, seed: int = 0, line_words: int = 20) -> str:
    """Random text with Zipf-distributed words w0, w1, ...: enough structure to train on."""
    rng = np.random.default_rng(seed)
    ranks = np.minimum(rng.zipf(1.3, size=n_words), vocab) - 1
    words = [f"w{r}" for r in ranks]
    lines = [" ".join(words[i:i + line_words]) for i in range(0, n_words, line_words)]
    return "\n".join(lines) + "\n"


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text(zipf_text(20000))
    return path
