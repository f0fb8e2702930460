"""A node whose kubelet stops: NotReady/Unknown, tainted unreachable, its pods not Ready and
evicted after their toleration, as kubectl shows it.

Two simulator processes run one node each (pools `stay` and `gone`); stopping the second
leaves its Lease unrenewed. The node lifecycle and taint eviction controllers run in a child
process with short settings (grace period 4 s instead of 40 s, a 1 s monitor period) so the
failure shows within seconds; the server runs no controller manager of its own. A node must
stay healthy: when every node fails the controller assumes it is the one cut off and taints
nothing (upstream's master disruption mode).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubectlrunner import PINNED_KUBECTL, Kubectl

from kajitori.testing import harness

pytestmark = pytest.mark.e2e

SIMULATOR = """
import asyncio, sys
from pathlib import Path
import kajitori.sim as sim
settings = sim.SimulatorSettings(node_lease=sim.NodeLeaseSettings(renew_interval=1.0))
asyncio.run(sim.run(kubeconfig=Path(sys.argv[1]), config=Path(sys.argv[2]), settings=settings))
"""
CONTROLLERS = """
import asyncio, sys
from pathlib import Path
from kajitori.client import informer, rest
from kajitori.controllers import nodelifecycle, tainteviction

async def main():
    config = rest.load_kubeconfig(Path(sys.argv[1]))
    async with rest.RESTClient(config) as client:
        factory = informer.SharedInformerFactory(client)
        settings = nodelifecycle.NodeLifecycleSettings(
            node_monitor_period=1.0, node_monitor_grace_period=4.0,
            node_startup_grace_period=4.0, node_eviction_rate=10.0)
        lifecycle = nodelifecycle.new_node_lifecycle_controller(
            client, informers=factory, settings=settings)
        eviction = tainteviction.new_taint_eviction_controller(client, informers=factory)
        async with asyncio.TaskGroup() as group:
            group.create_task(factory.run())
            group.create_task(lifecycle.run())
            group.create_task(eviction.run())

asyncio.run(main())
"""
STAY, GONE = "sim-stay-0", "sim-gone-0"
WAIT = "--timeout=60s"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Cluster]:
    with harness.running(tmp_path_factory.mktemp("cluster")) as started:
        yield started


def start(cluster: harness.Cluster, name: str, *args: str) -> subprocess.Popen[bytes]:
    log = open(cluster.data_dir / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
    with log:
        return subprocess.Popen([sys.executable, "-c", *args], stdout=log,
                                stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(10)


def simulator(cluster: harness.Cluster, pool: str) -> subprocess.Popen[bytes]:
    config = cluster.data_dir / f"{pool}.yaml"
    config.write_text(json.dumps({"pools": [{"name": pool, "count": 1}]}))
    return start(cluster, f"sim-{pool}", SIMULATOR, str(cluster.kubeconfig), str(config))


def wait_until(check: Callable[[], bool], what: str, *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.25)


@pytest.fixture(scope="module")
def nodes(cluster: harness.Cluster) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    admin = Kubectl(str(PINNED_KUBECTL), cluster.kubeconfig, cluster.data_dir)
    started = {STAY: simulator(cluster, "stay")}
    try:
        wait_until(lambda: STAY in admin("get", "nodes", "-o", "name"), "no stay node")
        started[GONE] = simulator(cluster, "gone")
        wait_until(lambda: GONE in admin("get", "nodes", "-o", "name"), "no gone node")
        admin("wait", "--for=condition=Ready", "node", "-l", "type=sim", WAIT)
        started["controllers"] = start(cluster, "controllers", CONTROLLERS,
                                       str(cluster.kubeconfig))
        yield started
    finally:
        for process in started.values():
            stop(process)


def pod(name: str, *, toleration_seconds: int | None = None) -> dict[str, object]:
    spec: dict[str, object] = {"nodeName": GONE,
                               "containers": [{"name": "main", "image": "nginx"}]}
    if toleration_seconds is not None:
        spec["tolerations"] = [{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                                "effect": "NoExecute", "tolerationSeconds": toleration_seconds}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def test_a_node_whose_lease_stops_becomes_unknown_tainted_and_evicted(
        cluster: harness.Cluster, nodes: dict[str, subprocess.Popen[bytes]],
        tmp_path: Path) -> None:
    # One kubectl only: the node fails once per module.
    kubectl = Kubectl(str(PINNED_KUBECTL), cluster.kubeconfig, tmp_path)
    namespace = f"nl-{uuid.uuid4().hex[:6]}"
    ns = ("-n", namespace)
    kubectl("create", "namespace", namespace)
    kubectl(*ns, "apply", "-f", "-", input=json.dumps(
        {"apiVersion": "v1", "kind": "List",
         "items": [pod("quick", toleration_seconds=2), pod("patient")]}))
    kubectl(*ns, "wait", "--for=condition=Ready", "pod/quick", "pod/patient", WAIT)

    stop(nodes[GONE])

    def status_of(node: str) -> str:
        return kubectl("get", "node", node, "--no-headers").split()[1]

    wait_until(lambda: status_of(GONE) == "NotReady", "the node did not become NotReady")
    assert status_of(STAY) == "Ready"
    conditions = json.loads(kubectl("get", "node", GONE, "-o",
                                    "jsonpath={.status.conditions}"))
    ready = next(c for c in conditions if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == \
        ("Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
    assert {c["type"]: c["status"] for c in conditions if c["type"] != "NetworkUnavailable"} \
        == {"Ready": "Unknown", "MemoryPressure": "Unknown", "DiskPressure": "Unknown",
            "PIDPressure": "Unknown"}

    def taints() -> list[tuple[str, str]]:
        raw = kubectl("get", "node", GONE, "-o", "jsonpath={.spec.taints}")
        return sorted((t["key"], t["effect"]) for t in json.loads(raw or "[]"))

    wait_until(lambda: ("node.kubernetes.io/unreachable", "NoExecute") in taints(),
               "the node was not tainted unreachable")
    wait_until(lambda: ("node.kubernetes.io/unreachable", "NoSchedule") in taints(),
               "the node did not get the unreachable NoSchedule taint")
    describe = kubectl("describe", "node", GONE)
    assert "node.kubernetes.io/unreachable:NoExecute" in describe

    kubectl(*ns, "wait", "--for=condition=Ready=false", "pod/patient", WAIT)
    # The quick pod's 2 s toleration runs out: it is deleted, and stays Terminating because
    # no kubelet is left to confirm it (as upstream, until the node is deleted or returns).
    wait_until(lambda: bool(kubectl(*ns, "get", "pod", "quick", "-o",
                                     "jsonpath={.metadata.deletionTimestamp}")),
               "the pod was not evicted after its toleration")
    events = kubectl(*ns, "get", "events", "--field-selector",
                     "involvedObject.name=quick", "-o", "jsonpath={.items[*].message}")
    assert f"Marking for deletion Pod {namespace}/quick" in events
    assert not kubectl(*ns, "get", "pod", "patient", "-o",
                       "jsonpath={.metadata.deletionTimestamp}")
    target = json.loads(kubectl(*ns, "get", "pod", "quick", "-o",
                                "jsonpath={.status.conditions}"))
    assert ("DisruptionTarget", "DeletionByTaintManager") in \
        [(c["type"], c.get("reason")) for c in target]
