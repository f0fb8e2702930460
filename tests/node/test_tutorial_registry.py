"""A node given the tutorial registry's registries.yaml pulls the tutorials' images by their
real names: `nginx` (untagged, so imagePullPolicy Always) comes through the docker.io mirror
and serves its welcome page on the pod IP."""

from __future__ import annotations

import ipaddress
import json
import random
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from agentnode import AgentNode, running_agent_node, skip_reason

from kajitori.kubelet import imagebuild

pytestmark = pytest.mark.node

CONTROLLERS = ("serviceaccount", "root-ca-cert-publisher")
"""Without the node IPAM controller: the Node gets a pod CIDR of its own (below), as every
test server's IPAM hands its first node 10.42.0.0/24 and other sessions' nodes may have it."""
NGINX_POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nginx"},
             "spec": {"containers": [{"name": "nginx", "image": "nginx",
                                      "ports": [{"containerPort": 80}]}]}}


def _free_pod_cidr() -> str:
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True,
                            check=True).stdout
    taken = {ipaddress.ip_network(line.split()[0], strict=False)
             for line in routes.splitlines() if line.startswith("10.42.")}
    return random.choice([f"10.42.{n}.0/24" for n in range(100, 250)
                          if ipaddress.ip_network(f"10.42.{n}.0/24") not in taken])


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, tutorial_registry: Path
         ) -> Iterator[AgentNode]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with running_agent_node(tmp_path_factory.mktemp("kjtregistrynode"), controllers=CONTROLLERS,
                            registries=tutorial_registry) as node:
        node.wait("node not registered", lambda: node.kubectl(
            "get", "node", node.name, "--ignore-not-found", "-o", "name"))
        cidr = _free_pod_cidr()
        node.kubectl("patch", "node", node.name, "-p",
                     json.dumps({"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}}))
        node.wait("node not Ready", node.ready)
        yield node


def _pod(node: AgentNode, name: str) -> dict:  # type: ignore[type-arg]
    return json.loads(node.kubectl("get", "pod", name, "-o", "json"))


def _run(node: AgentNode, pod: dict) -> dict:  # type: ignore[type-arg]
    """Applies `pod` and returns it once Running."""
    name = pod["metadata"]["name"]
    manifest = node.data_dir.parent / f"{name}.json"
    manifest.write_text(json.dumps(pod))
    node.kubectl("apply", "-f", str(manifest))
    node.pod_uids.append(_pod(node, name)["metadata"]["uid"])
    node.wait(f"{name} not Running",
              lambda: _pod(node, name)["status"].get("phase") == "Running", timeout=120)
    return _pod(node, name)


def _simple_pod(name: str, image: str, **container: object) -> dict:  # type: ignore[type-arg]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": name, "image": image, **container}]}}


def test_nginx_is_pulled_through_the_mirror_and_serves_its_page(node: AgentNode) -> None:
    pod = _run(node, NGINX_POD)
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "Always"
    [status] = pod["status"]["containerStatuses"]
    built = imagebuild.build_builtin("nginx")
    assert status["image"] == "docker.io/library/nginx:latest"
    assert status["imageID"] == f"docker.io/library/nginx@{built.manifest_digest}"
    reasons = node.kubectl("get", "events", "--field-selector", "involvedObject.name=nginx",
                           "-o", "jsonpath={.items[*].reason}").split()
    assert "Pulled" in reasons
    with urllib.request.urlopen(f"http://{pod['status']['podIP']}/", timeout=10) as response:
        assert response.status == 200
        assert "Welcome to nginx!" in response.read().decode()


def test_redis_runs_as_pid_1_as_user_redis_in_data(node: AgentNode) -> None:
    _run(node, _simple_pod("redis", "redis"))
    ps = node.kubectl("exec", "redis", "--", "ps", "aux").splitlines()
    assert ps[0].split() == ["USER", "PID", "%CPU", "%MEM", "VSZ", "RSS", "TTY", "STAT",
                             "START", "TIME", "COMMAND"]
    pid1 = next(line.split() for line in ps[1:] if line.split()[1] == "1")
    assert pid1[0] == "redis"
    assert pid1[10:] == ["redis-server", "*:6379"]
    assert node.kubectl("exec", "redis", "--", "/bin/bash", "-c", "pwd").strip() == "/data"


def test_node_hello_keeps_the_shell_as_pid_1(node: AgentNode) -> None:
    pod = _run(node, _simple_pod("node-hello", "gcr.io/google-samples/node-hello:1.0"))
    commands = {" ".join(line.split()[10:])
                for line in node.kubectl("exec", "node-hello", "--", "ps", "aux").splitlines()}
    assert {"/bin/sh -c node server.js", "node server.js"} <= commands
    with urllib.request.urlopen(f"http://{pod['status']['podIP']}:8080/", timeout=10) as response:
        assert response.read() == b"Hello Kubernetes!"


def test_agnhost_user_and_groups_come_from_the_image(node: AgentNode) -> None:
    _run(node, _simple_pod("agnhost", "registry.k8s.io/e2e-test-images/agnhost:2.45",
                           command=["sh", "-c", "sleep 1h"],
                           securityContext={"runAsUser": 1000}))
    ids = node.kubectl("exec", "agnhost", "--", "id").split()
    assert ids[0] == "uid=1000(user-defined-in-image)"
    assert "50000(group-defined-in-image)" in ids[-1]


def test_vish_stress_keeps_its_entrypoint(node: AgentNode) -> None:
    _run(node, _simple_pod("cpu-demo", "vish/stress", args=["-cpus", "1"]))
    node.wait("no CPU thread logged", lambda: "Spawning a thread to consume CPU" in node.kubectl(
        "logs", "cpu-demo"))
    assert node.kubectl("exec", "cpu-demo", "--", "cat", "/proc/1/cmdline").split("\0")[:4] == [
        "/stress", "-logtostderr", "-cpus", "1"]


def test_polinux_stress_is_on_the_path(node: AgentNode) -> None:
    _run(node, _simple_pod("memory-demo", "polinux/stress", command=["stress"],
                           args=["--vm", "1", "--vm-bytes", "20M", "--vm-hang", "1"]))
    comms = node.kubectl("exec", "memory-demo", "--", "ps", "-o", "comm").split()
    assert comms.count("stress") == 2  # the master and its one --vm worker


def test_goproxy_accepts_tcp_on_8080(node: AgentNode) -> None:
    pod = _run(node, _simple_pod("goproxy", "registry.k8s.io/goproxy:0.1"))
    with socket.create_connection((pod["status"]["podIP"], 8080), timeout=10):
        pass
