"""NodeAffinity: `spec.nodeSelector` and required node affinity filter nodes; preferred terms
score them by the sum of the matching terms' weights (upstream's
`plugins/nodeaffinity/node_affinity.go`). A required term pinning `metadata.name` makes
PreFilter restrict the cycle to those nodes. `addedAffinity` in the plugin's args is ANDed with
every pod's, as upstream's scheduler-enforced affinity.

Matching a selector against every node is Python work, so its per-slot answer is memoised per
distinct selector until a node is added, removed or relabelled: a ReplicaSet's pods share it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from kajitori.api import nodeaffinity
from kajitori.scheduler import framework
from kajitori.scheduler.framework import ActionType, ClusterEvent, EventResource

NAME = "NodeAffinity"
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
ERR_REASON_ENFORCED = "node(s) didn't match scheduler-enforced node affinity"
ERR_REASON_CONFLICT = "pod affinity terms conflict"
PRE_FILTER_KEY = "PreFilter" + NAME
PRE_SCORE_KEY = "PreScore" + NAME
MEMO_LIMIT = 512


class NodeMatchMemo:
    """Per distinct selector, which slots match; forgotten when nodes change."""

    def __init__(self) -> None:
        self._generation = -1
        self._entries: dict[str, np.ndarray] = {}

    def get(self, cache: Any, key: str, compute: Any) -> np.ndarray:
        if self._generation != cache.node_generation or len(self._entries) > MEMO_LIMIT:
            self._entries.clear()
            self._generation = cache.node_generation
        found = self._entries.get(key)
        if found is None or found.shape[0] != cache.capacity:
            found = compute(np.zeros(cache.capacity, dtype=np.int64))
            self._entries[key] = found
        return found


class NodeAffinity:
    name = NAME

    def __init__(self, args: dict[str, Any] | None = None, handle: Any = None) -> None:
        del handle
        added = (args or {}).get("addedAffinity") or {}
        self._added_required = added.get("requiredDuringSchedulingIgnoredDuringExecution")
        self._added_preferred = [(int(t.get("weight") or 0), t.get("preference") or {})
                                 for t in added.get(
                                     "preferredDuringSchedulingIgnoredDuringExecution") or []]
        self._memo = NodeMatchMemo()

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL)]

    def pre_filter(self, state: Any, pod: Any, cache: Any) -> tuple[set[str] | None, Any]:
        required = nodeaffinity.required_node_affinity(pod.pod)
        if required.empty and self._added_required is None:
            return None, framework.SKIP
        state[PRE_FILTER_KEY] = required
        if required.required is None:
            return None, None
        names: set[str] | None = None
        for term in required.required.get("nodeSelectorTerms") or []:
            term_names: set[str] | None = None
            for req in term.get("matchFields") or []:
                if req.get("key") == nodeaffinity.OBJECT_NAME_FIELD and \
                        req.get("operator") == "In":
                    values = set(req.get("values") or [])
                    term_names = values if term_names is None else term_names & values
            if term_names is None:
                return None, None  # this term allows any node: the terms are ORed
            names = term_names if names is None else names | term_names
        if names is not None and not names:
            return None, framework.unresolvable(ERR_REASON_CONFLICT)
        return names, None

    def filter(self, state: Any, pod: Any, cache: Any, slots: Any) -> list[Any]:
        required = state.get(PRE_FILTER_KEY)
        verdicts = []
        if self._added_required is not None:
            added = self._memo.get(cache, "added", lambda out: self._fill(
                cache, out, lambda labels, name: nodeaffinity.node_selector_matches(
                    self._added_required, labels, name)))
            verdicts.append((added[slots] == 0, framework.unresolvable(ERR_REASON_ENFORCED)))
        if required is not None and not required.empty:
            key = orjson.dumps([required.node_selector, required.required],
                               option=orjson.OPT_SORT_KEYS).decode()
            matched = self._memo.get(cache, key, lambda out: self._fill(
                cache, out, required.matches))
            verdicts.append((matched[slots] == 0, framework.unresolvable(ERR_REASON_POD)))
        return verdicts

    @staticmethod
    def _fill(cache: Any, out: np.ndarray, matches: Any) -> np.ndarray:
        for slot in cache.live_slots().tolist():
            info = cache.infos[slot]
            if info is not None and matches(info.labels, info.name):
                out[slot] = 1
        return out

    def pre_score(self, state: Any, pod: Any, cache: Any, slots: Any) -> Any:
        terms = nodeaffinity.preferred_terms(pod.pod) + self._added_preferred
        if not terms:
            return framework.SKIP
        state[PRE_SCORE_KEY] = terms
        return None

    def score(self, state: Any, pod: Any, cache: Any, slots: Any) -> np.ndarray:
        terms = state.get(PRE_SCORE_KEY) or []
        key = "preferred:" + orjson.dumps(terms, option=orjson.OPT_SORT_KEYS).decode()

        def weigh(out: np.ndarray) -> np.ndarray:
            for slot in cache.live_slots().tolist():
                info = cache.infos[slot]
                if info is not None:
                    out[slot] = sum(w for w, t in terms
                                    if nodeaffinity.term_matches(t, info.labels, info.name))
            return out

        weights: np.ndarray = self._memo.get(cache, key, weigh)[slots].astype(np.int64)
        return weights

    def normalize_score(self, state: Any, pod: Any, scores: np.ndarray) -> np.ndarray:
        return framework.default_normalize_score(scores, reverse=False)
