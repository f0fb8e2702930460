"""The scheduler's cache: nodes as columns of NumPy arrays, assigned and assumed pods by node.

Mirrors upstream's `pkg/scheduler/backend/cache` (cache.go: nodes, pods, assumed pods) and the
NodeInfo aggregation of `framework/types.go` (requested and non-zero requested resources, used
host ports, pods with affinity). Each node owns a slot; per-node quantities plugins vectorise
over (allocatable, requested, pod counts) are arrays indexed by slot, so a filter or score over
5,000 nodes is a handful of array operations. Two derived indices make the pod-counting plugins
(PodTopologySpread, InterPodAffinity) independent of the number of pods:

- `pod_counter(...)`: per node, the assigned pods a selector matches, created on first use by
  one scan and then kept current on every pod added or removed (like a materialised view);
- `term_groups()`: per node, how many assigned pods carry each distinct affinity term, so the
  existing pods' anti-affinity towards an incoming pod is one check per distinct term.

Assumed pods (chosen a node, binding under way) count as assigned, as upstream's: `assume_pod`
adds one, `finish_binding` keeps it, `forget_pod` takes it back after a failed bind; the
informer's copy of the bound pod replaces it (`add_pod`).

Departure from upstream: no snapshot per cycle. A scheduling cycle runs on the event loop
without yielding, so the cache cannot change under it; the cache itself is the snapshot.
Nodes keep their slot in the order they were added (upstream interleaves zones in a node tree).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kajitori.api import labels as labels_
from kajitori.api import taints as taints_
from kajitori.scheduler import types

Obj = dict[str, Any]
Slots = np.ndarray

log = logging.getLogger(__name__)

INITIAL_CAPACITY = 64
COUNTER_IDLE_CYCLES = 4096
"""Cycles a pod counter may go unused before it is dropped (and rebuilt if needed again)."""
BASE_RESOURCES = (types.CPU, types.MEMORY, types.EPHEMERAL_STORAGE, types.PODS)


class TermKind:
    REQUIRED_AFFINITY = "required-affinity"
    REQUIRED_ANTI_AFFINITY = "required-anti-affinity"
    PREFERRED_AFFINITY = "preferred-affinity"
    PREFERRED_ANTI_AFFINITY = "preferred-anti-affinity"


@dataclass
class NodeInfo:
    """One node and the pods on it (upstream's NodeInfo, minus what the arrays hold)."""

    slot: int
    name: str
    node: Obj | None = None
    """None while only pods name this node (it was deleted, or is not yet seen)."""
    labels: dict[str, str] = field(default_factory=dict)
    pods: dict[str, types.PodInfo] = field(default_factory=dict)
    used_ports: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    hard_taints: list[Obj] = field(default_factory=list)
    """NoSchedule and NoExecute taints, in the node's order."""
    soft_taints: list[Obj] = field(default_factory=list)
    """PreferNoSchedule taints."""
    unschedulable: bool = False


@dataclass
class PodCounter:
    """Per node, the assigned pods in `namespaces` (or namespaces `namespace_selector`
    matches) whose labels `selector` matches; terminating pods skipped when asked."""

    namespaces: frozenset[str] | None
    """None: every namespace."""
    namespace_selector: labels_.Selector | None
    selector: labels_.Selector
    skip_terminating: bool
    counts: np.ndarray
    last_used: int = 0

    def wants(self, pod: types.PodInfo, namespace_labels: dict[str, str] | None) -> bool:
        if self.skip_terminating and pod.terminating:
            return False
        return types.namespace_selected(pod.namespace, self.namespaces,
                                        self.namespace_selector, namespace_labels) and \
            self.selector.matches(pod.labels)


@dataclass
class TermGroup:
    """Assigned pods carrying one affinity term of one kind (and weight), per node."""

    kind: str
    weight: int
    term: types.AffinityTerm
    counts: np.ndarray
    total: int = 0


class Cache:
    """Nodes and assigned pods. Written by the scheduler's informer handlers and cycles on the
    event loop only; readers (plugins) get arrays they must not change."""

    def __init__(self, *, namespace_labels: Callable[[str], dict[str, str] | None] | None = None
                 ) -> None:
        """`namespace_labels` looks a namespace's labels up (the namespaces informer); None
        knows no namespace, so namespaceSelectors match nothing (tests)."""
        self._namespace_labels = namespace_labels or (lambda _name: None)
        self.capacity = INITIAL_CAPACITY
        self.size = 0  # slots in use, live or not
        self.infos: list[NodeInfo | None] = []
        self.by_name: dict[str, int] = {}
        self.live = np.zeros(self.capacity, dtype=bool)
        self.allocatable: dict[str, np.ndarray] = {}
        self.requested: dict[str, np.ndarray] = {}
        self.non_zero_requested: dict[str, np.ndarray] = {}
        self.pod_count = np.zeros(self.capacity, dtype=np.int64)
        self.unschedulable = np.zeros(self.capacity, dtype=bool)
        self.has_hard_taints = np.zeros(self.capacity, dtype=bool)
        self.has_soft_taints = np.zeros(self.capacity, dtype=bool)
        self.has_ports = np.zeros(self.capacity, dtype=bool)
        for name in BASE_RESOURCES:
            self._ensure_resource(name)
        for name in (types.CPU, types.MEMORY):
            self.non_zero_requested[name] = np.zeros(self.capacity, dtype=np.int64)
        self.pods: dict[str, tuple[types.PodInfo, int]] = {}
        self.assumed: set[str] = set()
        self._counters: dict[tuple[Any, ...], PodCounter] = {}
        self._groups: dict[tuple[str, int, str], TermGroup] = {}
        self._free: list[int] = []
        self._domains: dict[str, tuple[np.ndarray, list[str]]] = {}
        self._domain_generation: dict[str, int] = {}
        self.node_generation = 0
        """Bumped whenever a node is added, removed or relabelled."""
        self._live_slots: tuple[int, np.ndarray] | None = None
        self.cycle = 0

    # --- nodes ------------------------------------------------------------------------------

    @property
    def node_count(self) -> int:
        """Nodes known from the API (upstream's snapshot NumNodes)."""
        return int(self.live[:self.size].sum())

    def live_slots(self) -> Slots:
        """Slots of the nodes that exist, in slot order (shared: do not change)."""
        if self._live_slots is None or self._live_slots[0] != self.node_generation:
            self._live_slots = (self.node_generation, np.flatnonzero(self.live[:self.size]))
        return self._live_slots[1]

    def node_info(self, slot: int) -> NodeInfo:
        info = self.infos[slot]
        if info is None:
            raise KeyError(slot)
        return info

    def names(self, slots: Slots) -> list[str]:
        return [self.node_info(int(s)).name for s in slots]

    def add_node(self, node: Obj) -> None:
        """Add or update a node (idempotent)."""
        name = node["metadata"]["name"]
        slot = self.by_name.get(name)
        if slot is None:
            slot = self._new_slot(name)
        info = self.node_info(slot)
        labels_changed = info.node is None or info.labels != (node["metadata"].get("labels")
                                                              or {})
        info.node = node
        info.labels = node["metadata"].get("labels") or {}
        spec, status = node.get("spec") or {}, node.get("status") or {}
        node_taints = spec.get("taints") or []
        info.hard_taints = [t for t in node_taints if t.get("effect") in taints_.HARD_EFFECTS]
        info.soft_taints = [t for t in node_taints
                            if t.get("effect") == taints_.PREFER_NO_SCHEDULE]
        info.unschedulable = bool(spec.get("unschedulable"))
        self.unschedulable[slot] = info.unschedulable
        self.has_hard_taints[slot] = bool(info.hard_taints)
        self.has_soft_taints[slot] = bool(info.soft_taints)
        allocatable = types.resource_list(status.get("allocatable"))
        for name_ in set(allocatable) | set(self.allocatable):
            if name_ in BASE_RESOURCES or types.is_scalar_resource(name_):
                self._ensure_resource(name_)
                self.allocatable[name_][slot] = allocatable.get(name_, 0)
        if not self.live[slot] or labels_changed:
            self.node_generation += 1
        self.live[slot] = True

    def remove_node(self, name: str) -> None:
        """Forget a node; its pods stay counted until they go (as upstream's cache)."""
        slot = self.by_name.get(name)
        if slot is None:
            return
        info = self.node_info(slot)
        info.node = None
        self.live[slot] = False
        for column in self.allocatable.values():
            column[slot] = 0
        self.node_generation += 1
        self._release_if_empty(slot)

    def _release_if_empty(self, slot: int) -> None:
        info = self.node_info(slot)
        if info.node is None and not info.pods:
            del self.by_name[info.name]
            self.infos[slot] = None
            self._free.append(slot)

    def _new_slot(self, name: str) -> int:
        if self._free:
            slot = self._free.pop()
            self.infos[slot] = NodeInfo(slot, name)
        else:
            if self.size == self.capacity:
                self._grow()
            slot = self.size
            self.size += 1
            self.infos.append(NodeInfo(slot, name))
        self.by_name[name] = slot
        for arrays in (self.allocatable, self.requested, self.non_zero_requested):
            for column in arrays.values():
                column[slot] = 0
        for array in (self.pod_count, self.unschedulable, self.has_hard_taints,
                      self.has_soft_taints, self.has_ports, self.live):
            array[slot] = 0
        for counter in self._counters.values():
            counter.counts[slot] = 0
        for group in self._groups.values():
            group.counts[slot] = 0
        return slot

    def _grow(self) -> None:
        new = self.capacity * 2

        def grown(array: np.ndarray) -> np.ndarray:
            bigger = np.zeros(new, dtype=array.dtype)
            bigger[:self.capacity] = array
            return bigger

        for arrays in (self.allocatable, self.requested, self.non_zero_requested):
            for name in arrays:
                arrays[name] = grown(arrays[name])
        self.live = grown(self.live)
        self.pod_count = grown(self.pod_count)
        self.unschedulable = grown(self.unschedulable)
        self.has_hard_taints = grown(self.has_hard_taints)
        self.has_soft_taints = grown(self.has_soft_taints)
        self.has_ports = grown(self.has_ports)
        for counter in self._counters.values():
            counter.counts = grown(counter.counts)
        for group in self._groups.values():
            group.counts = grown(group.counts)
        self.capacity = new

    def _ensure_resource(self, name: str) -> None:
        if name not in self.allocatable:
            self.allocatable[name] = np.zeros(self.capacity, dtype=np.int64)
            self.requested[name] = np.zeros(self.capacity, dtype=np.int64)

    def domains(self, topology_key: str) -> tuple[np.ndarray, list[str]]:
        """Per slot, the index of the node's value of `topology_key` in the returned list of
        values; -1 for nodes without the label and slots without a node."""
        cached = self._domains.get(topology_key)
        if cached is not None and cached[0].shape[0] == self.capacity and \
                self._domain_generation.get(topology_key) == self.node_generation:
            return cached
        ids = np.full(self.capacity, -1, dtype=np.int64)
        values: list[str] = []
        index: dict[str, int] = {}
        for slot in self.live_slots():
            info = self.infos[int(slot)]
            if info is None:
                continue
            value = info.labels.get(topology_key)
            if value is None:
                continue
            found = index.get(value)
            if found is None:
                found = index[value] = len(values)
                values.append(value)
            ids[slot] = found
        self._domains[topology_key] = (ids, values)
        self._domain_generation[topology_key] = self.node_generation
        return ids, values

    # --- pods -------------------------------------------------------------------------------

    def add_pod(self, pod: types.PodInfo, node_name: str) -> None:
        """Count an assigned pod on `node_name` (replacing an earlier version or the assumed
        copy of it)."""
        if pod.key in self.pods:
            self.remove_pod(pod.key)
        self.assumed.discard(pod.key)
        slot = self.by_name.get(node_name)
        if slot is None:
            slot = self._new_slot(node_name)
        self._account(pod, slot, +1)
        self.pods[pod.key] = (pod, slot)
        self.node_info(slot).pods[pod.key] = pod

    def remove_pod(self, key: str) -> types.PodInfo | None:
        """Stop counting a pod (deleted, finished, or an assumed one forgotten)."""
        found = self.pods.pop(key, None)
        self.assumed.discard(key)
        if found is None:
            return None
        pod, slot = found
        self._account(pod, slot, -1)
        info = self.node_info(slot)
        info.pods.pop(key, None)
        self._release_if_empty(slot)
        return pod

    def assume_pod(self, pod: types.PodInfo, node_name: str) -> None:
        """Count `pod` on the node chosen for it before the bind is confirmed."""
        self.add_pod(pod, node_name)
        self.assumed.add(pod.key)

    def forget_pod(self, key: str) -> None:
        """A bind failed: the assumed pod no longer takes room."""
        if key in self.assumed:
            self.remove_pod(key)

    def is_assumed(self, key: str) -> bool:
        return key in self.assumed

    def node_of(self, key: str) -> str | None:
        found = self.pods.get(key)
        return self.node_info(found[1]).name if found else None

    def _account(self, pod: types.PodInfo, slot: int, sign: int) -> None:
        for name, value in pod.requests.items():
            if name in BASE_RESOURCES or types.is_scalar_resource(name):
                self._ensure_resource(name)
                self.requested[name][slot] += sign * value
        self.non_zero_requested[types.CPU][slot] += sign * pod.non_zero_cpu
        self.non_zero_requested[types.MEMORY][slot] += sign * pod.non_zero_memory
        self.pod_count[slot] += sign
        info = self.node_info(slot)
        if pod.host_ports:
            for port in pod.host_ports:
                info.used_ports[port] += sign
            info.used_ports = +info.used_ports
            self.has_ports[slot] = bool(info.used_ports)
        ns_labels = None
        for counter in self._counters.values():
            if counter.namespace_selector is not None and ns_labels is None:
                ns_labels = self._namespace_labels(pod.namespace)
            if counter.wants(pod, ns_labels):
                counter.counts[slot] += sign
        if pod.has_affinity:
            for kind, weight, term in _terms(pod):
                group_key = (kind, weight, term.key)
                group = self._groups.get(group_key)
                if group is None:
                    if sign < 0:
                        continue
                    group = self._groups[group_key] = TermGroup(
                        kind, weight, term, np.zeros(self.capacity, dtype=np.int64))
                group.counts[slot] += sign
                group.total += sign
                if group.total <= 0:
                    del self._groups[group_key]

    def term_groups(self) -> Iterator[TermGroup]:
        """Every distinct affinity term the assigned pods carry."""
        return iter(list(self._groups.values()))

    def namespace_labels(self, namespace: str) -> dict[str, str] | None:
        return self._namespace_labels(namespace)

    def pod_counter(self, *, namespaces: frozenset[str] | None,
                    namespace_selector: labels_.Selector | None, selector: labels_.Selector,
                    key: str, skip_terminating: bool) -> np.ndarray:
        """Per slot, the assigned pods matching; `key` identifies the selectors (equal keys,
        equal selectors). Kept current from now on; shared: do not change it."""
        counter_key = (namespaces, key, skip_terminating)
        counter = self._counters.get(counter_key)
        if counter is None:
            counter = PodCounter(namespaces, namespace_selector, selector, skip_terminating,
                                 np.zeros(self.capacity, dtype=np.int64))
            for pod, slot in self.pods.values():
                ns_labels = self._namespace_labels(pod.namespace) \
                    if namespace_selector is not None else None
                if counter.wants(pod, ns_labels):
                    counter.counts[slot] += 1
            self._counters[counter_key] = counter
        counter.last_used = self.cycle
        return counter.counts

    def namespaces_changed(self) -> None:
        """Namespace labels changed: counters that select namespaces by label are stale."""
        for key in [k for k, c in self._counters.items() if c.namespace_selector is not None]:
            del self._counters[key]

    def start_cycle(self) -> None:
        """A scheduling cycle begins: drop counters idle for COUNTER_IDLE_CYCLES."""
        self.cycle += 1
        if self.cycle % COUNTER_IDLE_CYCLES == 0:
            idle = [k for k, c in self._counters.items()
                    if self.cycle - c.last_used > COUNTER_IDLE_CYCLES]
            for key in idle:
                del self._counters[key]


def _terms(pod: types.PodInfo) -> Iterator[tuple[str, int, types.AffinityTerm]]:
    for term in pod.required_affinity:
        yield TermKind.REQUIRED_AFFINITY, 0, term
    for term in pod.required_anti_affinity:
        yield TermKind.REQUIRED_ANTI_AFFINITY, 0, term
    for weighted in pod.preferred_affinity:
        yield TermKind.PREFERRED_AFFINITY, weighted.weight, weighted.term
    for weighted in pod.preferred_anti_affinity:
        yield TermKind.PREFERRED_ANTI_AFFINITY, weighted.weight, weighted.term
