"""`kubectl top` and `kubectl autoscale` on simulated nodes.

The module's server runs the controller manager (HPA controller included) and scrapes node
usage every second (`--metric-resolution`); a child simulator of two nodes serves their
Summaries. Before any node exists, `kubectl top` says metrics are not available yet. A
Deployment whose pods report high cpu through the `sim.kajitori.io/cpu-usage` annotation shows
in `kubectl top pod`; the HPA `kubectl autoscale` creates scales it up; lowering the usage
scales it down once the short scale-down stabilization window set in the HPA's behavior has
passed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest
from kubectlrunner import PINNED_KUBECTL, Kubectl

from kajitori.testing import harness

pytestmark = pytest.mark.e2e

SIMULATOR = """
import asyncio, sys
from pathlib import Path
import kajitori.sim as sim
settings = sim.SimulatorSettings(node_lease=sim.NodeLeaseSettings(renew_interval=1.0))
asyncio.run(sim.run(kubeconfig=Path(sys.argv[1]), nodes=2, settings=settings))
"""
NODE_1 = "sim-default-1"
DEADLINE = 90.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Cluster]:
    with harness.running(tmp_path_factory.mktemp("cluster"), controllers=True,
                         metric_resolution=1.0) as started:
        yield started


@pytest.fixture(scope="module")
def kubectl(cluster: harness.Cluster) -> Kubectl:
    """kubectl on the cluster before the simulator runs (no nodes yet)."""
    return Kubectl(str(PINNED_KUBECTL), cluster.kubeconfig, cluster.data_dir)


@pytest.fixture(scope="module")
def admin(cluster: harness.Cluster, kubectl: Kubectl) -> Iterator[Kubectl]:
    log = open(cluster.data_dir / "sim.log", "ab")  # noqa: SIM115 - closed below
    process = subprocess.Popen([sys.executable, "-c", SIMULATOR, str(cluster.kubeconfig)],
                               stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        wait_for(lambda: NODE_1 in kubectl("get", "nodes", "-o", "name"),
                 lambda: (cluster.data_dir / "sim.log").read_text())
        kubectl("wait", "--for=condition=Ready", "node", "-l", "type=sim", "--timeout=60s")
        yield kubectl
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(10)
        log.close()


def wait_for(done: Callable[[], bool], explain: Callable[[], str]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not done():
        assert time.monotonic() < deadline, explain()
        time.sleep(0.5)


def deployment(cpu_usage: str) -> str:
    labels = {"app": "busy"}
    return json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "busy", "namespace": "default"},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels,
                                           "annotations": {"sim.kajitori.io/cpu-usage":
                                                           cpu_usage}},
                              "spec": {"containers": [{
                                  "name": "app", "image": "nginx",
                                  "resources": {"requests": {"cpu": "100m",
                                                             "memory": "64Mi"}}}]}}}})


def test_top_before_metrics_and_the_api_without_crds(kubectl: Kubectl) -> None:
    service = kubectl("get", "apiservices", "v1beta1.metrics.k8s.io").split("\n")[1].split()
    assert service[:3] == ["v1beta1.metrics.k8s.io", "Local", "True"]
    resources = kubectl("api-resources", "--api-group=metrics.k8s.io", "-o", "name")
    assert resources.split() == ["nodes.metrics.k8s.io", "pods.metrics.k8s.io"]
    assert "metrics" not in kubectl.run("get", "crd", check=False).stdout
    nodes = kubectl.run("top", "node", check=False)
    assert (nodes.returncode, nodes.stderr.strip()) == (1, "error: metrics not available yet")
    kubectl("run", "early", "--image=nginx")
    pods = kubectl.run("top", "pod", check=False)
    assert (pods.returncode, pods.stderr.strip()) == (1, "error: metrics not available yet")
    missing = kubectl.run("top", "pod", "nosuch", check=False)
    assert missing.stderr.strip() == 'Error from server (NotFound): pods "nosuch" not found'
    kubectl("delete", "pod", "early", "--wait=false")


def test_top_and_autoscale(admin: Kubectl) -> None:
    wait_for(lambda: "sim-default-0" in admin.run("top", "node", check=False).stdout,
             lambda: admin.run("top", "node", check=False).stderr)
    top_nodes = admin("top", "node")
    assert top_nodes.split("\n")[0].split() == ["NAME", "CPU(cores)", "CPU(%)",
                                                 "MEMORY(bytes)", "MEMORY(%)"]
    raw = json.loads(admin("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes/sim-default-0"))
    assert raw["kind"] == "NodeMetrics"
    assert raw["window"] == "1s"
    assert raw["usage"]["cpu"].endswith(("n", "m"))

    # A pod no node can run has no metrics: kubectl says they are not there yet.
    admin("run", "stuck", "--image=nginx", "--labels=app=stuck", "--overrides",
          json.dumps({"spec": {"nodeSelector": {"no-such": "node"}}}))
    stuck = admin.run("top", "pod", "-l", "app=stuck", check=False)
    assert stuck.returncode == 1
    assert stuck.stderr.strip() == "error: metrics not available yet"

    admin("apply", "-f", "-", input=deployment("80m"))
    admin("rollout", "status", "deployment/busy", "--timeout=60s")
    wait_for(lambda: "80m" in admin.run("top", "pod", "-l", "app=busy", check=False).stdout,
             lambda: admin.run("top", "pod", check=False).stderr)
    containers = admin("top", "pod", "-l", "app=busy", "--containers")
    assert containers.split("\n")[0].split() == ["POD", "NAME", "CPU(cores)",
                                                  "MEMORY(bytes)"]
    assert "app" in containers
    everywhere = admin("top", "pod", "-A")
    assert everywhere.split("\n")[0].split() == ["NAMESPACE", "NAME", "CPU(cores)",
                                                   "MEMORY(bytes)"]
    assert "default" in everywhere

    admin("autoscale", "deployment", "busy", "--cpu-percent=50", "--min=1", "--max=5")
    admin("patch", "hpa", "busy", "--type=merge", "-p", json.dumps(
        {"spec": {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 1}}}}))
    # 80% of request against 50%: ceil(1.6) = 2, then 2 pods at 80% each: ceil(3.2) = 4,
    # then 4 x 80% -> 7 capped at 5.
    wait_for(lambda: admin("get", "deployment", "busy", "-o",
                           "jsonpath={.spec.replicas}") != "1",
             lambda: admin("describe", "hpa", "busy"))
    wait_for(lambda: "cpu: 80%/50%" in admin("get", "hpa", "busy"),
             lambda: admin("get", "hpa", "busy"))
    header = admin("get", "hpa").split("\n")[0].split()
    assert header == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    events = admin("get", "events", "--field-selector", "reason=SuccessfulRescale",
                   "-o", "jsonpath={.items[*].message}")
    assert "reason: cpu resource utilization (percentage of request) above target" in events

    admin("patch", "deployment", "busy", "--type=merge", "-p", json.dumps(
        {"spec": {"template": {"metadata": {"annotations": {
            "sim.kajitori.io/cpu-usage": "5m"}}}}}))
    wait_for(lambda: admin("get", "deployment", "busy", "-o",
                           "jsonpath={.spec.replicas}") == "1",
             lambda: admin("describe", "hpa", "busy"))
    events = admin("get", "events", "--field-selector", "reason=SuccessfulRescale",
                   "-o", "jsonpath={.items[*].message}")
    assert "New size: 1; reason: All metrics below target" in events
