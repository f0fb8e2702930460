"""The HorizontalPodAutoscaler's replica calculation for resource metrics (upstream
pkg/controller/podautoscaler/replica_calculator.go, written afresh).

Pure functions over wire-format pods and per-pod usage samples, so the arithmetic a user sees
in `kubectl describe hpa` can be tested without a cluster. Usage and requests are integers in
milli-units (millicores for cpu, milli-bytes for memory), as upstream's MilliValue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kajitori.api import meta, quantity

Obj = dict

TOLERANCE = 0.1
"""`--horizontal-pod-autoscaler-tolerance`: ratios within 10% of 1 do not rescale."""
CPU_INITIALIZATION_PERIOD = 300.0
"""`--horizontal-pod-autoscaler-cpu-initialization-period`, seconds."""
INITIAL_READINESS_DELAY = 30.0
"""`--horizontal-pod-autoscaler-initial-readiness-delay`, seconds."""

NO_METRICS = "did not receive metrics for targeted pods (pods might be unready)"
NO_PODS = "no pods returned by selector while calculating replica count"
MISSING_REQUEST = "missing request for {resource} in container {container} of Pod {pod}"


@dataclass(frozen=True)
class StartupTiming:
    """How long after a pod starts its cpu samples and readiness changes are distrusted
    (upstream's `--horizontal-pod-autoscaler-cpu-initialization-period` and
    `--horizontal-pod-autoscaler-initial-readiness-delay`), seconds."""

    cpu_initialization_period: float = CPU_INITIALIZATION_PERIOD
    initial_readiness_delay: float = INITIAL_READINESS_DELAY


class ReplicaCalculationError(Exception):
    """The replica count cannot be computed; the message is upstream's wording."""


@dataclass(frozen=True)
class PodMetric:
    """One pod's usage of a resource (milli-units) and when and over what window it was
    measured (seconds since the epoch; window in seconds)."""

    value: int
    timestamp: float
    window: float


@dataclass(frozen=True)
class Recommendation:
    """What the calculator proposes: a replica count, the utilization in percent of request
    (None for AverageValue targets) and the raw per-pod average (milli-units)."""

    replicas: int
    utilization: int | None
    raw_average: int


def _ready_condition(pod: Obj) -> Obj | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond
    return None


def _epoch(text: str) -> float:
    return meta.parse_time(text).timestamp()


def _cpu_unready(pod: Obj, metric: PodMetric, *, now: float, timing: StartupTiming) -> bool:
    """Upstream's rule for ignoring a cpu sample of a pod that may still be starting: within
    the initialization period, unready or sampled before a full window since it turned ready;
    after it, unready and never ready since start (a transition within the initial readiness
    delay counts as the first readiness, not a later loss of it)."""
    cond = _ready_condition(pod)
    start = (pod.get("status") or {}).get("startTime")
    if cond is None or not start:
        return True
    started = _epoch(start)
    transition = _epoch(cond["lastTransitionTime"]) if cond.get("lastTransitionTime") \
        else started
    if started + timing.cpu_initialization_period > now:
        return cond.get("status") == "False" or metric.timestamp < transition + metric.window
    return (cond.get("status") == "False"
            and started + timing.initial_readiness_delay > transition)


@dataclass
class _Groups:
    ready: int
    unready: set[str]
    missing: set[str]
    ignored: set[str]


def _group_pods(pods: list[Obj], metrics: dict[str, PodMetric], resource: str, *,
                now: float, timing: StartupTiming) -> _Groups:
    groups = _Groups(0, set(), set(), set())
    for pod in pods:
        name = meta.name(pod)
        phase = (pod.get("status") or {}).get("phase")
        if meta.deletion_timestamp(pod) or phase == "Failed":
            groups.ignored.add(name)
            continue
        if phase == "Pending":
            groups.unready.add(name)
            continue
        metric = metrics.get(name)
        if metric is None:
            groups.missing.add(name)
            continue
        if resource == "cpu" and _cpu_unready(pod, metric, now=now, timing=timing):
            groups.unready.add(name)
            continue
        groups.ready += 1
    return groups


def pod_requests(pods: list[Obj], resource: str) -> dict[str, int]:
    """Each pod's summed container request for `resource` (milli-units); raises
    ReplicaCalculationError naming the first container without one, as upstream does."""
    requests: dict[str, int] = {}
    for pod in pods:
        total = 0
        for container in (pod.get("spec") or {}).get("containers") or []:
            value = ((container.get("resources") or {}).get("requests") or {}).get(resource)
            if value is None:
                raise ReplicaCalculationError(MISSING_REQUEST.format(
                    resource=resource, container=container.get("name"), pod=meta.name(pod)))
            total += quantity.from_json(value).milli_value()
        requests[meta.name(pod)] = total
    return requests


def utilization_ratio(metrics: dict[str, int], requests: dict[str, int],
                      target: int) -> tuple[float, int, int]:
    """(usage ratio, utilization percent, raw average) over pods that have a request;
    raises ReplicaCalculationError when none has one."""
    used = requested = entries = 0
    for name, value in metrics.items():
        if name in requests:
            used += value
            requested += requests[name]
            entries += 1
    if requested == 0:
        raise ReplicaCalculationError("no metrics returned matched known pods")
    utilization = used * 100 // requested
    return utilization / target, utilization, used // entries


def _average_ratio(metrics: dict[str, int], target: int) -> tuple[float, int]:
    total = sum(metrics.values())
    average = total // len(metrics)
    return total / (target * len(metrics)), average


def _recompute_ratio(values: dict[str, int], requests: dict[str, int], *, target: int,
                     utilization_target: bool) -> float:
    if utilization_target:
        return utilization_ratio(values, requests, target)[0]
    return _average_ratio(values, target)[0]


def resource_replicas(current: int, pods: list[Obj], metrics: dict[str, PodMetric], *,
                      resource: str, target_utilization: int | None = None,
                      target_average: int | None = None, now: float,
                      tolerance: float = TOLERANCE,
                      timing: StartupTiming | None = None) -> Recommendation:
    """The replica count for a Resource metric: by utilization (percent of request) when
    `target_utilization` is given, else by average value (`target_average`, milli-units);
    `timing` None (tests) is upstream's default start-up timing.

    Pods pending, unready (cpu only) or without a sample are left out of the first ratio;
    then, if they could change the direction, missing pods count as at-target on a scale-down
    and zero on a scale-up, unready pods zero on a scale-up, and the result stands only if
    the direction still holds (upstream's conservative rebalancing)."""
    if not pods:
        raise ReplicaCalculationError(NO_PODS)
    groups = _group_pods(pods, metrics, resource, now=now, timing=timing or StartupTiming())
    leave_out = groups.unready | groups.ignored
    values = {n: m.value for n, m in metrics.items() if n not in leave_out
              and n in {meta.name(p) for p in pods}}
    if not values:
        raise ReplicaCalculationError(NO_METRICS)
    by_utilization = target_utilization is not None
    if by_utilization:
        assert target_utilization is not None
        requests = pod_requests([p for p in pods if meta.name(p) not in groups.ignored],
                                resource)
        ratio, utilization, raw = utilization_ratio(values, requests, target_utilization)
        target = target_utilization
        fallback = {n: requests[n] * max(100, target) // 100 for n in groups.missing}
        util_out: int | None = utilization
    else:
        assert target_average is not None
        requests = {}
        target = target_average
        ratio, raw = _average_ratio(values, target)
        fallback = {n: target for n in groups.missing}
        util_out = None
    scale_up_with_unready = bool(groups.unready) and ratio > 1.0
    if not scale_up_with_unready and not groups.missing:
        if abs(1.0 - ratio) <= tolerance:
            return Recommendation(current, util_out, raw)
        return Recommendation(math.ceil(ratio * groups.ready), util_out, raw)
    if groups.missing:
        if ratio < 1.0:
            values.update(fallback)
        elif ratio > 1.0:
            values.update(dict.fromkeys(groups.missing, 0))
    if scale_up_with_unready:
        values.update(dict.fromkeys(groups.unready, 0))
    new_ratio = _recompute_ratio(values, requests, target=target,
                                 utilization_target=by_utilization)
    if abs(1.0 - new_ratio) <= tolerance or (ratio < 1.0 < new_ratio) \
            or (new_ratio < 1.0 < ratio):
        return Recommendation(current, util_out, raw)
    replicas = math.ceil(new_ratio * len(values))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return Recommendation(current, util_out, raw)
    return Recommendation(replicas, util_out, raw)
