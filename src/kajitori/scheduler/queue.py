"""The scheduling queue: active, backoff and unschedulable pods, and the nominator.

Mirrors upstream's `pkg/scheduler/backend/queue/scheduling_queue.go` (PriorityQueue) and
`nominator.go`:

- activeQ pops pods in the QueueSort plugin's order (PrioritySort: priority, then age);
- a pod that failed waits in backoffQ for `podInitialBackoffSeconds` × 2^(attempts−1), at most
  `podMaxBackoffSeconds` (1 s → 10 s by default), counted from its failure;
- an unschedulable pod waits in unschedulablePods until a cluster event one of the plugins
  that rejected it registered for (node added, pod deleted, ...; `framework.ClusterEvent`)
  moves it to backoffQ (still backing off) or activeQ; any event moves a pod that failed
  with an error; after `podMaxInUnschedulablePodsDuration` (5 min) it moves anyway;
- an event during a pod's cycle (`move_request_cycle`) sends that pod, if it fails, to
  backoffQ rather than unschedulablePods, so the event is not lost;
- pods with `schedulingGates` wait, gated, until an update removes the gates.

`flush_backoff_completed` (every second) and `flush_unschedulable_leftover` (every 30 s) are
run by `run()` on the queue's clock; tests call them after stepping a FakeClock.

Departure from upstream: no QueueingHints; moving on registered events is upstream's
behaviour with the SchedulerQueueingHints gate off.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kajitori.client import clock as clock_
from kajitori.scheduler import framework, types

DEFAULT_POD_INITIAL_BACKOFF = 1.0
DEFAULT_POD_MAX_BACKOFF = 10.0
DEFAULT_POD_MAX_IN_UNSCHEDULABLE_PODS_DURATION = 300.0
"""Seconds a pod may wait in unschedulablePods before it is retried regardless."""
BACKOFF_FLUSH_PERIOD = 1.0
UNSCHEDULABLE_FLUSH_PERIOD = 30.0
SCHEDULING_GATES = "SchedulingGates"


@dataclass(eq=False)
class QueuedPodInfo:
    """A pod waiting to be scheduled (upstream's QueuedPodInfo)."""

    pod: types.PodInfo
    timestamp: float
    """When it was queued, or last failed: activeQ's age order and the backoff's start."""
    attempts: int = 0
    initial_attempt_timestamp: float | None = None
    unschedulable_plugins: set[str] = field(default_factory=set)
    gated: bool = False

    @property
    def key(self) -> str:
        return self.pod.key


class _Ordered:
    """A heap entry ordered by a less function; `valid` False once removed."""

    __slots__ = ("item", "less", "seq", "valid")

    def __init__(self, item: QueuedPodInfo, less: Callable[[Any, Any], bool], seq: int) -> None:
        self.item, self.less, self.seq, self.valid = item, less, seq, True

    def __lt__(self, other: _Ordered) -> bool:
        if self.less(self.item, other.item):
            return True
        if self.less(other.item, self.item):
            return False
        return self.seq < other.seq


class Nominator:
    """Pods nominated to nodes by preemption (upstream's nominator): the room they will take
    is reserved against pods of lower priority."""

    def __init__(self) -> None:
        self._by_node: dict[str, dict[str, types.PodInfo]] = {}
        self._node_of: dict[str, str] = {}

    def add_nominated(self, pod: types.PodInfo, node_name: str) -> None:
        self.delete_nominated(pod.key)
        if node_name:
            self._by_node.setdefault(node_name, {})[pod.key] = pod
            self._node_of[pod.key] = node_name

    def delete_nominated(self, key: str) -> None:
        node = self._node_of.pop(key, None)
        if node is not None:
            pods = self._by_node.get(node, {})
            pods.pop(key, None)
            if not pods:
                self._by_node.pop(node, None)

    def nominated_node(self, key: str) -> str | None:
        return self._node_of.get(key)

    def nominated_pods_on(self, node_name: str) -> list[types.PodInfo]:
        return list(self._by_node.get(node_name, {}).values())

    def nominated_pods_for(self, pod: types.PodInfo) -> dict[str, list[types.PodInfo]]:
        """Per node, the other nominated pods of at least `pod`'s priority."""
        found: dict[str, list[types.PodInfo]] = {}
        for node, pods in self._by_node.items():
            counted = [p for k, p in pods.items() if k != pod.key and p.priority >= pod.priority]
            if counted:
                found[node] = counted
        return found


class SchedulingQueue:
    """upstream's PriorityQueue. Every method runs on the event loop; `pop` waits."""

    def __init__(self, *, less: Callable[[Any, Any], bool], clock: clock_.Clock | None = None,
                 pod_initial_backoff: float = DEFAULT_POD_INITIAL_BACKOFF,
                 pod_max_backoff: float = DEFAULT_POD_MAX_BACKOFF,
                 pod_max_in_unschedulable_pods_duration: float =
                 DEFAULT_POD_MAX_IN_UNSCHEDULABLE_PODS_DURATION,
                 events_by_plugin: dict[str, list[framework.ClusterEvent]] | None = None
                 ) -> None:
        self._less = less
        self._clock: clock_.Clock = clock or clock_.LoopClock()
        self._initial_backoff = pod_initial_backoff
        self._max_backoff = pod_max_backoff
        self._max_unschedulable = pod_max_in_unschedulable_pods_duration
        self._events_by_plugin = events_by_plugin or {}
        self._seq = itertools.count()
        self._active: list[_Ordered] = []
        self._active_entries: dict[str, _Ordered] = {}
        self._backoff: list[tuple[float, int, QueuedPodInfo]] = []
        self._backoff_entries: dict[str, QueuedPodInfo] = {}
        self.unschedulable: dict[str, QueuedPodInfo] = {}
        self._in_flight: dict[str, QueuedPodInfo] = {}
        self._wakeup = asyncio.Event()
        self.scheduling_cycle = 0
        self.move_request_cycle = -1
        self.nominator = Nominator()

    # --- what is where ------------------------------------------------------------------------

    def active_keys(self) -> list[str]:
        """activeQ's pods in pop order (for tests and debugging)."""
        return [e.item.key for e in sorted(self._active) if e.valid]

    def backoff_keys(self) -> list[str]:
        return [i.key for _, _, i in sorted(self._backoff, key=lambda t: (t[0], t[1]))
                if self._backoff_entries.get(i.key) is i]

    def __len__(self) -> int:
        return len(self._active_entries) + len(self._backoff_entries) + len(self.unschedulable)

    # --- the informer's view ----------------------------------------------------------------

    def add(self, pod: types.PodInfo) -> None:
        """A new pending pod: activeQ, or held if gated."""
        info = QueuedPodInfo(pod, self._clock.now())
        self._nominate_from_status(pod)
        if pod.spec.get("schedulingGates"):
            info.gated = True
            info.unschedulable_plugins = {SCHEDULING_GATES}
            self.unschedulable[pod.key] = info
            return
        self._push_active(info)

    def update(self, pod: types.PodInfo) -> None:
        """A pending pod changed: its queued copy is replaced; an unschedulable one is tried
        again (its change may help), a gated one once its gates are gone."""
        key = pod.key
        self._nominate_from_status(pod)
        if key in self._active_entries:
            self._active_entries[key].item.pod = pod
            return
        if key in self._backoff_entries:
            self._backoff_entries[key].pod = pod
            return
        if key in self._in_flight:
            self._in_flight[key].pod = pod
            return
        info = self.unschedulable.pop(key, None)
        if info is None:
            self.add(pod)
            return
        info.pod = pod
        if pod.spec.get("schedulingGates"):
            self.unschedulable[key] = info
            return
        if info.gated:
            info.gated = False
            info.unschedulable_plugins = set()
            self._push_active(info)
            return
        self._requeue(info)

    def delete(self, key: str) -> None:
        """The pod is gone or was bound by someone else."""
        self.nominator.delete_nominated(key)
        entry = self._active_entries.pop(key, None)
        if entry is not None:
            entry.valid = False
        self._backoff_entries.pop(key, None)
        self.unschedulable.pop(key, None)

    def _nominate_from_status(self, pod: types.PodInfo) -> None:
        nominated = (pod.pod.get("status") or {}).get("nominatedNodeName")
        if nominated:
            self.nominator.add_nominated(pod, nominated)

    # --- the scheduler's view ---------------------------------------------------------------

    async def pop(self) -> QueuedPodInfo:
        """The next pod to schedule, waiting for one; starts a scheduling cycle."""
        while True:
            while self._active:
                entry = heapq.heappop(self._active)
                if not entry.valid:
                    continue
                info = entry.item
                del self._active_entries[info.key]
                self.scheduling_cycle += 1
                info.attempts += 1
                if info.initial_attempt_timestamp is None:
                    info.initial_attempt_timestamp = self._clock.now()
                self._in_flight[info.key] = info
                return info
            self._wakeup.clear()
            await self._wakeup.wait()

    def done(self, key: str) -> None:
        """The pod's cycle is over (bound, requeued or dropped)."""
        self._in_flight.pop(key, None)

    def add_unschedulable_if_not_present(self, info: QueuedPodInfo, scheduling_cycle: int
                                         ) -> None:
        """Requeue a pod whose cycle failed: backoffQ if it failed with an error or an event
        arrived during its cycle, else unschedulablePods."""
        self._in_flight.pop(info.key, None)
        if info.key in self._active_entries or info.key in self._backoff_entries or \
                info.key in self.unschedulable:
            return
        info.timestamp = self._clock.now()
        if not info.unschedulable_plugins or self.move_request_cycle >= scheduling_cycle:
            self._push_backoff(info)
        else:
            self.unschedulable[info.key] = info

    def backoff_duration(self, info: QueuedPodInfo) -> float:
        duration = self._initial_backoff
        for _ in range(1, info.attempts):
            if duration > self._max_backoff - duration:
                return self._max_backoff
            duration += duration
        return duration

    def backoff_expiry(self, info: QueuedPodInfo) -> float:
        return info.timestamp + self.backoff_duration(info)

    def move_all_to_active_or_backoff(self, event: framework.ClusterEvent) -> None:
        """A cluster event: retry the unschedulable pods it may help."""
        moved = [info for info in self.unschedulable.values()
                 if not info.gated and self._may_help(info, event)]
        for info in moved:
            del self.unschedulable[info.key]
            self._requeue(info)
        self.move_request_cycle = self.scheduling_cycle

    def _may_help(self, info: QueuedPodInfo, event: framework.ClusterEvent) -> bool:
        if event.resource == framework.EventResource.WILDCARD or not info.unschedulable_plugins:
            return True
        return any(registered.matches(event)
                   for plugin in info.unschedulable_plugins
                   for registered in self._events_by_plugin.get(plugin, ()))

    def flush_backoff_completed(self) -> None:
        """Move pods whose backoff is over to activeQ."""
        now = self._clock.now()
        while self._backoff and self._backoff[0][0] <= now:
            _, _, info = heapq.heappop(self._backoff)
            if self._backoff_entries.get(info.key) is not info:
                continue
            del self._backoff_entries[info.key]
            self._push_active(info)

    def flush_unschedulable_leftover(self) -> None:
        """Move pods unschedulable for longer than podMaxInUnschedulablePodsDuration."""
        now = self._clock.now()
        stale = [info for info in self.unschedulable.values()
                 if not info.gated and now - info.timestamp > self._max_unschedulable]
        for info in stale:
            del self.unschedulable[info.key]
            self._requeue(info)

    async def run(self) -> None:
        """Flush backoffQ every second and unschedulablePods every 30 s, until cancelled."""
        elapsed = 0.0
        while True:
            await self._clock.sleep(BACKOFF_FLUSH_PERIOD)
            self.flush_backoff_completed()
            elapsed += BACKOFF_FLUSH_PERIOD
            if elapsed >= UNSCHEDULABLE_FLUSH_PERIOD:
                elapsed = 0.0
                self.flush_unschedulable_leftover()

    def _requeue(self, info: QueuedPodInfo) -> None:
        if self.backoff_expiry(info) > self._clock.now():
            self._push_backoff(info)
        else:
            self._push_active(info)

    def _push_active(self, info: QueuedPodInfo) -> None:
        entry = _Ordered(info, self._less, next(self._seq))
        self._active_entries[info.key] = entry
        heapq.heappush(self._active, entry)
        self._wakeup.set()

    def _push_backoff(self, info: QueuedPodInfo) -> None:
        self._backoff_entries[info.key] = info
        heapq.heappush(self._backoff, (self.backoff_expiry(info), next(self._seq), info))
