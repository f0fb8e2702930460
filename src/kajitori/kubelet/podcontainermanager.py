"""Pod-level cgroups with the pod's resources, under the QoS tiers.

Mirrors upstream v1.33's `pkg/kubelet/cm/pod_container_manager_linux.go` (`EnsureExists`),
`helpers_linux.go` (`ResourceConfigForPod`) and the fixed part of `qos_container_manager_linux.go`
(BestEffort's tier gets the minimum cpu.shares): before a pod's sandbox is made, the kubelet
creates `/kubepods/pod<uid>` (Guaranteed), `/kubepods/burstable/pod<uid>` or
`/kubepods/besteffort/pod<uid>` in each cgroup v1 controller it manages and writes the pod's
cpu.shares (the summed requests), CFS quota and period (the summed limits, when every container
has a cpu limit; always for Guaranteed) and memory limit (the summed limits, when every
container has one). The containers' own cgroups (made by runc) sit below it, so the pod's
totals bound them all, and `kajitori.kubelet.oomgroup` is enabled on it.

Departures: only the cgroupfs v1 layout of this machine (`/sys/fs/cgroup/<controller>/`) is
handled; the Burstable tier's cpu.shares (upstream keeps it at the sum of its pods' requests)
is not maintained; pod overhead, hugepages and pids limits are not applied. A value the kernel
refuses (a memory limit below what the pod already uses, on a re-sync) is logged and left.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kajitori.api import qos, quantity
from kajitori.kubelet import containerconfig, oomgroup

Obj = dict[str, Any]

log = logging.getLogger(__name__)

CPU_CONTROLLER = "cpu"
MEMORY_CONTROLLER = "memory"
CONTROLLERS = (CPU_CONTROLLER, "cpuacct", MEMORY_CONTROLLER, "pids")
"""The v1 hierarchies a pod's cgroup is created in (runc makes the rest for the containers)."""
BEST_EFFORT_TIER = "besteffort"
CPU_SHARES = "cpu.shares"
CPU_QUOTA = "cpu.cfs_quota_us"
CPU_PERIOD = "cpu.cfs_period_us"
MEMORY_LIMIT = "memory.limit_in_bytes"
MAX_SHARES = 262144


@dataclass(frozen=True)
class ResourceConfig:
    """What the pod's cgroup gets; None leaves the kernel's default (no limit)."""

    cpu_shares: int
    cpu_quota: int | None = None
    cpu_period: int | None = None
    memory_limit: int | None = None


def _amount(container: Obj, kind: str, resource: str) -> quantity.Quantity | None:
    value = ((container.get("resources") or {}).get(kind) or {}).get(resource)
    return None if value is None else quantity.from_json(value)


def _pod_total(pod: Obj, kind: str, resource: str) -> tuple[quantity.Quantity, bool]:
    """The pod's `kind` of `resource` (upstream PodRequests/PodLimits): the app containers'
    sum (restartable init containers, the sidecars, count with them), or the largest regular
    init container's when bigger; and whether every container declared one."""
    spec = pod.get("spec") or {}
    zero = quantity.from_int(0)
    total = zero
    declared = True
    init_max = zero
    for container in spec.get("initContainers") or []:
        amount = _amount(container, kind, resource)
        if amount is None or amount.is_zero():
            declared = False
            amount = zero
        if container.get("restartPolicy") == "Always":
            total = total + amount
        elif init_max < amount:
            init_max = amount
    for container in spec.get("containers") or []:
        amount = _amount(container, kind, resource)
        if amount is None or amount.is_zero():
            declared = False
            continue
        total = total + amount
    return (init_max if total < init_max else total), declared


def _shares(milli_cpu: int) -> int:
    return min(containerconfig.milli_cpu_to_shares(milli_cpu), MAX_SHARES)


def resource_config_for_pod(pod: Obj) -> ResourceConfig:
    """Upstream's ResourceConfigForPod with CFS quota enforced (the kubelet's default)."""
    klass = qos.pod_qos_class(pod)
    if klass == qos.BEST_EFFORT:
        return ResourceConfig(cpu_shares=containerconfig.MIN_SHARES)
    cpu_request, _ = _pod_total(pod, "requests", qos.CPU)
    cpu_limit, cpu_declared = _pod_total(pod, "limits", qos.CPU)
    memory_limit, memory_declared = _pod_total(pod, "limits", qos.MEMORY)
    shares = _shares(cpu_request.milli_value())
    quota = containerconfig.milli_cpu_to_quota(cpu_limit.milli_value())
    guaranteed = klass == qos.GUARANTEED
    with_quota = guaranteed or cpu_declared
    with_memory = guaranteed or memory_declared
    return ResourceConfig(
        cpu_shares=shares,
        cpu_quota=quota if with_quota else None,
        cpu_period=containerconfig.QUOTA_PERIOD if with_quota else None,
        memory_limit=memory_limit.value() if with_memory else None)


def pod_cgroup(pod: Obj, controller: str, *,
               cgroup_root: Path = containerconfig.CGROUPFS_ROOT) -> Path:
    """The pod's directory in one controller's hierarchy."""
    return cgroup_root / controller / containerconfig.cgroup_parent(pod).lstrip("/")


def _write(path: Path, value: int) -> None:
    """Write `value` unless the file already has it (rewriting a memory limit is not free)."""
    try:
        if not path.exists() or path.read_text().strip() != str(value):
            path.write_text(str(value))
    except OSError as exc:
        log.warning("cannot set %s to %s: %s", path, value, exc)


def ensure_exists(pod: Obj, *, cgroup_root: Path = containerconfig.CGROUPFS_ROOT) -> None:
    """Create the pod's cgroup in every managed controller present under `cgroup_root` and
    write its resources (upstream EnsureExists, which also updates an existing one). Blocking:
    the caller runs it in a thread."""
    config = resource_config_for_pod(pod)
    for controller in CONTROLLERS:
        if (cgroup_root / controller).is_dir():
            pod_cgroup(pod, controller, cgroup_root=cgroup_root).mkdir(parents=True,
                                                                       exist_ok=True)
    if qos.pod_qos_class(pod) == qos.BEST_EFFORT:
        tier = cgroup_root / CPU_CONTROLLER / containerconfig.CGROUP_ROOT.lstrip("/") / \
            BEST_EFFORT_TIER
        if tier.is_dir():
            _write(tier / CPU_SHARES, containerconfig.MIN_SHARES)
    cpu = pod_cgroup(pod, CPU_CONTROLLER, cgroup_root=cgroup_root)
    if cpu.is_dir():
        _write(cpu / CPU_SHARES, config.cpu_shares)
        if config.cpu_period is not None:
            _write(cpu / CPU_PERIOD, config.cpu_period)
        _write(cpu / CPU_QUOTA, -1 if config.cpu_quota is None else config.cpu_quota)
    memory = pod_cgroup(pod, MEMORY_CONTROLLER, cgroup_root=cgroup_root)
    if memory.is_dir():
        if config.memory_limit is not None:
            _write(memory / MEMORY_LIMIT, config.memory_limit)
        oomgroup.enable(memory)
