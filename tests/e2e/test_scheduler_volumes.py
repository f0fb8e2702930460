"""VolumeBinding against a real server running the PV binder and the local-path provisioner,
driven with kubectl: a pod whose claim the binder binds to a PV with node affinity lands on
that node; a WaitForFirstConsumer claim gets the `volume.kubernetes.io/selected-node`
annotation of the node its pod goes to, and the pod is bound only once the binder has bound
the claim (to a static PV the test then creates, or to the one the local-path provisioner
makes for a claim of the default class)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubectlrunner import PINNED_KUBECTL, Kubectl

from kajitori.client import rest
from kajitori.scheduler import Scheduler
from kajitori.testing import harness

pytestmark = pytest.mark.e2e

DEADLINE = 30.0
PREFIX = uuid.uuid4().hex[:4]
NODES = [f"{PREFIX}-v1", f"{PREFIX}-v2", f"{PREFIX}-v3"]
SELECTED_NODE = "volume.kubernetes.io/selected-node"
CONTROLLERS = (*harness.NAMESPACE_CONTROLLERS, "persistentvolume-binder-controller",
               "local-path-provisioner")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Cluster]:
    """This module's server: the namespace controllers, the PV binder and the provisioner."""
    with harness.running(tmp_path_factory.mktemp("cluster"), controllers=CONTROLLERS) as started:
        yield started


def node_manifest(name: str) -> dict[str, Any]:
    allocatable = {"cpu": "4", "memory": "8Gi", "pods": "110"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {"capacity": allocatable, "allocatable": allocatable,
                       "conditions": [{"type": "Ready", "status": "True",
                                       "reason": "KubeletReady",
                                       "message": "kubelet is posting ready status"}]}}


def on_node(name: str) -> dict[str, Any]:
    return {"required": {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": [name]}]}]}}


def volume(name: str, *, node: str, sc: str, claim: str | None = None,
           claim_uid: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                            "storageClassName": sc, "hostPath": {"path": f"/tmp/{name}"},
                            "nodeAffinity": on_node(node)}
    if claim is not None:
        spec["claimRef"] = {"namespace": "default", "name": claim, "uid": claim_uid}
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
            "spec": spec}


def claim(name: str, *, sc: str, volume_name: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "storageClassName": sc,
                            "resources": {"requests": {"storage": "1Gi"}}}
    if volume_name:
        spec["volumeName"] = volume_name
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": spec}


def pod_using(name: str, claim_name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "nginx",
                                     "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                     "volumes": [{"name": "data",
                                  "persistentVolumeClaim": {"claimName": claim_name}}]}}


@pytest.fixture(scope="module")
def nodes(cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    assert PINNED_KUBECTL is not None
    kubectl = Kubectl(PINNED_KUBECTL, cluster.kubeconfig, tmp_path_factory.mktemp("home"))
    kubectl("create", "-f", "-",
            input=yaml.safe_dump_all([node_manifest(name) for name in NODES]))
    return NODES


async def scheduling(kubeconfig: Path, body: Any) -> None:
    config = await asyncio.to_thread(rest.load_kubeconfig, kubeconfig)
    async with rest.RESTClient(config) as client, asyncio.timeout(DEADLINE * 2):
        running = asyncio.create_task(Scheduler(client).run())
        try:
            await body()
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)


async def until(kubectl: Any, *args: str) -> str:
    """kubectl's output once it is not empty."""
    async with asyncio.timeout(DEADLINE):
        while True:
            found = await asyncio.to_thread(kubectl, *args)
            if found:
                return str(found)
            await asyncio.sleep(0.2)


async def apply(kubectl: Any, *manifests: dict[str, Any]) -> None:
    await asyncio.to_thread(kubectl, "create", "-f", "-", input=yaml.safe_dump_all(manifests))


def test_bound_claim_places_the_pod_on_its_volumes_node(cluster: Any, kubectl: Any,
                                                        nodes: list[str]) -> None:
    suffix = uuid.uuid4().hex[:6]
    pv_name, claim_name, pod_name = f"pv-{suffix}", f"data-{suffix}", f"app-{suffix}"
    sc = f"manual-{suffix}"

    async def body() -> None:
        # the claim names its volume; the binder completes the binding, then the pod is placed
        await apply(kubectl, volume(pv_name, node=nodes[1], sc=sc),
                    claim(claim_name, sc=sc, volume_name=pv_name), pod_using(pod_name, claim_name))
        assert await until(kubectl, "get", "pod", pod_name, "-o",
                           "jsonpath={.spec.nodeName}") == nodes[1]
        await asyncio.to_thread(kubectl, "delete", "pod", pod_name, "--wait=false")

    asyncio.run(scheduling(cluster.kubeconfig, body))


def test_wait_for_first_consumer_claim_gets_the_pods_node(cluster: Any, kubectl: Any,
                                                          nodes: list[str]) -> None:
    suffix = uuid.uuid4().hex[:6]
    sc, claim_name, pod_name = f"wffc-{suffix}", f"late-{suffix}", f"app-{suffix}"
    storage_class = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                     "metadata": {"name": sc}, "provisioner": "example.com/e2e",
                     "volumeBindingMode": "WaitForFirstConsumer",
                     "allowedTopologies": [{"matchLabelExpressions": [
                         {"key": "kubernetes.io/hostname", "values": [nodes[2]]}]}]}

    async def body() -> None:
        await apply(kubectl, storage_class, claim(claim_name, sc=sc),
                    pod_using(pod_name, claim_name))
        annotations = json.loads(await until(kubectl, "get", "pvc", claim_name, "-o",
                                             "jsonpath={.metadata.annotations}"))
        assert annotations[SELECTED_NODE] == nodes[2]
        assert await asyncio.to_thread(kubectl, "get", "pod", pod_name, "-o",
                                       "jsonpath={.spec.nodeName}") == ""  # PreBind waits
        # what an external provisioner would do: a volume there, pre-bound to the claim
        uid = await asyncio.to_thread(kubectl, "get", "pvc", claim_name, "-o",
                                      "jsonpath={.metadata.uid}")
        await apply(kubectl, volume(f"pvc-{suffix}", node=nodes[2], sc=sc, claim=claim_name,
                                    claim_uid=uid))
        assert await until(kubectl, "get", "pod", pod_name, "-o",
                           "jsonpath={.spec.nodeName}") == nodes[2]
        described = await asyncio.to_thread(kubectl, "describe", "pod", pod_name)
        assert f"Successfully assigned default/{pod_name} to {nodes[2]}" in described
        await asyncio.to_thread(kubectl, "delete", "pod", pod_name, "--wait=false")

    asyncio.run(scheduling(cluster.kubeconfig, body))


def test_default_class_claim_is_provisioned_on_the_pods_node(cluster: Any, kubectl: Any,
                                                             nodes: list[str]) -> None:
    suffix = uuid.uuid4().hex[:6]
    claim_name, pod_name = f"local-{suffix}", f"app-{suffix}"
    default_claim = claim(claim_name, sc="")
    del default_claim["spec"]["storageClassName"]

    async def body() -> None:
        await apply(kubectl, default_claim, pod_using(pod_name, claim_name))
        chosen = await until(kubectl, "get", "pod", pod_name, "-o", "jsonpath={.spec.nodeName}")
        assert chosen in nodes
        found = json.loads(await asyncio.to_thread(kubectl, "get", "pvc", claim_name, "-o",
                                                   "json"))
        assert found["spec"]["storageClassName"] == "local-path"
        assert found["metadata"]["annotations"][SELECTED_NODE] == chosen
        assert found["status"]["phase"] == "Bound"
        volume_name = found["spec"]["volumeName"]
        affinity = json.loads(await asyncio.to_thread(
            kubectl, "get", "pv", volume_name, "-o", "jsonpath={.spec.nodeAffinity}"))
        assert affinity == on_node(chosen)
        await asyncio.to_thread(kubectl, "delete", "pod", pod_name, "--wait=false")

    asyncio.run(scheduling(cluster.kubeconfig, body))
