"""`kubectl port-forward` through the apiserver and the kubelet to containerd, on a real node
with the nginx image, over both transports kubectl has: SPDY tunnelled in WebSocket (its
default) and plain SPDY/3.1 (`KUBECTL_PORT_FORWARD_WEBSOCKETS=false`, older kubectls).

The pod `pf` runs nginx on 80 (container port named `http`) and busybox's httpd on 8081; the
Deployment `web` runs nginx behind the Service `web` (port 8080, targetPort `http`). HTTP
requests come from the test (urllib) to kubectl's local ports, picked free.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from agentnode import KUBECTL, AgentNode, free_port, skip_reason
from tutorialnode import apply, tutorial_node

pytestmark = pytest.mark.node

CONTROLLERS = ("serviceaccount", "root-ca-cert-publisher", "deployment", "replicaset")
MANIFESTS = """\
apiVersion: v1
kind: Pod
metadata:
  name: pf
  labels:
    app: pf
spec:
  containers:
  - name: nginx
    image: nginx
    imagePullPolicy: IfNotPresent
    ports:
    - name: http
      containerPort: 80
  - name: second
    image: nginx
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "mkdir /www && echo second > /www/index.html &&
      exec busybox httpd -f -p 8081 -h /www"]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx
        imagePullPolicy: IfNotPresent
        ports:
        - name: http
          containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - port: 8080
    targetPort: http
"""
WELCOME = "<title>Welcome to nginx!</title>"
SEQUENTIAL = 100
PARALLEL = 20
TRANSPORTS = {"websocket": {}, "spdy": {"KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"}}
FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, tutorial_registry: Path
         ) -> Iterator[AgentNode]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with tutorial_node(tmp_path_factory.mktemp("kjtpf"), controllers=CONTROLLERS,
                       registries=tutorial_registry) as node:
        apply(node, MANIFESTS)
        node.wait("pods not Running", lambda: node.kubectl(
            "get", "pods", "-o", "jsonpath={.items[*].status.phase}").split() ==
            ["Running", "Running"], timeout=90)
        for name in node.kubectl("get", "pods", "-o",
                                 "jsonpath={.items[*].metadata.uid}").split():
            node.pod_uids.append(name)
        yield node


class PortForward:
    """A running `kubectl port-forward`: its output so far, read by a thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.output: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    @property
    def text(self) -> str:
        return "".join(self.output)

    def wait_forwarding(self, count: int) -> None:
        deadline = time.monotonic() + 30
        while len(FORWARDING.findall(self.text)) < count:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"kubectl port-forward is not forwarding:\n{self.text}")
            time.sleep(0.1)

    def wait_exit(self) -> int:
        code = self.process.wait(30)
        self._reader.join(5)
        return code


@contextmanager
def port_forward(node: AgentNode, target: str, *ports: str, transport: str = "websocket",
                 ready: bool = True) -> Iterator[PortForward]:
    """`kubectl port-forward target ports...` (stderr merged into the output) until the block
    ends; waits for a `Forwarding from` line per port unless `ready` is false."""
    env = {**os.environ, "KUBECONFIG": str(node.kubeconfig), "HOME": str(node.data_dir),
           **TRANSPORTS[transport]}
    process = subprocess.Popen([str(KUBECTL), "port-forward", target, *ports],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env)
    forward = PortForward(process)
    try:
        if ready:
            forward.wait_forwarding(len(ports))
        yield forward
    finally:
        if process.poll() is None:
            process.terminate()
        forward.wait_exit()


def get(port: int, path: str = "/") -> tuple[int, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=20) as response:
        return response.status, response.read().decode()


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_sequential_and_parallel_requests_to_a_pod(node: AgentNode, transport: str) -> None:
    local = free_port()
    with port_forward(node, "pod/pf", f"{local}:80", transport=transport) as forward:
        assert f"Forwarding from 127.0.0.1:{local} -> 80\n" in forward.text
        for _ in range(SEQUENTIAL):
            status, body = get(local)
            assert (status, WELCOME in body) == (200, True)
        with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
            answers = list(pool.map(lambda _: get(local), range(PARALLEL)))
        assert [(status, WELCOME in body) for status, body in answers] == \
            [(200, True)] * PARALLEL
        assert forward.process.poll() is None
    assert "error" not in forward.text.lower()


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_two_ports_at_once(node: AgentNode, transport: str) -> None:
    first, second = free_port(), free_port()
    with port_forward(node, "pod/pf", f"{first}:80", f"{second}:8081",
                      transport=transport):
        for _ in range(5):
            assert WELCOME in get(first)[1]
            assert get(second) == (200, "second\n")


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_deployment_and_service_resolve_to_a_pod(node: AgentNode, transport: str) -> None:
    local = free_port()
    with port_forward(node, "deployment/web", f"{local}:80", transport=transport):
        assert WELCOME in get(local)[1]
    local = free_port()
    with port_forward(node, "service/web", f"{local}:8080", transport=transport) as forward:
        # kubectl resolves the Service's port 8080 to targetPort `http`, the pod's port 80.
        assert f"Forwarding from 127.0.0.1:{local} -> 80\n" in forward.text
        assert WELCOME in get(local)[1]


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_a_port_nothing_listens_on_reports_the_error(node: AgentNode, transport: str) -> None:
    """containerd's message (upstream's streaming server and its PortForward) on the
    connection's error stream; kubectl 1.33 then ends that session itself. Another session
    to the same pod, and the servers on the way, carry on."""
    kept = free_port()
    with port_forward(node, "pod/pf", f"{kept}:80", transport=transport) as other:
        refused = free_port()
        with port_forward(node, "pod/pf", f"{refused}:81", transport=transport) as forward:
            with pytest.raises((ConnectionError, urllib.error.URLError)):
                get(refused)
            assert forward.wait_exit() == 1
        assert re.search(
            r'"An error occurred forwarding" err="error forwarding port 81 to pod '
            r"(?P<sandbox>[0-9a-f]{64}), uid : failed to execute portforward in network "
            r'namespace \\"[^"]+\\": failed to connect to localhost:81 inside namespace '
            r'\\"(?P=sandbox)\\", IPv4: dial tcp4 127.0.0.1:81: connect: connection refused '
            rf'.*" localPort={refused} remotePort=81\n', forward.text), forward.text
        assert forward.text.endswith("error: lost connection to pod\n")
        assert WELCOME in get(kept)[1]
        assert other.process.poll() is None


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_the_forward_ends_with_an_error_when_the_pod_dies(node: AgentNode,
                                                          transport: str) -> None:
    pod = f"doomed-{transport}"
    node.kubectl("run", pod, "--image=nginx", "--image-pull-policy=IfNotPresent")
    node.pod_uids.append(node.kubectl("get", "pod", pod, "-o", "jsonpath={.metadata.uid}"))
    node.wait(f"{pod} not Running", lambda: node.kubectl(
        "get", "pod", pod, "-o", "jsonpath={.status.phase}") == "Running", timeout=60)
    local = free_port()
    with port_forward(node, f"pod/{pod}", f"{local}:80", transport=transport) as forward:
        assert WELCOME in get(local)[1]
        node.kubectl("delete", "pod", pod, "--wait=true")
        deadline = time.monotonic() + 30
        while forward.process.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                get(local)
            time.sleep(0.5)
        assert forward.wait_exit() == 1
    # The next connection finds the sandbox gone (containerd: `network namespace for sandbox
    # ... is closed`), and kubectl gives up.
    assert '"An error occurred forwarding" err="error forwarding port 80 to pod ' in \
        forward.text, forward.text
    assert forward.text.endswith("error: lost connection to pod\n"), forward.text
