"""The kubelet's admission of a new pod: whether this node can run it at all.

Mirrors the part of upstream v1.33's `pkg/kubelet/lifecycle/predicate.go` (`Admit`) that
concerns this node's runtime: a pod asking for `supplementalGroupsPolicy: Strict` is refused
when the runtime cannot leave out the image's groups (`rejectPodAdmissionBasedOnSupplemental
GroupsPolicy`; the rejection replaced the silent fall-back to Merge in v1.33). containerd 1.6,
the runtime here, reports no such feature (containerd 2.0 does), so the node status advertises
none and such pods are refused. The scheduler's own predicates (resources, ports, affinity) are
the scheduler's business here and are not re-checked.

Node pressure (the eviction manager's admit handler, `pkg/kubelet/eviction/eviction_manager.go`
`Admit`, checked first as upstream registers it first): while the node has a pressure
condition, a new pod is refused as `Evicted` (`The node had condition: [DiskPressure]. `),
except a critical pod (static, mirror, or of system-critical priority); under MemoryPressure
alone only BestEffort pods are refused, and not those tolerating the memory-pressure taint.

Sysctls (`pkg/kubelet/sysctl`): a pod may set the safe sysctls, and those the node allows with
`--allowed-unsafe-sysctls` (names, or prefixes ending in `*`) if the kernel namespaces them;
any other is refused as `SysctlForbidden`, and so is a network sysctl in a hostNetwork pod or
an IPC one in a hostIPC pod, since it would change the host's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kajitori.api import qos, taints
from kajitori.client import nodestatus
from kajitori.kubelet import staticpods

Obj = dict[str, Any]

EVICTED = "Evicted"
MSG_NODE_CONDITION = "The node had condition: [{conditions}]. "
"""Upstream's nodeConditionMessageFmt with Go's `%v` of a list: names joined by spaces."""
TAINT_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
SYSTEM_CRITICAL_PRIORITY = 2_000_000_000

SUPPLEMENTAL_GROUPS_POLICY_STRICT = "Strict"
SUPPLEMENTAL_GROUPS_POLICY_NOT_SUPPORTED = "SupplementalGroupsPolicyNotSupported"
MSG_SUPPLEMENTAL_GROUPS_POLICY = "SupplementalGroupsPolicy={policy} is not supported in this node"
REJECTED_PREFIX = "Pod was rejected: "
"""What the pod's status.message starts with (upstream rejectPod)."""


SYSCTL_FORBIDDEN = "SysctlForbidden"
SAFE_SYSCTLS = ("kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
                "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
                "net.ipv4.ip_unprivileged_port_start", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
                "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem")
"""Upstream v1.33's safe sysctls (all namespaced on this kernel, which is newer than 4.5)."""
IPC, NET = "ipc", "net"
_SYSCTL_NAMESPACES = {"kernel.sem": IPC}
_SYSCTL_NAMESPACE_PREFIXES = (("kernel.shm", IPC), ("kernel.msg", IPC), ("fs.mqueue.", IPC),
                              ("net.", NET))


@dataclass(frozen=True)
class Rejection:
    reason: str
    message: str


def is_critical_pod(pod: Obj) -> bool:
    """Upstream IsCriticalPod: a static or mirror pod, or one of system-critical priority."""
    priority = (pod.get("spec") or {}).get("priority")
    return staticpods.is_static_pod(pod) or staticpods.is_mirror_pod(pod) or \
        (priority is not None and int(priority) >= SYSTEM_CRITICAL_PRIORITY)


def admit_under_pressure(pod: Obj, node_conditions: Sequence[str]) -> Rejection | None:
    """The eviction manager's admission: None when `pod` may start on a node with these
    pressure conditions (True ones, in the eviction manager's order)."""
    if not node_conditions or is_critical_pod(pod):
        return None
    if list(node_conditions) == [nodestatus.MEMORY_PRESSURE]:
        if qos.pod_qos_class(pod) != qos.BEST_EFFORT:
            return None
        tolerations = (pod.get("spec") or {}).get("tolerations") or []
        if taints.tolerated(tolerations, {"key": TAINT_MEMORY_PRESSURE,
                                          "effect": taints.NO_SCHEDULE}):
            return None
    return Rejection(EVICTED, MSG_NODE_CONDITION.format(conditions=" ".join(node_conditions)))


def admit(pod: Obj, *, supplemental_groups_policy: bool = False,
          allowed_unsafe_sysctls: tuple[str, ...] = (),
          node_conditions: Sequence[str] = ()) -> Rejection | None:
    """None when the node can run `pod`; else why not. `supplemental_groups_policy`: the
    runtime honours Strict (the node's `status.features.supplementalGroupsPolicy`);
    `allowed_unsafe_sysctls`: the kubelet's `--allowed-unsafe-sysctls`; `node_conditions`:
    the pressure conditions now True (`kajitori.kubelet.eviction`)."""
    pressure = admit_under_pressure(pod, node_conditions)
    if pressure is not None:
        return pressure
    spec = pod.get("spec") or {}
    pod_sc = spec.get("securityContext") or {}
    policy = pod_sc.get("supplementalGroupsPolicy")
    if policy == SUPPLEMENTAL_GROUPS_POLICY_STRICT and not supplemental_groups_policy:
        return Rejection(SUPPLEMENTAL_GROUPS_POLICY_NOT_SUPPORTED,
                         MSG_SUPPLEMENTAL_GROUPS_POLICY.format(policy=policy))
    for sysctl in pod_sc.get("sysctls") or []:
        error = sysctl_error(str(sysctl.get("name", "")), allowed=allowed_unsafe_sysctls,
                             host_network=bool(spec.get("hostNetwork")),
                             host_ipc=bool(spec.get("hostIPC")))
        if error:
            return Rejection(SYSCTL_FORBIDDEN, f"forbidden sysctl: {error}")
    return None


def dotted(sysctl: str) -> str:
    """`net/ipv4/ip_forward` as `net.ipv4.ip_forward` (upstream's ConvertSysctlVariableTo
    DotsSeparator: with a `/` first, `/` and `.` swap)."""
    first = next((c for c in sysctl if c in "./"), ".")
    return sysctl if first == "." else sysctl.translate(str.maketrans("./", "/."))


def namespace_of(sysctl: str) -> str:
    """The kernel namespace that holds `sysctl`, or "" when it is not known to be
    namespaced."""
    if sysctl in _SYSCTL_NAMESPACES:
        return _SYSCTL_NAMESPACES[sysctl]
    return next((ns for prefix, ns in _SYSCTL_NAMESPACE_PREFIXES if sysctl.startswith(prefix)),
                "")


def sysctl_error(name: str, *, allowed: tuple[str, ...], host_network: bool,
                 host_ipc: bool) -> str:
    """Why a pod may not set `name` on this node, worded as upstream; "" when it may."""
    sysctl = dotted(name)
    patterns = [dotted(p) for p in (*SAFE_SYSCTLS, *allowed)]
    if not any(sysctl == p or (p.endswith("*") and sysctl.startswith(p[:-1]))
               for p in patterns):
        return f'"{sysctl}" not allowlisted'
    namespace = namespace_of(sysctl)
    if (namespace == IPC and host_ipc) or (namespace == NET and host_network):
        return f'"{sysctl}" not allowed with host {namespace} enabled'
    return ""


def rejected_status(pod: Obj, rejection: Rejection, *, qos_class: str) -> Obj:
    """The status the kubelet gives a pod it refused (upstream rejectPod): Failed, with the
    reason and message, the QoS class kept."""
    return {"phase": "Failed", "reason": rejection.reason,
            "message": REJECTED_PREFIX + rejection.message, "qosClass": qos_class}
