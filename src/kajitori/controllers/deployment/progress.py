"""The rollout's status and its `Progressing` condition, and the progress deadline.

Mirrors pkg/controller/deployment/progress.go: after each rollout step the status is
recomputed; while a deadline is set and the rollout is not complete, the condition says the
new ReplicaSet `has successfully progressed` (all replicas updated and available), `is
progressing` (some count moved: lastUpdateTime refreshed, lastTransitionTime kept), or, after
`progressDeadlineSeconds` without either, `has timed out progressing` (`False`,
`ProgressDeadlineExceeded`, which `kubectl rollout status` reports as an error). A
ReplicaSet's `ReplicaFailure` is promoted to the Deployment. A Deployment that made no
progress is requeued for when its deadline will have passed.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from kajitori.api import meta
from kajitori.controllers.deployment import conditions, sync

Obj = dict[str, Any]

log = logging.getLogger(__name__)


def get_replica_failures(all_rss: list[Obj | None], new_rs: Obj | None) -> list[Obj]:
    """`ReplicaFailure` conditions as the Deployment's: the new ReplicaSet's first, else the
    old ones'."""
    def failures(rs: Obj) -> list[Obj]:
        return [conditions.replicaset_to_deployment_condition(c)
                for c in (rs.get("status") or {}).get("conditions") or []
                if c.get("type") == conditions.REPLICA_FAILURE]
    if new_rs is not None and (found := failures(new_rs)):
        return found
    return [c for rs in all_rss if rs is not None for c in failures(rs)]


def _name_message(d: Obj, new_rs: Obj | None, text: str) -> str:
    """`ReplicaSet "x-abc" <text>`, or `Deployment "x" <text>` while there is no new one."""
    if new_rs is not None:
        return f'ReplicaSet "{meta.name(new_rs)}" {text}'
    return f'Deployment "{meta.name(d)}" {text}'


async def sync_rollout_status(dc: sync.SyncContext, all_rss: list[Obj | None],
                              new_rs: Obj | None, d: Obj) -> None:
    """Write the rollout's status and Progressing condition (see the module docstring)."""
    now = dc.now()
    new_status = sync.calculate_status(all_rss, new_rs, d, now=now)
    if not conditions.has_progress_deadline(d):
        conditions.remove_condition(new_status, conditions.PROGRESSING)
    current = conditions.get_condition(d.get("status") or {}, conditions.PROGRESSING)
    is_complete = int(new_status.get("replicas") or 0) == \
        int(new_status.get("updatedReplicas") or 0) and current is not None and \
        current.get("reason") == conditions.NEW_RS_AVAILABLE_REASON
    if conditions.has_progress_deadline(d) and not is_complete:
        if conditions.deployment_complete(d, new_status):
            message = _name_message(d, new_rs, "has successfully progressed.")
            conditions.set_condition(new_status, conditions.new_condition(
                conditions.PROGRESSING, conditions.TRUE, conditions.NEW_RS_AVAILABLE_REASON,
                message, now=now))
        elif conditions.deployment_progressing(d, new_status):
            message = _name_message(d, new_rs, "is progressing.")
            condition = conditions.new_condition(
                conditions.PROGRESSING, conditions.TRUE, conditions.REPLICASET_UPDATED_REASON,
                message, now=now)
            # Unlike other conditions, this one is rewritten with the same reason, to move
            # lastUpdateTime: the deadline counts from the last progress.
            if current is not None:
                if current.get("status") == conditions.TRUE:
                    condition["lastTransitionTime"] = current.get("lastTransitionTime")
                conditions.remove_condition(new_status, conditions.PROGRESSING)
            conditions.set_condition(new_status, condition)
        elif conditions.deployment_timed_out(d, new_status, now=now):
            message = _name_message(d, new_rs, "has timed out progressing.")
            conditions.set_condition(new_status, conditions.new_condition(
                conditions.PROGRESSING, conditions.FALSE, conditions.TIMED_OUT_REASON,
                message, now=now))
    failures = get_replica_failures(all_rss, new_rs)
    if failures:
        conditions.set_condition(new_status, failures[0])
    else:
        conditions.remove_condition(new_status, conditions.REPLICA_FAILURE)
    if sync.status_equal(d.get("status") or {}, new_status):
        requeue_stuck_deployment(dc, d, new_status, now=now)
        return
    d["status"] = new_status
    await sync.update_status(dc, d)


def requeue_stuck_deployment(dc: sync.SyncContext, d: Obj, new_status: Obj, *,
                             now: datetime.datetime) -> float | None:
    """Look at a Deployment that made no progress again when its deadline passes (upstream
    adds a second against timer skew); returns the delay, None when not requeued."""
    current = conditions.get_condition(d.get("status") or {}, conditions.PROGRESSING)
    if not conditions.has_progress_deadline(d) or current is None:
        return None
    if conditions.deployment_complete(d, new_status) or \
            current.get("reason") == conditions.TIMED_OUT_REASON:
        return None
    since = current.get("lastUpdateTime")
    if not since:
        return None
    deadline = datetime.timedelta(seconds=int(d["spec"]["progressDeadlineSeconds"]))
    after = (meta.parse_time(since) + deadline - now).total_seconds()
    if after < 1.0:
        log.debug("queueing up deployment %s for a progress check now", meta.name(d))
        dc.enqueue_rate_limited(d)
        return 0.0
    log.debug("queueing up deployment %s for a progress check after %ds", meta.name(d),
              int(after))
    dc.enqueue_after(d, after + 1.0)
    return after
