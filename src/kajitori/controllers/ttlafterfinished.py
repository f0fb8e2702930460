"""The TTL-after-finished controller: a finished Job with `ttlSecondsAfterFinished` is deleted
that many seconds after it finished.

Mirrors pkg/controller/ttlafterfinished/ttlafterfinished_controller.go. A Job added or updated
that has the field and is finished (condition Complete or Failed, status True) is queued; its
sync computes the expiry from the condition's lastTransitionTime, requeues the Job for the time
left, and once expired reads the Job afresh from the API (its TTL may have been changed) and
deletes it in the foreground, guarded by its uid, so its pods go first (the garbage collector
does that part).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from typing import Any

from kajitori.api import errors, meta
from kajitori.client import informer, rest, workqueue
from kajitori.controllers import worker

Obj = dict[str, Any]

log = logging.getLogger(__name__)

JOBS = ("batch", "v1", "jobs")
FINISHED_CONDITIONS = ("Complete", "Failed")


def is_job_finished(job: Obj) -> bool:
    return any(c.get("type") in FINISHED_CONDITIONS and c.get("status") == "True"
               for c in (job.get("status") or {}).get("conditions") or [])


def needs_cleanup(job: Obj) -> bool:
    return (job.get("spec") or {}).get("ttlSecondsAfterFinished") is not None and \
        is_job_finished(job)


def job_finish_time(job: Obj) -> datetime.datetime:
    """When the Job finished: its Complete or Failed condition's lastTransitionTime. Raises
    worker.SyncFailed, worded as upstream, when the condition has none."""
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in FINISHED_CONDITIONS and c.get("status") == "True":
            if not c.get("lastTransitionTime"):
                break
            return meta.parse_time(c["lastTransitionTime"])
    raise worker.SyncFailed("unable to find the time when the Job "
                            f"{meta.namespace(job)}/{meta.name(job)} finished")


class TTLAfterFinishedController:
    """Deletes finished Jobs whose TTL has run out, `workers` at a time."""

    def __init__(self, *, client: rest.RESTClient, jobs: informer.Informer, workers: int,
                 now: Callable[[], datetime.datetime] | None = None) -> None:
        """`now` gives wall-clock time; tests pass a fixed one, components None."""
        self._client = client
        self._jobs = jobs
        self._workers = workers
        self._now = now or (lambda: datetime.datetime.now(datetime.UTC))
        self.queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
            name="ttl_jobs_to_delete")
        jobs.add_handlers(on_add=self._enqueue, on_update=lambda _old, new: self._enqueue(new))

    def _enqueue(self, job: Obj) -> None:
        if not meta.deletion_timestamp(job) and needs_cleanup(job):
            self.queue.add(informer.meta_namespace_key(job))

    async def run(self) -> None:
        await worker.run_workers(self.queue, self.sync, what="Job", workers=self._workers,
                                 informers=(self._jobs,))

    def time_left(self, job: Obj) -> float:
        """Seconds until `job` expires (0 or less: expired)."""
        finished = job_finish_time(job)
        now = self._now()
        if finished > now:
            log.warning("found Job %s/%s finished in the future. This is likely due to time "
                        "skew in the cluster. Job cleanup will be deferred.",
                        meta.namespace(job), meta.name(job))
        ttl = int(job["spec"]["ttlSecondsAfterFinished"])
        return (finished + datetime.timedelta(seconds=ttl) - now).total_seconds()

    def _expired(self, job: Obj) -> bool:
        """Whether `job` is due for deletion now. Raises RequeueAfter with the time left for
        one that will be."""
        if meta.deletion_timestamp(job) or not needs_cleanup(job):
            return False
        left = self.time_left(job)
        if left > 0:
            raise worker.RequeueAfter(left)
        return True

    async def sync(self, key: str) -> None:
        """Delete the Job at `key` if its TTL has run out; requeue it for later otherwise."""
        job = self._jobs.cache.get(key)
        if job is None or not self._expired(job):
            return
        # The cache may lag: the TTL may have been changed or the Job replaced. Decide on the
        # live Job before deleting anything.
        namespace, name = informer.split_meta_namespace_key(key)
        path = rest.resource_path(*JOBS, namespace=namespace, name=name)
        try:
            fresh = await self._client.get(path)
        except errors.StatusError as exc:
            if exc.code == 404:
                return
            raise
        if not self._expired(fresh):
            return
        log.info("cleaning up Job %s", key)
        with errors.ignore_not_found():
            await self._client.delete(path, options={
                "kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground",
                "preconditions": {"uid": meta.uid(fresh)}})
