"""LimitRanger: containers get their namespace's default requests and limits; pods,
containers and claims must stay within its LimitRanges.

Mirrors plugin/pkg/admission/limitranger/admission.go (v1.33). On a pod's create, every
`Container` item's `default` (limits) and `defaultRequest` (requests) fill what a container or
init container leaves out, and the pod is annotated `kubernetes.io/limit-ranger` with what was
set. Then each item checks its type: `Container` items each container, `Pod` items the pod's
summed requests and limits, `PersistentVolumeClaim` items a claim's storage request (on create
and update); `min`, `max` and `maxLimitRequestRatio` refuse with upstream's words, all failures
of one write in one 403.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from kajitori.admission import refusal
from kajitori.admission.interface import Attributes
from kajitori.api.quantity import Quantity
from kajitori.quota import evaluator

Obj = dict[str, Any]
ResourceList = dict[str, Quantity]

PLUGIN_NAME = "LimitRanger"
ANNOTATION = "kubernetes.io/limit-ranger"
ANNOTATION_VALUE = "LimitRanger plugin set: {items}"
SET_REQUEST = "{names} request for {kind} {name}"
SET_LIMIT = "{names} limit for {kind} {name}"
CONTAINER, POD, CLAIM = "Container", "Pod", "PersistentVolumeClaim"
MIN_NO_REQUEST = "minimum {resource} usage per {type} is {enforced}.  No request is specified"
MIN_REQUEST = "minimum {resource} usage per {type} is {enforced}, but request is {observed}"
MIN_LIMIT = "minimum {resource} usage per {type} is {enforced}, but limit is {observed}"
MAX_NO_LIMIT = "maximum {resource} usage per {type} is {enforced}.  No limit is specified"
MAX_NO_REQUEST = "maximum {resource} usage per {type} is {enforced}.  No request is specified"
MAX_LIMIT = "maximum {resource} usage per {type} is {enforced}, but limit is {observed}"
MAX_REQUEST = "maximum {resource} usage per {type} is {enforced}, but request is {observed}"
RATIO_NO_REQUEST = ("{resource} max limit to request ratio per {type} is {enforced}, but no "
                    "request is specified or request is 0")
RATIO_NO_LIMIT = ("{resource} max limit to request ratio per {type} is {enforced}, but no "
                  "limit is specified or limit is 0")
RATIO_EXCEEDED = ("{resource} max limit to request ratio per {type} is {enforced}, but "
                  "provided ratio is {ratio:f}")


class LimitRanger:
    name = PLUGIN_NAME

    def __init__(self, *, list_limit_ranges: Callable[[str], Awaitable[list[Obj]]]) -> None:
        self._list_limit_ranges = list_limit_ranges

    async def admit(self, attrs: Attributes) -> None:
        resource = attrs.resource
        if resource.group or attrs.subresource or attrs.obj is None or not attrs.namespace:
            return
        is_pod = resource.plural == "pods" and attrs.operation == "CREATE"
        is_claim = resource.plural == "persistentvolumeclaims" \
            and attrs.operation in ("CREATE", "UPDATE")
        if not (is_pod or is_claim):
            return
        items = [item for limit_range in await self._list_limit_ranges(attrs.namespace)
                 for item in (limit_range.get("spec") or {}).get("limits") or []]
        if not items:
            return
        if is_pod:
            apply_defaults(attrs.obj, items)
            failures = pod_failures(attrs.obj, items)
        else:
            failures = claim_failures(attrs.obj, items)
        if failures:
            raise refusal.forbidden(attrs, aggregate(failures))


def apply_defaults(pod: Obj, items: list[Obj]) -> None:
    """Fill each container's missing requests and limits from the `Container` items."""
    default_limits: dict[str, Any] = {}
    default_requests: dict[str, Any] = {}
    for item in items:
        if item.get("type") == CONTAINER:
            default_limits.update(item.get("default") or {})
            default_requests.update(item.get("defaultRequest") or {})
    notes: list[str] = []
    spec = pod.setdefault("spec", {})
    for kind, field in (("container", "containers"), ("init container", "initContainers")):
        for container in spec.get(field) or []:
            notes += _merge(container, kind, default_limits, default_requests)
    if notes:
        annotations = pod.setdefault("metadata", {}).setdefault("annotations", {})
        annotations[ANNOTATION] = ANNOTATION_VALUE.format(items="; ".join(notes))


def _merge(container: Obj, kind: str, default_limits: dict[str, Any],
           default_requests: dict[str, Any]) -> list[str]:
    resources = container.setdefault("resources", {})
    set_requests, set_limits = [], []
    for name, value in default_limits.items():
        limits = resources.setdefault("limits", {})
        if name not in limits:
            limits[name] = value
            set_limits.append(name)
    for name, value in default_requests.items():
        requests = resources.setdefault("requests", {})
        if name not in requests:
            requests[name] = value
            set_requests.append(name)
    name = container.get("name", "")
    notes = []
    if set_requests:
        notes.append(SET_REQUEST.format(names=", ".join(sorted(set_requests)), kind=kind,
                                        name=name))
    if set_limits:
        notes.append(SET_LIMIT.format(names=", ".join(sorted(set_limits)), kind=kind,
                                      name=name))
    return notes


def pod_failures(pod: Obj, items: list[Obj]) -> list[str]:
    """What breaks the `Container` and `Pod` items, in upstream's order."""
    failures: list[str] = []
    spec = pod.get("spec") or {}
    containers = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    for item in items:
        kind = item.get("type")
        if kind == CONTAINER:
            for container in containers:
                resources = container.get("resources") or {}
                failures += _check(item, CONTAINER, evaluator.parse_list(resources.get("requests")),
                                   evaluator.parse_list(resources.get("limits")))
        elif kind == POD:
            failures += _check(item, POD, evaluator.pod_requests(pod),
                               evaluator.pod_limits(pod))
    return failures


def claim_failures(claim: Obj, items: list[Obj]) -> list[str]:
    """What breaks the `PersistentVolumeClaim` items: storage requests within min and max."""
    resources = (claim.get("spec") or {}).get("resources") or {}
    requests = evaluator.parse_list(resources.get("requests"))
    limits = evaluator.parse_list(resources.get("limits"))
    failures: list[str] = []
    for item in items:
        if item.get("type") != CLAIM:
            continue
        for name, enforced in evaluator.parse_list(item.get("min")).items():
            failures += _min(CLAIM, name, enforced, requests, limits)
        for name, enforced in evaluator.parse_list(item.get("max")).items():
            words = {"resource": name, "type": CLAIM, "enforced": enforced}
            if name not in requests:
                failures.append(MAX_NO_REQUEST.format(**words))
            elif enforced < requests[name]:
                failures.append(MAX_REQUEST.format(observed=requests[name], **words))
    return failures


def aggregate(failures: list[str]) -> str:
    """utilerrors.NewAggregate's text: one message alone, several (without repeats) in
    brackets."""
    unique = list(dict.fromkeys(failures))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def _check(item: Obj, kind: str, requests: ResourceList, limits: ResourceList) -> list[str]:
    failures: list[str] = []
    for name, enforced in evaluator.parse_list(item.get("min")).items():
        failures += _min(kind, name, enforced, requests, limits)
    for name, enforced in evaluator.parse_list(item.get("max")).items():
        words = {"resource": name, "type": kind, "enforced": enforced}
        if name not in limits:
            failures.append(MAX_NO_LIMIT.format(**words))
        elif enforced < limits[name]:
            failures.append(MAX_LIMIT.format(observed=limits[name], **words))
        elif name in requests and enforced < requests[name]:
            failures.append(MAX_REQUEST.format(observed=requests[name], **words))
    for name, enforced in evaluator.parse_list(item.get("maxLimitRequestRatio")).items():
        words = {"resource": name, "type": kind, "enforced": enforced}
        request, limit = requests.get(name), limits.get(name)
        if request is None or request.is_zero():
            failures.append(RATIO_NO_REQUEST.format(**words))
        elif limit is None or limit.is_zero():
            failures.append(RATIO_NO_LIMIT.format(**words))
        elif enforced.amount < limit.amount / request.amount:
            failures.append(RATIO_EXCEEDED.format(
                ratio=float(limit.amount / request.amount), **words))
    return failures


def _min(kind: str, name: str, enforced: Quantity, requests: ResourceList,
         limits: ResourceList) -> list[str]:
    words = {"resource": name, "type": kind, "enforced": enforced}
    if name not in requests:
        return [MIN_NO_REQUEST.format(**words)]
    if requests[name] < enforced:
        return [MIN_REQUEST.format(observed=requests[name], **words)]
    if name in limits and limits[name] < enforced:
        return [MIN_LIMIT.format(observed=limits[name], **words)]
    return []
