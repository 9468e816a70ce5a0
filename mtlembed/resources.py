"""How much memory this process may still take, and the check made before allocating matrices.

In a container (Docker, a Kubernetes pod, a Slurm job) /proc/meminfo shows the
whole host's memory, not the group's limit: a run that passes a MemAvailable
check is then killed by the OOM killer, without a word, once it touches its
matrices. So the headroom under the process's cgroup limits (v1 or v2, every
level up to the root) counts too.
"""

from __future__ import annotations

from pathlib import Path

from .errors import ResourceError

MEMINFO = Path("/proc/meminfo")
PROC_CGROUP = Path("/proc/self/cgroup")
CGROUP_ROOT = Path("/sys/fs/cgroup")
# (limit, usage, reclaimable page-cache key of memory.stat) in cgroup v2 and v1 folders
_CGROUP_FILES = (("memory.max", "memory.current", "inactive_file"),
                 ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"))
_UNLIMITED = 2**60  # v1 writes "no limit" as a huge page-rounded number


def available_memory() -> int | None:
    """Bytes this process can still allocate: MemAvailable, or less under a cgroup limit; None if unknown."""
    known = [n for n in (_meminfo_available(), _cgroup_headroom()) if n is not None]
    return min(known) if known else None


def check_memory(rows: int, dim: int, matrices: int, buckets: int = 0) -> None:
    """Refuses, before training, matrices that cannot fit in memory with the export that follows
    (the vectors are written a block of rows at a time: see io.export_memory). With subwords the
    input matrix has `buckets` rows more, and the export composes each word's vector (a copy)."""
    from .io import export_memory

    export = export_memory(dim) + (rows * dim * 4 if buckets else 0)
    need = rows * dim * 4 * matrices + buckets * dim * 4 + export
    free = available_memory()
    if free is not None and need > free:
        n_grams = f" + {buckets} n-gram buckets" if buckets else ""
        raise ResourceError(f"the matrices need {need / 2**30:.1f} GiB ({matrices} x {rows} words{n_grams} x "
                            f"{dim} dims, float32; their export {export / 2**20:.0f} MiB) but only "
                            f"{free / 2**30:.1f} GiB of memory is available; lower --dim or --max-vocab"
                            f"{' or --buckets' if buckets else ''}")


def _meminfo_available() -> int | None:
    try:
        with open(MEMINFO) as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_headroom() -> int | None:
    """The least room left under any memory limit of this process's cgroups, None without a limit.

    Usage counts the page cache; its inactive part (the corpus just read) is
    reclaimed on demand, so it is not subtracted from the room, as `docker stats` does.
    """
    room = None
    for folder in _cgroup_folders():
        for limit_name, usage_name, cache_key in _CGROUP_FILES:
            limit = _read_number(folder / limit_name)
            usage = _read_number(folder / usage_name)
            if limit is None or usage is None or limit >= _UNLIMITED:
                continue
            cache = _stat_value(folder / "memory.stat", cache_key)
            here = max(limit - max(usage - cache, 0), 0)
            room = here if room is None else min(room, here)
    return room


def _cgroup_folders() -> list[Path]:
    """This process's memory cgroup folders and their ancestors (v2: '0::/path', v1: 'N:memory:/path').

    Inside a container the listed path may be the host's, absent from the
    container's own view; walking up still reaches the container's root group.
    """
    try:
        lines = PROC_CGROUP.read_text().splitlines()
    except OSError:
        return []
    folders: list[Path] = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            base = CGROUP_ROOT
        elif "memory" in parts[1].split(","):
            base = CGROUP_ROOT / "memory"
        else:
            continue
        folder = base / parts[2].lstrip("/")
        while True:
            if folder not in folders:
                folders.append(folder)
            if folder == base or base not in folder.parents:
                break
            folder = folder.parent
    return folders


def _read_number(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if text == "max":
        return _UNLIMITED
    return int(text) if text.isdigit() else None


def _stat_value(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key and value.strip().isdigit():
                return int(value)
    except OSError:
        pass
    return 0
