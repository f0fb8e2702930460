"""A node given the tutorial registry's registries.yaml pulls the tutorials' images by their
real names: `nginx` (untagged, so imagePullPolicy Always) comes through the docker.io mirror
and serves its welcome page on the pod IP."""

from __future__ import annotations

import ipaddress
import json
import random
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


def test_nginx_is_pulled_through_the_mirror_and_serves_its_page(node: AgentNode) -> None:
    manifest = node.data_dir.parent / "nginx.json"
    manifest.write_text(json.dumps(NGINX_POD))
    node.kubectl("apply", "-f", str(manifest))
    node.pod_uids.append(_pod(node, "nginx")["metadata"]["uid"])
    node.wait("nginx not Running",
              lambda: _pod(node, "nginx")["status"].get("phase") == "Running", timeout=120)
    pod = _pod(node, "nginx")
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
