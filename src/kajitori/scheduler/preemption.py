"""Preemption: when no node fits, evict lower-priority pods from one node to make room.

Mirrors upstream's `pkg/scheduler/framework/preemption/preemption.go` (the Evaluator) and the
victim selection of `plugins/defaultpreemption/default_preemption.go`:

1. The pod must be eligible: not `preemptionPolicy: Never`; and, if already nominated to a
   node where a lower-priority pod is still terminating, it waits for that instead.
2. Only nodes whose rejection was not unresolvable can help (a taint, a label mismatch stay).
3. On each such node (until enough candidates: 10 % of the nodes, at least 100), remove every
   lower-priority pod; if the pod still does not fit, the node cannot help (the Filter's
   reason); otherwise put victims back while the pod still fits: first those whose eviction
   would violate a PodDisruptionBudget, then the others, each group most important first
   (upstream's SelectVictimsOnNode with filterPodsWithPDBViolation: a pod violates when a PDB
   of its namespace selecting it, its name not among the PDB's `disruptedPods`, has no
   `disruptionsAllowed` left once the more important pods before it are counted; a PDB with
   an empty selector selects nothing). Those that could not go back are the victims; the
   violating ones among them are counted. A node without lower-priority pods says
   `No preemption victims found for incoming pod`.
4. Of the candidates, pick upstream's way: fewest PDB violations, then lowest highest-victim
   priority, lowest sum of priorities, fewest victims, latest start among the most important
   victims, first.
5. Evict: each victim gets the `DisruptionTarget` condition, a `Preempted` event and a graceful
   delete; lower-priority pods nominated to the node lose their nomination. The pod is
   nominated to the node (`status.nominatedNodeName`) and retried when the victims are gone.

When no node can help, the message is a FitError of its own over the nodes' statuses, nodes
not tried counting as `Preemption is not helpful for scheduling`.

The victims are removed from and put back into the live cache (the cycle does not yield while
it tries a node, so nothing else sees it), instead of upstream's copy of the NodeInfo.
PodDisruptionBudgets come from the scheduler's informer (`handle.lister`), read once per
preemption attempt.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from kajitori.api import errors, labels, meta
from kajitori.client import events, rest
from kajitori.scheduler import framework, types

log = logging.getLogger(__name__)

NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
NOT_ELIGIBLE_POLICY = "not eligible due to preemptionPolicy=Never."
NOT_ELIGIBLE_TERMINATING = "not eligible due to a terminating pod on the nominated node."
PREEMPT_NEVER = "Never"
MIN_CANDIDATE_NODES_PERCENTAGE = 10
MIN_CANDIDATE_NODES_ABSOLUTE = 100
REASON_PREEMPTED = "Preempted"
DISRUPTION_TARGET = "DisruptionTarget"
REASON_PREEMPTION_BY_SCHEDULER = "PreemptionByScheduler"
MAX_INT32 = 2**31 - 1
POLICY_GROUP = "policy"
PDB_PLURAL = "poddisruptionbudgets"
Obj = dict[str, Any]


@dataclass
class Candidate:
    slot: int
    victims: list[types.PodInfo]
    num_pdb_violations: int = 0


@dataclass(frozen=True)
class DisruptionBudget:
    """What preemption reads of a PodDisruptionBudget."""

    namespace: str
    selector: labels.Selector
    disruptions_allowed: int
    disrupted_pods: frozenset[str]


def disruption_budgets(pdbs: list[Obj]) -> list[DisruptionBudget]:
    """The PDBs whose selector parses and selects something (upstream skips the others)."""
    budgets = []
    for pdb in pdbs:
        try:
            selector = labels.from_label_selector((pdb.get("spec") or {}).get("selector"))
        except errors.StatusError:
            continue
        if selector.empty() or selector.matches_nothing():
            continue
        status = pdb.get("status") or {}
        budgets.append(DisruptionBudget(
            meta.namespace(pdb), selector, int(status.get("disruptionsAllowed") or 0),
            frozenset(status.get("disruptedPods") or {})))
    return budgets


def filter_pods_with_pdb_violation(pods: list[types.PodInfo], budgets: list[DisruptionBudget]
                                   ) -> tuple[list[types.PodInfo], list[types.PodInfo]]:
    """upstream's filterPodsWithPDBViolation: (violating, non-violating), each in the given
    order. Each pod a budget selects (and has not already recorded as disrupted) uses one of
    its allowed disruptions; a pod is violating once one of its budgets goes below zero."""
    allowed = [b.disruptions_allowed for b in budgets]
    violating: list[types.PodInfo] = []
    non_violating: list[types.PodInfo] = []
    for pod in pods:
        violated = False
        if pod.labels:
            for i, budget in enumerate(budgets):
                if budget.namespace != pod.namespace or not budget.selector.matches(pod.labels):
                    continue
                if pod.name in budget.disrupted_pods:
                    continue
                allowed[i] -= 1
                if allowed[i] < 0:
                    violated = True
        (violating if violated else non_violating).append(pod)
    return violating, non_violating


def more_important(a: types.PodInfo, b: types.PodInfo) -> bool:
    """upstream's MoreImportantPod: higher priority, then the earlier started."""
    if a.priority != b.priority:
        return a.priority > b.priority
    return (a.start_time or "~") < (b.start_time or "~")


def num_candidates(num_nodes: int, *, percentage: int = MIN_CANDIDATE_NODES_PERCENTAGE,
                   absolute: int = MIN_CANDIDATE_NODES_ABSOLUTE) -> int:
    found = num_nodes * percentage // 100
    return min(max(found, absolute), num_nodes)


def pick_one(candidates: list[Candidate]) -> Candidate:
    """upstream's pickOneNodeForPreemption."""
    def highest(c: Candidate) -> int:
        return max(v.priority for v in c.victims) if c.victims else -MAX_INT32 - 1

    def priority_sum(c: Candidate) -> int:
        return sum(v.priority + MAX_INT32 + 1 for v in c.victims)

    def earliest_of_most_important(c: Candidate) -> str:
        top = highest(c)
        return min((v.start_time or "~") for v in c.victims if v.priority == top) \
            if c.victims else "~"

    best = candidates
    for key in (lambda c: c.num_pdb_violations, highest, priority_sum,
                lambda c: len(c.victims)):
        low = min(key(c) for c in best)
        best = [c for c in best if key(c) == low]
        if len(best) == 1:
            return best[0]
    latest = max(earliest_of_most_important(c) for c in best)
    return next(c for c in best if earliest_of_most_important(c) == latest)


class Evaluator:
    """Runs preemption for one profile; `handle` gives the cache, the framework, the client,
    the event recorder and the nominator."""

    def __init__(self, handle: Any, *, scheduler_name: str,
                 min_candidate_nodes_percentage: int = MIN_CANDIDATE_NODES_PERCENTAGE,
                 min_candidate_nodes_absolute: int = MIN_CANDIDATE_NODES_ABSOLUTE) -> None:
        self._handle = handle
        self._scheduler_name = scheduler_name
        self._percentage = min_candidate_nodes_percentage
        self._absolute = min_candidate_nodes_absolute

    async def preempt(self, pod: types.PodInfo, diagnosis: framework.Diagnosis
                      ) -> tuple[str | None, framework.Status]:
        cache = self._handle.cache
        statuses = diagnosis.node_to_status()
        eligible, why = self.eligible(pod, diagnosis, statuses)
        if not eligible:
            return None, framework.unschedulable(why)
        all_slots = cache.live_slots()
        potential = [int(s) for s in all_slots.tolist()
                     if (st := diagnosis.status_of(int(s), statuses)) is None
                     or st.code != framework.Code.UNSCHEDULABLE_AND_UNRESOLVABLE]
        wanted = num_candidates(len(all_slots), percentage=self._percentage,
                                absolute=self._absolute)
        candidates: list[Candidate] = []
        failed: dict[framework.Status, list[int]] = {}
        budgets = self.budgets()
        for slot in potential:
            victims, violations, status = self.select_victims_on_node(pod, slot,
                                                                      budgets=budgets)
            if victims is not None:
                candidates.append(Candidate(slot, victims, violations))
                if len(candidates) >= wanted:
                    break
            elif status is not None:
                failed.setdefault(status, []).append(slot)
        if not candidates:
            if not potential:
                await self._clear_nomination(pod)
            fit = framework.Diagnosis(
                groups=[(np.asarray(slots), st) for st, slots in failed.items()],
                absent_status=framework.unresolvable(NOT_HELPFUL))
            return None, framework.unschedulable(
                framework.fit_error_message(len(all_slots), fit))
        best = pick_one(candidates)
        node_name = cache.node_info(best.slot).name
        await self.prepare_candidate(pod, best, node_name)
        return node_name, framework.Status(framework.Code.SUCCESS)

    def budgets(self) -> list[DisruptionBudget]:
        lister = getattr(self._handle, "lister", None)
        if lister is None:
            return []
        return disruption_budgets(lister(POLICY_GROUP, PDB_PLURAL, ""))

    def eligible(self, pod: types.PodInfo, diagnosis: framework.Diagnosis,
                 statuses: dict[int, framework.Status]) -> tuple[bool, str]:
        """upstream's PodEligibleToPreemptOthers."""
        if pod.spec.get("preemptionPolicy") == PREEMPT_NEVER:
            return False, NOT_ELIGIBLE_POLICY
        nominated = (pod.pod.get("status") or {}).get("nominatedNodeName")
        cache = self._handle.cache
        if nominated and nominated in cache.by_name:
            slot = cache.by_name[nominated]
            status = diagnosis.status_of(slot, statuses)
            if status is None or status.code != framework.Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                for other in cache.node_info(slot).pods.values():
                    if other.terminating and other.priority < pod.priority:
                        return False, NOT_ELIGIBLE_TERMINATING
        return True, ""

    def _fits(self, pod: types.PodInfo, slot: int) -> framework.Status | None:
        """None when the pod fits the node as the cache now stands; else why not."""
        fw: framework.Framework = self._handle.framework
        state: framework.CycleState = {}
        names, status = fw.run_pre_filter(state, pod)
        if status is not None and status.is_rejected:
            return status
        if names is not None and self._handle.cache.node_info(slot).name not in names:
            return framework.unresolvable(NOT_HELPFUL)
        passed, rejected = fw.run_filter(state, pod, np.asarray([slot]))
        if len(passed):
            return None
        return rejected[0][1] if rejected else framework.unschedulable(NOT_HELPFUL)

    def select_victims_on_node(self, pod: types.PodInfo, slot: int, *,
                               budgets: list[DisruptionBudget] | None = None
                               ) -> tuple[list[types.PodInfo] | None, int,
                                          framework.Status | None]:
        """(victims, how many of them violate a PDB, None) when evicting them makes the pod
        fit; (None, 0, why) otherwise. The cache is as before when it returns."""
        cache = self._handle.cache
        info = cache.node_info(slot)
        potential = [p for p in info.pods.values() if p.priority < pod.priority]
        if not potential:
            return None, 0, framework.unresolvable(NO_VICTIMS)
        assumed = {p.key for p in potential if cache.is_assumed(p.key)}
        for victim in potential:
            cache.remove_pod(victim.key)
        try:
            status = self._fits(pod, slot)
            if status is not None:
                return None, 0, status
            violating, non_violating = filter_pods_with_pdb_violation(
                sorted(potential, key=_importance), budgets or [])
            violating_keys = {p.key for p in violating}
            victims = []
            violations = 0
            for victim in violating + non_violating:
                cache.add_pod(victim, info.name)
                if self._fits(pod, slot) is not None:
                    cache.remove_pod(victim.key)
                    victims.append(victim)
                    violations += victim.key in violating_keys
            victims.sort(key=_importance)
            return victims, violations, None
        finally:
            for victim in potential:
                if victim.key not in cache.pods:
                    if victim.key in assumed:
                        cache.assume_pod(victim, info.name)
                    else:
                        cache.add_pod(victim, info.name)

    async def prepare_candidate(self, pod: types.PodInfo, candidate: Candidate,
                                node_name: str) -> None:
        """Evict the victims and take nominations away from lower-priority pods."""
        client = self._handle.client
        condition = {"type": DISRUPTION_TARGET, "status": "True",
                     "reason": REASON_PREEMPTION_BY_SCHEDULER,
                     "message": f"{self._scheduler_name}: preempting to accommodate a higher "
                                "priority pod"}
        for victim in candidate.victims:
            path = rest.resource_path("", "v1", "pods", namespace=victim.namespace,
                                      name=victim.name)
            with errors.ignore_not_found():
                await client.patch(f"{path}/status", {"status": {"conditions": [condition]}},
                                   patch_type=rest.STRATEGIC_MERGE_PATCH)
                await client.delete(path)
            self._handle.recorder.event(victim.pod, events.NORMAL, REASON_PREEMPTED,
                                        f"Preempted by pod {pod.uid} on node {node_name}")
        nominator = self._handle.nominator
        for other in nominator.nominated_pods_on(node_name):
            if other.priority < pod.priority:
                await self._clear_nomination(other)
                nominator.delete_nominated(other.key)

    async def _clear_nomination(self, pod: types.PodInfo) -> None:
        if not (pod.pod.get("status") or {}).get("nominatedNodeName"):
            return
        path = rest.resource_path("", "v1", "pods", namespace=pod.namespace, name=pod.name,
                                  subresource="status")
        with errors.ignore_not_found():
            await self._handle.client.patch(path, {"status": {"nominatedNodeName": None}},
                                            patch_type=rest.MERGE_PATCH)


def _importance(pod: types.PodInfo) -> tuple[int, str]:
    """Sort key: the most important pod first (higher priority, then earlier start)."""
    return -pod.priority, pod.start_time or "~"
