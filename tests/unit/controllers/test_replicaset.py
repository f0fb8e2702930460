"""The ReplicaSet controller, as upstream's replica_set_test.go: the ReplicaSet lives in a real
in-process server (status is written there), pods are seeded into the cache, pod writes go to
FakePodControl, and the wall clock is fixed. Tests assert the pods asked for, the pods deleted,
the adoption patches and the status a user would read."""

from __future__ import annotations

import datetime
from typing import Any

import fakecluster
import pytest

from kajitori.api import errors, meta
from kajitori.client import rest
from kajitori.controllers import podcontrol, replicaset, replicationcontroller

Obj = dict[str, Any]
NOW = datetime.datetime(2025, 5, 1, 12, 0, 0, tzinfo=datetime.UTC)
RSS = fakecluster.path("apps", "v1", "replicasets", namespace="default")
RCS = fakecluster.path("", "v1", "replicationcontrollers", namespace="default")
LABELS = {"app": "web"}


async def create_rs(client: rest.RESTClient, name: str = "web", *, replicas: int = 3,
                    min_ready: int = 0) -> Obj:
    return await client.create(RSS, {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
        "spec": {"replicas": replicas, "minReadySeconds": min_ready,
                 "selector": {"matchLabels": LABELS},
                 "template": {"metadata": {"labels": {**LABELS, "tier": "front"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})


def pod(name: str, owner: Obj | None, *, phase: str = "Running", ready: bool = True,
        node: str = "node-1", labels: dict[str, str] | None = None,
        ready_since: datetime.datetime = NOW - datetime.timedelta(minutes=5),
        created: datetime.datetime = NOW - datetime.timedelta(minutes=10),
        **metadata: Any) -> Obj:
    md: Obj = {"name": name, "namespace": "default", "uid": f"uid-{name}",
               "resourceVersion": "1", "labels": {**LABELS, "tier": "front"}
               if labels is None else labels,
               "creationTimestamp": meta.format_time(created), **metadata}
    if owner is not None:
        md["ownerReferences"] = [podcontrol.new_controller_ref(owner)]
    status: Obj = {"phase": phase}
    if ready:
        status["conditions"] = [{"type": "Ready", "status": "True",
                                 "lastTransitionTime": meta.format_time(ready_since)}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md,
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx"}]},
            "status": status}


def controller(client: rest.RESTClient, rs: Obj, pods: list[Obj], control: Any, *,
               kind: replicaset.ReplicaSetKind = replicaset.REPLICASET_KIND
               ) -> replicaset.ReplicaSetController:
    return replicaset.ReplicaSetController(
        client=client, replicasets=fakecluster.seeded(rs), pods=fakecluster.seeded(*pods),
        pod_control=control, kind=kind, now=lambda: NOW)


async def test_too_few_pods_creates_the_missing_ones_with_a_controller_ref(
        client: rest.RESTClient) -> None:
    rs = await create_rs(client, replicas=3)
    control = podcontrol.FakePodControl()
    rsc = controller(client, rs, [pod("web-a", rs)], control)
    await rsc.sync("default/web")
    assert len(control.templates) == 2
    for made in control.templates:
        assert made["metadata"]["generateName"] == "web-"
        assert made["metadata"]["labels"] == {"app": "web", "tier": "front"}
        assert made["metadata"]["ownerReferences"] == [{
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": meta.uid(rs),
            "controller": True, "blockOwnerDeletion": True}]
    # The two creations are awaited: a second sync before they are seen creates nothing.
    assert not rsc.expectations.satisfied_expectations("default/web")
    control.clear()
    await rsc.sync("default/web")
    assert control.templates == []


async def test_status_counts_claimed_pods_labels_readiness_and_availability(
        client: rest.RESTClient) -> None:
    rs = await create_rs(client, replicas=4, min_ready=60)
    pods = [pod("ready-long", rs),
            pod("ready-recent", rs, ready_since=NOW - datetime.timedelta(seconds=30)),
            pod("not-ready", rs, ready=False),
            pod("partly-labelled", rs, labels=dict(LABELS)),
            pod("finished", rs, phase="Succeeded"),
            pod("going", rs, deletionTimestamp=meta.format_time(NOW))]
    await controller(client, rs, pods, podcontrol.FakePodControl()).sync("default/web")
    stored = await client.get(f"{RSS}/web")
    assert stored["status"] == {"replicas": 4, "fullyLabeledReplicas": 3, "readyReplicas": 3,
                                "availableReplicas": 2, "observedGeneration": 1}


async def test_too_many_pods_deletes_the_least_valuable_first(client: rest.RESTClient) -> None:
    rs = await create_rs(client, replicas=2)
    pods = [pod("old-ready", rs, created=NOW - datetime.timedelta(days=2),
                ready_since=NOW - datetime.timedelta(days=2)),
            pod("unscheduled", rs, phase="Pending", ready=False, node=""),
            pod("pending", rs, phase="Pending", ready=False),
            pod("not-ready", rs, ready=False),
            pod("young-ready", rs, created=NOW - datetime.timedelta(seconds=30),
                ready_since=NOW - datetime.timedelta(seconds=20))]
    control = podcontrol.FakePodControl()
    await controller(client, rs, pods, control).sync("default/web")
    assert control.delete_pod_names == ["unscheduled", "pending", "not-ready"]
    assert (await client.get(f"{RSS}/web"))["status"]["replicas"] == 5


def test_deletion_cost_and_doubled_up_nodes_rank_before_age() -> None:
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
             "metadata": {"name": "web", "uid": "rs"}}
    cheap = pod("cheap", owner, node="n1", annotations={
        replicaset.POD_DELETION_COST_ANNOTATION: "-5"})
    crowded = pod("crowded", owner, node="n2")
    alone = pod("alone", owner, node="n3", created=NOW - datetime.timedelta(seconds=5))
    related = [crowded, pod("sibling", owner, node="n2")]
    chosen = replicaset.get_pods_to_delete([alone, crowded, cheap], related, 2, now=NOW)
    assert [meta.name(p) for p in chosen] == ["cheap", "crowded"]


async def test_failed_creations_stop_the_slow_start_and_set_replica_failure(
        client: rest.RESTClient) -> None:
    rs = await create_rs(client, replicas=10)
    control = podcontrol.FakePodControl(create_limit=4)
    rsc = controller(client, rs, [], control)
    with pytest.raises(errors.StatusError):
        await rsc.sync("default/web")
    # Batches of 1, 2 and 4: the third batch had 3 failures; the last 3 pods were never tried.
    assert control.create_call_count == 7
    expectations = rsc.expectations.get_expectations("default/web")
    assert expectations is not None
    assert expectations.add == 4
    condition = (await client.get(f"{RSS}/web"))["status"]["conditions"][0]
    assert condition["type"] == "ReplicaFailure"
    assert condition["status"] == "True"
    assert condition["reason"] == "FailedCreate"
    assert condition["message"] == \
        "Internal error occurred: not creating pod, limit 4 already reached (create call 5)"


async def test_slow_start_batches_double_until_a_failure() -> None:
    calls: list[int] = []

    async def fn() -> None:
        calls.append(1)
        if len(calls) > 3:
            raise errors.internal_error("no")

    successes, failure = await replicaset.slow_start_batch(20, 1, fn)
    assert (len(calls), successes) == (7, 3)
    assert isinstance(failure, errors.StatusError)


async def test_orphans_matching_the_selector_are_adopted_and_mismatched_pods_released(
        client: rest.RESTClient) -> None:
    rs = await create_rs(client, replicas=2)
    other = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
             "metadata": {"name": "other", "uid": "someone-else"}}
    pods = [pod("orphan", None), pod("relabelled", rs, labels={"app": "db"}),
            pod("foreign", other)]
    control = podcontrol.FakePodControl()
    await controller(client, rs, pods, control).sync("default/web")
    assert control.patches == [
        {"metadata": {"ownerReferences": [podcontrol.new_controller_ref(rs)],
                      "uid": "uid-orphan"}},
        {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": meta.uid(rs)}],
                      "uid": "uid-relabelled"}}]
    # The adopted orphan counts; one more pod is asked for.
    assert len(control.templates) == 1


async def test_a_replicaset_being_deleted_only_updates_status(client: rest.RESTClient) -> None:
    rs = await create_rs(client, replicas=3)
    terminating = {**rs, "metadata": {**rs["metadata"],
                                      "deletionTimestamp": meta.format_time(NOW)}}
    control = podcontrol.FakePodControl()
    await controller(client, terminating, [pod("web-a", rs)], control).sync("default/web")
    assert control.templates == []
    assert control.delete_pod_names == []
    assert (await client.get(f"{RSS}/web"))["status"]["replicas"] == 1


async def test_replication_controller_pods_are_owned_by_it(client: rest.RESTClient) -> None:
    rc = await client.create(RCS, {
        "apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": LABELS,
                 "template": {"metadata": {"labels": LABELS},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    control = podcontrol.FakePodControl()
    rsc = controller(client, rc, [pod("stray", None, labels=dict(LABELS))], control,
                     kind=replicationcontroller.REPLICATION_CONTROLLER_KIND)
    await rsc.sync("default/web")
    ref = {"apiVersion": "v1", "kind": "ReplicationController", "name": "web",
           "uid": meta.uid(rc), "controller": True, "blockOwnerDeletion": True}
    assert control.patches == [{"metadata": {"ownerReferences": [ref], "uid": "uid-stray"}}]
    assert [t["metadata"]["ownerReferences"] for t in control.templates] == [[ref]]
    stored = await client.get(f"{RCS}/web")
    assert stored["status"]["replicas"] == 1
    assert stored["status"]["observedGeneration"] == 1


def test_pod_availability_needs_min_ready_seconds_of_readiness() -> None:
    ready = pod("p", None, ready_since=NOW - datetime.timedelta(seconds=10))
    assert replicaset.is_pod_available(ready, 0, NOW)
    assert replicaset.is_pod_available(ready, 9, NOW)
    assert not replicaset.is_pod_available(ready, 10, NOW)
    assert not replicaset.is_pod_available(pod("q", None, ready=False), 0, NOW)
