"""Score plugins, node by node: dicts in, the exact normalised scores out."""

from __future__ import annotations

from builders import node, pod, scores_by_node, seeded_cache

from kajitori.scheduler.plugins import (
    nodeaffinity,
    noderesourcesbalancedallocation,
    noderesourcesfit,
    tainttoleration,
)


def test_least_allocated_favours_the_emptier_node() -> None:
    cache = seeded_cache([node("a", cpu="4", memory="8Gi"), node("b", cpu="4", memory="8Gi")],
                         [pod("busy", cpu="2", memory="4Gi", node_name="a")])
    scores = scores_by_node(noderesourcesfit.NodeResourcesFit(), pod("x", cpu="1",
                                                                     memory="1Gi"), cache)
    # a: cpu (4000-3000)*100/4000 = 25, memory (8-5)/8 = 37 → 31; b: 75 and 87 → 81
    assert scores == {"a": 31, "b": 81}


def test_requests_missing_count_as_100m_and_200mi_when_scoring() -> None:
    cache = seeded_cache([node("a", cpu="1", memory="1000Mi")])
    scores = scores_by_node(noderesourcesfit.NodeResourcesFit(), pod("x"), cache)
    # cpu (1000-100)*100/1000 = 90; memory (1000-200)*100/1000 = 80; average 85
    assert scores == {"a": 85}


def test_most_allocated_packs() -> None:
    plugin = noderesourcesfit.NodeResourcesFit({"scoringStrategy": {"type": "MostAllocated"}})
    cache = seeded_cache([node("a", cpu="4", memory="8Gi"), node("b", cpu="4", memory="8Gi")],
                         [pod("busy", cpu="2", memory="4Gi", node_name="a")])
    assert scores_by_node(plugin, pod("x", cpu="1", memory="1Gi"), cache) == \
        {"a": 68, "b": 18}


def test_requested_to_capacity_ratio_follows_its_shape() -> None:
    plugin = noderesourcesfit.NodeResourcesFit({"scoringStrategy": {
        "type": "RequestedToCapacityRatio",
        "resources": [{"name": "cpu", "weight": 1}],
        "requestedToCapacityRatio": {"shape": [{"utilization": 0, "score": 0},
                                               {"utilization": 100, "score": 10}]}}})
    cache = seeded_cache([node("a", cpu="4"), node("b", cpu="4")],
                         [pod("busy", cpu="2", node_name="a")])
    assert scores_by_node(plugin, pod("x", cpu="1"), cache) == {"a": 75, "b": 25}


def test_balanced_allocation_prefers_even_use_and_skips_best_effort() -> None:
    plugin = noderesourcesbalancedallocation.NodeResourcesBalancedAllocation()
    cache = seeded_cache([node("a", cpu="4", memory="4Gi"), node("b", cpu="4", memory="4Gi")],
                         [pod("cpu-heavy", cpu="3", node_name="a")])
    # a: cpu 4/4 = 1, memory 1/4 → std 0.375 → 62; b: 1/4 and 1/4 → 100
    assert scores_by_node(plugin, pod("x", cpu="1", memory="1Gi"), cache) == \
        {"a": 62, "b": 100}
    assert scores_by_node(plugin, pod("y"), cache) == {}


def test_taints_preferring_no_schedule_lower_the_score() -> None:
    soft = {"key": "k", "effect": "PreferNoSchedule"}
    cache = seeded_cache([node("a", taints=[soft]), node("b")])
    plugin = tainttoleration.TaintToleration()
    assert scores_by_node(plugin, pod("x"), cache) == {"a": 0, "b": 100}
    tolerant = pod("y", tolerations=[{"key": "k", "operator": "Exists"}])
    assert scores_by_node(plugin, tolerant, cache) == {"a": 100, "b": 100}


def test_preferred_node_affinity_sums_weights() -> None:
    cache = seeded_cache([node("a", labels={"disk": "ssd", "zone": "z1"}),
                          node("b", labels={"disk": "ssd"}), node("c")])
    affinity = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 10, "preference": {"matchExpressions": [
            {"key": "disk", "operator": "In", "values": ["ssd"]}]}},
        {"weight": 30, "preference": {"matchExpressions": [
            {"key": "zone", "operator": "Exists"}]}}]}}
    assert scores_by_node(nodeaffinity.NodeAffinity(), pod("x", affinity=affinity), cache) == \
        {"a": 100, "b": 25, "c": 0}
