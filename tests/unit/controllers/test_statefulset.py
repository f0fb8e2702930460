"""The StatefulSet controller, as upstream's stateful_set_control_test.go: the set, its pods,
PVCs and revisions live in a real in-process server; the controller's caches are seeded with
the pods a test says exist, and tests read back what a user would see."""

from __future__ import annotations

import datetime
from typing import Any

import fakecluster

from kajitori.api import meta
from kajitori.client import rest
from kajitori.controllers import history, podcontrol, statefulset

Obj = dict[str, Any]
NOW = datetime.datetime(2025, 5, 1, 12, 0, 0, tzinfo=datetime.UTC)
SETS = fakecluster.path("apps", "v1", "statefulsets", namespace="default")
PODS = fakecluster.path("", "v1", "pods", namespace="default")
PVCS = fakecluster.path("", "v1", "persistentvolumeclaims", namespace="default")
LABELS = {"app": "web"}


def set_object(*, replicas: int = 3, **spec: Any) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
            "spec": {"serviceName": "web", "replicas": replicas,
                     "selector": {"matchLabels": LABELS},
                     "template": {"metadata": {"labels": LABELS}, "spec": {
                         "containers": [{"name": "c", "image": "nginx"}]}},
                     "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {
                         "accessModes": ["ReadWriteOnce"],
                         "resources": {"requests": {"storage": "1Gi"}}}}], **spec}}


async def create_set(client: rest.RESTClient, obj: Obj) -> Obj:
    return await client.create(SETS, obj)


def controller(client: rest.RESTClient, set_: Obj, pods: list[Obj]
               ) -> statefulset.StatefulSetController:
    return statefulset.StatefulSetController(
        client=client, statefulsets=fakecluster.seeded(set_), pods=fakecluster.seeded(*pods),
        revisions=fakecluster.seeded(), pod_control=podcontrol.FakePodControl(),
        now=lambda: NOW)


async def names(client: rest.RESTClient, path: str) -> list[str]:
    return sorted(meta.name(o) for o in (await client.get(path))["items"]
                  if not meta.deletion_timestamp(o))


async def existing_pods(client: rest.RESTClient, set_: Obj, ordinals: range, *,
                        revision: str, ready: bool = True) -> list[Obj]:
    """Pods of `set_` stored in the server, returned as the cache would hold them once
    running (ready unless told otherwise)."""
    made = []
    for ordinal in ordinals:
        pod = statefulset.new_stateful_set_pod(set_, ordinal, template=set_["spec"]["template"],
                                               revision_hash=revision)
        stored = await client.create(PODS, pod)
        stored["status"] = {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True" if ready else "False",
             "lastTransitionTime": meta.format_time(NOW)}]}
        made.append(stored)
    return made


async def update_revision(client: rest.RESTClient) -> str:
    return str((await client.get(f"{SETS}/web"))["status"]["updateRevision"])


async def test_ordered_ready_creates_the_first_pod_and_its_claim_only(
        client: rest.RESTClient) -> None:
    set_ = await create_set(client, set_object())
    await controller(client, set_, []).sync("default/web")
    assert await names(client, PODS) == ["web-0"]
    pod = await client.get(f"{PODS}/web-0")
    revision = await update_revision(client)
    assert pod["metadata"]["labels"] == {
        **LABELS, "statefulset.kubernetes.io/pod-name": "web-0",
        "apps.kubernetes.io/pod-index": "0", "controller-revision-hash": revision}
    assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == ("web-0", "web")
    assert pod["spec"]["volumes"][0] == {"name": "www",
                                         "persistentVolumeClaim": {"claimName": "www-web-0"}}
    assert pod["metadata"]["ownerReferences"] == [podcontrol.new_controller_ref(set_)]
    assert await names(client, PVCS) == ["www-web-0"]
    claim = await client.get(f"{PVCS}/www-web-0")
    assert claim["metadata"]["labels"] == LABELS
    assert "ownerReferences" not in claim["metadata"]
    assert revision.startswith("web-")


async def test_ordered_ready_waits_for_the_lower_ordinal_to_be_ready(
        client: rest.RESTClient) -> None:
    set_ = await create_set(client, set_object())
    pods = await existing_pods(client, set_, range(1), revision="web-x", ready=False)
    await controller(client, set_, pods).sync("default/web")
    assert await names(client, PODS) == ["web-0"]
    pods = await existing_pods(client, set_, range(1, 2), revision="web-x")
    pods[0]["status"]["conditions"][0]["status"] = "True"
    stored = await client.get(f"{PODS}/web-0")
    stored["status"] = pods[0]["status"]
    await controller(client, set_, [stored, *pods]).sync("default/web")
    assert await names(client, PODS) == ["web-0", "web-1", "web-2"]


async def test_parallel_creates_every_pod_at_once(client: rest.RESTClient) -> None:
    set_ = await create_set(client, set_object(podManagementPolicy="Parallel"))
    await controller(client, set_, []).sync("default/web")
    assert await names(client, PODS) == ["web-0", "web-1", "web-2"]
    assert await names(client, PVCS) == ["www-web-0", "www-web-1", "www-web-2"]


async def test_scale_down_deletes_the_highest_ordinal_and_its_claim_when_asked(
        client: rest.RESTClient) -> None:
    set_ = await create_set(client, set_object(
        replicas=1, persistentVolumeClaimRetentionPolicy={"whenScaled": "Delete",
                                                          "whenDeleted": "Retain"}))
    await client.create(PVCS, statefulset.new_claim(set_, set_["spec"]["volumeClaimTemplates"][0],
                                                    2))
    pods = await existing_pods(client, set_, range(3), revision="web-x")
    await controller(client, set_, pods).sync("default/web")
    assert await names(client, PODS) == ["web-0", "web-1"]
    assert await names(client, PVCS) == []


async def test_rolling_update_replaces_the_highest_old_pod_above_the_partition(
        client: rest.RESTClient) -> None:
    set_ = await create_set(client, set_object(updateStrategy={
        "type": "RollingUpdate", "rollingUpdate": {"partition": 1}}))
    pods = await existing_pods(client, set_, range(3), revision="web-old")
    await controller(client, set_, pods).sync("default/web")
    assert await names(client, PODS) == ["web-0", "web-1"]
    status = (await client.get(f"{SETS}/web"))["status"]
    assert status["replicas"] == 3
    assert status["readyReplicas"] == 3
    assert "updatedReplicas" not in status
    assert status["collisionCount"] == 0


async def test_a_failed_pod_is_deleted_to_be_recreated(client: rest.RESTClient) -> None:
    set_ = await create_set(client, set_object(replicas=2))
    pods = await existing_pods(client, set_, range(2), revision="web-x")
    pods[1]["status"]["phase"] = "Failed"
    await controller(client, set_, pods).sync("default/web")
    assert await names(client, PODS) == ["web-0"]


async def test_on_delete_keeps_old_pods(client: rest.RESTClient) -> None:
    set_ = await create_set(client, set_object(updateStrategy={"type": "OnDelete"}))
    pods = await existing_pods(client, set_, range(3), revision="web-old")
    await controller(client, set_, pods).sync("default/web")
    assert await names(client, PODS) == ["web-0", "web-1", "web-2"]


async def test_a_finished_rollout_makes_the_update_revision_current(
        client: rest.RESTClient) -> None:
    set_ = await create_set(client, set_object(replicas=2))
    await controller(client, set_, []).sync("default/web")
    revision = await update_revision(client)
    for name in ("web-0",):
        await client.delete(f"{PODS}/{name}")
    pods = await existing_pods(client, set_, range(2), revision=revision)
    set_ = await client.get(f"{SETS}/web")
    await controller(client, set_, pods).sync("default/web")
    status = (await client.get(f"{SETS}/web"))["status"]
    assert status == {"observedGeneration": 1, "replicas": 2, "readyReplicas": 2,
                      "currentReplicas": 2, "updatedReplicas": 2, "availableReplicas": 2,
                      "currentRevision": revision, "updateRevision": revision,
                      "collisionCount": 0}
    [stored] = (await client.get(fakecluster.path("apps", "v1", "controllerrevisions",
                                                  namespace="default")))["items"]
    assert stored["metadata"]["name"] == revision
    assert stored["revision"] == 1
    assert stored["metadata"]["labels"][history.CONTROLLER_REVISION_HASH_LABEL] == \
        revision.removeprefix("web-")


def test_claims_of_sets_deleting_them_are_owned_by_the_set() -> None:
    set_ = set_object(persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete",
                                                            "whenScaled": "Retain"})
    set_["metadata"]["uid"] = "set-uid"
    claim = statefulset.new_claim(set_, set_["spec"]["volumeClaimTemplates"][0], 4)
    assert claim["metadata"]["name"] == "www-web-4"
    assert claim["metadata"]["ownerReferences"] == [{
        "apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "set-uid",
        "controller": False, "blockOwnerDeletion": True}]
