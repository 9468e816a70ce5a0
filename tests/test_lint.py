"""The whole checkout passes ruff (the rules are pyproject.toml's [tool.ruff])."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_check_is_clean():
    # ruff is in the test extra: its absence is a broken setup, not a reason to skip.
    assert importlib.util.find_spec("ruff") is not None, (
        f"ruff is not installed in {sys.executable}; install the test extra: pip install -e \".[test]\"")
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", str(ROOT)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, f"ruff check {ROOT} found problems:\n{proc.stdout}{proc.stderr}"
