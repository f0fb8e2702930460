"""The Job controller: runs a Job's pods to completion, within its limits, and tracks them.

Mirrors pkg/controller/job/job_controller.go (Kubernetes v1.33, with its default feature
gates: JobPodReplacementPolicy, JobManagedBy, JobSuccessPolicy, PodIndexLabel on). A sync
reads the Job and its pods from the caches (adopting matching orphans), decides whether the
Job has failed (`backoffLimit` exceeded, `activeDeadlineSeconds` passed, a `podFailurePolicy`
FailJob rule), met its success criteria (`completions`, or an Indexed Job's `successPolicy`),
or else creates or deletes pods towards `min(parallelism, completions left)`, after the pod
failure back-off (`jobbackoff.py`) and in slow-start batches; a suspended Job deletes its pods.

Pod accounting is upstream's finalizer tracking: every pod is created with the finalizer
`batch.kubernetes.io/job-tracking`; a finished pod's uid is first written to
`status.uncountedTerminatedPods`, then its finalizer is removed, then it is moved into
`status.succeeded`/`failed` (or `completedIndexes`), so a pod is counted exactly once even if
it is deleted or the controller restarts between the steps. A Job's end is recorded in two
steps too: the interim `FailureTarget` or `SuccessCriteriaMet` condition first, and `Failed` or
`Complete` (with `completionTime` and the `Completed` event, or a warning event with the
reason) once no pod is terminating or uncounted. Pods left with the finalizer by a deleted or
finished Job are cleaned by a second worker (the "orphan" queue).

Indexed Jobs are `indexedjob.py`, pod failure policies `podfailurepolicy.py`. Left out of
upstream: `backoffLimitPerIndex`/`maxFailedIndexes` (per-index back-off; a FailIndex rule
counts as a failure), the metrics.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kajitori.api import errors, labels, meta
from kajitori.client import clock as clock_
from kajitori.client import events, informer, rest, workqueue
from kajitori.controllers import (
    apistatus,
    controllerrefmanager,
    expectations,
    indexedjob,
    jobbackoff,
    podcontrol,
    podfailurepolicy,
    worker,
)

Obj = dict[str, Any]

log = logging.getLogger(__name__)

JOBS = ("batch", "v1", "jobs")
PODS = ("", "v1", "pods")
COMPONENT = "job-controller"
CONTROLLER_KIND = "Job"
CONTROLLER_API_VERSION = "batch/v1"
JOB_TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
JOB_CONTROLLER_NAME = "kubernetes.io/job-controller"
"""The `spec.managedBy` value (or its absence) that leaves a Job to this controller."""

MAX_UNCOUNTED_PODS = 500
"""Pods added to `uncountedTerminatedPods` in one sync: keeps the status near 20 KB and stops
one big Job from starving the others."""
MAX_POD_CREATE_DELETE_PER_SYNC = 500
SLOW_START_INITIAL_BATCH_SIZE = 1
DEFAULT_JOB_API_BACKOFF = 1.0
MAX_JOB_API_BACKOFF = 60.0

# Condition types, reasons and messages, and event reasons (upstream's wording).
COMPLETE, FAILED, SUSPENDED = "Complete", "Failed", "Suspended"
FAILURE_TARGET, SUCCESS_CRITERIA_MET = "FailureTarget", "SuccessCriteriaMet"
BACKOFF_LIMIT_EXCEEDED = "BackoffLimitExceeded"
BACKOFF_LIMIT_EXCEEDED_MESSAGE = "Job has reached the specified backoff limit"
DEADLINE_EXCEEDED = "DeadlineExceeded"
DEADLINE_EXCEEDED_MESSAGE = "Job was active longer than specified deadline"
COMPLETIONS_REACHED = "CompletionsReached"
COMPLETIONS_REACHED_MESSAGE = "Reached expected number of succeeded pods"
JOB_SUSPENDED_REASON, JOB_SUSPENDED_MESSAGE = "JobSuspended", "Job suspended"
JOB_RESUMED_REASON, JOB_RESUMED_MESSAGE = "JobResumed", "Job resumed"
COMPLETED_EVENT, COMPLETED_EVENT_MESSAGE = "Completed", "Job completed"
SUSPENDED_EVENT, RESUMED_EVENT = "Suspended", "Resumed"
TOO_MANY_SUCCEEDED_PODS = "TooManySucceededPods"
TOO_MANY_SUCCEEDED_PODS_MESSAGE = "Too many succeeded pods running after completion count reached"
UNKNOWN_COMPLETION_MODE = "UnknownCompletionMode"


@dataclass(frozen=True)
class JobControllerSettings:
    """kube-controller-manager's Job controller flags, and upstream's timing constants
    (exported there "for tests"; tests here shorten them)."""

    concurrent_job_syncs: int = 5
    """`--concurrent-job-syncs`: Jobs synced at once."""
    sync_job_batch_period: float = 1.0
    """Seconds pod events wait before the Job syncs, so a burst of them makes one sync
    (upstream's syncJobBatchPeriod)."""
    pod_failure_backoff: float = 10.0
    """Seconds before replacing the first failed pod; doubled for each further failure
    (DefaultJobPodFailureBackOff)."""
    max_pod_failure_backoff: float = 600.0
    """Cap of that delay, seconds (MaxJobPodFailureBackOff: 10 min since v1.28; the docs
    still say 6 min, the value before)."""


class Recorder(Protocol):
    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None: ...


class JobClient(Protocol):
    """The Job writes of the controller (upstream's updateStatusHandler and the uncached read
    before adopting pods). Raise StatusError."""

    async def get_job(self, namespace: str, name: str) -> Obj: ...

    async def update_status(self, job: Obj) -> Obj:
        """PUT the Job's status; returns the stored Job."""
        ...


class RealJobClient:
    def __init__(self, client: rest.RESTClient) -> None:
        self._client = client

    async def get_job(self, namespace: str, name: str) -> Obj:
        return await self._client.get(rest.resource_path(*JOBS, namespace=namespace,
                                                         name=name))

    async def update_status(self, job: Obj) -> Obj:
        return await self._client.update(
            rest.resource_path(*JOBS, namespace=meta.namespace(job), name=meta.name(job),
                               subresource="status"), job)


# --- pods -------------------------------------------------------------------------------------

def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def is_pod_active(pod: Obj) -> bool:
    return _phase(pod) not in ("Succeeded", "Failed") and not meta.deletion_timestamp(pod)


def _ready_condition(pod: Obj) -> Obj | None:
    return next((c for c in (pod.get("status") or {}).get("conditions") or []
                 if c.get("type") == "Ready"), None)


def is_pod_ready(pod: Obj) -> bool:
    condition = _ready_condition(pod)
    return condition is not None and condition.get("status") == "True"


def is_terminating(pod: Obj) -> bool:
    """Being deleted and not finished (upstream's CountTerminatingPods criterion)."""
    return bool(meta.deletion_timestamp(pod)) and _phase(pod) not in ("Succeeded", "Failed")


_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def _epoch(text: str | None) -> float:
    return meta.parse_time(text).timestamp() if text else 0.0


def removal_order(pod: Obj) -> tuple[int, int, int, float, int, float]:
    """Sort key putting first the pods to delete first (upstream's controller.ActivePods):
    unscheduled, pending, not ready, ready for less time, restarted more, newer."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    ready = is_pod_ready(pod)
    ready_since = _epoch((_ready_condition(pod) or {}).get("lastTransitionTime")) if ready \
        else 0.0
    restarts = max((int(s.get("restartCount") or 0)
                    for s in status.get("containerStatuses") or []), default=0)
    return (1 if spec.get("nodeName") else 0, _PHASE_RANK.get(_phase(pod), 3), int(ready),
            -ready_since, -restarts, -_epoch(meta.metadata(pod).get("creationTimestamp")))


def has_tracking_finalizer(pod: Obj) -> bool:
    return JOB_TRACKING_FINALIZER in meta.finalizers(pod)


REMOVE_TRACKING_FINALIZER_PATCH: Obj = {
    "metadata": {"$deleteFromPrimitiveList/finalizers": [JOB_TRACKING_FINALIZER]}}


async def _delete_each(pods: list[Obj], delete: Callable[[Obj], Awaitable[Exception | None]]
                       ) -> tuple[int, int, Exception | None]:
    """Run `delete` (which returns its failure) on every pod at once: (how many of `pods`
    were ready, how many were deleted, the first failure)."""
    results = await asyncio.gather(*(delete(p) for p in pods))
    failures = [r for r in results if r is not None]
    ready = sum(1 for p in pods if is_pod_ready(p))
    return ready, len(pods) - len(failures), failures[0] if failures else None


# --- Jobs -------------------------------------------------------------------------------------

def _spec(job: Obj) -> Obj:
    return job.get("spec") or {}


def is_job_finished(job: Obj) -> bool:
    return any(c.get("type") in (COMPLETE, FAILED) and c.get("status") == "True"
               for c in (job.get("status") or {}).get("conditions") or [])


def is_suspended(job: Obj) -> bool:
    return bool(_spec(job).get("suspend"))


def managed_by_external_controller(job: Obj) -> str | None:
    managed_by = _spec(job).get("managedBy")
    return managed_by if managed_by is not None and managed_by != JOB_CONTROLLER_NAME else None


def only_replace_failed_pods(job: Obj) -> bool:
    """Replacements wait until a pod has failed, not merely been deleted."""
    spec = _spec(job)
    return spec.get("podReplacementPolicy") == "Failed" or spec.get("podFailurePolicy") is not None


def is_pod_failed(pod: Obj, job: Obj) -> bool:
    """Failed, or (unless only failures are replaced) deleted before it succeeded: orphans
    never reach the Failed phase."""
    if _phase(pod) == "Failed":
        return True
    if only_replace_failed_pods(job):
        return False
    return bool(meta.deletion_timestamp(pod)) and _phase(pod) != "Succeeded"


def find_condition(job: Obj, type_: str) -> Obj | None:
    return next((c for c in (job.get("status") or {}).get("conditions") or []
                 if c.get("type") == type_), None)


def new_condition(type_: str, status: str, reason: str, message: str,
                  now: datetime.datetime) -> Obj:
    stamp = meta.format_time(now)
    condition = {"type": type_, "status": status, "lastProbeTime": stamp,
                 "lastTransitionTime": stamp}
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def ensure_job_condition_status(job: Obj, type_: str, status: str, reason: str, message: str,
                                now: datetime.datetime) -> bool:
    """Set the condition of `type_`, appending it unless it would be a new False one; True
    when the conditions changed."""
    conditions = job.setdefault("status", {}).setdefault("conditions", [])
    for i, condition in enumerate(conditions):
        if condition.get("type") == type_:
            if condition.get("status") != status or condition.get("reason", "") != reason or \
                    condition.get("message", "") != message:
                conditions[i] = new_condition(type_, status, reason, message, now)
                return True
            return False
    if status != "False":
        conditions.append(new_condition(type_, status, reason, message, now))
        return True
    if not conditions:
        del job["status"]["conditions"]
    return False


def past_backoff_limit_on_failure(job: Obj, pods: list[Obj]) -> bool:
    """For `restartPolicy: OnFailure`: the container restarts of running and pending pods
    reach `backoffLimit` (exceed it when it is 0)."""
    spec = _spec(job)
    if ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") != "OnFailure":
        return False
    restarts = 0
    for pod in pods:
        if _phase(pod) in ("Running", "Pending"):
            status = pod.get("status") or {}
            for s in [*(status.get("initContainerStatuses") or []),
                      *(status.get("containerStatuses") or [])]:
                restarts += int(s.get("restartCount") or 0)
    limit = int(spec.get("backoffLimit") or 0)
    return restarts > 0 if limit == 0 else restarts >= limit


def _set_count(status: Obj, key: str, value: int) -> None:
    """Counters the API omits when zero (`omitempty` int32s)."""
    if value:
        status[key] = value
    else:
        status.pop(key, None)


@dataclass
class _Uncounted:
    succeeded: frozenset[str]
    failed: frozenset[str]


@dataclass
class SyncJobCtx:
    """What one sync has learnt about one Job (upstream's syncJobCtx)."""

    job: Obj
    pods: list[Obj]
    active_pods: list[Obj]
    uncounted: _Uncounted
    expected_rm_finalizers: frozenset[str]
    ready: int = 0
    terminating: int = 0
    succeeded: int = 0
    failed: int = 0
    finished_condition: Obj | None = None
    new_backoff_record: jobbackoff.BackoffRecord = field(
        default_factory=lambda: jobbackoff.BackoffRecord(""))
    prev_succeeded_indexes: list[indexedjob.Interval] = field(default_factory=list)
    succeeded_indexes: list[indexedjob.Interval] = field(default_factory=list)


class FinalizerExpectations:
    """The pods (by uid) whose tracking finalizer a Job's sync removed and whose update the
    pod informer has not shown yet (upstream's uidTrackingExpectations in tracking_utils.go):
    until then the pods' cached state must not be counted again."""

    def __init__(self) -> None:
        self._uids: dict[str, set[str]] = {}

    def expected_uids(self, key: str) -> frozenset[str]:
        return frozenset(self._uids.get(key, ()))

    def expect_finalizers_removed(self, key: str, uids: list[str]) -> None:
        self._uids.setdefault(key, set()).update(uids)

    def finalizer_removal_observed(self, key: str, uid: str) -> None:
        uids = self._uids.get(key)
        if uids is not None:
            uids.discard(uid)

    def delete_expectations(self, key: str) -> None:
        self._uids.pop(key, None)


class JobController:
    """Keeps each Job's pods running until it completes or fails; a Job key never syncs twice
    at once."""

    def __init__(self, *, pods: informer.Informer, jobs: informer.Informer,
                 pod_control: podcontrol.PodControl, job_client: JobClient, recorder: Recorder,
                 settings: JobControllerSettings | None = None,
                 now: Callable[[], datetime.datetime] | None = None,
                 clock: clock_.Clock | None = None,
                 run_alongside: tuple[Callable[[], Any], ...] = ()) -> None:
        """`now` is wall-clock time (start times, conditions, deadlines, back-off); tests
        pass a settable one, components None. `clock` paces the queues and expectations
        (tests pass a FakeClock). `run_alongside` are coroutine functions run in `run()`'s
        TaskGroup (the event recorder's `run`)."""
        self._pods = pods
        self._jobs = jobs
        self._pod_control = pod_control
        self._job_client = job_client
        self._recorder = recorder
        self._settings = settings or JobControllerSettings()
        self._now = now or (lambda: datetime.datetime.now(datetime.UTC))
        self._run_alongside = run_alongside
        self.expectations = expectations.ControllerExpectations(clock=clock)
        self.finalizer_expectations = FinalizerExpectations()
        self.backoff_store = jobbackoff.BackoffStore()
        self.queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
            name="job", clock=clock, rate_limiter=workqueue.ItemExponentialFailureRateLimiter(
                DEFAULT_JOB_API_BACKOFF, MAX_JOB_API_BACKOFF))
        self.orphan_queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
            name="job_orphan_pod", clock=clock,
            rate_limiter=workqueue.ItemExponentialFailureRateLimiter(
                DEFAULT_JOB_API_BACKOFF, MAX_JOB_API_BACKOFF))
        jobs.add_handlers(on_add=self._enqueue_immediately, on_update=self._update_job,
                          on_delete=self._delete_job)
        pods.add_handlers(on_add=self._add_pod, on_update=self._update_pod,
                          on_delete=lambda pod: self._delete_pod(pod, final=True))

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                for extra in self._run_alongside:
                    group.create_task(extra())
                await self._pods.wait_for_sync()
                await self._jobs.wait_for_sync()
                for _ in range(self._settings.concurrent_job_syncs):
                    group.create_task(worker.run_worker(self.queue, self.sync, what="Job"))
                group.create_task(worker.run_worker(self.orphan_queue, self.sync_orphan_pod,
                                                    what="orphan pod"))
        finally:
            self.queue.shut_down()
            self.orphan_queue.shut_down()

    # --- event handlers ---

    def _enqueue_immediately(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        self.queue.add(informer.meta_namespace_key(obj))

    def _enqueue_batched(self, job: Obj) -> None:
        self.queue.add_after(informer.meta_namespace_key(job),
                             self._settings.sync_job_batch_period)

    def _enqueue_with_delay(self, job: Obj, delay: float) -> None:
        self.queue.add_after(informer.meta_namespace_key(job),
                             max(delay, self._settings.sync_job_batch_period))

    def _resolve_controller_ref(self, namespace: str, ref: Obj) -> Obj | None:
        return controllerrefmanager.resolve_controller_ref(self._jobs.cache, namespace, ref,
                                                           kind=CONTROLLER_KIND)

    def _pod_jobs(self, pod: Obj) -> list[Obj]:
        """Jobs whose selector matches this orphan's labels."""
        matching = controllerrefmanager.selecting(
            self._jobs.cache.list(meta.namespace(pod)), meta.labels(pod),
            selector_of=lambda job: _spec(job).get("selector"))
        if len(matching) > 1:
            log.error("user error! more than one job is selecting pods with labels: %s",
                      meta.labels(pod))
        return matching

    def _add_pod(self, pod: Obj) -> None:
        if meta.deletion_timestamp(pod):
            # A restarted controller may first see a pod already being deleted: it is no
            # creation it waits for.
            self._delete_pod(pod, final=False)
            return
        ref = podcontrol.get_controller_of(pod)
        if ref is not None:
            job = self._resolve_controller_ref(meta.namespace(pod), ref)
            if job is None:
                return
            self.expectations.creation_observed(informer.meta_namespace_key(job))
            self._enqueue_batched(job)
            return
        if has_tracking_finalizer(pod):
            self.orphan_queue.add(informer.meta_namespace_key(pod))
        for job in self._pod_jobs(pod):
            self._enqueue_batched(job)

    def _update_pod(self, old: Obj, new: Obj) -> None:
        if meta.resource_version(old) == meta.resource_version(new):
            return  # a resync
        if meta.deletion_timestamp(new):
            # Graceful deletion: replace the pod now, not once the kubelet is done with it.
            self._delete_pod(new, final=False)
            return
        finalizer_removed = not has_tracking_finalizer(new)
        new_ref = podcontrol.get_controller_of(new)
        old_ref = podcontrol.get_controller_of(old)
        ref_changed = new_ref != old_ref
        if ref_changed and old_ref is not None:
            previous = self._resolve_controller_ref(meta.namespace(old), old_ref)
            if previous is not None:
                if finalizer_removed:
                    self.finalizer_expectations.finalizer_removal_observed(
                        informer.meta_namespace_key(previous), meta.uid(new))
                self._enqueue_batched(previous)
        if new_ref is not None:
            job = self._resolve_controller_ref(meta.namespace(new), new_ref)
            if job is None:
                return
            if finalizer_removed:
                self.finalizer_expectations.finalizer_removal_observed(
                    informer.meta_namespace_key(job), meta.uid(new))
            self._enqueue_batched(job)
            return
        if has_tracking_finalizer(new):
            self.orphan_queue.add(informer.meta_namespace_key(new))
        if meta.labels(new) != meta.labels(old) or ref_changed:
            for job in self._pod_jobs(new):
                self._enqueue_batched(job)

    def _delete_pod(self, obj: Obj | informer.DeletedFinalStateUnknown, *, final: bool) -> None:
        pod = informer.deleted_object(obj)
        ref = podcontrol.get_controller_of(pod)
        finalizer = has_tracking_finalizer(pod)
        if ref is None:
            if finalizer:
                self.orphan_queue.add(informer.meta_namespace_key(pod))
            return
        job = self._resolve_controller_ref(meta.namespace(pod), ref)
        if job is None or is_job_finished(job):
            if finalizer:  # no sync of a Job will remove it
                self.orphan_queue.add(informer.meta_namespace_key(pod))
            return
        key = informer.meta_namespace_key(job)
        self.expectations.deletion_observed(key)
        if final or not finalizer:
            self.finalizer_expectations.finalizer_removal_observed(key, meta.uid(pod))
        self._enqueue_batched(job)

    def _update_job(self, old: Obj, new: Obj) -> None:
        if meta.generation(old) == meta.generation(new):
            self._enqueue_batched(new)  # a status update, likely from pod events
        else:
            self._enqueue_immediately(new)
        if is_job_finished(new):
            self._cleanup_pod_finalizers(new)  # a backstop: finished Jobs have none left
        start = (new.get("status") or {}).get("startTime")
        deadline = _spec(new).get("activeDeadlineSeconds")
        if start and deadline is not None and \
                _spec(old).get("activeDeadlineSeconds") != deadline:
            passed = (self._now() - meta.parse_time(start)).total_seconds()
            self.queue.add_after(informer.meta_namespace_key(new), int(deadline) - passed)

    def _delete_job(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        self._enqueue_immediately(obj)
        job = informer.deleted_object(obj)
        self._cleanup_pod_finalizers(job)

    def _cleanup_pod_finalizers(self, job: Obj) -> None:
        try:
            selector = labels.from_label_selector(_spec(job).get("selector"))
        except errors.StatusError:
            return
        for pod in self._pods.cache.list(meta.namespace(job)):
            ref = podcontrol.get_controller_of(pod)
            if selector.matches(meta.labels(pod)) and ref is not None and \
                    ref.get("uid") == meta.uid(job) and has_tracking_finalizer(pod):
                self.orphan_queue.add(informer.meta_namespace_key(pod))

    # --- orphan pods ---

    async def sync_orphan_pod(self, key: str) -> None:
        """Remove the tracking finalizer from a pod no unfinished Job of ours controls."""
        pod = self._pods.cache.get(key)
        if pod is None:
            return
        ref = podcontrol.get_controller_of(pod)
        if ref is not None:
            if ref.get("kind") != CONTROLLER_KIND or \
                    ref.get("apiVersion") != CONTROLLER_API_VERSION:
                return  # not a Job's: not our finalizer to remove
            job = self._resolve_controller_ref(meta.namespace(pod), ref)
            if job is not None and managed_by_external_controller(job):
                return
            if job is not None and not is_job_finished(job):
                return  # adopted meanwhile
        if not has_tracking_finalizer(pod):
            return
        with errors.ignore_not_found():
            await self._pod_control.patch_pod(meta.namespace(pod), meta.name(pod),
                                              REMOVE_TRACKING_FINALIZER_PATCH)

    # --- sync ---

    async def _claim_pods(self, job: Obj) -> list[Obj]:
        """The pods this Job owns after adopting matching orphans (with the tracking
        finalizer added in the same patch, as upstream's PodControllerRefManager does for
        Jobs) and releasing owned pods its selector no longer matches. Adopted pods are
        returned as copies showing the finalizer; the others are cache objects."""
        namespace, name = meta.namespace(job), meta.name(job)

        async def get_job() -> Obj:
            return await self._job_client.get_job(namespace, name)

        async def patch(pod_namespace: str, pod_name: str, body: Obj) -> None:
            md = body.get("metadata") or {}
            if any(ref.get("$patch") != "delete" for ref in md.get("ownerReferences") or []):
                body = {"metadata": {**md, "finalizers": [JOB_TRACKING_FINALIZER]}}
            await self._pod_control.patch_pod(pod_namespace, pod_name, body)

        manager = controllerrefmanager.ControllerRefManager(
            job, selector=labels.from_label_selector(_spec(job).get("selector")),
            controller_ref=podcontrol.new_controller_ref(job),
            can_adopt=controllerrefmanager.recheck_deletion_timestamp(
                controllerrefmanager.fresh_with_same_uid(get_job, job)),
            patch=patch)
        claimed = await manager.claim(self._pods.cache.list(namespace))
        owned = []
        for pod in claimed:
            adopted = not any(ref.get("uid") == meta.uid(job)
                              for ref in meta.owner_references(pod))
            if adopted and not has_tracking_finalizer(pod):
                pod = copy.deepcopy(pod)
                pod["metadata"]["finalizers"] = [*meta.finalizers(pod), JOB_TRACKING_FINALIZER]
            owned.append(pod)
        return owned

    async def sync(self, key: str) -> None:
        """Reconcile the Job at `key` (upstream's syncJob). Raises API errors (retried with
        backoff). Not safe to call twice at once for one key (the queue sees to that)."""
        namespace, name = informer.split_meta_namespace_key(key)
        if not namespace or not name:
            raise ValueError(f'invalid job key "{key}": either namespace or name is missing')
        shared = self._jobs.cache.get(key)
        if shared is None:
            self.expectations.delete_expectations(key)
            self.finalizer_expectations.delete_expectations(key)
            self.backoff_store.remove(key)
            return
        if managed_by_external_controller(shared):
            return
        if is_job_finished(shared):
            self.backoff_store.remove(key)
            return
        mode = _spec(shared).get("completionMode")
        if mode is not None and mode not in ("NonIndexed", "Indexed"):
            self._recorder.event(shared, events.WARNING, UNKNOWN_COMPLETION_MODE,
                                 "Skipped Job sync because completion mode is unknown")
            return
        job = _typed(copy.deepcopy(shared))
        status = job.setdefault("status", {})
        uncounted_status = status.setdefault("uncountedTerminatedPods", {})
        now = self._now()
        # Expectations first: a pod created after this check is seen by the next sync.
        satisfied = self.expectations.satisfied_expectations(key)
        pods = await self._claim_pods(job)
        active_pods = [p for p in pods if is_pod_active(p)]
        ctx = SyncJobCtx(
            job=job, pods=pods, active_pods=active_pods,
            uncounted=_Uncounted(frozenset(uncounted_status.get("succeeded") or ()),
                                 frozenset(uncounted_status.get("failed") or ())),
            expected_rm_finalizers=self.finalizer_expectations.expected_uids(key),
            ready=sum(1 for p in active_pods if is_pod_ready(p)),
            terminating=sum(1 for p in pods if is_terminating(p)))
        active = len(active_pods)
        new_succeeded, new_failed = self._new_finished_pods(ctx)
        spec = _spec(job)
        policy = spec.get("podFailurePolicy")
        counted_failures = sum(
            1 for p in new_failed
            if podfailurepolicy.match_pod_failure_policy(policy, p).count_failed)
        ctx.succeeded = int(status.get("succeeded") or 0) + len(new_succeeded) + \
            len(ctx.uncounted.succeeded)
        ctx.failed = int(status.get("failed") or 0) + counted_failures + \
            len(ctx.uncounted.failed)
        if not status.get("startTime") and not is_suspended(job):
            status["startTime"] = meta.format_time(now)
        ctx.new_backoff_record = self.backoff_store.new_record(key, succeeded=new_succeeded,
                                                               failed=new_failed)

        ctx.finished_condition = _true_condition(job, SUCCESS_CRITERIA_MET)
        if ctx.finished_condition is None:
            target = _true_condition(job, FAILURE_TARGET)
            if target is not None:
                ctx.finished_condition = new_condition(FAILED, "True", target.get("reason", ""),
                                                       target.get("message", ""), now)
            else:
                message = self._fail_job_message(job, pods)
                if message is not None:
                    ctx.finished_condition = new_condition(
                        FAILURE_TARGET, "True", podfailurepolicy.POD_FAILURE_POLICY_REASON,
                        message, now)
        if ctx.finished_condition is None:
            if ctx.failed > int(spec.get("backoffLimit") or 0) or \
                    past_backoff_limit_on_failure(job, pods):
                ctx.finished_condition = new_condition(FAILURE_TARGET, "True",
                                                       BACKOFF_LIMIT_EXCEEDED,
                                                       BACKOFF_LIMIT_EXCEEDED_MESSAGE, now)
            elif self._past_active_deadline(job, now):
                ctx.finished_condition = new_condition(FAILURE_TARGET, "True",
                                                       DEADLINE_EXCEEDED,
                                                       DEADLINE_EXCEEDED_MESSAGE, now)
            elif spec.get("activeDeadlineSeconds") is not None and not is_suspended(job):
                passed = (now - meta.parse_time(status["startTime"])).total_seconds()
                self.queue.add_after(key, int(spec["activeDeadlineSeconds"]) - passed)

        if indexedjob.is_indexed_job(job):
            completions = int(spec.get("completions") or 0)
            ctx.prev_succeeded_indexes = indexedjob.parse_indexes(
                status.get("completedIndexes") or "", completions)
            ctx.succeeded_indexes = indexedjob.with_ordered_indexes(
                ctx.prev_succeeded_indexes,
                sorted({indexedjob.completion_index(p) for p in pods
                        if _phase(p) == "Succeeded" and has_tracking_finalizer(p) and
                        0 <= indexedjob.completion_index(p) < completions}))
            ctx.succeeded = indexedjob.total(ctx.succeeded_indexes)
            if ctx.finished_condition is None:
                message = indexedjob.match_success_policy(
                    spec.get("successPolicy"), completions=completions,
                    succeeded=ctx.succeeded_indexes)
                if message is not None:
                    ctx.finished_condition = new_condition(
                        SUCCESS_CRITERIA_MET, "True", indexedjob.SUCCESS_POLICY_REASON,
                        message, now)

        suspend_changed = False
        manage_error: Exception | None = None
        if ctx.finished_condition is not None:
            deleted_ready, deleted, manage_error = await self._delete_active_pods(
                job, ctx.active_pods)
            if deleted != active or not satisfied:
                # Pod finalizers may remain, or pods not cached yet: not finished yet.
                ctx.finished_condition = None
            active -= deleted
            ctx.terminating += deleted
            ctx.ready -= deleted_ready
        else:
            manage_called = False
            if satisfied and not meta.deletion_timestamp(job):
                active, manage_error = await self._manage_job(key, job, ctx)
                manage_called = True
            wanted = spec.get("completions")
            if wanted is None:
                # Any success ends a work-queue Job, once its other pods have stopped.
                complete = ctx.succeeded > 0 and active == 0
            else:
                complete = ctx.succeeded >= int(wanted) and active == 0
            if complete:
                ctx.finished_condition = new_condition(SUCCESS_CRITERIA_MET, "True",
                                                       COMPLETIONS_REACHED,
                                                       COMPLETIONS_REACHED_MESSAGE, now)
            elif manage_called:
                suspend_changed = self._update_suspend_condition(job, now)

        needs_update = suspend_changed or active != int(status.get("active") or 0) or \
            status.get("ready") != ctx.ready or status.get("terminating") != ctx.terminating
        _set_count(status, "active", active)
        status["ready"] = ctx.ready
        status["terminating"] = ctx.terminating
        await self._track_job_status_and_remove_finalizers(key, ctx, needs_flush=needs_update)
        if manage_error is not None:
            raise manage_error

    def _update_suspend_condition(self, job: Obj, now: datetime.datetime) -> bool:
        if is_suspended(job):
            changed = ensure_job_condition_status(job, SUSPENDED, "True", JOB_SUSPENDED_REASON,
                                                  JOB_SUSPENDED_MESSAGE, now)
            if changed:
                self._recorder.event(job, events.NORMAL, SUSPENDED_EVENT, JOB_SUSPENDED_MESSAGE)
            return changed
        changed = ensure_job_condition_status(job, SUSPENDED, "False", JOB_RESUMED_REASON,
                                              JOB_RESUMED_MESSAGE, now)
        if changed:
            self._recorder.event(job, events.NORMAL, RESUMED_EVENT, JOB_RESUMED_MESSAGE)
            # activeDeadlineSeconds counts continuous activity: a resumed Job starts afresh.
            job["status"]["startTime"] = meta.format_time(now)
        return changed

    def _past_active_deadline(self, job: Obj, now: datetime.datetime) -> bool:
        deadline = _spec(job).get("activeDeadlineSeconds")
        start = (job.get("status") or {}).get("startTime")
        if deadline is None or not start or is_suspended(job):
            return False
        return (now - meta.parse_time(start)).total_seconds() >= int(deadline)

    @staticmethod
    def _fail_job_message(job: Obj, pods: list[Obj]) -> str | None:
        policy = _spec(job).get("podFailurePolicy")
        if policy is None:
            return None
        for pod in pods:
            if is_pod_failed(pod, job):
                message = podfailurepolicy.match_pod_failure_policy(policy, pod).fail_job_message
                if message is not None:
                    return message
        return None

    @staticmethod
    def _new_finished_pods(ctx: SyncJobCtx) -> tuple[list[Obj], list[Obj]]:
        """Pods finished since the last count: still with the finalizer, not yet in the
        uncounted lists nor awaiting their finalizer's removal, with a valid index."""
        job = ctx.job
        indexed = indexedjob.is_indexed_job(job)
        completions = int(_spec(job).get("completions") or 0)

        def valid(pod: Obj, uncounted: frozenset[str]) -> bool:
            uid = meta.uid(pod)
            if not has_tracking_finalizer(pod) or uid in uncounted or \
                    uid in ctx.expected_rm_finalizers:
                return False
            index = indexedjob.completion_index(pod)
            return not indexed or 0 <= index < completions

        succeeded = [p for p in ctx.pods
                     if valid(p, ctx.uncounted.succeeded) and _phase(p) == "Succeeded"]
        failed = [p for p in ctx.pods if valid(p, ctx.uncounted.failed) and is_pod_failed(p, job)]
        return succeeded, failed

    async def _manage_job(self, key: str, job: Obj, ctx: SyncJobCtx
                          ) -> tuple[int, Exception | None]:
        """Create or delete pods towards the wanted number of active ones; returns the active
        count to report and the first error. Either creates or deletes in one sync, never
        both (deletion first)."""
        spec = _spec(job)
        active = len(ctx.active_pods)
        parallelism = int(spec.get("parallelism") or 0)
        if is_suspended(job):
            to_delete = self._active_pods_for_removal(job, ctx.active_pods, active)
            self.expectations.expect_deletions(key, len(to_delete))
            removed_ready, removed, error = await self._delete_job_pods(job, key, to_delete)
            ctx.terminating += removed
            ctx.ready -= removed_ready
            return active - removed, error
        completions = spec.get("completions")
        if completions is None:
            # A work-queue Job: once any pod succeeded, let the running ones finish.
            want_active = active if ctx.succeeded > 0 else parallelism
        else:
            want_active = max(0, min(int(completions) - ctx.succeeded, parallelism))
        to_delete = self._active_pods_for_removal(job, ctx.active_pods,
                                                  max(0, active - want_active))
        to_delete = to_delete[:MAX_POD_CREATE_DELETE_PER_SYNC]
        if to_delete:
            self.expectations.expect_deletions(key, len(to_delete))
            removed_ready, removed, error = await self._delete_job_pods(job, key, to_delete)
            ctx.terminating += removed
            ctx.ready -= removed_ready
            return active - removed, error

        terminating = ctx.terminating if only_replace_failed_pods(job) else 0
        diff = want_active - terminating - active
        if diff <= 0:
            return active, None
        remaining = ctx.new_backoff_record.remaining_time(
            self._now(), default_backoff=self._settings.pod_failure_backoff,
            max_backoff=self._settings.max_pod_failure_backoff)
        if remaining > 0:
            self._enqueue_with_delay(job, remaining)
            return 0, None  # as upstream reports it while backing off
        diff = min(diff, MAX_POD_CREATE_DELETE_PER_SYNC)
        indexes: list[int] = []
        if indexedjob.is_indexed_job(job):
            indexes = indexedjob.first_pending_indexes(
                ctx.active_pods, ctx.succeeded_indexes, count=diff,
                completions=int(completions or 0))
            diff = len(indexes)
        self.expectations.expect_creations(key, diff)
        active += diff
        template = copy.deepcopy(spec.get("template") or {})
        if indexedjob.is_indexed_job(job):
            indexedjob.add_completion_index_env_variables(template)
        template_md = template.setdefault("metadata", {})
        finalizers = template_md.setdefault("finalizers", [])
        if JOB_TRACKING_FINALIZER not in finalizers:
            finalizers.append(JOB_TRACKING_FINALIZER)
        controller_ref = podcontrol.new_controller_ref(job)
        first_error: Exception | None = None

        async def create(index: int | None) -> Exception | None:
            pod_template, generate_name = template, ""
            if index is not None:
                pod_template = indexedjob.template_for_index(template, job, index)
                generate_name = indexedjob.pod_generate_name_with_index(meta.name(job), index)
            try:
                await self._pod_control.create_pods_with_generate_name(
                    meta.namespace(job), pod_template, controller_object=job,
                    controller_ref=controller_ref, generate_name=generate_name)
            except errors.StatusError as exc:
                if apistatus.has_status_cause(exc, apistatus.NAMESPACE_TERMINATING_CAUSE):
                    return None  # every further creation fails too; nothing to retry
                self.expectations.creation_observed(key)  # it will never be observed
                return exc
            except podcontrol.NoLabelsError as exc:
                self.expectations.creation_observed(key)
                return worker.SyncFailed(str(exc))
            return None

        batch = min(diff, SLOW_START_INITIAL_BATCH_SIZE)
        while diff > 0:
            batch_indexes: list[int | None] = [indexes.pop(0) if indexes else None
                                               for _ in range(batch)]
            results = await asyncio.gather(*(create(i) for i in batch_indexes))
            failures = [r for r in results if r is not None]
            active -= len(failures)
            if failures and first_error is None:
                first_error = failures[0]
            skipped = diff - batch
            if failures and skipped > 0:
                # Slow start: the rest would likely fail alike; the next sync retries them.
                active -= skipped
                for _ in range(skipped):
                    self.expectations.creation_observed(key)
                break
            diff -= batch
            batch = min(2 * batch, diff)
        return active, first_error

    @staticmethod
    def _active_pods_for_removal(job: Obj, pods: list[Obj], at_least: int) -> list[Obj]:
        """Pods to delete: for an Indexed Job those without a valid index and the extras of
        repeated ones; then, up to `at_least`, the earliest in `removal_order`."""
        remove: list[Obj] = []
        left = pods
        if indexedjob.is_indexed_job(job):
            remove, left = indexedjob.duplicated_index_pods(
                pods, completions=int(_spec(job).get("completions") or 0),
                removal_order=removal_order)
        if len(remove) < at_least:
            remove += sorted(left, key=removal_order)[:at_least - len(remove)]
        return remove

    async def _delete_active_pods(self, job: Obj, pods: list[Obj]
                                  ) -> tuple[int, int, Exception | None]:
        """Delete the pods of a finished Job, keeping their finalizers (removed while
        tracking); returns (ready ones deleted, deleted, first error)."""
        async def delete(pod: Obj) -> Exception | None:
            try:
                await self._pod_control.delete_pod(meta.namespace(job), meta.name(pod),
                                                   controller_object=job)
            except errors.StatusError as exc:
                if exc.code != 404:
                    return exc
            return None

        return await _delete_each(pods, delete)

    async def _delete_job_pods(self, job: Obj, key: str, pods: list[Obj]
                               ) -> tuple[int, int, Exception | None]:
        """Remove the finalizer from each pod, then delete it; a failure lowers the deletion
        expectations (it will not be observed)."""
        async def delete(pod: Obj) -> Exception | None:
            try:
                if has_tracking_finalizer(pod):
                    await self._pod_control.patch_pod(meta.namespace(pod), meta.name(pod),
                                                      REMOVE_TRACKING_FINALIZER_PATCH)
                await self._pod_control.delete_pod(meta.namespace(job), meta.name(pod),
                                                   controller_object=job)
            except errors.StatusError as exc:
                self.expectations.deletion_observed(key)
                if exc.code != 404:
                    return exc
            return None

        return await _delete_each(pods, delete)

    # --- status tracking ---

    def _can_remove_finalizer(self, ctx: SyncJobCtx, pod: Obj, considered_failed: bool) -> bool:
        return bool(meta.deletion_timestamp(ctx.job)) or ctx.finished_condition is not None or \
            _phase(pod) == "Succeeded" or considered_failed

    async def _track_job_status_and_remove_finalizers(self, key: str, ctx: SyncJobCtx, *,
                                                      needs_flush: bool) -> None:
        """Count finished pods in `uncountedTerminatedPods`, write that, remove their
        finalizers, move them into the counters, and record the Job's end once nothing is
        left uncounted or terminating (upstream's trackJobStatusAndRemoveFinalizers)."""
        job = ctx.job
        spec = _spec(job)
        indexed = indexedjob.is_indexed_job(job)
        completions = int(spec.get("completions") or 0)
        pods = sorted(ctx.pods, key=indexedjob.completion_index) if indexed else ctx.pods
        with_finalizer = {meta.uid(p) for p in pods if has_tracking_finalizer(p) and
                          meta.uid(p) not in ctx.expected_rm_finalizers}
        if clean_uncounted_pods_without_finalizers(job["status"], with_finalizer):
            needs_flush = True
        uncounted = job["status"]["uncountedTerminatedPods"]
        to_remove: list[Obj] = []
        new_indexes: list[int] = []
        reached_max = False
        policy = spec.get("podFailurePolicy")
        for pod in pods:
            uid = meta.uid(pod)
            if not has_tracking_finalizer(pod) or uid in ctx.expected_rm_finalizers:
                continue  # counted by an earlier sync
            considered_failed = is_pod_failed(pod, job)
            if not self._can_remove_finalizer(ctx, pod, considered_failed):
                continue
            to_remove.append(pod)
            index = indexedjob.completion_index(pod)
            if _phase(pod) == "Succeeded" and uid not in ctx.uncounted.failed:
                if indexed:
                    if 0 <= index < completions and \
                            not indexedjob.has_index(ctx.prev_succeeded_indexes, index):
                        new_indexes.append(index)
                        needs_flush = True
                elif uid not in ctx.uncounted.succeeded:
                    uncounted.setdefault("succeeded", []).append(uid)
                    needs_flush = True
            elif (considered_failed or (ctx.finished_condition is not None and
                                        ctx.finished_condition["type"] != SUCCESS_CRITERIA_MET)) \
                    and uid not in ctx.uncounted.failed \
                    and (not indexed or 0 <= index < completions) \
                    and podfailurepolicy.match_pod_failure_policy(policy, pod).count_failed:
                # A finished Job counts every pod that had not terminated as failed.
                uncounted.setdefault("failed", []).append(uid)
                needs_flush = True
            if len(new_indexes) + len(uncounted.get("succeeded") or []) + \
                    len(uncounted.get("failed") or []) >= MAX_UNCOUNTED_PODS:
                reached_max = True  # the status and pod updates will bring us back
                break
        if indexed:
            ctx.succeeded_indexes = indexedjob.with_ordered_indexes(ctx.succeeded_indexes,
                                                                    new_indexes)
            text = indexedjob.format_intervals(ctx.succeeded_indexes)
            if text != (job["status"].get("completedIndexes") or ""):
                needs_flush = True
            _set_count(job["status"], "succeeded", indexedjob.total(ctx.succeeded_indexes))
            if text:
                job["status"]["completedIndexes"] = text
            else:
                job["status"].pop("completedIndexes", None)
        now = self._now()
        finished = ctx.finished_condition
        if finished is not None and finished["type"] == FAILURE_TARGET:
            # The interim condition is written before any finalizer goes, so the failure's
            # reason survives a crash.
            job["status"].setdefault("conditions", []).append(finished)
            needs_flush = True
            ctx.finished_condition = new_condition(FAILED, "True", finished.get("reason", ""),
                                                   finished.get("message", ""), now)
        elif finished is not None and finished["type"] == SUCCESS_CRITERIA_MET:
            if _true_condition(job, SUCCESS_CRITERIA_MET) is None:
                job["status"].setdefault("conditions", []).append(finished)
                needs_flush = True
            ctx.finished_condition = new_condition(COMPLETE, "True", finished.get("reason", ""),
                                                   finished.get("message", ""), now)
        needs_flush = await self._flush_uncounted_and_remove_finalizers(
            key, ctx, to_remove, with_finalizer, needs_flush=needs_flush)
        job_finished = not reached_max and self._enact_job_finished(ctx)
        if job_finished or needs_flush:
            ctx.job = await self._job_client.update_status(ctx.job)
            if job_finished and ctx.finished_condition is not None:
                self._record_job_finished(ctx.job, ctx.finished_condition)

    async def _flush_uncounted_and_remove_finalizers(
            self, key: str, ctx: SyncJobCtx, to_remove: list[Obj], with_finalizer: set[str],
            *, needs_flush: bool) -> bool:
        """Write the uncounted pods, remove their finalizers, count those whose finalizer
        went; returns whether the status still has changes to write. Raises the first
        finalizer-removal error after writing what progress was made."""
        if needs_flush:
            ctx.job = _typed(await self._job_client.update_status(ctx.job))
            ctx.job.setdefault("status", {}).setdefault("uncountedTerminatedPods", {})
            self.backoff_store.update(ctx.new_backoff_record)
            needs_flush = False
        removal_error: Exception | None = None
        if to_remove:
            removed, removal_error = await self._remove_tracking_finalizers(key, to_remove)
            for pod, ok in zip(to_remove, removed, strict=True):
                if ok:
                    with_finalizer.discard(meta.uid(pod))
        if clean_uncounted_pods_without_finalizers(ctx.job["status"], with_finalizer):
            needs_flush = True
        if removal_error is not None:
            if needs_flush:
                ctx.job = _typed(await self._job_client.update_status(ctx.job))
            raise removal_error
        return needs_flush

    async def _remove_tracking_finalizers(self, key: str, pods: list[Obj]
                                          ) -> tuple[list[bool], Exception | None]:
        """Remove the finalizer from each pod; per pod whether it is gone (a pod deleted
        meanwhile counts as done), and the first error."""
        self.finalizer_expectations.expect_finalizers_removed(key, [meta.uid(p) for p in pods])

        async def remove(pod: Obj) -> Exception | bool:
            try:
                await self._pod_control.patch_pod(meta.namespace(pod), meta.name(pod),
                                                  REMOVE_TRACKING_FINALIZER_PATCH)
            except errors.StatusError as exc:
                # No update will show this removal: stop waiting for one.
                self.finalizer_expectations.finalizer_removal_observed(key, meta.uid(pod))
                if exc.code != 404:
                    log.warning("removing tracking finalizer from pod %s: %s",
                                meta.name(pod), exc)
                    return exc
            return True

        results = await asyncio.gather(*(remove(p) for p in pods))
        first_error = next((r for r in results if isinstance(r, Exception)), None)
        return [r is True for r in results], first_error

    def _enact_job_finished(self, ctx: SyncJobCtx) -> bool:
        """Set the final Complete or Failed condition once no pod is uncounted or still
        terminating."""
        finished = ctx.finished_condition
        if finished is None:
            return False
        status = ctx.job["status"]
        uncounted = status.get("uncountedTerminatedPods") or {}
        if uncounted.get("succeeded") or uncounted.get("failed"):
            return False
        if ctx.terminating > 0:
            return False
        ensure_job_condition_status(ctx.job, finished["type"], finished["status"],
                                    finished.get("reason", ""), finished.get("message", ""),
                                    self._now())
        if finished["type"] == COMPLETE:
            status["completionTime"] = finished["lastTransitionTime"]
        return True

    def _record_job_finished(self, job: Obj, finished: Obj) -> None:
        if finished["type"] == COMPLETE:
            completions = _spec(job).get("completions")
            if completions is not None and \
                    int((job.get("status") or {}).get("succeeded") or 0) > int(completions):
                self._recorder.event(job, events.WARNING, TOO_MANY_SUCCEEDED_PODS,
                                     TOO_MANY_SUCCEEDED_PODS_MESSAGE)
            self._recorder.event(job, events.NORMAL, COMPLETED_EVENT, COMPLETED_EVENT_MESSAGE)
        else:
            self._recorder.event(job, events.WARNING, finished.get("reason", ""),
                                 finished.get("message", ""))


def clean_uncounted_pods_without_finalizers(status: Obj, with_finalizer: set[str]) -> bool:
    """Move uids whose pod no longer has the finalizer from `uncountedTerminatedPods` into
    `succeeded`/`failed`; True when anything moved."""
    uncounted = status.setdefault("uncountedTerminatedPods", {})
    changed = False
    for key in ("succeeded", "failed"):
        uids = uncounted.get(key) or []
        kept = [uid for uid in uids if uid in with_finalizer]
        if len(kept) != len(uids):
            changed = True
            _set_count(status, key, int(status.get(key) or 0) + len(uids) - len(kept))
            if kept:
                uncounted[key] = kept
            else:
                uncounted.pop(key, None)
    return changed


def _true_condition(job: Obj, type_: str) -> Obj | None:
    condition = find_condition(job, type_)
    return condition if condition is not None and condition.get("status") == "True" else None


def _typed(job: Obj) -> Obj:
    """The Job with its apiVersion and kind, which ownerReferences and events need."""
    job.setdefault("apiVersion", CONTROLLER_API_VERSION)
    job.setdefault("kind", CONTROLLER_KIND)
    return job


def new_job_controller(client: rest.RESTClient, *, informers: informer.SharedInformerFactory,
                       settings: JobControllerSettings | None = None,
                       now: Callable[[], datetime.datetime] | None = None) -> JobController:
    """The controller as kube-controller-manager builds it: shared informers, pods written
    through `podcontrol.RealPodControl`, events as `job-controller`."""
    recorder = events.EventRecorder(client, component=COMPONENT)
    return JobController(
        pods=informers.informer_for(*PODS), jobs=informers.informer_for(*JOBS),
        pod_control=podcontrol.RealPodControl(client, recorder=recorder),
        job_client=RealJobClient(client), recorder=recorder, settings=settings, now=now,
        run_alongside=(recorder.run,))
