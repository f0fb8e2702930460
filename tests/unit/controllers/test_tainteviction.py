"""The taint eviction controller: untolerated NoExecute taints evict at once, tolerated ones
after tolerationSeconds, forever-tolerated never; removing the taint cancels."""

from __future__ import annotations

from typing import Any

import fakecluster

from kajitori.api import taints
from kajitori.client import FakeClock, rest
from kajitori.controllers import tainteviction

Obj = dict[str, Any]

PODS = fakecluster.path("", "v1", "pods", namespace="default")
UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}
CUSTOM = {"key": "example.com/evict", "effect": "NoExecute"}
"""A taint no pod tolerates (admission gives every pod tolerations for `unreachable`)."""


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def event(self, _obj: Obj, _type: str, reason: str, message: str) -> None:
        self.seen.append((reason, message))


async def make_pod(client: rest.RESTClient, name: str, *,
                   tolerations: list[Obj] | None = None) -> Obj:
    spec: Obj = {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx"}],
                 "terminationGracePeriodSeconds": 0}
    if tolerations is not None:
        spec["tolerations"] = tolerations
    return await client.create(PODS, {"apiVersion": "v1", "kind": "Pod",
                                      "metadata": {"name": name}, "spec": spec})


def node(*taints: Obj) -> Obj:
    return {"metadata": {"name": "n1"}, "spec": {"taints": list(taints)}}


def controller(client: rest.RESTClient, pods: list[Obj], taints: list[Obj],
               clock: FakeClock) -> tainteviction.TaintEvictionController:
    return tainteviction.TaintEvictionController(
        client=client, nodes=fakecluster.seeded(node(*taints)), pods=fakecluster.seeded(*pods),
        clock=clock, recorder=Events())  # type: ignore[arg-type]


async def test_untolerated_taint_evicts_at_once_with_event_and_condition(
        client: rest.RESTClient) -> None:
    pod = await make_pod(client, "p", tolerations=[])
    ctl = controller(client, [pod], [CUSTOM], FakeClock())
    await ctl.handle_node_update("n1")
    assert ctl.scheduled["default/p"].fire_at == 0
    del ctl.scheduled["default/p"]
    await ctl.delete_pod("default/p")
    assert await fakecluster.get_or_none(client, f"{PODS}/p") is None
    assert ctl.recorder.seen == [  # type: ignore[attr-defined]
        ("TaintManagerEviction", "Marking for deletion Pod default/p")]


async def test_condition_is_set_before_deleting(client: rest.RESTClient) -> None:
    pod = await make_pod(client, "p", tolerations=[])
    pod = await client.update(f"{PODS}/p", {**pod, "metadata": {
        **pod["metadata"], "finalizers": ["example.com/keep"]}})
    ctl = controller(client, [pod], [UNREACHABLE], FakeClock())
    await ctl.delete_pod("default/p")
    kept = await client.get(f"{PODS}/p")
    assert kept["metadata"]["deletionTimestamp"]
    (condition,) = [c for c in kept["status"]["conditions"] if c["type"] == "DisruptionTarget"]
    assert (condition["reason"], condition["message"]) == \
        ("DeletionByTaintManager", "Taint manager: deleting due to NoExecute taint")


async def test_default_toleration_seconds_delay_the_eviction(
        client: rest.RESTClient) -> None:
    pod = await make_pod(client, "p")  # 300 s, from DefaultTolerationSeconds
    clock = FakeClock(start=1000)
    ctl = controller(client, [pod], [UNREACHABLE], clock)
    await ctl.handle_node_update("n1")
    assert ctl.scheduled["default/p"].fire_at == 1300


async def test_forever_tolerated_and_removed_taints_cancel(client: rest.RESTClient) -> None:
    pod = await make_pod(client, "p", tolerations=[{**UNREACHABLE, "operator": "Exists",
                                                   "tolerationSeconds": 5}])
    ctl = controller(client, [pod], [UNREACHABLE], FakeClock())
    await ctl.handle_node_update("n1")
    assert "default/p" in ctl.scheduled
    ctl._nodes.cache.put("n1", node())  # type: ignore[attr-defined]
    await ctl.handle_node_update("n1")
    assert ctl.scheduled == {}
    assert ctl.recorder.seen == [  # type: ignore[attr-defined]
        ("TaintManagerEviction", "Cancelling deletion of Pod default/p")]
    forever = await make_pod(client, "q", tolerations=[{"operator": "Exists"}])
    ctl.process_pod_on_node("default/q", forever, [UNREACHABLE], now=0)
    assert "default/q" not in ctl.scheduled


def test_toleration_matching() -> None:
    taint = {"key": "k", "value": "v", "effect": "NoExecute"}
    tolerates = taints.tolerates
    assert tolerates({"key": "k", "operator": "Equal", "value": "v"}, taint)
    assert not tolerates({"key": "k", "value": "w"}, taint)
    assert tolerates({"key": "k", "operator": "Exists", "effect": "NoExecute"}, taint)
    assert not tolerates({"key": "k", "operator": "Exists", "effect": "NoSchedule"}, taint)
    assert tolerates({"operator": "Exists"}, taint)
    assert tainteviction.min_toleration_seconds(
        [{"tolerationSeconds": 30}, {"tolerationSeconds": 10}, {}]) == 10
    assert tainteviction.min_toleration_seconds([{}]) is None
    assert tainteviction.min_toleration_seconds([{"tolerationSeconds": -1}]) == 0
