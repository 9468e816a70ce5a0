"""Access to the compiled kernel and the choice of device."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterable

from .errors import BackendError, ConfigError, ResourceError

# What the CUDA kernel does not train yet, by the names kernel.job_features gives a job's features; the
# CPU trains all. Parallel text, code-switching, cbow_share, per-task heads and subwords train on both (the
# CUDA emulator checks them against the CPU: tests/test_cuda_emulator.py).
CUDA_LACKS = {"per_pair_negatives": "skip-gram with per-pair negatives"}


@functools.cache
def core():
    """The compiled extension, imported on first use (so pure-Python parts work without it)."""
    try:
        from . import _core
    except ImportError as error:
        raise BackendError(f"the compiled extension mtlembed._core is missing or broken ({error}); "
                           "reinstall with: pip install .") from None
    return _core


def kernel_limits() -> dict[str, int]:
    """The largest window, negative, cbow_share and threads the kernel takes (TrainConfig's bounds)."""
    return dict(core().LIMITS)


def info() -> dict:
    """Version, SIMD level in use and available, CUDA compiled and devices."""
    try:
        return dict(core().info())
    except ValueError as error:  # an invalid MTLEMBED_SIMD
        raise BackendError(str(error)) from None


def resolve_device(device: str) -> str:
    """'cpu' or 'cuda' for a configured device ('auto' picks cuda only when usable)."""
    details = info()
    usable = details["cuda_compiled"] and bool(details["cuda_devices"])
    if device == "auto":
        return "cuda" if usable else "cpu"
    if device == "cuda" and not usable:
        reason = "was built without CUDA" if not details["cuda_compiled"] else "found no CUDA device"
        raise BackendError(f"device 'cuda' requested but mtlembed {reason}")
    return device


def device_for_job(device: str, features: Iterable[str]) -> str:
    """'cpu' or 'cuda' for a configured device and a job that uses `features` (kernel.job_features),
    decided before anything is read: 'cuda' refuses a job it cannot train (ConfigError), 'auto'
    trains it on the CPU and says so (a warning)."""
    lacking = [CUDA_LACKS[feature] for feature in features if feature in CUDA_LACKS]
    if not lacking or device == "cpu":
        return resolve_device(device)
    what = " and ".join(lacking)
    if device == "cuda":
        raise ConfigError(f"device 'cuda' does not train {what} yet; use device 'cpu' (or 'auto')")
    if resolve_device(device) == "cuda":
        warnings.warn(f"device 'auto': training on the CPU, as the CUDA kernel does not train {what} yet",
                      stacklevel=3)
    return "cpu"


def kernel_error(error: RuntimeError) -> Exception:
    """The error to raise for a failure inside the compiled kernel: device memory
    exhausted (the matrices and corpus live on the GPU) is a ResourceError, the
    rest a BackendError; one line either way."""
    message = " ".join(str(error).split())
    if "cudaErrorMemoryAllocation" in message or "out of memory" in message:
        return ResourceError(f"the GPU has not enough free memory for this run ({message}); lower --dim or "
                             "--max-vocab, or train on the CPU with --device cpu")
    return BackendError(message)
