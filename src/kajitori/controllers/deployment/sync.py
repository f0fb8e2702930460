"""Scaling a Deployment's ReplicaSets, finding or creating its new one, cleaning up old ones,
and its status.

Mirrors pkg/controller/deployment/sync.go and the ReplicaSet lookups of
pkg/controller/deployment/util/deployment_util.go (FindNewReplicaSet, FindOldReplicaSets).
The functions take a `SyncContext` (what upstream's methods read from their
*DeploymentController receiver) and a Deployment `d` that is the sync's own deep copy: they
change its status and annotations in place as upstream does, and adopt the resourceVersion of
each write, so that the sync's later writes to it do not conflict with its earlier ones.
Called by `controller.py`, `rolling.py`, `recreate.py` and `progress.py`.
"""

from __future__ import annotations

import copy
import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from kajitori.api import errors, meta
from kajitori.client import events, informer, rest
from kajitori.controllers import apistatus, podcontrol
from kajitori.controllers.deployment import conditions, podtemplatehash, replicas, revisions

Obj = dict[str, Any]

log = logging.getLogger(__name__)

DEPLOYMENTS = ("apps", "v1", "deployments")
REPLICASETS = ("apps", "v1", "replicasets")
SCALING_REPLICASET_REASON = "ScalingReplicaSet"
SELECTING_ALL_REASON = "SelectingAll"
SELECTING_ALL_MESSAGE = "This deployment is selecting all pods. A non-empty selector is required."
UP, DOWN = "up", "down"


class Recorder(Protocol):
    """What the sync needs of an event recorder (`events.EventRecorder`)."""

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None: ...


@dataclass
class SyncContext:
    """The Deployment controller as the sync functions see it."""

    client: rest.RESTClient
    recorder: Recorder
    replicasets: informer.Indexer
    """The ReplicaSet cache (for the name a create found taken)."""
    now: Callable[[], datetime.datetime]
    """Wall-clock time for conditions and deadlines."""
    enqueue_after: Callable[[Obj, float], None]
    enqueue_rate_limited: Callable[[Obj], None]


# --- reads ------------------------------------------------------------------------------------

def find_new_replicaset(d: Obj, rs_list: list[Obj]) -> Obj | None:
    """The oldest ReplicaSet whose template is the Deployment's (but for the hash label)."""
    template = (d.get("spec") or {}).get("template") or {}
    for rs in sorted(rs_list, key=replicas.by_creation_timestamp):
        if podtemplatehash.equal_ignore_hash((rs.get("spec") or {}).get("template") or {},
                                             template):
            return rs
    return None


def find_old_replicasets(d: Obj, rs_list: list[Obj]) -> tuple[list[Obj], list[Obj]]:
    """(old ReplicaSets with replicas, all old ReplicaSets)."""
    new_rs = find_new_replicaset(d, rs_list)
    all_old = [rs for rs in rs_list if new_rs is None or meta.uid(rs) != meta.uid(new_rs)]
    return [rs for rs in all_old if replicas.replicas_of(rs) != 0], all_old


def _path(resource: tuple[str, str, str], obj: Obj, subresource: str = "") -> str:
    return rest.resource_path(*resource, namespace=meta.namespace(obj), name=meta.name(obj),
                              subresource=subresource)


async def update_status(dc: SyncContext, d: Obj) -> Obj:
    """PUT `d` to its status subresource; `d` takes the written resourceVersion."""
    written = await dc.client.update(_path(DEPLOYMENTS, d, "status"), d)
    d.setdefault("metadata", {})["resourceVersion"] = meta.resource_version(written)
    return written


# --- the new ReplicaSet and revisions ---------------------------------------------------------

async def get_all_replicasets_and_sync_revision(dc: SyncContext, d: Obj, rs_list: list[Obj], *,
                                                create_if_not_existed: bool
                                                ) -> tuple[Obj | None, list[Obj]]:
    """(new ReplicaSet or None, all old ones), the new one's revision brought above every
    old one's and copied to the Deployment; created when missing if asked."""
    _, all_old = find_old_replicasets(d, rs_list)
    new_rs = await get_new_replicaset(dc, d, rs_list, all_old,
                                      create_if_not_existed=create_if_not_existed)
    return new_rs, all_old


async def get_new_replicaset(dc: SyncContext, d: Obj, rs_list: list[Obj], old_rss: list[Obj], *,
                             create_if_not_existed: bool) -> Obj | None:
    """Upstream's getNewReplicaSet: sync the existing new ReplicaSet's annotations and
    minReadySeconds (a rollback gives it the next revision), or create
    `<name>-<pod-template-hash>` sized as the strategy allows. A name taken by a ReplicaSet
    that is not this Deployment's bumps `status.collisionCount` and raises the conflict, so
    the next sync tries another hash."""
    existing = find_new_replicaset(d, rs_list)
    new_revision = str(revisions.max_revision(old_rss) + 1)
    spec = d.get("spec") or {}
    desired = conditions.spec_replicas(d)
    max_total = desired + replicas.max_surge(d)
    min_ready = int(spec.get("minReadySeconds") or 0)
    now = dc.now()
    status = d.setdefault("status", {})
    if existing is not None:
        rs_copy = copy.deepcopy(existing)
        changed = revisions.set_new_replicaset_annotations(
            d, rs_copy, new_revision, exists=True, desired=desired, max_replicas=max_total)
        if changed or int((rs_copy.get("spec") or {}).get("minReadySeconds") or 0) != min_ready:
            rs_copy["spec"]["minReadySeconds"] = min_ready
            updated: Obj = await dc.client.update(_path(REPLICASETS, rs_copy), rs_copy)
            # Later steps of this sync read `rs_list` again (a scaling check, then the
            # rollout): they must see this write, or their own would conflict with it.
            rs_list[rs_list.index(existing)] = updated
            return updated
        needs_update = revisions.set_deployment_revision(
            d, meta.annotations(rs_copy).get(revisions.REVISION_ANNOTATION, ""))
        if conditions.has_progress_deadline(d) and \
                conditions.get_condition(status, conditions.PROGRESSING) is None:
            conditions.set_condition(status, conditions.new_condition(
                conditions.PROGRESSING, conditions.TRUE, conditions.FOUND_NEW_RS_REASON,
                f'Found new replica set "{meta.name(rs_copy)}"', now=now))
            needs_update = True
        if needs_update:
            await update_status(dc, d)
        return rs_copy
    if not create_if_not_existed:
        return None
    return await _create_new_replicaset(dc, d, old_rss, new_revision=new_revision,
                                        desired=desired, max_total=max_total)


async def _create_new_replicaset(dc: SyncContext, d: Obj, old_rss: list[Obj], *,
                                 new_revision: str, desired: int, max_total: int) -> Obj | None:
    spec = d.get("spec") or {}
    status = d.setdefault("status", {})
    template = copy.deepcopy(spec.get("template") or {})
    collision_count = status.get("collisionCount")
    pod_template_hash = podtemplatehash.compute_hash(template, collision_count)
    label_key = podtemplatehash.DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY
    template_md = template.setdefault("metadata", {})
    template_md["labels"] = {**(template_md.get("labels") or {}), label_key: pod_template_hash}
    selector = copy.deepcopy(spec.get("selector") or {})
    selector["matchLabels"] = {**(selector.get("matchLabels") or {}),
                               label_key: pod_template_hash}
    name = f"{meta.name(d)}-{pod_template_hash}"
    new_rs: Obj = {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": meta.namespace(d),
                     "labels": dict(template_md["labels"]),
                     "ownerReferences": [podcontrol.new_controller_ref(d)]},
        "spec": {"replicas": 0, "minReadySeconds": int(spec.get("minReadySeconds") or 0),
                 "selector": selector, "template": template}}
    count = replicas.new_rs_new_replicas(d, [*old_rss, new_rs], new_rs)
    new_rs["spec"]["replicas"] = count
    revisions.set_new_replicaset_annotations(d, new_rs, new_revision, exists=False,
                                               desired=desired, max_replicas=max_total)
    now = dc.now()
    already_exists = False
    try:
        created: Obj = await dc.client.create(
            rest.resource_path(*REPLICASETS, namespace=meta.namespace(d)), new_rs)
    except errors.StatusError as exc:
        if exc.reason == "AlreadyExists":
            found = dc.replicasets.get(f"{meta.namespace(d)}/{name}")
            if found is None:
                raise
            ref = podcontrol.get_controller_of(found)
            if ref is not None and ref.get("uid") == meta.uid(d) and \
                    podtemplatehash.equal_ignore_hash(spec.get("template") or {},
                                                      (found.get("spec") or {}).get("template")
                                                      or {}):
                created = found  # ours, from a sync whose create the cache had not seen
                already_exists = True
            else:
                status["collisionCount"] = int(collision_count or 0) + 1
                try:
                    await update_status(dc, d)
                    log.info("found a hash collision for deployment %s - bumping "
                             "collisionCount (%s->%d) to resolve it", meta.name(d),
                             collision_count, status["collisionCount"])
                except errors.StatusError as update_error:
                    log.info("could not record the collision of %s: %s", meta.name(d),
                             update_error)
                raise
        elif apistatus.has_status_cause(exc, apistatus.NAMESPACE_TERMINATING_CAUSE):
            raise
        else:
            message = f'Failed to create new replica set "{name}": {_text(exc)}'
            if conditions.has_progress_deadline(d):
                conditions.set_condition(status, conditions.new_condition(
                    conditions.PROGRESSING, conditions.FALSE,
                    conditions.FAILED_RS_CREATE_REASON, message, now=now))
                try:
                    await update_status(dc, d)
                except errors.StatusError as update_error:
                    # The failure to create is what matters, and the event reports it.
                    log.info("could not record the failure of %s: %s", meta.name(d),
                             update_error)
            dc.recorder.event(d, events.WARNING, conditions.FAILED_RS_CREATE_REASON, message)
            raise
    if not already_exists and count > 0:
        dc.recorder.event(d, events.NORMAL, SCALING_REPLICASET_REASON,
                          f"Scaled up replica set {meta.name(created)} from 0 to {count}")
    needs_update = revisions.set_deployment_revision(d, new_revision)
    if not already_exists and conditions.has_progress_deadline(d):
        conditions.set_condition(status, conditions.new_condition(
            conditions.PROGRESSING, conditions.TRUE, conditions.NEW_REPLICASET_REASON,
            f'Created new replica set "{meta.name(created)}"', now=now))
        needs_update = True
    if needs_update:
        await update_status(dc, d)
    return created


def _text(exc: errors.StatusError) -> str:
    return str(exc.status.get("message") or exc)


# --- scaling ----------------------------------------------------------------------------------

async def scale_replicaset_and_record_event(dc: SyncContext, rs: Obj, new_scale: int,
                                            d: Obj) -> tuple[bool, Obj]:
    """Resize `rs` to `new_scale` (a no-op when it has that size already); returns (scaled,
    the ReplicaSet as it is now)."""
    if replicas.replicas_of(rs) == new_scale:
        return False, rs
    operation = UP if replicas.replicas_of(rs) < new_scale else DOWN
    return await scale_replicaset(dc, rs, new_scale, d, operation)


async def scale_replicaset(dc: SyncContext, rs: Obj, new_scale: int, d: Obj,
                           operation: str) -> tuple[bool, Obj]:
    """Write the size and the replica annotations when either is stale; a size change is
    reported as `ScalingReplicaSet` `Scaled <up|down> replica set x from a to b`."""
    desired = conditions.spec_replicas(d)
    max_total = desired + replicas.max_surge(d)
    size_changed = replicas.replicas_of(rs) != new_scale
    if not size_changed and not revisions.replicas_annotations_need_update(rs, desired,
                                                                             max_total):
        return False, rs
    old_scale = replicas.replicas_of(rs)
    rs_copy = copy.deepcopy(rs)
    rs_copy.setdefault("spec", {})["replicas"] = new_scale
    revisions.set_replicas_annotations(rs_copy, desired, max_total)
    updated: Obj = await dc.client.update(_path(REPLICASETS, rs_copy), rs_copy)
    if size_changed:
        dc.recorder.event(d, events.NORMAL, SCALING_REPLICASET_REASON,
                          f"Scaled {operation} replica set {meta.name(updated)} from "
                          f"{old_scale} to {new_scale}")
    return size_changed, updated


def find_active_or_latest(new_rs: Obj | None, old_rss: list[Obj]) -> Obj | None:
    """The only active ReplicaSet, or the newest when none is active; None when several are
    (they are then scaled proportionally)."""
    if new_rs is None and not old_rss:
        return None
    newest_first = sorted(old_rss, key=replicas.by_creation_timestamp, reverse=True)
    active = replicas.filter_active([*newest_first, new_rs])
    if not active:
        return new_rs if new_rs is not None else newest_first[0]
    return active[0] if len(active) == 1 else None


async def scale(dc: SyncContext, d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> None:
    """A scaling event (or a paused Deployment): give the only active ReplicaSet all replicas,
    empty old ones next to a saturated new one, or, during a rolling update, spread the
    difference over the active ReplicaSets in proportion to their sizes (upstream's scale)."""
    desired = conditions.spec_replicas(d)
    only = find_active_or_latest(new_rs, old_rss)
    if only is not None:
        if replicas.replicas_of(only) != desired:
            await scale_replicaset_and_record_event(dc, only, desired, d)
        return
    if replicas.is_saturated(d, new_rs):
        for old in replicas.filter_active(list(old_rss)):
            await scale_replicaset_and_record_event(dc, old, 0, d)
        return
    if not replicas.is_rolling_update(d):
        return
    all_rss = replicas.filter_active([*old_rss, new_rs])
    allowed = desired + replicas.max_surge(d) if desired > 0 else 0
    to_add = allowed - replicas.total_replicas(list(all_rss))
    operation = ""
    if to_add > 0:
        all_rss = replicas.sort_by_size_newer(all_rss)
        operation = UP
    elif to_add < 0:
        all_rss = replicas.sort_by_size_older(all_rss)
        operation = DOWN
    added = 0
    sizes: dict[str, int] = {}
    for rs in all_rss:
        if to_add != 0:
            proportion = replicas.replicaset_proportion(rs, d, to_add, added)
            sizes[meta.name(rs)] = replicas.replicas_of(rs) + proportion
            added += proportion
        else:
            sizes[meta.name(rs)] = replicas.replicas_of(rs)
    for i, rs in enumerate(all_rss):
        if i == 0 and to_add != 0:
            # Leftovers of the rounding go to (or come from) the largest.
            sizes[meta.name(rs)] = max(0, sizes[meta.name(rs)] + to_add - added)
        await scale_replicaset(dc, rs, sizes[meta.name(rs)], d, operation)


async def is_scaling_event(dc: SyncContext, d: Obj, rs_list: list[Obj]) -> bool:
    """The Deployment's replicas differ from what an active ReplicaSet was last sized for."""
    new_rs, old_rss = await get_all_replicasets_and_sync_revision(dc, d, rs_list,
                                                                  create_if_not_existed=False)
    desired = conditions.spec_replicas(d)
    for rs in replicas.filter_active([*old_rss, new_rs]):
        annotated = revisions.int_annotation(rs, revisions.DESIRED_REPLICAS_ANNOTATION)
        if annotated is not None and annotated != desired:
            return True
    return False


async def sync(dc: SyncContext, d: Obj, rs_list: list[Obj]) -> None:
    """Reconcile a scaling event or a paused Deployment: scale, clean up, write status."""
    new_rs, old_rss = await get_all_replicasets_and_sync_revision(dc, d, rs_list,
                                                                  create_if_not_existed=False)
    await scale(dc, d, new_rs, old_rss)
    await cleanup_deployment(dc, old_rss, d)
    await sync_deployment_status(dc, [*old_rss, new_rs], new_rs, d)


async def sync_status_only(dc: SyncContext, d: Obj, rs_list: list[Obj]) -> None:
    """Only the status, for a Deployment being deleted."""
    new_rs, old_rss = await get_all_replicasets_and_sync_revision(dc, d, rs_list,
                                                                  create_if_not_existed=False)
    await sync_deployment_status(dc, [*old_rss, new_rs], new_rs, d)


async def check_paused_conditions(dc: SyncContext, d: Obj) -> None:
    """Progressing `Unknown` `DeploymentPaused`/`DeploymentResumed` when the Deployment is
    paused or resumed, so time spent paused never counts against the deadline; a reported
    timeout is left as it is."""
    if not conditions.has_progress_deadline(d):
        return
    status = d.setdefault("status", {})
    current = conditions.get_condition(status, conditions.PROGRESSING)
    if current is not None and current.get("reason") == conditions.TIMED_OUT_REASON:
        return
    paused_exists = current is not None and \
        current.get("reason") == conditions.PAUSED_DEPLOY_REASON
    paused = bool((d.get("spec") or {}).get("paused"))
    if paused and not paused_exists:
        condition = conditions.new_condition(conditions.PROGRESSING, conditions.UNKNOWN,
                                             conditions.PAUSED_DEPLOY_REASON,
                                             conditions.PAUSED_MESSAGE, now=dc.now())
    elif not paused and paused_exists:
        condition = conditions.new_condition(conditions.PROGRESSING, conditions.UNKNOWN,
                                             conditions.RESUMED_DEPLOY_REASON,
                                             conditions.RESUMED_MESSAGE, now=dc.now())
    else:
        return
    conditions.set_condition(status, condition)
    await update_status(dc, d)


async def cleanup_deployment(dc: SyncContext, old_rss: list[Obj], d: Obj) -> None:
    """Delete the oldest empty, settled old ReplicaSets beyond `revisionHistoryLimit`."""
    if not conditions.has_revision_history_limit(d):
        return
    alive = [rs for rs in old_rss if not meta.deletion_timestamp(rs)]
    diff = len(alive) - int(d["spec"]["revisionHistoryLimit"])
    if diff <= 0:
        return
    for rs in replicas.sort_by_revision(alive)[:diff]:
        if replicas.status_count(rs, "replicas") != 0 or replicas.replicas_of(rs) != 0 or \
                meta.generation(rs) > replicas.status_count(rs, "observedGeneration") or \
                meta.deletion_timestamp(rs):
            continue
        log.debug("cleaning up replica set %s of deployment %s", meta.name(rs), meta.name(d))
        with errors.ignore_not_found():
            await dc.client.delete(_path(REPLICASETS, rs))


def calculate_status(all_rss: list[Obj | None], new_rs: Obj | None, d: Obj, *,
                     now: datetime.datetime) -> Obj:
    """The Deployment's status from its ReplicaSets' (upstream's calculateStatus), with the
    `Available` condition; other conditions are copied."""
    available = replicas.total_status(all_rss, "availableReplicas")
    unavailable = max(0, replicas.total_replicas(all_rss) - available)
    old = d.get("status") or {}
    status: Obj = {"observedGeneration": meta.generation(d),
                   "replicas": replicas.total_status(all_rss, "replicas"),
                   "updatedReplicas": replicas.total_status([new_rs], "replicas"),
                   "readyReplicas": replicas.total_status(all_rss, "readyReplicas"),
                   "availableReplicas": available,
                   "unavailableReplicas": unavailable}
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    if old.get("conditions"):
        status["conditions"] = [dict(c) for c in old["conditions"]]
    if available >= conditions.spec_replicas(d) - replicas.max_unavailable(d):
        condition = conditions.new_condition(
            conditions.AVAILABLE, conditions.TRUE, conditions.MINIMUM_REPLICAS_AVAILABLE,
            conditions.MINIMUM_AVAILABILITY_MESSAGE, now=now)
    else:
        condition = conditions.new_condition(
            conditions.AVAILABLE, conditions.FALSE, conditions.MINIMUM_REPLICAS_UNAVAILABLE,
            conditions.NO_MINIMUM_AVAILABILITY_MESSAGE, now=now)
    conditions.set_condition(status, condition)
    return status


def status_equal(old: Obj, new: Obj) -> bool:
    """Go's DeepEqual of two DeploymentStatus values: absent counts are zeros."""
    return _without_zeros(old) == _without_zeros(new)


def _without_zeros(status: Obj) -> Obj:
    return {k: v for k, v in status.items() if v not in (None, 0, [])}


async def sync_deployment_status(dc: SyncContext, all_rss: list[Obj | None],
                                 new_rs: Obj | None, d: Obj) -> None:
    new_status = calculate_status(all_rss, new_rs, d, now=dc.now())
    if status_equal(d.get("status") or {}, new_status):
        return
    d["status"] = new_status
    await update_status(dc, d)
