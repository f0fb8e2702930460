"""Whole scheduling cycles on a client-less scheduler: placement, the FitError, preemption."""

from __future__ import annotations

from typing import Any

import pytest
from builders import make_scheduler, node, pod

from kajitori.scheduler import config, framework, preemption, scheduler, types

ZONE = "topology.kubernetes.io/zone"
CONTROL_PLANE = [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]


def place(sched: scheduler.Scheduler, incoming: dict) -> str:
    fw = sched.frameworks["default-scheduler"]
    info = types.pod_info(incoming)
    result = sched.schedule_pod(fw, {}, info)
    sched.cache.assume_pod(info, result.node_name)
    return result.node_name


def failure(sched: scheduler.Scheduler, incoming: dict) -> framework.FitError:
    fw = sched.frameworks["default-scheduler"]
    with pytest.raises(framework.FitError) as caught:
        sched.schedule_pod(fw, {}, types.pod_info(incoming))
    return caught.value


def test_three_replicas_with_anti_affinity_land_in_three_zones() -> None:
    sched = make_scheduler([node(f"{z}{i}", labels={ZONE: z}) for z in "abc" for i in (1, 2)])
    app = {"app": "web"}
    affinity = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": app}, "topologyKey": ZONE}]}}
    placed = [place(sched, pod(f"w{i}", labels=app, affinity=affinity)) for i in range(3)]
    assert sorted(p[0] for p in placed) == ["a", "b", "c"]
    # the existing replicas' terms are checked first, as upstream orders them
    assert str(failure(sched, pod("w4", labels=app, affinity=affinity))) == \
        "0/6 nodes are available: 6 node(s) didn't satisfy existing pods anti-affinity rules."


def test_spread_constraint_places_replicas_evenly() -> None:
    sched = make_scheduler([node(f"{z}{i}", labels={ZONE: z}) for z in "abc" for i in (1, 2)])
    app = {"app": "web"}
    spread = [{"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchLabels": app}}]
    placed = [place(sched, pod(f"w{i}", labels=app, topologySpreadConstraints=spread))
              for i in range(6)]
    assert sorted(p[0] for p in placed) == ["a", "a", "b", "b", "c", "c"]


def test_unschedulable_message_is_upstreams() -> None:
    sched = make_scheduler([node("cp", taints=CONTROL_PLANE), node("n1", cpu="1"),
                            node("n2", cpu="1")])
    fit = failure(sched, pod("x", cpu="2"))
    assert str(fit) == ("0/3 nodes are available: 1 node(s) had untolerated taint "
                        "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu.")
    assert fit.diagnosis.unschedulable_plugins == {"TaintToleration", "NodeResourcesFit"}


def test_no_nodes_is_a_scheduler_error() -> None:
    sched = make_scheduler([])
    with pytest.raises(scheduler.NoNodesAvailable, match="no nodes available to schedule pods"):
        sched.schedule_pod(sched.frameworks["default-scheduler"], {},
                           types.pod_info(pod("x")))


def test_max_pods_gives_too_many_pods() -> None:
    sched = make_scheduler([node("n1", pods="1")], [pod("a", node_name="n1")])
    assert str(failure(sched, pod("x"))) == "0/1 nodes are available: 1 Too many pods."


def test_cordoned_node_gets_nothing_new() -> None:
    sched = make_scheduler([node("n1", unschedulable=True), node("n2")])
    assert {place(sched, pod(f"p{i}")) for i in range(4)} == {"n2"}


async def test_other_scheduler_names_are_left_alone() -> None:
    sched = make_scheduler([node("n1")])
    sched.on_pod_add(pod("mine"))
    sched.on_pod_add(pod("theirs", schedulerName="other-scheduler"))
    assert sched.queue.active_keys() == ["default/mine"]


def test_assigned_pods_fill_the_cache_and_their_deletion_frees_room() -> None:
    sched = make_scheduler([node("n1", cpu="1")], [pod("big", cpu="1", node_name="n1")])
    assert str(failure(sched, pod("x", cpu="500m"))) == \
        "0/1 nodes are available: 1 Insufficient cpu."
    sched.on_pod_delete(pod("big", cpu="1", node_name="n1"))
    assert place(sched, pod("x", cpu="500m")) == "n1"


class FakeClient:
    """Records the writes preemption makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def patch(self, path: str, body: Any, *, patch_type: str = "") -> dict:
        self.calls.append(("PATCH", path))
        return {}

    async def delete(self, path: str, *, options: Any = None) -> dict:
        self.calls.append(("DELETE", path))
        return {}


class FakeRecorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str]] = []

    def event(self, obj: dict, type_: str, reason: str, message: str) -> None:
        self.events.append((obj["metadata"]["name"], type_, reason, message))


async def test_preemption_evicts_the_lowest_priority_pods_and_nominates_the_node() -> None:
    sched = make_scheduler([node("n1", cpu="2"), node("n2", cpu="2")],
                           [pod("low", cpu="2", priority=1, node_name="n1"),
                            pod("mid", cpu="2", priority=5, node_name="n2")])
    fw = sched.frameworks["default-scheduler"]
    client, recorder = FakeClient(), FakeRecorder()
    handle = fw.plugins["DefaultPreemption"]._evaluator._handle
    handle.client, handle.recorder = client, recorder
    fit = failure(sched, pod("vip", cpu="2", priority=10))
    nominated, status = await fw.run_post_filter({}, types.pod_info(
        pod("vip", cpu="2", priority=10)), fit.diagnosis)
    assert (nominated, status.code) == ("n1", framework.Code.SUCCESS)
    assert client.calls == [("PATCH", "/api/v1/namespaces/default/pods/low/status"),
                            ("DELETE", "/api/v1/namespaces/default/pods/low")]
    assert recorder.events == [("low", "Normal", "Preempted",
                                "Preempted by pod uid-vip on node n1")]
    assert sorted(sched.cache.pods) == ["default/low", "default/mid"]  # until deleted


async def test_preemption_message_when_no_victims_help() -> None:
    sched = make_scheduler([node("cp", taints=CONTROL_PLANE), node("n1", cpu="1"),
                            node("n2", cpu="1")])
    fw = sched.frameworks["default-scheduler"]
    incoming = pod("x", cpu="2")
    fit = failure(sched, incoming)
    _nominated, status = await fw.run_post_filter({}, types.pod_info(incoming), fit.diagnosis)
    fit.diagnosis.post_filter_msg = status.message
    assert str(fit) == (
        "0/3 nodes are available: 1 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes "
        "are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims "
        "found for incoming pod.")
    never = pod("y", cpu="2", preemptionPolicy="Never")
    _nominated, status = await fw.run_post_filter({}, types.pod_info(never), fit.diagnosis)
    assert status.message == "preemption: not eligible due to preemptionPolicy=Never."


def test_pick_one_prefers_lower_victim_priorities_then_fewer_victims() -> None:
    def victims(*priorities: int) -> list[types.PodInfo]:
        return [types.pod_info(pod(f"v{i}", priority=p)) for i, p in enumerate(priorities)]

    candidates = [preemption.Candidate(0, victims(5)), preemption.Candidate(1, victims(1, 1)),
                  preemption.Candidate(2, victims(1))]
    assert preemption.pick_one(candidates).slot == 2


def test_unknown_plugin_refuses_to_start_and_says_which() -> None:
    bad = config.parse({"apiVersion": "kubescheduler.config.k8s.io/v1",
                        "kind": "KubeSchedulerConfiguration",
                        "profiles": [{"plugins": {"filter": {"enabled": [{"name": "Foo"}]}}}]})
    with pytest.raises(config.ConfigError) as caught:
        scheduler.Scheduler(None, configuration=bad)
    assert str(caught.value) == ("initializing profiles: creating profile for scheduler name "
                                 'default-scheduler: FilterPlugin "Foo" does not exist')


def test_profiles_disable_plugins_and_set_weights() -> None:
    parsed = config.parse({"profiles": [
        {"schedulerName": "packer", "percentageOfNodesToScore": 50,
         "plugins": {"score": {"disabled": [{"name": "*"}],
                               "enabled": [{"name": "NodeResourcesFit", "weight": 5}]},
                     "filter": {"disabled": [{"name": "TaintToleration"}]}},
         "pluginConfig": [{"name": "NodeResourcesFit",
                           "args": {"scoringStrategy": {"type": "MostAllocated"}}}]}]})
    sched = scheduler.Scheduler(None, configuration=parsed)
    fw = sched.frameworks["packer"]
    assert [(p.name, w) for p, w in fw.score] == [("NodeResourcesFit", 5)]
    assert "TaintToleration" not in [p.name for p in fw.filter]
    assert fw.plugins["NodeResourcesFit"].strategy == "MostAllocated"
    assert fw.percentage_of_nodes_to_score == 50


def test_default_profile_has_upstreams_weights() -> None:
    fw = scheduler.Scheduler(None).frameworks["default-scheduler"]
    assert [(p.name, w) for p, w in fw.score] == [
        ("TaintToleration", 3), ("NodeAffinity", 2), ("NodeResourcesFit", 1),
        ("PodTopologySpread", 2), ("InterPodAffinity", 2),
        ("NodeResourcesBalancedAllocation", 1), ("ImageLocality", 1)]
    assert [p.name for p in fw.filter] == [
        "NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity", "NodePorts",
        "NodeResourcesFit", "VolumeRestrictions", "VolumeBinding", "VolumeZone",
        "PodTopologySpread", "InterPodAffinity"]
    assert [p.name for p in fw.reserve] == [p.name for p in fw.pre_bind] == ["VolumeBinding"]


def test_percentage_out_of_range_is_refused() -> None:
    with pytest.raises(config.ConfigError, match=r"not in valid range \[0-100\]"):
        config.parse({"percentageOfNodesToScore": 150})
