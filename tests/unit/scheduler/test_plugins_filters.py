"""Filter plugins, node by node: dicts in, the exact Status out."""

from __future__ import annotations

from builders import filter_by_node, node, pod, seeded_cache

from kajitori.scheduler import framework, types
from kajitori.scheduler.plugins import (
    nodeaffinity,
    nodename,
    nodeports,
    noderesourcesfit,
    nodeunschedulable,
    tainttoleration,
)

U = framework.Code.UNSCHEDULABLE
UU = framework.Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def test_cordoned_node_rejects_pods_not_tolerating_unschedulable() -> None:
    cache = seeded_cache([node("a", unschedulable=True), node("b")])
    plugin = nodeunschedulable.NodeUnschedulable()
    assert filter_by_node(plugin, pod("x"), cache) == {
        "a": framework.Status(UU, ("node(s) were unschedulable",)), "b": None}
    tolerant = pod("y", tolerations=[{"key": "node.kubernetes.io/unschedulable",
                                      "operator": "Exists", "effect": "NoSchedule"}])
    assert filter_by_node(plugin, tolerant, cache) == {"a": None, "b": None}


def test_node_name_must_match() -> None:
    cache = seeded_cache([node("a"), node("b")])
    verdicts = filter_by_node(nodename.NodeName(), pod("x", nodeName="b"), cache)
    assert verdicts == {"a": framework.Status(UU, (nodename.ERR_REASON,)), "b": None}


def test_first_untolerated_hard_taint_is_named() -> None:
    cache = seeded_cache([
        node("cp", taints=[{"key": "node-role.kubernetes.io/control-plane",
                            "effect": "NoSchedule"}]),
        node("gpu", taints=[{"key": "soft", "effect": "PreferNoSchedule"},
                            {"key": "gpu", "value": "true", "effect": "NoExecute"}]),
        node("plain")])
    plugin = tainttoleration.TaintToleration()
    assert filter_by_node(plugin, pod("x"), cache) == {
        "cp": framework.Status(UU, (
            "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }",)),
        "gpu": framework.Status(UU, ("node(s) had untolerated taint {gpu: true}",)),
        "plain": None}
    tolerant = pod("y", tolerations=[{"key": "gpu", "operator": "Equal", "value": "true"}])
    assert filter_by_node(plugin, tolerant, cache)["gpu"] is None
    wrong_value = pod("z", tolerations=[{"key": "gpu", "value": "false"}])
    assert filter_by_node(plugin, wrong_value, cache)["gpu"] is not None


def test_node_selector_and_required_affinity_filter_nodes() -> None:
    cache = seeded_cache([node("a", labels={"disk": "ssd", "zone": "z1"}),
                          node("b", labels={"disk": "hdd", "zone": "z1"}),
                          node("c", labels={"disk": "ssd", "zone": "z2"})])
    plugin = nodeaffinity.NodeAffinity()
    miss = framework.Status(UU, ("node(s) didn't match Pod's node affinity/selector",))
    by_selector = pod("x", nodeSelector={"disk": "ssd"})
    assert filter_by_node(plugin, by_selector, cache) == {"a": None, "b": miss, "c": None}
    required = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "zone", "operator": "NotIn", "values": ["z1"]}]}]}}}
    assert filter_by_node(plugin, pod("y", affinity=required), cache) == \
        {"a": miss, "b": miss, "c": None}
    both = pod("z", nodeSelector={"disk": "hdd"}, affinity=required)
    assert filter_by_node(plugin, both, cache) == {"a": miss, "b": miss, "c": miss}


def test_match_fields_on_metadata_name_restrict_the_cycle_in_prefilter() -> None:
    cache = seeded_cache([node("a"), node("b")])
    plugin = nodeaffinity.NodeAffinity()
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": ["b"]}]}]}}}
    names, status = plugin.pre_filter({}, types.pod_info(pod("x", affinity=affinity)), cache)
    assert (names, status) == ({"b"}, None)


def test_gt_and_lt_compare_integers() -> None:
    cache = seeded_cache([node("a", labels={"gen": "3"}), node("b", labels={"gen": "10"})])
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "gen", "operator": "Gt", "values": ["5"]}]}]}}}
    verdicts = filter_by_node(nodeaffinity.NodeAffinity(), pod("x", affinity=affinity), cache)
    assert verdicts["a"] is not None
    assert verdicts["b"] is None


def test_host_ports_conflict_on_the_same_protocol_and_port() -> None:
    def with_port(name: str, port: int, *, host_ip: str = "", node_name: str = "") -> dict:
        p = pod(name, node_name=node_name)
        entry = {"containerPort": 80, "hostPort": port}
        if host_ip:
            entry["hostIP"] = host_ip
        p["spec"]["containers"][0]["ports"] = [entry]
        return p

    cache = seeded_cache([node("a"), node("b")], [with_port("web", 8080, node_name="a")])
    plugin = nodeports.NodePorts()
    assert filter_by_node(plugin, with_port("x", 8080), cache) == {
        "a": framework.Status(U, (nodeports.ERR_REASON,)), "b": None}
    assert filter_by_node(plugin, with_port("y", 8081), cache) == {"a": None, "b": None}
    assert filter_by_node(plugin, with_port("z", 8080, host_ip="10.0.0.1"), cache)["a"] \
        is not None


def test_resources_fit_names_each_insufficient_resource_in_order() -> None:
    cache = seeded_cache(
        [node("small", cpu="1", memory="1Gi"), node("big", cpu="8", memory="32Gi"),
         node("full", cpu="8", memory="32Gi", pods="1")],
        [pod("running", cpu="500m", node_name="small"),
         pod("occupant", node_name="full")])
    plugin = noderesourcesfit.NodeResourcesFit()
    verdicts = filter_by_node(plugin, pod("x", cpu="1", memory="2Gi"), cache)
    assert verdicts == {
        "small": framework.Status(U, ("Insufficient cpu", "Insufficient memory")),
        "big": None,
        "full": framework.Status(U, ("Too many pods",))}


def test_extended_resources_and_sidecars_and_overhead_count() -> None:
    cache = seeded_cache([node("a", cpu="2", extra={"example.com/dongle": "1"}),
                          node("b", cpu="2")])
    plugin = noderesourcesfit.NodeResourcesFit()
    dongle = pod("x")
    dongle["spec"]["containers"][0]["resources"] = {"requests": {"example.com/dongle": "1"}}
    assert filter_by_node(plugin, dongle, cache) == {
        "a": None, "b": framework.Status(U, ("Insufficient example.com/dongle",))}
    two = pod("y")
    two["spec"]["containers"][0]["resources"] = {"requests": {"example.com/dongle": "2"}}
    assert filter_by_node(plugin, two, cache)["a"] == \
        framework.Status(U, ("Insufficient example.com/dongle",))
    # app 1 + sidecar 0.5 = 1.5; the init container (1) runs beside the sidecar started
    # before it (0.5): peak 1.5; plus 0.5 overhead: 2 cpus fit; 100m more overhead does not.
    sidecar = pod("z", cpu="1", overhead={"cpu": "500m"}, initContainers=[
        {"name": "side", "image": "i", "restartPolicy": "Always",
         "resources": {"requests": {"cpu": "500m"}}},
        {"name": "init", "image": "i", "resources": {"requests": {"cpu": "1"}}}])
    assert filter_by_node(plugin, sidecar, cache) == {"a": None, "b": None}
    sidecar["spec"]["overhead"] = {"cpu": "600m"}
    assert filter_by_node(plugin, sidecar, cache)["a"] == \
        framework.Status(U, ("Insufficient cpu",))
