"""The Deployment controller, as upstream's deployment_test.go, sync_test.go, rolling_test.go
and recreate_test.go: Deployments and ReplicaSets live in a real in-process server; each step
seeds the caches with what the server holds, runs one `sync_deployment`, and the test asserts
the ReplicaSets, the Deployment's status and the events a user would see. The wall clock is
fixed at NOW; ReplicaSet status (what the ReplicaSet controller would report) is written by
the test."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

import fakecluster
import pytest

from kajitori.api import meta
from kajitori.client import FakeClock, rest
from kajitori.controllers.deployment import controller as deployment
from kajitori.controllers.deployment import podtemplatehash, replicas, revisions

Obj = dict[str, Any]
NOW = datetime.datetime(2025, 5, 1, 12, 0, 0, tzinfo=datetime.UTC)
DEPLOYS = fakecluster.path("apps", "v1", "deployments", namespace="default")
RSS = fakecluster.path("apps", "v1", "replicasets", namespace="default")


@dataclass
class FakeRecorder:
    events: list[str] = field(default_factory=list)

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        self.events.append(f"{type_} {reason} {message}")


async def create_deployment(client: rest.RESTClient, *, replicas_: int = 3,
                            image: str = "nginx:1.27", **spec: Any) -> Obj:
    return await client.create(DEPLOYS, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx"},
        "spec": {"replicas": replicas_, "selector": {"matchLabels": {"app": "nginx"}},
                 "template": {"metadata": {"labels": {"app": "nginx"}},
                              "spec": {"containers": [{"name": "nginx", "image": image}]}},
                 **spec}})


def _typed(items: list[Obj], kind: str) -> list[Obj]:
    return [{"apiVersion": "apps/v1", "kind": kind, **item} for item in items]


async def replicasets(client: rest.RESTClient) -> list[Obj]:
    listed = (await client.get(RSS))["items"]
    return sorted(_typed(listed, "ReplicaSet"),
                  key=lambda rs: revisions.revision(rs))


async def step(client: rest.RESTClient, recorder: FakeRecorder, *,
               pods: tuple[Obj, ...] = ()) -> deployment.DeploymentController:
    """One sync of default/nginx on caches holding what the server holds."""
    deployments = _typed((await client.get(DEPLOYS))["items"], "Deployment")
    dc = deployment.DeploymentController(
        client=client, deployments=fakecluster.seeded(*deployments),
        replicasets=fakecluster.seeded(*(await replicasets(client))),
        pods=fakecluster.seeded(*pods), recorder=recorder, now=lambda: NOW)
    await dc.sync_deployment("default/nginx")
    return dc


async def set_rs_status(client: rest.RESTClient, name: str, *, ready: int | None = None,
                        **counts: int) -> None:
    rs = await client.get(f"{RSS}/{name}")
    replicas_ = counts.get("replicas", rs["spec"]["replicas"])
    available = counts.get("available", replicas_)
    rs["status"] = {"replicas": replicas_, "fullyLabeledReplicas": replicas_,
                    "readyReplicas": available if ready is None else ready,
                    "availableReplicas": available,
                    "observedGeneration": rs["metadata"]["generation"]}
    await client.update(f"{RSS}/{name}/status", rs)


async def set_template_image(client: rest.RESTClient, image: str) -> None:
    d = await client.get(f"{DEPLOYS}/nginx")
    d["spec"]["template"]["spec"]["containers"][0]["image"] = image
    await client.update(f"{DEPLOYS}/nginx", d)


async def patch_spec(client: rest.RESTClient, **spec: Any) -> None:
    await client.patch(f"{DEPLOYS}/nginx", {"spec": spec})


def condition(d: Obj, type_: str) -> tuple[str, str, str]:
    found = next(c for c in d["status"]["conditions"] if c["type"] == type_)
    return found["status"], found["reason"], found["message"]


async def test_new_deployment_gets_a_replicaset_named_by_its_template_hash(
        client: rest.RESTClient) -> None:
    recorder = FakeRecorder()
    d = await create_deployment(client)
    await step(client, recorder)
    [rs] = await replicasets(client)
    pod_hash = podtemplatehash.compute_hash(d["spec"]["template"], None)
    assert meta.name(rs) == f"nginx-{pod_hash}"
    assert rs["metadata"]["labels"] == {"app": "nginx", "pod-template-hash": pod_hash}
    assert rs["spec"]["selector"] == {"matchLabels": {"app": "nginx",
                                                      "pod-template-hash": pod_hash}}
    assert rs["spec"]["template"]["metadata"]["labels"] == rs["metadata"]["labels"]
    assert rs["spec"]["replicas"] == 3
    assert rs["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "1",
                                             "deployment.kubernetes.io/desired-replicas": "3",
                                             "deployment.kubernetes.io/max-replicas": "4"}
    assert rs["metadata"]["ownerReferences"] == [{
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "nginx", "uid": meta.uid(d),
        "controller": True, "blockOwnerDeletion": True}]
    assert recorder.events == [
        f"Normal ScalingReplicaSet Scaled up replica set {meta.name(rs)} from 0 to 3"]
    stored = await client.get(f"{DEPLOYS}/nginx")
    assert condition(stored, "Progressing") == (
        "True", "NewReplicaSetCreated", f'Created new replica set "{meta.name(rs)}"')
    assert condition(stored, "Available") == (
        "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
    assert stored["status"]["observedGeneration"] == 1


async def test_available_replicaset_completes_the_rollout(client: rest.RESTClient) -> None:
    recorder = FakeRecorder()
    await create_deployment(client)
    await step(client, recorder)
    [rs] = await replicasets(client)
    await set_rs_status(client, meta.name(rs))
    await step(client, recorder)
    stored = await client.get(f"{DEPLOYS}/nginx")
    assert condition(stored, "Progressing") == (
        "True", "NewReplicaSetAvailable",
        f'ReplicaSet "{meta.name(rs)}" has successfully progressed.')
    assert condition(stored, "Available") == (
        "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
    assert {k: stored["status"][k] for k in ("replicas", "updatedReplicas", "readyReplicas",
                                             "availableReplicas")} == \
        {"replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3}
    assert "unavailableReplicas" not in stored["status"] or \
        stored["status"]["unavailableReplicas"] == 0


async def test_rolling_update_surges_then_scales_the_old_replicaset_down(
        client: rest.RESTClient) -> None:
    recorder = FakeRecorder()
    await create_deployment(client, strategy={
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}})
    await step(client, recorder)
    [old] = await replicasets(client)
    await set_rs_status(client, meta.name(old))
    await set_template_image(client, "nginx:1.28")
    recorder.events.clear()
    await step(client, recorder)
    old_rs, new_rs = await replicasets(client)
    assert (old_rs["spec"]["replicas"], new_rs["spec"]["replicas"]) == (3, 1)
    assert new_rs["metadata"]["annotations"][revisions.REVISION_ANNOTATION] == "2"
    assert recorder.events == [
        f"Normal ScalingReplicaSet Scaled up replica set {meta.name(new_rs)} from 0 to 1"]
    # The new pod is not available yet: maxUnavailable 0 keeps every old one.
    recorder.events.clear()
    await step(client, recorder)
    assert recorder.events == []
    await set_rs_status(client, meta.name(new_rs))
    await step(client, recorder)
    assert recorder.events == [
        f"Normal ScalingReplicaSet Scaled down replica set {meta.name(old)} from 3 to 2"]


async def test_rollback_reuses_the_old_replicaset_with_the_next_revision(
        client: rest.RESTClient) -> None:
    recorder = FakeRecorder()
    await create_deployment(client)
    await step(client, recorder)
    await set_template_image(client, "nginx:1.28")
    await step(client, recorder)
    first, second = await replicasets(client)
    assert revisions.revision(second) == 2
    await set_template_image(client, "nginx:1.27")  # what `kubectl rollout undo` patches
    await step(client, recorder)
    by_name = {meta.name(rs): rs for rs in await replicasets(client)}
    assert len(by_name) == 2
    assert meta.annotations(by_name[meta.name(first)])[revisions.REVISION_ANNOTATION] == "3"
    assert meta.annotations(by_name[meta.name(first)])[
        revisions.REVISION_HISTORY_ANNOTATION] == "1"


async def test_recreate_removes_old_pods_before_creating_new_ones(
        client: rest.RESTClient) -> None:
    recorder = FakeRecorder()
    await create_deployment(client, strategy={"type": "Recreate"})
    await step(client, recorder)
    [old] = await replicasets(client)
    await set_rs_status(client, meta.name(old))
    await set_template_image(client, "nginx:1.28")
    recorder.events.clear()
    await step(client, recorder)
    [old] = await replicasets(client)
    assert old["spec"]["replicas"] == 0
    assert recorder.events == [
        f"Normal ScalingReplicaSet Scaled down replica set {meta.name(old)} from 3 to 0"]
    # Still running pods of the old ReplicaSet hold the new one back.
    await set_rs_status(client, meta.name(old), replicas=0)
    running = {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "left", "namespace": "default", "uid": "left", "labels": {"app": "nginx"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                             "name": meta.name(old), "uid": meta.uid(old),
                             "controller": True}]}, "status": {"phase": "Running"}}
    await step(client, recorder, pods=(running,))
    assert len(await replicasets(client)) == 1
    await step(client, recorder)
    _, new_rs = await replicasets(client)
    assert new_rs["spec"]["replicas"] == 3


async def test_old_replicasets_beyond_the_history_limit_are_deleted(
        client: rest.RESTClient) -> None:
    recorder = FakeRecorder()
    await create_deployment(client, revisionHistoryLimit=1)
    for image in ("nginx:1.28", "nginx:1.29", "nginx:1.30"):
        await step(client, recorder)
        for rs in await replicasets(client):
            await client.update(f"{RSS}/{meta.name(rs)}", {**rs, "spec": {**rs["spec"],
                                                                          "replicas": 0}})
            await set_rs_status(client, meta.name(rs), replicas=0)
        await set_template_image(client, image)
    await patch_spec(client, paused=True)  # a paused sync cleans up without rolling
    await step(client, recorder)
    left = [revisions.revision(rs) for rs in await replicasets(client)]
    assert left == [3]


async def test_no_progress_past_the_deadline_is_progress_deadline_exceeded(
        client: rest.RESTClient) -> None:
    recorder = FakeRecorder()
    await create_deployment(client, progressDeadlineSeconds=60)
    await step(client, recorder)
    [rs] = await replicasets(client)
    stored = await client.get(f"{DEPLOYS}/nginx")
    for c in stored["status"]["conditions"]:
        c["lastUpdateTime"] = meta.format_time(NOW - datetime.timedelta(minutes=2))
    await client.update(f"{DEPLOYS}/nginx/status", stored)
    await step(client, recorder)
    assert condition(await client.get(f"{DEPLOYS}/nginx"), "Progressing") == (
        "False", "ProgressDeadlineExceeded",
        f'ReplicaSet "{meta.name(rs)}" has timed out progressing.')


async def test_waiting_for_the_deadline_requeues_when_it_passes(
        client: rest.RESTClient) -> None:
    recorder = FakeRecorder()
    await create_deployment(client, progressDeadlineSeconds=60)
    await step(client, recorder)  # Progressing: NewReplicaSetCreated at NOW
    clock = FakeClock()
    dc = deployment.DeploymentController(
        client=client, deployments=fakecluster.seeded(*_typed(
            (await client.get(DEPLOYS))["items"], "Deployment")),
        replicasets=fakecluster.seeded(*(await replicasets(client))),
        pods=fakecluster.seeded(), recorder=recorder, now=lambda: NOW, clock=clock)
    key = await dc.queue.get()  # queued when the seeded cache was replayed
    dc.queue.done(key)
    await dc.sync_deployment(key)  # nothing moved: look again once the deadline passed
    clock.step(60)
    assert len(dc.queue) == 0
    clock.step(2)
    assert len(dc.queue) == 1


async def test_pausing_and_resuming_set_progressing_unknown(client: rest.RESTClient) -> None:
    recorder = FakeRecorder()
    await create_deployment(client)
    await step(client, recorder)
    await patch_spec(client, paused=True)
    await set_template_image(client, "nginx:1.28")
    await step(client, recorder)
    assert condition(await client.get(f"{DEPLOYS}/nginx"), "Progressing") == (
        "Unknown", "DeploymentPaused", "Deployment is paused")
    assert len(await replicasets(client)) == 1  # a paused Deployment does not roll
    await patch_spec(client, paused=False)
    await step(client, recorder)
    assert len(await replicasets(client)) == 2


async def test_scaling_mid_rollout_spreads_replicas_in_proportion(
        client: rest.RESTClient) -> None:
    recorder = FakeRecorder()
    await create_deployment(client, strategy={
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}})
    await step(client, recorder)
    [old] = await replicasets(client)
    await set_rs_status(client, meta.name(old))
    await set_template_image(client, "nginx:1.28")
    await step(client, recorder)  # new ReplicaSet at 1, old at 3: 4 = 3 + maxSurge
    recorder.events.clear()
    await patch_spec(client, replicas=6)
    await step(client, recorder)
    old_rs, new_rs = await replicasets(client)
    assert recorder.events == [
        f"Normal ScalingReplicaSet Scaled up replica set {meta.name(old_rs)} from 3 to 5",
        f"Normal ScalingReplicaSet Scaled up replica set {meta.name(new_rs)} from 1 to 2"]
    for rs in (old_rs, new_rs):
        assert meta.annotations(rs)[revisions.MAX_REPLICAS_ANNOTATION] == "7"


@pytest.mark.parametrize(("surge", "unavailable", "desired", "expected"), [
    ("25%", "25%", 3, (1, 0)), ("25%", "25%", 10, (3, 2)), (0, "1%", 2, (0, 1)),
    ("0%", "0%", 2, (0, 1)), (1, 0, 5, (1, 0))])
def test_resolve_fenceposts_rounds_surge_up_and_unavailable_down(
        surge: int | str, unavailable: int | str, desired: int,
        expected: tuple[int, int]) -> None:
    assert replicas.resolve_fenceposts(surge, unavailable, desired) == expected


def test_rollback_appends_to_revision_history() -> None:
    rs: Obj = {"metadata": {"annotations": {revisions.REVISION_ANNOTATION: "4",
                                            revisions.REVISION_HISTORY_ANNOTATION: "1,2"}}}
    d: Obj = {"metadata": {"annotations": {"kubernetes.io/change-cause": "undo",
                                           revisions.REVISION_ANNOTATION: "9"}}}
    assert revisions.set_new_replicaset_annotations(d, rs, "6", exists=True, desired=3,
                                                    max_replicas=4)
    assert rs["metadata"]["annotations"] == {
        revisions.REVISION_ANNOTATION: "6", revisions.REVISION_HISTORY_ANNOTATION: "1,2,4",
        "kubernetes.io/change-cause": "undo"}


def test_template_hash_ignores_its_own_label_and_depends_on_collisions() -> None:
    template = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": []}}
    first = podtemplatehash.compute_hash(template, None)
    assert first == podtemplatehash.compute_hash(dict(template), None)
    assert first != podtemplatehash.compute_hash(template, 1)
    assert set(first) <= set("bcdfghjklmnpqrstvwxz2456789")
    labelled = {"metadata": {"labels": {"app": "x", "pod-template-hash": first},
                             "creationTimestamp": None}, "spec": {}}
    assert podtemplatehash.equal_ignore_hash(template, labelled)
