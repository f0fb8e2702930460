"""kubectl's cluster-facing helpers against a real server: `version`, `api-resources`,
`explain`, `get --raw` and `proxy`, as they answer for a v1.33 cluster.

`version` and `api-resources` read /version and discovery (src/kajitori/apiserver/version.py,
discovery.py); `explain` reads /openapi/v3 (src/kajitori/api/openapi.py); `proxy` is kubectl's own
HTTP server forwarding to ours.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.request
import uuid

import pytest

pytestmark = pytest.mark.e2e

SYSTEM_NAMESPACES = ["default", "kube-node-lease", "kube-public", "kube-system"]
PROXY_START_TIMEOUT = 20.0

# name, short names, apiVersion, namespaced, kind: `kubectl api-resources` of a v1.33 cluster.
STANDARD_RESOURCES = [
    ("pods", "po", "v1", "true", "Pod"),
    ("services", "svc", "v1", "true", "Service"),
    ("configmaps", "cm", "v1", "true", "ConfigMap"),
    ("namespaces", "ns", "v1", "false", "Namespace"),
    ("nodes", "no", "v1", "false", "Node"),
    ("serviceaccounts", "sa", "v1", "true", "ServiceAccount"),
    ("persistentvolumes", "pv", "v1", "false", "PersistentVolume"),
    ("persistentvolumeclaims", "pvc", "v1", "true", "PersistentVolumeClaim"),
    ("secrets", "", "v1", "true", "Secret"),
    ("events", "ev", "v1", "true", "Event"),
    ("deployments", "deploy", "apps/v1", "true", "Deployment"),
    ("replicasets", "rs", "apps/v1", "true", "ReplicaSet"),
    ("daemonsets", "ds", "apps/v1", "true", "DaemonSet"),
    ("statefulsets", "sts", "apps/v1", "true", "StatefulSet"),
    ("cronjobs", "cj", "batch/v1", "true", "CronJob"),
    ("jobs", "", "batch/v1", "true", "Job"),
    ("networkpolicies", "netpol", "networking.k8s.io/v1", "true", "NetworkPolicy"),
    ("ingresses", "ing", "networking.k8s.io/v1", "true", "Ingress"),
    ("horizontalpodautoscalers", "hpa", "autoscaling/v2", "true", "HorizontalPodAutoscaler"),
    ("poddisruptionbudgets", "pdb", "policy/v1", "true", "PodDisruptionBudget"),
    ("customresourcedefinitions", "crd,crds", "apiextensions.k8s.io/v1", "false",
     "CustomResourceDefinition"),
    ("priorityclasses", "pc", "scheduling.k8s.io/v1", "false", "PriorityClass"),
    ("storageclasses", "sc", "storage.k8s.io/v1", "false", "StorageClass"),
]


def test_version_reports_v1_33_server(kubectl) -> None:
    out = kubectl("version")
    lines = out.splitlines()
    assert lines[0].startswith("Client Version: v1.")
    assert re.fullmatch(r"Server Version: v1\.33\.\d+(\+\S+)?", lines[-1]), out
    doc = json.loads(kubectl("version", "-o", "json"))
    server = doc["serverVersion"]
    assert (server["major"], server["minor"]) == ("1", "33")
    assert server["gitVersion"].startswith("v1.33.")
    assert server["platform"] == "linux/amd64" or server["platform"].startswith("linux/")


def _api_resources(output: str) -> tuple[str, dict[tuple[str, str], tuple[str, ...]]]:
    lines = output.rstrip("\n").split("\n")
    starts = [m.start() for m in re.finditer(r"\S+", lines[0])]
    bounds = list(zip(starts, [*starts[1:], None], strict=True))
    rows = {}
    for line in lines[1:]:
        cells = tuple(line[a:b].strip() for a, b in bounds)
        rows[(cells[0], cells[2])] = cells
    return lines[0], rows


def test_api_resources_lists_standard_resources_with_short_names(kubectl) -> None:
    header, rows = _api_resources(kubectl("api-resources"))
    assert header.split() == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    missing = [r for r in STANDARD_RESOURCES if rows.get((r[0], r[2])) != r]
    assert not missing, f"absent or different: {missing}"


def test_api_resources_short_names_resolve(kubectl) -> None:
    """Each short name is usable on the command line: kubectl resolves it from discovery."""
    for short in ("po", "svc", "deploy", "rs", "ds", "sts", "cj", "cm", "sa", "pvc", "netpol",
                  "hpa", "pdb", "ing"):
        result = kubectl.run("get", short, "-n", "kube-public", check=False)
        assert result.returncode == 0, f"{short}: {result.stderr}"
    for short in ("ns", "no", "pv", "crd"):
        result = kubectl.run("get", short, check=False)
        assert result.returncode == 0, f"{short}: {result.stderr}"


def test_api_resources_filters(kubectl) -> None:
    out = kubectl("api-resources", "--api-group=apps", "-o", "name")
    assert out.split() == ["controllerrevisions.apps", "daemonsets.apps", "deployments.apps",
                           "replicasets.apps", "statefulsets.apps"]
    out = kubectl("api-resources", "--namespaced=false", "--api-group=", "-o", "name")
    assert out.split() == ["componentstatuses", "namespaces", "nodes", "persistentvolumes"]


def test_api_versions(kubectl) -> None:
    versions = kubectl("api-versions").split()
    for expected in ("v1", "apps/v1", "batch/v1", "networking.k8s.io/v1", "policy/v1",
                     "rbac.authorization.k8s.io/v1", "apiextensions.k8s.io/v1",
                     "autoscaling/v2", "autoscaling/v1"):
        assert expected in versions
    assert versions == sorted(versions)


def test_explain_pod_spec_containers(kubectl) -> None:
    out = kubectl("explain", "pod.spec.containers")
    lines = out.splitlines()
    assert lines[:4] == ["KIND:       Pod", "VERSION:    v1", "", "FIELD: containers <[]Container>"]
    assert "DESCRIPTION:" in lines
    assert "FIELDS:" in lines
    assert "  image\t<string>" in lines
    assert "  name\t<string> -required-" in lines
    assert "  ports\t<[]ContainerPort>" in lines
    assert "    List of containers belonging to the pod. Containers cannot currently be" in lines


def test_explain_grouped_resource(kubectl) -> None:
    lines = kubectl("explain", "deployment.spec.replicas").splitlines()
    assert lines[:5] == ["GROUP:      apps", "KIND:       Deployment", "VERSION:    v1", "",
                         "FIELD: replicas <integer>"]


def test_explain_unknown_field(kubectl) -> None:
    result = kubectl.run("explain", "pod.spec.nosuchfield", check=False)
    assert result.returncode == 1
    assert result.stderr == 'error: field "nosuchfield" does not exist\n'


def test_get_raw_namespaces(kubectl) -> None:
    doc = json.loads(kubectl("get", "--raw", "/api/v1/namespaces"))
    assert doc["kind"] == "NamespaceList"
    assert doc["apiVersion"] == "v1"
    assert doc["metadata"]["resourceVersion"]
    names = sorted(item["metadata"]["name"] for item in doc["items"])
    assert set(SYSTEM_NAMESPACES) <= set(names)
    for item in doc["items"]:
        if item["metadata"]["name"] in SYSTEM_NAMESPACES:
            assert item["status"] == {"phase": "Active"}


def test_get_raw_health_and_version(kubectl) -> None:
    assert kubectl("get", "--raw", "/healthz") == "ok"
    assert kubectl("get", "--raw", "/livez") == "ok"
    assert kubectl("get", "--raw", "/readyz") == "ok"
    version = json.loads(kubectl("get", "--raw", "/version"))
    assert (version["major"], version["minor"]) == ("1", "33")


def test_get_raw_missing_path(kubectl) -> None:
    result = kubectl.run("get", "--raw", "/api/v1/namespaces/default/configmaps/nope",
                         check=False)
    assert result.returncode == 1
    assert result.stderr == 'Error from server (NotFound): configmaps "nope" not found\n'


def test_proxy_forwards_api_requests(kubectl) -> None:
    name = f"proxied-{uuid.uuid4().hex[:6]}"
    kubectl("-n", "default", "create", "configmap", name, "--from-literal=via=proxy")
    env = {**os.environ, "KUBECONFIG": str(kubectl.kubeconfig), "HOME": str(kubectl.home)}
    proxy = subprocess.Popen([kubectl.binary, "proxy", "--port=0"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proxy.stdout is not None
        first = proxy.stdout.readline()  # printed once listening; EOF if kubectl exits
        match = re.fullmatch(r"Starting to serve on 127\.0\.0\.1:(\d+)\n", first)
        assert match, f"{first!r}; {proxy.poll()}"
        base = f"http://127.0.0.1:{match.group(1)}"
        with urllib.request.urlopen(f"{base}/api/v1/namespaces/default/configmaps",
                                    timeout=PROXY_START_TIMEOUT) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "application/json"
            listed = json.loads(response.read())
        with urllib.request.urlopen(f"{base}/version", timeout=PROXY_START_TIMEOUT) as response:
            version = json.loads(response.read())
    finally:
        proxy.terminate()
        proxy.communicate(timeout=10)
    assert listed["kind"] == "ConfigMapList"
    items = {item["metadata"]["name"]: item for item in listed["items"]}
    assert items[name]["data"] == {"via": "proxy"}
    assert version["minor"] == "33"
