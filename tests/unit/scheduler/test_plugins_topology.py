"""PodTopologySpread and InterPodAffinity over zones and hosts."""

from __future__ import annotations

from builders import filter_by_node, node, pod, scores_by_node, seeded_cache

from kajitori.scheduler import framework
from kajitori.scheduler.plugins import interpodaffinity, podtopologyspread

U = framework.Code.UNSCHEDULABLE
UU = framework.Code.UNSCHEDULABLE_AND_UNRESOLVABLE
ZONE = "topology.kubernetes.io/zone"
APP = {"app": "web"}
SPREAD = [{"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule",
           "labelSelector": {"matchLabels": APP}}]


def zones() -> list[dict]:
    return [node("a1", labels={ZONE: "a"}), node("a2", labels={ZONE: "a"}),
            node("b1", labels={ZONE: "b"}), node("c1", labels={ZONE: "c"}),
            node("nozone")]


def test_spread_rejects_the_zone_that_would_pass_max_skew() -> None:
    cache = seeded_cache(zones(), [pod("w1", labels=APP, node_name="a1"),
                                   pod("w2", labels=APP, node_name="b1")])
    verdicts = filter_by_node(podtopologyspread.PodTopologySpread(),
                              pod("x", labels=APP, topologySpreadConstraints=SPREAD), cache)
    skewed = framework.Status(U, ("node(s) didn't match pod topology spread constraints",))
    assert verdicts == {
        "a1": skewed, "a2": skewed, "b1": skewed, "c1": None,
        "nozone": framework.Status(UU, (
            "node(s) didn't match pod topology spread constraints (missing required label)",))}


def test_spread_ignores_terminating_and_other_namespaces_pods() -> None:
    terminating = pod("old", labels=APP, node_name="c1")
    terminating["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    cache = seeded_cache(zones(), [pod("w1", labels=APP, node_name="a1"),
                                   pod("w2", labels=APP, node_name="b1"), terminating,
                                   pod("w3", labels=APP, node_name="c1", namespace="other")])
    verdicts = filter_by_node(podtopologyspread.PodTopologySpread(),
                              pod("x", labels=APP, topologySpreadConstraints=SPREAD), cache)
    assert verdicts["c1"] is None


def test_min_domains_makes_the_global_minimum_zero() -> None:
    cache = seeded_cache(zones()[:3], [pod("w1", labels=APP, node_name="a1"),
                                       pod("w2", labels=APP, node_name="b1")])
    spread = [{**SPREAD[0], "minDomains": 3}]
    verdicts = filter_by_node(podtopologyspread.PodTopologySpread(),
                              pod("x", labels=APP, topologySpreadConstraints=spread), cache)
    assert all(v is not None for v in verdicts.values())


def test_soft_spread_scores_emptier_zones_higher() -> None:
    cache = seeded_cache(zones()[:4], [pod("w1", labels=APP, node_name="a1"),
                                       pod("w2", labels=APP, node_name="a2"),
                                       pod("w3", labels=APP, node_name="b1")])
    soft = [{**SPREAD[0], "whenUnsatisfiable": "ScheduleAnyway"}]
    scores = scores_by_node(podtopologyspread.PodTopologySpread(),
                            pod("x", labels=APP, topologySpreadConstraints=soft), cache)
    # weight log(3 + 2); a: 2 pods → 3.22 → 3, b: 1.6 → 2, c: 0 → min 0, max 3
    assert scores == {"a1": 0, "a2": 0, "b1": 33, "c1": 100}


def test_default_constraints_spread_a_replicaset_over_hosts_and_zones() -> None:
    class Handle:
        @staticmethod
        def lister(group: str, plural: str, namespace: str) -> list[dict]:
            if plural == "replicasets":
                return [{"spec": {"selector": {"matchLabels": APP}}}]
            return []

    cache = seeded_cache(zones()[:4], [pod("w1", labels=APP, node_name="a1")])
    plugin = podtopologyspread.PodTopologySpread(None, Handle())
    scores = scores_by_node(plugin, pod("x", labels=APP), cache)
    assert scores["a1"] < scores["a2"] < scores["b1"] == scores["c1"]
    assert scores_by_node(plugin, pod("lonely", labels={"app": "other"}), cache) == {}


def test_default_constraints_on_nodes_without_zones_spread_over_hosts_only() -> None:
    class Handle:
        @staticmethod
        def lister(group: str, plural: str, namespace: str) -> list[dict]:
            return [{"spec": {"selector": {"matchLabels": APP}}}] \
                if plural == "replicasets" else []

    cache = seeded_cache([node("h1"), node("h2")], [pod("w1", labels=APP, node_name="h1")])
    plugin = podtopologyspread.PodTopologySpread(None, Handle())
    scores = scores_by_node(plugin, pod("x", labels=APP), cache)
    assert scores["h1"] < scores["h2"]


def anti(selector: dict, key: str = ZONE) -> dict:
    return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": selector}, "topologyKey": key}]}}


def affine(selector: dict, key: str = ZONE) -> dict:
    return {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": selector}, "topologyKey": key}]}}


def test_required_anti_affinity_keeps_replicas_apart() -> None:
    cache = seeded_cache(zones(), [pod("w1", labels=APP, node_name="a1")])
    verdicts = filter_by_node(interpodaffinity.InterPodAffinity(),
                              pod("x", labels=APP, affinity=anti(APP)), cache)
    no = framework.Status(U, ("node(s) didn't match pod anti-affinity rules",))
    assert verdicts == {"a1": no, "a2": no, "b1": None, "c1": None, "nozone": None}


def test_existing_pods_anti_affinity_repels_the_pods_it_selects() -> None:
    cache = seeded_cache(zones(), [pod("loner", labels={"app": "db"}, node_name="b1",
                                       affinity=anti(APP))])
    verdicts = filter_by_node(interpodaffinity.InterPodAffinity(),
                              pod("x", labels=APP), cache)
    assert verdicts["b1"] == framework.Status(U, (
        "node(s) didn't satisfy existing pods anti-affinity rules",))
    assert [n for n, v in verdicts.items() if v is not None] == ["b1"]


def test_required_affinity_follows_matching_pods_or_lets_the_first_start() -> None:
    plugin = interpodaffinity.InterPodAffinity()
    cache = seeded_cache(zones(), [pod("cache", labels={"app": "cache"}, node_name="b1")])
    verdicts = filter_by_node(plugin, pod("x", affinity=affine({"app": "cache"})), cache)
    no = framework.Status(UU, ("node(s) didn't match pod affinity rules",))
    assert verdicts == {"a1": no, "a2": no, "b1": None, "c1": no, "nozone": no}
    empty = seeded_cache(zones())
    first = pod("first", labels=APP, affinity=affine(APP))
    assert filter_by_node(plugin, first, empty) == \
        {"a1": None, "a2": None, "b1": None, "c1": None, "nozone": no}


def test_preferred_anti_affinity_scores_away_from_matches() -> None:
    cache = seeded_cache(zones()[:4], [pod("w1", labels=APP, node_name="a1")])
    affinity = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": APP},
                                            "topologyKey": ZONE}}]}}
    scores = scores_by_node(interpodaffinity.InterPodAffinity(),
                            pod("x", labels=APP, affinity=affinity), cache)
    assert scores == {"a1": 0, "a2": 0, "b1": 100, "c1": 100}
