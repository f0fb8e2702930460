"""`kubectl scale` and the scale subresource against a real server, as a v1.33 cluster
answers: the merge patch of a plain scale, the GET + PUT (no Content-Type) of
`--current-replicas`, kubectl's own mismatch error, and `get --subresource=scale`."""

from __future__ import annotations

import json
import uuid

import pytest

pytestmark = pytest.mark.e2e


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def namespace(kubectl) -> str:
    name = unique("scale")
    kubectl("create", "namespace", name)
    return name


def test_scale_deployment_patches_the_scale(kubectl, namespace: str) -> None:
    kubectl("create", "deployment", "web", "--image=nginx", "--replicas=1", "-n", namespace)
    out = kubectl("scale", "deploy/web", "--replicas=3", "-n", namespace)
    assert out == "deployment.apps/web scaled\n"
    deployment = json.loads(kubectl("get", "deploy", "web", "-n", namespace, "-o", "json"))
    assert deployment["spec"]["replicas"] == 3
    assert deployment["metadata"]["generation"] == 2


def test_scale_with_current_replicas_puts_the_scale(kubectl, namespace: str) -> None:
    kubectl("create", "deployment", "web", "--image=nginx", "--replicas=2", "-n", namespace)
    out = kubectl("scale", "deploy/web", "--current-replicas=2", "--replicas=4",
                  "-n", namespace)
    assert out == "deployment.apps/web scaled\n"
    scale = json.loads(kubectl("get", "deploy", "web", "--subresource=scale", "-n", namespace,
                               "-o", "json"))
    assert scale["kind"] == "Scale"
    assert scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 4}
    assert scale["status"]["selector"] == "app=web"


def test_get_subresource_scale_prints_desired_and_available(kubectl, namespace: str) -> None:
    kubectl("create", "deployment", "web", "--image=nginx", "--replicas=2", "-n", namespace)
    out = kubectl("get", "deploy", "web", "--subresource=scale", "-n", namespace)
    header, row = out.splitlines()
    assert header.split() == ["NAME", "DESIRED", "AVAILABLE", "AGE"]
    assert row.split()[:3] == ["web", "2", "0"]


def test_scale_with_wrong_current_replicas_fails_as_upstream(kubectl, namespace: str) -> None:
    kubectl("create", "deployment", "web", "--image=nginx", "--replicas=2", "-n", namespace)
    result = kubectl.run("scale", "deploy/web", "--current-replicas=3", "--replicas=4",
                         "-n", namespace, check=False)
    assert result.returncode == 1
    assert result.stderr == "error: Expected replicas to be 3, was 2\n"


def test_scale_replicaset_statefulset_and_replicationcontroller(kubectl,
                                                               namespace: str) -> None:
    labels = {"app": "s"}
    template = {"metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    objects = [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs"},
         "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": template}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "sts"},
         "spec": {"replicas": 1, "serviceName": "sts", "selector": {"matchLabels": labels},
                  "template": template}},
        {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "rc"},
         "spec": {"replicas": 1, "selector": labels, "template": template}},
    ]
    kubectl("apply", "-n", namespace, "-f", "-",
            input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    out = kubectl("scale", "rs/rs", "sts/sts", "rc/rc", "--replicas=2", "-n", namespace)
    assert out == ("replicaset.apps/rs scaled\nstatefulset.apps/sts scaled\n"
                   "replicationcontroller/rc scaled\n")
    for resource in ("rs/rs", "sts/sts", "rc/rc"):
        replicas = kubectl("get", resource, "-n", namespace, "-o", "jsonpath={.spec.replicas}")
        assert replicas == "2"


def test_negative_replicas_through_the_scale_are_invalid(kubectl, namespace: str) -> None:
    kubectl("create", "deployment", "web", "--image=nginx", "-n", namespace)
    result = kubectl.run("patch", "deploy/web", "--subresource=scale", "--type=merge",
                         "-p", '{"spec":{"replicas":-1}}', "-n", namespace, check=False)
    assert result.returncode == 1
    assert result.stderr == (
        'The Scale "web" is invalid: spec.replicas: Invalid value: -1: must be greater than '
        "or equal to 0\n")
