"""What controllers read from a pod: readiness, terminal phase, ports by name, endpoint rules.

Mirrors the helpers upstream's controllers share from pkg/api/v1/pod/util.go (`IsPodReady`,
`GetPodReadyCondition`, `IsPodTerminal`, `FindPort`) and staging/src/k8s.io/endpointslice/util
(`ShouldPodBeInEndpoints`, `ShouldSetHostname`), used by the Endpoints, EndpointSlice,
disruption and node lifecycle controllers. Pure functions over wire-format dicts.
"""

from __future__ import annotations

from typing import Any

from kajitori.api import meta

Obj = dict[str, Any]

READY = "Ready"
SUCCEEDED, FAILED = "Succeeded", "Failed"


def ready_condition(pod: Obj) -> Obj | None:
    """The pod's `Ready` condition, or None (upstream's GetPodReadyCondition)."""
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == READY:
            return condition
    return None


def is_pod_ready(pod: Obj) -> bool:
    condition = ready_condition(pod)
    return condition is not None and condition.get("status") == "True"


def is_pod_terminal(pod: Obj) -> bool:
    """Succeeded or Failed: the pod will never run again."""
    return (pod.get("status") or {}).get("phase") in (SUCCEEDED, FAILED)


def pod_ips(pod: Obj) -> list[str]:
    """`status.podIPs`, or `[status.podIP]` for a writer that set only the singular field."""
    status = pod.get("status") or {}
    ips = [entry.get("ip") for entry in status.get("podIPs") or [] if entry.get("ip")]
    if not ips and status.get("podIP"):
        ips = [status["podIP"]]
    return ips


def should_pod_be_in_endpoints(pod: Obj, *, include_terminating: bool) -> bool:
    """A pod is an endpoint once it has an IP, until it is terminal; a terminating one only
    when `include_terminating` (EndpointSlices always; Endpoints with
    publishNotReadyAddresses)."""
    if is_pod_terminal(pod) or not pod_ips(pod):
        return False
    return include_terminating or not meta.deletion_timestamp(pod)


def should_set_hostname(pod: Obj, service: Obj) -> bool:
    """A pod publishes `spec.hostname` when its `spec.subdomain` names this Service."""
    spec = pod.get("spec") or {}
    return bool(spec.get("hostname")) and spec.get("subdomain") == meta.name(service) and \
        meta.namespace(pod) == meta.namespace(service)


def find_port(pod: Obj, service_port: Obj) -> int | None:
    """The container port a Service port's `targetPort` names (upstream's FindPort): a
    number is itself; a name is looked up among the containers' ports of the same protocol.
    None when the name is not found (the pod is then no endpoint for this port)."""
    target = service_port.get("targetPort")
    if target is None or target == "":
        target = service_port.get("port")
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol") or "TCP"
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return int(port["containerPort"])
    return None
