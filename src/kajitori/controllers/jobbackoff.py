"""The Job controller's back-off before it replaces failed pods.

Mirrors pkg/controller/job/backoff_utils.go: per Job, the number of pod failures since the
last success and when the last of them happened (`BackoffRecord`, kept in memory, so a
restarted controller starts afresh, as upstream). The wait before new pods is the default delay
doubled for each failure after the first, capped, counted from the last failure. A pod's finish
time is its containers' latest `finishedAt` once all terminated, else its Ready=False
transition, else its deletion time minus grace, else its creation.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from kajitori.api import meta

Obj = dict[str, Any]


@dataclass(frozen=True)
class BackoffRecord:
    key: str
    failures_after_last_success: int = 0
    last_failure_time: datetime.datetime | None = None

    def remaining_time(self, now: datetime.datetime, *, default_backoff: float,
                       max_backoff: float) -> float:
        """Seconds still to wait before creating pods (0: create now)."""
        return remaining_time_for_failures(now, default_backoff=default_backoff,
                                           max_backoff=max_backoff,
                                           failures=self.failures_after_last_success,
                                           last_failure=self.last_failure_time)


def remaining_time_for_failures(now: datetime.datetime, *, default_backoff: float,
                                max_backoff: float, failures: int,
                                last_failure: datetime.datetime | None) -> float:
    if failures == 0 or last_failure is None:
        return 0.0
    delay = default_backoff
    for _ in range(1, failures):
        delay *= 2
        if delay >= max_backoff:
            delay = max_backoff
            break
    elapsed = (now - last_failure).total_seconds()
    return 0.0 if delay < elapsed else delay - elapsed


def _finish_time_from_containers(pod: Obj) -> datetime.datetime | None:
    latest: datetime.datetime | None = None
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        terminated = (status.get("state") or {}).get("terminated") or {}
        if not terminated.get("finishedAt"):
            return None
        finished = meta.parse_time(terminated["finishedAt"])
        if latest is None or finished > latest:
            latest = finished
    return latest


def finished_time(pod: Obj) -> datetime.datetime:
    """When `pod` finished, by upstream's order of evidence (see the module docstring)."""
    finished = _finish_time_from_containers(pod)
    if finished is not None:
        return finished
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready" and condition.get("status") == "False" and \
                condition.get("lastTransitionTime"):
            return meta.parse_time(condition["lastTransitionTime"])
    md = pod.get("metadata") or {}
    if md.get("deletionTimestamp"):
        grace = int(md.get("deletionGracePeriodSeconds") or 0)
        return meta.parse_time(md["deletionTimestamp"]) - datetime.timedelta(seconds=grace)
    created = md.get("creationTimestamp")
    return meta.parse_time(created) if created else datetime.datetime.min.replace(
        tzinfo=datetime.UTC)


class BackoffStore:
    """Back-off records by Job key. One event loop: no locking."""

    def __init__(self) -> None:
        self._records: dict[str, BackoffRecord] = {}

    def get(self, key: str) -> BackoffRecord | None:
        return self._records.get(key)

    def update(self, record: BackoffRecord) -> None:
        self._records[record.key] = record

    def remove(self, key: str) -> None:
        self._records.pop(key, None)

    def new_record(self, key: str, *, succeeded: list[Obj], failed: list[Obj]) -> BackoffRecord:
        """The record after these newly succeeded and failed pods: failures since the latest
        success count on; a success resets the count to the failures that came after it."""
        old = self._records.get(key) or BackoffRecord(key)
        failed_times = sorted(finished_time(p) for p in failed)
        if not succeeded:
            if not failed_times:
                return old
            return BackoffRecord(key, old.failures_after_last_success + len(failed_times),
                                 failed_times[-1])
        last_success = max(finished_time(p) for p in succeeded)
        after = [t for t in failed_times if t > last_success]
        return BackoffRecord(key, len(after), after[-1] if after else None)
