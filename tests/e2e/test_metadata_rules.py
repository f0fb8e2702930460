"""Metadata rules and immutable fields, as kubectl shows them (issue 3, item 8)."""

from __future__ import annotations

import json
import uuid


def _namespace(kubectl) -> str:
    name = f"meta-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    return name


def test_bad_label_value_is_invalid(kubectl) -> None:
    namespace = _namespace(kubectl)
    kubectl("-n", namespace, "create", "configmap", "cfg")
    # kubectl's own `label` checks values client-side; a patch reaches the server
    result = kubectl.run("-n", namespace, "patch", "configmap", "cfg", "--type=merge", "-p",
                         '{"metadata":{"labels":{"tier":"-bad-"}}}', check=False)
    assert result.returncode == 1
    assert result.stderr.startswith(
        'The ConfigMap "cfg" is invalid: metadata.labels: Invalid value: "-bad-": a valid label '
        "must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
        "must start and end with an alphanumeric character")


def test_immutable_configmap_refuses_data_changes(kubectl) -> None:
    namespace = _namespace(kubectl)
    manifest = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "frozen"}, "immutable": True,
                           "data": {"a": "1"}})
    kubectl("-n", namespace, "create", "-f", "-", input=manifest)
    result = kubectl.run("-n", namespace, "patch", "configmap", "frozen", "--type=merge",
                         "-p", '{"data":{"a":"2"}}', check=False)
    assert result.returncode == 1
    assert result.stderr == (
        'The ConfigMap "frozen" is invalid: data: Forbidden: field is immutable when '
        "`immutable` is set\n")
    stored = json.loads(kubectl("-n", namespace, "get", "cm", "frozen", "-o", "json"))
    assert stored["data"] == {"a": "1"}


def test_service_cluster_ip_cannot_change(kubectl) -> None:
    namespace = _namespace(kubectl)
    kubectl("-n", namespace, "create", "service", "clusterip", "web", "--tcp=80:8080")
    ip = kubectl("-n", namespace, "get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")
    result = kubectl.run("-n", namespace, "patch", "service", "web", "--type=merge",
                         "-p", '{"spec":{"clusterIP":"10.96.200.200"}}', check=False)
    assert result.returncode == 1
    assert "spec.clusterIPs[0]: Invalid value:" in result.stderr
    assert "may not change once set" in result.stderr
    assert kubectl("-n", namespace, "get", "svc", "web", "-o",
                   "jsonpath={.spec.clusterIP}") == ip


def test_pod_container_name_cannot_change(kubectl) -> None:
    namespace = _namespace(kubectl)
    kubectl("-n", namespace, "run", "web", "--image=nginx:1.27")
    result = kubectl.run("-n", namespace, "patch", "pod", "web", "--type=json", "-p",
                         '[{"op":"replace","path":"/spec/containers/0/name","value":"other"}]',
                         check=False)
    assert result.returncode == 1
    assert result.stderr.startswith('The Pod "web" is invalid: spec: Forbidden: pod updates may '
                                    "not change fields other than")


def test_pod_image_may_change(kubectl) -> None:
    namespace = _namespace(kubectl)
    kubectl("-n", namespace, "run", "web", "--image=nginx:1.27")
    kubectl("-n", namespace, "set", "image", "pod/web", "web=nginx:1.28")
    assert kubectl("-n", namespace, "get", "pod", "web", "-o",
                   "jsonpath={.spec.containers[0].image}") == "nginx:1.28"
