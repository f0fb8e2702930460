"""`kajitori controller-manager` takes kube-controller-manager's flags as a user types them:
listed in `--help`, refused with a clear message when malformed, and honoured when running."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from kubectlrunner import PINNED_KUBECTL, Kubectl, eventually

from kajitori.testing import harness as testing_cluster

KAJITORI = [sys.executable, "-m", "kajitori.cli.main"]
LEASE = "kcm-flags-e2e"


def test_help_lists_the_upstream_flags_with_their_defaults() -> None:
    result = subprocess.run([*KAJITORI, "controller-manager", "--help"], capture_output=True,
                            text=True, timeout=60, check=True)
    text = " ".join(result.stdout.split())
    for flag in ("--concurrent-deployment-syncs int32", "--concurrent-rc-syncs int32",
                 "--max-endpoints-per-slice int32", "--node-monitor-grace-period duration",
                 "--horizontal-pod-autoscaler-tolerance float",
                 "--leader-elect-lease-duration duration", "--enable-garbage-collector"):
        assert flag in text
    assert "(default 50s)" in text
    assert "(default 5m0s)" in text


def test_a_malformed_duration_fails_before_starting(tmp_path: Path) -> None:
    result = subprocess.run(
        [*KAJITORI, "controller-manager", "--kubeconfig", str(tmp_path / "none"),
         "--node-monitor-grace-period=40"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stdout == ""
    assert 'invalid argument "40" for "--node-monitor-grace-period" flag: time: missing unit ' \
        'in duration "40"' in result.stderr


def test_leader_election_flags_reach_the_running_manager(
        cluster: testing_cluster.Cluster) -> None:
    process = subprocess.Popen(
        [*KAJITORI, "controller-manager", "--kubeconfig", str(cluster.kubeconfig),
         "--controllers=serviceaccount", f"--leader-elect-resource-name={LEASE}",
         "--leader-elect-lease-duration=37s"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        admin = Kubectl(str(PINNED_KUBECTL), cluster.kubeconfig, cluster.data_dir)

        def leased() -> str:
            assert process.poll() is None, process.communicate()[1]
            return admin("get", "leases", "-n", "kube-system", "--ignore-not-found",
                         LEASE, "-o", "jsonpath={.spec.leaseDurationSeconds}")

        assert eventually(leased, timeout=30, what=f"Lease kube-system/{LEASE}") == "37"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)
