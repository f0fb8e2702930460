"""memory.oom.group on cgroup v1: a container that runs out of memory is killed whole.

Upstream v1.33 on cgroup v2 sets `memory.oom.group` on every container's cgroup (unless
`singleProcessOOMKill`), so the kernel kills all of a container's processes when it hits its
memory limit and the container ends with exit code 137, reason OOMKilled: what the tutorials
show. cgroup v1 has no group kill: the kernel kills one process, the biggest, so with
`stress --vm 1` only the worker dies and stress itself exits 1.

Here, on cgroup v1, the pod's memory cgroup gets `oom_kill_disable` (`enable`), which the
containers' cgroups inherit when runc creates them. A container at its limit is then held in
the kernel (`under_oom 1`) instead of losing one process; containerd's OOM event still fires
(its status reason becomes OOMKilled); and the pod worker, seeing `under_oom` at its next
relist, kills the container with SIGKILL, which frees the memory. The cost: a container out of
memory waits up to a relist period for the kubelet, and while the kubelet is down, until it is
back. A node without the v1 memory controller keeps the kernel's behaviour.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

OOM_CONTROL = "memory.oom_control"
DISABLE_OOM_KILL = "1"
UNDER_OOM = "under_oom"
MEMORY_CONTROLLER = "memory"


def enable(memory_cgroup: Path) -> None:
    """Hold the cgroup's (and its future children's) out-of-memory processes for the kubelet
    instead of letting the kernel kill one of them. Blocking."""
    try:
        (memory_cgroup / OOM_CONTROL).write_text(DISABLE_OOM_KILL)
    except OSError as exc:
        log.warning("cannot disable the OOM killer of %s: %s", memory_cgroup, exc)


def container_memory_cgroup(cgroup_root: Path, cgroup_parent: str, container_id: str) -> Path:
    """A container's memory cgroup: containerd puts it at `<cgroup_parent>/<id>`."""
    return cgroup_root / MEMORY_CONTROLLER / cgroup_parent.lstrip("/") / container_id


def under_oom(memory_cgroup: Path) -> bool:
    """Whether the cgroup is out of memory and its processes wait (`under_oom 1`); False when
    it is gone. A read of a small cgroupfs file."""
    try:
        text = (memory_cgroup / OOM_CONTROL).read_text()
    except OSError:
        return False
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == UNDER_OOM:
            return value.strip() == "1"
    return False
