"""The eviction manager: node pressure conditions, and pods evicted to relieve the node.

Mirrors upstream v1.33's `pkg/kubelet/eviction/eviction_manager.go` and the ranking and
message half of `helpers.go`. Every `housekeeping_interval` (10 s) `synchronize()` reads the
stats Summary (`kajitori.kubelet.stats.StatsProvider.summary()`), observes the signals and
decides, with `kajitori.kubelet.evictionthresholds`, which thresholds are met:
- the node conditions (MemoryPressure, DiskPressure, PIDPressure) are True while a threshold
  of theirs is met and for `evictionPressureTransitionPeriod` (5 min) after; the node status
  manager reads them through `node_conditions()` and the pod admission through `admit()`;
- first, every pod over its own local storage limits is evicted (emptyDir `sizeLimit`, the pod's
  total ephemeral-storage limit, a container's ephemeral-storage limit), whatever the node's
  state (upstream's localStorageEviction);
- then, for the most urgent threshold met past its grace period (memory first), an event
  `EvictionThresholdMet` (`Attempting to reclaim memory`) on the Node; for disk signals the
  container and image garbage collectors are asked to free space first (`reclaimers`), and
  when that resolves the threshold no pod is evicted; otherwise the active pods are ranked
  (usage above requests, then priority, then usage above requests) and the first one that is
  not critical is evicted: one pod per cycle.

Evicting a pod (`evict_pod`) records the `Evicted` event with upstream's message, then has the
pod workers (`terminator`, `kajitori.kubelet.podworker.PodWorkers.terminate_pod_abnormally`)
kill its containers with the eviction grace period (hard threshold or local storage: 1 s, which
the runtime raises to its 2 s minimum; soft threshold: `evictionMaxPodGracePeriod`) and report it
Failed, reason `Evicted`, with the message and, for node pressure, the DisruptionTarget
condition (reason TerminationByKubelet). The next cycle starts once that pod is terminated.

Departures: no memcg threshold notifier (the 10 s loop only); the eviction events carry no
annotations (offending containers), the recorder has none; imagefs is taken to be on the node's
filesystem unless `dedicated_image_fs` says otherwise (containerd's root is under the kubelet's).
"""

from __future__ import annotations

import datetime
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Protocol

from kajitori.api import meta, quantity
from kajitori.client import clock as clock_
from kajitori.client import events, nodestatus
from kajitori.kubelet import evictionthresholds as et
from kajitori.kubelet import predicate

Obj = dict[str, Any]

log = logging.getLogger(__name__)

REASON_EVICTED = predicate.EVICTED
"""The pods' status reason and event reason (upstream's eviction `Reason`)."""
EVICTION_THRESHOLD_MET = "EvictionThresholdMet"
MSG_ATTEMPTING_TO_RECLAIM = "Attempting to reclaim {resource}"
MSG_NODE_LOW = "The node was low on resource: {resource}. "
MSG_THRESHOLD_MET = "Threshold quantity: {quantity}, available: {available}. "
MSG_CONTAINER = "Container {name} was using {usage}, request is {request}, has larger " \
    "consumption of {resource}. "
MSG_CONTAINER_EPHEMERAL_STORAGE = 'Container {name} exceeded its local ephemeral storage ' \
    'limit "{limit}". '
MSG_POD_EPHEMERAL_STORAGE = "Pod ephemeral local storage usage exceeds the total limit of " \
    "containers {limit}. "
MSG_EMPTY_DIR = 'Usage of EmptyDir volume "{name}" exceeds the limit "{limit}". '
DISRUPTION_TARGET = "DisruptionTarget"
TERMINATION_BY_KUBELET = "TerminationByKubelet"

HOUSEKEEPING_INTERVAL = 10.0
"""Seconds between two synchronizations (upstream's evictionMonitoringPeriod)."""
IMMEDIATE_EVICTION_GRACE_PERIOD_SECONDS = 1
"""The grace period of a hard-threshold or local-storage eviction."""
RESTART_POLICY_ALWAYS = "Always"
MEDIUM_MEMORY = "Memory"


# --- the pods' resources and usage --------------------------------------------------------


def _container_amount(container: Obj, field: str, resource: str) -> quantity.Quantity | None:
    value = ((container.get("resources") or {}).get(field) or {}).get(resource)
    return None if value is None else quantity.from_json(value)


def pod_total(pod: Obj, resource: str, *, field: str = "requests") -> quantity.Quantity | None:
    """The pod's `field` (requests or limits) of `resource` as upstream's PodRequests and
    PodLimits add it: app and sidecar containers summed, each other init container with the
    sidecars before it, the larger of the two; None when no container names the resource."""
    spec = pod.get("spec") or {}
    found = False
    total: quantity.Quantity | None = None

    def add(a: quantity.Quantity | None, b: quantity.Quantity | None) -> quantity.Quantity | None:
        if a is None:
            return b
        return a if b is None else a + b

    for container in spec.get("containers") or []:
        amount = _container_amount(container, field, resource)
        found |= amount is not None
        total = add(total, amount)
    sidecars: quantity.Quantity | None = None
    init_peak: quantity.Quantity | None = None
    for container in spec.get("initContainers") or []:
        amount = _container_amount(container, field, resource)
        found |= amount is not None
        if container.get("restartPolicy") == RESTART_POLICY_ALWAYS:
            total = add(total, amount)
            sidecars = add(sidecars, amount)
            amount = sidecars
        else:
            amount = add(amount, sidecars)
        if amount is not None and (init_peak is None or amount > init_peak):
            init_peak = amount
    if init_peak is not None and (total is None or init_peak > total):
        total = init_peak
    return total if found else None


def _request(pod: Obj, resource: str) -> quantity.Quantity:
    return pod_total(pod, resource) or quantity.from_int(0, quantity.BINARY_SI)


def _used_bytes(stats: Obj | None) -> int | None:
    value = (stats or {}).get("usedBytes")
    return None if value is None else int(value)


def _inodes_used(stats: Obj | None) -> int:
    return int((stats or {}).get("inodesUsed") or 0)


def memory_usage(pod_stats: Obj) -> int:
    """The pod's working set, bytes (0 when unknown)."""
    return int((pod_stats.get("memory") or {}).get("workingSetBytes") or 0)


def local_volume_names(pod: Obj) -> list[str]:
    """The pod's volumes on the node's disk (upstream localVolumeNames: hostPath, and the
    local ephemeral ones: gitRepo, emptyDir on disk, configMap)."""
    names = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        empty_dir = volume.get("emptyDir")
        if "hostPath" in volume or "gitRepo" in volume or "configMap" in volume or \
                (empty_dir is not None and (empty_dir.get("medium") or "") != MEDIUM_MEMORY):
            names.append(str(volume.get("name")))
    return names


@dataclass(frozen=True)
class DiskMeasure:
    """Which of a pod's filesystem stats count against a disk signal."""

    root: bool = True
    logs: bool = True
    local_volumes: bool = True


def pod_disk_usage(pod_stats: Obj, pod: Obj, measure: DiskMeasure) -> tuple[int, int]:
    """(bytes, inodes) the pod uses of what `measure` counts (upstream podDiskUsage)."""
    disk = inodes = 0
    for container in pod_stats.get("containers") or []:
        for counted, stats in ((measure.root, container.get("rootfs")),
                               (measure.logs, container.get("logs"))):
            if counted:
                disk += _used_bytes(stats) or 0
                inodes += _inodes_used(stats)
    if measure.local_volumes:
        volumes = {v.get("name"): v for v in pod_stats.get("volume") or []}
        for name in local_volume_names(pod):
            if name in volumes:
                disk += _used_bytes(volumes[name]) or 0
                inodes += _inodes_used(volumes[name])
    return disk, inodes


# --- ranking --------------------------------------------------------------------------------

StatsFunc = Callable[[Obj], Obj | None]
"""The pod's stats in the Summary, or None."""
Cmp = Callable[[Obj, Obj], int]


def stats_func(summary: Obj) -> StatsFunc:
    """Pod stats by the pod's uid (upstream cachedStatsFunc)."""
    by_uid = {str((s.get("podRef") or {}).get("uid")): s for s in summary.get("pods") or []}
    return lambda pod: by_uid.get(meta.uid(pod))


def _cmp_bool(a: bool, b: bool) -> int:
    """True first."""
    return 0 if a == b else (-1 if a else 1)


def _with_stats(stats: StatsFunc, compare: Callable[[Obj, Obj, Obj, Obj], int]) -> Cmp:
    """A comparison that puts pods without stats first, else compares by their stats."""

    def cmp(p1: Obj, p2: Obj) -> int:
        s1, s2 = stats(p1), stats(p2)
        if s1 is None or s2 is None:
            return _cmp_bool(s1 is None, s2 is None)
        return compare(p1, s1, p2, s2)

    return cmp


def priority(p1: Obj, p2: Obj) -> int:
    """Lower priority first."""
    a = int((p1.get("spec") or {}).get("priority") or 0)
    b = int((p2.get("spec") or {}).get("priority") or 0)
    return (a > b) - (a < b)


def _exceeds(usage: int, request: quantity.Quantity) -> bool:
    return Fraction(usage) > request.amount


def exceed_memory_requests(stats: StatsFunc) -> Cmp:
    return _with_stats(stats, lambda p1, s1, p2, s2: _cmp_bool(
        _exceeds(memory_usage(s1), _request(p1, et.MEMORY)),
        _exceeds(memory_usage(s2), _request(p2, et.MEMORY))))


def memory(stats: StatsFunc) -> Cmp:
    """Larger working set above the memory request first."""

    def compare(p1: Obj, s1: Obj, p2: Obj, s2: Obj) -> int:
        a = Fraction(memory_usage(s1)) - _request(p1, et.MEMORY).amount
        b = Fraction(memory_usage(s2)) - _request(p2, et.MEMORY).amount
        return (b > a) - (b < a)

    return _with_stats(stats, compare)


def process(stats: StatsFunc) -> Cmp:
    """More processes first."""

    def count(s: Obj) -> int:
        return int((s.get("process_stats") or {}).get("process_count") or 0)

    return _with_stats(stats, lambda _p1, s1, _p2, s2: count(s2) - count(s1))


def _disk(pod_stats: Obj, pod: Obj, measure: DiskMeasure, resource: str) -> int:
    disk, inodes = pod_disk_usage(pod_stats, pod, measure)
    return inodes if resource == et.INODES else disk


def exceed_disk_requests(stats: StatsFunc, measure: DiskMeasure, resource: str) -> Cmp:
    return _with_stats(stats, lambda p1, s1, p2, s2: _cmp_bool(
        _exceeds(_disk(s1, p1, measure, resource), _request(p1, resource)),
        _exceeds(_disk(s2, p2, measure, resource), _request(p2, resource))))


def disk(stats: StatsFunc, measure: DiskMeasure, resource: str) -> Cmp:
    """Larger usage above the ephemeral-storage request first (upstream subtracts that
    request for inodes too)."""

    def compare(p1: Obj, s1: Obj, p2: Obj, s2: Obj) -> int:
        a = Fraction(_disk(s1, p1, measure, resource)) - \
            _request(p1, et.EPHEMERAL_STORAGE).amount
        b = Fraction(_disk(s2, p2, measure, resource)) - \
            _request(p2, et.EPHEMERAL_STORAGE).amount
        return (b > a) - (b < a)

    return _with_stats(stats, compare)


def ordered_by(pods: Iterable[Obj], *cmps: Cmp) -> list[Obj]:
    """`pods` sorted by the comparisons, each deciding only ties of the ones before."""

    def cmp(p1: Obj, p2: Obj) -> int:
        for compare in cmps:
            result = compare(p1, p2)
            if result:
                return result
        return 0

    return sorted(pods, key=functools.cmp_to_key(cmp))


def rank_memory_pressure(pods: Iterable[Obj], stats: StatsFunc) -> list[Obj]:
    """Pods over their memory request first, then lower priority, then larger usage above
    the request."""
    return ordered_by(pods, exceed_memory_requests(stats), priority, memory(stats))


def rank_pid_pressure(pods: Iterable[Obj], stats: StatsFunc) -> list[Obj]:
    return ordered_by(pods, priority, process(stats))


def rank_disk_pressure(measure: DiskMeasure, resource: str
                       ) -> Callable[[Iterable[Obj], StatsFunc], list[Obj]]:
    def rank(pods: Iterable[Obj], stats: StatsFunc) -> list[Obj]:
        return ordered_by(pods, exceed_disk_requests(stats, measure, resource), priority,
                          disk(stats, measure, resource))

    return rank


RankFunc = Callable[[Iterable[Obj], StatsFunc], list[Obj]]


def signal_to_rank_func(*, dedicated_image_fs: bool) -> dict[str, RankFunc]:
    """The ranking of each signal (upstream buildSignalToRankFunc, without a split
    container filesystem): with a dedicated imagefs, nodefs counts logs and local volumes and
    imagefs the containers' writable layers; without one, both count everything."""
    ranks: dict[str, RankFunc] = {
        et.MEMORY_AVAILABLE: rank_memory_pressure,
        et.ALLOCATABLE_MEMORY_AVAILABLE: rank_memory_pressure,
        et.PID_AVAILABLE: rank_pid_pressure,
    }
    everything = DiskMeasure()
    nodefs = DiskMeasure(root=False) if dedicated_image_fs else everything
    imagefs = DiskMeasure(logs=False, local_volumes=False) if dedicated_image_fs else everything
    ranks[et.NODEFS_AVAILABLE] = rank_disk_pressure(nodefs, et.EPHEMERAL_STORAGE)
    ranks[et.NODEFS_INODES_FREE] = rank_disk_pressure(nodefs, et.INODES)
    ranks[et.IMAGEFS_AVAILABLE] = rank_disk_pressure(imagefs, et.EPHEMERAL_STORAGE)
    ranks[et.IMAGEFS_INODES_FREE] = rank_disk_pressure(imagefs, et.INODES)
    return ranks


# --- messages --------------------------------------------------------------------------------


def _threshold_met_info(resource: str, thresholds: Iterable[et.Threshold],
                        observations: Mapping[str, et.Observation]
                        ) -> tuple[quantity.Quantity, quantity.Quantity] | None:
    for threshold in thresholds:
        if et.SIGNAL_TO_RESOURCE.get(threshold.signal) == resource:
            observed = observations.get(threshold.signal)
            if observed is not None:
                return threshold.value.amount(observed.capacity), observed.available
    return None


def _container_usage(container_stats: Obj, resource: str) -> int | None:
    if resource == et.EPHEMERAL_STORAGE:
        root = _used_bytes(container_stats.get("rootfs"))
        logs = _used_bytes(container_stats.get("logs"))
        return None if root is None or logs is None else root + logs
    if resource == et.MEMORY:
        value = (container_stats.get("memory") or {}).get("workingSetBytes")
        return None if value is None else int(value)
    return None


def eviction_message(resource: str, pod: Obj, stats: StatsFunc,
                     thresholds: Iterable[et.Threshold],
                     observations: Mapping[str, et.Observation]) -> str:
    """Why the pod is evicted for node pressure, in upstream's words: the resource, the
    threshold and what was available, and each container using more than it requested."""
    message = MSG_NODE_LOW.format(resource=resource)
    info = _threshold_met_info(resource, thresholds, observations)
    if info is not None:
        message += MSG_THRESHOLD_MET.format(quantity=info[0], available=info[1])
    pod_stats = stats(pod)
    if pod_stats is None:
        return message
    spec = pod.get("spec") or {}
    containers: dict[str, Obj] = {}
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        containers.setdefault(container.get("name"), container)
    for container_stats in pod_stats.get("containers") or []:
        container = containers.get(container_stats.get("name"))
        if container is None:
            continue
        request = _container_amount(container, "requests", resource) or \
            quantity.from_int(0, quantity.DECIMAL_SI)
        usage = _container_usage(container_stats, resource)
        if usage is not None and Fraction(usage) > request.amount:
            message += MSG_CONTAINER.format(
                name=container.get("name"), usage=quantity.from_int(usage, quantity.BINARY_SI),
                request=request, resource=resource)
    return message


# --- local storage limits -------------------------------------------------------------------


def empty_dir_limit_violation(pod_stats: Obj, pod: Obj) -> str | None:
    """The message when an emptyDir uses more than its sizeLimit, else None."""
    used = {v.get("name"): _used_bytes(v) for v in pod_stats.get("volume") or []}
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        empty_dir = volume.get("emptyDir")
        if empty_dir is None or empty_dir.get("sizeLimit") is None:
            continue
        size = quantity.from_json(empty_dir["sizeLimit"])
        usage = used.get(volume.get("name"))
        if usage is not None and size.sign() > 0 and Fraction(usage) > size.amount:
            return MSG_EMPTY_DIR.format(name=volume.get("name"), limit=size)
    return None


def pod_ephemeral_storage_violation(pod_stats: Obj, pod: Obj) -> str | None:
    """The message when the pod's ephemeral storage exceeds its containers' total limit."""
    limit = pod_total(pod, et.EPHEMERAL_STORAGE, field="limits")
    if limit is None:
        return None
    usage = _used_bytes(pod_stats.get("ephemeral-storage")) or 0
    if Fraction(usage) > limit.amount:
        return MSG_POD_EPHEMERAL_STORAGE.format(limit=limit)
    return None


def container_ephemeral_storage_violation(pod_stats: Obj, pod: Obj, *,
                                          dedicated_image_fs: bool) -> str | None:
    """The message when a container's logs (and writable layer, unless images live on
    their own filesystem) exceed its ephemeral-storage limit."""
    limits = {}
    for container in (pod.get("spec") or {}).get("containers") or []:
        limit = _container_amount(container, "limits", et.EPHEMERAL_STORAGE)
        if limit is not None and limit.value() != 0:
            limits[container.get("name")] = limit
    for container_stats in pod_stats.get("containers") or []:
        used = _used_bytes(container_stats.get("logs")) or 0
        if not dedicated_image_fs:
            used += _used_bytes(container_stats.get("rootfs")) or 0
        limit = limits.get(container_stats.get("name"))
        if limit is not None and limit.amount < Fraction(used):
            return MSG_CONTAINER_EPHEMERAL_STORAGE.format(name=container_stats.get("name"),
                                                          limit=limit)
    return None


def local_storage_violation(pod_stats: Obj, pod: Obj, *, dedicated_image_fs: bool) -> str | None:
    """The first of the pod's local storage limits it exceeds (emptyDir, pod, container, in
    upstream's order), as the eviction message; None when it keeps within them."""
    return empty_dir_limit_violation(pod_stats, pod) or \
        pod_ephemeral_storage_violation(pod_stats, pod) or \
        container_ephemeral_storage_violation(pod_stats, pod,
                                              dedicated_image_fs=dedicated_image_fs)


# --- the manager ----------------------------------------------------------------------------


class SummaryProvider(Protocol):
    """What the manager needs of `kajitori.kubelet.stats.StatsProvider`."""

    async def summary(self) -> Obj: ...


class PodTerminator(Protocol):
    """What the manager needs of the pod workers (upstream's PodTerminator)."""

    async def terminate_pod_abnormally(self, pod: Obj, *, grace_seconds: int, reason: str,
                                       message: str, conditions: Sequence[Obj] = ()) -> bool:
        """Kill the pod's containers with `grace_seconds` and report it Failed with
        `reason`, `message` and `conditions`; return once it is terminated (True) or when
        that takes too long (False)."""
        ...


Reclaimer = Callable[[], Awaitable[None]]
"""Frees node-level resources (upstream's DeleteAllUnusedContainers, DeleteUnusedImages)."""


@dataclass(frozen=True)
class Config:
    """The manager's settings (upstream's eviction Config)."""

    thresholds: tuple[et.Threshold, ...]
    pressure_transition_period: float = 300.0
    """Seconds a pressure condition stays True after its threshold was last met."""
    max_pod_grace_period_seconds: int = 0
    """The grace period of a soft-threshold eviction (evictionMaxPodGracePeriod)."""
    local_storage_capacity_isolation: bool = True
    """Enforce ephemeral-storage limits and emptyDir sizeLimits (upstream's default)."""
    dedicated_image_fs: bool = False
    """The runtime's images live on another filesystem than the kubelet's root dir."""


def disruption_target(message: str, *, now: str) -> Obj:
    """The pod condition of an eviction for node pressure."""
    return {"type": DISRUPTION_TARGET, "status": "True", "lastProbeTime": None,
            "lastTransitionTime": now, "reason": TERMINATION_BY_KUBELET, "message": message}


class EvictionManager:
    """Watches the node's signals and evicts pods until cancelled (`run`).

    `node_conditions()` (what the node status and the pod admission,
    `kajitori.kubelet.predicate`, read) and `is_under_*_pressure()` may be called at any time.
    A failed Summary read is logged and the cycle skipped. `on_conditions_changed` (the node
    status manager's wake-up) is called when the set of pressure conditions changes."""

    def __init__(self, summary: SummaryProvider, *, config: Config,
                 terminator: PodTerminator, active_pods: Callable[[], list[Obj]],
                 recorder: events.EventRecorder, node_name: str,
                 on_conditions_changed: Callable[[], None] | None = None,
                 clock: clock_.Clock | None = None,
                 now_text: Callable[[], str] | None = None) -> None:
        """`now_text` gives the RFC 3339 time of the DisruptionTarget condition (tests pass
        a fixed one)."""
        self._summary = summary
        self._config = config
        self._terminator = terminator
        self._active_pods = active_pods
        self._recorder = recorder
        self._node_name = node_name
        self._reclaimers: list[Reclaimer] = []
        self._on_conditions_changed = on_conditions_changed
        self._clock: clock_.Clock = clock or clock_.LoopClock()
        self._now_text = now_text or _now_text
        self._ranks = signal_to_rank_func(dedicated_image_fs=config.dedicated_image_fs)
        self._conditions: list[str] = []
        self._conditions_last_observed_at: dict[str, float] = {}
        self._thresholds_first_observed_at: dict[et.Threshold, float] = {}
        self._thresholds_met: list[et.Threshold] = []
        self._last_observations: dict[str, et.Observation] = {}

    def add_reclaimer(self, reclaim: Reclaimer) -> None:
        """Have `reclaim` free disk before pods are evicted for a disk signal, after those
        added before it (upstream's order: the container garbage collector's
        DeleteAllUnusedContainers, then the image collector's DeleteUnusedImages)."""
        self._reclaimers.append(reclaim)

    # --- what others read ----------------------------------------------------------------

    def node_conditions(self) -> list[str]:
        """The pressure conditions that are True now (MemoryPressure, ...)."""
        return list(self._conditions)

    def is_under_memory_pressure(self) -> bool:
        return nodestatus.MEMORY_PRESSURE in self._conditions

    def is_under_disk_pressure(self) -> bool:
        return nodestatus.DISK_PRESSURE in self._conditions

    def is_under_pid_pressure(self) -> bool:
        return nodestatus.PID_PRESSURE in self._conditions

    # --- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Synchronize every HOUSEKEEPING_INTERVAL until cancelled; after an eviction the next
        cycle starts at once (the evicted pods are terminated by then)."""
        while True:
            try:
                evicted = await self.synchronize()
            except Exception:
                # A bug in one cycle must not end the node's eviction for good.
                log.exception("eviction manager: failed to synchronize")
                evicted = []
            if not evicted:
                await self._clock.sleep(HOUSEKEEPING_INTERVAL)

    async def synchronize(self) -> list[Obj]:
        """One cycle (upstream synchronize): returns the pods evicted."""
        thresholds = list(self._config.thresholds)
        if not thresholds and not self._config.local_storage_capacity_isolation:
            return []
        active = self._active_pods()
        try:
            summary = await self._summary.summary()
        except Exception as exc:  # noqa: BLE001 - a failed sample skips one cycle, as upstream
            log.warning("eviction manager: failed to get summary stats: %s", exc)
            return []
        observations = et.make_signal_observations(summary)
        stats = stats_func(summary)
        met = et.thresholds_met(thresholds, observations, enforce_min_reclaim=False)
        if self._thresholds_met:
            unresolved = et.thresholds_met(self._thresholds_met, observations,
                                           enforce_min_reclaim=True)
            met = et.merge_thresholds(met, unresolved)
        now = self._clock.now()
        first_observed = et.thresholds_first_observed_at(met, self._thresholds_first_observed_at,
                                                         now)
        conditions_at = et.node_conditions_last_observed_at(
            et.node_conditions(met), self._conditions_last_observed_at, now)
        conditions = et.node_conditions_observed_since(
            conditions_at, self._config.pressure_transition_period, now)
        met = et.thresholds_met_grace_period(first_observed, now)
        changed = sorted(conditions) != sorted(self._conditions)
        self._conditions = conditions
        self._thresholds_first_observed_at = first_observed
        self._conditions_last_observed_at = conditions_at
        self._thresholds_met = met
        updated = et.thresholds_updated_stats(met, observations, self._last_observations)
        self._last_observations = observations
        if changed and self._on_conditions_changed is not None:
            self._on_conditions_changed()

        if self._config.local_storage_capacity_isolation:
            evicted = await self.local_storage_eviction(active, stats)
            if evicted:
                return evicted
        if not updated:
            return []
        return await self._evict_for(et.by_eviction_priority(updated), active, stats,
                                     observations)

    async def _evict_for(self, thresholds: list[et.Threshold], active: list[Obj],
                         stats: StatsFunc, observations: Mapping[str, et.Observation]
                         ) -> list[Obj]:
        threshold = next((t for t in thresholds if t.signal in et.SIGNAL_TO_RESOURCE), None)
        if threshold is None:
            return []
        resource = et.SIGNAL_TO_RESOURCE[threshold.signal]
        log.info("eviction manager: attempting to reclaim %s", resource)
        self._recorder.event(_node_reference(self._node_name), events.WARNING,
                             EVICTION_THRESHOLD_MET,
                             MSG_ATTEMPTING_TO_RECLAIM.format(resource=resource))
        if await self.reclaim_node_level_resources(threshold.signal):
            log.info("eviction manager: able to reduce %s pressure without evicting pods",
                     resource)
            return []
        rank = self._ranks.get(threshold.signal)
        if rank is None or not active:
            log.error("eviction manager: thresholds met, but no pod can be evicted")
            return []
        for pod in rank(active, stats):
            grace = IMMEDIATE_EVICTION_GRACE_PERIOD_SECONDS if threshold.is_hard else \
                self._config.max_pod_grace_period_seconds
            message = eviction_message(resource, pod, stats, thresholds, observations)
            condition = disruption_target(message, now=self._now_text())
            if await self.evict_pod(pod, grace_seconds=grace, message=message,
                                    condition=condition):
                return [pod]
        log.info("eviction manager: unable to evict any pods from the node")
        return []

    async def reclaim_node_level_resources(self, signal: str) -> bool:
        """For a disk signal, run the reclaimers and sample again: True when no threshold
        is met any more (counting minimum reclaim), so no pod need go."""
        if signal in et.MEMORY_SIGNALS or signal == et.PID_AVAILABLE or not self._reclaimers:
            return False
        for reclaim in self._reclaimers:
            try:
                await reclaim()
            except Exception as exc:  # noqa: BLE001 - a failed collector must not stop eviction
                log.info("eviction manager: unexpected error when attempting to reduce "
                         "resource pressure: %s", exc)
        try:
            summary = await self._summary.summary()
        except Exception as exc:  # noqa: BLE001
            log.warning("eviction manager: failed to get summary stats after resource "
                        "reclaim: %s", exc)
            return False
        observations = et.make_signal_observations(summary)
        return not et.thresholds_met(self._config.thresholds, observations,
                                     enforce_min_reclaim=True)

    async def local_storage_eviction(self, pods: list[Obj], stats: StatsFunc) -> list[Obj]:
        """Evict every pod over one of its local storage limits."""
        evicted = []
        for pod in pods:
            pod_stats = stats(pod)
            if pod_stats is None:
                continue
            message = local_storage_violation(
                pod_stats, pod, dedicated_image_fs=self._config.dedicated_image_fs)
            if message is not None and await self.evict_pod(
                    pod, grace_seconds=IMMEDIATE_EVICTION_GRACE_PERIOD_SECONDS,
                    message=message, condition=None):
                evicted.append(pod)
        return evicted

    async def evict_pod(self, pod: Obj, *, grace_seconds: int, message: str,
                        condition: Obj | None) -> bool:
        """Record the `Evicted` event and terminate the pod; False for a critical pod,
        which is never evicted. Waits for the termination (a slow one is logged)."""
        if predicate.is_critical_pod(pod):
            log.error("eviction manager: cannot evict a critical pod %s/%s",
                      meta.namespace(pod), meta.name(pod))
            return False
        self._recorder.event(pod, events.WARNING, REASON_EVICTED, message)
        log.info("evicting pod %s/%s: %s", meta.namespace(pod), meta.name(pod), message)
        done = await self._terminator.terminate_pod_abnormally(
            pod, grace_seconds=grace_seconds, reason=REASON_EVICTED, message=message,
            conditions=[condition] if condition else [])
        if done:
            log.info("eviction manager: pod %s/%s is evicted successfully", meta.namespace(pod),
                     meta.name(pod))
        else:
            log.error("eviction manager: pod %s/%s failed to evict in time",
                      meta.namespace(pod), meta.name(pod))
        return True


def _node_reference(node_name: str) -> Obj:
    """Upstream's nodeRef: the Node whose UID is its name."""
    return {"kind": "Node", "metadata": {"name": node_name, "uid": node_name}}


def _now_text() -> str:
    return meta.format_time(datetime.datetime.now(datetime.UTC))
