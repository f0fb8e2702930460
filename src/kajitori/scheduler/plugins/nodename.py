"""NodeName: a pod naming `spec.nodeName` fits that node only (upstream's
`plugins/nodename/node_name.go`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from kajitori.scheduler import framework
from kajitori.scheduler.framework import ActionType, ClusterEvent, EventResource

NAME = "NodeName"
ERR_REASON = "node(s) didn't match the requested node name"


class NodeName:
    name = NAME

    def __init__(self, args: dict[str, Any] | None = None, handle: Any = None) -> None:
        del args, handle

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent(EventResource.NODE, ActionType.ADD)]

    def filter(self, state: Any, pod: Any, cache: Any, slots: Any) -> list[Any]:
        if not pod.node_name:
            return []
        wanted = cache.by_name.get(pod.node_name, -1)
        return [(np.asarray(slots) != wanted, framework.unresolvable(ERR_REASON))]
