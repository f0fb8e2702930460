"""Which part of a pod a container event is about: its `involvedObject.fieldPath`.

Mirrors upstream's `pkg/kubelet/container/ref.go` (`GenerateContainerRef` and `fieldPath`):
every event the kubelet records about one container (Pulling, Pulled, Created, Started,
Killing, Unhealthy, BackOff, Failed, the hooks' failures) names it as
`spec.containers{liveness}`, `spec.initContainers{install}` or
`spec.ephemeralContainers{debugger}`, which `kubectl get events -o wide` shows as the event's
SUBOBJECT. Events about the pod as a whole (FailedMount, SandboxChanged) have none.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
"""The pod spec's container lists, in the order upstream looks a name up in them."""


def field_path(pod: Obj, container_name: str) -> str:
    """`spec.<list>{<name>}` for the container of `pod` named `container_name`; `""` when the
    pod has no such container (upstream then records the event without a field path)."""
    spec = pod.get("spec") or {}
    for key in CONTAINER_LISTS:
        if any((c or {}).get("name") == container_name for c in spec.get(key) or []):
            return f"spec.{key}{{{container_name}}}"
    return ""
