"""How many replicas each of a Deployment's ReplicaSets may have, and in which order they are
scaled.

Mirrors the arithmetic of pkg/controller/deployment/util/deployment_util.go (ResolveFenceposts,
MaxSurge, MaxUnavailable, NewRSNewReplicas, IsSaturated, GetReplicaSetProportion) and the
ReplicaSet orderings of pkg/controller/controller_utils.go (by creation time, by size, by
revision). Spec fields the apiserver defaults (replicas, strategy) are read with the same
defaults, so hand-made objects in tests behave as stored ones.
"""

from __future__ import annotations

import functools
from typing import Any

from kajitori.api import meta
from kajitori.controllers.deployment import conditions, revisions

Obj = dict[str, Any]

ROLLING_UPDATE = "RollingUpdate"
RECREATE = "Recreate"


def replicas_of(rs: Obj | None) -> int:
    """`spec.replicas` of a ReplicaSet (1 when unset, as defaulted)."""
    return 0 if rs is None else int((rs.get("spec") or {}).get("replicas", 1))


def status_count(rs: Obj | None, key: str) -> int:
    return 0 if rs is None else int((rs.get("status") or {}).get(key) or 0)


def strategy_type(deployment: Obj) -> str:
    return str(((deployment.get("spec") or {}).get("strategy") or {}).get("type")
               or ROLLING_UPDATE)


def is_rolling_update(deployment: Obj) -> bool:
    return strategy_type(deployment) == ROLLING_UPDATE


def value_from_int_or_percent(value: int | str | None, total: int, *, round_up: bool) -> int:
    """An IntOrString as a count of `total`: an int as is, `"N%"` as N% of `total` rounded
    up or down (upstream's GetScaledValueFromIntOrPercent). Raises ValueError for other
    strings (validation refuses them first)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    if value.endswith("%"):
        percent = int(value[:-1])
        scaled = percent * total
        return -(-scaled // 100) if round_up else scaled // 100
    raise ValueError("invalid value for IntOrString: invalid type: string is not a percentage")


def resolve_fenceposts(max_surge: int | str | None, max_unavailable: int | str | None,
                       desired: int) -> tuple[int, int]:
    """(surge, unavailable) for `desired` replicas: surge rounds up, unavailable down; when
    both come to 0, unavailable is 1 so the rollout can move (surge may be refused by
    quota)."""
    surge = value_from_int_or_percent(max_surge, desired, round_up=True)
    unavailable = value_from_int_or_percent(max_unavailable, desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _rolling(deployment: Obj) -> Obj:
    strategy = (deployment.get("spec") or {}).get("strategy") or {}
    return strategy.get("rollingUpdate") or {"maxSurge": "25%", "maxUnavailable": "25%"}


def max_surge(deployment: Obj) -> int:
    if not is_rolling_update(deployment):
        return 0
    rolling = _rolling(deployment)
    surge, _ = resolve_fenceposts(rolling.get("maxSurge"), rolling.get("maxUnavailable"),
                                  conditions.spec_replicas(deployment))
    return surge


def max_unavailable(deployment: Obj) -> int:
    replicas = conditions.spec_replicas(deployment)
    if not is_rolling_update(deployment) or replicas == 0:
        return 0
    rolling = _rolling(deployment)
    _, unavailable = resolve_fenceposts(rolling.get("maxSurge"), rolling.get("maxUnavailable"),
                                        replicas)
    return min(unavailable, replicas)


def total_replicas(replicasets: list[Obj | None]) -> int:
    return sum(replicas_of(rs) for rs in replicasets if rs is not None)


def total_status(replicasets: list[Obj | None], key: str) -> int:
    return sum(status_count(rs, key) for rs in replicasets if rs is not None)


def new_rs_new_replicas(deployment: Obj, all_rss: list[Obj | None], new_rs: Obj) -> int:
    """The size the new ReplicaSet may grow to now: for RollingUpdate as far as maxSurge
    allows, never beyond the Deployment's replicas; for Recreate all of them."""
    replicas = conditions.spec_replicas(deployment)
    if strategy_type(deployment) == RECREATE:
        return replicas
    if strategy_type(deployment) != ROLLING_UPDATE:
        raise ValueError(f"deployment type {strategy_type(deployment)} isn't supported")
    surge = value_from_int_or_percent(_rolling(deployment).get("maxSurge"), replicas,
                                      round_up=True)
    current = total_replicas(all_rss)
    max_total = replicas + surge
    if current >= max_total:
        return replicas_of(new_rs)
    scale_up = min(max_total - current, replicas - replicas_of(new_rs))
    return replicas_of(new_rs) + scale_up


def is_saturated(deployment: Obj, rs: Obj | None) -> bool:
    """The new ReplicaSet has all the Deployment's replicas, knows it, and all are available."""
    if rs is None:
        return False
    desired = revisions.int_annotation(rs, revisions.DESIRED_REPLICAS_ANNOTATION)
    replicas = conditions.spec_replicas(deployment)
    return desired is not None and replicas_of(rs) == replicas and desired == replicas and \
        status_count(rs, "availableReplicas") == replicas


def _round_to_int(value: float) -> int:
    """Go's integer.RoundToInt32: half away from zero."""
    return int(value - 0.5) if value < 0 else int(value + 0.5)


def replicaset_fraction(rs: Obj, deployment: Obj) -> int:
    """How many replicas `rs` gains (or loses) when its Deployment is resized during a
    rollout: its share of the new maximum, from the `max-replicas` it was sized for."""
    replicas = conditions.spec_replicas(deployment)
    if replicas == 0:
        return -replicas_of(rs)
    deployment_replicas = replicas + max_surge(deployment)
    annotated = revisions.int_annotation(rs, revisions.MAX_REPLICAS_ANNOTATION)
    if annotated is None:
        annotated = int((deployment.get("status") or {}).get("replicas") or 0)
    if annotated == 0:
        return 0
    new_size = replicas_of(rs) * deployment_replicas / annotated
    return _round_to_int(new_size) - replicas_of(rs)


def replicaset_proportion(rs: Obj | None, deployment: Obj, to_add: int, added: int) -> int:
    """The part of `to_add` (replicas to distribute; negative to remove) that `rs` takes,
    given `added` already distributed (upstream's GetReplicaSetProportion)."""
    if rs is None or replicas_of(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = replicaset_fraction(rs, deployment)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def filter_active(replicasets: list[Obj | None]) -> list[Obj]:
    """ReplicaSets with replicas (upstream's FilterActiveReplicaSets)."""
    return [rs for rs in replicasets if rs is not None and replicas_of(rs) > 0]


def _created(rs: Obj) -> str:
    # RFC 3339 at second precision in UTC sorts as text.
    return meta.metadata(rs).get("creationTimestamp") or ""


def by_creation_timestamp(rs: Obj) -> tuple[str, str]:
    """Sort key: oldest first, then by name."""
    return _created(rs), meta.name(rs)


def _compare(a: tuple[Any, ...], b: tuple[Any, ...]) -> int:
    return (a > b) - (a < b)


def sort_by_size_older(replicasets: list[Obj]) -> list[Obj]:
    """Larger first; among equals the older first (scaling down takes from old ones)."""
    def compare(a: Obj, b: Obj) -> int:
        if replicas_of(a) != replicas_of(b):
            return replicas_of(b) - replicas_of(a)
        return _compare(by_creation_timestamp(a), by_creation_timestamp(b))
    return sorted(replicasets, key=functools.cmp_to_key(compare))


def sort_by_size_newer(replicasets: list[Obj]) -> list[Obj]:
    """Larger first; among equals the newer first (scaling up favours new ones)."""
    def compare(a: Obj, b: Obj) -> int:
        if replicas_of(a) != replicas_of(b):
            return replicas_of(b) - replicas_of(a)
        return _compare(by_creation_timestamp(b), by_creation_timestamp(a))
    return sorted(replicasets, key=functools.cmp_to_key(compare))


def sort_by_revision(replicasets: list[Obj]) -> list[Obj]:
    """Oldest revision first (unparsable as 0), then oldest created."""
    def key(rs: Obj) -> tuple[int, str, str]:
        try:
            value = revisions.revision(rs)
        except ValueError:
            value = 0
        return (value, *by_creation_timestamp(rs))
    return sorted(replicasets, key=key)
