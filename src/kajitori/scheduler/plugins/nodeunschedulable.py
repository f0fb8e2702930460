"""NodeUnschedulable: a cordoned node (`spec.unschedulable`) takes only pods that tolerate
the `node.kubernetes.io/unschedulable:NoSchedule` taint (upstream's
`plugins/nodeunschedulable/node_unschedulable.go`). Unresolvable: preemption cannot uncordon."""

from __future__ import annotations

from typing import Any

from kajitori.api import taints
from kajitori.scheduler import framework
from kajitori.scheduler.framework import ActionType, ClusterEvent, EventResource

NAME = "NodeUnschedulable"
ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"
UNSCHEDULABLE_TAINT = {"key": taints.TAINT_NODE_UNSCHEDULABLE, "effect": taints.NO_SCHEDULE}


class NodeUnschedulable:
    name = NAME

    def __init__(self, args: dict[str, Any] | None = None, handle: Any = None) -> None:
        del args, handle

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT),
                ClusterEvent(EventResource.UNSCHEDULED_POD, ActionType.UPDATE_POD_TOLERATION)]

    def filter(self, state: Any, pod: Any, cache: Any, slots: Any) -> list[Any]:
        cordoned = cache.unschedulable[slots]
        if not cordoned.any() or taints.tolerated(pod.tolerations, UNSCHEDULABLE_TAINT):
            return []
        return [(cordoned, framework.unresolvable(ERR_REASON_UNSCHEDULABLE))]
