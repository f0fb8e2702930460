"""The ReplicaSet controller: keeps each ReplicaSet's active pods at `spec.replicas`.

Mirrors pkg/controller/replicaset/replica_set.go and replica_set_utils.go, with the pod
helpers of pkg/controller/controller_utils.go it relies on (`FilterActivePods`,
`ActivePodsWithRanks`, `slowStartBatch`) and pkg/api/v1/pod's `IsPodAvailable`. A sync:

1. claims the namespace's active pods (adopting orphans the selector matches, releasing owned
   pods it no longer matches: `controllerrefmanager`);
2. if its expectations are satisfied and the ReplicaSet is not being deleted, creates the
   missing pods in slow-start batches (1, 2, 4, ... stopping at the first failure) or deletes
   the surplus, the least valuable first as upstream ranks them, at most `burst_replicas` a
   sync;
3. writes status (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas after
   `minReadySeconds`, observedGeneration, the `ReplicaFailure` condition) when it changed.

Pods are written through `podcontrol.PodControl`, which records `SuccessfulCreate`/
`FailedCreate`/`SuccessfulDelete` events on the ReplicaSet. The same controller runs
ReplicationControllers (`replicationcontroller.py`) through `ReplicaSetKind`, as upstream's
`pkg/controller/replication` runs this one on converted objects.

Departures from upstream: no metrics (the deletion-age ratio), and the TerminatingReplicas
alpha field is not reported (its feature gate is off by default in v1.33).
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from kajitori.api import errors, labels, meta
from kajitori.client import clock as clock_
from kajitori.client import events, informer, rest, workqueue
from kajitori.controllers import (
    apistatus,
    controllerrefmanager,
    expectations,
    podcontrol,
    podstate,
    worker,
)

Obj = dict[str, Any]

log = logging.getLogger(__name__)

REPLICASETS = ("apps", "v1", "replicasets")
PODS = ("", "v1", "pods")
CONTROLLER_NAME = "replicaset-controller"
"""The component its events are reported by (upstream's event source)."""

BURST_REPLICAS = 500
"""Pods created or deleted in one sync at most (upstream's BurstReplicas)."""
SLOW_START_INITIAL_BATCH_SIZE = 1
"""The first creation batch; each later one doubles (upstream's SlowStartInitialBatchSize)."""
STATUS_UPDATE_RETRIES = 1
"""Status writes retried once after a conflict, re-reading the object (upstream's value)."""
POD_DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"

REPLICA_FAILURE = "ReplicaFailure"
FAILED_CREATE = podcontrol.FAILED_CREATE_POD_REASON
FAILED_DELETE = podcontrol.FAILED_DELETE_POD_REASON

PENDING, UNKNOWN, RUNNING = "Pending", "Unknown", "Running"
_PHASE_ORDINAL = {PENDING: 0, UNKNOWN: 1, RUNNING: 2}
_RESTART_POLICY_ALWAYS = "Always"


@dataclass(frozen=True)
class ReplicaSetSettings:
    """kube-controller-manager's flags for this controller, with upstream's defaults."""

    concurrent_replicaset_syncs: int = 5
    """`--concurrent-replicaset-syncs` (and `--concurrent-rc-syncs` for the replication
    controller): ReplicaSets synced at once."""
    burst_replicas: int = BURST_REPLICAS
    """Pods created or deleted per sync at most (not a flag upstream either)."""


@dataclass(frozen=True)
class ReplicaSetKind:
    """The resource the controller manages and how its objects read as ReplicaSets."""

    resource: tuple[str, str, str]
    """(group, version, plural) of the managed objects."""
    kind: str
    """The kind in controllerRefs and logs."""
    queue_name: str
    as_replicaset: Callable[[Obj], Obj] = field(default=lambda obj: obj)
    """The object as a ReplicaSet (spec.selector a LabelSelector); keeps apiVersion, kind and
    metadata so events and controllerRefs name the original. Must not change its argument."""


REPLICASET_KIND = ReplicaSetKind(resource=REPLICASETS, kind="ReplicaSet", queue_name="replicaset")


# --- pods ---------------------------------------------------------------------------------------

def is_pod_active(pod: Obj) -> bool:
    """Neither terminal nor being deleted (upstream's IsPodActive)."""
    return not podstate.is_pod_terminal(pod) and not meta.deletion_timestamp(pod)


def filter_active_pods(pods: list[Obj]) -> list[Obj]:
    return [pod for pod in pods if is_pod_active(pod)]


def _utc(text: str | None) -> datetime.datetime | None:
    return meta.parse_time(text) if text else None


def is_pod_available(pod: Obj, min_ready_seconds: int, now: datetime.datetime) -> bool:
    """Ready for at least `min_ready_seconds` (upstream's IsPodAvailable): with 0, ready is
    available; otherwise the Ready condition must have turned true strictly before
    `now - min_ready_seconds`."""
    if not podstate.is_pod_ready(pod):
        return False
    if min_ready_seconds == 0:
        return True
    condition = podstate.ready_condition(pod) or {}
    since = _utc(condition.get("lastTransitionTime"))
    return since is not None and since + datetime.timedelta(seconds=min_ready_seconds) < now


def pod_deletion_cost(pod: Obj) -> int:
    """The `controller.kubernetes.io/pod-deletion-cost` annotation; 0 when absent or not an
    int32 (upstream ignores invalid values when ranking)."""
    text = meta.annotations(pod).get(POD_DELETION_COST_ANNOTATION)
    try:
        value = int(text) if text is not None else 0
    except ValueError:
        return 0
    return value if -(1 << 31) <= value < (1 << 31) else 0


def _max_container_restarts(pod: Obj) -> tuple[int, int]:
    """(regular, sidecar) highest restart counts."""
    status = pod.get("status") or {}
    regular = max((int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or []),
                  default=0)
    sidecars = {c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []
                if c.get("restartPolicy") == _RESTART_POLICY_ALWAYS}
    sidecar = max((int(c.get("restartCount") or 0)
                   for c in status.get("initContainerStatuses") or []
                   if c.get("name") in sidecars), default=0)
    return regular, sidecar


def _log_rank_diff(t1: datetime.datetime, t2: datetime.datetime, now: datetime.datetime) -> int:
    """Upstream's logarithmicRankDiff: compare ages on a log2 scale of nanoseconds, so pods of
    similar age rank alike (LogarithmicScaleDown, on by default)."""
    def rank(moment: datetime.datetime) -> int:
        age_ns = (now - moment) // datetime.timedelta(microseconds=1) * 1000
        return int(math.log2(age_ns)) if age_ns > 0 else -1
    return rank(t1) - rank(t2)


def _after_or_zero(t1: datetime.datetime | None, t2: datetime.datetime | None) -> bool:
    if t1 is None or t2 is None:
        return t1 is None
    return t1 > t2


@dataclass(frozen=True)
class _Ranked:
    pod: Obj
    rank: int


def _less(a: _Ranked, b: _Ranked, now: datetime.datetime) -> bool:
    """Upstream's ActivePodsWithRanks.Less: True when `a` should be deleted before `b`."""
    pa, pb = a.pod, b.pod
    node_a, node_b = (pa.get("spec") or {}).get("nodeName") or "", \
        (pb.get("spec") or {}).get("nodeName") or ""
    # 1. unassigned < assigned
    if node_a != node_b and (not node_a or not node_b):
        return not node_a
    # 2. Pending < Unknown < Running
    phase_a = _PHASE_ORDINAL.get((pa.get("status") or {}).get("phase", ""), 0)
    phase_b = _PHASE_ORDINAL.get((pb.get("status") or {}).get("phase", ""), 0)
    if phase_a != phase_b:
        return phase_a < phase_b
    # 3. not ready < ready
    ready_a, ready_b = podstate.is_pod_ready(pa), podstate.is_pod_ready(pb)
    if ready_a != ready_b:
        return not ready_a
    # 4. lower pod-deletion-cost < higher
    cost_a, cost_b = pod_deletion_cost(pa), pod_deletion_cost(pb)
    if cost_a != cost_b:
        return cost_a < cost_b
    # 5. doubled up (more related active pods on the same node) < not doubled up
    if a.rank != b.rank:
        return a.rank > b.rank
    # 6. ready for a shorter time < longer
    if ready_a and ready_b:
        since_a = _utc((podstate.ready_condition(pa) or {}).get("lastTransitionTime"))
        since_b = _utc((podstate.ready_condition(pb) or {}).get("lastTransitionTime"))
        if since_a != since_b:
            if since_a is None or since_b is None:
                return _after_or_zero(since_a, since_b)
            diff = _log_rank_diff(since_a, since_b, now)
            if diff == 0:
                return meta.uid(pa) < meta.uid(pb)
            return diff < 0
    # 7. more restarts < fewer
    restarts_a, restarts_b = _max_container_restarts(pa), _max_container_restarts(pb)
    if restarts_a[0] != restarts_b[0]:
        return restarts_a[0] > restarts_b[0]
    if restarts_a[1] != restarts_b[1]:
        return restarts_a[1] > restarts_b[1]
    # 8. empty creation time < newer < older
    created_a = _utc(meta.metadata(pa).get("creationTimestamp"))
    created_b = _utc(meta.metadata(pb).get("creationTimestamp"))
    if created_a != created_b:
        if created_a is None or created_b is None:
            return _after_or_zero(created_a, created_b)
        diff = _log_rank_diff(created_a, created_b, now)
        if diff == 0:
            return meta.uid(pa) < meta.uid(pb)
        return diff < 0
    return False


def get_pods_to_delete(active_pods: list[Obj], related_pods: list[Obj], diff: int, *,
                       now: datetime.datetime) -> list[Obj]:
    """The `diff` pods to delete, least valuable first (upstream's getPodsToDelete): ranked
    by phase, readiness, deletion cost, how many active `related_pods` (pods of ReplicaSets
    with the same owner) share their node, age and restarts."""
    if diff >= len(active_pods):
        return active_pods[:diff]
    per_node: dict[str, int] = {}
    for pod in related_pods:
        if is_pod_active(pod):
            node = (pod.get("spec") or {}).get("nodeName") or ""
            per_node[node] = per_node.get(node, 0) + 1
    ranked = [_Ranked(pod, per_node.get((pod.get("spec") or {}).get("nodeName") or "", 0))
              for pod in active_pods]

    def compare(a: _Ranked, b: _Ranked) -> int:
        if _less(a, b, now):
            return -1
        return 1 if _less(b, a, now) else 0

    ranked.sort(key=functools.cmp_to_key(compare))
    return [r.pod for r in ranked[:diff]]


async def slow_start_batch(count: int, initial_batch_size: int,
                           fn: Callable[[], Awaitable[None]]) -> tuple[int, Exception | None]:
    """Call `fn` `count` times in batches of growing size (1, 2, 4, ...), each batch at once;
    stop after the first batch with a failure. Returns the successes and the first failure,
    so a caller that asks for 500 pods in a namespace whose quota allows none makes one
    failed request, not 500 (upstream's slowStartBatch)."""
    remaining, successes = count, 0
    batch = min(remaining, initial_batch_size)
    while batch > 0:
        results = await asyncio.gather(*(fn() for _ in range(batch)), return_exceptions=True)
        failures: list[Exception] = []
        for result in results:
            if isinstance(result, Exception):
                failures.append(result)
            elif isinstance(result, BaseException):
                raise result  # cancellation is not a failure to count
        successes += batch - len(failures)
        if failures:
            return successes, failures[0]
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes, None


# --- status -------------------------------------------------------------------------------------

def get_condition(status: Obj, type_: str) -> Obj | None:
    return next((c for c in status.get("conditions") or [] if c.get("type") == type_), None)


def calculate_status(rs: Obj, active_pods: list[Obj], manage_error: Exception | None, *,
                     now: datetime.datetime) -> Obj:
    """The ReplicaSet's new status from its claimed active pods (upstream's calculateStatus);
    observedGeneration is set by the writer. A failed manage adds `ReplicaFailure`
    (`FailedCreate` or `FailedDelete`, the error as message) unless one is there; a
    successful one removes it."""
    spec = rs.get("spec") or {}
    status: Obj = dict(rs.get("status") or {})
    template_labels = labels.from_set((spec.get("template") or {}).get("metadata", {})
                                      .get("labels"))
    min_ready = int(spec.get("minReadySeconds") or 0)
    fully_labeled = ready = available = 0
    for pod in active_pods:
        if template_labels.matches(meta.labels(pod)):
            fully_labeled += 1
        if podstate.is_pod_ready(pod):
            ready += 1
            if is_pod_available(pod, min_ready, now):
                available += 1
    failure = get_condition(status, REPLICA_FAILURE)
    if manage_error is not None and failure is None:
        diff = len(active_pods) - int(spec.get("replicas", 1))
        reason = FAILED_CREATE if diff < 0 else FAILED_DELETE if diff > 0 else ""
        status["conditions"] = [*(status.get("conditions") or []), {
            "type": REPLICA_FAILURE, "status": "True", "lastTransitionTime": meta.format_time(now),
            "reason": reason, "message": _error_text(manage_error)}]
    elif manage_error is None and failure is not None:
        kept = [c for c in status.get("conditions") or [] if c.get("type") != REPLICA_FAILURE]
        if kept:
            status["conditions"] = kept
        else:
            status.pop("conditions", None)
    status["replicas"] = len(active_pods)
    status["fullyLabeledReplicas"] = fully_labeled
    status["readyReplicas"] = ready
    status["availableReplicas"] = available
    return status


def _error_text(exc: Exception) -> str:
    if isinstance(exc, errors.StatusError):
        return str(exc.status.get("message") or exc)
    return str(exc)


_COUNTS = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas")


def status_unchanged(rs: Obj, new_status: Obj) -> bool:
    """The steady state: counts and conditions as stored and the generation observed."""
    old = rs.get("status") or {}
    return all(int(old.get(k) or 0) == int(new_status.get(k) or 0) for k in _COUNTS) and \
        meta.generation(rs) == int(old.get("observedGeneration") or 0) and \
        (old.get("conditions") or []) == (new_status.get("conditions") or [])


# --- the controller ------------------------------------------------------------------------------

def _wall_clock() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class ReplicaSetController:
    """Keeps each ReplicaSet's (or, with `kind`, ReplicationController's) active pods at
    `spec.replicas`; one key is never synced twice at once (the work queue's guarantee)."""

    def __init__(self, *, client: rest.RESTClient, replicasets: informer.Informer,
                 pods: informer.Informer, pod_control: podcontrol.PodControl,
                 kind: ReplicaSetKind = REPLICASET_KIND,
                 settings: ReplicaSetSettings | None = None,
                 recorder: events.EventRecorder | None = None,
                 clock: clock_.Clock | None = None,
                 now: Callable[[], datetime.datetime] = _wall_clock) -> None:
        """`recorder` is the one behind `pod_control`, whose `run` this controller's `run`
        owns (None in unit tests). `clock` paces the queue and expectations (tests pass a
        FakeClock); `now` is wall-clock time for availability."""
        self._client = client
        self._rs = replicasets
        self._pods = pods
        self._pod_control = pod_control
        self._kind = kind
        self._settings = settings or ReplicaSetSettings()
        self._recorder = recorder
        self._now = now
        self.expectations = expectations.UIDTrackingExpectations(clock=clock)
        self.queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
            name=kind.queue_name, clock=clock)
        replicasets.add_handlers(on_add=self._add_rs, on_update=self._update_rs,
                                 on_delete=self._delete_rs)
        pods.add_handlers(on_add=self._add_pod, on_update=self._update_pod,
                          on_delete=self._delete_pod)

    async def run(self) -> None:
        """Wait for the caches, then sync with `concurrent_replicaset_syncs` workers until
        cancelled."""
        await worker.run_workers(
            self.queue, self.sync, what=self._kind.kind,
            workers=self._settings.concurrent_replicaset_syncs,
            informers=(self._rs, self._pods),
            alongside=() if self._recorder is None else (self._recorder.run,))

    # --- event handlers: resolve the owner, enqueue its key -----------------------------------

    def _enqueue(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        self.queue.add(informer.meta_namespace_key(obj))

    def _add_rs(self, rs: Obj) -> None:
        self._enqueue(rs)

    def _update_rs(self, old: Obj, new: Obj) -> None:
        if meta.uid(old) != meta.uid(new):
            # Deleted and recreated under the same name while the watch was away: the old one's
            # expectations must not hold the new one back.
            self._delete_rs(informer.DeletedFinalStateUnknown(
                informer.meta_namespace_key(old), old))
        self._enqueue(new)

    def _delete_rs(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        key = informer.meta_namespace_key(obj)
        self.expectations.delete_expectations(key)
        self.queue.add(key)

    def _resolve_controller_ref(self, namespace: str, ref: Obj) -> Obj | None:
        return controllerrefmanager.resolve_controller_ref(self._rs.cache, namespace, ref,
                                                           kind=self._kind.kind)

    def _matching_replicasets(self, pod: Obj) -> list[Obj]:
        """ReplicaSets of the pod's namespace whose selector matches it (orphan adoption)."""
        pod_labels = meta.labels(pod)
        if not pod_labels:
            return []
        return controllerrefmanager.selecting(
            self._rs.cache.list(meta.namespace(pod)), pod_labels,
            selector_of=lambda cached: (self._kind.as_replicaset(cached).get("spec") or {})
            .get("selector"))

    def _add_pod(self, pod: Obj) -> None:
        if meta.deletion_timestamp(pod):
            # Seen first while already terminating (a restart): count it as a deletion.
            self._delete_pod(pod)
            return
        ref = podcontrol.get_controller_of(pod)
        if ref is not None:
            rs = self._resolve_controller_ref(meta.namespace(pod), ref)
            if rs is not None:
                key = informer.meta_namespace_key(rs)
                self.expectations.creation_observed(key)
                self.queue.add(key)
            return
        for rs in self._matching_replicasets(pod):
            self._enqueue(rs)

    def _update_pod(self, old: Obj, new: Obj) -> None:
        if meta.resource_version(old) == meta.resource_version(new):
            return  # a resync
        labels_changed = meta.labels(old) != meta.labels(new)
        if meta.deletion_timestamp(new):
            # A graceful deletion shows first as an update; count it now, not when the pod is
            # finally removed, so a replacement is created during the grace period.
            self._delete_pod(new)
            if labels_changed:
                self._delete_pod(old)
            return
        new_ref, old_ref = podcontrol.get_controller_of(new), podcontrol.get_controller_of(old)
        if new_ref != old_ref and old_ref is not None:
            previous = self._resolve_controller_ref(meta.namespace(old), old_ref)
            if previous is not None:
                self._enqueue(previous)
        if new_ref is not None:
            rs = self._resolve_controller_ref(meta.namespace(new), new_ref)
            if rs is None:
                return
            self._enqueue(rs)
            # A pod that just became ready turns available after minReadySeconds: look again
            # then (upstream adds a second for clock skew).
            min_ready = int(((self._kind.as_replicaset(rs).get("spec") or {})
                             .get("minReadySeconds")) or 0)
            if min_ready > 0 and not podstate.is_pod_ready(old) and podstate.is_pod_ready(new):
                self.queue.add_after(informer.meta_namespace_key(rs), min_ready + 1.0)
            return
        if labels_changed or new_ref != old_ref:
            for rs in self._matching_replicasets(new):
                self._enqueue(rs)

    def _delete_pod(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        pod = informer.deleted_object(obj)
        ref = podcontrol.get_controller_of(pod)
        if ref is None:
            return
        rs = self._resolve_controller_ref(meta.namespace(pod), ref)
        if rs is None:
            return
        key = informer.meta_namespace_key(rs)
        self.expectations.deletion_observed(key, informer.meta_namespace_key(pod))
        self.queue.add(key)

    # --- sync ------------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        """Reconcile one ReplicaSet from the caches. Raises the first pod write failure (after
        status recorded it) or a status write failure, for the worker to requeue."""
        cached = self._rs.cache.get(key)
        if cached is None:
            self.expectations.delete_expectations(key)
            return
        rs = self._kind.as_replicaset(cached)
        needs_sync = self.expectations.satisfied_expectations(key)
        try:
            selector = labels.from_label_selector((rs.get("spec") or {}).get("selector"))
        except errors.StatusError as exc:
            log.error("error converting pod selector to selector for %s %s: %s",
                      self._kind.kind, key, exc)
            return
        # All pods of the namespace, not only matching ones: owned pods whose labels changed
        # must be released.
        active = filter_active_pods(self._pods.cache.list(meta.namespace(rs)))
        owned = await self._claim_pods(cached, rs, selector, active)
        manage_error: Exception | None = None
        if needs_sync and not meta.deletion_timestamp(rs):
            manage_error = await self.manage_replicas(key, rs, owned)
        now = self._now()
        new_status = calculate_status(rs, owned, manage_error, now=now)
        updated = await self._update_status(cached, new_status)
        spec = (self._kind.as_replicaset(updated).get("spec") or {})
        status = updated.get("status") or {}
        replicas = int(spec.get("replicas", 1))
        min_ready = int(spec.get("minReadySeconds") or 0)
        if manage_error is None and min_ready > 0 and \
                int(status.get("readyReplicas") or 0) == replicas and \
                int(status.get("availableReplicas") or 0) != replicas:
            # A last line of defence against clock skew between pods' conditions and us.
            self.queue.add_after(key, float(min_ready))
        if manage_error is not None:
            raise manage_error

    async def _claim_pods(self, cached: Obj, rs: Obj, selector: labels.Selector,
                          pods: list[Obj]) -> list[Obj]:
        group, version, plural = self._kind.resource
        path = rest.resource_path(group, version, plural, namespace=meta.namespace(rs),
                                  name=meta.name(rs))
        manager = controllerrefmanager.ControllerRefManager(
            rs, selector=selector, controller_ref=podcontrol.new_controller_ref(cached),
            can_adopt=controllerrefmanager.recheck_deletion_timestamp(
                controllerrefmanager.fresh_with_same_uid(lambda: self._client.get(path), rs)),
            patch=self._pod_control.patch_pod)
        return await manager.claim(pods)

    async def manage_replicas(self, key: str, rs: Obj, active_pods: list[Obj]
                              ) -> Exception | None:
        """Create or delete pods towards `spec.replicas` (upstream's manageReplicas); returns
        the first failure (expectations already lowered for what will never be observed)."""
        replicas = int((rs.get("spec") or {}).get("replicas", 1))
        diff = len(active_pods) - replicas
        namespace = meta.namespace(rs)
        if diff < 0:
            count = min(-diff, self._settings.burst_replicas)
            self.expectations.expect_creations(key, count)
            log.info("too few replicas for %s %s: need %d, creating %d", self._kind.kind, key,
                     replicas, count)
            template = (rs.get("spec") or {}).get("template") or {}
            controller_ref = podcontrol.new_controller_ref(rs)

            async def create() -> None:
                try:
                    await self._pod_control.create_pods(namespace, template,
                                                        controller_object=rs,
                                                        controller_ref=controller_ref)
                except errors.StatusError as exc:
                    if apistatus.has_status_cause(exc, apistatus.NAMESPACE_TERMINATING_CAUSE):
                        return  # every create will fail; nothing to retry
                    raise

            successes, failure = await slow_start_batch(count, SLOW_START_INITIAL_BATCH_SIZE,
                                                        create)
            for _ in range(count - successes):
                # Failed or never attempted: the informer will not see these pods.
                self.expectations.creation_observed(key)
            return failure
        if diff > 0:
            count = min(diff, self._settings.burst_replicas)
            log.info("too many replicas for %s %s: need %d, deleting %d", self._kind.kind, key,
                     replicas, count)
            doomed = get_pods_to_delete(active_pods, self._indirectly_related_pods(rs), count,
                                        now=self._now())
            self.expectations.expect_deletions(key, [informer.meta_namespace_key(p)
                                                     for p in doomed])

            async def delete(pod: Obj) -> Exception | None:
                try:
                    await self._pod_control.delete_pod(namespace, meta.name(pod),
                                                       controller_object=rs)
                except errors.StatusError as exc:
                    self.expectations.deletion_observed(key, informer.meta_namespace_key(pod))
                    return None if exc.code == 404 else exc
                return None

            results = await asyncio.gather(*(delete(pod) for pod in doomed))
            return next((r for r in results if r is not None), None)
        return None

    def _indirectly_related_pods(self, rs: Obj) -> list[Obj]:
        """Pods controlled by any ReplicaSet that has the same controller as `rs` (the
        Deployment's other revisions), for ranking by co-location."""
        owner = podcontrol.get_controller_of(rs)
        namespace = meta.namespace(rs)
        related_uids = {meta.uid(rs)}
        if owner is not None:
            for other in self._rs.cache.list(namespace):
                other_owner = podcontrol.get_controller_of(other)
                if other_owner is not None and other_owner.get("uid") == owner.get("uid"):
                    related_uids.add(meta.uid(other))
        return [pod for pod in self._pods.cache.list(namespace)
                if (podcontrol.get_controller_of(pod) or {}).get("uid") in related_uids]

    async def _update_status(self, cached: Obj, new_status: Obj) -> Obj:
        """Write `new_status` with observedGeneration unless nothing changed; on failure re-read
        and retry `STATUS_UPDATE_RETRIES` times (upstream's updateReplicaSetStatus). Returns
        the object as written (or as cached when unchanged)."""
        if status_unchanged(cached, new_status):
            return cached
        group, version, plural = self._kind.resource
        path = rest.resource_path(group, version, plural, namespace=meta.namespace(cached),
                                  name=meta.name(cached))
        # The generation acted on, even when a retry reads a newer object: observing a newer
        # one would be a lie.
        status = {**new_status, "observedGeneration": meta.generation(cached)}
        current = cached
        attempt = 0
        while True:
            try:
                return await self._client.update(f"{path}/status",
                                                 {**current, "status": status})
            except errors.StatusError:
                if attempt >= STATUS_UPDATE_RETRIES:
                    raise
            attempt += 1
            current = await self._client.get(path)


def new_replicaset_controller(client: rest.RESTClient, *,
                              informers: informer.SharedInformerFactory,
                              settings: ReplicaSetSettings | None = None
                              ) -> ReplicaSetController:
    """The ReplicaSet controller on `informers`, writing through `client` and reporting events
    as `replicaset-controller` (upstream's NewReplicaSetController)."""
    recorder = events.EventRecorder(client, component=CONTROLLER_NAME)
    return ReplicaSetController(
        client=client, replicasets=informers.informer_for(*REPLICASETS),
        pods=informers.informer_for(*PODS),
        pod_control=podcontrol.RealPodControl(client, recorder=recorder),
        settings=settings, recorder=recorder)
