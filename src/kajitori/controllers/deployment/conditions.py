"""A Deployment's conditions, and the progress predicates that set them.

Mirrors the condition half of pkg/controller/deployment/util/deployment_util.go: `Available`
(`MinimumReplicasAvailable`/`MinimumReplicasUnavailable`), `Progressing` (created, found,
updated, available, paused, resumed, timed out) and `ReplicaFailure` promoted from a
ReplicaSet. Conditions keep their lastTransitionTime while their status stays; setting one
with the same status and reason changes nothing.
"""

from __future__ import annotations

import datetime
from typing import Any

from kajitori.api import meta

Obj = dict[str, Any]

AVAILABLE = "Available"
PROGRESSING = "Progressing"
REPLICA_FAILURE = "ReplicaFailure"
TRUE, FALSE, UNKNOWN = "True", "False", "Unknown"

# Progressing reasons.
REPLICASET_UPDATED_REASON = "ReplicaSetUpdated"
FAILED_RS_CREATE_REASON = "ReplicaSetCreateError"
NEW_REPLICASET_REASON = "NewReplicaSetCreated"
FOUND_NEW_RS_REASON = "FoundNewReplicaSet"
NEW_RS_AVAILABLE_REASON = "NewReplicaSetAvailable"
TIMED_OUT_REASON = "ProgressDeadlineExceeded"
PAUSED_DEPLOY_REASON = "DeploymentPaused"
RESUMED_DEPLOY_REASON = "DeploymentResumed"
# Available reasons.
MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
MINIMUM_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable"

MINIMUM_AVAILABILITY_MESSAGE = "Deployment has minimum availability."
NO_MINIMUM_AVAILABILITY_MESSAGE = "Deployment does not have minimum availability."
PAUSED_MESSAGE = "Deployment is paused"
RESUMED_MESSAGE = "Deployment is resumed"

MAX_INT32 = (1 << 31) - 1
"""progressDeadlineSeconds and revisionHistoryLimit at this value mean "never"/"all"."""


def new_condition(type_: str, status: str, reason: str, message: str, *,
                  now: datetime.datetime) -> Obj:
    stamp = meta.format_time(now)
    return {"type": type_, "status": status, "lastUpdateTime": stamp,
            "lastTransitionTime": stamp, "reason": reason, "message": message}


def get_condition(status: Obj, type_: str) -> Obj | None:
    return next((c for c in status.get("conditions") or [] if c.get("type") == type_), None)


def set_condition(status: Obj, condition: Obj) -> None:
    """Put `condition` in `status` (changed in place) unless one of its type already has its
    status and reason; keep lastTransitionTime when only the reason changes. The condition
    moves to the end, as upstream appends it."""
    current = get_condition(status, condition["type"])
    if current is not None and current.get("status") == condition["status"] and \
            current.get("reason") == condition["reason"]:
        return
    if current is not None and current.get("status") == condition["status"]:
        condition = {**condition, "lastTransitionTime": current.get("lastTransitionTime")}
    status["conditions"] = [*_without(status, condition["type"]), condition]


def remove_condition(status: Obj, type_: str) -> None:
    remaining = _without(status, type_)
    if remaining:
        status["conditions"] = remaining
    else:
        status.pop("conditions", None)


def _without(status: Obj, type_: str) -> list[Obj]:
    return [c for c in status.get("conditions") or [] if c.get("type") != type_]


def replicaset_to_deployment_condition(condition: Obj) -> Obj:
    """A ReplicaSet's (failure) condition as the Deployment's, its transition time as both
    times."""
    return {"type": condition.get("type"), "status": condition.get("status"),
            "lastUpdateTime": condition.get("lastTransitionTime"),
            "lastTransitionTime": condition.get("lastTransitionTime"),
            "reason": condition.get("reason"), "message": condition.get("message")}


def spec_replicas(deployment: Obj) -> int:
    return int((deployment.get("spec") or {}).get("replicas", 1))


def has_progress_deadline(deployment: Obj) -> bool:
    deadline = (deployment.get("spec") or {}).get("progressDeadlineSeconds")
    return deadline is not None and int(deadline) != MAX_INT32


def has_revision_history_limit(deployment: Obj) -> bool:
    limit = (deployment.get("spec") or {}).get("revisionHistoryLimit")
    return limit is not None and int(limit) != MAX_INT32


def _count(status: Obj, key: str) -> int:
    return int(status.get(key) or 0)


def deployment_complete(deployment: Obj, status: Obj) -> bool:
    """Every desired replica is updated and available, no old one is left, and the latest
    spec has been observed."""
    replicas = spec_replicas(deployment)
    return _count(status, "updatedReplicas") == replicas and \
        _count(status, "replicas") == replicas and \
        _count(status, "availableReplicas") == replicas and \
        _count(status, "observedGeneration") >= meta.generation(deployment)


def deployment_progressing(deployment: Obj, new_status: Obj) -> bool:
    """New pods were added or became ready or available, or old ones went away, compared
    with the Deployment's stored status."""
    old = deployment.get("status") or {}
    old_old_replicas = _count(old, "replicas") - _count(old, "updatedReplicas")
    new_old_replicas = _count(new_status, "replicas") - _count(new_status, "updatedReplicas")
    return _count(new_status, "updatedReplicas") > _count(old, "updatedReplicas") or \
        new_old_replicas < old_old_replicas or \
        _count(new_status, "readyReplicas") > _count(old, "readyReplicas") or \
        _count(new_status, "availableReplicas") > _count(old, "availableReplicas")


def deployment_timed_out(deployment: Obj, new_status: Obj, *, now: datetime.datetime) -> bool:
    """No progress reported for longer than progressDeadlineSeconds (or already reported as
    timed out); never for a completed rollout or without a deadline."""
    if not has_progress_deadline(deployment):
        return False
    condition = get_condition(new_status, PROGRESSING)
    if condition is None:
        return False
    if condition.get("reason") == NEW_RS_AVAILABLE_REASON:
        return False
    if condition.get("reason") == TIMED_OUT_REASON:
        return True
    since = condition.get("lastUpdateTime")
    if not since:
        return False
    deadline = int(deployment["spec"]["progressDeadlineSeconds"])
    return meta.parse_time(since) + datetime.timedelta(seconds=deadline) < now
