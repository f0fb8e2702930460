"""End-to-end fixtures: a real kajitori server and the real kubectl.

`cluster` is one server per test module (starting one takes about a second); tests that need a
pristine server or kill it use `kajitori.testing.running` themselves. Every kubectl gets
its own HOME so discovery caches never leak between servers. `simulator` adds two simulated
nodes to the module's cluster, as a child process of the test run; `InThread` runs components
(scheduler, simulator, controllers) in the test process where a test must reach into them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubectlrunner import DISPATCHER_KUBECTL, KUBECTLS, PINNED_KUBECTL, InThread, Kubectl  # noqa: F401

from kajitori.testing import harness as testing_cluster

CONTROLLER_MODULES = frozenset({"test_kubectl_workflow", "test_quota_limits", "test_drain",
                                "test_kubectl_endpoints"})
"""Modules whose server also runs the controller manager, as every upstream cluster does; the
others assert that namespaces hold only what they put there."""


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[testing_cluster.Cluster]:
    data_dir = tmp_path_factory.mktemp("cluster")
    controllers = request.module.__name__.rsplit(".", 1)[-1] in CONTROLLER_MODULES
    with testing_cluster.running(data_dir, controllers=controllers) as started:
        yield started


@pytest.fixture(params=KUBECTLS, ids=lambda k: "pinned" if k == PINNED_KUBECTL else "dispatcher")
def kubectl(request: pytest.FixtureRequest, cluster: testing_cluster.Cluster,
            tmp_path: Path) -> Kubectl:
    return Kubectl(binary=request.param, kubeconfig=cluster.kubeconfig, home=tmp_path)


SIMULATOR = """
import asyncio, sys
from pathlib import Path
import kajitori.sim as sim
settings = sim.SimulatorSettings(node_lease=sim.NodeLeaseSettings(renew_interval=1.0))
asyncio.run(sim.run(kubeconfig=Path(sys.argv[1]), nodes=2, settings=settings))
"""
"""Two simulated nodes, `sim-default-0` and `sim-default-1` (label type=sim), renewing their
Leases each second so that node-lifecycle tests see a stop quickly."""
LAST_SIMULATED_NODE = "sim-default-1"


@contextlib.contextmanager
def simulated_nodes(cluster: testing_cluster.Cluster, *,
                    timeout: float = 60) -> Iterator[subprocess.Popen[bytes]]:
    """Run `SIMULATOR` against `cluster` (output to sim.log in its data dir) and return once
    both nodes are registered and Ready, each within `timeout` seconds; the simulator is
    stopped with SIGTERM when the block ends. A simulator that dies first fails the test with
    its log."""
    log = open(cluster.data_dir / "sim.log", "ab")  # noqa: SIM115 - closed below
    process = subprocess.Popen([sys.executable, "-c", SIMULATOR, str(cluster.kubeconfig)],
                               stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        admin = Kubectl(str(PINNED_KUBECTL), cluster.kubeconfig, cluster.data_dir)
        deadline = time.monotonic() + timeout
        while LAST_SIMULATED_NODE not in admin("get", "nodes", "-o", "name"):
            assert process.poll() is None, (cluster.data_dir / "sim.log").read_text()
            assert time.monotonic() < deadline, "simulated nodes did not register"
            time.sleep(0.1)
        admin("wait", "--for=condition=Ready", "node", "-l", "type=sim",
              f"--timeout={timeout:g}s")
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(10)
        log.close()


@pytest.fixture(scope="module")
def simulator(cluster: testing_cluster.Cluster) -> Iterator[subprocess.Popen[bytes]]:
    with simulated_nodes(cluster) as process:
        yield process
