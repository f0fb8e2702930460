"""The node lifecycle controller: nodes that stop reporting become Unknown and are tainted.

Mirrors pkg/controller/nodelifecycle/node_lifecycle_controller.go (with its scheduler/
rate_limited_queue.go and the taint helpers of pkg/controller/util/node). Every
`node_monitor_period` it looks at each node's health:

- a node is heard from when its Ready condition's lastHeartbeatTime changes or its Lease in
  `kube-node-lease` is renewed; one not heard from for `node_monitor_grace_period`
  (`node_startup_grace_period` while it never posted a Ready condition) gets its Ready,
  MemoryPressure, DiskPressure and PIDPressure conditions set to Unknown
  (`NodeStatusUnknown`, `Kubelet stopped posting node status.`; a missing one is added as
  `NodeStatusNeverUpdated`, `Kubelet never posted node status.`);
- when Ready leaves True this way, event `NodeNotReady` on the node and the pods on it get
  Ready=False (event `NodeNotReady` on each); pods that appear on a node not Ready get the same;
- a node not Ready gets the NoExecute taint `node.kubernetes.io/unreachable` (Ready Unknown) or
  `node.kubernetes.io/not-ready` (Ready False), swapped at once when the other one is there,
  otherwise through a per-zone queue at `node_eviction_rate` nodes a second (the taint
  eviction controller, `tainteviction.py`, then evicts the pods that do not tolerate it); a
  node Ready again loses both;
- zones whose nodes are mostly not Ready (`unhealthy_zone_threshold`) slow down (to
  `secondary_node_eviction_rate` in zones above `large_cluster_size_threshold` nodes, else to
  none), and when every node of every zone is not Ready the controller assumes it is the one
  cut off: it removes those taints and taints nothing until some node is Ready again;
- on every node change, the NoSchedule taints follow the node's conditions and
  `spec.unschedulable` (TaintNodesByCondition: `not-ready`, `unreachable`, `memory-pressure`,
  `disk-pressure`, `pid-pressure`, `network-unavailable`, `unschedulable`).

Deleting a Node deletes nothing here: the pod garbage collector (`podgc.py`) removes its pods.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kajitori.api import errors, meta
from kajitori.client import clock as clock_
from kajitori.client import events, informer, rest, workqueue
from kajitori.controllers import podstate, worker

Obj = dict[str, Any]

log = logging.getLogger(__name__)

NODES = ("", "v1", "nodes")
PODS = ("", "v1", "pods")
LEASES = ("coordination.k8s.io", "v1", "leases")
NODE_LEASE_NAMESPACE = "kube-node-lease"
EVENT_COMPONENT = "node-controller"

NO_EXECUTE, NO_SCHEDULE = "NoExecute", "NoSchedule"
TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
TAINT_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
TAINT_DISK_PRESSURE = "node.kubernetes.io/disk-pressure"
TAINT_PID_PRESSURE = "node.kubernetes.io/pid-pressure"
TAINT_NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"
NOT_READY_TAINT = {"key": TAINT_NOT_READY, "effect": NO_EXECUTE}
UNREACHABLE_TAINT = {"key": TAINT_UNREACHABLE, "effect": NO_EXECUTE}

CONDITION_TAINTS: dict[str, dict[str, str]] = {
    "Ready": {"False": TAINT_NOT_READY, "Unknown": TAINT_UNREACHABLE},
    "MemoryPressure": {"True": TAINT_MEMORY_PRESSURE},
    "DiskPressure": {"True": TAINT_DISK_PRESSURE},
    "NetworkUnavailable": {"True": TAINT_NETWORK_UNAVAILABLE},
    "PIDPressure": {"True": TAINT_PID_PRESSURE},
}
"""The NoSchedule taint each node condition status maps to (TaintNodesByCondition)."""
CONDITION_TAINT_KEYS = frozenset(k for m in CONDITION_TAINTS.values() for k in m.values())
MONITORED_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
"""The conditions set to Unknown; NetworkUnavailable is the control plane's, not the kubelet's."""

REASON_STATUS_UNKNOWN = "NodeStatusUnknown"
MESSAGE_STATUS_UNKNOWN = "Kubelet stopped posting node status."
REASON_NEVER_UPDATED = "NodeStatusNeverUpdated"
MESSAGE_NEVER_UPDATED = "Kubelet never posted node status."
REASON_NODE_NOT_READY = "NodeNotReady"
MESSAGE_POD_NODE_NOT_READY = "Node is not ready"
REASON_REGISTERED_NODE = "RegisteredNode"
REASON_REMOVING_NODE = "RemovingNode"
EXCLUDE_DISRUPTION_LABEL = "node.kubernetes.io/exclude-disruption"
ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
TAINTING_PERIOD = 0.1
"""Seconds between two passes over the tainting queues (upstream's NodeEvictionPeriod)."""
TAINT_RETRIES = 5
"""Attempts at a node's taints before giving up until the next pass."""

STATE_INITIAL = "Initial"
STATE_NORMAL = "Normal"
STATE_FULL_DISRUPTION = "FullDisruption"
STATE_PARTIAL_DISRUPTION = "PartialDisruption"

WallClock = Callable[[], datetime.datetime]


@dataclass(frozen=True)
class NodeLifecycleSettings:
    """kube-controller-manager's node lifecycle flags, upstream's defaults."""

    node_monitor_period: float = 5.0
    """`--node-monitor-period`, seconds: how often node health is looked at."""
    node_monitor_grace_period: float = 50.0
    """`--node-monitor-grace-period`, seconds: silence after which a node is Unknown. Must
    exceed the kubelet's lease renew interval (10 s) several times over. 50 s since v1.32
    (40 s before), longer than a kubelet takes to drop a dead HTTP/2 connection."""
    node_startup_grace_period: float = 60.0
    """`--node-startup-grace-period`, seconds: the same, for a node that never reported."""
    node_eviction_rate: float = 0.1
    """`--node-eviction-rate`: nodes a second tainted NoExecute in a healthy zone."""
    secondary_node_eviction_rate: float = 0.01
    """`--secondary-node-eviction-rate`: the same in a partly disrupted large zone."""
    large_cluster_size_threshold: int = 50
    """`--large-cluster-size-threshold`: above this many nodes a zone is large."""
    unhealthy_zone_threshold: float = 0.55
    """`--unhealthy-zone-threshold`: share of not-Ready nodes (at least 3) making a zone
    partly disrupted."""


def zone_key(node: Obj) -> str:
    """The node's failure domain: region and zone labels (upstream's GetZoneKey)."""
    node_labels = meta.labels(node)
    region = node_labels.get(REGION_LABEL, "")
    zone = node_labels.get(ZONE_LABEL, "")
    return f"{region}:\x00:{zone}" if region or zone else ""


def node_condition(node: Obj, type_: str) -> Obj | None:
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == type_:
            return condition
    return None


def taint_exists(taints: list[Obj], template: Obj) -> bool:
    return any(t.get("key") == template["key"] and t.get("effect") == template["effect"]
               for t in taints)


def node_taints(node: Obj) -> list[Obj]:
    return list((node.get("spec") or {}).get("taints") or [])


def condition_taints(node: Obj) -> list[Obj]:
    """The NoSchedule taints the node's conditions and spec.unschedulable call for."""
    wanted = []
    for condition in (node.get("status") or {}).get("conditions") or []:
        key = CONDITION_TAINTS.get(condition.get("type", ""), {}).get(condition.get("status", ""))
        if key:
            wanted.append({"key": key, "effect": NO_SCHEDULE})
    if (node.get("spec") or {}).get("unschedulable"):
        wanted.append({"key": TAINT_UNSCHEDULABLE, "effect": NO_SCHEDULE})
    return wanted


def compute_zone_state(ready_conditions: list[Obj | None], *,
                       unhealthy_threshold: float) -> tuple[int, str]:
    """(not-Ready node count, zone state) as upstream's ComputeZoneState."""
    ready = sum(1 for c in ready_conditions if c is not None and c.get("status") == "True")
    not_ready = len(ready_conditions) - ready
    if ready == 0 and not_ready > 0:
        return not_ready, STATE_FULL_DISRUPTION
    if not_ready > 2 and not_ready / (not_ready + ready) >= unhealthy_threshold:
        return not_ready, STATE_PARTIAL_DISRUPTION
    return not_ready, STATE_NORMAL


class TokenBucket:
    """Upstream's flowcontrol token bucket with burst 1; a rate of 0 never accepts."""

    def __init__(self, qps: float, *, clock: clock_.Clock) -> None:
        self._clock = clock
        self.qps = qps
        self._tokens = 1.0
        self._last = clock.now()

    def try_accept(self) -> bool:
        if self.qps <= 0:
            return False
        now = self._clock.now()
        self._tokens = min(1.0, self._tokens + (now - self._last) * self.qps)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


@dataclass
class TimedValue:
    name: str
    uid: str
    process_at: float


class RateLimitedTimedQueue:
    """Node names waiting to be tainted, each once, released at the limiter's rate
    (upstream's RateLimitedTimedQueue)."""

    def __init__(self, qps: float, *, clock: clock_.Clock) -> None:
        self._clock = clock
        self.limiter = TokenBucket(qps, clock=clock)
        self._items: dict[str, TimedValue] = {}

    def add(self, name: str, uid: str) -> bool:
        """Queue `name`; False when it is already queued."""
        if name in self._items:
            return False
        self._items[name] = TimedValue(name, uid, self._clock.now())
        return True

    def remove(self, name: str) -> None:
        self._items.pop(name, None)

    def __contains__(self, name: str) -> bool:
        return name in self._items

    def swap_limiter(self, qps: float) -> None:
        if qps != self.limiter.qps:
            self.limiter = TokenBucket(qps, clock=self._clock)

    async def try_(self, action: Callable[[TimedValue], Any]) -> None:
        """Offer due items, oldest first, to `action` (async, returning (done, retry_after))
        while the limiter allows; an item not done is offered again after its delay."""
        while self._items:
            head = min(self._items.values(), key=lambda v: v.process_at)
            if not self.limiter.try_accept():
                return
            now = self._clock.now()
            if now < head.process_at:
                return
            done, wait = await action(head)
            if done:
                self._items.pop(head.name, None)
            else:
                head.process_at = now + wait


@dataclass
class NodeHealth:
    """What the controller last heard of a node (upstream's nodeHealthData); timestamps are
    the controller's monotonic clock."""

    probe_timestamp: float
    ready_transition_timestamp: float
    status: Obj
    lease: Obj | None = None


@dataclass
class HealthUpdate:
    grace_period: float
    observed_ready: Obj
    current_ready: Obj | None


@dataclass
class _State:
    health: dict[str, NodeHealth] = field(default_factory=dict)
    known_nodes: set[str] = field(default_factory=set)
    zone_states: dict[str, str] = field(default_factory=dict)
    tainters: dict[str, RateLimitedTimedQueue] = field(default_factory=dict)
    nodes_to_retry: set[str] = field(default_factory=set)


def _node_ref(name: str) -> Obj:
    """The reference upstream's node events name (its UID is the node's name)."""
    return {"kind": "Node", "metadata": {"name": name, "uid": name}}


class NodeLifecycleController:
    """Watches node health and taints failing nodes (module docstring)."""

    def __init__(self, *, client: rest.RESTClient, nodes: informer.Informer,
                 pods: informer.Informer, leases: informer.Informer,
                 settings: NodeLifecycleSettings | None = None,
                 clock: clock_.Clock | None = None, wall: WallClock | None = None,
                 recorder: events.EventRecorder | None = None) -> None:
        """`clock` (monotonic) times heartbeats and rates, `wall` stamps conditions and
        taints; tests pass fakes, components None. `recorder` None makes one for the
        `node-controller` component."""
        self._client = client
        self._nodes = nodes
        self._pods = pods
        self._leases = leases
        self.settings = settings or NodeLifecycleSettings()
        self._clock: clock_.Clock = clock or clock_.LoopClock()
        self._wall = wall or (lambda: datetime.datetime.now(datetime.UTC))
        self.recorder = recorder or events.EventRecorder(client, component=EVENT_COMPONENT)
        self.state = _State()
        self.node_queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
            name="node_lifecycle_controller")
        self.pod_queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
            name="node_lifecycle_controller_pods")
        nodes.add_handlers(on_add=self._node_changed,
                           on_update=lambda _old, new: self._node_changed(new))
        pods.add_handlers(on_add=self._pod_changed, on_update=self._pod_updated)

    def _node_changed(self, node: Obj) -> None:
        self.node_queue.add(meta.name(node))

    def _pod_changed(self, pod: Obj) -> None:
        if (pod.get("spec") or {}).get("nodeName"):
            self.pod_queue.add(informer.meta_namespace_key(pod))

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if (old.get("spec") or {}).get("nodeName") != (new.get("spec") or {}).get("nodeName") \
                or podstate.is_pod_ready(new):
            self._pod_changed(new)

    def _now_text(self) -> str:
        return meta.format_time(self._wall())

    async def run(self) -> None:
        try:
            await asyncio.gather(self._nodes.wait_for_sync(), self._pods.wait_for_sync(),
                                 self._leases.wait_for_sync())
            async with asyncio.TaskGroup() as group:
                group.create_task(self.recorder.run())
                group.create_task(worker.run_worker(self.node_queue,
                                                    self.do_no_schedule_tainting_pass,
                                                    what="Node"))
                group.create_task(worker.run_worker(self.pod_queue, self.process_pod,
                                                    what="Pod"))
                group.create_task(self._every(self.settings.node_monitor_period,
                                              self.monitor_node_health))
                group.create_task(self._every(TAINTING_PERIOD,
                                              self.do_no_execute_tainting_pass))
        finally:
            self.node_queue.shut_down()
            self.pod_queue.shut_down()

    async def _every(self, period: float, action: Callable[[], Any]) -> None:
        while True:
            try:
                await action()
            except worker.SYNC_FAILURES as exc:
                log.warning("node lifecycle pass failed; will retry: %s", exc)
            await self._clock.sleep(period)

    # ---- health ------------------------------------------------------------------------

    async def monitor_node_health(self) -> None:
        """One look at every node (upstream's monitorNodeHealth)."""
        nodes = self._nodes.cache.list()
        names = {meta.name(n) for n in nodes}
        for node in nodes:
            name = meta.name(node)
            if name not in self.state.known_nodes:
                self.state.known_nodes.add(name)
                self.recorder.event(_node_ref(name), events.NORMAL, REASON_REGISTERED_NODE,
                                    f"Node {name} event: Registered Node {name} in Controller")
                self._tainter(zone_key(node))
        for name in sorted(self.state.known_nodes - names):
            self.recorder.event(_node_ref(name), events.NORMAL, REASON_REMOVING_NODE,
                                f"Node {name} event: Removing Node {name} from Controller")
            self.state.known_nodes.discard(name)
            self.state.health.pop(name, None)
            self.state.nodes_to_retry.discard(name)
        zone_conditions: dict[str, list[Obj | None]] = {}
        for cached in nodes:
            checked = await self._update_health_with_retries(copy.deepcopy(cached))
            if checked is None:
                continue
            node, update, current_ready = checked
            if EXCLUDE_DISRUPTION_LABEL not in meta.labels(node):
                zone_conditions.setdefault(zone_key(node), []).append(current_ready)
            await self.process_taint_based_eviction(node, update.observed_ready)
            await self._mark_pods_if_not_ready(node, update.observed_ready, current_ready)
        await self.handle_disruption(zone_conditions, nodes)

    async def _update_health_with_retries(self, node: Obj
                                          ) -> tuple[Obj, HealthUpdate, Obj] | None:
        """(node as updated, the update, its current Ready condition); None when the node is
        gone, has no Ready condition, or could not be written."""
        for attempt in range(TAINT_RETRIES):
            try:
                update = await self.try_update_node_health(node)
                if update.current_ready is None:
                    return None
                return node, update, update.current_ready
            except errors.StatusError as exc:
                if exc.code == 404:
                    return None
                if attempt == TAINT_RETRIES - 1:
                    log.warning("updating health of node %s failed: %s", meta.name(node), exc)
                    return None
                node = await self._client.get(rest.resource_path(*NODES, name=meta.name(node)))
        return None

    async def _mark_pods_if_not_ready(self, node: Obj, observed_ready: Obj,
                                      current_ready: Obj) -> None:
        name = meta.name(node)
        current_true = current_ready.get("status") == "True"
        became_not_ready = not current_true and observed_ready.get("status") == "True"
        if became_not_ready:
            self.recorder.event(_node_ref(name), events.NORMAL, REASON_NODE_NOT_READY,
                                f"Node {name} status is now: {REASON_NODE_NOT_READY}")
        if became_not_ready or (name in self.state.nodes_to_retry and not current_true):
            if await self.mark_pods_not_ready(self._pods_on(name), name):
                self.state.nodes_to_retry.discard(name)
            else:
                self.state.nodes_to_retry.add(name)
            return
        self.state.nodes_to_retry.discard(name)

    async def try_update_node_health(self, node: Obj) -> HealthUpdate:
        """Refresh what we heard of `node` (changed in place) and mark it Unknown when silent
        for longer than its grace period. Raises StatusError when the status write fails."""
        name = meta.name(node)
        now = self._clock.now()
        health = self.state.health.get(name)
        status = node.setdefault("status", {})
        current_ready = node_condition(node, "Ready")
        if current_ready is None:
            created = meta.metadata(node).get("creationTimestamp")
            observed: Obj = {"type": "Ready", "status": "Unknown",
                             "lastHeartbeatTime": created, "lastTransitionTime": created}
            grace = self.settings.node_startup_grace_period
        else:
            observed = copy.deepcopy(current_ready)
            grace = self.settings.node_monitor_grace_period
        saved_ready = None
        saved_lease = None
        if health is not None:
            saved_ready = next((c for c in health.status.get("conditions") or []
                                if c.get("type") == "Ready"), None)
            saved_lease = health.lease
        if health is None or (saved_ready is None) != (current_ready is None):
            health = NodeHealth(now, now, copy.deepcopy(status))
        elif saved_ready is not None and current_ready is not None and \
                saved_ready.get("lastHeartbeatTime") != current_ready.get("lastHeartbeatTime"):
            transition = now if saved_ready.get("lastTransitionTime") != \
                current_ready.get("lastTransitionTime") else health.ready_transition_timestamp
            health = NodeHealth(now, transition, copy.deepcopy(status), health.lease)
        lease = self._leases.cache.get(f"{NODE_LEASE_NAMESPACE}/{name}")
        if lease is not None and (saved_lease is None or
                                  _renew_time(saved_lease) < _renew_time(lease)):
            health.lease = lease
            health.probe_timestamp = now
        self.state.health[name] = health
        if now <= health.probe_timestamp + grace:
            return HealthUpdate(grace, observed, current_ready)
        stamp = self._now_text()
        conditions = status.setdefault("conditions", [])
        for type_ in MONITORED_CONDITIONS:
            condition = node_condition(node, type_)
            if condition is None:
                conditions.append({"type": type_, "status": "Unknown",
                                   "lastHeartbeatTime": meta.metadata(node).get(
                                       "creationTimestamp"),
                                   "lastTransitionTime": stamp,
                                   "reason": REASON_NEVER_UPDATED,
                                   "message": MESSAGE_NEVER_UPDATED})
            elif condition.get("status") != "Unknown":
                condition.update(status="Unknown", reason=REASON_STATUS_UNKNOWN,
                                 message=MESSAGE_STATUS_UNKNOWN, lastTransitionTime=stamp)
        current_ready = node_condition(node, "Ready")
        if current_ready != observed:
            updated = await self._client.update(
                rest.resource_path(*NODES, name=name, subresource="status"), node)
            node["metadata"] = updated.get("metadata", node["metadata"])
            self.state.health[name] = NodeHealth(health.probe_timestamp, now,
                                                 copy.deepcopy(status), lease)
        return HealthUpdate(grace, observed, current_ready)

    def _pods_on(self, node_name: str) -> list[Obj]:
        return [p for p in self._pods.cache.list()
                if (p.get("spec") or {}).get("nodeName") == node_name]

    async def mark_pods_not_ready(self, pods: list[Obj], node_name: str) -> bool:
        """Set Ready=False on the pods of `node_name` still Ready (upstream's
        MarkPodsNotReady). False when a write failed (the caller retries)."""
        ok = True
        for pod in pods:
            if (pod.get("spec") or {}).get("nodeName") != node_name or \
                    not podstate.is_pod_ready(pod):
                continue
            updated = copy.deepcopy(pod)
            for condition in updated["status"]["conditions"]:
                if condition.get("type") == podstate.READY:
                    condition["status"] = "False"
                    condition["lastTransitionTime"] = self._now_text()
            path = rest.resource_path(*PODS, namespace=meta.namespace(pod), name=meta.name(pod),
                                      subresource="status")
            try:
                await self._client.update(path, updated)
            except errors.StatusError as exc:
                if exc.code == 404:
                    continue
                log.warning("failed to update status for pod %s/%s: %s",
                            meta.namespace(pod), meta.name(pod), exc)
                ok = False
                continue
            self.recorder.event(pod, events.WARNING, REASON_NODE_NOT_READY,
                                MESSAGE_POD_NODE_NOT_READY)
        return ok

    async def process_pod(self, key: str) -> None:
        """A pod bound to a node that is not Ready gets Ready=False (upstream's processPod)."""
        pod = self._pods.cache.get(key)
        if pod is None:
            return
        node_name = (pod.get("spec") or {}).get("nodeName") or ""
        node = self._nodes.cache.get(node_name)
        if node is None or node_name not in self.state.health:
            return
        ready = node_condition(node, "Ready")
        if ready is not None and ready.get("status") != "True" and \
                not await self.mark_pods_not_ready([pod], node_name):
            raise worker.SyncFailed(f"could not mark pod {key} not ready")

    # ---- disruption --------------------------------------------------------------------

    def _tainter(self, zone: str) -> RateLimitedTimedQueue:
        tainter = self.state.tainters.get(zone)
        if tainter is None:
            tainter = RateLimitedTimedQueue(self.settings.node_eviction_rate, clock=self._clock)
            self.state.tainters[zone] = tainter
        return tainter

    async def handle_disruption(self, zone_conditions: dict[str, list[Obj | None]],
                                nodes: list[Obj]) -> None:
        """Set each zone's tainting rate from its state; stop tainting altogether when every
        node is not Ready (upstream's handleDisruption)."""
        states = self.state.zone_states
        new_states = {}
        all_fully_disrupted = True
        for zone, conditions in zone_conditions.items():
            _, new_state = compute_zone_state(
                conditions, unhealthy_threshold=self.settings.unhealthy_zone_threshold)
            if new_state != STATE_FULL_DISRUPTION:
                all_fully_disrupted = False
            new_states[zone] = new_state
            states.setdefault(zone, STATE_INITIAL)
        all_were_fully_disrupted = True
        for zone in list(states):
            if zone not in zone_conditions:
                del states[zone]
                continue
            if states[zone] != STATE_FULL_DISRUPTION:
                all_were_fully_disrupted = False
                break
        if all_fully_disrupted and all_were_fully_disrupted:
            return
        if all_fully_disrupted:
            log.info("Controller detected that all Nodes are not-Ready. Entering master "
                     "disruption mode")
            for node in nodes:
                await self.mark_node_as_reachable(node)
            for zone in states:
                self._tainter(zone).swap_limiter(0)
                states[zone] = STATE_FULL_DISRUPTION
            return
        if all_were_fully_disrupted:
            log.info("Controller detected that some Nodes are Ready. Exiting master "
                     "disruption mode")
            now = self._clock.now()
            for health in self.state.health.values():
                health.probe_timestamp = now
                health.ready_transition_timestamp = now
            for zone in states:
                self._set_limiter_in_zone(zone, len(zone_conditions[zone]), new_states[zone])
                states[zone] = new_states[zone]
            return
        for zone, state in states.items():
            if state != new_states[zone]:
                log.info("Controller detected that zone %r is now in state %s", zone,
                         new_states[zone])
                self._set_limiter_in_zone(zone, len(zone_conditions[zone]), new_states[zone])
                states[zone] = new_states[zone]

    def _set_limiter_in_zone(self, zone: str, size: int, state: str) -> None:
        settings = self.settings
        if state == STATE_PARTIAL_DISRUPTION:
            qps = settings.secondary_node_eviction_rate \
                if size > settings.large_cluster_size_threshold else 0.0
        else:
            qps = settings.node_eviction_rate
        self._tainter(zone).swap_limiter(qps)

    # ---- taints ------------------------------------------------------------------------

    async def process_taint_based_eviction(self, node: Obj, observed_ready: Obj) -> None:
        """Queue a node whose (previously observed) Ready is False or Unknown for its NoExecute
        taint, swapping the opposite one at once; untaint a Ready one."""
        status = observed_ready.get("status")
        taints = node_taints(node)
        tainter = self._tainter(zone_key(node))
        name = meta.name(node)
        if status == "False":
            if taint_exists(taints, UNREACHABLE_TAINT):
                await self.swap_node_controller_taint(name, add=[NOT_READY_TAINT],
                                                      remove=[UNREACHABLE_TAINT])
                return
            if not taint_exists(taints, NOT_READY_TAINT):
                tainter.remove(name)
            tainter.add(name, meta.uid(node))
        elif status == "Unknown":
            if taint_exists(taints, NOT_READY_TAINT):
                await self.swap_node_controller_taint(name, add=[UNREACHABLE_TAINT],
                                                      remove=[NOT_READY_TAINT])
                return
            if not taint_exists(taints, UNREACHABLE_TAINT):
                tainter.remove(name)
            tainter.add(name, meta.uid(node))
        elif status == "True":
            await self.mark_node_as_reachable(node)

    async def mark_node_as_reachable(self, node: Obj) -> None:
        name = meta.name(node)
        taints = node_taints(node)
        remove = [t for t in (UNREACHABLE_TAINT, NOT_READY_TAINT) if taint_exists(taints, t)]
        if remove:
            await self.swap_node_controller_taint(name, add=[], remove=remove)
        self._tainter(zone_key(node)).remove(name)

    async def do_no_execute_tainting_pass(self) -> None:
        """Taint the queued nodes their zone's limiter lets through."""
        for tainter in list(self.state.tainters.values()):
            await tainter.try_(self._taint_queued)

    async def _taint_queued(self, value: TimedValue) -> tuple[bool, float]:
        node = self._nodes.cache.get(value.name)
        if node is None:
            return True, 0.0
        ready = node_condition(node, "Ready")
        if ready is None:
            return False, 0.05
        if ready.get("status") == "False":
            add, remove = NOT_READY_TAINT, UNREACHABLE_TAINT
        elif ready.get("status") == "Unknown":
            add, remove = UNREACHABLE_TAINT, NOT_READY_TAINT
        else:
            return True, 0.0
        return await self.swap_node_controller_taint(value.name, add=[add], remove=[remove]), 0.0

    async def do_no_schedule_tainting_pass(self, name: str) -> None:
        """Make the node's NoSchedule taints match its conditions (TaintNodesByCondition)."""
        node = self._nodes.cache.get(name)
        if node is None:
            return
        wanted = condition_taints(node)
        present = [t for t in node_taints(node) if t.get("effect") == NO_SCHEDULE and
                   (t.get("key") == TAINT_UNSCHEDULABLE or t.get("key") in CONDITION_TAINT_KEYS)]
        add = [t for t in wanted if not taint_exists(present, t)]
        remove = [t for t in present if not taint_exists(wanted, t)]
        if (add or remove) and not await self.swap_node_controller_taint(name, add=add,
                                                                          remove=remove):
            raise worker.SyncFailed(f"failed to swap taints of node {name}")

    async def swap_node_controller_taint(self, name: str, *, add: list[Obj],
                                         remove: list[Obj]) -> bool:
        """Add `add` (stamped timeAdded now) and remove `remove` (by key and effect) on the
        live node, with a resourceVersion precondition, retrying lost races. False when it
        did not succeed (logged)."""
        path = rest.resource_path(*NODES, name=name)
        for _ in range(TAINT_RETRIES):
            try:
                node = await self._client.get(path)
                current = node_taints(node)
                stamp = self._now_text()
                taints = [t for t in current if not taint_exists(remove, t)]
                for wanted in add:
                    if not taint_exists(taints, wanted):
                        taints.append({**wanted, "timeAdded": stamp})
                if taints == current:
                    return True
                await self._client.patch(path, {
                    "metadata": {"resourceVersion": meta.resource_version(node)},
                    "spec": {"taints": taints or None}})
                return True
            except errors.StatusError as exc:
                if exc.code == 404:
                    return True
                if exc.code != 409:
                    log.warning("failed to update taints of node %s: %s", name, exc)
                    return False
        log.warning("failed to update taints of node %s: too many conflicts", name)
        return False


def _renew_time(lease: Obj) -> datetime.datetime:
    text = (lease.get("spec") or {}).get("renewTime")
    return meta.parse_time(text) if text else datetime.datetime.min.replace(tzinfo=datetime.UTC)


def new_node_lifecycle_controller(client: rest.RESTClient, *,
                                  informers: informer.SharedInformerFactory,
                                  settings: NodeLifecycleSettings | None = None
                                  ) -> NodeLifecycleController:
    """The node lifecycle controller on `informers` (upstream's NewNodeLifecycleController).
    Leases are read from the factory's Lease informer (all namespaces; only
    `kube-node-lease` ones are looked at)."""
    return NodeLifecycleController(
        client=client, nodes=informers.informer_for(*NODES), pods=informers.informer_for(*PODS),
        leases=informers.informer_for(*LEASES), settings=settings)
