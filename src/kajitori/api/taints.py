"""Does a pod tolerate a node's taints?

Mirrors upstream's `v1helper.TolerationsTolerateTaint` / `Toleration.ToleratesTaint` and
`FindMatchingUntoleratedTaint` (component-helpers/scheduling/corev1): a toleration with an
empty effect tolerates every effect; an empty key with operator Exists tolerates every key;
Exists ignores the value, Equal (or no operator) compares it. The scheduler's TaintToleration,
NodeUnschedulable and PodTopologySpread and the taint-eviction controller use these.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Obj = dict[str, Any]

NO_SCHEDULE = "NoSchedule"
NO_EXECUTE = "NoExecute"
PREFER_NO_SCHEDULE = "PreferNoSchedule"
HARD_EFFECTS = (NO_SCHEDULE, NO_EXECUTE)
TAINT_NODE_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"


def tolerates(toleration: Obj, taint: Obj) -> bool:
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or "Equal"
    if key != (taint.get("key") or "") and not (key == "" and operator == "Exists"):
        return False
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def tolerated(tolerations: Iterable[Obj], taint: Obj) -> bool:
    return any(tolerates(t, taint) for t in tolerations)


def first_untolerated(taints: Iterable[Obj], tolerations: list[Obj], *,
                      effects: tuple[str, ...]) -> Obj | None:
    """The first of `taints` with one of `effects` that no toleration tolerates."""
    for taint in taints:
        if taint.get("effect") in effects and not tolerated(tolerations, taint):
            return taint
    return None
