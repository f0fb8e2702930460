"""TaintToleration: untolerated NoSchedule/NoExecute taints rule a node out; untolerated
PreferNoSchedule taints lower its score (upstream's
`plugins/tainttoleration/taint_toleration.go`). The filter names the first untolerated taint
as `{key: value}`; it is unresolvable, since evicting pods cannot remove a taint."""

from __future__ import annotations

from typing import Any

import numpy as np

from kajitori.api import taints
from kajitori.scheduler import framework
from kajitori.scheduler.framework import ActionType, ClusterEvent, EventResource

NAME = "TaintToleration"
PRE_SCORE_KEY = "PreScore" + NAME


def untolerated_taint_reason(taint: dict[str, Any]) -> str:
    return f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}"


class TaintToleration:
    name = NAME

    def __init__(self, args: dict[str, Any] | None = None, handle: Any = None) -> None:
        del args, handle

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT),
                ClusterEvent(EventResource.UNSCHEDULED_POD, ActionType.UPDATE_POD_TOLERATION)]

    def filter(self, state: Any, pod: Any, cache: Any, slots: Any) -> list[Any]:
        tainted = np.flatnonzero(cache.has_hard_taints[slots])
        by_reason: dict[str, list[int]] = {}
        for index in tainted.tolist():
            info = cache.node_info(int(slots[index]))
            taint = taints.first_untolerated(info.hard_taints, pod.tolerations,
                                             effects=taints.HARD_EFFECTS)
            if taint is not None:
                by_reason.setdefault(untolerated_taint_reason(taint), []).append(index)
        verdicts = []
        for reason, indices in by_reason.items():
            mask = np.zeros(len(slots), dtype=bool)
            mask[indices] = True
            verdicts.append((mask, framework.unresolvable(reason)))
        return verdicts

    def pre_score(self, state: Any, pod: Any, cache: Any, slots: Any) -> None:
        state[PRE_SCORE_KEY] = [t for t in pod.tolerations
                                if (t.get("effect") or "") in ("", taints.PREFER_NO_SCHEDULE)]

    def score(self, state: Any, pod: Any, cache: Any, slots: Any) -> np.ndarray:
        tolerations = state.get(PRE_SCORE_KEY, [])
        scores = np.zeros(len(slots), dtype=np.int64)
        for index in np.flatnonzero(cache.has_soft_taints[slots]).tolist():
            info = cache.node_info(int(slots[index]))
            scores[index] = sum(1 for t in info.soft_taints
                                if not taints.tolerated(tolerations, t))
        return scores

    def normalize_score(self, state: Any, pod: Any, scores: np.ndarray) -> np.ndarray:
        return framework.default_normalize_score(scores, reverse=True)
