"""`kubectl cordon`, `uncordon` and `drain` as the docs show them, on simulated nodes.

The module's server runs the controller manager (Deployment, ReplicaSet and disruption
controllers among them) and a child simulator of two nodes. A Deployment of two pods with an
emptyDir volume runs on node 0 (node 1 cordoned meanwhile) beside a DaemonSet's pod,
under a PodDisruptionBudget of minAvailable 1: draining node 0 needs `--ignore-daemonsets`
and `--delete-emptydir-data`, evicts one pod at once, is refused the second with the 429 that
kubectl prints and retries, and finishes once the ReplicaSet's replacement runs on node 1.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from kubectlrunner import Kubectl

pytestmark = pytest.mark.e2e

WAIT = "--timeout=60s"
NODE_0, NODE_1 = "sim-default-0", "sim-default-1"
REFUSED = ("(will retry after 5s): Cannot evict pod as it would violate the pod's "
           "disruption budget.")


def deployment(namespace: str) -> dict[str, Any]:
    labels = {"app": "web"}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "containers": [{"name": "web", "image": "nginx",
                                         "volumeMounts": [{"name": "cache",
                                                           "mountPath": "/cache"}]}],
                         "volumes": [{"name": "cache", "emptyDir": {}}]}}}}


def daemonset(namespace: str) -> dict[str, Any]:
    labels = {"app": "agent"}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": namespace},
            "spec": {"selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "containers": [{"name": "agent", "image": "busybox"}]}}}}


def pdb(namespace: str) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}}


class Background:
    """A kubectl running beside the test, its output collected in files."""

    def __init__(self, process: subprocess.Popen[bytes], out: Path, err: Path) -> None:
        self.process, self._out, self._err = process, out, err

    def stdout(self) -> str:
        return self._out.read_text()

    def output(self) -> str:
        return self._out.read_text() + self._err.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def background(kubectl: Kubectl, *args: str) -> Background:
    out, err = kubectl.home / "drain.out", kubectl.home / "drain.err"
    env = {**os.environ, "KUBECONFIG": str(kubectl.kubeconfig), "HOME": str(kubectl.home)}
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen([kubectl.binary, *args], stdout=stdout, stderr=stderr,
                                   env=env)
    return Background(process, out, err)


def node_status(kubectl: Kubectl, node: str) -> str:
    return kubectl("get", "node", node, "--no-headers").split()[1]


def web_pod_nodes(kubectl: Kubectl, namespace: str) -> list[str]:
    out = kubectl("-n", namespace, "get", "pods", "-l", "app=web", "-o",
                  "jsonpath={range .items[*]}{.spec.nodeName}{\"\\n\"}{end}")
    return sorted(out.split())


def test_cordon_drain_with_a_disruption_budget_and_uncordon(
        kubectl: Kubectl, simulator: subprocess.Popen[bytes]) -> None:
    namespace = f"drain-{uuid.uuid4().hex[:6]}"
    ns = ("-n", namespace)
    kubectl("create", "namespace", namespace)

    assert kubectl("cordon", NODE_1) == f"node/{NODE_1} cordoned\n"
    assert node_status(kubectl, NODE_1) == "Ready,SchedulingDisabled"

    # The DaemonSet's pods tolerate the cordon: one on each node.
    kubectl("apply", "-f", "-", input=json.dumps(daemonset(namespace)))
    kubectl(*ns, "rollout", "status", "daemonset/agent", WAIT)
    agent = kubectl(*ns, "get", "pods", "-l", "app=agent", "--field-selector",
                    f"spec.nodeName={NODE_0}", "-o", "jsonpath={.items[0].metadata.name}")
    kubectl("apply", "-f", "-", input=json.dumps(deployment(namespace)))
    kubectl(*ns, "rollout", "status", "deployment/web", WAIT)
    assert web_pod_nodes(kubectl, namespace) == [NODE_0, NODE_0]
    kubectl("apply", "-f", "-", input=json.dumps(pdb(namespace)))
    kubectl(*ns, "wait", "--for=jsonpath={.status.disruptionsAllowed}=1", "pdb/web", WAIT)
    row = kubectl(*ns, "get", "pdb", "web", "--no-headers").split()
    assert row[:4] == ["web", "1", "N/A", "1"]

    refused = kubectl.run("drain", NODE_0, "--timeout=20s", check=False)
    assert refused.returncode != 0
    assert "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): " \
        in refused.stderr
    assert f"{namespace}/{agent}" in refused.stderr
    assert "cannot delete Pods with local storage (use --delete-emptydir-data to override)" \
        in refused.stderr

    # Node 1 still cordoned: the first eviction's replacement cannot run, so the budget
    # refuses the second until node 1 is uncordoned while kubectl retries.
    drain = background(kubectl, "drain", NODE_0, "--ignore-daemonsets",
                       "--delete-emptydir-data", "--timeout=120s")
    try:
        deadline = time.monotonic() + 60
        while REFUSED not in drain.output():
            assert drain.process.poll() is None, drain.output()
            assert time.monotonic() < deadline, drain.output()
            time.sleep(0.2)
        assert kubectl("uncordon", NODE_1) == f"node/{NODE_1} uncordoned\n"
        assert node_status(kubectl, NODE_1) == "Ready"
        assert drain.process.wait(150) == 0, drain.output()
    finally:
        drain.stop()
    stdout, output = drain.stdout(), drain.output()
    (warning,) = [line for line in output.splitlines() if line.startswith("Warning: ")]
    assert warning.startswith("Warning: ignoring DaemonSet-managed Pods: ")
    assert f"{namespace}/{agent}" in warning
    assert output.count(" evicted\n") == 2, output
    # the refused drain above already cordoned the node
    assert stdout.startswith(f"node/{NODE_0} already cordoned\n"), output
    assert stdout.rstrip().endswith(f"node/{NODE_0} drained"), output
    assert node_status(kubectl, NODE_0) == "Ready,SchedulingDisabled"
    kubectl(*ns, "rollout", "status", "deployment/web", WAIT)
    assert web_pod_nodes(kubectl, namespace) == [NODE_1, NODE_1]
    assert kubectl(*ns, "get", "pod", agent, "-o", "jsonpath={.spec.nodeName}") == NODE_0
    kubectl("uncordon", NODE_0)
    kubectl("delete", "namespace", namespace, WAIT)
