"""The node lifecycle controller: a node whose Lease stops being renewed becomes Unknown, its
pods not Ready, and it gets the unreachable taint; NoSchedule taints follow conditions and
cordoning; when every node fails nothing is tainted."""

from __future__ import annotations

import datetime
from typing import Any

import fakecluster

from kajitori.api import meta
from kajitori.client import FakeClock, informer, rest
from kajitori.controllers import nodelifecycle

Obj = dict[str, Any]

NODES = fakecluster.path("", "v1", "nodes")
PODS = fakecluster.path("", "v1", "pods", namespace="default")
WALL = datetime.datetime(2024, 1, 1, 0, 10, tzinfo=datetime.UTC)
SETTINGS = nodelifecycle.NodeLifecycleSettings(node_monitor_grace_period=40.0)


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def event(self, obj: Obj, _type: str, reason: str, message: str) -> None:
        self.seen.append((meta.name(obj), reason, message))


async def make_node(client: rest.RESTClient, name: str, *, ready: str = "True") -> Obj:
    created = await client.create(NODES, {"apiVersion": "v1", "kind": "Node",
                                          "metadata": {"name": name}})
    created["status"] = {"conditions": [
        {"type": t, "status": s, "lastHeartbeatTime": "2024-01-01T00:00:00Z",
         "lastTransitionTime": "2024-01-01T00:00:00Z", "reason": "Kubelet", "message": "ok"}
        for t, s in (("Ready", ready), ("MemoryPressure", "False"),
                     ("DiskPressure", "False"), ("PIDPressure", "False"))]}
    return await client.update(f"{NODES}/{name}/status", created)


async def make_pod(client: rest.RESTClient, name: str, node: str) -> Obj:
    created = await client.create(PODS, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx"}]}})
    created["status"] = {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"}]}
    return await client.update(f"{PODS}/{name}/status", created)


def lease(node: str, renew: int) -> Obj:
    return {"metadata": {"name": node, "namespace": "kube-node-lease"},
            "spec": {"renewTime": f"2024-01-01T00:00:{renew:02d}.000000Z"}}


async def refresh(ctl: nodelifecycle.NodeLifecycleController, client: rest.RESTClient) -> None:
    """What the informers would have delivered by now."""
    for informer_, path in ((ctl._nodes, NODES), (ctl._pods, PODS)):  # type: ignore[attr-defined]
        for item in (await client.get(path))["items"]:
            informer_.cache.put(informer.meta_namespace_key(item), item)


async def setup(client: rest.RESTClient) -> tuple[nodelifecycle.NodeLifecycleController,
                                                  FakeClock]:
    nodes = [await make_node(client, "n1"), await make_node(client, "n2")]
    pods = [await make_pod(client, "p1", "n1")]
    clock = FakeClock()
    ctl = nodelifecycle.NodeLifecycleController(
        client=client, nodes=fakecluster.seeded(*nodes), pods=fakecluster.seeded(*pods),
        leases=fakecluster.seeded(lease("n1", 1), lease("n2", 1)), settings=SETTINGS,
        clock=clock, wall=lambda: WALL, recorder=Events())  # type: ignore[arg-type]
    return ctl, clock


async def test_silent_node_becomes_unknown_with_its_pods_not_ready_and_tainted(
        client: rest.RESTClient) -> None:
    ctl, clock = await setup(client)
    await ctl.monitor_node_health()
    clock.step(41)
    ctl._leases.cache.put("kube-node-lease/n2", lease("n2", 41))  # type: ignore[attr-defined]
    await ctl.monitor_node_health()
    node = await client.get(f"{NODES}/n1")
    conditions = {c["type"]: c for c in node["status"]["conditions"]}
    assert {t: (c["status"], c["reason"], c["message"]) for t, c in conditions.items()} == {
        t: ("Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
        for t in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")}
    assert conditions["Ready"]["lastTransitionTime"] == "2024-01-01T00:10:00Z"
    assert conditions["Ready"]["lastHeartbeatTime"] == "2024-01-01T00:00:00Z"
    n2 = await client.get(f"{NODES}/n2")
    assert n2["status"]["conditions"][0]["status"] == "True"
    pod = await client.get(f"{PODS}/p1")
    assert [c["status"] for c in pod["status"]["conditions"] if c["type"] == "Ready"] == \
        ["False"]
    assert ("n1", "NodeNotReady", "Node n1 status is now: NodeNotReady") in \
        ctl.recorder.seen  # type: ignore[attr-defined]
    assert ("p1", "NodeNotReady", "Node is not ready") in \
        ctl.recorder.seen  # type: ignore[attr-defined]
    # the next look queues the Unknown node for its NoExecute taint, the tainting pass adds it
    await refresh(ctl, client)
    clock.step(5)
    ctl._leases.cache.put("kube-node-lease/n2", lease("n2", 46))  # type: ignore[attr-defined]
    await ctl.monitor_node_health()
    await ctl.do_no_execute_tainting_pass()
    taints = (await client.get(f"{NODES}/n1"))["spec"]["taints"]
    assert taints == [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute",
                       "timeAdded": "2024-01-01T00:10:00Z"}]
    assert "taints" not in (await client.get(f"{NODES}/n2")).get("spec", {})


async def test_renewed_lease_keeps_the_node_ready(client: rest.RESTClient) -> None:
    ctl, clock = await setup(client)
    await ctl.monitor_node_health()
    clock.step(41)
    for name in ("n1", "n2"):
        ctl._leases.cache.put(f"kube-node-lease/{name}", lease(name, 41))  # type: ignore[attr-defined]
    await ctl.monitor_node_health()
    node = await client.get(f"{NODES}/n1")
    assert node["status"]["conditions"][0]["status"] == "True"


async def test_when_every_node_fails_nothing_is_tainted(client: rest.RESTClient) -> None:
    ctl, clock = await setup(client)
    await ctl.monitor_node_health()
    clock.step(41)
    await ctl.monitor_node_health()
    await refresh(ctl, client)
    clock.step(5)
    await ctl.monitor_node_health()
    await ctl.do_no_execute_tainting_pass()
    for name in ("n1", "n2"):
        node = await client.get(f"{NODES}/{name}")
        assert node["status"]["conditions"][0]["status"] == "Unknown"
        assert not node.get("spec", {}).get("taints")


async def test_no_schedule_taints_follow_conditions_and_cordoning(
        client: rest.RESTClient) -> None:
    ctl, _ = await setup(client)
    node = await make_node(client, "n3", ready="False")
    node = await client.patch(f"{NODES}/n3", {"spec": {"unschedulable": True}})
    ctl._nodes.cache.put("n3", node)  # type: ignore[attr-defined]
    await ctl.do_no_schedule_tainting_pass("n3")
    taints = (await client.get(f"{NODES}/n3"))["spec"]["taints"]
    assert [(t["key"], t["effect"]) for t in taints] == [
        ("node.kubernetes.io/not-ready", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule")]
    uncordoned = await client.patch(f"{NODES}/n3", {"spec": {"unschedulable": False}})
    ctl._nodes.cache.put("n3", uncordoned)  # type: ignore[attr-defined]
    await ctl.do_no_schedule_tainting_pass("n3")
    taints = (await client.get(f"{NODES}/n3"))["spec"]["taints"]
    assert [(t["key"], t["effect"]) for t in taints] == [
        ("node.kubernetes.io/not-ready", "NoSchedule")]


async def test_pressure_conditions_become_no_schedule_taints_and_go_with_them(
        client: rest.RESTClient) -> None:
    ctl, _ = await setup(client)
    node = await make_node(client, "n3")
    for condition in node["status"]["conditions"]:
        if condition["type"] in ("MemoryPressure", "DiskPressure", "PIDPressure"):
            condition["status"] = "True"
    node = await client.update(f"{NODES}/n3/status", node)
    ctl._nodes.cache.put("n3", node)  # type: ignore[attr-defined]
    await ctl.do_no_schedule_tainting_pass("n3")
    taints = (await client.get(f"{NODES}/n3"))["spec"]["taints"]
    assert sorted((t["key"], t["effect"]) for t in taints) == [
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule")]
    relieved = await make_node_status(client, "n3")
    ctl._nodes.cache.put("n3", relieved)  # type: ignore[attr-defined]
    await ctl.do_no_schedule_tainting_pass("n3")
    assert not (await client.get(f"{NODES}/n3"))["spec"].get("taints")


async def make_node_status(client: rest.RESTClient, name: str) -> Obj:
    """The node's conditions all healthy again."""
    node = await client.get(f"{NODES}/{name}")
    for condition in node["status"]["conditions"]:
        condition["status"] = "True" if condition["type"] == "Ready" else "False"
    return await client.update(f"{NODES}/{name}/status", node)


def test_zone_state() -> None:
    ready, not_ready = {"status": "True"}, {"status": "Unknown"}
    compute = nodelifecycle.compute_zone_state
    assert compute([not_ready, not_ready], unhealthy_threshold=0.55) == (2, "FullDisruption")
    assert compute([ready, not_ready, not_ready, not_ready], unhealthy_threshold=0.55) == \
        (3, "PartialDisruption")
    assert compute([ready, not_ready], unhealthy_threshold=0.55) == (1, "Normal")
