"""Node-pressure eviction on a real node, with kubectl: a pod over its emptyDir sizeLimit, and
a pod or a container over its ephemeral-storage limit, are evicted (Failed, reason `Evicted`,
upstream's message in `kubectl describe`); with `evictionHard` memory.available set just below the
machine's available memory, a pod allocating memory puts the node under MemoryPressure (the
condition, its `node.kubernetes.io/memory-pressure` taint, the `EvictionThresholdMet` event)
and is evicted, a new BestEffort pod is refused meanwhile, and the pressure ends after the
transition period.

The memory case restarts the agent with its own settings (the kubelet adopts what runs); the
threshold is the machine's available memory (MemTotal less the root cgroup's working set),
measured as the node measures it for the eviction manager. Other work on this machine moves the
available memory a little: the margins (500 MiB below it, a pod taking 1200 MB) absorb that.

As upstream's printer does, `kubectl get`'s STATUS column of an evicted pod shows `Evicted`
only until its containers are reported terminated, then their reason (`Error` for the killed
busybox): the reason the tests read is the pod's `status.reason`, and `describe`'s.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from agentnode import AgentNode, skip_reason
from tutorialnode import CONTROLLERS, apply, events, get, tutorial_node

from kajitori.kubelet import cgroupstats, nodestatus

pytestmark = pytest.mark.node

MiB = 2**20
CGROUP_ROOT = Path("/sys/fs/cgroup")
TIMEOUT = 120.0
PRESSURE_TRANSITION = 30.0
"""evictionPressureTransitionPeriod of the memory case, seconds (upstream 5 min)."""

EMPTY_DIR_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: scratch-filler
spec:
  restartPolicy: Never
  containers:
  - name: filler
    image: busybox
    command: ["sh", "-c", "dd if=/dev/zero of=/scratch/big bs=1M count=5 && sleep 3600"]
    volumeMounts:
    - name: scratch
      mountPath: /scratch
  volumes:
  - name: scratch
    emptyDir:
      sizeLimit: 1Mi
"""
EPHEMERAL_STORAGE_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: disk-filler
spec:
  restartPolicy: Never
  containers:
  - name: filler
    image: busybox
    command: ["sh", "-c", "dd if=/dev/zero of=/big bs=1M count=5 && sleep 3600"]
    resources:
      limits:
        ephemeral-storage: 1Mi
"""
CONTAINER_LIMIT_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: one-filler
spec:
  restartPolicy: Never
  containers:
  - name: quiet
    image: busybox
    command: ["sleep", "3600"]
    resources:
      limits:
        ephemeral-storage: 20Mi
  - name: filler
    image: busybox
    command: ["sh", "-c", "dd if=/dev/zero of=/big bs=1M count=5 && sleep 3600"]
    resources:
      limits:
        ephemeral-storage: 1Mi
"""
LATECOMER_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: latecomer
spec:
  nodeName: {node}
  containers:
  - name: sleeper
    image: busybox
    command: ["sleep", "3600"]
"""
MEMORY_HOG_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: memory-hog
spec:
  restartPolicy: Never
  containers:
  - name: hog
    image: polinux/stress
    command: ["stress"]
    args: ["--vm", "1", "--vm-bytes", "1200M", "--vm-hang", "0"]
"""


@pytest.fixture(scope="module")
def node(tutorial_registry: Path,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentNode]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with tutorial_node(tmp_path_factory.mktemp("kjtevict"), registries=tutorial_registry,
                       controllers=(*CONTROLLERS, "nodelifecycle")) as agent:
        yield agent


def _status(node: AgentNode, pod: str) -> dict:
    return get(node, "pod", pod).get("status") or {}


def _wait_evicted(node: AgentNode, pod: str) -> dict:
    node.wait(f"pod {pod} not evicted", lambda: _status(node, pod).get("reason") == "Evicted",
              timeout=TIMEOUT)
    node.wait(f"containers of {pod} not terminated", lambda: all(
        "terminated" in c.get("state", {})
        for c in _status(node, pod).get("containerStatuses") or []), timeout=30)
    return _status(node, pod)


def _described(node: AgentNode, pod: str) -> dict[str, str]:
    """`kubectl describe pod`'s top-level `Key: value` lines."""
    fields = {}
    for line in node.kubectl("describe", "pod", pod).splitlines():
        key, sep, value = line.partition(":")
        if sep and not line.startswith(" ") and value.strip():
            fields[key] = value.strip()
    return fields


def _evicted_event(node: AgentNode, pod: str) -> dict:
    found = [e for e in events(node, pod) if e["reason"] == "Evicted"]
    assert found, events(node, pod)
    return found[-1]


def test_emptydir_over_its_size_limit_is_evicted(node: AgentNode) -> None:
    apply(node, EMPTY_DIR_POD)
    status = _wait_evicted(node, "scratch-filler")
    message = 'Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". '
    assert (status["phase"], status["message"]) == ("Failed", message)
    described = _described(node, "scratch-filler")
    assert (described["Status"], described["Reason"], described["Message"]) == (
        "Failed", "Evicted", message.strip())
    event = _evicted_event(node, "scratch-filler")
    assert (event["type"], event["message"]) == ("Warning", message)
    assert event["source"]["component"] == "kubelet"
    uid = get(node, "pod", "scratch-filler")["metadata"]["uid"]
    node.wait("the evicted pod's emptyDir not removed",
              lambda: not (node.data_dir / "kubelet" / "pods" / uid).exists(), timeout=10)


def test_pod_over_its_ephemeral_storage_limit_is_evicted(node: AgentNode) -> None:
    apply(node, EPHEMERAL_STORAGE_POD)
    status = _wait_evicted(node, "disk-filler")
    # The pod's total limit is its one container's: upstream checks the pod's first.
    message = "Pod ephemeral local storage usage exceeds the total limit of containers 1Mi. "
    assert (status["phase"], status["message"]) == ("Failed", message)
    assert not any(c["type"] == "DisruptionTarget" for c in status["conditions"])
    assert _described(node, "disk-filler")["Reason"] == "Evicted"
    (container,) = status["containerStatuses"]
    assert container["state"]["terminated"]["exitCode"] == 137  # SIGKILL after the 2 s grace


def test_container_over_its_ephemeral_storage_limit_is_evicted(node: AgentNode) -> None:
    apply(node, CONTAINER_LIMIT_POD)
    status = _wait_evicted(node, "one-filler")
    # Within the pod's total (21Mi), over the filler's own limit.
    assert status["message"] == \
        'Container filler exceeded its local ephemeral storage limit "1Mi". '


def _condition(node: AgentNode, kind: str) -> dict:
    conditions = (get(node, "node", node.name).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == kind), {})


def _available_memory() -> int:
    """The node's available memory as its stats Summary measures it: MemTotal less the root
    cgroup's working set."""
    usage = cgroupstats.memory_usage(CGROUP_ROOT, "/")
    assert usage is not None
    return nodestatus.mem_total_bytes(Path("/proc/meminfo").read_text()) - usage.working_set


def test_memory_pressure_evicts_the_pod_and_ends_after_the_transition_period(
        node: AgentNode) -> None:
    threshold = (_available_memory() - 500 * MiB) // MiB
    node.restart(eviction_hard={"memory.available": f"{threshold}Mi"},
                   eviction_pressure_transition_period=PRESSURE_TRANSITION)
    node.wait("node not Ready after the restart", node.ready)
    assert _condition(node, "MemoryPressure")["status"] == "False"
    apply(node, MEMORY_HOG_POD)

    status = _wait_evicted(node, "memory-hog")
    message = status["message"]
    assert message.startswith(
        f"The node was low on resource: memory. Threshold quantity: {threshold}Mi, available: ")
    assert message.endswith(", request is 0, has larger consumption of memory. ")
    assert "Container hog was using " in message
    disruption = next(c for c in status["conditions"] if c["type"] == "DisruptionTarget")
    assert (disruption["status"], disruption["reason"], disruption["message"]) == (
        "True", "TerminationByKubelet", message)
    event = _evicted_event(node, "memory-hog")
    assert (event["type"], event["message"]) == ("Warning", message)

    pressure = _condition(node, "MemoryPressure")
    assert (pressure["status"], pressure["reason"], pressure["message"]) == (
        "True", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available")
    node_events = json.loads(node.kubectl(
        "get", "events", "--field-selector", f"involvedObject.name={node.name}", "-o", "json"))
    reasons = {(e["reason"], e["message"]) for e in node_events["items"]}
    assert ("EvictionThresholdMet", "Attempting to reclaim memory") in reasons
    # Under MemoryPressure a new BestEffort pod is refused by the kubelet (bound to the node
    # directly: the scheduler would not place it past the taint).
    apply(node, LATECOMER_POD.format(node=node.name))
    node.wait("latecomer not rejected", lambda: _status(node, "latecomer").get("phase") ==
              "Failed", timeout=30)
    late = _status(node, "latecomer")
    assert (late["reason"], late["message"]) == (
        "Evicted", "Pod was rejected: The node had condition: [MemoryPressure]. ")
    assert ("Evicted", "The node had condition: [MemoryPressure]. ") in {
        (e["reason"], e["message"]) for e in events(node, "latecomer")}
    node.wait("no memory-pressure taint", lambda: any(
        t["key"] == "node.kubernetes.io/memory-pressure" and t["effect"] == "NoSchedule"
        for t in (get(node, "node", node.name).get("spec") or {}).get("taints") or []),
        timeout=30)

    node.wait("MemoryPressure still True", lambda: _condition(
        node, "MemoryPressure").get("reason") == "KubeletHasSufficientMemory", timeout=60)
    assert ("NodeHasSufficientMemory", f"Node {node.name} status is now: "
            "NodeHasSufficientMemory") in {(e["reason"], e["message"]) for e in json.loads(
                node.kubectl("get", "events", "--field-selector",
                             f"involvedObject.name={node.name}", "-o", "json"))["items"]}
