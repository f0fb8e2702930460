"""Simulated nodes through the real kubectl: nodes Ready with upstream's columns and
describe sections, pods bound to them Running with an IP, run-to-completion pods Completed or
Error, deletes that complete, and Leases that go stale once the simulator stops.

The simulator runs as a child process (`kajitori.sim.run`) with a 1 s Lease renew interval so
that staleness shows within seconds; pods are bound by `spec.nodeName` (no scheduler here).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from kubectlrunner import PINNED_KUBECTL, Kubectl

from kajitori.testing import harness

WAIT = "--timeout=30s"


def bound_pod(name: str, *, node: str = "sim-default-0", restart_policy: str = "Always",
              annotations: dict[str, str] | None = None) -> str:
    """A pod manifest (JSON, which kubectl reads as YAML) bound to `node` by spec.nodeName."""
    return json.dumps({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {"nodeName": node, "restartPolicy": restart_policy,
                 "containers": [{"name": "main", "image": "registry.k8s.io/pause:3.10"}]},
    })


def test_get_nodes_shows_simulated_nodes_ready(kubectl: Kubectl,
                                               simulator: subprocess.Popen[bytes]) -> None:
    lines = kubectl("get", "nodes", "-l", "type=sim").splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert [line.split()[:3] + line.split()[4:] for line in lines[1:]] == [
        ["sim-default-0", "Ready", "<none>", "v1.33.5+kajitori"],
        ["sim-default-1", "Ready", "<none>", "v1.33.5+kajitori"]]
    wide = kubectl("get", "nodes", "-l", "type=sim", "-o", "wide").splitlines()
    assert wide[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP",
                               "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION",
                               "CONTAINER-RUNTIME"]
    assert "198.18.0." in wide[1]
    assert wide[1].split()[-1].startswith("sim://")


def test_describe_node_shows_capacity_conditions_and_system_info(
        kubectl: Kubectl, simulator: subprocess.Popen[bytes]) -> None:
    out = kubectl("describe", "node", "sim-default-0")
    for expected in ("Capacity:\n  cpu:                4\n",
                     "Allocatable:\n  cpu:                4\n",
                     "  memory:             16284Mi\n",
                     "KubeletReady                 kubelet is posting ready status",
                     "KubeletHasSufficientMemory   kubelet has sufficient memory available",
                     "  Container Runtime Version:  sim://",
                     "  Kubelet Version:            v1.33.5+kajitori",
                     "  Operating System:           linux",
                     "PodCIDR:                      10.244.",
                     "  HolderIdentity:  sim-default-0"):
        assert expected in out


def test_a_bound_pod_runs_with_an_ip(kubectl: Kubectl,
                                     simulator: subprocess.Popen[bytes]) -> None:
    name = f"web-{Path(kubectl.binary).parent.name}-{os.getpid()}"[:50].lower()
    kubectl("apply", "-f", "-", input=bound_pod(name))
    kubectl("wait", "--for=condition=Ready", f"pod/{name}", WAIT)
    (row,) = kubectl("get", "pod", name, "-o", "wide", "--no-headers").splitlines()
    fields = row.split()
    assert fields[1:3] == ["1/1", "Running"]
    assert fields[5].startswith("10.244.")
    assert fields[6] == "sim-default-0"
    kubectl("delete", "pod", name, WAIT)
    assert kubectl.run("get", "pod", name, check=False).returncode == 1


@pytest.mark.parametrize(("exit_code", "shown", "phase"),
                         [("0", "Completed", "Succeeded"), ("3", "Error", "Failed")])
def test_a_run_to_completion_pod_finishes_with_its_exit_code(
        kubectl: Kubectl, simulator: subprocess.Popen[bytes], exit_code: str, shown: str,
        phase: str) -> None:
    name = f"job-{exit_code}-{abs(hash(kubectl.binary)) % 10000}"
    kubectl("apply", "-f", "-", input=bound_pod(
        name, node="sim-default-1", restart_policy="Never",
        annotations={"sim.kajitori.io/run-seconds": "1", "sim.kajitori.io/exit-code": exit_code}))
    kubectl("wait", f"--for=jsonpath={{.status.phase}}={phase}", f"pod/{name}", WAIT)
    (row,) = kubectl("get", "pod", name, "--no-headers").splitlines()
    assert row.split()[1:3] == ["0/1", shown]
    kubectl("delete", "pod", name, WAIT)


def test_stopping_the_simulator_leaves_the_leases_stale(
        cluster: harness.Cluster, simulator: subprocess.Popen[bytes]) -> None:
    kubectl = Kubectl(str(PINNED_KUBECTL), cluster.kubeconfig, cluster.data_dir)
    renew_time = ("get", "lease", "-n", "kube-node-lease", "sim-default-0", "-o",
                  "jsonpath={.spec.renewTime}")
    first = kubectl(*renew_time)
    deadline = time.monotonic() + 10
    while kubectl(*renew_time) == first:  # renewed every second while running
        assert time.monotonic() < deadline, "the lease was not renewed"
        time.sleep(0.2)
    simulator.send_signal(signal.SIGTERM)
    simulator.wait(10)
    stopped = kubectl(*renew_time)
    time.sleep(2.5)
    assert kubectl(*renew_time) == stopped
