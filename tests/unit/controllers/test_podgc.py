"""The pod garbage collector: terminated pods over the threshold, orphans of deleted nodes
after their quarantine, and never-scheduled terminating pods."""

from __future__ import annotations

import fakecluster

from kajitori.api import meta
from kajitori.client import FakeClock, rest
from kajitori.controllers import podgc

PODS = fakecluster.path("", "v1", "pods", namespace="default")


async def pod(client: rest.RESTClient, name: str, *, node: str = "", phase: str = "",
              reason: str = "", finalizers: tuple[str, ...] = ()) -> dict:
    spec: dict = {"containers": [{"name": "c", "image": "nginx"}]}
    if node:
        spec["nodeName"] = node
    created = await client.create(PODS, {"apiVersion": "v1", "kind": "Pod",
                                         "metadata": {"name": name,
                                                      "finalizers": list(finalizers)},
                                         "spec": spec})
    if phase:
        status = {"phase": phase, **({"reason": reason} if reason else {})}
        created = await client.update(f"{PODS}/{name}/status", {**created, "status": status})
    return created


def node(name: str, *, ready: bool = True, out_of_service: bool = False) -> dict:
    taints = [{"key": podgc.OUT_OF_SERVICE_TAINT, "effect": "NoExecute"}] \
        if out_of_service else []
    return {"metadata": {"name": name}, "spec": {"taints": taints},
            "status": {"conditions": [{"type": "Ready", "status": str(ready)}]}}


async def names(client: rest.RESTClient) -> list[str]:
    return sorted(meta.name(p) for p in (await client.get(PODS))["items"])


def controller(client: rest.RESTClient, pods: list[dict], nodes: list[dict], *,
               threshold: int = 12500, clock: FakeClock | None = None) -> podgc.PodGCController:
    return podgc.PodGCController(client=client, pods=fakecluster.seeded(*pods),
                                 nodes=fakecluster.seeded(*nodes),
                                 terminated_pod_threshold=threshold, clock=clock)


async def test_terminated_pods_over_the_threshold_go_evicted_then_oldest_first(
        client: rest.RESTClient) -> None:
    pods = [await pod(client, "old", node="n", phase="Succeeded"),
            await pod(client, "new", node="n", phase="Failed"),
            await pod(client, "evicted", node="n", phase="Failed", reason="Evicted"),
            await pod(client, "running", node="n", phase="Running")]
    pods[0]["metadata"]["creationTimestamp"] = "2020-01-01T00:00:00Z"
    pods[1]["metadata"]["creationTimestamp"] = "2030-01-01T00:00:00Z"
    pods[2]["metadata"]["creationTimestamp"] = "2035-01-01T00:00:00Z"
    await controller(client, pods, [node("n")], threshold=1).gc()
    assert await names(client) == ["new", "running"]


async def test_threshold_zero_keeps_every_terminated_pod(client: rest.RESTClient) -> None:
    pods = [await pod(client, "done", node="n", phase="Succeeded")]
    await controller(client, pods, [node("n")], threshold=0).gc()
    assert await names(client) == ["done"]


async def test_orphaned_pod_goes_after_the_quarantine(client: rest.RESTClient) -> None:
    clock = FakeClock()
    pods = [await pod(client, "orphan", node="vanished"), await pod(client, "fine", node="n")]
    ctl = controller(client, pods, [node("n")], clock=clock)
    await ctl.gc()
    assert await names(client) == ["fine", "orphan"]  # quarantined, not yet deleted
    clock.step(podgc.QUARANTINE_TIME)
    await ctl.gc()
    assert await names(client) == ["fine"]


async def test_orphan_is_marked_failed_with_the_disruption_condition(
        client: rest.RESTClient) -> None:
    clock = FakeClock()
    held = await pod(client, "held", node="vanished", finalizers=("example.com/keep",))
    ctl = controller(client, [held], [], clock=clock)
    await ctl.gc()
    clock.step(podgc.QUARANTINE_TIME)
    await ctl.gc()
    live = await client.get(f"{PODS}/held")  # its finalizer keeps it visible
    assert live["status"]["phase"] == "Failed"
    [condition] = live["status"]["conditions"]
    assert (condition["type"], condition["status"], condition["reason"],
            condition["message"]) == ("DisruptionTarget", "True", "DeletionByPodGC",
                                      "PodGC: node no longer exists")


async def test_unscheduled_terminating_pod_is_force_deleted(client: rest.RESTClient) -> None:
    stuck = await pod(client, "stuck", finalizers=("example.com/keep",))
    await client.delete(f"{PODS}/stuck")
    stuck = await client.get(f"{PODS}/stuck")
    await controller(client, [stuck], []).gc()
    assert (await client.get(f"{PODS}/stuck"))["status"]["phase"] == "Failed"


async def test_terminating_pod_on_out_of_service_node_is_force_deleted(
        client: rest.RESTClient) -> None:
    await pod(client, "p", node="broken")
    await client.delete(f"{PODS}/p")
    terminating = await client.get(f"{PODS}/p")
    assert meta.deletion_timestamp(terminating)
    await controller(client, [terminating], [node("broken", ready=False)]).gc_terminating(
        [terminating])
    assert await names(client) == ["p"]  # NotReady alone is not enough
    await controller(client, [terminating],
                     [node("broken", ready=False, out_of_service=True)]).gc_terminating(
        [terminating])
    assert await names(client) == []
