"""The scheduling framework: plugin extension points, statuses, and one profile's runner.

Mirrors upstream's `staging/src/k8s.io/kube-scheduler/framework/interface.go` (Code, Status,
the extension points) and `pkg/scheduler/framework/runtime/framework.go` (running them in a
profile's order, weights), with `FitError`/`Diagnosis` of `framework/types.go`, whose message
is what `kubectl describe pod` shows under FailedScheduling.

Extension points, each a method a plugin class may have (the plugin table in
`plugins/registry.py` builds them; a profile lists which run where):

- QueueSort `less(a, b)`: the active queue's order; one per profile.
- PreFilter `pre_filter(state, pod, cache) -> (node names | None, Status | None)`: once per
  cycle. UNSCHEDULABLE[_AND_UNRESOLVABLE] ends the cycle for every node; SKIP skips the
  plugin's Filter; a set of node names restricts the nodes to those (NodeAffinity on
  `metadata.name`).
- Filter `filter(state, pod, cache, slots) -> [(mask, Status)]`: vectorised over candidate
  node slots; each mask marks the candidates rejected with its Status. A node stops at the
  first plugin rejecting it, as upstream stops at the first failing Filter.
- PostFilter `post_filter(state, pod, diagnosis) -> (nominated node | None, Status)`: only when
  no node fits (DefaultPreemption); async, it writes to the API.
- PreScore / Score `pre_score(...) -> Status | None` (SKIP skips Score), `score(state, pod,
  cache, slots) -> int64 array`, optional `normalize_score(state, pod, scores)`; results are
  multiplied by the plugin's weight and summed.
- Reserve `reserve(state, pod, node_name) -> Status | None` right after the pod is assumed,
  in the scheduling cycle (VolumeBinding assumes its volumes); `unreserve(state, pod,
  node_name)` undoes it when a later step fails, in reverse order.
- PreBind `pre_bind(state, pod, node_name) -> Status | None`: async, in the binding cycle
  before Bind (VolumeBinding writes its PV/PVC bindings and waits for them).
- Bind `bind(state, pod, node_name) -> Status | None`: async.
- `events_to_register()`: the cluster events that may make a pod this plugin rejected
  schedulable (queue.py moves pods back on them).

Departure from upstream: plugins see node slots and NumPy arrays (`cache.Cache`) instead of one
NodeInfo per call, so a cycle over 5,000 nodes costs array operations, not 5,000 calls.
Permit and PostBind have no in-tree users here and are not run.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from kajitori.scheduler import cache as cache_
from kajitori.scheduler import types

Obj = dict[str, Any]
CycleState = dict[str, Any]
"""Data plugins keep for the rest of one cycle, by key (upstream's CycleState)."""
Slots = np.ndarray
Mask = np.ndarray

MAX_NODE_SCORE = 100
MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
NO_NODE_AVAILABLE_MSG = "0/{} nodes are available"
SKIP_FILTER_KEY = "framework/skip-filter"
SKIP_SCORE_KEY = "framework/skip-score"


class Code(enum.IntEnum):
    """upstream's framework.Code."""

    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    """The pod does not fit now; preemption or a cluster change may help."""
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    """The pod does not fit and preemption on this node cannot help (a taint, a label)."""
    WAIT = 4
    SKIP = 5
    PENDING = 6


@dataclass(frozen=True)
class Status:
    """A plugin's verdict. `reasons` are the user-visible strings counted in FitError."""

    code: Code
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    @property
    def is_rejected(self) -> bool:
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    def with_plugin(self, plugin: str) -> Status:
        return Status(self.code, self.reasons, plugin)


def unschedulable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE, reasons)


def unresolvable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons)


SKIP = Status(Code.SKIP)


class ActionType(enum.IntFlag):
    """What happened to an object (upstream's fwk.ActionType, the updates we tell apart)."""

    ADD = enum.auto()
    DELETE = enum.auto()
    UPDATE_NODE_ALLOCATABLE = enum.auto()
    UPDATE_NODE_LABEL = enum.auto()
    UPDATE_NODE_TAINT = enum.auto()
    UPDATE_NODE_CONDITION = enum.auto()
    UPDATE_POD_LABEL = enum.auto()
    UPDATE_POD_SCALE_DOWN = enum.auto()
    UPDATE_POD_TOLERATION = enum.auto()
    UPDATE = UPDATE_NODE_ALLOCATABLE | UPDATE_NODE_LABEL | UPDATE_NODE_TAINT | \
        UPDATE_NODE_CONDITION | UPDATE_POD_LABEL | UPDATE_POD_SCALE_DOWN | UPDATE_POD_TOLERATION
    ALL = ADD | DELETE | UPDATE


class EventResource(enum.StrEnum):
    NODE = "Node"
    ASSIGNED_POD = "AssignedPod"
    UNSCHEDULED_POD = "UnscheduledPod"
    NAMESPACE = "Namespace"
    PERSISTENT_VOLUME = "PersistentVolume"
    PERSISTENT_VOLUME_CLAIM = "PersistentVolumeClaim"
    STORAGE_CLASS = "StorageClass"
    CSI_NODE = "CSINode"
    WILDCARD = "*"


@dataclass(frozen=True)
class ClusterEvent:
    resource: EventResource
    action: ActionType
    label: str = ""

    def matches(self, incoming: ClusterEvent) -> bool:
        """Whether `incoming` is this registered event or a more specific one."""
        if self.resource == EventResource.WILDCARD:
            return True
        return self.resource == incoming.resource and bool(self.action & incoming.action)


UNSCHEDULABLE_TIMEOUT = ClusterEvent(EventResource.WILDCARD, ActionType.ALL,
                                     "UnschedulableTimeout")


class Plugin(Protocol):
    name: str


class Handle(Protocol):
    """What plugins may use beyond their arguments (upstream's framework.Handle)."""

    cache: cache_.Cache


@dataclass
class Diagnosis:
    """Why no node fit (upstream's Diagnosis). Rejections are kept as groups of slots that
    share one Status; nodes absent from every group get `absent_status`."""

    groups: list[tuple[Slots, Status]] = field(default_factory=list)
    absent_status: Status | None = None
    unschedulable_plugins: set[str] = field(default_factory=set)
    pre_filter_msg: str = ""
    post_filter_msg: str = ""

    def node_to_status(self) -> dict[int, Status]:
        statuses: dict[int, Status] = {}
        for slots, status in self.groups:
            for slot in slots.tolist():
                statuses[slot] = status
        return statuses

    def status_of(self, slot: int, statuses: dict[int, Status]) -> Status | None:
        return statuses.get(slot, self.absent_status)


@dataclass
class FitError(Exception):
    """No node fits `pod` (upstream's FitError); str() is the user-visible message."""

    pod: types.PodInfo
    num_all_nodes: int
    diagnosis: Diagnosis

    def __str__(self) -> str:
        return fit_error_message(self.num_all_nodes, self.diagnosis)


def fit_error_message(num_all_nodes: int, diagnosis: Diagnosis) -> str:
    """`0/3 nodes are available: 1 node(s) had untolerated taint {...}, 2 Insufficient cpu.`
    then the PostFilter's message: reasons counted over nodes, each "count reason", sorted
    as strings (so "10 ..." sorts before "2 ..."), as upstream's FitError.Error()."""
    message = NO_NODE_AVAILABLE_MSG.format(num_all_nodes) + ":"
    if diagnosis.pre_filter_msg:
        message += f" {diagnosis.pre_filter_msg}."
    else:
        reasons: dict[str, int] = {}
        counted = 0
        for slots, status in diagnosis.groups:
            counted += len(slots)
            for reason in status.reasons:
                reasons[reason] = reasons.get(reason, 0) + len(slots)
        if counted < num_all_nodes and diagnosis.absent_status is not None:
            for reason in diagnosis.absent_status.reasons:
                reasons[reason] = reasons.get(reason, 0) + num_all_nodes - counted
        histogram = sorted(f"{count} {reason}" for reason, count in reasons.items())
        if histogram:
            message += f" {', '.join(histogram)}."
    if diagnosis.post_filter_msg:
        message += f" {diagnosis.post_filter_msg}"
    return message


def default_normalize_score(scores: np.ndarray, *, reverse: bool) -> np.ndarray:
    """upstream's DefaultNormalizeScore: scale to 0..100 by the maximum (integer division),
    reversed when asked; all-zero scores become 100 when reversed, else stay 0."""
    top = int(scores.max()) if len(scores) else 0
    if top == 0:
        return np.full_like(scores, MAX_NODE_SCORE) if reverse else scores
    scaled = MAX_NODE_SCORE * scores // top
    return MAX_NODE_SCORE - scaled if reverse else scaled


def num_feasible_nodes_to_find(percentage: int, num_all_nodes: int) -> int:
    """How many fitting nodes are enough to stop filtering (upstream's
    numFeasibleNodesToFind): all under 100 nodes; else `percentage` of them (0: adaptive,
    50 % minus 1 % per 125 nodes, at least 5 %), never fewer than 100."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if percentage == 0:
        percentage = max(50 - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    found = num_all_nodes * percentage // 100
    return max(found, MIN_FEASIBLE_NODES_TO_FIND)


@dataclass
class Framework:
    """One profile's plugins per extension point, run in order (upstream's frameworkImpl)."""

    profile_name: str
    cache: cache_.Cache
    queue_sort: Any
    pre_filter: list[Any] = field(default_factory=list)
    filter: list[Any] = field(default_factory=list)
    post_filter: list[Any] = field(default_factory=list)
    pre_score: list[Any] = field(default_factory=list)
    score: list[tuple[Any, int]] = field(default_factory=list)
    bind: list[Any] = field(default_factory=list)
    reserve: list[Any] = field(default_factory=list)
    pre_bind: list[Any] = field(default_factory=list)
    percentage_of_nodes_to_score: int | None = None
    """The profile's; None defers to the configuration's."""
    plugins: dict[str, Any] = field(default_factory=dict)
    """Every plugin instance of the profile, by name."""

    def events_by_plugin(self) -> dict[str, list[ClusterEvent]]:
        return {name: list(plugin.events_to_register())
                for name, plugin in self.plugins.items()
                if hasattr(plugin, "events_to_register")}

    def run_pre_filter(self, state: CycleState, pod: types.PodInfo
                       ) -> tuple[set[str] | None, Status | None]:
        """PreFilter plugins in order. Returns the nodes they restrict to (None: all) and the
        first rejecting status (with its plugin), which ends the cycle."""
        names: set[str] | None = None
        skipped: set[str] = set()
        restricting: list[str] = []
        for plugin in self.pre_filter:
            result, status = plugin.pre_filter(state, pod, self.cache)
            if status is not None:
                if status.code == Code.SKIP:
                    skipped.add(plugin.name)
                    continue
                if status.code != Code.SUCCESS:
                    return None, status.with_plugin(plugin.name)
            if result is not None:
                names = set(result) if names is None else names & set(result)
                restricting.append(plugin.name)
        state[SKIP_FILTER_KEY] = skipped
        state["framework/restricting-plugins"] = restricting
        return names, None

    def run_filter(self, state: CycleState, pod: types.PodInfo, slots: Slots
                   ) -> tuple[Slots, list[tuple[Slots, Status]]]:
        """Filter plugins in order over `slots`; returns the fitting slots (in the given
        order) and the rejected ones grouped by Status (with its plugin)."""
        skipped = state.get(SKIP_FILTER_KEY, set())
        rejected: list[tuple[Slots, Status]] = []
        candidates = slots
        for plugin in self.filter:
            if plugin.name in skipped or not len(candidates):
                continue
            verdicts = plugin.filter(state, pod, self.cache, candidates)
            if not verdicts:
                continue
            out = np.zeros(len(candidates), dtype=bool)
            for mask, status in verdicts:
                mask = mask & ~out
                if mask.any():
                    rejected.append((candidates[mask], status.with_plugin(plugin.name)))
                    out |= mask
            candidates = candidates[~out]
        return candidates, rejected

    def run_score(self, state: CycleState, pod: types.PodInfo, slots: Slots) -> np.ndarray:
        """PreScore then Score plugins over the fitting `slots`: the weighted sum of each
        plugin's normalised scores, aligned with `slots`."""
        skipped: set[str] = set()
        for plugin in self.pre_score:
            status = plugin.pre_score(state, pod, self.cache, slots)
            if status is not None and status.code == Code.SKIP:
                skipped.add(plugin.name)
        total = np.zeros(len(slots), dtype=np.int64)
        for plugin, weight in self.score:
            if plugin.name in skipped:
                continue
            scores = plugin.score(state, pod, self.cache, slots)
            normalize = getattr(plugin, "normalize_score", None)
            if normalize is not None:
                scores = normalize(state, pod, scores)
            total += weight * scores
        return total

    async def run_post_filter(self, state: CycleState, pod: types.PodInfo,
                              diagnosis: Diagnosis) -> tuple[str | None, Status]:
        """PostFilter plugins until one succeeds (it names the nominated node); otherwise the
        rejection messages joined."""
        messages = []
        for plugin in self.post_filter:
            nominated, status = await plugin.post_filter(state, pod, diagnosis)
            if status.code == Code.SUCCESS:
                return nominated, status
            if status.message:
                messages.append(status.message)
        return None, Status(Code.UNSCHEDULABLE, tuple(messages))

    def run_reserve(self, state: CycleState, pod: types.PodInfo, node_name: str
                    ) -> Status | None:
        """Reserve plugins in order; the first failure (with its plugin) stops them. The
        caller then runs `run_unreserve`, as upstream's RunReservePluginsReserve."""
        for plugin in self.reserve:
            status: Status | None = plugin.reserve(state, pod, node_name)
            if status is not None and status.code != Code.SUCCESS:
                return status.with_plugin(plugin.name)
        return None

    def run_unreserve(self, state: CycleState, pod: types.PodInfo, node_name: str) -> None:
        """Every Reserve plugin's Unreserve, in reverse order (each must be idempotent)."""
        for plugin in reversed(self.reserve):
            plugin.unreserve(state, pod, node_name)

    async def run_pre_bind(self, state: CycleState, pod: types.PodInfo, node_name: str
                           ) -> Status | None:
        for plugin in self.pre_bind:
            status: Status | None = await plugin.pre_bind(state, pod, node_name)
            if status is not None and status.code != Code.SUCCESS:
                return status.with_plugin(plugin.name)
        return None

    async def run_bind(self, state: CycleState, pod: types.PodInfo, node_name: str
                       ) -> Status | None:
        for plugin in self.bind:
            status: Status | None = await plugin.bind(state, pod, node_name)
            if status is not None and status.code == Code.SKIP:
                continue
            return status
        return Status(Code.ERROR, ("no bind plugin bound the pod",))


def select_host(slots: Slots, scores: np.ndarray, rng: random.Random) -> int:
    """The slot with the highest score; ties broken at random (upstream's selectHost)."""
    best = np.flatnonzero(scores == scores.max())
    return int(slots[best[rng.randrange(len(best))]] if len(best) > 1 else slots[best[0]])


def rotate(slots: Sequence[int] | np.ndarray, start: int) -> np.ndarray:
    array = np.asarray(slots)
    if not len(array):
        return array
    start %= len(array)
    return np.concatenate((array[start:], array[:start])) if start else array
