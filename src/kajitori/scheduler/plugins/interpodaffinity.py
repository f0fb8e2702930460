"""InterPodAffinity: place pods relative to other pods by topology (upstream's
`plugins/interpodaffinity/` filtering.go and scoring.go).

Filter, in upstream's order: (1) no assigned pod's required anti-affinity term may select the
pod within the node's domain (`node(s) didn't satisfy existing pods anti-affinity rules`);
(2) every required affinity term of the pod must find a matching pod in the node's domain
(`node(s) didn't match pod affinity rules`, unresolvable) — unless no pod anywhere matches and
the pod matches its own terms, so the first of a group can start; (3) no required
anti-affinity term of the pod may find a match in the node's domain (`node(s) didn't match pod
anti-affinity rules`). A node lacking a term's topology key fails (2) and passes (3).

Score: per topology domain, the pod's preferred terms add (anti: subtract) their weight for
each matching pod there; assigned pods' terms that select the pod add their weight (required
affinity terms `hardPodAffinityWeight`, preferred anti-affinity subtracts) in their node's
domain; normalised to 0..100 between the lowest and highest node.

Counting is `cache.pod_counter` for the pod's own terms and `cache.term_groups` for the
assigned pods' terms, both per node, summed per domain with bincount; terminating pods count.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kajitori.scheduler import cache as cache_
from kajitori.scheduler import framework, types
from kajitori.scheduler.framework import ActionType, ClusterEvent, EventResource

NAME = "InterPodAffinity"
ERR_REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_REASON_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
DEFAULT_HARD_POD_AFFINITY_WEIGHT = 1
PRE_FILTER_KEY = "PreFilter" + NAME
PRE_SCORE_KEY = "PreScore" + NAME


def _domain_sums(cache: Any, topology_key: str, per_node: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(domain id per slot, per-domain sum of `per_node` over live nodes)."""
    ids, values = cache.domains(topology_key)
    live = cache.live[:cache.capacity] & (ids >= 0)
    sums = np.bincount(ids[live], weights=per_node[:cache.capacity][live],
                       minlength=len(values)).astype(np.int64)
    return ids, sums


def _per_slot(ids: np.ndarray, sums: np.ndarray) -> np.ndarray:
    """Each slot's domain sum (0 for slots without the key)."""
    if not len(sums):
        return np.zeros(ids.shape, dtype=np.int64)
    return np.where(ids >= 0, sums[np.where(ids >= 0, ids, 0)], 0)


class InterPodAffinity:
    name = NAME

    def __init__(self, args: dict[str, Any] | None = None, handle: Any = None) -> None:
        args = args or {}
        del handle
        weight = args.get("hardPodAffinityWeight")
        self._hard_weight = DEFAULT_HARD_POD_AFFINITY_WEIGHT if weight is None else int(weight)
        self._ignore_existing_preferred = bool(args.get("ignorePreferredTermsOfExistingPods"))

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent(EventResource.ASSIGNED_POD,
                             ActionType.ADD | ActionType.UPDATE_POD_LABEL | ActionType.DELETE),
                ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL)]

    def _counts(self, cache: Any, term: types.AffinityTerm) -> np.ndarray:
        counts: np.ndarray = cache.pod_counter(namespaces=term.namespaces,
                                 namespace_selector=term.namespace_selector,
                                 selector=term.selector, key=term.match_key,
                                 skip_terminating=False)
        return counts

    def pre_filter(self, state: Any, pod: types.PodInfo, cache: Any) -> tuple[None, Any]:
        if pod.parse_error:
            return None, framework.Status(framework.Code.ERROR, (pod.parse_error,))
        ns_labels = cache.namespace_labels(pod.namespace)
        forbidden = None
        for group in cache.term_groups():
            if group.kind != cache_.TermKind.REQUIRED_ANTI_AFFINITY or \
                    not group.term.matches(pod, ns_labels):
                continue
            ids, sums = _domain_sums(cache, group.term.topology_key, group.counts)
            hit = _per_slot(ids, sums) > 0
            forbidden = hit if forbidden is None else forbidden | hit
        if forbidden is None and not pod.required_affinity and not pod.required_anti_affinity:
            return None, framework.SKIP
        affinity_ok = None
        if pod.required_affinity:
            affinity_ok = np.ones(cache.capacity, dtype=bool)
            has_keys = np.ones(cache.capacity, dtype=bool)
            any_match = False
            for term in pod.required_affinity:
                ids, sums = _domain_sums(cache, term.topology_key, self._counts(cache, term))
                any_match = any_match or bool(sums.sum() > 0)
                affinity_ok &= _per_slot(ids, sums) > 0
                has_keys &= ids >= 0
            if not any_match and all(t.matches(pod, ns_labels) for t in pod.required_affinity):
                affinity_ok = has_keys
        anti_hit = None
        for term in pod.required_anti_affinity:
            ids, sums = _domain_sums(cache, term.topology_key, self._counts(cache, term))
            hit = _per_slot(ids, sums) > 0
            anti_hit = hit if anti_hit is None else anti_hit | hit
        state[PRE_FILTER_KEY] = (forbidden, affinity_ok, anti_hit)
        return None, None

    def filter(self, state: Any, pod: types.PodInfo, cache: Any, slots: np.ndarray
               ) -> list[Any]:
        forbidden, affinity_ok, anti_hit = state[PRE_FILTER_KEY]
        verdicts = []
        if forbidden is not None:
            verdicts.append((forbidden[slots],
                             framework.unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY)))
        if affinity_ok is not None:
            verdicts.append((~affinity_ok[slots], framework.unresolvable(ERR_REASON_AFFINITY)))
        if anti_hit is not None:
            verdicts.append((anti_hit[slots], framework.unschedulable(ERR_REASON_ANTI_AFFINITY)))
        return verdicts

    def pre_score(self, state: Any, pod: types.PodInfo, cache: Any, slots: np.ndarray) -> Any:
        has_preferred = bool(pod.preferred_affinity or pod.preferred_anti_affinity)
        groups = [] if self._ignore_existing_preferred and not has_preferred \
            else list(cache.term_groups())
        if not has_preferred and not groups:
            return framework.SKIP
        total = np.zeros(cache.capacity, dtype=np.int64)
        contributed = False
        for sign, weighted_terms in ((1, pod.preferred_affinity),
                                     (-1, pod.preferred_anti_affinity)):
            for weighted in weighted_terms:
                ids, sums = _domain_sums(cache, weighted.term.topology_key,
                                         self._counts(cache, weighted.term))
                total += sign * weighted.weight * _per_slot(ids, sums)
                contributed = True
        ns_labels = cache.namespace_labels(pod.namespace)
        for group in groups:
            weight = self._existing_weight(group)
            if not weight or not group.term.matches(pod, ns_labels):
                continue
            ids, sums = _domain_sums(cache, group.term.topology_key, group.counts)
            total += weight * _per_slot(ids, sums)
            contributed = True
        if not contributed:
            return framework.SKIP
        state[PRE_SCORE_KEY] = total
        return None

    def _existing_weight(self, group: cache_.TermGroup) -> int:
        if group.kind == cache_.TermKind.REQUIRED_AFFINITY:
            return self._hard_weight
        if self._ignore_existing_preferred:
            return 0
        if group.kind == cache_.TermKind.PREFERRED_AFFINITY:
            return group.weight
        if group.kind == cache_.TermKind.PREFERRED_ANTI_AFFINITY:
            return -group.weight
        return 0

    def score(self, state: Any, pod: types.PodInfo, cache: Any, slots: np.ndarray
              ) -> np.ndarray:
        scores: np.ndarray = state[PRE_SCORE_KEY][slots]
        return scores

    def normalize_score(self, state: Any, pod: types.PodInfo, scores: np.ndarray
                        ) -> np.ndarray:
        if not len(scores):
            return scores
        low, high = int(scores.min()), int(scores.max())
        if high == low:
            return np.zeros_like(scores)
        return (framework.MAX_NODE_SCORE * ((scores - low) / (high - low))).astype(np.int64)
