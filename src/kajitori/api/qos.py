"""A pod's quality-of-service class, as `pkg/apis/core/v1/helper/qos/qos.go` computes it.

Guaranteed: every container (app and init) has cpu and memory limits, and requests equal to them.
BestEffort: no container requests or limits anything. Burstable: everything else. Only cpu and
memory count; requests default to limits where a limit is given without a request.
"""

from __future__ import annotations

from typing import Any

from kajitori.api import quantity

Obj = dict[str, Any]

SUPPORTED_RESOURCES = ("cpu", "memory")


def pod_qos_class(pod: Obj) -> str:
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    requests: dict[str, quantity.Quantity] = {}
    limits: dict[str, quantity.Quantity] = {}
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        container_limits = {k: quantity.parse(str(v))
                            for k, v in (resources.get("limits") or {}).items()
                            if k in SUPPORTED_RESOURCES}
        container_requests = {k: quantity.parse(str(v))
                              for k, v in (resources.get("requests") or {}).items()
                              if k in SUPPORTED_RESOURCES}
        for name, value in container_requests.items():
            if value.value() != 0 or value.milli_value() != 0:
                requests[name] = value
        for name, value in container_limits.items():
            if value.value() != 0 or value.milli_value() != 0:
                limits[name] = value
        if set(container_limits) != set(SUPPORTED_RESOURCES):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed:
        for container in containers:
            resources = container.get("resources") or {}
            for name in SUPPORTED_RESOURCES:
                request = (resources.get("requests") or {}).get(name)
                limit = (resources.get("limits") or {}).get(name)
                if request is not None and quantity.parse(str(request)) != quantity.parse(
                        str(limit)):
                    return "Burstable"
        return "Guaranteed"
    return "Burstable"
