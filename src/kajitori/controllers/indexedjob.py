"""Indexed Jobs: completion indexes on pods, and sets of indexes as `status.completedIndexes`
writes them.

Mirrors pkg/controller/job/indexed_job_utils.go and success_policy.go. A pod of an Indexed Job
carries its index in the annotation and label `batch.kubernetes.io/job-completion-index`, is
named `<job>-<index>-<random>` with hostname `<job>-<index>`, and its containers get
`JOB_COMPLETION_INDEX` from that label through the downward API. Indexes are kept as ordered
intervals and written `1,3-5,7` (two neighbours as `3,4`). The Job controller (`job.py`) uses
these; nothing here talks to the API.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from kajitori.api import meta

Obj = dict[str, Any]

COMPLETION_INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
"""Also the label's key (upstream sets both since PodIndexLabel)."""
COMPLETION_INDEX_ENV_NAME = "JOB_COMPLETION_INDEX"
UNKNOWN_COMPLETION_INDEX = -1
MAX_GENERATED_NAME_LENGTH = 58
"""A generateName prefix longer than this is cut, leaving room for the 5 random characters
(upstream's names.MaxGeneratedNameLength: 63 - 5)."""
SUCCESS_POLICY_REASON = "SuccessPolicy"
RULES_MATCHED_MESSAGE = "Matched rules at index"

Interval = tuple[int, int]
"""First and last index, inclusive."""


def is_indexed_job(job: Obj) -> bool:
    return (job.get("spec") or {}).get("completionMode") == "Indexed"


def completion_index(pod: Obj) -> int:
    """The pod's index from its annotation, or UNKNOWN_COMPLETION_INDEX when it has none or
    a malformed or negative one."""
    value = (meta.metadata(pod).get("annotations") or {}).get(COMPLETION_INDEX_ANNOTATION)
    if value is None:
        return UNKNOWN_COMPLETION_INDEX
    try:
        index = int(value)
    except ValueError:
        return UNKNOWN_COMPLETION_INDEX
    return index if index >= 0 else UNKNOWN_COMPLETION_INDEX


def with_ordered_indexes(intervals: list[Interval], indexes: Iterable[int]) -> list[Interval]:
    """`intervals` plus `indexes` (increasing), merged into ordered, non-touching intervals."""
    items = sorted([*intervals, *((i, i) for i in indexes)])
    result: list[Interval] = []
    for first, last in items:
        if result and first <= result[-1][1] + 1:
            if last > result[-1][1]:
                result[-1] = (result[-1][0], last)
        else:
            result.append((first, last))
    return result


def total(intervals: list[Interval]) -> int:
    return sum(last - first + 1 for first, last in intervals)


def has_index(intervals: list[Interval], index: int) -> bool:
    return any(first <= index <= last for first, last in intervals)


def format_intervals(intervals: list[Interval]) -> str:
    parts = []
    for first, last in intervals:
        if last == first:
            parts.append(str(first))
        elif last == first + 1:
            parts.append(f"{first},{last}")
        else:
            parts.append(f"{first}-{last}")
    return ",".join(parts)


def parse_indexes(text: str, completions: int) -> list[Interval]:
    """Intervals from `1,3-5` text, below `completions`; corrupt parts are skipped (upstream
    logs and ignores them)."""
    result: list[Interval] = []
    if not text:
        return result
    for part in text.split(","):
        limits = part.split("-")
        try:
            first = int(limits[0])
            last = int(limits[1]) if len(limits) > 1 else first
        except ValueError:
            continue
        if first >= completions:
            break
        last = min(last, completions - 1)
        if result and result[-1][1] == first - 1:
            result[-1] = (result[-1][0], last)
        else:
            result.append((first, last))
    return result


def first_pending_indexes(active_pods: list[Obj], succeeded: list[Interval], *, count: int,
                          completions: int) -> list[int]:
    """Up to `count` indexes below `completions` that neither an active pod nor a success
    covers, lowest first."""
    taken = with_ordered_indexes(succeeded, {completion_index(p) for p in active_pods
                                             if completion_index(p) != UNKNOWN_COMPLETION_INDEX})
    result: list[int] = []
    candidate = 0
    while candidate < completions and len(result) < count:
        covering = next(((f, la) for f, la in taken if f <= candidate <= la), None)
        if covering is not None:
            candidate = covering[1] + 1
            continue
        result.append(candidate)
        candidate += 1
    return result


def duplicated_index_pods(pods: list[Obj], *, completions: int,
                          removal_order: Any) -> tuple[list[Obj], list[Obj]]:
    """(pods to remove, pods left): every pod without an index or with one out of range, and
    all but one pod of a repeated index (the one `removal_order` sorts last is kept)."""
    remove: list[Obj] = []
    by_index: dict[int, list[Obj]] = {}
    for pod in pods:
        index = completion_index(pod)
        if index == UNKNOWN_COMPLETION_INDEX or index >= completions:
            remove.append(pod)
        else:
            by_index.setdefault(index, []).append(pod)
    left: list[Obj] = []
    for index in sorted(by_index):
        group = sorted(by_index[index], key=removal_order)
        remove.extend(group[:-1])
        left.append(group[-1])
    return remove, left


def add_completion_index_env_variables(template: Obj) -> None:
    """Give every container and init container of the pod template `JOB_COMPLETION_INDEX`
    from the index label, unless it sets that variable itself."""
    spec = template.setdefault("spec", {})
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or []:
            env = container.setdefault("env", [])
            if any(var.get("name") == COMPLETION_INDEX_ENV_NAME for var in env):
                continue
            env.append({"name": COMPLETION_INDEX_ENV_NAME, "valueFrom": {"fieldRef": {
                "fieldPath": f"metadata.labels['{COMPLETION_INDEX_ANNOTATION}']"}}})


def template_for_index(template: Obj, job: Obj, index: int) -> Obj:
    """A copy of the pod template with the index annotation, label and hostname."""
    out = copy.deepcopy(template)
    md = out.setdefault("metadata", {})
    md.setdefault("annotations", {})[COMPLETION_INDEX_ANNOTATION] = str(index)
    md.setdefault("labels", {})[COMPLETION_INDEX_ANNOTATION] = str(index)
    out.setdefault("spec", {})["hostname"] = f"{meta.name(job)}-{index}"
    return out


def pod_generate_name_with_index(job_name: str, index: int) -> str:
    """`<job>-<index>-`, the job name cut so the whole fits MAX_GENERATED_NAME_LENGTH."""
    suffix = f"-{index}-"
    prefix = job_name + suffix
    if len(prefix) > MAX_GENERATED_NAME_LENGTH:
        prefix = prefix[:MAX_GENERATED_NAME_LENGTH - len(suffix)] + suffix
    return prefix


def match_success_policy(policy: Obj | None, *, completions: int,
                         succeeded: list[Interval]) -> str | None:
    """The SuccessCriteriaMet message (`Matched rules at index N`) of the first rule of
    `spec.successPolicy` the succeeded indexes satisfy, or None."""
    if not policy or not succeeded:
        return None
    done = {i for first, last in succeeded for i in range(first, last + 1)}
    for position, rule in enumerate(policy.get("rules") or []):
        count = rule.get("succeededCount")
        if rule.get("succeededIndexes") is not None:
            required = parse_indexes(rule["succeededIndexes"], completions)
            if not required:
                continue
            wanted = {i for first, last in required for i in range(first, last + 1)}
            matched = len(wanted & done)
            if matched == len(wanted) or (count is not None and matched >= int(count)):
                return f"{RULES_MATCHED_MESSAGE} {position}"
        elif count is not None and len(done) >= int(count):
            return f"{RULES_MATCHED_MESSAGE} {position}"
    return None
