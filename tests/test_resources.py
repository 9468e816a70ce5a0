"""The memory check before allocating matrices (issue 7): MemAvailable and cgroup limits."""

from __future__ import annotations

import types

import pytest

import mtlembed
import mtlembed.backend as backend
import mtlembed.resources as resources
import mtlembed.trainer as trainer
from mtlembed import TaskSpec, TrainConfig
from mtlembed.cli import main
from mtlembed.errors import BackendError, ResourceError

GiB = 2**30


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """A fake /proc and /sys/fs/cgroup: 64 GiB available on the host, no cgroup yet."""
    (tmp_path / "meminfo").write_text(f"MemTotal: {128 * 2**20} kB\nMemAvailable: {64 * 2**20} kB\n")
    monkeypatch.setattr(resources, "MEMINFO", tmp_path / "meminfo")
    monkeypatch.setattr(resources, "PROC_CGROUP", tmp_path / "cgroup")
    monkeypatch.setattr(resources, "CGROUP_ROOT", tmp_path / "sys")

    def group(relative: str, limit: str, usage: int, inactive: int = 0, v1: bool = False) -> None:
        folder = tmp_path / "sys" / relative
        folder.mkdir(parents=True, exist_ok=True)
        names = ("memory.limit_in_bytes", "memory.usage_in_bytes") if v1 else ("memory.max", "memory.current")
        (folder / names[0]).write_text(limit + "\n")
        (folder / names[1]).write_text(f"{usage}\n")
        key = "total_inactive_file" if v1 else "inactive_file"
        (folder / "memory.stat").write_text(f"anon 5\n{key} {inactive}\nactive_file 7\n")

    return types.SimpleNamespace(cgroup=tmp_path / "cgroup", group=group)


def test_without_cgroup_limits_meminfo_decides(machine):
    assert resources.available_memory() == 64 * GiB
    machine.cgroup.write_text("0::/user.slice\n")
    machine.group("user.slice", "max", 10 * GiB)
    machine.group("", "max", 20 * GiB)
    assert resources.available_memory() == 64 * GiB


def test_a_cgroup_v2_limit_counts_reclaimable_cache_as_free(machine):
    machine.cgroup.write_text("0::/kubepods/pod1\n")
    machine.group("kubepods/pod1", str(4 * GiB), 3 * GiB, inactive=1 * GiB)  # 2 GiB used: 2 GiB left
    machine.group("kubepods", str(16 * GiB), 15 * GiB)                     # 1 GiB left at the parent
    machine.group("", "max", 15 * GiB)
    assert resources.available_memory() == 1 * GiB


def test_a_cgroup_v1_limit_seen_from_inside_the_container(machine):
    # /proc/self/cgroup names the host's path, absent in the container's view: its root group applies
    machine.cgroup.write_text("5:devices:/docker/abc\n4:cpu,memory:/docker/abc\n0::/\n")
    machine.group("memory", str(6 * GiB), 5 * GiB, inactive=2 * GiB, v1=True)
    assert resources.available_memory() == 3 * GiB
    machine.group("memory", "9223372036854771712", 5 * GiB, v1=True)  # v1's "no limit"
    assert resources.available_memory() == 64 * GiB


def test_unknown_memory_never_refuses(machine, monkeypatch):
    monkeypatch.setattr(resources, "MEMINFO", machine.cgroup.parent / "missing")
    assert resources.available_memory() is None
    resources.check_memory(10**9, 1000, 2)


def test_check_memory_refuses_what_cannot_fit(machine):
    resources.check_memory(1_000_000, 112, 2)  # 0.8 GiB
    with pytest.raises(ResourceError, match=r"the matrices need 80.5 GiB \(2 x 100000000 words x 108 dims, "
                                            r"float32; their export 12 MiB\) but only 64.0 GiB of memory is "
                                            r"available; lower"):
        resources.check_memory(100_000_000, 108, 2)


def test_the_trainer_refuses_before_allocating_under_a_container_limit(machine, small_corpus, monkeypatch):
    config = TrainConfig(dim=1000, min_count=1, epochs=1, threads=1)
    job = mtlembed.Trainer(config, [TaskSpec("t", (str(small_corpus),))])
    job.read()  # before the limit: reading checks the memory too (encoded.MemorySink)
    machine.cgroup.write_text("0::/job\n")
    machine.group("job", str(2**20), 0)  # 1 MiB: far less than 500 words x 1008 dims x 2 matrices

    def no_allocation(*args):
        raise AssertionError("a matrix was allocated before the check")

    monkeypatch.setattr(trainer, "padded_matrix", no_allocation)
    with pytest.raises(ResourceError, match="of memory is available; lower --dim or --max-vocab"):
        job.train()


class _FailingKernel:
    """The compiled module, but its train() fails as a CUDA allocation does."""

    def __init__(self, core, message: str):
        self._core, self._message = core, message

    def train(self, *args, **kwargs):
        raise RuntimeError(self._message)

    def __getattr__(self, name):
        return getattr(self._core, name)


CUDA_OOM = ("CUDA error: out of memory (cudaErrorMemoryAllocation) in cudaMalloc(reinterpret_cast<void**>"
            "(&data_), count * sizeof(T)) at csrc/cuda/sgns.cu:62")


@pytest.mark.parametrize(("message", "error", "match"), [
    (CUDA_OOM, ResourceError, r"the GPU has not enough free memory for this run \(CUDA error: out of memory"),
    ("CUDA error: an illegal memory access was encountered", BackendError, "illegal memory access"),
])
def test_kernel_failures_are_one_line_errors(small_corpus, tmp_path, capsys, monkeypatch, message, error,
                                             match):
    failing = _FailingKernel(backend.core(), message)
    monkeypatch.setattr(backend, "core", lambda: failing)
    with pytest.raises(error, match=match):
        mtlembed.train(small_corpus, dim=8, epochs=1, threads=1)
    out = tmp_path / "v.bin"
    assert main(["train", str(small_corpus), "-o", str(out), "--quiet", "--dim", "8", "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mtlembed: error: ") and err.count("\n") == 1 and not out.exists()
