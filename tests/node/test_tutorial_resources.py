"""The resource tutorials of seed-003a, run with kubectl against a real node: §1 memory
(memory-demo runs over its request within its limit, memory-demo-2 is OOM-killed and restarted
with back-off, memory-demo-3 cannot be scheduled), §2 CPU (cpu-demo asks for two CPUs and gets
about one, its limit; cpu-demo-2 cannot be scheduled), §4 QoS classes with the pod cgroups they
choose, §5 extended resources advertised by a JSON patch of the node's status.

The manifests are the docs' (https://k8s.io/examples/...), transcribed; their images are the
project's stand-ins (`images/`), pulled from the tutorial registry mirror. The docs' outputs
are compared in the form real Kubernetes v1.33 prints them (seed §0.4): FailedScheduling
events read `0/1 nodes are available: 1 Insufficient memory.`. What `kubectl top` shows
for memory-demo is checked in test_kubectl_top.py; here the usage is also read from the
container's cgroup, which shows the limits at work.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from agentnode import AgentNode, skip_reason
from tutorialnode import CONTROLLERS, apply, delete, events, get, pod_row, tutorial_node

pytestmark = pytest.mark.node

CGROUP = Path("/sys/fs/cgroup")
MiB = 2**20
TIMEOUT = 120.0

MEMORY_REQUEST_LIMIT = """\
apiVersion: v1
kind: Pod
metadata:
  name: memory-demo
  namespace: mem-example
spec:
  containers:
  - name: memory-demo-ctr
    image: polinux/stress
    resources:
      limits:
        memory: "200Mi"
      requests:
        memory: "100Mi"
    command: ["stress"]
    args: ["--vm", "1", "--vm-bytes", "150M", "--vm-hang", "1"]
"""
MEMORY_REQUEST_LIMIT_2 = """\
apiVersion: v1
kind: Pod
metadata:
  name: memory-demo-2
  namespace: mem-example
spec:
  containers:
  - name: memory-demo-2-ctr
    image: polinux/stress
    resources:
      requests:
        memory: "50Mi"
      limits:
        memory: "100Mi"
    command: ["stress"]
    args: ["--vm", "1", "--vm-bytes", "250M", "--vm-hang", "1"]
"""
MEMORY_REQUEST_LIMIT_3 = """\
apiVersion: v1
kind: Pod
metadata:
  name: memory-demo-3
  namespace: mem-example
spec:
  containers:
  - name: memory-demo-3-ctr
    image: polinux/stress
    resources:
      limits:
        memory: "1000Gi"
      requests:
        memory: "1000Gi"
    command: ["stress"]
    args: ["--vm", "1", "--vm-bytes", "150M", "--vm-hang", "1"]
"""
CPU_REQUEST_LIMIT = """\
apiVersion: v1
kind: Pod
metadata:
  name: cpu-demo
  namespace: cpu-example
spec:
  containers:
  - name: cpu-demo-ctr
    image: vish/stress
    resources:
      limits:
        cpu: "1"
      requests:
        cpu: "0.5"
    args:
    - -cpus
    - "2"
"""
CPU_REQUEST_LIMIT_2 = """\
apiVersion: v1
kind: Pod
metadata:
  name: cpu-demo-2
  namespace: cpu-example
spec:
  containers:
  - name: cpu-demo-ctr-2
    image: vish/stress
    resources:
      limits:
        cpu: "100"
      requests:
        cpu: "100"
    args:
    - -cpus
    - "2"
"""
QOS_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: qos-demo
  namespace: qos-example
spec:
  containers:
  - name: qos-demo-ctr
    image: nginx
    resources:
      limits:
        memory: "200Mi"
        cpu: "700m"
      requests:
        memory: "200Mi"
        cpu: "700m"
"""
QOS_POD_2 = """\
apiVersion: v1
kind: Pod
metadata:
  name: qos-demo-2
  namespace: qos-example
spec:
  containers:
  - name: qos-demo-2-ctr
    image: nginx
    resources:
      limits:
        memory: "200Mi"
      requests:
        memory: "100Mi"
"""
QOS_POD_3 = """\
apiVersion: v1
kind: Pod
metadata:
  name: qos-demo-3
  namespace: qos-example
spec:
  containers:
  - name: qos-demo-3-ctr
    image: nginx
"""
QOS_POD_4 = """\
apiVersion: v1
kind: Pod
metadata:
  name: qos-demo-4
  namespace: qos-example
spec:
  containers:
  - name: qos-demo-4-ctr-1
    image: nginx
    resources:
      requests:
        memory: "200Mi"
  - name: qos-demo-4-ctr-2
    image: redis
"""
EXTENDED_RESOURCE_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: extended-resource-demo
spec:
  containers:
  - name: extended-resource-demo-ctr
    image: nginx
    resources:
      requests:
        example.com/dongle: 3
      limits:
        example.com/dongle: 3
"""
EXTENDED_RESOURCE_POD_2 = """\
apiVersion: v1
kind: Pod
metadata:
  name: extended-resource-demo-2
spec:
  containers:
  - name: extended-resource-demo-2-ctr
    image: nginx
    resources:
      requests:
        example.com/dongle: 2
      limits:
        example.com/dongle: 2
"""
DONGLE_PATCH = ('[{"op": "add", "path": "/status/capacity/example.com~1dongle", '
                '"value": "4"}]')


@pytest.fixture(scope="module")
def node(tutorial_registry: Path,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentNode]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with tutorial_node(tmp_path_factory.mktemp("kjttutres"), registries=tutorial_registry,
                       controllers=(*CONTROLLERS, "namespace")) as node:
        yield node


def _in(node: AgentNode, namespace: str, *args: str) -> str:
    return node.kubectl(*args, f"--namespace={namespace}")


def _pod(node: AgentNode, namespace: str, name: str) -> dict:
    out = _in(node, namespace, "get", "pod", name, "--ignore-not-found", "-o", "json")
    return json.loads(out) if out.strip() else {}


def _running(node: AgentNode, namespace: str, name: str) -> None:
    def ready() -> bool:
        statuses = (_pod(node, namespace, name).get("status") or {}).get(
            "containerStatuses") or []
        return bool(statuses) and all(s.get("ready") for s in statuses)

    node.wait(f"pod {namespace}/{name} not Running", ready, timeout=TIMEOUT)
    assert _pod(node, namespace, name)["status"]["phase"] == "Running"


def _apply(node: AgentNode, namespace: str, manifest: str) -> None:
    path = node.data_dir.parent / f"manifest-{time.monotonic_ns()}.yaml"
    path.write_text(manifest)
    out = _in(node, namespace, "apply", "-f", str(path))
    name = out.split()[0].removeprefix("pod/")
    node.pod_uids.append(_pod(node, namespace, name)["metadata"]["uid"])


def _get_row(node: AgentNode, namespace: str, name: str) -> list[str]:
    return pod_row(node, name, f"--namespace={namespace}")


def _container_cgroup(pod: dict, controller: str, *, index: int = 0) -> Path:
    """The container's cgroup: `/kubepods[/<qos tier>]/pod<uid>/<container id>`."""
    tier = {"Guaranteed": "", "Burstable": "burstable/", "BestEffort": "besteffort/"}[
        pod["status"]["qosClass"]]
    container_id = pod["status"]["containerStatuses"][index]["containerID"].split("//")[1]
    return CGROUP / controller / f"kubepods/{tier}pod{pod['metadata']['uid']}" / container_id


def _failed_scheduling(node: AgentNode, namespace: str, name: str, resource: str) -> None:
    """The pod stays Pending: condition PodScheduled False (Unschedulable) and a
    FailedScheduling warning naming the resource, as `kubectl describe pod` shows them."""
    node.wait(f"no FailedScheduling for {name}", lambda: any(
        e["reason"] == "FailedScheduling"
        for e in json.loads(_in(node, namespace, "get", "events", "--field-selector",
                                f"involvedObject.name={name}", "-o", "json"))["items"]),
        timeout=TIMEOUT)
    described = _in(node, namespace, "describe", "pod", name)
    assert f"Insufficient {resource}" in described
    [line] = [x for x in described.splitlines() if "FailedScheduling" in x]
    assert line.split()[0] == "Warning"
    assert "0/1 nodes are available: 1 Insufficient " in line
    pod = _pod(node, namespace, name)
    assert pod["status"]["phase"] == "Pending"
    assert not pod["spec"].get("nodeName")
    [scheduled] = [c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert (scheduled["status"], scheduled["reason"]) == ("False", "Unschedulable")
    row = _get_row(node, namespace, name)
    assert row[:4] == [name, "0/1", "Pending", "0"]


# --- §1 memory ------------------------------------------------------------------------------


def test_memory_demo_runs_over_its_request_within_its_limit(node: AgentNode) -> None:
    node.kubectl("create", "namespace", "mem-example")
    _apply(node, "mem-example", MEMORY_REQUEST_LIMIT)
    _running(node, "mem-example", "memory-demo")
    assert _get_row(node, "mem-example", "memory-demo")[1:4] == ["1/1", "Running", "0"]
    pod = _pod(node, "mem-example", "memory-demo")
    assert pod["spec"]["containers"][0]["resources"] == {
        "limits": {"memory": "200Mi"}, "requests": {"memory": "100Mi"}}
    cgroup = _container_cgroup(pod, "memory")
    assert (cgroup / "memory.limit_in_bytes").read_text().strip() == str(200 * MiB)
    assert (cgroup.parent / "memory.limit_in_bytes").read_text().strip() == str(200 * MiB)
    # The cgroup shows stress's 150M were used: over the 100Mi request, under the 200Mi
    # limit (`kubectl top` shows about 150Mi: test_kubectl_top.py).
    node.wait("stress has not used its 150M", lambda: int(
        (cgroup / "memory.max_usage_in_bytes").read_text()) >= 150_000_000, timeout=30)
    assert int((cgroup / "memory.max_usage_in_bytes").read_text()) < 200 * MiB
    assert _pod(node, "mem-example", "memory-demo")["status"]["containerStatuses"][0][
        "restartCount"] == 0
    _in(node, "mem-example", "delete", "pod", "memory-demo")
    assert _pod(node, "mem-example", "memory-demo") == {}


def test_memory_demo_2_is_oom_killed_and_restarted_with_back_off(node: AgentNode) -> None:
    node.kubectl("create", "namespace", "mem-example", check=False)
    _apply(node, "mem-example", MEMORY_REQUEST_LIMIT_2)

    def last_terminated() -> dict:
        statuses = (_pod(node, "mem-example", "memory-demo-2").get("status") or {}).get(
            "containerStatuses") or [{}]
        return dict((statuses[0].get("lastState") or {}).get("terminated") or {})

    node.wait("memory-demo-2 not OOM-killed", last_terminated, timeout=TIMEOUT)
    terminated = last_terminated()
    # The doc's lastState: the whole container is killed (memory.oom.group, emulated on
    # cgroup v1 by kajitori.kubelet.oomgroup), so stress ends by SIGKILL: 137.
    assert terminated["reason"] == "OOMKilled"
    assert terminated["exitCode"] == 137
    assert terminated["containerID"].startswith("containerd://")
    assert terminated["finishedAt"]
    assert terminated["startedAt"]
    row = _get_row(node, "mem-example", "memory-demo-2")
    assert row[2] in ("OOMKilled", "CrashLoopBackOff", "Running")
    node.wait("memory-demo-2 not restarted twice", lambda: int(
        _get_row(node, "mem-example", "memory-demo-2")[3].split()[0]) >= 2, timeout=TIMEOUT)
    node.wait("no back-off", lambda: "CrashLoopBackOff" in _get_row(
        node, "mem-example", "memory-demo-2")[2], timeout=TIMEOUT)
    described = _in(node, "mem-example", "describe", "pod", "memory-demo-2")
    lines = described.split("\nEvents:\n")[1].splitlines()
    assert any(x.split()[:2] == ["Normal", "Created"] for x in lines)
    assert any(x.split()[:2] == ["Warning", "BackOff"]
               and "Back-off restarting failed container" in x for x in lines)
    _in(node, "mem-example", "delete", "pod", "memory-demo-2")


def test_memory_demo_3_asks_more_than_the_node_has_and_stays_pending(node: AgentNode) -> None:
    node.kubectl("create", "namespace", "mem-example", check=False)
    _apply(node, "mem-example", MEMORY_REQUEST_LIMIT_3)
    _failed_scheduling(node, "mem-example", "memory-demo-3", "memory")
    assert _pod(node, "mem-example", "memory-demo-3")["spec"]["containers"][0][
        "resources"] == {"limits": {"memory": "1000Gi"}, "requests": {"memory": "1000Gi"}}
    _in(node, "mem-example", "delete", "pod", "memory-demo-3")
    node.kubectl("delete", "namespace", "mem-example", "--timeout=90s")
    assert not node.kubectl("get", "namespace", "mem-example", "--ignore-not-found")


# --- §2 CPU ---------------------------------------------------------------------------------


def _cpu_seconds(cgroup: Path) -> float:
    return int((cgroup / "cpuacct.usage").read_text()) / 1e9


def test_cpu_demo_asks_for_two_cpus_and_gets_its_limit_of_one(node: AgentNode) -> None:
    node.kubectl("create", "namespace", "cpu-example")
    _apply(node, "cpu-example", CPU_REQUEST_LIMIT)
    _running(node, "cpu-example", "cpu-demo")
    pod = _pod(node, "cpu-example", "cpu-demo")
    assert pod["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "1"}, "requests": {"cpu": "500m"}}
    assert '      limits:\n        cpu: "1"\n      requests:\n        cpu: 500m\n' in _in(
        node, "cpu-example", "get", "pod", "cpu-demo", "--output=yaml")
    cpu = _container_cgroup(pod, "cpu")
    for cgroup in (cpu, cpu.parent):
        assert (cgroup / "cpu.cfs_period_us").read_text().strip() == "100000"
        assert (cgroup / "cpu.cfs_quota_us").read_text().strip() == "100000"
        assert (cgroup / "cpu.shares").read_text().strip() == "512"
    # The image's entrypoint is kept, the args replace its command.
    pid = (_container_cgroup(pod, "cpuacct") / "cgroup.procs").read_text().split()[0]
    assert Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:4] == [
        b"/stress", b"-logtostderr", b"-cpus", b"2"]
    # cpuacct over a few seconds shows the two busy threads held to about one CPU (generous
    # bounds: the machine is shared), which `kubectl top` reports as about 1 core.
    acct = _container_cgroup(pod, "cpuacct")
    start, used = time.monotonic(), _cpu_seconds(acct)
    time.sleep(4)
    cores = (_cpu_seconds(acct) - used) / (time.monotonic() - start)
    assert 0.4 <= cores <= 1.3, cores
    assert int(dict(line.split() for line in (cpu / "cpu.stat").read_text().splitlines())[
        "nr_throttled"]) > 0
    _in(node, "cpu-example", "delete", "pod", "cpu-demo")


def test_cpu_demo_2_asks_more_than_the_node_has_and_stays_pending(node: AgentNode) -> None:
    node.kubectl("create", "namespace", "cpu-example", check=False)
    _apply(node, "cpu-example", CPU_REQUEST_LIMIT_2)
    _failed_scheduling(node, "cpu-example", "cpu-demo-2", "cpu")
    _in(node, "cpu-example", "delete", "pod", "cpu-demo-2")
    node.kubectl("delete", "namespace", "cpu-example", "--timeout=90s")


# --- §4 QoS ---------------------------------------------------------------------------------


def _qos(node: AgentNode, name: str, manifest: str) -> dict:
    _apply(node, "qos-example", manifest)
    _running(node, "qos-example", name)
    return _pod(node, "qos-example", name)


def test_qos_classes_and_their_pod_cgroups(node: AgentNode) -> None:
    node.kubectl("create", "namespace", "qos-example")
    pod = _qos(node, "qos-demo", QOS_POD)
    resources = {"cpu": "700m", "memory": "200Mi"}
    assert pod["spec"]["containers"][0]["resources"] == {"limits": resources,
                                                         "requests": resources}
    out = _in(node, "qos-example", "get", "pod", "qos-demo", "--output=yaml")
    assert "      limits:\n        cpu: 700m\n        memory: 200Mi\n" in out
    assert "  qosClass: Guaranteed\n" in out
    guaranteed = CGROUP / f"cpu/kubepods/pod{pod['metadata']['uid']}"
    assert (guaranteed / "cpu.cfs_quota_us").read_text().strip() == "70000"
    assert (guaranteed / "cpu.shares").read_text().strip() == "716"
    assert (CGROUP / f"memory/kubepods/pod{pod['metadata']['uid']}/memory.limit_in_bytes"
            ).read_text().strip() == str(200 * MiB)
    _in(node, "qos-example", "delete", "pod", "qos-demo")

    pod = _qos(node, "qos-demo-2", QOS_POD_2)
    out = _in(node, "qos-example", "get", "pod", "qos-demo-2", "--output=yaml")
    assert ("  - image: nginx\n    imagePullPolicy: Always\n    name: qos-demo-2-ctr\n"
            "    resources:\n      limits:\n        memory: 200Mi\n      requests:\n"
            "        memory: 100Mi\n") in out
    assert "  qosClass: Burstable\n" in out
    assert _container_cgroup(pod, "memory").parent.parent.name == "burstable"
    _in(node, "qos-example", "delete", "pod", "qos-demo-2")

    pod = _qos(node, "qos-demo-3", QOS_POD_3)
    assert pod["spec"]["containers"][0]["resources"] == {}
    assert "    resources: {}\n" in _in(node, "qos-example", "get", "pod", "qos-demo-3",
                                        "--output=yaml")
    assert pod["status"]["qosClass"] == "BestEffort"
    besteffort = _container_cgroup(pod, "cpu").parent
    assert besteffort.parent.name == "besteffort"
    assert (besteffort / "cpu.shares").read_text().strip() == "2"
    _in(node, "qos-example", "delete", "pod", "qos-demo-3")

    pod = _qos(node, "qos-demo-4", QOS_POD_4)
    containers = {c["name"]: c for c in pod["spec"]["containers"]}
    assert containers["qos-demo-4-ctr-1"]["resources"] == {"requests": {"memory": "200Mi"}}
    assert containers["qos-demo-4-ctr-2"]["resources"] == {}
    assert pod["status"]["qosClass"] == "Burstable"
    assert _get_row(node, "qos-example", "qos-demo-4")[1:3] == ["2/2", "Running"]
    _in(node, "qos-example", "delete", "pod", "qos-demo-4")
    node.kubectl("delete", "namespace", "qos-example", "--timeout=90s")


# --- §5 extended resources ------------------------------------------------------------------


def test_extended_resources_advertised_by_a_status_patch_are_scheduled(
        node: AgentNode) -> None:
    node.kubectl("patch", "node", node.name, "--subresource=status", "--type=json",
                 "-p", DONGLE_PATCH)
    assert get(node, "node", node.name)["status"]["capacity"]["example.com/dongle"] == "4"
    # The kubelet keeps the patched capacity and gives it to allocatable, which the
    # scheduler counts.
    node.wait("no dongles allocatable", lambda: (get(node, "node", node.name)["status"].get(
        "allocatable") or {}).get("example.com/dongle") == "4", timeout=60)
    assert "example.com/dongle:  4" in node.kubectl("describe", "node", node.name)

    apply(node, EXTENDED_RESOURCE_POD)
    _running(node, "default", "extended-resource-demo")
    described = node.kubectl("describe", "pod", "extended-resource-demo")
    assert "    Limits:\n      example.com/dongle:  3\n    Requests:\n" \
           "      example.com/dongle:  3\n" in described

    apply(node, EXTENDED_RESOURCE_POD_2)
    _failed_scheduling(node, "default", "extended-resource-demo-2", "example.com/dongle")
    assert [e["reason"] for e in events(node, "extended-resource-demo-2")] == [
        "FailedScheduling"]
    delete(node, "extended-resource-demo", "extended-resource-demo-2")
    assert get(node, "node", node.name)["status"]["capacity"]["example.com/dongle"] == "4"
