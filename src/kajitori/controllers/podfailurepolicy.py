"""A Job's `podFailurePolicy`: what a failed pod's exit codes or conditions mean for its Job.

Mirrors pkg/controller/job/pod_failure_policy.go. Rules are tried in order; the first whose
`onExitCodes` (a terminated container, init containers after the others, with a non-zero exit
code `In`/`NotIn` the values, optionally of one container) or `onPodConditions` (a condition of
that type and status) matches decides: `FailJob` fails the Job with a message naming the pod
and rule, `Ignore` keeps the failure out of `backoffLimit`, `Count` counts it, `FailIndex`
counts it (per-index back-off limits are not implemented, see `job.py`). No rule matching
counts the failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kajitori.api import meta

Obj = dict[str, Any]

FAIL_JOB = "FailJob"
IGNORE = "Ignore"
COUNT = "Count"
FAIL_INDEX = "FailIndex"
POD_FAILURE_POLICY_REASON = "PodFailurePolicy"
"""The reason of the Job condition a FailJob rule sets."""


@dataclass(frozen=True)
class Match:
    fail_job_message: str | None
    """Set when a FailJob rule matched: the Job's failure message."""
    count_failed: bool
    """Whether the failure counts towards `backoffLimit` (not for Ignore)."""
    action: str | None
    """The matched rule's action, None when no rule matched."""


NO_MATCH = Match(None, True, None)


def _matching_container(statuses: list[Obj], requirement: Obj) -> Obj | None:
    container = requirement.get("containerName")
    values = [int(v) for v in requirement.get("values") or []]
    for status in statuses:
        terminated = (status.get("state") or {}).get("terminated")
        if terminated is None:
            continue  # still terminating: no exit code yet
        if container is not None and container != status.get("name"):
            continue
        code = int(terminated.get("exitCode") or 0)
        if code == 0:
            continue
        operator = requirement.get("operator")
        if (operator == "In" and code in values) or (operator == "NotIn" and
                                                      code not in values):
            return status
    return None


def _matching_condition(pod_status: Obj, patterns: list[Obj]) -> Obj | None:
    for condition in pod_status.get("conditions") or []:
        for pattern in patterns:
            if condition.get("type") == pattern.get("type") and \
                    condition.get("status") == pattern.get("status", "True"):
                return condition
    return None


def match_pod_failure_policy(policy: Obj | None, pod: Obj) -> Match:
    """What `policy` says of the failed `pod` (upstream's matchPodFailurePolicy)."""
    if policy is None:
        return NO_MATCH
    status = pod.get("status") or {}
    for position, rule in enumerate(policy.get("rules") or []):
        action = rule.get("action")
        on_exit_codes = rule.get("onExitCodes")
        if on_exit_codes is not None:
            container = _matching_container(status.get("containerStatuses") or [],
                                            on_exit_codes) or \
                _matching_container(status.get("initContainerStatuses") or [], on_exit_codes)
            if container is None:
                continue
            code = container["state"]["terminated"].get("exitCode")
            message = (f"Container {container.get('name', '')} for pod {meta.namespace(pod)}/"
                       f"{meta.name(pod)} failed with exit code {code} matching {action} rule "
                       f"at index {position}")
        elif rule.get("onPodConditions") is not None:
            condition = _matching_condition(status, rule["onPodConditions"])
            if condition is None:
                continue
            message = (f"Pod {meta.namespace(pod)}/{meta.name(pod)} has condition "
                       f"{condition.get('type', '')} matching {action} rule at index {position}")
        else:
            continue
        if action == IGNORE:
            return Match(None, False, IGNORE)
        if action == COUNT:
            return Match(None, True, COUNT)
        if action == FAIL_JOB:
            return Match(message, True, FAIL_JOB)
        if action == FAIL_INDEX:
            return Match(None, True, FAIL_INDEX)
    return NO_MATCH
