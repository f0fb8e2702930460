"""A node agent's own Node: registration, default labels and the four kubelet conditions.

Mirrors the parts of the kubelet's `pkg/kubelet/kubelet_node_status.go` (`registerWithAPIServer`:
create the Node, or on AlreadyExists reconcile the default labels of the existing one, as
`updateDefaultLabels` does) and `pkg/kubelet/nodestatus/setters.go` (the MemoryPressure,
DiskPressure, PIDPressure and Ready conditions with upstream's reasons and messages, whose
`lastTransitionTime` moves only when their status does and whose `lastHeartbeatTime` is the time
of each post) that every node agent shares: the kubelet (`kajitori.kubelet.nodestatus`) and the
simulator (`kajitori.sim.node`). What a node reports of itself (capacity, addresses, nodeInfo)
is each agent's own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kajitori.api import errors, meta
from kajitori.client import rest

Obj = dict[str, Any]

NODES = ("", "v1", "nodes")

KUBELET_PORT = 10250
"""`daemonEndpoints.kubeletEndpoint.Port`: where the apiserver reaches the kubelet."""
OPERATING_SYSTEM = "linux"
ARCHITECTURE = "amd64"

# Labels a kubelet sets on its own Node (upstream's `initialNode` and `updateDefaultLabels`).
HOSTNAME_LABEL = "kubernetes.io/hostname"
OS_LABEL = "kubernetes.io/os"
ARCH_LABEL = "kubernetes.io/arch"
BETA_OS_LABEL = "beta.kubernetes.io/os"
BETA_ARCH_LABEL = "beta.kubernetes.io/arch"
KUBELET_LABELS = (HOSTNAME_LABEL, OS_LABEL, ARCH_LABEL, BETA_OS_LABEL, BETA_ARCH_LABEL)
ATTACH_DETACH_ANNOTATION = "volumes.kubernetes.io/controller-managed-attach-detach"
"""Set to "true" at registration: volumes are attached by the controller, not the kubelet."""

# Node conditions in the order a kubelet reports them, with its reasons and messages.
MEMORY_PRESSURE, DISK_PRESSURE, PID_PRESSURE, READY = (
    "MemoryPressure", "DiskPressure", "PIDPressure", "Ready")
HEALTHY_CONDITIONS: tuple[tuple[str, str, str, str], ...] = (
    (MEMORY_PRESSURE, "False", "KubeletHasSufficientMemory",
     "kubelet has sufficient memory available"),
    (DISK_PRESSURE, "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    (PID_PRESSURE, "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    (READY, "True", "KubeletReady", "kubelet is posting ready status"),
)
NOT_READY_REASON = "KubeletNotReady"
"""The Ready condition's reason when the runtime or its network is not ready; the message
says why (upstream's aggregated runtime errors)."""
HEARTBEAT = "lastHeartbeatTime"
TRANSITION = "lastTransitionTime"


def kubelet_labels(node_name: str) -> dict[str, str]:
    """The labels a kubelet gives its Node."""
    return {HOSTNAME_LABEL: node_name, OS_LABEL: OPERATING_SYSTEM, ARCH_LABEL: ARCHITECTURE,
            BETA_OS_LABEL: OPERATING_SYSTEM, BETA_ARCH_LABEL: ARCHITECTURE}


def conditions(*, now: str, previous: list[Obj] | None = None,
               not_ready: str = "") -> list[Obj]:
    """The four conditions, heartbeat `now`: no pressure, and Ready unless `not_ready` gives
    why not (then Ready is False, `KubeletNotReady`, with that message). A condition whose
    status is unchanged from `previous` (the server's) keeps its lastTransitionTime."""
    before = {c.get("type"): c for c in previous or []}
    out = []
    for type_, status, reason, message in HEALTHY_CONDITIONS:
        if type_ == READY and not_ready:
            status, reason, message = "False", NOT_READY_REASON, not_ready
        old = before.get(type_)
        transition = old.get(TRANSITION) if old and old.get("status") == status else None
        out.append({"type": type_, "status": status, HEARTBEAT: now,
                    TRANSITION: transition or now, "reason": reason, "message": message})
    return out


def without_heartbeats(status: Obj | None) -> Obj:
    """`status` with the conditions' heartbeat times left out: what "changed" compares."""
    if not status:
        return {}
    out = dict(status)
    out["conditions"] = [{k: v for k, v in c.items() if k != HEARTBEAT}
                         for c in status.get("conditions") or []]
    return out


async def register(client: rest.RESTClient, node: Obj, *,
                   default_labels: Iterable[str] = KUBELET_LABELS) -> tuple[Obj, bool]:
    """Create `node`, or, if it exists, reconcile its `default_labels` to `node`'s values as
    a restarted kubelet does. Returns the Node as the server has it and whether it was
    created. Raises StatusError (other than AlreadyExists) and transport errors: the caller
    retries."""
    try:
        return await client.create(rest.resource_path(*NODES), node), True
    except errors.StatusError as exc:
        if exc.code != 409:
            raise
    path = rest.resource_path(*NODES, name=meta.name(node))
    existing = await client.get(path)
    wanted = {key: value for key, value in meta.labels(node).items()
              if key in default_labels and meta.labels(existing).get(key) != value}
    if not wanted:
        return existing, False
    return await client.patch(path, {"metadata": {"labels": wanted}}), False
