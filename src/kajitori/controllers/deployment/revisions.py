"""The annotations a Deployment keeps on its ReplicaSets (and its own revision).

Mirrors the annotation half of pkg/controller/deployment/util/deployment_util.go: each
ReplicaSet carries its rollout `revision` (and, once rolled back to, the `revision-history`
it served before), the Deployment's `desired-replicas` and `max-replicas` when it was last
scaled (for proportional scaling), and a copy of the Deployment's other annotations (so
`kubernetes.io/change-cause` shows in `kubectl rollout history`). Functions named `set_*`
change the dict they are given (a copy the caller owns) and say whether anything changed.
"""

from __future__ import annotations

import logging
from typing import Any

from kajitori.api import meta

Obj = dict[str, Any]

log = logging.getLogger(__name__)

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED_CONFIG_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
DEPRECATED_ROLLBACK_TO = "deprecated.deployment.rollback.to"
MAX_REV_HISTORY_LENGTH_IN_CHARS = 2000
"""The longest `revision-history` kept; older entries are dropped first (upstream's value)."""

ANNOTATIONS_TO_SKIP = frozenset({LAST_APPLIED_CONFIG_ANNOTATION, REVISION_ANNOTATION,
                                 REVISION_HISTORY_ANNOTATION, DESIRED_REPLICAS_ANNOTATION,
                                 MAX_REPLICAS_ANNOTATION, DEPRECATED_ROLLBACK_TO})
"""Deployment annotations never copied to its ReplicaSets."""


def _annotations(obj: Obj) -> dict[str, str]:
    """The object's annotations map, created when missing (for `set_*`)."""
    md = obj.setdefault("metadata", {})
    if md.get("annotations") is None:
        md["annotations"] = {}
    annotations: dict[str, str] = md["annotations"]
    return annotations


def revision(obj: Obj) -> int:
    """The object's revision, 0 when unannotated. Raises ValueError when not an integer."""
    text = meta.annotations(obj).get(REVISION_ANNOTATION)
    return 0 if text is None else int(text)


def max_revision(replicasets: list[Obj]) -> int:
    """The highest revision among `replicasets`; unparsable ones are skipped."""
    highest = 0
    for rs in replicasets:
        try:
            highest = max(highest, revision(rs))
        except ValueError:
            log.debug("couldn't parse revision of %s; skipping it", meta.name(rs))
    return highest


def set_deployment_revision(deployment: Obj, value: str) -> bool:
    annotations = _annotations(deployment)
    if annotations.get(REVISION_ANNOTATION) == value:
        return False
    annotations[REVISION_ANNOTATION] = value
    return True


def copy_deployment_annotations(deployment: Obj, rs: Obj) -> bool:
    """Copy the Deployment's annotations but `ANNOTATIONS_TO_SKIP` onto `rs`."""
    changed = False
    annotations = _annotations(rs)
    for key, value in meta.annotations(deployment).items():
        if key in ANNOTATIONS_TO_SKIP or annotations.get(key) == value:
            continue
        annotations[key] = value
        changed = True
    return changed


def set_replicas_annotations(rs: Obj, desired: int, max_replicas: int) -> bool:
    annotations = _annotations(rs)
    changed = False
    for key, value in ((DESIRED_REPLICAS_ANNOTATION, str(desired)),
                       (MAX_REPLICAS_ANNOTATION, str(max_replicas))):
        if annotations.get(key) != value:
            annotations[key] = value
            changed = True
    return changed


def replicas_annotations_need_update(rs: Obj, desired: int, max_replicas: int) -> bool:
    annotations = meta.annotations(rs)
    return annotations.get(DESIRED_REPLICAS_ANNOTATION) != str(desired) or \
        annotations.get(MAX_REPLICAS_ANNOTATION) != str(max_replicas)


def int_annotation(rs: Obj, key: str) -> int | None:
    """An integer annotation of `rs`, None when absent or not an integer."""
    text = meta.annotations(rs).get(key)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        log.debug("cannot convert %r of %s in %s", text, key, meta.name(rs))
        return None


def set_new_replicaset_annotations(deployment: Obj, rs: Obj, new_revision: str, *,
                                   exists: bool, desired: int, max_replicas: int,
                                   rev_history_limit_in_chars: int = MAX_REV_HISTORY_LENGTH_IN_CHARS
                                   ) -> bool:
    """Bring the new ReplicaSet's annotations up to date (upstream's
    SetNewReplicaSetAnnotations): the Deployment's annotations, `new_revision` unless the
    ReplicaSet already has a higher one (the old revision then joins `revision-history`: this
    is a rollback to it), and, for a ReplicaSet about to be created (`not exists`), the
    replica annotations."""
    changed = copy_deployment_annotations(deployment, rs)
    annotations = _annotations(rs)
    old_revision = annotations.get(REVISION_ANNOTATION)
    try:
        old_value = int(old_revision) if old_revision else 0
    except ValueError:
        log.warning("updating replica set revision: old revision %r is not an integer",
                    old_revision)
        return False
    try:
        new_value = int(new_revision)
    except ValueError:
        log.warning("updating replica set revision: new revision %r is not an integer",
                    new_revision)
        return False
    if old_value < new_value:
        annotations[REVISION_ANNOTATION] = new_revision
        changed = True
        if old_revision is not None:
            _append_revision_history(annotations, old_revision, rev_history_limit_in_chars)
    if not exists and set_replicas_annotations(rs, desired, max_replicas):
        changed = True
    return changed


def _append_revision_history(annotations: dict[str, str], old_revision: str,
                             limit: int) -> None:
    history = annotations.get(REVISION_HISTORY_ANNOTATION, "")
    if not history:
        annotations[REVISION_HISTORY_ANNOTATION] = old_revision
        return
    old_revisions = history.split(",")
    total = len(history) + len(old_revision) + 1
    start = 0
    while total > limit and start < len(old_revisions):
        total -= len(old_revisions[start]) + 1
        start += 1
    if total <= limit:
        annotations[REVISION_HISTORY_ANNOTATION] = ",".join([*old_revisions[start:],
                                                             old_revision])
    else:
        log.warning("not appending revision due to length limit of %d reached", limit)
