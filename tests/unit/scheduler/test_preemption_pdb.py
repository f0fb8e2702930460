"""Preemption with PodDisruptionBudgets: which pods violate, which are reprieved first, which
node is picked (upstream's SelectVictimsOnNode and pickOneNodeForPreemption)."""

from __future__ import annotations

from typing import Any

import pytest
from builders import make_scheduler, node, pod

from kajitori.scheduler import framework, preemption, scheduler, types

Obj = dict[str, Any]


def pdb(name: str, app: str, *, allowed: int, namespace: str = "default",
        disrupted: tuple[str, ...] = ()) -> Obj:
    return {"metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": {"matchLabels": {"app": app}}},
            "status": {"disruptionsAllowed": allowed,
                       "disruptedPods": {p: "2024-01-01T00:00:00Z" for p in disrupted}}}


class FakeClient:
    def __init__(self) -> None:
        self.deleted: list[str] = []

    async def patch(self, path: str, body: Any, *, patch_type: str = "") -> Obj:
        return {}

    async def delete(self, path: str, *, options: Any = None) -> Obj:
        self.deleted.append(path.rsplit("/", 1)[-1])
        return {}


class FakeRecorder:
    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        del obj, type_, reason, message


def with_budgets(sched: scheduler.Scheduler, pdbs: list[Obj]) -> FakeClient:
    fw = sched.frameworks["default-scheduler"]
    handle = fw.plugins["DefaultPreemption"]._evaluator._handle
    client = FakeClient()
    handle.client, handle.recorder = client, FakeRecorder()
    handle.lister = lambda group, plural, namespace: \
        pdbs if (group, plural) == ("policy", "poddisruptionbudgets") else []
    return client


async def preempt(sched: scheduler.Scheduler, incoming: Obj) -> str | None:
    fw = sched.frameworks["default-scheduler"]
    info = types.pod_info(incoming)
    with pytest.raises(framework.FitError) as caught:
        sched.schedule_pod(fw, {}, info)
    nominated, _status = await fw.run_post_filter({}, info, caught.value.diagnosis)
    return nominated


def infos(*pods: Obj) -> list[types.PodInfo]:
    return [types.pod_info(p) for p in pods]


def test_pods_beyond_the_allowed_disruptions_violate() -> None:
    budgets = preemption.disruption_budgets([
        pdb("web", "web", allowed=1), pdb("other-ns", "web", allowed=0, namespace="prod"),
        {"metadata": {"name": "all", "namespace": "default"}, "spec": {"selector": {}},
         "status": {"disruptionsAllowed": 0}}])
    pods = infos(pod("w1", labels={"app": "web"}), pod("w2", labels={"app": "web"}),
                 pod("db", labels={"app": "db"}), pod("bare"))
    violating, non_violating = preemption.filter_pods_with_pdb_violation(pods, budgets)
    assert [p.name for p in violating] == ["w2"]
    assert [p.name for p in non_violating] == ["w1", "db", "bare"]


def test_pods_already_disrupted_do_not_use_the_budget() -> None:
    budgets = preemption.disruption_budgets([pdb("web", "web", allowed=0, disrupted=("w1",))])
    violating, non_violating = preemption.filter_pods_with_pdb_violation(
        infos(pod("w1", labels={"app": "web"}), pod("w2", labels={"app": "web"})), budgets)
    assert ([p.name for p in violating], [p.name for p in non_violating]) == (["w2"], ["w1"])


async def test_the_node_whose_victims_violate_no_budget_is_picked() -> None:
    sched = make_scheduler([node("n1", cpu="1"), node("n2", cpu="1")],
                           [pod("guarded", cpu="1", priority=1, labels={"app": "db"},
                                node_name="n1"),
                            pod("free", cpu="1", priority=5, node_name="n2")])
    client = with_budgets(sched, [pdb("db", "db", allowed=0)])
    assert await preempt(sched, pod("vip", cpu="1", priority=10)) == "n2"
    assert client.deleted == ["free"]


async def test_without_budgets_the_lower_priority_victim_is_picked() -> None:
    sched = make_scheduler([node("n1", cpu="1"), node("n2", cpu="1")],
                           [pod("guarded", cpu="1", priority=1, labels={"app": "db"},
                                node_name="n1"),
                            pod("free", cpu="1", priority=5, node_name="n2")])
    client = with_budgets(sched, [pdb("db", "db", allowed=1)])
    assert await preempt(sched, pod("vip", cpu="1", priority=10)) == "n1"
    assert client.deleted == ["guarded"]


async def test_budget_protected_pods_are_reprieved_first() -> None:
    sched = make_scheduler([node("n1", cpu="2")],
                           [pod("guarded", cpu="1", priority=1, labels={"app": "db"},
                                node_name="n1"),
                            pod("important", cpu="1", priority=2, node_name="n1")])
    client = with_budgets(sched, [pdb("db", "db", allowed=0)])
    assert await preempt(sched, pod("vip", cpu="1", priority=10)) == "n1"
    assert client.deleted == ["important"]


async def test_victims_that_must_violate_are_counted_and_evicted() -> None:
    sched = make_scheduler([node("n1", cpu="1")],
                           [pod("guarded", cpu="1", priority=1, labels={"app": "db"},
                                node_name="n1")])
    with_budgets(sched, [pdb("db", "db", allowed=0)])
    evaluator = sched.frameworks["default-scheduler"].plugins["DefaultPreemption"]._evaluator
    victims, violations, status = evaluator.select_victims_on_node(
        types.pod_info(pod("vip", cpu="1", priority=10)), sched.cache.by_name["n1"],
        budgets=evaluator.budgets())
    assert ([v.name for v in victims or []], violations, status) == (["guarded"], 1, None)


def test_pick_one_prefers_fewer_budget_violations_over_lower_priorities() -> None:
    def victims(*priorities: int) -> list[types.PodInfo]:
        return [types.pod_info(pod(f"v{i}", priority=p)) for i, p in enumerate(priorities)]

    candidates = [preemption.Candidate(0, victims(1), num_pdb_violations=1),
                  preemption.Candidate(1, victims(7, 7), num_pdb_violations=0)]
    assert preemption.pick_one(candidates).slot == 1
