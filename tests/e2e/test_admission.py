"""Admission, seen through kubectl: what the default chain adds to a new pod."""

from __future__ import annotations

import json
import uuid


def test_pod_gets_priority_and_default_tolerations(kubectl) -> None:
    namespace = f"adm-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", namespace)
    kubectl("-n", namespace, "run", "web", "--image=nginx:1.25")
    pod = json.loads(kubectl("-n", namespace, "get", "pod", "web", "-o", "json"))
    assert pod["spec"]["priority"] == 0
    assert pod["spec"]["preemptionPolicy"] == "PreemptLowerPriority"
    assert pod["spec"]["tolerations"] == [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300},
    ]
    words = [line.split() for line in kubectl("-n", namespace, "describe", "pod",
                                              "web").splitlines()]
    assert ["Priority:", "0"] in words
    assert ["Tolerations:", "node.kubernetes.io/not-ready:NoExecute", "op=Exists", "for",
            "300s"] in words
    assert ["node.kubernetes.io/unreachable:NoExecute", "op=Exists", "for", "300s"] in words


def test_pod_with_a_system_priority_class(kubectl) -> None:
    namespace = f"adm-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", namespace)
    manifest = json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "crit"},
        "spec": {"priorityClassName": "system-cluster-critical",
                 "containers": [{"name": "c", "image": "busybox"}]}})
    kubectl("-n", namespace, "create", "-f", "-", input=manifest)
    pod = json.loads(kubectl("-n", namespace, "get", "pod", "crit", "-o", "json"))
    assert pod["spec"]["priority"] == 2000000000


def test_pod_naming_a_missing_priority_class_is_forbidden(kubectl) -> None:
    namespace = f"adm-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", namespace)
    manifest = json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"priorityClassName": "nope", "containers": [{"name": "c", "image": "busybox"}]}})
    result = kubectl.run("-n", namespace, "create", "-f", "-", input=manifest, check=False)
    assert result.returncode == 1
    assert result.stderr == ('Error from server (Forbidden): error when creating "STDIN": pods '
                             '"p" is forbidden: no PriorityClass with name nope was found\n')
