"""What needs no compiled kernel: the schema, the CLI's start-up and evaluating vectors.

TrainConfig's kernel bounds (window, negative, cbow_share, threads) are read from _core when a value
is checked, not when mtlembed.config is imported, so `mtlembed eval` works where the extension is
missing or broken.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from mtlembed import config
from mtlembed.io import save_word2vec


def run_python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


def test_importing_the_schema_and_the_cli_loads_no_kernel():
    run = run_python("import sys, mtlembed.config, mtlembed.cli; print('mtlembed._core' in sys.modules)")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"


def test_eval_runs_without_the_compiled_extension(tmp_path):
    words = ["a", "b", "c", "d", "e", "f"]
    vectors = np.random.default_rng(0).standard_normal((len(words), 8)).astype(np.float32)
    save_word2vec(tmp_path / "v.vec", words, vectors)
    (tmp_path / "q.txt").write_text(": section\na b c d\nb c d e\n", encoding="utf-8")
    # None in sys.modules makes `from . import _core` raise ImportError, as a missing build does.
    blocked = ("import sys; sys.modules['mtlembed._core'] = None; from mtlembed.cli import main; "
               "sys.exit(main(sys.argv[1:]))")
    run = run_python(blocked, "eval", "analogy", str(tmp_path / "v.vec"), str(tmp_path / "q.txt"))
    assert run.returncode == 0, run.stderr
    assert "mtlembed._core" not in run.stderr


def test_the_kernel_bounds_are_checked_when_a_value_is():
    bounds = {f.name: config.field_bounds(f) for f in config.fields(config.TrainConfig)}
    assert bounds["window"][1] == 64 and bounds["dim"] == (1, 100000, None)
    run = run_python("import sys; sys.modules['mtlembed._core'] = None\n"
                     "from mtlembed.config import TrainConfig\n"
                     "TrainConfig(window=5)")
    assert run.returncode != 0 and "BackendError" in run.stderr and "mtlembed._core" in run.stderr
