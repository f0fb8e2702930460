"""NodeResourcesBalancedAllocation: favour nodes whose cpu and memory would be used in equal
proportions (upstream's `plugins/noderesources/balanced_allocation.go`): the score is
(1 − the standard deviation of the requested/allocatable fractions) × 100, fractions capped
at 1, counting actual requests (not the non-zero defaults). Best-effort pods (no requests) are
not scored, as upstream since v1.33, lest they all pile onto one node."""

from __future__ import annotations

from typing import Any

import numpy as np

from kajitori.scheduler import framework, types
from kajitori.scheduler.framework import ActionType, ClusterEvent, EventResource

NAME = "NodeResourcesBalancedAllocation"
DEFAULT_RESOURCES: list[dict[str, Any]] = [{"name": types.CPU, "weight": 1},
                                           {"name": types.MEMORY, "weight": 1}]


class NodeResourcesBalancedAllocation:
    name = NAME

    def __init__(self, args: dict[str, Any] | None = None, handle: Any = None) -> None:
        del handle
        self.resources = [r["name"] for r in (args or {}).get("resources") or DEFAULT_RESOURCES]

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent(EventResource.ASSIGNED_POD,
                             ActionType.DELETE | ActionType.UPDATE_POD_SCALE_DOWN),
                ClusterEvent(EventResource.NODE,
                             ActionType.ADD | ActionType.UPDATE_NODE_ALLOCATABLE)]

    def pre_score(self, state: Any, pod: Any, cache: Any, slots: Any) -> Any:
        if not any(pod.requests.get(name, 0) for name in self.resources):
            return framework.SKIP
        return None

    def score(self, state: Any, pod: Any, cache: Any, slots: np.ndarray) -> np.ndarray:
        fractions = []
        for name in self.resources:
            pod_request = pod.requests.get(name, 0)
            if name not in cache.allocatable or \
                    (pod_request == 0 and types.is_scalar_resource(name)):
                continue
            allocatable = cache.allocatable[name][slots]
            requested = cache.requested[name][slots] + pod_request
            with np.errstate(divide="ignore", invalid="ignore"):
                fraction = np.minimum(requested / np.where(allocatable > 0, allocatable, 1), 1.0)
            fractions.append(np.where(allocatable > 0, fraction, np.nan))
        if not fractions:
            return np.full(len(slots), framework.MAX_NODE_SCORE, dtype=np.int64)
        stacked = np.vstack(fractions)
        counted = (~np.isnan(stacked)).sum(axis=0)
        with np.errstate(invalid="ignore"):
            if stacked.shape[0] == 2:
                std = np.abs(stacked[0] - stacked[1]) / 2
            else:
                mean = np.nanmean(stacked, axis=0)
                std = np.sqrt(np.nanmean((stacked - mean) ** 2, axis=0))
        std = np.where(counted >= 2, np.nan_to_num(std), 0.0)
        return ((1 - std) * framework.MAX_NODE_SCORE).astype(np.int64)
