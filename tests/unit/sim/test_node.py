"""A simulated node's Node as a kubelet registers and reports it, and when it posts status."""

from __future__ import annotations

from seededinformer import seeded
from simfakes import FakeClient, at, wall_of

from kajitori.client import clock as clock_
from kajitori.client import nodestatus
from kajitori.sim import ipam, metrics, node, pool

NODES = "/api/v1/nodes"


def gpu_pool() -> pool.NodePool:
    (made,) = pool.parse_pools({"pools": [{
        "name": "gpu", "count": 2, "capacity": {"nvidia.com/gpu": 4},
        "labels": {"topology.kubernetes.io/zone": "z1"},
        "taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]}]}, source="t")
    return made


def sim_node(index: int = 0) -> node.SimNode:
    return node.SimNode(name=f"sim-gpu-{index}", pool=gpu_pool(), index=index,
                        pod_cidr=f"10.244.{index}.0/24", internal_ip=f"198.18.0.{index + 1}")


def test_registered_node_carries_kubelet_labels_spec_and_status() -> None:
    obj = node.node_object(sim_node(), now=at(0), boot_id="boot")
    assert obj["metadata"]["labels"] == {
        "topology.kubernetes.io/zone": "z1", "kubernetes.io/hostname": "sim-gpu-0",
        "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
        "type": "sim", "sim.kajitori.io/pool": "gpu"}
    assert obj["spec"] == {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"],
                           "taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]}
    status = obj["status"]
    assert status["capacity"]["nvidia.com/gpu"] == "4"
    assert status["capacity"]["hugepages-2Mi"] == "0"
    assert status["allocatable"]["memory"] == "16284Mi"
    assert [(c["type"], c["status"], c["reason"], c["message"])
            for c in status["conditions"]] == [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory",
         "kubelet has sufficient memory available"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID",
         "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]
    assert status["addresses"] == [{"type": "InternalIP", "address": "198.18.0.1"},
                                   {"type": "Hostname", "address": "sim-gpu-0"}]
    info = status["nodeInfo"]
    assert info["containerRuntimeVersion"].startswith("sim://")
    assert info["kubeletVersion"] == "v1.33.5+kajitori"
    assert (info["operatingSystem"], info["architecture"]) == ("linux", "amd64")
    assert info["bootID"] == "boot"
    assert info["machineID"] == sim_node().machine_id  # stable across restarts
    assert len(info["machineID"]) == 32


def test_unchanged_conditions_keep_their_transition_time() -> None:
    before = nodestatus.conditions(now=at(0))
    before[3] = {**before[3], "status": "Unknown", "reason": "NodeStatusUnknown"}
    after = nodestatus.conditions(now=at(60), previous=before)
    assert [c["lastHeartbeatTime"] for c in after] == [at(60)] * 4
    assert [c["lastTransitionTime"] for c in after] == [at(0), at(0), at(0), at(60)]


def test_plan_keeps_existing_addresses_and_gives_new_nodes_free_ones() -> None:
    existing = node.node_object(sim_node(1), now=at(0), boot_id="b")
    existing["spec"]["podCIDR"] = "10.244.0.0/24"
    planned = node.plan_nodes([gpu_pool()], existing=[existing], cidrs=ipam.node_cidrs(),
                              node_ips=ipam.node_ips())
    assert [(s.name, s.pod_cidr, s.internal_ip) for s in planned] == [
        ("sim-gpu-0", "10.244.1.0/24", "198.18.0.1"),
        ("sim-gpu-1", "10.244.0.0/24", "198.18.0.2"),
    ]


async def test_register_creates_the_node_or_reconciles_default_labels() -> None:
    client = FakeClient()
    created, fresh = await node.register(client, sim_node(), now=at(0), boot_id="b")
    assert fresh
    assert created["metadata"]["uid"]
    client.objects[f"{NODES}/sim-gpu-0"]["metadata"]["labels"]["kubernetes.io/os"] = "plan9"
    again, fresh = await node.register(client, sim_node(), now=at(5), boot_id="b")
    assert not fresh
    assert again["metadata"]["labels"]["kubernetes.io/os"] == "linux"
    assert client.verbs("patch")[0].body == {
        "metadata": {"labels": {"kubernetes.io/os": "linux"}}}


async def test_status_is_posted_on_change_or_when_the_report_is_due() -> None:
    clock = clock_.FakeClock()
    client = FakeClient()
    sim = sim_node()
    registered, _ = await node.register(client, sim, now=at(0), boot_id="b")
    nodes = seeded(registered)
    controller = node.NodeStatusController(client, nodes=nodes, boot_id="b", clock=clock,
                                           wall=wall_of(clock))
    controller.add(sim, reported=registered["status"], delay=0)
    clock.step(10)
    await controller.sync(sim.name)
    assert client.verbs("patch") == []  # unchanged, and 5 min have not passed

    # The node lifecycle controller marks the node unknown: the next check answers at once.
    unknown = {**registered, "status": {**registered["status"], "conditions": [
        *registered["status"]["conditions"][:3],
        {**registered["status"]["conditions"][3], "status": "Unknown",
         "reason": "NodeStatusUnknown", "message": "Kubelet stopped posting node status."}]}}
    nodes.cache.put(sim.name, unknown)
    clock.step(10)
    await controller.sync(sim.name)
    (posted,) = client.verbs("patch", f"{NODES}/sim-gpu-0/status")
    ready = posted.body["status"]["conditions"][3]
    assert (ready["status"], ready["lastTransitionTime"], ready["lastHeartbeatTime"]) == (
        "True", at(20), at(20))
    nodes.cache.put(sim.name, client.objects[f"{NODES}/sim-gpu-0"])

    clock.step(290)
    await controller.sync(sim.name)
    assert len(client.verbs("patch")) == 1
    clock.step(10)
    await controller.sync(sim.name)  # 300 s after the last post: a heartbeat
    heartbeat = client.verbs("patch")[-1].body["status"]["conditions"][3]
    assert (heartbeat["lastHeartbeatTime"], heartbeat["lastTransitionTime"]) == (
        at(320), at(20))


async def test_register_announces_the_stats_endpoint_and_updates_it_on_restart() -> None:
    client = FakeClient()
    created, _ = await node.register(client, sim_node(), now=at(0), boot_id="b",
                                     stats_endpoint="http://127.0.0.1:1/stats/summary")
    assert created["metadata"]["annotations"][metrics.STATS_ENDPOINT_ANNOTATION] == \
        "http://127.0.0.1:1/stats/summary"
    again, _ = await node.register(client, sim_node(), now=at(5), boot_id="b",
                                   stats_endpoint="http://127.0.0.1:2/stats/summary")
    assert again["metadata"]["annotations"][metrics.STATS_ENDPOINT_ANNOTATION] == \
        "http://127.0.0.1:2/stats/summary"
    assert client.verbs("patch")[-1].body == {"metadata": {"annotations": {
        metrics.STATS_ENDPOINT_ANNOTATION: "http://127.0.0.1:2/stats/summary"}}}
