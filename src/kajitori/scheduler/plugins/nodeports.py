"""NodePorts: a pod's host ports must be free on the node (upstream's
`plugins/nodeports/node_ports.go`): the same protocol and port conflict when either address
is 0.0.0.0 or both are equal. Only nodes using host ports are looked at."""

from __future__ import annotations

from typing import Any

import numpy as np

from kajitori.scheduler import framework
from kajitori.scheduler.framework import ActionType, ClusterEvent, EventResource

NAME = "NodePorts"
ERR_REASON = "node(s) didn't have free ports for the requested pod ports"
ANY_ADDRESS = "0.0.0.0"


def conflicts(wanted: tuple[str, str, int], used: tuple[str, str, int]) -> bool:
    ip, protocol, port = wanted
    used_ip, used_protocol, used_port = used
    if protocol != used_protocol or port != used_port:
        return False
    return ip == used_ip or ANY_ADDRESS in (ip, used_ip)


class NodePorts:
    name = NAME

    def __init__(self, args: dict[str, Any] | None = None, handle: Any = None) -> None:
        del args, handle

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent(EventResource.ASSIGNED_POD, ActionType.DELETE),
                ClusterEvent(EventResource.NODE, ActionType.ADD)]

    def pre_filter(self, state: Any, pod: Any, cache: Any) -> tuple[None, Any]:
        return None, None if pod.host_ports else framework.SKIP

    def filter(self, state: Any, pod: Any, cache: Any, slots: Any) -> list[Any]:
        mask = np.zeros(len(slots), dtype=bool)
        for index in np.flatnonzero(cache.has_ports[slots]).tolist():
            used = cache.node_info(int(slots[index])).used_ports
            if any(conflicts(w, u) for w in pod.host_ports for u in used):
                mask[index] = True
        return [(mask, framework.unschedulable(ERR_REASON))] if mask.any() else []
