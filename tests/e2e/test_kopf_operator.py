"""Operators and clients written for real clusters, against a kajitori server: a kopf
operator (run as a subprocess, standalone, namespace-scoped) reconciling a custom resource,
and the official client's DynamicClient creating, listing and patching it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, dynamic

from kajitori.testing.harness import Cluster

pytestmark = pytest.mark.e2e

OPERATOR = Path(__file__).parent / "crontab_operator.py"
WAIT_SECONDS = 30


def crd(group: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"crontabs.{group}"},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab"},
                 "versions": [{
                     "name": "v1", "served": True, "storage": True,
                     "subresources": {"status": {}},
                     "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                         "spec": {"type": "object", "properties": {
                             "cronSpec": {"type": "string"}, "image": {"type": "string"}}},
                         "status": {"type": "object",
                                    "x-kubernetes-preserve-unknown-fields": True}}}}}]}}


@pytest.fixture(scope="module")
def api(cluster: Cluster) -> client.ApiClient:
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(cluster.kubeconfig),
                            client_configuration=configuration)
    return client.ApiClient(configuration)


@pytest.fixture(scope="module")
def group(api: client.ApiClient) -> str:
    name = f"k{uuid.uuid4().hex[:6]}.example.com"
    extensions = client.ApiextensionsV1Api(api)
    extensions.create_custom_resource_definition(crd(name))
    for event in _watch(extensions.list_custom_resource_definition,
                        field_selector=f"metadata.name=crontabs.{name}"):
        conditions = (event["object"].get("status") or {}).get("conditions") or []
        if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
            return name
    raise AssertionError("the CRD was never established")


def _watch(list_call: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    from kubernetes import watch

    stream = watch.Watch().stream(list_call, timeout_seconds=WAIT_SECONDS,
                                  _preload_content=False, **kwargs)
    for event in stream:
        yield {"type": event["type"], "object": event["raw_object"]}


@pytest.fixture(scope="module")
def namespace(api: client.ApiClient) -> str:
    name = f"kopf-{uuid.uuid4().hex[:6]}"
    client.CoreV1Api(api).create_namespace(client.V1Namespace(
        metadata=client.V1ObjectMeta(name=name)))
    return name


@pytest.fixture(scope="module")
def crontabs(api: client.ApiClient, group: str) -> Any:
    return dynamic.DynamicClient(api).resources.get(api_version=f"{group}/v1", kind="CronTab")


@pytest.fixture(scope="module")
def operator(cluster: Cluster, group: str, namespace: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[subprocess.Popen[bytes]]:
    log = tmp_path_factory.mktemp("kopf") / "operator.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "kopf", "run", "--standalone", f"--namespace={namespace}",
             "--verbose", str(OPERATOR)],
            stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "CRONTAB_GROUP": group})
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    if process.returncode not in (0, -15):
        print(log.read_text())


def wait_for(crontabs: Any, namespace: str, name: str, check: Any) -> list[dict[str, Any]]:
    """The CronTab's watch events up to the first whose object satisfies `check`."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + WAIT_SECONDS
    for event in crontabs.watch(namespace=namespace, name=name, timeout=WAIT_SECONDS):
        seen.append({"type": event["type"], "object": event["raw_object"]})
        if check(seen[-1]):
            return seen
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"no event of {name} matched: {seen}")


def phase(event: dict[str, Any]) -> str | None:
    return ((event["object"].get("status") or {}).get("phase"))


def test_dynamic_client_creates_lists_and_patches(crontabs: Any, namespace: str) -> None:
    body = {"apiVersion": crontabs.group_version, "kind": "CronTab",
            "metadata": {"name": "plain", "labels": {"app": "dyn"}},
            "spec": {"cronSpec": "* * * * *", "image": "busybox"}}
    created = crontabs.create(body=body, namespace=namespace)
    assert created.metadata.name == "plain"
    assert created.spec.image == "busybox"
    listed = crontabs.get(namespace=namespace, label_selector="app=dyn")
    assert [item.metadata.name for item in listed.items] == ["plain"]
    patched = crontabs.patch(name="plain", namespace=namespace,
                             body={"spec": {"image": "alpine"}},
                             content_type="application/merge-patch+json")
    assert patched.spec.image == "alpine"
    assert patched.metadata.generation == 2
    status = crontabs.subresources["status"].patch(
        name="plain", namespace=namespace, body={"status": {"note": "by hand"}},
        content_type="application/merge-patch+json")
    assert status.status.note == "by hand"
    crontabs.delete(name="plain", namespace=namespace)


def test_kopf_operator_patches_status_on_create_update_and_delete(
        operator: subprocess.Popen[bytes], crontabs: Any, namespace: str) -> None:
    body = {"apiVersion": crontabs.group_version, "kind": "CronTab",
            "metadata": {"name": "nightly"},
            "spec": {"cronSpec": "0 3 * * *", "image": "busybox"}}
    crontabs.create(body=body, namespace=namespace)
    wait_for(crontabs, namespace, "nightly", lambda e: phase(e) == "Created")

    crontabs.patch(name="nightly", namespace=namespace, body={"spec": {"image": "alpine"}},
                   content_type="application/merge-patch+json")
    events = wait_for(crontabs, namespace, "nightly", lambda e: phase(e) == "Updated")
    assert events[-1]["object"]["status"]["image"] == "alpine"

    crontabs.delete(name="nightly", namespace=namespace)
    events = wait_for(crontabs, namespace, "nightly", lambda e: e["type"] == "DELETED")
    assert "Deleting" in [phase(e) for e in events]
    assert operator.poll() is None, "the operator exited"
