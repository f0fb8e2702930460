"""The RollingUpdate strategy: grow the new ReplicaSet within maxSurge, shrink old ones
within maxUnavailable.

Mirrors pkg/controller/deployment/rolling.go. Each sync makes one kind of step: scale the new
ReplicaSet up (never beyond replicas + maxSurge pods in all), else scale old ReplicaSets down
(never below replicas - maxUnavailable available pods, counting the new ReplicaSet's
unavailable pods against the budget), unhealthy old replicas first, oldest ReplicaSets first.
Once complete, old ReplicaSets beyond the history limit are deleted.
"""

from __future__ import annotations

from typing import Any

from kajitori.controllers.deployment import conditions, progress, replicas, sync

Obj = dict[str, Any]


async def rollout_rolling(dc: sync.SyncContext, d: Obj, rs_list: list[Obj]) -> None:
    new_rs, old_rss = await sync.get_all_replicasets_and_sync_revision(
        dc, d, rs_list, create_if_not_existed=True)
    if new_rs is None:
        return  # not reached: creating raises instead (kept for the type checker)
    all_rss: list[Obj | None] = [*old_rss, new_rs]
    if await reconcile_new_replicaset(dc, all_rss, new_rs, d):
        await progress.sync_rollout_status(dc, all_rss, new_rs, d)
        return
    if await reconcile_old_replicasets(dc, all_rss, replicas.filter_active(list(old_rss)),
                                       new_rs, d):
        await progress.sync_rollout_status(dc, all_rss, new_rs, d)
        return
    if conditions.deployment_complete(d, d.get("status") or {}):
        await sync.cleanup_deployment(dc, old_rss, d)
    await progress.sync_rollout_status(dc, all_rss, new_rs, d)


async def reconcile_new_replicaset(dc: sync.SyncContext, all_rss: list[Obj | None],
                                   new_rs: Obj, d: Obj) -> bool:
    """Scale the new ReplicaSet towards the Deployment's replicas; True when it scaled."""
    desired = conditions.spec_replicas(d)
    current = replicas.replicas_of(new_rs)
    if current == desired:
        return False
    if current > desired:
        scaled, _ = await sync.scale_replicaset_and_record_event(dc, new_rs, desired, d)
        return scaled
    target = replicas.new_rs_new_replicas(d, all_rss, new_rs)
    scaled, _ = await sync.scale_replicaset_and_record_event(dc, new_rs, target, d)
    return scaled


async def reconcile_old_replicasets(dc: sync.SyncContext, all_rss: list[Obj | None],
                                    old_rss: list[Obj], new_rs: Obj, d: Obj) -> bool:
    """Scale old ReplicaSets down as far as availability allows; True when any scaled.

    Pods the new ReplicaSet has not made available yet count as unavailable: deleting old
    ones for them could take availability below the minimum when they never become ready
    (upstream's kubernetes#16737 example)."""
    old_pods = replicas.total_replicas(list(old_rss))
    if old_pods == 0:
        return False
    all_pods = replicas.total_replicas(all_rss)
    min_available = conditions.spec_replicas(d) - replicas.max_unavailable(d)
    new_unavailable = replicas.replicas_of(new_rs) - \
        replicas.status_count(new_rs, "availableReplicas")
    max_scaled_down = all_pods - min_available - new_unavailable
    if max_scaled_down <= 0:
        return False
    old_rss, cleaned = await cleanup_unhealthy_replicas(dc, old_rss, d, max_scaled_down)
    scaled_down = await scale_down_old_replicasets_for_rolling_update(
        dc, [*old_rss, new_rs], old_rss, d)
    return cleaned + scaled_down > 0


async def cleanup_unhealthy_replicas(dc: sync.SyncContext, old_rss: list[Obj], d: Obj,
                                     max_cleanup: int) -> tuple[list[Obj], int]:
    """Remove old replicas that are not available, oldest ReplicaSet first, at most
    `max_cleanup`; returns the ReplicaSets as now and how many went."""
    ordered = sorted(old_rss, key=replicas.by_creation_timestamp)
    total = 0
    for i, rs in enumerate(ordered):
        if total >= max_cleanup:
            break
        size, available = replicas.replicas_of(rs), replicas.status_count(rs, "availableReplicas")
        if size == 0 or size == available:
            continue
        count = min(max_cleanup - total, size - available)
        _, ordered[i] = await sync.scale_replicaset_and_record_event(dc, rs, size - count, d)
        total += count
    return ordered, total


async def scale_down_old_replicasets_for_rolling_update(dc: sync.SyncContext,
                                                        all_rss: list[Obj | None],
                                                        old_rss: list[Obj], d: Obj) -> int:
    """Scale old ReplicaSets down by the available pods above the minimum, oldest first;
    returns how many replicas went."""
    min_available = conditions.spec_replicas(d) - replicas.max_unavailable(d)
    available = replicas.total_status(all_rss, "availableReplicas")
    if available <= min_available:
        return 0
    to_scale_down = available - min_available
    total = 0
    for rs in sorted(old_rss, key=replicas.by_creation_timestamp):
        if total >= to_scale_down:
            break
        size = replicas.replicas_of(rs)
        if size == 0:
            continue
        count = min(size, to_scale_down - total)
        await sync.scale_replicaset_and_record_event(dc, rs, size - count, d)
        total += count
    return total
