"""The namespace controller against the real in-process server: a deleted namespace's content
goes, upstream's conditions record what remains, and the namespace goes once it is empty."""

from __future__ import annotations

import datetime

import fakecluster
import pytest

from kajitori.api import meta
from kajitori.client import FakeClock, rest
from kajitori.controllers import discovery, namespace, worker

NS = fakecluster.path("", "v1", "namespaces")


def ns_path(name: str) -> str:
    return f"{NS}/{name}"


async def make_namespace(client: rest.RESTClient, name: str) -> None:
    await client.create(NS, {"apiVersion": "v1", "kind": "Namespace",
                             "metadata": {"name": name}})


async def configmap(client: rest.RESTClient, ns: str, name: str, **metadata: object) -> None:
    await client.create(fakecluster.path("", "v1", "configmaps", namespace=ns), {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, **metadata}})


def controller(client: rest.RESTClient, *namespaces: dict, now: datetime.datetime | None = None
               ) -> namespace.NamespaceController:
    deleter = namespace.NamespacedResourcesDeleter(client, now=(lambda: now) if now else None)
    return namespace.NamespaceController(
        client=client, namespaces=fakecluster.seeded(*namespaces), workers=1,
        resync_period=300.0, clock=FakeClock(), deleter=deleter)


async def delete_namespace(client: rest.RESTClient, name: str) -> dict:
    await client.delete(ns_path(name))
    return await client.get(ns_path(name))


def conditions(ns: dict) -> dict[str, tuple[str, str, str]]:
    return {c["type"]: (c["status"], c["reason"], c["message"])
            for c in ns["status"].get("conditions", [])}


async def test_deleted_namespace_is_emptied_then_finalized(client: rest.RESTClient) -> None:
    await make_namespace(client, "doomed")
    await configmap(client, "doomed", "a")
    await client.create(fakecluster.path("apps", "v1", "deployments", namespace="doomed"), {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    terminating = await delete_namespace(client, "doomed")
    await controller(client, terminating).sync("doomed")
    assert await fakecluster.get_or_none(client, ns_path("doomed")) is None
    for group, plural in (("", "configmaps"), ("apps", "deployments")):
        listed = await client.get(fakecluster.path(group, "v1", plural, namespace="doomed"))
        assert listed["items"] == []


async def test_namespace_not_being_deleted_is_left_alone(client: rest.RESTClient) -> None:
    await make_namespace(client, "alive")
    await configmap(client, "alive", "kept")
    live = await client.get(ns_path("alive"))
    await controller(client, live).sync("alive")
    assert (await client.get(ns_path("alive")))["status"]["phase"] == "Active"
    kept = await client.get(fakecluster.path("", "v1", "configmaps", namespace="alive"))
    assert [meta.name(i) for i in kept["items"]] == ["kept"]


async def test_namespace_missing_from_the_cache_is_nothing_to_do(
        client: rest.RESTClient) -> None:
    await controller(client).sync("never-seen")


async def test_content_held_by_a_finalizer_is_waited_for_with_conditions(
        client: rest.RESTClient) -> None:
    await make_namespace(client, "held")
    await configmap(client, "held", "stuck", finalizers=["example.com/hold"])
    terminating = await delete_namespace(client, "held")
    with pytest.raises(namespace.ResourcesRemainingError) as raised:
        await controller(client, terminating).sync("held")
    assert raised.value.estimate == namespace.FINALIZER_ESTIMATE_SECONDS
    assert raised.value.seconds == 8  # half the estimate, plus a second
    assert str(raised.value) == ("some content remains in the namespace, estimate 15 seconds "
                                 "before it is removed")
    ns = await client.get(ns_path("held"))
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert conditions(ns) == {
        "NamespaceDeletionDiscoveryFailure": (
            "False", "ResourcesDiscovered", "All resources successfully discovered"),
        "NamespaceDeletionGroupVersionParsingFailure": (
            "False", "ParsedGroupVersions", "All legacy kube types successfully parsed"),
        "NamespaceDeletionContentFailure": (
            "False", "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization"),
        "NamespaceContentRemaining": (
            "True", "SomeResourcesRemain",
            "Some resources are remaining: configmaps. has 1 resource instances"),
        "NamespaceFinalizersRemaining": (
            "True", "SomeFinalizerRemain",
            "Some finalizers are remaining: example.com/hold in 1 resource instances"),
    }
    stuck = fakecluster.path("", "v1", "configmaps", namespace="held", name="stuck")
    live = await client.get(stuck)
    await client.update(stuck, {**live, "metadata": {**live["metadata"], "finalizers": []}})
    await controller(client, ns).sync("held")
    assert await fakecluster.get_or_none(client, ns_path("held")) is None


async def test_pods_in_their_grace_period_are_waited_for(client: rest.RESTClient) -> None:
    await make_namespace(client, "graceful")
    await client.create(fakecluster.path("", "v1", "serviceaccounts", namespace="graceful"), {
        "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}})
    await client.create(fakecluster.path("", "v1", "pods", namespace="graceful"), {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"nodeName": "n1", "terminationGracePeriodSeconds": 30,
                 "containers": [{"name": "c", "image": "nginx"}]}})
    terminating = await delete_namespace(client, "graceful")
    deleted_at = meta.parse_time(terminating["metadata"]["deletionTimestamp"])
    with pytest.raises(namespace.ResourcesRemainingError) as raised:
        await controller(client, terminating, now=deleted_at).sync("graceful")
    assert raised.value.estimate == 30
    pod = await client.get(fakecluster.path("", "v1", "pods", namespace="graceful", name="p"))
    assert meta.deletion_timestamp(pod)
    assert conditions(await client.get(ns_path("graceful")))["NamespaceContentRemaining"] == (
        "True", "SomeResourcesRemain",
        "Some resources are remaining: pods. has 1 resource instances")


async def test_handlers_queue_only_terminating_namespaces_after_the_grace() -> None:
    clock = FakeClock()
    ctl = namespace.NamespaceController(
        client=None, namespaces=fakecluster.seeded(), workers=1,  # type: ignore[arg-type]
        resync_period=300.0, clock=clock)
    active = {"metadata": {"name": "active"}, "status": {"phase": "Active"}}
    going = {"metadata": {"name": "going", "deletionTimestamp": "2025-01-01T00:00:00Z"}}
    ctl._enqueue(active)
    ctl._enqueue(going)
    assert len(ctl.queue) == 0
    clock.step(namespace.NAMESPACE_DELETION_GRACE_PERIOD)
    assert await ctl.queue.get() == "going"
    assert len(ctl.queue) == 0


def test_failing_conditions_replace_the_ok_ones_and_keep_their_times() -> None:
    status: dict = {}
    assert namespace.update_conditions(status, [])
    assert not namespace.update_conditions(status, [])  # nothing changed the second time
    failing = namespace.content_failed_condition(['configmaps is forbidden: no', "boom"])
    assert failing is not None
    assert namespace.update_conditions(status, [failing])
    found = {c["type"]: c for c in status["conditions"]}
    assert found["NamespaceDeletionContentFailure"]["message"] == (
        "Failed to delete all resource types, 2 remaining: boom, configmaps is forbidden: no")
    assert found["NamespaceDeletionContentFailure"]["status"] == "True"
    assert [c["type"] for c in status["conditions"]] == list(namespace.CONDITION_TYPES)


def test_discovery_failure_condition_counts_failing_groups() -> None:
    failure = discovery.GroupDiscoveryFailed({"metrics.k8s.io/v1beta1": OSError("down")}, [])
    made = namespace.discovery_failed_condition(failure)
    assert (made["type"], made["reason"], made["message"]) == (
        "NamespaceDeletionDiscoveryFailure", "DiscoveryFailed",
        "Discovery failed for some groups, 1 failing: unable to retrieve the complete list of "
        "server APIs: metrics.k8s.io/v1beta1: down")


def test_resources_remaining_is_a_requeue_not_a_failure() -> None:
    assert isinstance(namespace.ResourcesRemainingError(4), worker.RequeueAfter)
    assert namespace.ResourcesRemainingError(4).seconds == 3
