"""The Recreate strategy: all old pods go before any new one is made.

Mirrors pkg/controller/deployment/recreate.go: scale every old ReplicaSet to 0; wait until
none of their pods is left running (terminal pods do not count; the pod informer's deletions
requeue the Deployment); only then create the new ReplicaSet, at full size.
"""

from __future__ import annotations

from typing import Any

from kajitori.api import meta
from kajitori.controllers.deployment import conditions, progress, replicas, sync

Obj = dict[str, Any]

TERMINAL_PHASES = ("Failed", "Succeeded")


def old_pods_running(new_rs: Obj | None, old_rss: list[Obj],
                     pod_map: dict[str, list[Obj]]) -> bool:
    """Whether an old ReplicaSet still reports replicas or still has a non-terminal pod
    (`pod_map`: pods by the uid of their controlling ReplicaSet). A pod in phase Unknown
    counts: it may still run."""
    if replicas.total_status(list(old_rss), "replicas") > 0:
        return True
    for rs_uid, pods in pod_map.items():
        if new_rs is not None and meta.uid(new_rs) == rs_uid:
            continue
        if any((pod.get("status") or {}).get("phase") not in TERMINAL_PHASES for pod in pods):
            return True
    return False


async def rollout_recreate(dc: sync.SyncContext, d: Obj, rs_list: list[Obj],
                           pod_map: dict[str, list[Obj]]) -> None:
    new_rs, old_rss = await sync.get_all_replicasets_and_sync_revision(
        dc, d, rs_list, create_if_not_existed=False)
    all_rss: list[Obj | None] = [*old_rss, new_rs]
    if await scale_down_old_replicasets_for_recreate(dc, replicas.filter_active(list(old_rss)),
                                                     d):
        await progress.sync_rollout_status(dc, all_rss, new_rs, d)
        return
    if old_pods_running(new_rs, old_rss, pod_map):
        await progress.sync_rollout_status(dc, all_rss, new_rs, d)
        return
    if new_rs is None:
        new_rs, old_rss = await sync.get_all_replicasets_and_sync_revision(
            dc, d, rs_list, create_if_not_existed=True)
        all_rss = [*old_rss, new_rs]
    if new_rs is not None:
        await sync.scale_replicaset_and_record_event(dc, new_rs, conditions.spec_replicas(d), d)
    if conditions.deployment_complete(d, d.get("status") or {}):
        await sync.cleanup_deployment(dc, old_rss, d)
    await progress.sync_rollout_status(dc, all_rss, new_rs, d)


async def scale_down_old_replicasets_for_recreate(dc: sync.SyncContext, old_rss: list[Obj],
                                                  d: Obj) -> bool:
    scaled = False
    for rs in old_rss:
        if replicas.replicas_of(rs) == 0:
            continue
        changed, _ = await sync.scale_replicaset_and_record_event(dc, rs, 0, d)
        scaled = scaled or changed
    return scaled
