"""Tutorial "Create static Pods" (seed-003b section 16) with the real kubectl against a real
node: the docs' static-web manifest put in the kubelet's manifest directory (the agent's
`staticPodPath`) runs nginx and shows as the mirror pod `static-web-<node>`, selectable by its
label; deleting the mirror pod does not touch the pod (the mirror comes back, RESTARTS 0);
a container stopped on the node is started again; moving the manifest out and back removes
the pod and brings it back.

`docker ps` / `docker stop` on the node become the same questions to the node's containerd
over CRI (ListContainers, StopContainer), as `crictl ps` / `crictl stop` would ask them.
Restarting the kubelet with `--pod-manifest-path` is not needed: the agent has one from the
start. (`tests/node/test_agent_node.py` covers a busybox static pod's mirror; here are the
docs' steps with their manifest.)
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from agentnode import AgentNode, skip_reason
from tutorialnode import get, pod_row, tutorial_node

from kajitori.kubelet import cri

pytestmark = pytest.mark.node

STATIC_WEB = """\
apiVersion: v1
kind: Pod
metadata:
  name: static-web
  labels:
    role: myrole
spec:
  containers:
    - name: web
      image: nginx
      ports:
        - name: web
          containerPort: 80
          protocol: TCP
"""
SCAN_WAIT = 40.0
"""Seconds the kubelet may take to see a manifest come or go: the docs' `sleep 20` is its
fileCheckFrequency (20 s), with room for the pull and start."""


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, tutorial_registry: Path
         ) -> Iterator[AgentNode]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with tutorial_node(tmp_path_factory.mktemp("kjtstatic"),
                       registries=tutorial_registry) as node:
        yield node


def _running_web_containers(node: AgentNode) -> list[str]:
    """`docker ps` on the node: ids of the running containers named `web` of static-web."""

    async def ps() -> list[str]:
        async with cri.CRIRuntime(node.socket) as runtime:
            containers = await runtime.list_containers()
        return [c.id for c in containers if c.metadata.name == "web"
                and c.labels.get("io.kubernetes.pod.name") == f"static-web-{node.name}"
                and c.state == 1]  # CONTAINER_RUNNING

    return asyncio.run(ps())


def _stop(node: AgentNode, container_id: str) -> None:
    """`docker stop <id>` on the node."""

    async def stop() -> None:
        async with cri.CRIRuntime(node.socket) as runtime:
            await runtime.stop_container(container_id, grace_seconds=10)

    asyncio.run(stop())


def test_static_web_from_the_manifest_directory(node: AgentNode, tmp_path: Path) -> None:
    manifests = node.data_dir / "manifests"
    manifests.mkdir(exist_ok=True)
    # Files whose names start with a dot are ignored.
    (manifests / ".static-web.yaml").write_text(STATIC_WEB.replace("static-web", "hidden-web"))
    (manifests / "static-web.yaml").write_text(STATIC_WEB)
    mirror = f"static-web-{node.name}"

    node.wait("no static-web container running", lambda: _running_web_containers(node),
              timeout=SCAN_WAIT + 60)
    node.wait("mirror pod not Running", lambda: get(node, "pod", mirror) and pod_row(
        node, mirror)[1:4] == ["1/1", "Running", "0"], timeout=SCAN_WAIT)
    [container] = _running_web_containers(node)
    first = get(node, "pod", mirror)
    node.pod_uids.append(first["metadata"]["annotations"]["kubernetes.io/config.hash"])
    assert first["metadata"]["labels"] == {"role": "myrole"}
    assert first["spec"]["nodeName"] == node.name
    assert first["metadata"]["annotations"]["kubernetes.io/config.source"] == "file"
    assert not get(node, "pod", f"hidden-web-{node.name}")
    # Labels of the static pod are those of the mirror pod: selectors see it.
    assert node.kubectl("get", "pods", "-l", "role=myrole", "-o", "name") == f"pod/{mirror}\n"

    # Deleting the mirror pod does not delete the static pod.
    assert node.kubectl("delete", "pod", mirror) == \
        f'pod "{mirror}" deleted from default namespace\n'
    node.wait("mirror pod not recreated", lambda: get(node, "pod", mirror).get(
        "metadata", {}).get("uid") not in (None, first["metadata"]["uid"]), timeout=SCAN_WAIT)
    node.wait("recreated mirror not Running", lambda: pod_row(node, mirror)[1:4] == [
        "1/1", "Running", "0"], timeout=SCAN_WAIT)
    again = get(node, "pod", mirror)
    assert again["metadata"]["creationTimestamp"] >= first["metadata"]["creationTimestamp"]
    assert _running_web_containers(node) == [container]

    # A container stopped on the node is started again.
    _stop(node, container)
    node.wait("static-web's container not started again", lambda: [
        c for c in _running_web_containers(node) if c != container], timeout=SCAN_WAIT)
    node.wait("mirror pod not Running again", lambda: pod_row(node, mirror)[1:3] == [
        "1/1", "Running"], timeout=SCAN_WAIT)
    assert pod_row(node, mirror)[3].startswith("1 (")

    # mv /etc/kubernetes/manifests/static-web.yaml /tmp: no nginx container, no mirror pod.
    shutil.move(manifests / "static-web.yaml", tmp_path / "static-web.yaml")
    node.wait("static-web still running", lambda: not _running_web_containers(node)
              and not get(node, "pod", mirror), timeout=SCAN_WAIT + 30)
    # ... and back: a new container, and the mirror pod again.
    shutil.move(tmp_path / "static-web.yaml", manifests / "static-web.yaml")
    node.wait("static-web not started again", lambda: _running_web_containers(node),
              timeout=SCAN_WAIT + 30)
    node.wait("mirror pod not back", lambda: get(node, "pod", mirror) and pod_row(
        node, mirror)[1:3] == ["1/1", "Running"], timeout=SCAN_WAIT)

    (manifests / "static-web.yaml").unlink()
    (manifests / ".static-web.yaml").unlink()
    node.wait("static-web not removed", lambda: not get(node, "pod", mirror), timeout=SCAN_WAIT)


def test_a_json_manifest_is_a_static_pod_too(node: AgentNode) -> None:
    manifests = node.data_dir / "manifests"
    manifests.mkdir(exist_ok=True)
    pod = yaml.safe_load(STATIC_WEB.replace("static-web", "static-json"))
    (manifests / "static-json.json").write_text(json.dumps(pod))
    mirror = f"static-json-{node.name}"
    node.wait("JSON static pod not Running", lambda: get(node, "pod", mirror) and pod_row(
        node, mirror)[1:3] == ["1/1", "Running"], timeout=SCAN_WAIT + 60)
    node.pod_uids.append(
        get(node, "pod", mirror)["metadata"]["annotations"]["kubernetes.io/config.hash"])
    (manifests / "static-json.json").unlink()
    node.wait("JSON static pod not removed", lambda: not get(node, "pod", mirror),
              timeout=SCAN_WAIT)
