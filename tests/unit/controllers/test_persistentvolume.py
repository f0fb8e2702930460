"""The PersistentVolume binder: which volume a claim gets, and the claim and volume phases,
annotations and events a user sees, on the in-process server with seeded caches."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import fakecluster
import pytest

from kajitori.api import meta
from kajitori.client import rest
from kajitori.controllers import persistentvolume, pvindex, worker

Obj = dict[str, Any]

PVS = fakecluster.path("", "v1", "persistentvolumes")
PVCS = fakecluster.path("", "v1", "persistentvolumeclaims", namespace="default")
CLASSES = fakecluster.path("storage.k8s.io", "v1", "storageclasses")


@dataclass
class FakeRecorder:
    events: list[str] = field(default_factory=list)

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        self.events.append(f"{type_} {reason} {message}")

    async def run(self) -> None:
        raise AssertionError("tests call sync directly")


def pv_body(name: str, size: str, *, modes: tuple[str, ...] = ("ReadWriteOnce",),
            cls: str = "", labels: dict[str, str] | None = None, policy: str = "Retain",
            claim_ref: Obj | None = None, annotations: dict[str, str] | None = None) -> Obj:
    spec: Obj = {"capacity": {"storage": size}, "accessModes": list(modes),
                 "persistentVolumeReclaimPolicy": policy, "hostPath": {"path": f"/d/{name}"}}
    if cls:
        spec["storageClassName"] = cls
    if claim_ref is not None:
        spec["claimRef"] = claim_ref
    md: Obj = {"name": name, "labels": labels or {}}
    if annotations:
        md["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": md, "spec": spec}


def pvc_body(name: str, size: str, *, modes: tuple[str, ...] = ("ReadWriteOnce",),
             cls: str | None = "", selector: Obj | None = None, volume_name: str = "",
             annotations: dict[str, str] | None = None, volume_mode: str = "") -> Obj:
    spec: Obj = {"accessModes": list(modes), "resources": {"requests": {"storage": size}}}
    if cls is not None:
        spec["storageClassName"] = cls
    if selector is not None:
        spec["selector"] = selector
    if volume_name:
        spec["volumeName"] = volume_name
    if volume_mode:
        spec["volumeMode"] = volume_mode
    md: Obj = {"name": name}
    if annotations:
        md["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": md, "spec": spec}


async def make_pv(client: rest.RESTClient, body: Obj, *, phase: str = "Available") -> Obj:
    created = await client.create(PVS, body)
    created["status"] = {"phase": phase}
    return await client.update(f"{PVS}/{meta.name(created)}/status", created)


@dataclass
class Cluster:
    client: rest.RESTClient
    recorder: FakeRecorder = field(default_factory=FakeRecorder)

    async def controller(self, *, pods: tuple[Obj, ...] = ()
                         ) -> persistentvolume.PersistentVolumeController:
        """A binder whose caches hold what the server holds now."""
        volumes = (await self.client.get(PVS))["items"]
        claims = (await self.client.get(PVCS))["items"]
        classes = (await self.client.get(CLASSES))["items"]
        return persistentvolume.PersistentVolumeController(
            client=self.client, volumes=fakecluster.seeded(*volumes),
            claims=fakecluster.seeded(*claims), classes=fakecluster.seeded(*classes),
            pods=fakecluster.seeded(*pods), recorder=self.recorder, resync_period=15)

    async def sync_claim(self, name: str) -> None:
        await (await self.controller()).sync_claim(f"default/{name}")

    async def sync_volume(self, name: str) -> None:
        await (await self.controller()).sync_volume(name)

    async def pv(self, name: str) -> Obj | None:
        return await fakecluster.get_or_none(self.client, f"{PVS}/{name}")

    async def pvc(self, name: str) -> Obj:
        return await self.client.get(f"{PVCS}/{name}")


@contextlib.asynccontextmanager
async def opened(client: contextlib.AbstractAsyncContextManager[rest.RESTClient]
                 ) -> AsyncIterator[Cluster]:
    async with client as entered:
        yield Cluster(entered)


@pytest.fixture
def cluster(client: contextlib.AbstractAsyncContextManager[rest.RESTClient]
            ) -> contextlib.AbstractAsyncContextManager[Cluster]:
    """The in-process server and a recorder; tests build binders on it with `controller()`."""
    return opened(client)


async def test_claim_binds_to_the_smallest_volume_that_fits(cluster: Cluster) -> None:
    for name, size in (("big", "10Gi"), ("small", "1Gi"), ("fits", "2Gi"), ("tight", "1500Mi")):
        await make_pv(cluster.client, pv_body(name, size))
    await cluster.client.create(PVCS, pvc_body("data", "1200Mi"))
    await cluster.sync_claim("data")

    claim = await cluster.pvc("data")
    volume = await cluster.pv("tight")
    assert volume is not None
    assert claim["spec"]["volumeName"] == "tight"
    assert claim["status"] == {"phase": "Bound", "accessModes": ["ReadWriteOnce"],
                               "capacity": {"storage": "1500Mi"}}
    assert meta.annotations(claim) == {"pv.kubernetes.io/bind-completed": "yes",
                                       "pv.kubernetes.io/bound-by-controller": "yes"}
    assert volume["status"]["phase"] == "Bound"
    assert volume["spec"]["claimRef"]["name"] == "data"
    assert volume["spec"]["claimRef"]["uid"] == meta.uid(claim)
    assert meta.annotations(volume) == {"pv.kubernetes.io/bound-by-controller": "yes"}


async def test_class_access_modes_volume_mode_and_selector_filter_volumes(
        cluster: Cluster) -> None:
    await make_pv(cluster.client, pv_body("other-class", "1Gi", cls="fast"))
    await make_pv(cluster.client, pv_body("read-only", "1Gi", modes=("ReadOnlyMany",)))
    await make_pv(cluster.client, pv_body("unlabelled", "1Gi"))
    await make_pv(cluster.client, pv_body("labelled", "5Gi", labels={"tier": "db"}))
    await cluster.client.create(PVCS, pvc_body(
        "db", "1Gi", selector={"matchLabels": {"tier": "db"}}))
    await cluster.client.create(PVCS, pvc_body("blk", "1Gi", volume_mode="Block"))
    await cluster.sync_claim("db")
    await cluster.sync_claim("blk")

    assert (await cluster.pvc("db"))["spec"]["volumeName"] == "labelled"
    blk = await cluster.pvc("blk")
    assert "volumeName" not in blk["spec"]
    assert blk["status"] == {"phase": "Pending"}
    assert cluster.recorder.events == [
        "Normal FailedBinding no persistent volumes available for this claim and no storage "
        "class is set"]


def test_fewer_access_modes_win_over_a_smaller_volume() -> None:
    claim = pvc_body("c", "1Gi")
    volumes = [{**pv_body("rwo-rox-small", "1Gi", modes=("ReadWriteOnce", "ReadOnlyMany")),
                "status": {"phase": "Available"}},
               {**pv_body("rwo-big", "5Gi"), "status": {"phase": "Available"}}]
    match = pvindex.find_best_match_for_claim(claim, volumes, delay_binding=False)
    assert match is not None
    assert meta.name(match) == "rwo-big"


async def test_volume_pre_bound_by_user_is_taken_and_not_marked_bound_by_controller(
        cluster: Cluster) -> None:
    await make_pv(cluster.client, pv_body("smaller", "1Gi"))
    await make_pv(cluster.client, pv_body("reserved", "8Gi", claim_ref={
        "namespace": "default", "name": "mine"}))
    await cluster.client.create(PVCS, pvc_body("mine", "1Gi"))
    await cluster.sync_claim("mine")

    volume = await cluster.pv("reserved")
    assert volume is not None
    assert meta.annotations(volume) == {}
    assert volume["status"]["phase"] == "Bound"
    assert (await cluster.pvc("mine"))["spec"]["volumeName"] == "reserved"


async def test_claim_naming_a_volume_binds_without_bound_by_controller(
        cluster: Cluster) -> None:
    await make_pv(cluster.client, pv_body("wanted", "4Gi"))
    await cluster.client.create(PVCS, pvc_body("named", "1Gi", volume_name="wanted"))
    await cluster.sync_claim("named")

    claim = await cluster.pvc("named")
    assert meta.annotations(claim) == {"pv.kubernetes.io/bind-completed": "yes"}
    assert claim["status"]["phase"] == "Bound"
    volume = await cluster.pv("wanted")
    assert volume is not None
    assert meta.annotations(volume)["pv.kubernetes.io/bound-by-controller"] == "yes"


async def test_claim_naming_a_volume_too_small_stays_pending_with_a_warning(
        cluster: Cluster) -> None:
    await make_pv(cluster.client, pv_body("tiny", "1Mi"))
    await cluster.client.create(PVCS, pvc_body("named", "1Gi", volume_name="tiny"))
    await cluster.sync_claim("named")

    assert (await cluster.pvc("named"))["status"] == {"phase": "Pending"}
    assert cluster.recorder.events == [
        'Warning VolumeMismatch Cannot bind to requested volume "tiny": '
        "requested PV is too small"]


async def test_wait_for_first_consumer_claim_waits_and_names_its_unscheduled_pod(
        cluster: Cluster) -> None:
    await cluster.client.create(CLASSES, {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "local"}, "provisioner": "kubernetes.io/no-provisioner",
        "volumeBindingMode": "WaitForFirstConsumer"})
    await make_pv(cluster.client, pv_body("local-pv", "1Gi", cls="local"))
    await cluster.client.create(PVCS, pvc_body("wait", "1Gi", cls="local"))
    await cluster.sync_claim("wait")
    pod = {"metadata": {"name": "web-0", "namespace": "default"},
           "spec": {"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "wait"}}]}}
    await (await cluster.controller(pods=(pod,))).sync_claim("default/wait")

    claim = await cluster.pvc("wait")
    assert "volumeName" not in claim["spec"]
    assert claim["status"]["phase"] == "Pending"
    assert cluster.recorder.events == [
        "Normal WaitForFirstConsumer waiting for first consumer to be created before binding",
        "Normal WaitForPodScheduled waiting for pod web-0 to be scheduled"]


async def test_volume_the_scheduler_pre_bound_for_a_delayed_claim_is_bound(
        cluster: Cluster) -> None:
    await cluster.client.create(CLASSES, {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "local"}, "provisioner": "kubernetes.io/no-provisioner",
        "volumeBindingMode": "WaitForFirstConsumer"})
    claim = await cluster.client.create(PVCS, pvc_body("wait", "1Gi", cls="local"))
    await make_pv(cluster.client, pv_body(
        "chosen", "1Gi", cls="local", annotations={"pv.kubernetes.io/bound-by-controller": "yes"},
        claim_ref=persistentvolume.pvindex.claim_reference(claim)))
    await cluster.sync_claim("wait")

    assert (await cluster.pvc("wait"))["status"]["phase"] == "Bound"


async def test_claim_of_a_provisioned_class_is_handed_to_its_provisioner(
        cluster: Cluster) -> None:
    await cluster.client.create(CLASSES, {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "lp"}, "provisioner": "rancher.io/local-path",
        "volumeBindingMode": "WaitForFirstConsumer"})
    await cluster.client.create(PVCS, pvc_body(
        "data", "1Gi", cls="lp",
        annotations={"volume.kubernetes.io/selected-node": "node-1"}))
    await cluster.sync_claim("data")

    annotations = meta.annotations(await cluster.pvc("data"))
    assert annotations["volume.kubernetes.io/storage-provisioner"] == "rancher.io/local-path"
    assert annotations["volume.beta.kubernetes.io/storage-provisioner"] == \
        "rancher.io/local-path"
    assert cluster.recorder.events == [
        "Normal ExternalProvisioning Waiting for a volume to be created either by the external "
        "provisioner 'rancher.io/local-path' or manually by the system administrator. If "
        "volume creation is delayed, please verify that the provisioner is running and "
        "correctly registered."]


async def test_missing_class_is_a_provisioning_failure(cluster: Cluster) -> None:
    await cluster.client.create(PVCS, pvc_body("data", "1Gi", cls="nope"))
    await cluster.sync_claim("data")
    assert cluster.recorder.events == [
        'Warning ProvisioningFailed storageclass.storage.k8s.io "nope" not found']


async def test_claim_without_class_gets_a_default_class_created_later(
        cluster: Cluster) -> None:
    await cluster.client.delete(f"{CLASSES}/local-path")  # the server's default
    await cluster.client.create(PVCS, pvc_body("late", "1Gi", cls=None))
    assert "storageClassName" not in (await cluster.pvc("late"))["spec"]
    await cluster.client.create(CLASSES, {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "std", "annotations": {
            "storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "example.com/nfs"})
    await cluster.sync_claim("late")
    assert (await cluster.pvc("late"))["spec"]["storageClassName"] == "std"


async def bound_pair(cluster: Cluster, *, policy: str,
                     annotations: dict[str, str] | None = None) -> Obj:
    await make_pv(cluster.client, pv_body("vol", "1Gi", policy=policy, annotations=annotations))
    await cluster.client.create(PVCS, pvc_body("data", "1Gi"))
    await cluster.sync_claim("data")
    await cluster.client.delete(f"{PVCS}/data")
    volume = await cluster.pv("vol")
    assert volume is not None
    return volume


async def test_retained_volume_is_released_when_its_claim_goes(cluster: Cluster) -> None:
    await bound_pair(cluster, policy="Retain")
    await cluster.sync_volume("vol")
    volume = await cluster.pv("vol")
    assert volume is not None
    assert volume["status"]["phase"] == "Released"
    assert volume["spec"]["claimRef"]["name"] == "data"


async def test_deleted_policy_volume_is_deleted_when_its_claim_goes(cluster: Cluster) -> None:
    await bound_pair(cluster, policy="Delete")
    await cluster.sync_volume("vol")
    assert await cluster.pv("vol") is None


async def test_external_provisioners_volume_is_left_to_it(cluster: Cluster) -> None:
    await bound_pair(cluster, policy="Delete",
                     annotations={"pv.kubernetes.io/provisioned-by": "rancher.io/local-path"})
    await cluster.sync_volume("vol")
    volume = await cluster.pv("vol")
    assert volume is not None
    assert volume["status"]["phase"] == "Released"


async def test_recycle_is_not_supported(cluster: Cluster) -> None:
    await bound_pair(cluster, policy="Recycle")
    await cluster.sync_volume("vol")
    volume = await cluster.pv("vol")
    assert volume is not None
    assert volume["status"]["phase"] == "Failed"
    assert volume["status"]["message"] == "No recycler plugin found for the volume!"
    assert cluster.recorder.events == [
        "Warning VolumeFailedRecycle No recycler plugin found for the volume!"]


async def test_bound_claim_whose_volume_is_gone_is_lost(cluster: Cluster) -> None:
    await make_pv(cluster.client, pv_body("vol", "1Gi"))
    await cluster.client.create(PVCS, pvc_body("data", "1Gi"))
    await cluster.sync_claim("data")
    await cluster.client.delete(f"{PVS}/vol")
    await cluster.sync_claim("data")

    claim = await cluster.pvc("data")
    assert claim["status"] == {"phase": "Lost"}
    assert cluster.recorder.events == [
        "Warning ClaimLost Bound claim has lost its PersistentVolume. "
        "Data on the volume is lost!"]


async def test_new_volume_is_available_and_a_half_bound_one_queues_its_claim(
        cluster: Cluster) -> None:
    created = await cluster.client.create(PVS, pv_body("fresh", "1Gi"))
    assert created["status"]["phase"] == "Pending"
    await cluster.sync_volume("fresh")
    volume = await cluster.pv("fresh")
    assert volume is not None
    assert volume["status"]["phase"] == "Available"

    claim = await cluster.client.create(PVCS, pvc_body("data", "1Gi"))
    await make_pv(cluster.client, pv_body(
        "provisioned", "1Gi", claim_ref=pvindex.claim_reference(claim)))
    binder = await cluster.controller()
    await binder.sync_volume("provisioned")
    assert len(binder.claim_queue) == 1


async def test_volume_claimed_elsewhere_by_the_controller_is_unbound(cluster: Cluster) -> None:
    claim = await cluster.client.create(PVCS, pvc_body("data", "1Gi", volume_name="other"))
    await make_pv(cluster.client, pv_body(
        "stale", "1Gi", claim_ref=pvindex.claim_reference(claim),
        annotations={"pv.kubernetes.io/bound-by-controller": "yes"}), phase="Bound")
    await cluster.sync_volume("stale")
    volume = await cluster.pv("stale")
    assert volume is not None
    assert "claimRef" not in volume["spec"]
    assert meta.annotations(volume) == {}
    assert volume["status"]["phase"] == "Available"


async def test_stale_cache_write_is_a_conflict_retried_later(cluster: Cluster) -> None:
    await make_pv(cluster.client, pv_body("vol", "1Gi"))
    await cluster.client.create(PVCS, pvc_body("data", "1Gi"))
    binder = await cluster.controller()
    await cluster.client.patch(f"{PVS}/vol", {"metadata": {"labels": {"x": "y"}}})
    with pytest.raises(worker.SYNC_FAILURES):
        await binder.sync_claim("default/data")
    assert (await cluster.pvc("data"))["status"] == {"phase": "Pending"}


async def test_claim_naming_a_volume_claimed_by_another_waits_with_a_warning(
        cluster: Cluster) -> None:
    await make_pv(cluster.client, pv_body("taken", "1Gi", claim_ref={
        "namespace": "default", "name": "first"}))
    await cluster.client.create(PVCS, pvc_body("second", "1Gi", volume_name="taken"))
    await cluster.sync_claim("second")

    assert (await cluster.pvc("second"))["status"] == {"phase": "Pending"}
    assert cluster.recorder.events == [
        'Warning FailedBinding volume "taken" already bound to a different claim.']
