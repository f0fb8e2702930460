"""Endpoints and EndpointSlices through the real kubectl: a Service selecting three ready pods
on simulated nodes lists them in both; a pod turning unready moves to notReadyAddresses and
ready=false.

The module's server runs the controller manager (`controllers=True`) and a child simulator
(`kajitori.sim.run`, two nodes). Pods carry a readiness gate the test flips through
pods/status, so readiness changes as a kubelet would report it.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from typing import Any

import pytest
from kubectlrunner import Kubectl

pytestmark = pytest.mark.e2e

GATE = "example.com/ready"
WAIT = "--timeout=60s"


def wait_until(check: Any, what: str, *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def gated_pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {"readinessGates": [{"conditionType": GATE}],
                     "containers": [{"name": "web", "image": "nginx",
                                     "ports": [{"name": "http", "containerPort": 8080}]}]}}


def service() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"},
                     "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}


def set_gate(kubectl: Kubectl, namespace: str, pod: str, status: str) -> None:
    kubectl("-n", namespace, "patch", "pod", pod, "--subresource=status", "-p",
            json.dumps({"status": {"conditions": [{"type": GATE, "status": status}]}}))


@pytest.fixture
def namespace(kubectl: Kubectl) -> str:
    name = f"ep-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    return name


def test_endpoints_and_slices_follow_pod_readiness(
        kubectl: Kubectl, simulator: subprocess.Popen[bytes], namespace: str) -> None:
    ns = ("-n", namespace)
    items = [gated_pod(f"web-{i}") for i in range(3)] + [service()]
    kubectl(*ns, "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                      "items": items}))
    for i in range(3):
        kubectl(*ns, "wait", "--for=jsonpath={.status.podIP}", f"pod/web-{i}", WAIT)
        set_gate(kubectl, namespace, f"web-{i}", "True")
    kubectl(*ns, "wait", "--for=condition=Ready", "pod", "-l", "app=web", WAIT)
    ips = sorted(kubectl(*ns, "get", "pods", "-l", "app=web", "-o",
                         "jsonpath={.items[*].status.podIP}").split())
    expected = ",".join(f"{ip}:8080" for ip in ips)

    def endpoints_column() -> str:
        rows = kubectl(*ns, "get", "endpoints", "web", "--no-headers").split()
        return rows[1] if len(rows) > 1 else ""

    wait_until(lambda: sorted(endpoints_column().split(",")) == expected.split(","),
               "Endpoints did not list the three ready pods")
    header = kubectl(*ns, "get", "endpoints", "web").splitlines()[0].split()
    assert header == ["NAME", "ENDPOINTS", "AGE"]

    def slice_rows() -> list[list[str]]:
        out = kubectl(*ns, "get", "endpointslices", "-l", "kubernetes.io/service-name=web",
                      "--no-headers")
        return [line.split() for line in out.splitlines()]

    wait_until(lambda: [r[1:3] for r in slice_rows()] == [["IPv4", "8080"]] and
               sorted(slice_rows()[0][3].split(",")) == ips,
               "the EndpointSlice did not list the three pods")
    (row,) = slice_rows()
    assert row[0].startswith("web-")
    managed_by = kubectl(*ns, "get", "endpointslices", "-l", "kubernetes.io/service-name=web",
                         "-o", "jsonpath={.items[0].metadata.labels.endpointslice\\.kubernetes"
                               "\\.io/managed-by}")
    assert managed_by == "endpointslice-controller.k8s.io"

    unready_ip = kubectl(*ns, "get", "pod", "web-1", "-o", "jsonpath={.status.podIP}")
    set_gate(kubectl, namespace, "web-1", "False")
    wait_until(lambda: kubectl(*ns, "get", "endpoints", "web", "-o",
                               "jsonpath={.subsets[*].notReadyAddresses[*].ip}") == unready_ip,
               "the unready pod did not move to notReadyAddresses")
    ready_ips = kubectl(*ns, "get", "endpoints", "web", "-o",
                        "jsonpath={.subsets[*].addresses[*].ip}").split()
    assert sorted(ready_ips) == sorted(ip for ip in ips if ip != unready_ip)
    condition = ("jsonpath={.items[0].endpoints[?(@.targetRef.name==\"web-1\")]"
                 ".conditions.ready}")
    wait_until(lambda: kubectl(*ns, "get", "endpointslices", "-l",
                               "kubernetes.io/service-name=web", "-o", condition) == "false",
               "the EndpointSlice did not mark the pod ready=false")
