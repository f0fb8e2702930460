"""The status manager against a real in-process API server: statuses written once per change
with their transition times kept, never onto a re-created pod, and pods whose deletion was
requested deleted once terminated."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import inprocessserver
import pytest
from background import running

from kajitori.api import errors
from kajitori.client import clock as clock_
from kajitori.client import rest
from kajitori.kubelet import statusmanager

Obj = dict[str, Any]
PATH = "/api/v1/namespaces/default/pods/p"


@pytest.fixture
def client(tmp_path: Path) -> contextlib.AbstractAsyncContextManager[rest.RESTClient]:
    return inprocessserver.open_client(tmp_path)


class Patched:
    """The client, telling when a patch went through."""

    def __init__(self, client: rest.RESTClient) -> None:
        self._client = client
        self.patched = asyncio.Event()

    async def get(self, path: str) -> Obj:
        return await self._client.get(path)

    async def patch(self, path: str, patch: Any, **kwargs: Any) -> Obj:
        result = await self._client.patch(path, patch, **kwargs)
        self.patched.set()
        return result


async def create_pod(client: rest.RESTClient) -> Obj:
    return await client.create("/api/v1/namespaces/default/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx"}]}})


def status(phase: str, ready: str, *, at: str) -> Obj:
    return {"phase": phase, "podIP": "10.42.0.2", "conditions": [
        {"type": "Ready", "status": ready, "lastProbeTime": None, "lastTransitionTime": at}]}


async def test_status_is_written_once_per_change(client: rest.RESTClient) -> None:
    pod = await create_pod(client)
    manager = statusmanager.StatusManager(client, clock=clock_.FakeClock())
    manager.set_pod_status(pod, status("Running", "False", at="2025-01-01T00:00:00Z"))
    await manager.sync_pod(pod["metadata"]["uid"])
    written = await client.get(PATH)
    assert written["status"]["phase"] == "Running"
    assert written["status"]["podIP"] == "10.42.0.2"
    manager.set_pod_status(pod, status("Running", "False", at="2025-01-01T00:00:09Z"))
    await manager.sync_pod(pod["metadata"]["uid"])
    again = await client.get(PATH)
    assert again["metadata"]["resourceVersion"] == written["metadata"]["resourceVersion"]
    manager.set_pod_status(pod, status("Running", "True", at="2025-01-01T00:00:10Z"))
    await manager.sync_pod(pod["metadata"]["uid"])
    ready = (await client.get(PATH))["status"]["conditions"]
    assert [(c["status"], c["lastTransitionTime"]) for c in ready] == [
        ("True", "2025-01-01T00:00:10Z")]


async def test_unchanged_condition_keeps_the_transition_time_last_written(
        client: rest.RESTClient) -> None:
    pod = await create_pod(client)
    manager = statusmanager.StatusManager(client, clock=clock_.FakeClock())
    manager.set_pod_status(pod, status("Running", "True", at="2025-01-01T00:00:00Z"))
    manager.set_pod_status(pod, {**status("Running", "True", at="2025-01-01T00:05:00Z"),
                                 "podIP": "10.42.0.3"})
    await manager.sync_pod(pod["metadata"]["uid"])
    written = (await client.get(PATH))["status"]
    assert written["conditions"][0]["lastTransitionTime"] == "2025-01-01T00:00:00Z"
    assert manager.pod_status(pod["metadata"]["uid"])["podIP"] == "10.42.0.3"


async def test_fields_the_new_status_drops_are_removed(client: rest.RESTClient) -> None:
    pod = await create_pod(client)
    manager = statusmanager.StatusManager(client, clock=clock_.FakeClock())
    manager.set_pod_status(pod, status("Running", "True", at="2025-01-01T00:00:00Z"))
    await manager.sync_pod(pod["metadata"]["uid"])
    manager.set_pod_status(pod, {"phase": "Pending"})
    await manager.sync_pod(pod["metadata"]["uid"])
    written = (await client.get(PATH))["status"]
    assert "podIP" not in written
    assert written["phase"] == "Pending"


async def test_a_recreated_pod_is_not_written(client: rest.RESTClient) -> None:
    old = await create_pod(client)
    await client.delete(PATH, options={"gracePeriodSeconds": 0})
    await create_pod(client)
    manager = statusmanager.StatusManager(client, clock=clock_.FakeClock())
    manager.set_pod_status(old, status("Running", "True", at="2025-01-01T00:00:00Z"))
    await manager.sync_pod(old["metadata"]["uid"])
    assert (await client.get(PATH))["status"].get("phase") != "Running"
    assert manager.pod_status(old["metadata"]["uid"]) is None


async def test_terminated_pod_being_deleted_is_deleted(client: rest.RESTClient) -> None:
    pod = await create_pod(client)
    await client.delete(PATH)
    deleting = await client.get(PATH)
    assert deleting["metadata"]["deletionTimestamp"]
    manager = statusmanager.StatusManager(client, clock=clock_.FakeClock())
    manager.set_pod_status(deleting, status("Running", "False", at="2025-01-01T00:00:00Z"))
    await manager.sync_pod(pod["metadata"]["uid"])
    assert (await client.get(PATH))["status"]["phase"] == "Running"  # still stopping
    manager.set_pod_status(deleting, status("Failed", "False", at="2025-01-01T00:00:01Z"),
                           terminated=True)
    await manager.sync_pod(pod["metadata"]["uid"])
    with pytest.raises(errors.StatusError) as gone:
        await client.get(PATH)
    assert gone.value.code == 404


async def test_run_writes_what_is_set(client: rest.RESTClient) -> None:
    pod = await create_pod(client)
    patched = Patched(client)
    manager = statusmanager.StatusManager(patched, clock=clock_.FakeClock())  # type: ignore[arg-type]
    async with running(manager):
        manager.set_pod_status(pod, status("Running", "True", at="2025-01-01T00:00:00Z"))
        await patched.patched.wait()
    assert (await client.get(PATH))["status"]["phase"] == "Running"


class APICopies:
    """The kubelet's informer as the status manager asks it: the API's pods, refreshed by the
    test with `refresh`."""

    def __init__(self, client: rest.RESTClient) -> None:
        self._client = client
        self.pods: dict[str, Obj] = {}

    async def refresh(self, path: str = PATH) -> None:
        pod = await self._client.get(path)
        self.pods[pod["metadata"]["name"]] = pod

    def api_pod(self, pod: Obj) -> Obj | None:
        return self.pods.get(pod["metadata"]["name"])


def test_status_equality_ignores_only_conditions_others_own() -> None:
    mine = status("Running", "True", at="2025-01-01T00:00:00Z")
    target = {"type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
              "lastTransitionTime": "2025-01-01T00:00:05Z"}
    with_target = {**mine, "conditions": [target, *mine["conditions"]]}
    assert statusmanager.is_pod_status_by_kubelet_equal(with_target, mine)
    assert not statusmanager.is_pod_status_by_kubelet_equal(
        status("Running", "False", at="2025-01-01T00:00:00Z"), mine)
    assert not statusmanager.is_pod_status_by_kubelet_equal({**mine, "podIP": "10.42.0.9"},
                                                             mine)
    assert not statusmanager.is_pod_status_by_kubelet_equal({}, mine)


async def test_a_status_someone_overwrote_is_written_again_at_the_periodic_sync(
        client: rest.RESTClient) -> None:
    pod = await create_pod(client)
    copies = APICopies(client)
    clock = clock_.FakeClock()
    manager = statusmanager.StatusManager(client, clock=clock, api_pod=copies.api_pod)
    manager.set_pod_status(pod, status("Running", "True", at="2025-01-01T00:00:00Z"))
    await manager.sync_pod(pod["metadata"]["uid"])
    await client.patch(PATH + "/status", {"status": {"phase": "Pending", "podIP": None}})
    await copies.refresh()
    manager.reconcile()
    await manager.sync_pod(pod["metadata"]["uid"])
    written = (await client.get(PATH))["status"]
    assert (written["phase"], written["podIP"]) == ("Running", "10.42.0.2")


async def test_run_compares_with_the_api_every_sync_period(client: rest.RESTClient) -> None:
    pod = await create_pod(client)
    copies = APICopies(client)
    clock = clock_.FakeClock()
    patched = Patched(client)
    manager = statusmanager.StatusManager(patched, clock=clock,  # type: ignore[arg-type]
                                          api_pod=copies.api_pod)
    async with running(manager):
        manager.set_pod_status(pod, status("Running", "True", at="2025-01-01T00:00:00Z"))
        await patched.patched.wait()
        await client.patch(PATH + "/status", {"status": {"phase": "Pending"}})
        await copies.refresh()
        patched.patched.clear()
        await clock.wait_for_waiters()
        clock.step(statusmanager.SYNC_PERIOD_SECONDS)
        await patched.patched.wait()
    assert (await client.get(PATH))["status"]["phase"] == "Running"


async def test_an_unchanged_pod_is_not_written_at_the_periodic_sync(
        client: rest.RESTClient) -> None:
    pod = await create_pod(client)
    copies = APICopies(client)
    manager = statusmanager.StatusManager(client, clock=clock_.FakeClock(),
                                          api_pod=copies.api_pod)
    manager.set_pod_status(pod, status("Running", "True", at="2025-01-01T00:00:00Z"))
    await manager.sync_pod(pod["metadata"]["uid"])
    await copies.refresh()
    before = copies.pods["p"]["metadata"]["resourceVersion"]
    manager.reconcile()
    await manager.sync_pod(pod["metadata"]["uid"])
    assert (await client.get(PATH))["metadata"]["resourceVersion"] == before


async def test_a_recreated_mirror_pod_gets_its_static_pods_status(
        client: rest.RESTClient) -> None:
    static = {"metadata": {"name": "p", "namespace": "default", "uid": "static-hash",
                           "annotations": {"kubernetes.io/config.source": "file"}},
              "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx"}]}}
    copies = APICopies(client)
    manager = statusmanager.StatusManager(client, clock=clock_.FakeClock(),
                                          api_pod=copies.api_pod)
    await create_pod(client)
    manager.set_pod_status(static, status("Running", "True", at="2025-01-01T00:00:00Z"))
    await manager.sync_pod("static-hash")
    await client.delete(PATH, options={"gracePeriodSeconds": 0})
    await create_pod(client)  # the new mirror, with no status
    await copies.refresh()
    manager.reconcile()
    await manager.sync_pod("static-hash")
    assert (await client.get(PATH))["status"]["phase"] == "Running"
