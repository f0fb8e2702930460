"""The local-path provisioner: the volume it makes for a claim on its selected node, the
claims it leaves alone, and the Released volumes it deletes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import fakecluster
import pytest

from kajitori.api import meta
from kajitori.client import rest
from kajitori.controllers import localpath

Obj = dict[str, Any]

PVS = fakecluster.path("", "v1", "persistentvolumes")
PVCS = fakecluster.path("", "v1", "persistentvolumeclaims", namespace="default")
CLASSES = fakecluster.path("storage.k8s.io", "v1", "storageclasses")
NODE = {"metadata": {"name": "node-1", "labels": {"kubernetes.io/hostname": "host-1"}}}
ASKED = {"volume.kubernetes.io/storage-provisioner": "rancher.io/local-path",
         "volume.beta.kubernetes.io/storage-provisioner": "rancher.io/local-path"}


@dataclass
class FakeRecorder:
    events: list[str] = field(default_factory=list)

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        self.events.append(f"{type_} {reason} {message}")

    async def run(self) -> None:
        raise AssertionError("tests call sync directly")


@dataclass
class Cluster:
    client: rest.RESTClient
    recorder: FakeRecorder = field(default_factory=FakeRecorder)

    async def provisioner(self) -> localpath.LocalPathProvisioner:
        return localpath.LocalPathProvisioner(
            client=self.client,
            claims=fakecluster.seeded(*(await self.client.get(PVCS))["items"]),
            volumes=fakecluster.seeded(*(await self.client.get(PVS))["items"]),
            classes=fakecluster.seeded(*(await self.client.get(CLASSES))["items"]),
            nodes=fakecluster.seeded(NODE), recorder=self.recorder,
            storage_root=PurePosixPath("/srv/storage"))

    async def claim(self, name: str, *, annotations: dict[str, str],
                    cls: str = "local-path") -> Obj:
        return await self.client.create(PVCS, {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": cls,
                     "resources": {"requests": {"storage": "2Gi"}}}})


@contextlib.asynccontextmanager
async def opened(client: contextlib.AbstractAsyncContextManager[rest.RESTClient]
                 ) -> AsyncIterator[Cluster]:
    async with client as entered:
        yield Cluster(entered)


@pytest.fixture
def cluster(client: contextlib.AbstractAsyncContextManager[rest.RESTClient]
            ) -> contextlib.AbstractAsyncContextManager[Cluster]:
    """The in-process server (with its default `local-path` class) and a recorder."""
    return opened(client)


async def test_claim_on_a_selected_node_gets_a_host_path_volume_there(cluster: Cluster) -> None:
    claim = await cluster.claim("data", annotations={
        **ASKED, "volume.kubernetes.io/selected-node": "node-1"})
    await (await cluster.provisioner()).sync_claim("default/data")

    uid = meta.uid(claim)
    volume = await cluster.client.get(f"{PVS}/pvc-{uid}")
    assert meta.annotations(volume) == {"pv.kubernetes.io/provisioned-by": "rancher.io/local-path"}
    spec = volume["spec"]
    assert spec["hostPath"] == {"path": f"/srv/storage/pvc-{uid}_default_data",
                                "type": "DirectoryOrCreate"}
    assert spec["nodeAffinity"] == {"required": {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": ["host-1"]}]}]}}
    assert spec["capacity"] == {"storage": "2Gi"}
    assert spec["accessModes"] == ["ReadWriteOnce"]
    assert spec["persistentVolumeReclaimPolicy"] == "Delete"
    assert spec["storageClassName"] == "local-path"
    assert (spec["claimRef"]["name"], spec["claimRef"]["uid"]) == ("data", uid)
    assert cluster.recorder.events == [
        'Normal Provisioning External provisioner is provisioning volume for claim '
        '"default/data"',
        f"Normal ProvisioningSucceeded Successfully provisioned volume pvc-{uid}"]


async def test_claim_waits_for_the_scheduler_or_the_binder(cluster: Cluster) -> None:
    await cluster.claim("unplaced", annotations=ASKED)
    await cluster.claim("unasked", annotations={
        "volume.kubernetes.io/selected-node": "node-1"})
    provisioner = await cluster.provisioner()
    await provisioner.sync_claim("default/unplaced")
    await provisioner.sync_claim("default/unasked")
    assert (await cluster.client.get(PVS))["items"] == []
    assert cluster.recorder.events == []


async def test_immediate_class_is_refused_for_node_local_storage(cluster: Cluster) -> None:
    await cluster.client.create(CLASSES, {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "now"}, "provisioner": "rancher.io/local-path",
        "volumeBindingMode": "Immediate"})
    await cluster.claim("data", annotations=ASKED, cls="now")
    await (await cluster.provisioner()).sync_claim("default/data")
    assert (await cluster.client.get(PVS))["items"] == []
    assert cluster.recorder.events == [
        'Warning ProvisioningFailed failed to provision volume with StorageClass "now": '
        "configuration error, no node was specified"]


async def test_released_volume_with_delete_policy_is_deleted(cluster: Cluster) -> None:
    claim = await cluster.claim("data", annotations={
        **ASKED, "volume.kubernetes.io/selected-node": "node-1"})
    await (await cluster.provisioner()).sync_claim("default/data")
    name = f"pvc-{meta.uid(claim)}"
    volume = await cluster.client.get(f"{PVS}/{name}")
    volume["status"] = {"phase": "Bound"}
    volume = await cluster.client.update(f"{PVS}/{name}/status", volume)
    await (await cluster.provisioner()).sync_volume(name)
    assert await fakecluster.get_or_none(cluster.client, f"{PVS}/{name}") is not None

    volume["status"] = {"phase": "Released"}
    await cluster.client.update(f"{PVS}/{name}/status", volume)
    await (await cluster.provisioner()).sync_volume(name)
    assert await fakecluster.get_or_none(cluster.client, f"{PVS}/{name}") is None


async def test_selected_node_that_is_gone_is_given_back_to_the_scheduler(
        cluster: Cluster) -> None:
    await cluster.claim("data", annotations={
        **ASKED, "volume.kubernetes.io/selected-node": "gone"})
    await (await cluster.provisioner()).sync_claim("default/data")

    claim = await cluster.client.get(f"{PVCS}/data")
    assert "volume.kubernetes.io/selected-node" not in meta.annotations(claim)
    assert (await cluster.client.get(PVS))["items"] == []
    assert cluster.recorder.events == [
        'Warning ProvisioningFailed failed to get target node: nodes "gone" not found']
