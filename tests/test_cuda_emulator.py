"""The CUDA kernels (csrc/cuda/kernels.cuh) run on CPU threads, one thread per lane.

Needs no GPU: tests/cuda_emulator/driver.cc compiles the device code with g++
and checks it against a float64 step and against cpu::train (see the driver's
header). Slow (about a minute on 2 cores): run it after changing the kernels.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ["tests/cuda_emulator/driver.cc", "csrc/sgns.cc", "csrc/cpu/train.cc", "csrc/cpu/ops_generic.cc"]


@pytest.mark.slow
def test_kernels_match_the_cpu_on_emulated_warps(tmp_path):
    compiler = shutil.which("g++")
    if compiler is None:
        pytest.skip("g++ not found")
    probe = tmp_path / "probe.cc"
    probe.write_text("#include <barrier>\nint main() { std::barrier<> b{1}; b.arrive_and_wait(); }\n")
    if subprocess.run([compiler, "-std=c++20", "-pthread", str(probe), "-o", str(tmp_path / "probe")],
                      capture_output=True).returncode != 0:
        pytest.skip("g++ without C++20 <barrier>")
    binary = tmp_path / "driver"
    build = subprocess.run([compiler, "-std=c++20", "-O2", "-pthread", "-Icsrc", *SOURCES, "-o", str(binary)],
                           cwd=ROOT, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-4000:]
    run = subprocess.run([str(binary), "--quick"], capture_output=True, text=True, timeout=900)
    failed = [line for line in run.stdout.splitlines() if line.startswith("FAIL")]
    assert run.returncode == 0 and not failed, "\n".join(failed) or run.stdout[-4000:] + run.stderr[-4000:]
