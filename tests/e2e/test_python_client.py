"""The official Python client (`kubernetes`) against a kajitori server.

The client deserialises responses into typed models and raises `ApiException` from Status
bodies, so these tests catch wire-format slips that kubectl forgives: a missing field the model
requires, a watch event it cannot parse, a Status without `reason`.
"""

from __future__ import annotations

import json
import threading
import uuid

import pytest
from kubectlrunner import eventually
from kubernetes import client, config, watch

from kajitori.testing.harness import Cluster

pytestmark = pytest.mark.e2e

WATCH_TIMEOUT_SECONDS = 10
MODIFIED = ("the object has been modified; please apply your changes to the latest version and "
            "try again")


@pytest.fixture(scope="module")
def api(cluster: Cluster) -> client.ApiClient:
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(cluster.kubeconfig),
                            client_configuration=configuration)
    return client.ApiClient(configuration)


@pytest.fixture
def v1(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture
def ns(v1: client.CoreV1Api) -> str:
    name = f"py-{uuid.uuid4().hex[:8]}"
    v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    eventually(lambda: bool(v1.list_namespaced_service_account(name).items),
             what=f"namespace {name}'s default ServiceAccount")
    return name


UNSCHEDULED = "kajitori-test-nobody"
"""A schedulerName no scheduler serves: the pods stay as the test wrote them, so watches see
only the test's own changes."""


def new_pod(name: str, labels: dict[str, str] | None = None) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx")],
                              scheduler_name=UNSCHEDULED))


def test_create_get_and_list_pods(v1: client.CoreV1Api, ns: str) -> None:
    created = v1.create_namespaced_pod(ns, new_pod("web", {"app": "web"}))
    assert created.metadata.name == "web"
    assert created.metadata.namespace == ns
    assert created.metadata.uid
    assert created.metadata.resource_version
    assert created.metadata.creation_timestamp is not None
    assert created.spec.restart_policy == "Always"  # defaulted by the server
    assert created.status.phase == "Pending"

    got = v1.read_namespaced_pod("web", ns)
    assert got.metadata.uid == created.metadata.uid
    assert got.metadata.resource_version == created.metadata.resource_version

    listed = v1.list_namespaced_pod(ns)
    assert [p.metadata.name for p in listed.items] == ["web"]
    assert int(listed.metadata.resource_version) >= int(created.metadata.resource_version)


def test_list_with_label_selectors(v1: client.CoreV1Api, ns: str) -> None:
    for name, labels in [("a1", {"app": "a", "tier": "front"}), ("a2", {"app": "a"}),
                         ("b1", {"app": "b", "tier": "back"}), ("none", None)]:
        v1.create_namespaced_pod(ns, new_pod(name, labels))

    def names(selector: str) -> list[str]:
        return sorted(p.metadata.name
                      for p in v1.list_namespaced_pod(ns, label_selector=selector).items)

    assert names("app=a") == ["a1", "a2"]
    assert names("app!=a") == ["b1", "none"]
    assert names("app in (a,b),tier") == ["a1", "b1"]
    assert names("!tier") == ["a2", "none"]
    assert names("app notin (a)") == ["b1", "none"]
    assert names("tier=middle") == []


def test_watch_sees_added_and_deleted(v1: client.CoreV1Api, ns: str) -> None:
    existing = v1.create_namespaced_pod(ns, new_pod("before"))
    names = ["w0", "w1", "w2"]
    started = threading.Event()
    failures: list[BaseException] = []

    def churn() -> None:
        try:
            started.wait(WATCH_TIMEOUT_SECONDS)
            for name in names:
                v1.create_namespaced_pod(ns, new_pod(name))
            v1.delete_namespaced_pod("w0", ns)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            failures.append(exc)

    writer = threading.Thread(target=churn)
    writer.start()
    seen: list[tuple[str, str]] = []
    watcher = watch.Watch()
    try:
        for event in watcher.stream(v1.list_namespaced_pod, ns,
                                    timeout_seconds=WATCH_TIMEOUT_SECONDS):
            obj = event["object"]
            assert isinstance(obj, client.V1Pod)
            seen.append((event["type"], obj.metadata.name))
            if obj.metadata.name == "before":
                # The initial ADDED events of a watch without resourceVersion have arrived.
                assert obj.metadata.uid == existing.metadata.uid
                started.set()
            if (event["type"], obj.metadata.name) == ("DELETED", "w0"):
                break
    finally:
        watcher.stop()
        started.set()
        writer.join()
    assert not failures
    assert seen == [("ADDED", "before"), ("ADDED", "w0"), ("ADDED", "w1"), ("ADDED", "w2"),
                    ("DELETED", "w0")]


def test_watch_from_a_resource_version_gets_only_later_changes(v1: client.CoreV1Api,
                                                               ns: str) -> None:
    v1.create_namespaced_pod(ns, new_pod("old"))
    since = v1.list_namespaced_pod(ns).metadata.resource_version
    created = v1.create_namespaced_pod(ns, new_pod("new"))
    events = []
    watcher = watch.Watch()
    for event in watcher.stream(v1.list_namespaced_pod, ns, resource_version=since,
                                timeout_seconds=WATCH_TIMEOUT_SECONDS):
        events.append((event["type"], event["object"].metadata.name,
                       event["object"].metadata.resource_version))
        watcher.stop()
    assert events == [("ADDED", "new", created.metadata.resource_version)]


def test_patch_configmap(v1: client.CoreV1Api, ns: str) -> None:
    v1.create_namespaced_config_map(ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="cfg"), data={"a": "1", "b": "2"}))
    # A dict body is sent as a strategic merge patch; None deletes the key.
    merged = v1.patch_namespaced_config_map("cfg", ns, {"data": {"b": None, "c": "3"}})
    assert merged.data == {"a": "1", "c": "3"}
    # A list body is sent as a JSON patch.
    patched = v1.patch_namespaced_config_map(
        "cfg", ns, [{"op": "replace", "path": "/data/a", "value": "9"},
                    {"op": "add", "path": "/metadata/labels", "value": {"x": "y"}}])
    assert patched.data == {"a": "9", "c": "3"}
    assert patched.metadata.labels == {"x": "y"}
    assert int(patched.metadata.resource_version) > int(merged.metadata.resource_version)
    assert v1.read_namespaced_config_map("cfg", ns).data == {"a": "9", "c": "3"}


def test_secret_string_data_is_stored_as_data(v1: client.CoreV1Api, ns: str) -> None:
    # stringData is write-only: the server merges it into data (base64) and never returns it.
    created = v1.create_namespaced_secret(ns, client.V1Secret(
        metadata=client.V1ObjectMeta(name="s"), string_data={"password": "hunter2"}))
    for secret in (created, v1.read_namespaced_secret("s", ns)):
        assert secret.data == {"password": "aHVudGVyMg=="}
        assert secret.string_data is None
        assert secret.type == "Opaque"


def status_of(error: client.ApiException) -> dict[str, object]:
    body: dict[str, object] = json.loads(error.body)
    return body


def test_missing_object_is_api_exception_404(v1: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(client.ApiException) as caught:
        v1.read_namespaced_pod("nosuch", ns)
    assert caught.value.status == 404
    assert caught.value.reason == "Not Found"
    assert status_of(caught.value) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'pods "nosuch" not found', "reason": "NotFound",
        "details": {"name": "nosuch", "kind": "pods"}, "code": 404}


def test_creating_twice_is_api_exception_409_already_exists(v1: client.CoreV1Api,
                                                            ns: str) -> None:
    v1.create_namespaced_pod(ns, new_pod("dup"))
    with pytest.raises(client.ApiException) as caught:
        v1.create_namespaced_pod(ns, new_pod("dup"))
    assert caught.value.status == 409
    assert caught.value.reason == "Conflict"
    status = status_of(caught.value)
    assert status["reason"] == "AlreadyExists"
    assert status["message"] == 'pods "dup" already exists'
    assert status["details"] == {"name": "dup", "kind": "pods"}


def test_stale_replace_is_api_exception_409_conflict(v1: client.CoreV1Api, ns: str) -> None:
    first = v1.create_namespaced_config_map(ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="cfg"), data={"a": "1"}))
    v1.patch_namespaced_config_map("cfg", ns, {"data": {"a": "2"}})
    first.data = {"a": "3"}
    with pytest.raises(client.ApiException) as caught:
        v1.replace_namespaced_config_map("cfg", ns, first)
    assert caught.value.status == 409
    status = status_of(caught.value)
    assert status["reason"] == "Conflict"
    assert status["message"] == f'Operation cannot be fulfilled on configmaps "cfg": {MODIFIED}'
    assert v1.read_namespaced_config_map("cfg", ns).data == {"a": "2"}


def test_delete_returns_the_pod_and_then_it_is_gone(v1: client.CoreV1Api, ns: str) -> None:
    v1.create_namespaced_pod(ns, new_pod("gone"))
    v1.delete_namespaced_pod("gone", ns, grace_period_seconds=0)
    with pytest.raises(client.ApiException) as caught:
        v1.read_namespaced_pod("gone", ns)
    assert caught.value.status == 404
