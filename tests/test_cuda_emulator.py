"""The CUDA kernels (csrc/cuda/kernels.cuh) run on CPU threads, one thread per lane.

Needs no GPU: tests/cuda_emulator/driver.cc compiles the device code with g++
and checks it against a float64 step and against cpu::train (see the driver's
header). Slow (about a minute on 2 cores): run it after changing the kernels.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ["tests/cuda_emulator/driver.cc", "csrc/sgns.cc", "csrc/cpu/train.cc", "csrc/cpu/ops_generic.cc"]


def run_emulator(tmp_path, mode: str) -> None:
    """Builds tests/cuda_emulator/driver.cc with g++ and runs its checks of `mode` (see its main()):
    skips without g++ or C++20's <barrier>, fails on any FAIL line."""
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
    run = subprocess.run([str(binary), mode], capture_output=True, text=True, timeout=900)
    failed = [line for line in run.stdout.splitlines() if line.startswith("FAIL")]
    assert run.returncode == 0 and not failed, "\n".join(failed) or run.stdout[-4000:] + run.stderr[-4000:]


@pytest.mark.slow
def test_kernels_match_the_cpu_on_emulated_warps(tmp_path):
    run_emulator(tmp_path, "--quick")


# -- what the build compiled in, and the CUDA-only parameters ----------------------------------------

def compiled_names(archs: str) -> list[str]:
    """CMakeLists.txt's naming of a CUDA architecture list: sm_NN native, compute_NN PTX."""
    names = []
    for arch in archs.replace(",", ";").split(";"):
        arch = arch.strip()
        number, _, kind = arch.partition("-")
        if not number.rstrip("abcdefghijklmnopqrstuvwxyz").isdigit():
            names.append(arch)  # all, all-major, native
        else:
            names += {"real": [f"sm_{number}"], "virtual": [f"compute_{number}"]}.get(kind, [f"sm_{number}",
                                                                                            f"compute_{number}"])
    return names


def test_info_lists_the_cuda_architectures_of_the_build():
    from mtlembed import _core

    default = re.search(r'set\(MTLEMBED_CUDA_ARCHS "([^"]*)" CACHE', (ROOT / "CMakeLists.txt").read_text())
    assert compiled_names(default.group(1)) == ["sm_80", "sm_86", "sm_89", "sm_90", "compute_90"]
    info = _core.info()
    expected = compiled_names(os.environ.get("MTLEMBED_CUDA_ARCHS", default.group(1)))
    assert info["cuda_architectures"] == (expected if info["cuda_compiled"] else [])
    run = subprocess.run([sys.executable, "-m", "mtlembed.cli", "info", "--json"], capture_output=True,
                         text=True, check=True)
    assert json.loads(run.stdout)["cuda_architectures"] == info["cuda_architectures"]
    plain = subprocess.run([sys.executable, "-m", "mtlembed.cli", "info"], capture_output=True, text=True,
                           check=True).stdout
    assert f"CUDA archs:     {', '.join(expected) if info['cuda_compiled'] else 'none'}\n" in plain


@pytest.mark.slow
def test_an_explicit_cmake_cuda_architectures_wins_over_the_environment(tmp_path):
    """CMakeLists.txt's precedence, configured only (no build): -DCMAKE_CUDA_ARCHITECTURES, then the
    MTLEMBED_CUDA_ARCHS environment variable, then the default; a build dir remembers a -D value."""
    cmake, nvcc = shutil.which("cmake"), shutil.which("nvcc")
    if cmake is None or nvcc is None:
        pytest.skip("needs cmake and nvcc")
    pybind11 = pytest.importorskip("pybind11")
    env = {**os.environ, "MTLEMBED_CUDA": "ON"}
    env.pop("MTLEMBED_CUDA_ARCHS", None)

    def configure(*defines: str, archs: str | None = None) -> str:
        command = [cmake, "-S", str(ROOT), "-B", str(tmp_path), f"-Dpybind11_DIR={pybind11.get_cmake_dir()}"]
        run = subprocess.run([*command, *defines], capture_output=True, text=True,
                             env={**env, "MTLEMBED_CUDA_ARCHS": archs} if archs else env)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        return re.search(r"mtlembed: CUDA architectures (\S+)", run.stdout).group(1)

    assert configure() == "sm_80,sm_86,sm_89,sm_90,compute_90"
    assert configure(archs="75-real") == "sm_75"
    assert configure("-DCMAKE_CUDA_ARCHITECTURES=80-real;90", archs="75-real") == "sm_80,sm_90,compute_90"
    assert configure(archs="75-real") == "sm_80,sm_90,compute_90"  # the -D value stays in the cache


def test_the_trainer_hands_cuda_the_used_columns_and_the_row_padding():
    from mtlembed import TrainConfig, kernel

    p = kernel.params(TrainConfig(dim=100), 112)
    assert (p.dim, p.cuda_cols, p.cuda_row_floats) == (112, 100, kernel.CUDA_ROW_FLOATS)
    assert kernel.CUDA_ROW_FLOATS in (4, 16)


def tiny_job(parallel=False):
    from mtlembed import _core
    from mtlembed.kernel import kernel_job
    from mtlembed.tasks import schedule

    tokens, offsets = np.arange(8, dtype=np.int32), np.array([0, 4, 8], np.int64)
    prob, alias = _core.alias_table(np.ones(8))
    task = _core.Task(tokens, offsets, noise=0, head=0)
    if parallel:
        task.set_second_side(tokens[::-1].copy(), offsets, noise=0)
    return kernel_job(np.zeros((8, 16), np.float32), [np.zeros((8, 16), np.float32)], np.ones(8, np.float32),
                      [(prob, alias, 0)], [task], schedule([offsets], 1))


@pytest.mark.parametrize("fields, message", [({"cuda_row_floats": 8}, "cuda_row_floats must be 4 or 16"),
                                             ({"cuda_cols": 17}, "cuda_cols must be in 0..dim")])
def test_cuda_checks_its_row_parameters(fields, message):
    from mtlembed import _core
    from mtlembed.kernel import train_params

    if not _core.info()["cuda_compiled"]:
        pytest.skip("built without CUDA")
    with pytest.raises(ValueError, match=message):
        _core.train(train_params(dim=16, **fields), tiny_job(), "cuda")


def test_cuda_no_longer_refuses_parallel_tasks_or_code_switching():
    from mtlembed import _core
    from mtlembed.kernel import train_params

    info = _core.info()
    if not info["cuda_compiled"]:
        pytest.skip("built without CUDA")
    if info["cuda_devices"]:
        assert _core.train(train_params(dim=16), tiny_job(parallel=True), "cuda")["words"] == 16
    else:  # the device is missing, nothing else
        with pytest.raises(RuntimeError, match="no CUDA device is available"):
            _core.train(train_params(dim=16), tiny_job(parallel=True), "cuda")
