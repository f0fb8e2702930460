"""The CronJob controller: creates a Job at each time a CronJob's schedule names, honouring its
concurrency policy, suspension, starting deadline and history limits.

Mirrors pkg/controller/cronjob/cronjob_controllerv2.go and utils.go (the "v2" controller on a
delaying queue): a sync reads the CronJob and the Jobs it controls from the caches, removes
finished Jobs beyond `successfulJobsHistoryLimit`/`failedJobsHistoryLimit`, drops finished and
vanished Jobs from `status.active`, creates the Job for the most recent unmet schedule time
(named `<cronjob>-<scheduled minutes since the epoch>`, so a retried creation cannot start a
second one, annotated `batch.kubernetes.io/cronjob-scheduled-timestamp`), writes the status
once, and requeues the key for the next schedule time (plus 100 ms against clock skew).
Schedules are robfig/cron's (`cron.py`).

Jobs made by `kubectl create job --from=cronjob/x` carry a controller ownerReference to the
CronJob and the annotation `cronjob.kubernetes.io/instantiate: manual`; the server needs
nothing for them, and this controller sees them as upstream does: an `UnexpectedJob` it did not
start, cleaned up with the history once finished.

Departure from upstream: a schedule without `timeZone` is read in UTC, where upstream uses
kube-controller-manager's local zone (UTC in its usual container image).
"""

from __future__ import annotations

import copy
import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from kajitori.api import errors, meta
from kajitori.client import clock as clock_
from kajitori.client import events, informer, rest, workqueue
from kajitori.controllers import apistatus, controllerrefmanager, cron, podcontrol, worker

Obj = dict[str, Any]

log = logging.getLogger(__name__)

CRONJOBS = ("batch", "v1", "cronjobs")
JOBS = ("batch", "v1", "jobs")
COMPONENT = "cronjob-controller"
CONTROLLER_KIND = "CronJob"
CONTROLLER_API_VERSION = "batch/v1"

SCHEDULED_TIMESTAMP_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
NEXT_SCHEDULE_DELTA = 0.1
"""Seconds added to each requeue, so clock skew between here and the schedule cannot make a
sync come just before its time and find nothing to do."""
MANY_MISSED = 100
"""More missed schedule times than this draws the TooManyMissedTimes warning."""

# Event reasons and messages (upstream's wording).
SUCCESSFUL_CREATE = "SuccessfulCreate"
SAW_COMPLETED_JOB = "SawCompletedJob"
SUCCESSFUL_DELETE = "SuccessfulDelete"
FAILED_DELETE = "FailedDelete"
FAILED_CREATE = "FailedCreate"
FAILED_GET = "FailedGet"
UNEXPECTED_JOB = "UnexpectedJob"
MISSING_JOB = "MissingJob"
UNKNOWN_TIME_ZONE = "UnknownTimeZone"
UNPARSEABLE_SCHEDULE = "UnparseableSchedule"
UNPARSEABLE_CRONJOB_SCHEDULE = "UnParseableCronJobSchedule"
INVALID_SCHEDULE = "InvalidSchedule"
MISS_SCHEDULE = "MissSchedule"
JOB_ALREADY_ACTIVE = "JobAlreadyActive"
TOO_MANY_MISSED_TIMES = "TooManyMissedTimes"
UNSUPPORTED_SCHEDULE = "UnsupportedSchedule"
TOO_MANY_MISSED_MESSAGE = ("too many missed start times. Set or decrease "
                           ".spec.startingDeadlineSeconds or check clock skew")
JOB_ALREADY_ACTIVE_MESSAGE = ("Not starting job because prior execution is running and "
                              "concurrency policy is Forbid")


@dataclass(frozen=True)
class CronJobControllerSettings:
    """kube-controller-manager's CronJob controller flags."""

    concurrent_cron_job_syncs: int = 5
    """`--concurrent-cron-job-syncs`: CronJobs synced at once (upstream default 5)."""


class Recorder(Protocol):
    """What the controller needs of an event recorder (`events.EventRecorder`)."""

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None: ...


class JobControl(Protocol):
    """Upstream's jobControlInterface: the Job writes of this controller. Raise StatusError."""

    async def get_job(self, namespace: str, name: str) -> Obj: ...

    async def create_job(self, namespace: str, job: Obj) -> Obj: ...

    async def delete_job(self, namespace: str, name: str) -> None:
        """Delete with background propagation: its pods go afterwards."""
        ...


class CronJobControl(Protocol):
    """Upstream's cjControlInterface."""

    async def get_cron_job(self, namespace: str, name: str) -> Obj: ...

    async def update_status(self, cron_job: Obj) -> Obj: ...


class RealJobControl:
    def __init__(self, client: rest.RESTClient) -> None:
        self._client = client

    async def get_job(self, namespace: str, name: str) -> Obj:
        return await self._client.get(rest.resource_path(*JOBS, namespace=namespace,
                                                         name=name))

    async def create_job(self, namespace: str, job: Obj) -> Obj:
        return await self._client.create(rest.resource_path(*JOBS, namespace=namespace), job)

    async def delete_job(self, namespace: str, name: str) -> None:
        await self._client.delete(
            rest.resource_path(*JOBS, namespace=namespace, name=name),
            options={"kind": "DeleteOptions", "apiVersion": "v1",
                     "propagationPolicy": "Background"})


class RealCronJobControl:
    def __init__(self, client: rest.RESTClient) -> None:
        self._client = client

    async def get_cron_job(self, namespace: str, name: str) -> Obj:
        return await self._client.get(rest.resource_path(*CRONJOBS, namespace=namespace,
                                                         name=name))

    async def update_status(self, cron_job: Obj) -> Obj:
        path = rest.resource_path(*CRONJOBS, namespace=meta.namespace(cron_job),
                                  name=meta.name(cron_job), subresource="status")
        return await self._client.update(path, cron_job)


# --- Jobs and their state ---------------------------------------------------------------------

def finished_condition(job: Obj) -> str | None:
    """`Complete` or `Failed` when the Job has that condition True (upstream's
    getFinishedStatus), else None."""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return str(condition["type"])
    return None


def is_job_succeeded(job: Obj) -> bool:
    return finished_condition(job) == "Complete"


def job_name(cron_job: Obj, scheduled: datetime.datetime) -> str:
    """`<cronjob>-<minutes since the epoch>`: deterministic per scheduled time."""
    return f"{meta.name(cron_job)}-{int(scheduled.timestamp()) // 60}"


def format_rfc3339(moment: datetime.datetime) -> str:
    """Go's time.RFC3339 in the moment's own zone: `Z` for UTC, else `+hh:mm`."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    offset = moment.utcoffset()
    if not offset:
        return text + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{text}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def format_rfc1123z(moment: datetime.datetime) -> str:
    """Go's time.RFC1123Z (`Mon, 02 Jan 2006 15:04:05 -0700`) of the UTC moment."""
    return moment.astimezone(datetime.UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def get_job_from_template(cron_job: Obj, scheduled: datetime.datetime) -> Obj:
    """The Job to create for `scheduled` (upstream's getJobFromTemplate2). Raises ValueError
    for an unknown `timeZone`."""
    template = (cron_job.get("spec") or {}).get("jobTemplate") or {}
    template_md = template.get("metadata") or {}
    zone = cron.load_location((cron_job.get("spec") or {}).get("timeZone") or "")
    annotations = dict(template_md.get("annotations") or {})
    annotations[SCHEDULED_TIMESTAMP_ANNOTATION] = format_rfc3339(scheduled.astimezone(zone))
    md: Obj = {"name": job_name(cron_job, scheduled), "annotations": annotations,
               "ownerReferences": [podcontrol.new_controller_ref(
                   {**cron_job, "apiVersion": CONTROLLER_API_VERSION,
                    "kind": CONTROLLER_KIND})]}
    if template_md.get("labels"):
        md["labels"] = dict(template_md["labels"])
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": md,
            "spec": copy.deepcopy(template.get("spec") or {})}


def _active(cron_job: Obj) -> list[Obj]:
    return (cron_job.get("status") or {}).get("active") or []


def in_active_list(cron_job: Obj, uid: str) -> bool:
    return any(ref.get("uid") == uid for ref in _active(cron_job))


def in_active_list_by_name(cron_job: Obj, namespace: str, name: str) -> bool:
    return any(ref.get("name") == name and ref.get("namespace") == namespace
               for ref in _active(cron_job))


def delete_from_active_list(cron_job: Obj, uid: str) -> None:
    cron_job.setdefault("status", {})["active"] = [
        ref for ref in _active(cron_job) if ref.get("uid") != uid]


def _time(text: str | None) -> datetime.datetime | None:
    return meta.parse_time(text) if text else None


def _job_start_key(job: Obj) -> tuple[int, datetime.datetime, str]:
    """Upstream's byJobStartTime: started Jobs first, oldest first, then by name."""
    started = _time((job.get("status") or {}).get("startTime"))
    if started is None:
        return (1, datetime.datetime.min.replace(tzinfo=datetime.UTC), meta.name(job))
    return (0, started, meta.name(job))


# --- schedule arithmetic (utils.go) -----------------------------------------------------------

@dataclass(frozen=True)
class RecentSchedule:
    earliest: datetime.datetime
    """The last schedule time, or the CronJob's creation, or the starting deadline."""
    most_recent: datetime.datetime | None
    """The latest schedule time not after now, None when none since `earliest`."""
    missed: int
    """Schedule times since `earliest` (approximate, as upstream counts them); 0 when at most
    one is due."""


class InvalidScheduleError(ValueError):
    """A schedule that parses but fires twice within a second or not at all (31 Feb)."""


def most_recent_schedule_time(cron_job: Obj, now: datetime.datetime, schedule: cron.Schedule,
                              *, include_starting_deadline: bool) -> RecentSchedule:
    """Upstream's mostRecentScheduleTime. Raises InvalidScheduleError as it errs."""
    md = cron_job.get("metadata") or {}
    spec = cron_job.get("spec") or {}
    earliest = _time((cron_job.get("status") or {}).get("lastScheduleTime")) or \
        _time(md.get("creationTimestamp")) or now
    deadline = spec.get("startingDeadlineSeconds")
    if include_starting_deadline and deadline is not None:
        scheduling_deadline = now - datetime.timedelta(seconds=int(deadline))
        earliest = max(earliest, scheduling_deadline)
    t1 = schedule.next(earliest)
    t2 = schedule.next(t1) if t1 is not None else None
    if t1 is None or now < t1:
        return RecentSchedule(earliest, None, 0)
    if t2 is None or now < t2:
        return RecentSchedule(earliest, t1, 0)
    between = round((t2 - t1).total_seconds())
    if between < 1:
        raise InvalidScheduleError("time difference between two schedules is less than 1 "
                                   "second")
    elapsed = int((now - t1).total_seconds())
    missed = elapsed // between + 1
    # Start two periods before the estimate and let the schedule find the exact last time: the
    # estimate is rough for irregular schedules (`30 6-16/4 * * 1-5`).
    most_recent: datetime.datetime | None = None
    t: datetime.datetime | None = schedule.next(
        t1 + datetime.timedelta(seconds=(missed - 2) * between))
    while t is not None and t <= now:
        most_recent = t
        t = schedule.next(t)
    return RecentSchedule(earliest, most_recent, missed)


def next_schedule_time_duration(cron_job: Obj, now: datetime.datetime,
                                schedule: cron.Schedule) -> float:
    """Seconds until the sync after the next schedule time (upstream's
    nextScheduleTimeDuration)."""
    try:
        recent = most_recent_schedule_time(cron_job, now, schedule,
                                           include_starting_deadline=False)
    except InvalidScheduleError:
        base = now
    else:
        if recent.most_recent is not None:
            base = recent.most_recent
        else:
            base = recent.earliest if not recent.missed else now
    following = schedule.next(base)
    if following is None:
        following = now + datetime.timedelta(days=365 * cron.SEARCH_YEARS)
    return (following - now).total_seconds() + NEXT_SCHEDULE_DELTA


def format_schedule(cron_job: Obj, recorder: Recorder | None) -> str:
    """The schedule the parser reads: `TZ=<timeZone> <schedule>` for a valid `timeZone`. A
    schedule with its own TZ is read as is, with a warning (upstream no longer accepts new
    ones; old objects may still have them)."""
    spec = cron_job.get("spec") or {}
    schedule = str(spec.get("schedule") or "")
    if "TZ" in schedule:
        if recorder is not None:
            recorder.event(cron_job, events.WARNING, UNSUPPORTED_SCHEDULE,
                           f'CRON_TZ or TZ used in schedule "{schedule}" is not officially '
                           "supported, see https://kubernetes.io/docs/concepts/workloads/"
                           "controllers/cron-jobs/ for more details")
        return schedule
    zone = spec.get("timeZone")
    if zone is not None:
        try:
            cron.load_location(zone)
        except ValueError:
            return schedule
        return f"TZ={zone} {schedule}"
    return schedule


@dataclass
class SyncResult:
    requeue_after: float | None = None
    update_status: bool = False
    error: Exception | None = None


class CronJobController:
    """Runs CronJobs' schedules, `concurrent_cron_job_syncs` CronJobs at a time."""

    def __init__(self, *, jobs: informer.Informer, cron_jobs: informer.Informer,
                 job_control: JobControl, cron_job_control: CronJobControl,
                 recorder: Recorder, settings: CronJobControllerSettings | None = None,
                 now: Callable[[], datetime.datetime] | None = None,
                 clock: clock_.Clock | None = None,
                 run_alongside: tuple[Callable[[], Any], ...] = ()) -> None:
        """`now` is wall-clock time for schedules (tests and e2e pass a settable one;
        components None); `clock` paces the queue (tests pass a FakeClock).
        `run_alongside` are coroutine functions run in `run()`'s TaskGroup (the event
        recorder's `run`)."""
        self._jobs = jobs
        self._cron_jobs = cron_jobs
        self._job_control = job_control
        self._cron_job_control = cron_job_control
        self._recorder = recorder
        self._settings = settings or CronJobControllerSettings()
        self._now = now or (lambda: datetime.datetime.now(datetime.UTC))
        self._run_alongside = run_alongside
        self.queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
            name="cronjob", clock=clock)
        jobs.add_handlers(on_add=self._add_job, on_update=self._update_job,
                          on_delete=self._delete_job)
        cron_jobs.add_handlers(on_add=self._enqueue, on_update=self._update_cron_job,
                               on_delete=self._enqueue)

    async def run(self) -> None:
        await worker.run_workers(self.queue, self.sync, what="CronJob",
                                 workers=self._settings.concurrent_cron_job_syncs,
                                 informers=(self._jobs, self._cron_jobs),
                                 alongside=self._run_alongside)

    # --- event handlers ---

    def _enqueue(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        self.queue.add(informer.meta_namespace_key(obj))

    def _resolve_controller_ref(self, namespace: str, ref: Obj) -> Obj | None:
        return controllerrefmanager.resolve_controller_ref(self._cron_jobs.cache, namespace, ref,
                                                           kind=CONTROLLER_KIND)

    def _add_job(self, job: Obj) -> None:
        if meta.deletion_timestamp(job):
            self._delete_job(job)
            return
        ref = podcontrol.get_controller_of(job)
        if ref is not None:
            cron_job = self._resolve_controller_ref(meta.namespace(job), ref)
            if cron_job is not None:
                self._enqueue(cron_job)

    def _update_job(self, old: Obj, new: Obj) -> None:
        if meta.resource_version(old) == meta.resource_version(new):
            return
        new_ref = podcontrol.get_controller_of(new)
        old_ref = podcontrol.get_controller_of(old)
        if new_ref != old_ref and old_ref is not None:
            previous = self._resolve_controller_ref(meta.namespace(old), old_ref)
            if previous is not None:
                self._enqueue(previous)
        if new_ref is not None:
            cron_job = self._resolve_controller_ref(meta.namespace(new), new_ref)
            if cron_job is not None:
                self._enqueue(cron_job)

    def _delete_job(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        job = informer.deleted_object(obj)
        ref = podcontrol.get_controller_of(job)
        if ref is None:
            return
        cron_job = self._resolve_controller_ref(meta.namespace(job), ref)
        if cron_job is not None:
            self._enqueue(cron_job)

    def _update_cron_job(self, old: Obj, new: Obj) -> None:
        """A changed schedule or zone requeues the CronJob for its next time; any other
        change syncs it now."""
        old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
        if old_spec.get("schedule") == new_spec.get("schedule") and \
                old_spec.get("timeZone") == new_spec.get("timeZone"):
            self._enqueue(new)
            return
        try:
            schedule = cron.parse_standard(format_schedule(new, None))
        except cron.ParseError as exc:
            log.info("unparseable schedule for cronjob %s: %s", meta.name(new), exc)
            self._recorder.event(new, events.WARNING, UNPARSEABLE_CRONJOB_SCHEDULE,
                                 "unparseable schedule for cronjob: "
                                 f"{new_spec.get('schedule', '')}")
            return
        self.queue.add_after(informer.meta_namespace_key(new),
                             next_schedule_time_duration(new, self._now(), schedule))

    # --- sync ---

    def jobs_to_be_reconciled(self, cron_job: Obj) -> list[Obj]:
        """The Jobs whose controller ownerReference names this CronJob (by name, as
        upstream: a Job of a deleted CronJob of the same name is seen too)."""
        out = []
        for job in self._jobs.cache.list(meta.namespace(cron_job)):
            ref = podcontrol.get_controller_of(job)
            if ref is not None and ref.get("name") == meta.name(cron_job):
                out.append(job)
        return out

    async def sync(self, key: str) -> None:
        """Reconcile the CronJob at `key`. Raises RequeueAfter for the next schedule time,
        and API errors (retried with backoff)."""
        cron_job = self._cron_jobs.cache.get(key)
        if cron_job is None:
            return
        jobs = self.jobs_to_be_reconciled(cron_job)
        # One copy gathers every change, so the status is written once.
        cron_job = copy.deepcopy(cron_job)
        cron_job.setdefault("status", {})
        update_after_cleanup = await self.cleanup_finished_jobs(cron_job, jobs)
        result = await self.sync_cron_job(cron_job, jobs)
        if result.error is not None:
            log.info("error reconciling cronjob %s: %s", key, result.error)
        if update_after_cleanup or result.update_status:
            await self._cron_job_control.update_status(cron_job)
        if result.requeue_after is not None:
            raise worker.RequeueAfter(result.requeue_after)
        if result.error is not None:
            raise result.error

    async def sync_cron_job(self, cron_job: Obj, jobs: list[Obj]) -> SyncResult:
        """Upstream's syncCronJob on `cron_job` (a private copy it changes): the active list,
        lastSuccessfulTime, and the Job for the most recent unmet schedule time."""
        now = self._now()
        result = SyncResult()
        status = cron_job["status"]
        children = set()
        for job in jobs:
            uid = meta.uid(job)
            children.add(uid)
            found = in_active_list(cron_job, uid)
            finished = finished_condition(job)
            if not found and finished is None:
                try:
                    fresh = await self._cron_job_control.get_cron_job(
                        meta.namespace(cron_job), meta.name(cron_job))
                except errors.StatusError as exc:
                    result.error = exc
                    return result
                if in_active_list(fresh, uid):
                    cron_job.clear()
                    cron_job.update(fresh)
                    cron_job.setdefault("status", {})
                    status = cron_job["status"]
                    continue
                self._recorder.event(cron_job, events.WARNING, UNEXPECTED_JOB,
                                     "Saw a job that the controller did not create or "
                                     f"forgot: {meta.name(job)}")
            elif found and finished is not None:
                delete_from_active_list(cron_job, uid)
                self._recorder.event(cron_job, events.NORMAL, SAW_COMPLETED_JOB,
                                     f"Saw completed job: {meta.name(job)}, status: {finished}")
                result.update_status = True
            elif finished == "Complete":
                # Counted even when not in the active list: a Job that succeeded succeeded.
                completion = (job.get("status") or {}).get("completionTime")
                last = status.get("lastSuccessfulTime")
                if completion and (not last or meta.parse_time(completion) >
                                   meta.parse_time(last)):
                    status["lastSuccessfulTime"] = completion
                    result.update_status = True

        for ref in list(_active(cron_job)):
            if ref.get("uid") in children:
                continue
            # The cache may lag: ask the server before calling the Job missing.
            try:
                await self._job_control.get_job(ref.get("namespace", ""), ref.get("name", ""))
            except errors.StatusError as exc:
                if exc.code != 404:
                    result.error = exc
                    return result
                self._recorder.event(cron_job, events.NORMAL, MISSING_JOB,
                                     f"Active job went missing: {ref.get('name', '')}")
                delete_from_active_list(cron_job, ref.get("uid", ""))
                result.update_status = True

        if meta.deletion_timestamp(cron_job):
            return result
        spec = cron_job.get("spec") or {}
        zone = spec.get("timeZone")
        if zone is not None:
            try:
                cron.load_location(zone)
            except ValueError as exc:
                self._recorder.event(cron_job, events.WARNING, UNKNOWN_TIME_ZONE,
                                     f'invalid timeZone: "{zone}": {exc}')
                return result
        if spec.get("suspend"):
            return result
        try:
            schedule = cron.parse_standard(format_schedule(cron_job, self._recorder))
        except cron.ParseError as exc:
            self._recorder.event(cron_job, events.WARNING, UNPARSEABLE_SCHEDULE,
                                 f'unparseable schedule: "{spec.get("schedule", "")}" : {exc}')
            return result
        try:
            recent = most_recent_schedule_time(cron_job, now, schedule,
                                               include_starting_deadline=True)
        except InvalidScheduleError as exc:
            self._recorder.event(cron_job, events.WARNING, INVALID_SCHEDULE,
                                 f"invalid schedule: {spec.get('schedule', '')} : {exc}")
            return result
        scheduled = recent.most_recent
        if scheduled is not None and recent.missed > MANY_MISSED:
            self._recorder.event(cron_job, events.WARNING, TOO_MANY_MISSED_TIMES,
                                 TOO_MANY_MISSED_MESSAGE)
            log.info("too many missed times for cronjob %s", meta.name(cron_job))
        if scheduled is None:
            result.requeue_after = next_schedule_time_duration(cron_job, now, schedule)
            return result

        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and \
                scheduled + datetime.timedelta(seconds=int(deadline)) < now:
            self._recorder.event(cron_job, events.WARNING, MISS_SCHEDULE,
                                 "Missed scheduled time to start a job: "
                                 f"{format_rfc1123z(scheduled)}")
            result.requeue_after = next_schedule_time_duration(cron_job, now, schedule)
            return result
        last_schedule = status.get("lastScheduleTime")
        if in_active_list_by_name(cron_job, meta.namespace(cron_job),
                                  job_name(cron_job, scheduled)) or \
                (last_schedule and meta.parse_time(last_schedule) == scheduled):
            result.requeue_after = next_schedule_time_duration(cron_job, now, schedule)
            return result
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and _active(cron_job):
            # The caches may miss a running Job, so Forbid is best effort, as upstream says.
            self._recorder.event(cron_job, events.NORMAL, JOB_ALREADY_ACTIVE,
                                 JOB_ALREADY_ACTIVE_MESSAGE)
            result.requeue_after = next_schedule_time_duration(cron_job, now, schedule)
            return result
        if policy == "Replace":
            for ref in list(_active(cron_job)):
                try:
                    job = await self._job_control.get_job(ref.get("namespace", ""),
                                                          ref.get("name", ""))
                except errors.StatusError as exc:
                    self._recorder.event(cron_job, events.WARNING, FAILED_GET,
                                         f"Get job: {_message(exc)}")
                    result.error = exc
                    return result
                if not await self.delete_job(cron_job, job):
                    result.error = worker.SyncFailed(
                        f"could not replace job {meta.namespace(job)}/{meta.name(job)}")
                    return result
                result.update_status = True

        request = get_job_from_template(cron_job, scheduled)
        already_exists = False
        try:
            created = await self._job_control.create_job(meta.namespace(cron_job), request)
        except errors.StatusError as exc:
            if apistatus.has_status_cause(exc, apistatus.NAMESPACE_TERMINATING_CAUSE):
                result.error = exc
                return result
            if exc.reason != "AlreadyExists":
                self._recorder.event(cron_job, events.WARNING, FAILED_CREATE,
                                     f"Error creating job: {_message(exc)}")
                result.error = exc
                return result
            # Created before, perhaps by us with the status update lost: adopt it into the
            # active list if it is ours.
            already_exists = True
            try:
                created = await self._job_control.get_job(meta.namespace(cron_job),
                                                          meta.name(request))
            except errors.StatusError as get_exc:
                result.error = get_exc
                return result
            owner = podcontrol.get_controller_of(created)
            if owner is None or owner.get("uid") != meta.uid(cron_job) or \
                    in_active_list(cron_job, meta.uid(created)):
                return result
        if already_exists:
            log.info("job %s of cronjob %s already exists", meta.name(request),
                     meta.name(cron_job))
        else:
            self._recorder.event(cron_job, events.NORMAL, SUCCESSFUL_CREATE,
                                 f"Created job {meta.name(created)}")
        job_ref = events.object_reference({"apiVersion": "batch/v1", "kind": "Job", **created})
        status.setdefault("active", [])
        status["active"] = [*_active(cron_job), job_ref]
        status["lastScheduleTime"] = meta.format_time(scheduled)
        result.update_status = True
        result.requeue_after = next_schedule_time_duration(cron_job, now, schedule)
        return result

    async def cleanup_finished_jobs(self, cron_job: Obj, jobs: list[Obj]) -> bool:
        """Delete the oldest finished Jobs beyond the history limits; True when the status
        changed."""
        spec = cron_job.get("spec") or {}
        successful_limit = spec.get("successfulJobsHistoryLimit")
        failed_limit = spec.get("failedJobsHistoryLimit")
        if successful_limit is None and failed_limit is None:
            return False
        successful = [j for j in jobs if finished_condition(j) == "Complete"]
        failed = [j for j in jobs if finished_condition(j) == "Failed"]
        changed = False
        if successful_limit is not None and \
                await self._remove_oldest_jobs(cron_job, successful, int(successful_limit)):
            changed = True
        if failed_limit is not None and \
                await self._remove_oldest_jobs(cron_job, failed, int(failed_limit)):
            changed = True
        return changed

    async def _remove_oldest_jobs(self, cron_job: Obj, jobs: list[Obj], keep: int) -> bool:
        surplus = len(jobs) - keep
        if surplus <= 0:
            return False
        changed = False
        for job in sorted(jobs, key=_job_start_key)[:surplus]:
            if await self.delete_job(cron_job, job):
                changed = True
        return changed

    async def delete_job(self, cron_job: Obj, job: Obj) -> bool:
        """Delete `job` and its active-list entry (upstream's deleteJob); False, with a
        FailedDelete event, when the API refused."""
        try:
            await self._job_control.delete_job(meta.namespace(job), meta.name(job))
        except errors.StatusError as exc:
            self._recorder.event(cron_job, events.WARNING, FAILED_DELETE,
                                 f"Deleted job: {_message(exc)}")
            log.error("error deleting job %s of cronjob %s: %s", meta.name(job),
                      meta.name(cron_job), exc)
            return False
        delete_from_active_list(cron_job, meta.uid(job))
        self._recorder.event(cron_job, events.NORMAL, SUCCESSFUL_DELETE,
                             f"Deleted job {meta.name(job)}")
        return True


def _message(exc: errors.StatusError) -> str:
    return str(exc.status.get("message") or exc)


def new_cron_job_controller(client: rest.RESTClient, *, informers: informer.SharedInformerFactory,
                            settings: CronJobControllerSettings | None = None,
                            now: Callable[[], datetime.datetime] | None = None
                            ) -> CronJobController:
    """The controller as kube-controller-manager builds it: shared informers, writes through
    `client`, events as `cronjob-controller`."""
    recorder = events.EventRecorder(client, component=COMPONENT)
    return CronJobController(
        jobs=informers.informer_for(*JOBS), cron_jobs=informers.informer_for(*CRONJOBS),
        job_control=RealJobControl(client), cron_job_control=RealCronJobControl(client),
        recorder=recorder, settings=settings, now=now, run_alongside=(recorder.run,))
