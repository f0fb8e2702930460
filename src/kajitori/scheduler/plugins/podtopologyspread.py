"""PodTopologySpread: keep matching pods spread over topology domains within `maxSkew`
(upstream's `plugins/podtopologyspread/` filtering.go, scoring.go, common.go, plugin.go).

Filter (`whenUnsatisfiable: DoNotSchedule`): a node lacking a constraint's topology key is
unresolvable (`... (missing required label)`); otherwise the pods matching the constraint's
selector in the node's domain, plus one if the pod matches itself, minus the smallest count
over eligible domains (0 when fewer than `minDomains` domains), must not pass `maxSkew`.
Eligible nodes carry every constraint's key and pass the node inclusion policies (the pod's
required node affinity with `nodeAffinityPolicy: Honor`, the default; its tolerations with
`nodeTaintsPolicy: Honor`). Counts skip terminating pods. `matchLabelKeys` add the pod's own
values to the selector.

Score (`ScheduleAnyway`, or the system default constraints — hostname maxSkew 3, zone maxSkew
5 — over the selector of the Services, ReplicationControllers, ReplicaSets and StatefulSets
selecting the pod): each constraint adds count × log(domains + 2) + maxSkew − 1; fewer
matching pods, higher normalised score.

Counting is `cache.pod_counter` (per node, kept current) summed per domain with bincount.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from kajitori.api import labels, nodeaffinity, taints
from kajitori.scheduler import framework, types
from kajitori.scheduler.framework import ActionType, ClusterEvent, EventResource

NAME = "PodTopologySpread"
ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"
DO_NOT_SCHEDULE = "DoNotSchedule"
SCHEDULE_ANYWAY = "ScheduleAnyway"
HONOR, IGNORE = "Honor", "Ignore"
SYSTEM_DEFAULTING, LIST_DEFAULTING = "System", "List"
SYSTEM_DEFAULT_CONSTRAINTS = [
    {"topologyKey": types.LABEL_HOSTNAME, "whenUnsatisfiable": SCHEDULE_ANYWAY, "maxSkew": 3},
    {"topologyKey": types.LABEL_ZONE, "whenUnsatisfiable": SCHEDULE_ANYWAY, "maxSkew": 5},
]
PRE_FILTER_KEY = "PreFilter" + NAME
PRE_SCORE_KEY = "PreScore" + NAME
DEFAULT_SELECTOR_SOURCES = (("", "services"), ("", "replicationcontrollers"),
                            ("apps", "replicasets"), ("apps", "statefulsets"))


@dataclass(frozen=True)
class Constraint:
    max_skew: int
    topology_key: str
    selector: labels.Selector
    selector_key: str
    min_domains: int
    node_affinity_policy: str
    node_taints_policy: str


def _constraint(raw: dict[str, Any], pod: types.PodInfo, selector: labels.Selector | None
                ) -> Constraint:
    if selector is None:
        requirements = list(labels.from_label_selector(raw.get("labelSelector")).requirements)
        for key in raw.get("matchLabelKeys") or []:
            if key in pod.labels:
                requirements.append(labels.requirement(key, labels.IN, [pod.labels[key]]))
        selector = labels.Selector(requirements) if raw.get("labelSelector") is not None \
            else labels.NOTHING
    return Constraint(int(raw.get("maxSkew") or 1), raw.get("topologyKey", ""), selector,
                      repr(selector), int(raw.get("minDomains") or 1),
                      raw.get("nodeAffinityPolicy") or HONOR,
                      raw.get("nodeTaintsPolicy") or IGNORE)


class PodTopologySpread:
    name = NAME

    def __init__(self, args: dict[str, Any] | None = None, handle: Any = None) -> None:
        args = args or {}
        self._handle = handle
        self._defaulting = args.get("defaultingType") or SYSTEM_DEFAULTING
        self._defaults = SYSTEM_DEFAULT_CONSTRAINTS if self._defaulting == SYSTEM_DEFAULTING \
            else list(args.get("defaultConstraints") or [])
        self.system_defaulted = self._defaulting == SYSTEM_DEFAULTING

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent(EventResource.ASSIGNED_POD,
                             ActionType.ADD | ActionType.UPDATE_POD_LABEL | ActionType.DELETE),
                ClusterEvent(EventResource.NODE,
                             ActionType.ADD | ActionType.DELETE | ActionType.UPDATE_NODE_LABEL
                             | ActionType.UPDATE_NODE_TAINT)]

    def constraints(self, pod: types.PodInfo, when: str) -> list[Constraint]:
        """The pod's constraints of one kind, or the defaults when it declares none."""
        declared = pod.spec.get("topologySpreadConstraints") or []
        if declared:
            return [_constraint(c, pod, None) for c in declared
                    if c.get("whenUnsatisfiable") == when]
        if not self._defaults:
            return []
        selector = self.default_selector(pod)
        if selector.empty() or selector.matches_nothing():
            return []
        return [_constraint(c, pod, selector) for c in self._defaults
                if c.get("whenUnsatisfiable") == when]

    def default_selector(self, pod: types.PodInfo) -> labels.Selector:
        """upstream's helper.DefaultSelector: the union of the selectors of the Services,
        ReplicationControllers, ReplicaSets and StatefulSets in the pod's namespace that
        select it."""
        lister = getattr(self._handle, "lister", None)
        if lister is None:
            return labels.EVERYTHING
        requirements: list[labels.Requirement] = []
        for group, plural in DEFAULT_SELECTOR_SOURCES:
            for obj in lister(group, plural, pod.namespace):
                spec = obj.get("spec") or {}
                raw = spec.get("selector")
                if not raw:
                    continue
                if plural in ("services", "replicationcontrollers"):
                    selector = labels.from_set(raw)
                else:
                    try:
                        selector = labels.from_label_selector(raw)
                    except Exception:  # noqa: BLE001 - an invalid selector selects nothing
                        continue
                if selector.empty() or not selector.matches(pod.labels):
                    continue
                requirements.extend(selector.requirements)
        return labels.Selector(requirements)

    # --- the eligible nodes and counts --------------------------------------------------------

    def _eligible(self, pod: types.PodInfo, cache: Any, constraints: list[Constraint],
                  *, require_all: bool) -> np.ndarray:
        """Per slot (capacity), whether a node counts: it exists, has every constraint's
        key (when `require_all`) and passes the pod's required node affinity."""
        eligible: np.ndarray = cache.live[:cache.capacity].copy()
        if require_all:
            for c in constraints:
                eligible &= cache.domains(c.topology_key)[0] >= 0
        required = nodeaffinity.required_node_affinity(pod.pod)
        if not required.empty and any(c.node_affinity_policy == HONOR for c in constraints):
            for slot in np.flatnonzero(eligible).tolist():
                info = cache.infos[slot]
                if info is not None and not required.matches(info.labels, info.name):
                    eligible[slot] = False
        return eligible

    def _taint_ok(self, pod: types.PodInfo, cache: Any, eligible: np.ndarray) -> np.ndarray:
        ok: np.ndarray = eligible.copy()
        for slot in np.flatnonzero(eligible & cache.has_hard_taints[:cache.capacity]).tolist():
            info = cache.infos[slot]
            if info is not None and taints.first_untolerated(
                    info.hard_taints, pod.tolerations, effects=taints.HARD_EFFECTS) is not None:
                ok[slot] = False
        return ok

    def _counts(self, pod: types.PodInfo, cache: Any, c: Constraint) -> np.ndarray:
        counts: np.ndarray = cache.pod_counter(
            namespaces=frozenset({pod.namespace}), namespace_selector=None, selector=c.selector,
            key=c.selector_key, skip_terminating=True)
        return counts

    # --- filter ---------------------------------------------------------------------------------

    def pre_filter(self, state: Any, pod: types.PodInfo, cache: Any) -> tuple[None, Any]:
        constraints = self.constraints(pod, DO_NOT_SCHEDULE)
        if not constraints:
            return None, framework.SKIP
        eligible = self._eligible(pod, cache, constraints, require_all=True)
        tainted_ok = None
        computed = []
        for c in constraints:
            ids, values = cache.domains(c.topology_key)
            counted = eligible
            if c.node_taints_policy == HONOR:
                if tainted_ok is None:
                    tainted_ok = self._taint_ok(pod, cache, eligible)
                counted = tainted_ok
            counts = self._counts(pod, cache, c)[:cache.capacity]
            in_domain = counted & (ids >= 0)
            per_domain = np.bincount(ids[in_domain], weights=counts[in_domain],
                                     minlength=len(values)).astype(np.int64)
            present = np.bincount(ids[in_domain], minlength=len(values)) > 0
            domains = int(present.sum())
            minimum = int(per_domain[present].min()) if domains else 0
            if domains < c.min_domains:
                minimum = 0
            computed.append((c, ids, per_domain, present, minimum))
        state[PRE_FILTER_KEY] = computed
        return None, None

    def filter(self, state: Any, pod: types.PodInfo, cache: Any, slots: np.ndarray
               ) -> list[Any]:
        computed = state.get(PRE_FILTER_KEY) or []
        decided = np.zeros(len(slots), dtype=bool)
        missing = np.zeros(len(slots), dtype=bool)
        skewed = np.zeros(len(slots), dtype=bool)
        for c, ids, per_domain, present, minimum in computed:
            node_ids = ids[slots]
            lacks = (node_ids < 0) & ~decided
            missing |= lacks
            decided |= lacks
            self_match = 1 if c.selector.matches(pod.labels) else 0
            safe = np.where(node_ids >= 0, node_ids, 0)
            match_num = np.where((node_ids >= 0) & present[safe], per_domain[safe], 0)
            too_skewed = (match_num + self_match - minimum > c.max_skew) & ~decided
            skewed |= too_skewed
            decided |= too_skewed
        verdicts = []
        if missing.any():
            verdicts.append((missing, framework.unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH)))
        if skewed.any():
            verdicts.append((skewed, framework.unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH)))
        return verdicts

    # --- score ----------------------------------------------------------------------------------

    def pre_score(self, state: Any, pod: types.PodInfo, cache: Any, slots: np.ndarray) -> Any:
        if not cache.node_count:
            return framework.SKIP
        constraints = self.constraints(pod, SCHEDULE_ANYWAY)
        if not constraints:
            return framework.SKIP
        require_all = bool(pod.spec.get("topologySpreadConstraints")) or \
            not self.system_defaulted
        ignored = np.zeros(len(slots), dtype=bool)
        if require_all:
            for c in constraints:
                ignored |= cache.domains(c.topology_key)[0][slots] < 0
        eligible = self._eligible(pod, cache, constraints, require_all=require_all)
        scored_slots = slots[~ignored]
        tainted_ok = None
        computed: list[tuple[Any, ...]] = []
        for c in constraints:
            ids, values = cache.domains(c.topology_key)
            counts = self._counts(pod, cache, c)[:cache.capacity]
            if c.topology_key == types.LABEL_HOSTNAME:
                size = len(slots) - int(ignored.sum())
                computed.append((c, ids, None, math.log(size + 2), counts))
                continue
            candidate_domains = np.zeros(len(values), dtype=bool)
            node_ids = ids[scored_slots]
            candidate_domains[node_ids[node_ids >= 0]] = True
            counted = eligible
            if c.node_taints_policy == HONOR:
                if tainted_ok is None:
                    tainted_ok = self._taint_ok(pod, cache, eligible)
                counted = tainted_ok
            in_domain = counted & (ids >= 0)
            per_domain = np.bincount(ids[in_domain], weights=counts[in_domain],
                                     minlength=len(values)).astype(np.int64)
            per_domain = np.where(candidate_domains, per_domain, 0)
            computed.append((c, ids, per_domain, math.log(int(candidate_domains.sum()) + 2),
                             counts))
        state[PRE_SCORE_KEY] = (computed, ignored)
        return None

    def score(self, state: Any, pod: types.PodInfo, cache: Any, slots: np.ndarray
              ) -> np.ndarray:
        computed, ignored = state[PRE_SCORE_KEY]
        raw = np.zeros(len(slots), dtype=np.float64)
        for c, ids, per_domain, weight, counts in computed:
            node_ids = ids[slots]
            has_key = node_ids >= 0
            if per_domain is None:
                count = counts[slots]
            elif not len(per_domain):  # no node has the topology key: nothing to spread over
                count = np.zeros(len(slots), dtype=np.int64)
            else:
                count = per_domain[np.where(has_key, node_ids, 0)]
            raw += np.where(has_key, count * weight + (c.max_skew - 1), 0.0)
        scores = np.floor(raw + 0.5).astype(np.int64)
        return np.where(ignored, -1, scores)

    def normalize_score(self, state: Any, pod: types.PodInfo, scores: np.ndarray
                        ) -> np.ndarray:
        valid = scores != -1
        if not valid.any():
            return np.zeros_like(scores)
        low, high = int(scores[valid].min()), int(scores[valid].max())
        if high == 0:
            return np.where(valid, framework.MAX_NODE_SCORE, 0)
        normalized = framework.MAX_NODE_SCORE * (high + low - scores) // high
        return np.where(valid, normalized, 0)
