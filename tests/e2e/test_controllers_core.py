"""The core controllers against a real server, driven by the real kubectl: namespace deletion,
the default ServiceAccount and root CA in new namespaces, the garbage collector's three
propagation policies, owners deleted while no controller ran, and TTL after finished.

The module's server runs the controller manager in a second process
(`kajitori.testing.running(..., controllers=True)`). Owners are Deployments and the dependents
under test ConfigMaps carrying ownerReferences to them, as upstream's garbage collector tests
use any kinds (whatever else the Deployment controller makes follows the same rules).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kajitori.testing import harness

pytestmark = pytest.mark.e2e

Kubectl = Any  # tests/e2e/conftest.py's Kubectl: run(*args) and __call__(*args) -> stdout

WAIT = "--timeout=60s"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Cluster]:
    with harness.running(tmp_path_factory.mktemp("cluster"), controllers=True) as started:
        yield started


@pytest.fixture
def namespace(kubectl: Kubectl) -> str:
    name = unique("cc")
    kubectl("create", "namespace", name)
    return name


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def owned_configmap(name: str, owner: dict[str, str], *, block: bool = True) -> str:
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"owner": owner["name"]},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                          "name": owner["name"], "uid": owner["uid"],
                                          "blockOwnerDeletion": block}]},
        "data": {"k": "v"}})


def make_owner(kubectl: Kubectl, namespace: str, name: str, *, dependents: int = 2,
               block: bool = True) -> dict[str, str]:
    kubectl("-n", namespace, "create", "deployment", name, "--image=nginx")
    uid = kubectl("-n", namespace, "get", "deployment", name, "-o", "jsonpath={.metadata.uid}")
    owner = {"name": name, "uid": uid}
    for i in range(dependents):
        kubectl("-n", namespace, "apply", "-f", "-",
                input=owned_configmap(f"{name}-dep-{i}", owner, block=block))
    return owner


def dependents_of(kubectl: Kubectl, namespace: str, owner: str) -> list[str]:
    return kubectl("-n", namespace, "get", "configmaps", "-l", f"owner={owner}",
                   "-o", "name").split()


def test_delete_namespace_removes_it_and_its_content(kubectl: Kubectl) -> None:
    name = unique("cc-del")
    kubectl("create", "namespace", name)
    kubectl("-n", name, "create", "configmap", "left", "--from-literal=a=b")
    kubectl("-n", name, "create", "secret", "generic", "hidden", "--from-literal=a=b")
    kubectl("-n", name, "create", "deployment", "web", "--image=nginx")
    result = kubectl.run("delete", "namespace", name, WAIT, check=False)
    assert result.returncode == 0, result.stderr
    gone = kubectl.run("get", "namespace", name, check=False)
    assert gone.stderr == f'Error from server (NotFound): namespaces "{name}" not found\n'
    for resource in ("configmaps", "secrets", "deployments"):
        listed = json.loads(kubectl("get", resource, "-A", "-o", "json"))
        assert [i for i in listed["items"] if i["metadata"]["namespace"] == name] == []


def test_new_namespace_has_default_serviceaccount_and_root_ca(kubectl: Kubectl,
                                                              namespace: str) -> None:
    for made in ("serviceaccount/default", "configmap/kube-root-ca.crt"):
        kubectl("-n", namespace, "wait", "--for=create", made, WAIT)
    config_map = json.loads(kubectl("-n", namespace, "get", "configmap", "kube-root-ca.crt",
                                    "-o", "json"))
    kubeconfig = yaml.safe_load(kubectl.kubeconfig.read_text())
    ca = base64.b64decode(kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"])
    assert config_map["data"] == {"ca.crt": ca.decode()}
    assert config_map["metadata"]["annotations"] == {"kubernetes.io/description": (
        "Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
        "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
        "guaranteed across distributions of Kubernetes clusters.")}


def test_deleted_root_ca_configmap_comes_back(kubectl: Kubectl, namespace: str) -> None:
    kubectl("-n", namespace, "wait", "--for=create", "configmap/kube-root-ca.crt", WAIT)
    kubectl("-n", namespace, "delete", "configmap", "kube-root-ca.crt")
    kubectl("-n", namespace, "wait", "--for=create", "configmap/kube-root-ca.crt", WAIT)


def test_cascade_background_deletes_dependents_after_the_owner(kubectl: Kubectl,
                                                                namespace: str) -> None:
    make_owner(kubectl, namespace, "bg")
    kubectl("-n", namespace, "delete", "deployment", "bg", "--cascade=background")
    kubectl("-n", namespace, "wait", "--for=delete", "configmap/bg-dep-0", "configmap/bg-dep-1",
            WAIT)
    assert dependents_of(kubectl, namespace, "bg") == []


def test_cascade_foreground_deletes_dependents_before_the_owner(kubectl: Kubectl,
                                                                 namespace: str) -> None:
    """kubectl waits for the owner to go, which the garbage collector allows only once the
    dependents that block it are gone: when delete returns, they are."""
    make_owner(kubectl, namespace, "fg")
    kubectl("-n", namespace, "delete", "deployment", "fg", "--cascade=foreground", WAIT)
    assert dependents_of(kubectl, namespace, "fg") == []


def test_foreground_owner_waits_while_a_dependent_is_held(kubectl: Kubectl,
                                                          namespace: str) -> None:
    owner = make_owner(kubectl, namespace, "held", dependents=1)
    kubectl("-n", namespace, "patch", "configmap", "held-dep-0", "--type=merge",
            "-p", '{"metadata":{"finalizers":["example.com/hold"]}}')
    kubectl("-n", namespace, "delete", "deployment", "held", "--cascade=foreground",
            "--wait=false")
    kubectl("-n", namespace, "wait", "--for=jsonpath={.metadata.deletionTimestamp}",
            "configmap/held-dep-0", WAIT)
    live = json.loads(kubectl("-n", namespace, "get", "deployment", "held", "-o", "json"))
    assert live["metadata"]["uid"] == owner["uid"]
    assert live["metadata"]["finalizers"] == ["foregroundDeletion"]
    kubectl("-n", namespace, "patch", "configmap", "held-dep-0", "--type=merge",
            "-p", '{"metadata":{"finalizers":null}}')
    kubectl("-n", namespace, "wait", "--for=delete", "deployment/held", WAIT)


def test_cascade_orphan_keeps_dependents_without_the_reference(kubectl: Kubectl,
                                                               namespace: str) -> None:
    make_owner(kubectl, namespace, "or")
    kubectl("-n", namespace, "delete", "deployment", "or", "--cascade=orphan", WAIT)
    assert dependents_of(kubectl, namespace, "or") == \
        ["configmap/or-dep-0", "configmap/or-dep-1"]
    for name in ("or-dep-0", "or-dep-1"):
        live = json.loads(kubectl("-n", namespace, "get", "configmap", name, "-o", "json"))
        assert "ownerReferences" not in live["metadata"]


def test_dependent_with_a_live_owner_left_keeps_living(kubectl: Kubectl,
                                                       namespace: str) -> None:
    first = make_owner(kubectl, namespace, "first", dependents=0)
    second = make_owner(kubectl, namespace, "second", dependents=0)
    doc = yaml.safe_load(owned_configmap("shared", first))
    doc["metadata"]["ownerReferences"].append(
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "second",
         "uid": second["uid"]})
    kubectl("-n", namespace, "apply", "-f", "-", input=yaml.safe_dump(doc))
    kubectl("-n", namespace, "delete", "deployment", "first")
    kubectl("-n", namespace, "wait", "--for=jsonpath={.metadata.ownerReferences[0].name}=second",
            "configmap/shared", WAIT)
    live = json.loads(kubectl("-n", namespace, "get", "configmap", "shared", "-o", "json"))
    assert [r["name"] for r in live["metadata"]["ownerReferences"]] == ["second"]


def test_job_with_ttl_is_deleted_after_it_finishes(kubectl: Kubectl, namespace: str) -> None:
    kubectl("-n", namespace, "apply", "-f", "-", input=yaml.safe_dump({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
        "spec": {"ttlSecondsAfterFinished": 0, "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}}}}))
    kubectl("-n", namespace, "wait", "--for=create", "job/once", WAIT)
    assert kubectl("-n", namespace, "get", "job", "once", "-o", "name") == "job.batch/once\n"
    now = json.loads(kubectl("-n", namespace, "get", "job", "once", "-o", "json"))[
        "metadata"]["creationTimestamp"]
    status = {"status": {
        "startTime": now, "completionTime": now, "succeeded": 1,
        "conditions": [
            {"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": now},
            {"type": "Complete", "status": "True", "lastTransitionTime": now}]}}
    kubectl("-n", namespace, "patch", "job", "once", "--subresource=status", "--type=merge",
            "-p", json.dumps(status))
    kubectl("-n", namespace, "wait", "--for=delete", "job/once", WAIT)


def test_dependents_of_an_owner_deleted_while_controllers_were_down(
        tmp_path: Path, kubectl: Kubectl) -> None:
    """A fresh cluster without controllers: the owner goes, its dependents stay; once the
    controller manager starts, the garbage collector finds and deletes them."""
    with harness.running(tmp_path, controllers=()) as started:
        offline = dataclasses.replace(kubectl, kubeconfig=started.kubeconfig)
        make_owner(offline, "default", "gone")
        offline("delete", "deployment", "gone")
        assert dependents_of(offline, "default", "gone") == \
            ["configmap/gone-dep-0", "configmap/gone-dep-1"]
        log = (tmp_path / "controllers.log").open("ab")
        manager = subprocess.Popen([sys.executable, "-m", "kajitori.cli.main",
                                    "controller-manager", "--kubeconfig",
                                    str(started.kubeconfig)], stdout=log,
                                   stderr=subprocess.STDOUT)
        try:
            offline("wait", "--for=delete", "configmap/gone-dep-0", "configmap/gone-dep-1",
                    WAIT)
        finally:
            manager.terminate()
            manager.wait()
            log.close()
