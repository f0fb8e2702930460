"""The scheduler against a real server, driven and observed with kubectl: Nodes created as
manifests (capacity, allocatable and Ready in their status), the scheduler in-process, pods
placed or left Pending with upstream's words in `kubectl describe pod`."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubectlrunner import PINNED_KUBECTL, Kubectl

from kajitori.client import rest
from kajitori.scheduler import Scheduler

pytestmark = pytest.mark.e2e

DEADLINE = 30.0
ZONE = "topology.kubernetes.io/zone"
CONTROL_PLANE = "node-role.kubernetes.io/control-plane"
PREFIX = uuid.uuid4().hex[:4]
NODES = {f"{PREFIX}-cp": "zone-a", f"{PREFIX}-a": "zone-a", f"{PREFIX}-b": "zone-b",
         f"{PREFIX}-c": "zone-c"}


def node_manifest(name: str, zone: str) -> dict[str, Any]:
    allocatable = {"cpu": "4", "memory": "8Gi", "pods": "110", "example.com/dongle": "1"}
    spec: dict[str, Any] = {}
    labels = {"kubernetes.io/hostname": name, ZONE: zone, "e2e": PREFIX}
    if name.endswith("-cp"):
        spec["taints"] = [{"key": CONTROL_PLANE, "effect": "NoSchedule"}]
        labels[CONTROL_PLANE] = ""
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
            "spec": spec,
            "status": {"capacity": allocatable, "allocatable": allocatable,
                       "conditions": [{"type": "Ready", "status": "True",
                                       "reason": "KubeletReady",
                                       "message": "kubelet is posting ready status"}]}}


@pytest.fixture(scope="module")
def nodes(cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    assert PINNED_KUBECTL is not None
    kubectl = Kubectl(PINNED_KUBECTL, cluster.kubeconfig, tmp_path_factory.mktemp("home"))
    manifests = [node_manifest(name, zone) for name, zone in NODES.items()]
    kubectl("create", "-f", "-", input=yaml.safe_dump_all(manifests))
    return list(NODES)


def pod_manifest(name: str, *, labels: dict[str, str] | None = None,
                 requests: dict[str, str] | None = None, **spec: Any) -> str:
    container: dict[str, Any] = {"name": "c", "image": "nginx"}
    if requests:
        container["resources"] = {"requests": requests, "limits": requests}
    return json.dumps({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": name, "labels": labels or {}},
                       "spec": {"containers": [container], **spec}})


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def scheduling(kubeconfig: Path, body: Callable[[], Awaitable[None]]) -> None:
    """Run `body` while an in-process scheduler (no leader election) runs."""
    config = await asyncio.to_thread(rest.load_kubeconfig, kubeconfig)
    async with rest.RESTClient(config) as client, asyncio.timeout(DEADLINE * 2):
        running = asyncio.create_task(Scheduler(client).run())
        try:
            await body()
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)


async def node_of(kubectl: Any, name: str) -> str:
    """The node the pod is bound to, waiting for it."""
    return await field_of(kubectl, name, "{.spec.nodeName}")


async def field_of(kubectl: Any, name: str, jsonpath: str) -> str:
    """A field of the pod once it is set, waiting for it."""
    async with asyncio.timeout(DEADLINE):
        while True:
            found = await asyncio.to_thread(kubectl, "get", "pod", name, "-o",
                                            f"jsonpath={jsonpath}")
            if found:
                return str(found)
            await asyncio.sleep(0.1)


async def describe_until(kubectl: Any, name: str, text: str) -> str:
    async with asyncio.timeout(DEADLINE):
        while True:
            described = await asyncio.to_thread(kubectl, "describe", "pod", name)
            if text in described:
                return str(described)
            await asyncio.sleep(0.2)


async def create(kubectl: Any, manifest: str) -> None:
    await asyncio.to_thread(kubectl, "create", "-f", "-", input=manifest)


def test_too_big_pods_stay_pending_with_upstreams_event(cluster: Any, kubectl: Any,
                                                        nodes: list[str]) -> None:
    names = {"cpu": unique("big-cpu"), "memory": unique("big-mem"),
             "example.com/dongle": unique("dongles")}
    amounts = {"cpu": "64", "memory": "512Gi", "example.com/dongle": "2"}

    async def body() -> None:
        for resource, name in names.items():
            await create(kubectl, pod_manifest(name, requests={resource: amounts[resource]}))
        for resource, name in names.items():
            expected = (
                f"0/4 nodes are available: 1 node(s) had untolerated taint "
                f"{{{CONTROL_PLANE}: }}, 3 Insufficient {resource}. preemption: 0/4 nodes "
                "are available: 1 Preemption is not helpful for scheduling, 3 No preemption "
                "victims found for incoming pod.")
            described = await describe_until(kubectl, name, "FailedScheduling")
            assert expected in described, described
            assert "default-scheduler" in described
            conditions = json.loads(await asyncio.to_thread(
                kubectl, "get", "pod", name, "-o", "jsonpath={.status.conditions}"))
            assert [(c["type"], c["status"], c["reason"], c["message"]) for c in conditions] \
                == [("PodScheduled", "False", "Unschedulable", expected)]
            phase = await asyncio.to_thread(kubectl, "get", "pod", name, "-o",
                                            "jsonpath={.status.phase}")
            assert phase == "Pending"
        await asyncio.to_thread(kubectl, "delete", "pod", *names.values(), "--wait=false")

    asyncio.run(scheduling(cluster.kubeconfig, body))


def test_node_selector_affinity_and_tolerations_place_pods(cluster: Any, kubectl: Any,
                                                          nodes: list[str]) -> None:
    selected, affine, tolerant, refused = (unique("selected"), unique("affine"),
                                           unique("tolerant"), unique("refused"))
    cp, _a, b, c = nodes

    async def body() -> None:
        await create(kubectl, pod_manifest(selected, nodeSelector={ZONE: "zone-b"}))
        await create(kubectl, pod_manifest(affine, affinity={"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": ZONE, "operator": "In",
                                       "values": ["zone-c"]}]}]}}}))
        await create(kubectl, pod_manifest(
            tolerant, nodeSelector={CONTROL_PLANE: ""},
            tolerations=[{"key": CONTROL_PLANE, "operator": "Exists",
                          "effect": "NoSchedule"}]))
        await create(kubectl, pod_manifest(refused, nodeSelector={CONTROL_PLANE: ""}))
        assert await node_of(kubectl, selected) == b
        assert await node_of(kubectl, affine) == c
        assert await node_of(kubectl, tolerant) == cp
        described = await describe_until(kubectl, selected, "Scheduled")
        assert f"Successfully assigned default/{selected} to {b}" in described
        described = await describe_until(kubectl, refused, "FailedScheduling")
        assert (f"0/4 nodes are available: 1 node(s) had untolerated taint {{{CONTROL_PLANE}: "
                "}, 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/4 "
                "nodes are available: 4 Preemption is not helpful for scheduling.") in described
        await asyncio.to_thread(kubectl, "delete", "pod", selected, affine, tolerant, refused,
                                "--wait=false")

    asyncio.run(scheduling(cluster.kubeconfig, body))


def test_anti_affinity_and_topology_spread_use_three_zones(cluster: Any, kubectl: Any,
                                                           nodes: list[str]) -> None:
    apart, spread = unique("apart"), unique("spread")
    zone_of = dict(NODES)

    async def body() -> None:
        anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": apart}}, "topologyKey": ZONE}]}}
        constraint = [{"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule",
                       "labelSelector": {"matchLabels": {"app": spread}}}]
        for i in range(3):
            await create(kubectl, pod_manifest(f"{apart}-{i}", labels={"app": apart},
                                               affinity=anti))
            await create(kubectl, pod_manifest(f"{spread}-{i}", labels={"app": spread},
                                               topologySpreadConstraints=constraint))
        apart_zones = {zone_of[await node_of(kubectl, f"{apart}-{i}")] for i in range(3)}
        spread_zones = {zone_of[await node_of(kubectl, f"{spread}-{i}")] for i in range(3)}
        assert apart_zones == spread_zones == {"zone-a", "zone-b", "zone-c"}
        await create(kubectl, pod_manifest(f"{apart}-3", labels={"app": apart}, affinity=anti))
        described = await describe_until(kubectl, f"{apart}-3", "FailedScheduling")
        assert (f"0/4 nodes are available: 1 node(s) had untolerated taint {{{CONTROL_PLANE}: "
                "}, 3 node(s) didn't satisfy existing pods anti-affinity rules. preemption: "
                "0/4 nodes are available: 1 Preemption is not helpful for scheduling, 3 No "
                "preemption victims found for incoming pod.") in described
        await asyncio.to_thread(kubectl, "delete", "pod", "-l", f"app in ({apart},{spread})",
                                "--wait=false")

    asyncio.run(scheduling(cluster.kubeconfig, body))


def test_a_high_priority_pod_preempts_a_low_priority_one(cluster: Any, kubectl: Any,
                                                         nodes: list[str]) -> None:
    low, high, klass = unique("low"), unique("high"), unique("important")
    _cp, _a, b, _c = nodes

    async def body() -> None:
        await create(kubectl, json.dumps({
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": klass}, "value": 1000}))
        await create(kubectl, pod_manifest(low, requests={"cpu": "3"}, nodeName=b))
        await create(kubectl, pod_manifest(high, requests={"cpu": "3"}, priorityClassName=klass,
                                           nodeSelector={ZONE: "zone-b"}))
        assert await field_of(kubectl, high, "{.status.nominatedNodeName}") == b
        described = await describe_until(kubectl, low, "Preempted")
        uid = await asyncio.to_thread(kubectl, "get", "pod", high, "-o",
                                      "jsonpath={.metadata.uid}")
        assert f"Preempted by pod {uid} on node {b}" in described
        disruption = await asyncio.to_thread(
            kubectl, "get", "pod", low, "-o",
            'jsonpath={.status.conditions[?(@.type=="DisruptionTarget")].reason}')
        assert disruption == "PreemptionByScheduler"
        # no kubelet finishes the graceful deletion here: do it as one would
        await asyncio.to_thread(kubectl, "delete", "pod", low, "--grace-period=0", "--force")
        assert await node_of(kubectl, high) == b
        # gone at once, so that the node's room is free for the next test
        await asyncio.to_thread(kubectl, "delete", "pod", high, "--grace-period=0", "--force")
        await asyncio.to_thread(kubectl, "delete", "priorityclass", klass)

    asyncio.run(scheduling(cluster.kubeconfig, body))
