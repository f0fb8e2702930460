"""NodeResourcesFit: the pod's requests must fit each node's free allocatable; scoring by a
strategy (upstream's `plugins/noderesources/fit.go`, `least_allocated.go`,
`most_allocated.go`, `requested_to_capacity_ratio.go`).

Filter, vectorised over nodes: `Too many pods` when the node's pod count would pass its
allocatable `pods`; `Insufficient <resource>` for cpu, memory, ephemeral-storage and every
extended resource requested beyond what is free. A node's reasons come in that order (extended
resources by name; upstream's map order is random). Pods nominated to a node by preemption, of
at least the pod's priority, count as if they were there (upstream adds them to the NodeInfo).

Score: `LeastAllocated` (default; cpu and memory weight 1) favours free nodes, `MostAllocated`
packs, `RequestedToCapacityRatio` follows a piecewise-linear shape of utilisation. Scoring
counts cpu/memory as the non-zero requests (100m / 200Mi for containers without one), as
upstream; resources a node has none of are left out of its weighted average.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kajitori.scheduler import framework, types
from kajitori.scheduler.framework import ActionType, ClusterEvent, EventResource

NAME = "NodeResourcesFit"
TOO_MANY_PODS = "Too many pods"
LEAST_ALLOCATED = "LeastAllocated"
MOST_ALLOCATED = "MostAllocated"
REQUESTED_TO_CAPACITY_RATIO = "RequestedToCapacityRatio"
DEFAULT_RESOURCES: list[dict[str, Any]] = [{"name": types.CPU, "weight": 1},
                                           {"name": types.MEMORY, "weight": 1}]
MAX_UTILIZATION = 100
MAX_CUSTOM_PRIORITY_SCORE = 10
"""A RequestedToCapacityRatio shape's scores run 0..10; they are scaled to 0..100."""


def insufficient(resource: str) -> str:
    return f"Insufficient {resource}"


def broken_linear(shape: list[tuple[int, int]], utilization: np.ndarray) -> np.ndarray:
    """upstream's buildBrokenLinearFunction over an array of utilisations (0..100)."""
    result = np.full(utilization.shape, shape[-1][1], dtype=np.int64)
    done = np.zeros(utilization.shape, dtype=bool)
    for i, (point, score) in enumerate(shape):
        hit = ~done & (utilization <= point)
        if i == 0:
            result[hit] = score
        else:
            prev_point, prev_score = shape[i - 1]
            result[hit] = prev_score + (score - prev_score) * \
                (utilization[hit] - prev_point) // (point - prev_point)
        done |= hit
    return result


class NodeResourcesFit:
    name = NAME

    def __init__(self, args: dict[str, Any] | None = None, handle: Any = None) -> None:
        args = args or {}
        self._handle = handle
        self._ignored = set(args.get("ignoredResources") or [])
        self._ignored_groups = set(args.get("ignoredResourceGroups") or [])
        strategy = args.get("scoringStrategy") or {}
        self.strategy = strategy.get("type") or LEAST_ALLOCATED
        self.resources = [(r["name"], int(r.get("weight") or 1))
                          for r in strategy.get("resources") or DEFAULT_RESOURCES]
        shape = (strategy.get("requestedToCapacityRatio") or {}).get("shape") or []
        self._shape = [(int(p["utilization"]),
                        int(p["score"]) * (framework.MAX_NODE_SCORE // MAX_CUSTOM_PRIORITY_SCORE))
                       for p in shape]

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent(EventResource.ASSIGNED_POD,
                             ActionType.DELETE | ActionType.UPDATE_POD_SCALE_DOWN),
                ClusterEvent(EventResource.NODE,
                             ActionType.ADD | ActionType.UPDATE_NODE_ALLOCATABLE)]

    def _ignored_resource(self, name: str) -> bool:
        if not types.is_scalar_resource(name) or name.startswith(("hugepages-",
                                                                   "attachable-volumes-")):
            return False
        return name in self._ignored or name.split("/", 1)[0] in self._ignored_groups

    def _nominated(self, pod: Any, cache: Any, slots: np.ndarray) -> dict[int, list[Any]]:
        """Pods nominated to nodes among `slots` that count against `pod`, by index."""
        nominator = getattr(self._handle, "nominator", None)
        if nominator is None:
            return {}
        nominated = nominator.nominated_pods_for(pod)
        if not nominated:
            return {}
        wanted = {cache.by_name.get(node): pods for node, pods in nominated.items()}
        return {i: wanted[s] for i, s in enumerate(slots.tolist()) if s in wanted}

    def filter(self, state: Any, pod: Any, cache: Any, slots: np.ndarray) -> list[Any]:
        extra = self._nominated(pod, cache, slots)
        count = cache.pod_count[slots] + 1
        for index, pods in extra.items():
            count[index] += len(pods)
        checks: list[tuple[np.ndarray, str]] = [
            (count > cache.allocatable[types.PODS][slots], TOO_MANY_PODS)]
        requests = pod.requests
        scalars = sorted(n for n in requests if types.is_scalar_resource(n)
                         and not self._ignored_resource(n))
        for name in [types.CPU, types.MEMORY, types.EPHEMERAL_STORAGE, *scalars]:
            wanted = requests.get(name, 0)
            if wanted <= 0:
                continue
            if name in cache.allocatable:
                free = cache.allocatable[name][slots] - cache.requested[name][slots]
            else:
                free = np.zeros(len(slots), dtype=np.int64)
            for index, pods in extra.items():
                free[index] -= sum(p.requests.get(name, 0) for p in pods)
            checks.append((wanted > free, insufficient(name)))
        return _group_reasons(checks, len(slots), code=framework.Code.UNSCHEDULABLE)

    def _node_and_pod(self, name: str, pod: Any, cache: Any, slots: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray] | None:
        """(allocatable, requested including the pod) as scoring counts them; None for a
        scalar resource the pod does not request."""
        if name in (types.CPU, types.MEMORY):
            pod_request = pod.non_zero_cpu if name == types.CPU else pod.non_zero_memory
            node_requested = cache.non_zero_requested[name][slots]
        else:
            pod_request = pod.requests.get(name, 0)
            if pod_request == 0 and types.is_scalar_resource(name):
                return None
            if name not in cache.allocatable:
                return None
            node_requested = cache.requested[name][slots]
        return cache.allocatable[name][slots], node_requested + pod_request

    def score(self, state: Any, pod: Any, cache: Any, slots: np.ndarray) -> np.ndarray:
        total = np.zeros(len(slots), dtype=np.int64)
        weights = np.zeros(len(slots), dtype=np.int64)
        for name, weight in self.resources:
            found = self._node_and_pod(name, pod, cache, slots)
            if found is None:
                continue
            allocatable, requested = found
            has = allocatable > 0
            safe = np.where(has, allocatable, 1)
            if self.strategy == MOST_ALLOCATED:
                part = np.minimum(requested, allocatable) * framework.MAX_NODE_SCORE // safe
            elif self.strategy == REQUESTED_TO_CAPACITY_RATIO:
                utilization = np.where(requested > allocatable, MAX_UTILIZATION,
                                       requested * MAX_UTILIZATION // safe)
                part = broken_linear(self._shape, utilization)
            else:
                part = np.where(requested > allocatable, 0,
                                (allocatable - requested) * framework.MAX_NODE_SCORE // safe)
            total += np.where(has, part * weight, 0)
            weights += np.where(has, weight, 0)
        if self.strategy == REQUESTED_TO_CAPACITY_RATIO:
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.floor(total / np.where(weights > 0, weights, 1) + 0.5)
            return np.where(weights > 0, ratio, 0).astype(np.int64)
        return np.where(weights > 0, total // np.where(weights > 0, weights, 1), 0)


def _group_reasons(checks: list[tuple[np.ndarray, str]], size: int, *,
                   code: framework.Code) -> list[Any]:
    """Nodes failing any check, grouped by the exact set of checks they fail (in order)."""
    failing = np.zeros(size, dtype=bool)
    for mask, _ in checks:
        failing |= mask
    if not failing.any():
        return []
    if len(checks) == 1:
        return [(failing, framework.Status(code, (checks[0][1],)))]
    combination = np.zeros(size, dtype=np.int64)
    for bit, (mask, _) in enumerate(checks):
        combination |= mask.astype(np.int64) << bit
    verdicts = []
    for value in np.unique(combination[failing]).tolist():
        reasons = tuple(reason for bit, (_, reason) in enumerate(checks) if value >> bit & 1)
        verdicts.append((combination == value, framework.Status(code, reasons)))
    return verdicts
