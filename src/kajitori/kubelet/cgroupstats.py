"""CPU and memory usage of one cgroup v1 directory, as cadvisor reads them for the kubelet.

Mirrors what cadvisor's cgroup v1 handler (`container/libcontainer/handler.go`, `setMemoryStats`,
`setCPUStats`) feeds upstream's stats providers (`pkg/kubelet/stats/helper.go`,
`cadvisorInfoToCPUandMemoryStats`): cumulative CPU time from `cpuacct.usage`; memory usage
from `memory.usage_in_bytes`; the working set, the eviction manager's and `kubectl top`'s
measure, is the usage less `total_inactive_file` of `memory.stat` (never below 0); RSS and
page faults are the hierarchical `total_*` counters; the limit is `memory.limit_in_bytes`,
where anything above 2^62 means no limit (the kernel's "unlimited" is a page-aligned maximum).

Every function here reads small cgroupfs files and is blocking: `kajitori.kubelet.stats` calls
them from its one worker thread per sample. A cgroup that is gone (a pod that just ended)
reads as None rather than raising.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CPUACCT_CONTROLLER = "cpuacct"
MEMORY_CONTROLLER = "memory"
CPU_USAGE = "cpuacct.usage"
MEMORY_USAGE = "memory.usage_in_bytes"
MEMORY_LIMIT = "memory.limit_in_bytes"
MEMORY_STAT = "memory.stat"
INACTIVE_FILE = "total_inactive_file"
RSS = "total_rss"
PAGE_FAULTS = "total_pgfault"
MAJOR_PAGE_FAULTS = "total_pgmajfault"
UNLIMITED_ABOVE = 1 << 62
"""cadvisor's `isMemoryUnlimited`: a limit above this is no limit."""


@dataclass(frozen=True)
class MemoryUsage:
    """One cgroup's memory, bytes and counts; `limit` None when the cgroup has none."""

    usage: int
    working_set: int
    rss: int
    page_faults: int
    major_page_faults: int
    limit: int | None


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def parse_memory_stat(text: str) -> dict[str, int]:
    """`memory.stat`'s `key value` lines."""
    stat = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            stat[key] = int(value)
    return stat


def cpu_usage_ns(cgroup_root: Path, cgroup: str) -> int | None:
    """Cumulative CPU time of the cgroup (`/` the root, else e.g. `/kubepods/pod<uid>`) in
    nanoseconds, summed over all cores; None when it cannot be read."""
    return _read_int(cgroup_root / CPUACCT_CONTROLLER / cgroup.lstrip("/") / CPU_USAGE)


def memory_usage(cgroup_root: Path, cgroup: str) -> MemoryUsage | None:
    """The cgroup's memory as cadvisor reports it; None when it cannot be read."""
    directory = cgroup_root / MEMORY_CONTROLLER / cgroup.lstrip("/")
    usage = _read_int(directory / MEMORY_USAGE)
    if usage is None:
        return None
    try:
        stat = parse_memory_stat((directory / MEMORY_STAT).read_text())
    except OSError:
        return None
    limit = _read_int(directory / MEMORY_LIMIT)
    return MemoryUsage(
        usage=usage, working_set=max(usage - stat.get(INACTIVE_FILE, 0), 0),
        rss=stat.get(RSS, 0), page_faults=stat.get(PAGE_FAULTS, 0),
        major_page_faults=stat.get(MAJOR_PAGE_FAULTS, 0),
        limit=None if limit is None or limit > UNLIMITED_ABOVE else limit)
