"""A pod's quality-of-service class, as `pkg/apis/core/v1/helper/qos/qos.go` (v1.33) computes it.

Only cpu and memory count, and only amounts above zero. Requests and limits are summed over app
and init containers. BestEffort: no container requests or limits anything. Guaranteed: every
container has a cpu and a memory limit above zero, and the summed requests equal the summed
limits for exactly the same resources. Burstable: everything else.

Requests default to limits first, as upstream's SetDefaults_Pod does before the class is
computed, so a pod that gives only limits is Guaranteed whether or not it was defaulted yet.
Pod-level resources (the alpha PodLevelResources gate, off in v1.33) are not considered.
"""

from __future__ import annotations

from typing import Any

from kajitori.api import quantity

Obj = dict[str, Any]

CPU = "cpu"
MEMORY = "memory"
SUPPORTED_RESOURCES = frozenset({CPU, MEMORY})
BEST_EFFORT = "BestEffort"
BURSTABLE = "Burstable"
GUARANTEED = "Guaranteed"

_Totals = dict[str, quantity.Quantity]


def pod_qos_class(pod: Obj) -> str:
    """BestEffort, Burstable or Guaranteed (upstream's ComputePodQOS)."""
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    requests: _Totals = {}
    limits: _Totals = {}
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        container_limits = _positive(resources.get("limits"))
        container_requests = _positive(_defaulted_requests(resources))
        _add(requests, container_requests)
        _add(limits, container_limits)
        if set(container_limits) != SUPPORTED_RESOURCES:
            guaranteed = False
    if not requests and not limits:
        return BEST_EFFORT
    if guaranteed and requests.keys() == limits.keys() and \
            all(requests[name] == limits[name] for name in requests):
        return GUARANTEED
    return BURSTABLE


def _defaulted_requests(resources: Obj) -> Obj:
    """Requests with every limit they leave out copied in (upstream SetDefaults_Pod)."""
    limits = resources.get("limits")
    requests = dict(resources.get("requests") or {})
    if limits is not None:
        for name, value in limits.items():
            requests.setdefault(name, value)
    return requests


def _positive(values: Obj | None) -> _Totals:
    """The cpu and memory amounts above zero; the rest do not count towards the class."""
    amounts: _Totals = {}
    for name, value in (values or {}).items():
        if name in SUPPORTED_RESOURCES:
            amount = quantity.from_json(value)
            if amount.sign() > 0:
                amounts[name] = amount
    return amounts


def _add(totals: _Totals, amounts: _Totals) -> None:
    for name, amount in amounts.items():
        totals[name] = totals[name] + amount if name in totals else amount
