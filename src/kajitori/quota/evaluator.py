"""What an object costs a ResourceQuota, and which quota resources it can be charged for.

Mirrors pkg/quota/v1/evaluator/core (pods.go, services.go, persistent_volume_claims.go) and
staging/src/k8s.io/apiserver/pkg/quota/v1/generic (the object-count evaluator): pods pay
`pods`, `count/pods` and their summed requests and limits (init containers by their maximum,
as the scheduler counts them) until they finish; services pay `services` and their node ports
and load balancers; claims pay `persistentvolumeclaims` and `requests.storage`, also per
storage class; every other namespaced resource pays `count/<resource>[.<group>]`, plus the
legacy unprefixed name for configmaps, secrets, replicationcontrollers and resourcequotas.
Admission and the controller both use `usage`, so what one charges the other recounts.
"""

from __future__ import annotations

from typing import Any

from kajitori.api import quantity
from kajitori.api.quantity import Quantity

Obj = dict[str, Any]
ResourceList = dict[str, Quantity]

PODS = "pods"
CPU, MEMORY, EPHEMERAL = "cpu", "memory", "ephemeral-storage"
REQUESTS_PREFIX, LIMITS_PREFIX = "requests.", "limits."
HUGEPAGES_PREFIX = "hugepages-"
TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})
# Resources upstream also counts under their pre-`count/` name.
LEGACY_COUNT_NAMES = frozenset({"configmaps", "secrets", "replicationcontrollers",
                                "resourcequotas", "services", "persistentvolumeclaims"})
# Upstream's validationSet: quota on these makes every container state them.
REQUIRED_WHEN_QUOTED = frozenset({CPU, MEMORY, "requests.cpu", "requests.memory",
                                  "limits.cpu", "limits.memory"})
POD_RESOURCES = frozenset({"count/pods", CPU, MEMORY, EPHEMERAL, "requests.cpu",
                           "requests.memory", "requests.ephemeral-storage", "limits.cpu",
                           "limits.memory", "limits.ephemeral-storage", PODS})
SERVICE_RESOURCES = frozenset({"count/services", "services", "services.nodeports",
                               "services.loadbalancers"})
CLAIM_RESOURCES = frozenset({"count/persistentvolumeclaims", "persistentvolumeclaims",
                             "requests.storage"})
STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"
MUST_SPECIFY = "must specify {items}"
# Quota scopes (corev1.ResourceQuotaScope*), which only pods can match.
TERMINATING, NOT_TERMINATING = "Terminating", "NotTerminating"
BEST_EFFORT, NOT_BEST_EFFORT = "BestEffort", "NotBestEffort"
PRIORITY_CLASS = "PriorityClass"

ONE = quantity.from_int(1)
ZERO = quantity.from_int(0)


def count_name(group: str, plural: str) -> str:
    """generic.ObjectCountQuotaResourceNameFor: `count/pods`, `count/deployments.apps`."""
    return f"count/{plural}.{group}" if group else f"count/{plural}"


def matching_resources(group: str, plural: str, names: list[str]) -> list[str]:
    """The quota resource names among `names` that objects of this resource are charged for."""
    if (group, plural) == ("", PODS):
        return [n for n in names if n in POD_RESOURCES or _pod_prefixed(n)]
    if (group, plural) == ("", "services"):
        return [n for n in names if n in SERVICE_RESOURCES]
    if (group, plural) == ("", "persistentvolumeclaims"):
        return [n for n in names if n in CLAIM_RESOURCES or STORAGE_CLASS_SUFFIX in n]
    own = {count_name(group, plural)}
    if not group and plural in LEGACY_COUNT_NAMES:
        own.add(plural)
    return [n for n in names if n in own]


def usage(group: str, plural: str, obj: Obj) -> ResourceList:
    """What `obj` consumes, before masking by any quota's hard resources."""
    if (group, plural) == ("", PODS):
        return pod_usage(obj)
    if (group, plural) == ("", "services"):
        return _service_usage(obj)
    if (group, plural) == ("", "persistentvolumeclaims"):
        return _claim_usage(obj)
    result = {count_name(group, plural): ONE}
    if not group and plural in LEGACY_COUNT_NAMES:
        result[plural] = ONE
    return result


def pod_usage(pod: Obj) -> ResourceList:
    """A pod always counts in `count/pods`; compute resources only while it can still run."""
    result: ResourceList = {"count/pods": ONE}
    if (pod.get("status") or {}).get("phase") in TERMINAL_PHASES:
        return result
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return result
    requests, limits = pod_requests(pod), pod_limits(pod)
    result.update(_compute_usage(requests, limits))
    return result


def constraints(group: str, plural: str, required: list[str], obj: Obj) -> str | None:
    """Why `obj` may not be charged against a quota on `required`, or None. Only pods have
    constraints: every container must state the cpu and memory the quota tracks."""
    if (group, plural) != ("", PODS):
        return None
    wanted = set(required) & REQUIRED_WHEN_QUOTED
    missing: dict[str, set[str]] = {}
    spec = obj.get("spec") or {}
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        resources = container.get("resources") or {}
        stated = set(_compute_usage(_quantities(resources.get("requests")),
                                    _quantities(resources.get("limits"))))
        for name in wanted - stated:
            missing.setdefault(name, set()).add(container.get("name", ""))
    if not missing:
        return None
    return MUST_SPECIFY.format(items="; ".join(
        f"{name} for: {','.join(sorted(missing[name]))}" for name in sorted(missing)))


def matches_scopes(quota: Obj, group: str, plural: str, obj: Obj) -> bool:
    """Whether every scope of `quota` selects `obj` (a quota without scopes selects all)."""
    spec = quota.get("spec") or {}
    selectors = [{"scopeName": s, "operator": "Exists"} for s in spec.get("scopes") or []]
    selectors += (spec.get("scopeSelector") or {}).get("matchExpressions") or []
    if not selectors:
        return True
    if (group, plural) != ("", PODS):
        return False
    return all(_pod_in_scope(selector, obj) for selector in selectors)


def pretty(resources: ResourceList) -> str:
    """Upstream's prettyPrint: `name=value` pairs sorted by name, joined by commas."""
    return ",".join(f"{name}={resources[name]}" for name in sorted(resources))


def add(left: ResourceList, right: ResourceList) -> ResourceList:
    result = dict(left)
    for name, value in right.items():
        result[name] = result[name] + value if name in result else value
    return result


def parse_list(values: dict[str, Any] | None) -> ResourceList:
    """A ResourceList as stored (`{"pods": "10"}`) as quantities."""
    return _quantities(values)


def to_json(resources: ResourceList) -> dict[str, str]:
    return {name: str(value) for name, value in resources.items()}


def pod_requests(pod: Obj) -> ResourceList:
    return _pod_total(pod, "requests")


def pod_limits(pod: Obj) -> ResourceList:
    return _pod_total(pod, "limits")


def _pod_total(pod: Obj, kind: str) -> ResourceList:
    """resourcehelper.PodRequests/PodLimits: regular containers and sidecars add up; the pod
    needs at least what its largest init container needs alongside the sidecars started
    before it; overhead is added on top."""
    spec = pod.get("spec") or {}
    total: ResourceList = {}
    for container in spec.get("containers") or []:
        total = add(total, _container_list(container, kind))
    sidecars: ResourceList = {}
    init_peak: ResourceList = {}
    for container in spec.get("initContainers") or []:
        own = _container_list(container, kind)
        if container.get("restartPolicy") == "Always":
            sidecars = add(sidecars, own)
            needed = sidecars
        else:
            needed = add(own, sidecars)
        init_peak = _maximum(init_peak, needed)
    total = _maximum(add(total, sidecars), init_peak)
    overhead = _quantities(spec.get("overhead"))
    if kind == "limits":  # overhead only raises limits the pod already has
        overhead = {name: value for name, value in overhead.items() if name in total}
    return add(total, overhead)


def _pod_prefixed(name: str) -> bool:
    """Hugepages by size, and extended resources (`requests.example.com/gpu`)."""
    if name.startswith((HUGEPAGES_PREFIX, REQUESTS_PREFIX + HUGEPAGES_PREFIX)):
        return True
    return name.startswith(REQUESTS_PREFIX) and _extended(name.removeprefix(REQUESTS_PREFIX))


def _extended(name: str) -> bool:
    """Not a native resource: qualified with a domain other than kubernetes.io."""
    return "/" in name and "kubernetes.io/" not in name


def _maximum(left: ResourceList, right: ResourceList) -> ResourceList:
    result = dict(left)
    for name, value in right.items():
        if name not in result or result[name] < value:
            result[name] = value
    return result


def _container_list(container: Obj, kind: str) -> ResourceList:
    return _quantities((container.get("resources") or {}).get(kind))


def _quantities(values: dict[str, Any] | None) -> ResourceList:
    return {name: quantity.from_json(value) for name, value in (values or {}).items()}


def _compute_usage(requests: ResourceList, limits: ResourceList) -> ResourceList:
    """podComputeUsageHelper: `pods`, the bare and `requests.` names for requests, the
    `limits.` names for limits; hugepages and extended resources by request only."""
    result: ResourceList = {PODS: ONE}
    for name in (CPU, MEMORY, EPHEMERAL):
        if name in requests:
            result[name] = requests[name]
            result[REQUESTS_PREFIX + name] = requests[name]
        if name in limits:
            result[LIMITS_PREFIX + name] = limits[name]
    for name, value in requests.items():
        if name.startswith(HUGEPAGES_PREFIX):
            result[name] = value
            result[REQUESTS_PREFIX + name] = value
        elif _extended(name):
            result[REQUESTS_PREFIX + name] = value
    return result


def _service_usage(service: Obj) -> ResourceList:
    spec = service.get("spec") or {}
    kind = spec.get("type") or "ClusterIP"
    result: ResourceList = {"count/services": ONE, "services": ONE}
    ports = len(spec.get("ports") or [])
    if kind == "NodePort":
        result["services.nodeports"] = quantity.from_int(ports)
    elif kind == "LoadBalancer":
        result["services.loadbalancers"] = ONE
        if spec.get("allocateLoadBalancerNodePorts", True):
            result["services.nodeports"] = quantity.from_int(ports)
    return result


def _claim_usage(claim: Obj) -> ResourceList:
    result: ResourceList = {"count/persistentvolumeclaims": ONE, "persistentvolumeclaims": ONE}
    spec = claim.get("spec") or {}
    storage_class = spec.get("storageClassName") or ""
    if storage_class:
        result[f"{storage_class}{STORAGE_CLASS_SUFFIX}persistentvolumeclaims"] = ONE
    request = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    if request is not None:
        amount = quantity.from_json(request)
        result["requests.storage"] = amount
        if storage_class:
            result[f"{storage_class}{STORAGE_CLASS_SUFFIX}requests.storage"] = amount
    return result


def _pod_in_scope(selector: Obj, pod: Obj) -> bool:
    spec = pod.get("spec") or {}
    scope = selector.get("scopeName")
    terminating = spec.get("activeDeadlineSeconds") is not None \
        and spec["activeDeadlineSeconds"] >= 0
    if scope == TERMINATING:
        return terminating
    if scope == NOT_TERMINATING:
        return not terminating
    if scope in (BEST_EFFORT, NOT_BEST_EFFORT):
        best_effort = not any(
            (c.get("resources") or {}).get(kind)
            for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])
            for kind in ("requests", "limits"))
        return best_effort if scope == BEST_EFFORT else not best_effort
    if scope == PRIORITY_CLASS:
        name = spec.get("priorityClassName") or ""
        operator, values = selector.get("operator"), selector.get("values") or []
        if operator == "Exists":
            return bool(name)
        if operator == "DoesNotExist":
            return not name
        if operator == "In":
            return name in values
        if operator == "NotIn":
            return not name or name not in values
    return False


def charged_resource(name: str) -> tuple[str, str] | None:
    """The (group, plural) whose objects a quota resource name is charged by; None for a
    name no evaluator knows."""
    if name in POD_RESOURCES or _pod_prefixed(name):
        return ("", PODS)
    if name in SERVICE_RESOURCES:
        return ("", "services")
    if name in CLAIM_RESOURCES or STORAGE_CLASS_SUFFIX in name:
        return ("", "persistentvolumeclaims")
    if name in LEGACY_COUNT_NAMES:
        return ("", name)
    if name.startswith("count/"):
        plural, _, group = name.removeprefix("count/").partition(".")
        return (group, plural)
    return None
