"""PrioritySort: the active queue pops higher `spec.priority` first, then the pod queued
earlier (upstream's `plugins/queuesort/priority_sort.go`)."""

from __future__ import annotations

from typing import Any

NAME = "PrioritySort"


class PrioritySort:
    name = NAME

    def __init__(self, args: dict[str, Any] | None = None, handle: Any = None) -> None:
        del args, handle

    def less(self, a: Any, b: Any) -> bool:
        """`a` and `b` are queued pods (`queue.QueuedPodInfo`)."""
        pa, pb = a.pod.priority, b.pod.priority
        return bool(pa > pb or (pa == pb and a.timestamp < b.timestamp))
