"""A real node: a Kajitori server with the node IPAM controller, and the kubelet starting its own
containerd under a private directory. kubectl sees the node Ready with its address, OS image,
kernel and runtime; a busybox pod runs with an address of the node's podCIDR, and deleting it
stops its container.

The kubelet runs as a child process (`kajitori.kubelet.kubelet.run`, as `kajitori agent` runs
it) with a unique node name, bridge (`kjt<hex>`) and port. At the end the agent is stopped, then
what it leaves running on purpose (pods, containerd) is removed, with the bridge, the mounts
under its directory and its pods' cgroups; `net.ipv4.ip_forward` is put back.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import platform
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from agentnode import AgentNode, running_agent_node, skip_reason

from kajitori.kubelet import cri, nodestatus
from kajitori.pki import certs

pytestmark = pytest.mark.node

CONTROLLERS = ("serviceaccount", "root-ca-cert-publisher", "nodeipam")
ADOPTED_SETTLE_SECONDS = 3.0


@pytest.fixture(scope="module")
def agent_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentNode]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with running_agent_node(tmp_path_factory.mktemp("kjtagent"),
                            controllers=CONTROLLERS) as node:
        yield node


def test_the_node_becomes_ready_with_its_address_os_kernel_and_runtime(
        agent_node: AgentNode) -> None:
    agent_node.wait("node not Ready", agent_node.ready)
    wide = agent_node.kubectl("get", "nodes", "-o", "wide")
    header, *rows = wide.splitlines()
    [row] = [r for r in rows if r.split()[0] == agent_node.name]
    columns = header.split()
    assert columns[:6] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP"]
    os_image = nodestatus.os_image(Path("/etc/os-release").read_text())
    assert row.split()[1] == "Ready"
    assert row.split()[4] == "v1.33.5+kajitori"
    assert row.split()[5] == nodestatus.default_node_ip()
    assert os_image in row
    assert platform.release() in row
    assert row.rstrip().endswith("containerd://1.6.20~ds1")
    node = json.loads(agent_node.kubectl("get", "node", agent_node.name, "-o", "json"))
    assert ipaddress.ip_network(node["spec"]["podCIDR"]).subnet_of(
        ipaddress.ip_network("10.42.0.0/16"))
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == agent_node.name
    lease = json.loads(agent_node.kubectl("get", "lease", "-n", "kube-node-lease",
                                          agent_node.name, "-o", "json"))
    assert lease["spec"]["holderIdentity"] == agent_node.name
    healthz = f"http://127.0.0.1:{agent_node.healthz_port}/healthz"
    with urllib.request.urlopen(healthz, timeout=10) as answer:
        assert answer.read() == b"ok"


def test_a_busybox_pod_runs_in_the_pod_cidr_and_stops_when_deleted(
        agent_node: AgentNode) -> None:
    agent_node.wait("node not Ready", agent_node.ready)
    agent_node.kubectl("run", "kjt-sleep", "--image=busybox", "--image-pull-policy=IfNotPresent",
                       "--restart=Never", "--command", "--", "sh", "-c",
                       "echo hello from $(hostname); exec sleep 3600")
    pod_json = agent_node.kubectl("get", "pod", "kjt-sleep", "-o", "json")
    agent_node.pod_uids.append(json.loads(pod_json)["metadata"]["uid"])
    agent_node.wait("pod not Running", lambda: agent_node.kubectl(
        "get", "pod", "kjt-sleep", "-o", "jsonpath={.status.phase}") == "Running")
    pod = json.loads(agent_node.kubectl("get", "pod", "kjt-sleep", "-o", "json"))
    node = json.loads(agent_node.kubectl("get", "node", agent_node.name, "-o", "json"))
    assert pod["spec"]["nodeName"] == agent_node.name
    assert ipaddress.ip_address(pod["status"]["podIP"]) in \
        ipaddress.ip_network(node["spec"]["podCIDR"])
    [status] = pod["status"]["containerStatuses"]
    assert status["ready"] is True
    assert status["containerID"].startswith("containerd://")
    container_id = status["containerID"].removeprefix("containerd://")
    # Through the apiserver to this kubelet's server, at the node's address and port.
    assert agent_node.kubectl("logs", "kjt-sleep") == "hello from kjt-sleep\n"

    agent_node.kubectl("delete", "pod", "kjt-sleep", "--grace-period=1", "--timeout=60s")

    async def state() -> int | None:
        async with cri.CRIRuntime(agent_node.socket) as runtime:
            try:
                return int((await runtime.container_status(container_id)).state)
            except cri.CRIError:
                return None  # removed

    assert asyncio.run(state()) in (None, 2)  # gone, or CONTAINER_EXITED


STATIC_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: kjt-static
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: sleep
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sleep, "3600"]
"""


def test_a_static_pod_keeps_running_when_its_mirror_is_deleted(agent_node: AgentNode) -> None:
    agent_node.wait("node not Ready", agent_node.ready)
    manifest = agent_node.data_dir / "manifests" / "kjt-static.yaml"
    manifest.write_text(STATIC_POD)
    mirror_name = f"kjt-static-{agent_node.name}"

    def mirror() -> dict:
        out = agent_node.kubectl("get", "pod", mirror_name, "--ignore-not-found", "-o", "json")
        return json.loads(out) if out.strip() else {}

    def container_id() -> str:
        statuses = (mirror().get("status") or {}).get("containerStatuses") or []
        return str(statuses[0].get("containerID") or "") if statuses else ""

    agent_node.wait("static pod not running", lambda: mirror().get("status", {}).get("phase")
          == "Running" and bool(container_id()))
    first = mirror()
    agent_node.pod_uids.append(first["metadata"]["annotations"]["kubernetes.io/config.hash"])
    assert first["metadata"]["annotations"]["kubernetes.io/config.mirror"] == \
        first["metadata"]["annotations"]["kubernetes.io/config.hash"]
    assert first["metadata"]["ownerReferences"][0]["kind"] == "Node"
    running = container_id()

    agent_node.kubectl("delete", "pod", mirror_name, "--wait=false")
    agent_node.wait("mirror pod not recreated", lambda: mirror().get("metadata", {}).get("uid")
          not in (None, first["metadata"]["uid"]))
    agent_node.wait("the recreated mirror pod does not show the same container running",
          lambda: container_id() == running)

    manifest.unlink()
    agent_node.wait("mirror pod not deleted with its manifest", lambda: not mirror())


def test_a_killed_agent_restarts_over_its_running_pods_and_starts_nothing_twice(
        agent_node: AgentNode) -> None:
    agent_node.wait("node not Ready", agent_node.ready)
    agent_node.kubectl("run", "kjt-survivor", "--image=busybox", "--restart=Always",
                       "--image-pull-policy=IfNotPresent", "--command", "--", "sleep", "3600")
    agent_node.pod_uids.append(json.loads(agent_node.kubectl(
        "get", "pod", "kjt-survivor", "-o", "json"))["metadata"]["uid"])
    agent_node.wait("pod not Running", lambda: agent_node.kubectl(
        "get", "pod", "kjt-survivor", "-o", "jsonpath={.status.phase}") == "Running")
    before = json.loads(agent_node.kubectl("get", "pod", "kjt-survivor", "-o", "json"))

    agent_node.kill()
    log_size = agent_node.log.stat().st_size
    agent_node.start()
    agent_node.wait("restarted agent not running its pods", lambda: "running (server on port" in
          agent_node.log.read_bytes()[log_size:].decode(errors="replace"))
    agent_node.kubectl("annotate", "pod", "kjt-survivor", "kajitori.io/poke=1")
    # Nothing to wait for: what is checked is that nothing happens. Give the adopted pod's
    # worker a few relists (1 s each) and syncs to do it wrong.
    time.sleep(ADOPTED_SETTLE_SECONDS)

    after = json.loads(agent_node.kubectl("get", "pod", "kjt-survivor", "-o", "json"))
    assert after["status"]["phase"] == "Running"
    [old], [new] = before["status"]["containerStatuses"], after["status"]["containerStatuses"]
    assert (new["containerID"], new["restartCount"]) == (old["containerID"], 0)
    assert after["status"]["podIP"] == before["status"]["podIP"]

    async def sandboxes() -> int:
        async with cri.CRIRuntime(agent_node.socket) as runtime:
            found = await runtime.list_pod_sandboxes(
                labels={"io.kubernetes.pod.uid": before["metadata"]["uid"]})
            return len(found)

    assert asyncio.run(sandboxes()) == 1
    agent_node.kubectl("delete", "pod", "kjt-survivor", "--grace-period=1", "--timeout=60s")


def test_describe_node_shows_capacity_system_info_pods_allocated_resources_and_events(
        agent_node: AgentNode) -> None:
    agent_node.wait("node not Ready", agent_node.ready)
    agent_node.kubectl("run", "kjt-requests", "--image=busybox", "--restart=Never",
                       "--image-pull-policy=IfNotPresent", "--overrides", json.dumps({
                           "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                               "name": "kjt-requests", "image": "busybox",
                               "imagePullPolicy": "IfNotPresent",
                               "command": ["sleep", "3600"],
                               "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                                             "limits": {"cpu": "200m",
                                                        "memory": "128Mi"}}}]}}))
    agent_node.pod_uids.append(json.loads(agent_node.kubectl(
        "get", "pod", "kjt-requests", "-o", "json"))["metadata"]["uid"])
    agent_node.wait("pod not Running", lambda: agent_node.kubectl(
        "get", "pod", "kjt-requests", "-o", "jsonpath={.status.phase}") == "Running")

    described = agent_node.kubectl("describe", "node", agent_node.name)

    for section in ("Capacity:", "Allocatable:", "System Info:", "Non-terminated Pods:",
                    "Allocated resources:", "Events:"):
        assert f"\n{section}" in described
    assert "Container Runtime Version:  containerd://1.6.20~ds1" in described
    assert f"Kernel Version:             {platform.release()}" in described
    [pod_row] = [line for line in described.splitlines() if " kjt-requests " in line]
    assert pod_row.split()[:3] == ["default", "kjt-requests", "100m"]
    assert "64Mi (" in pod_row
    assert "128Mi (" in pod_row
    allocated = described.split("Allocated resources:")[1].split("Events:")[0]
    [cpu_row] = [line for line in allocated.splitlines() if line.strip().startswith("cpu ")]
    assert cpu_row.split()[1].endswith("m")
    assert cpu_row.split()[2].endswith("%)")
    events = described.split("\nEvents:")[1]
    assert "Starting kubelet." in events
    assert f"Node {agent_node.name} status is now: NodeReady" in events
    agent_node.kubectl("delete", "pod", "kjt-requests", "--grace-period=1", "--timeout=60s")


def test_the_kubelet_asks_the_apiserver_who_may_call_it(agent_node: AgentNode) -> None:
    agent_node.wait("node not Ready", agent_node.ready)
    pki = certs.PKIPaths(agent_node.kubeconfig.parent / "pki")

    def get_pods(cn: str, groups: tuple[str, ...]) -> tuple[int, str]:
        cert_pem, key_pem = certs.issue_client_cert(pki, cn, groups=groups)
        cert, key = agent_node.data_dir / f"{cn}.crt", agent_node.data_dir / f"{cn}.key"
        cert.write_bytes(cert_pem)
        key.write_bytes(key_pem)
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.load_cert_chain(cert, key)
        url = f"https://127.0.0.1:{agent_node.port}/pods"
        try:
            with urllib.request.urlopen(url, context=context, timeout=10) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as refused:
            return refused.code, refused.read().decode()

    assert get_pods("jane", ("dev",)) == (
        403, "Forbidden (user=jane, verb=get, resource=nodes, subresource=proxy)")
    status, body = get_pods("kube-apiserver-kubelet-client", ("kubeadm:cluster-admins",))
    assert status == 200
    assert json.loads(body)["kind"] == "PodList"


def test_kubectl_get_raw_reaches_the_kubelet_through_the_node_proxy(
        agent_node: AgentNode) -> None:
    agent_node.wait("node not Ready", agent_node.ready)
    proxy = f"/api/v1/nodes/{agent_node.name}/proxy"
    summary = json.loads(agent_node.kubectl("get", "--raw", f"{proxy}/stats/summary"))
    assert summary["node"]["nodeName"] == agent_node.name
    assert summary["node"]["memory"]["workingSetBytes"] > 0
    metrics = agent_node.kubectl("get", "--raw", f"{proxy}/metrics/resource")
    assert "\nnode_memory_working_set_bytes " in metrics
    pods = json.loads(agent_node.kubectl("get", "--raw", f"{proxy}/pods"))
    assert pods["kind"] == "PodList"
