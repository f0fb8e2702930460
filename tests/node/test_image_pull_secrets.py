"""imagePullSecrets on a real node, with kubectl: a registry that asks for basic
authentication (Debian's docker-registry with an htpasswd file) holds a private busybox; a pod
naming it without credentials cannot pull it (ErrImagePull, the registry's 401 in the
message); `kubectl create secret docker-registry` and the pod's `imagePullSecrets` let the
kubelet pull it, and the pod runs."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from agentnode import AgentNode, free_port, skip_reason
from tutorialnode import apply, container_status, delete, events, get, tutorial_node
from tutorialregistry import push, serving_registry

from kajitori.kubelet import imagebuild

pytestmark = pytest.mark.node

USER, PASSWORD = "kajitori", "s3cret-pull"
POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  containers:
  - name: app
    image: {image}
    command: ["sleep", "3600"]
{secrets}"""


@pytest.fixture(scope="module")
def private_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The name of busybox in a registry that wants USER and PASSWORD."""
    if shutil.which("htpasswd") is None:
        pytest.skip("needs htpasswd (apt-get install apache2-utils)")
    directory = tmp_path_factory.mktemp("kjtprivateregistry")
    host = f"127.0.0.1:{free_port()}"
    image = f"{host}/private/busybox:latest"
    built = dataclasses.replace(imagebuild.build_builtin("busybox"), names=(image,))
    with serving_registry(directory, host):
        push(host, built)  # before authentication is on
    htpasswd = directory / "htpasswd"
    htpasswd.write_text(subprocess.run(["htpasswd", "-Bbn", USER, PASSWORD], check=True,
                                       capture_output=True, text=True).stdout)
    with serving_registry(directory, host, htpasswd=htpasswd):
        yield image


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, private_image: str) -> Iterator[AgentNode]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with tutorial_node(tmp_path_factory.mktemp("kjtpullsecrets")) as ready:
        yield ready


def test_without_credentials_the_pull_is_refused(node: AgentNode, private_image: str) -> None:
    apply(node, POD.format(name="no-credentials", image=private_image, secrets=""))
    node.wait("no ErrImagePull", lambda: any(
        e["reason"] == "Failed" and e["message"] == "Error: ErrImagePull"
        for e in events(node, "no-credentials")), timeout=60)
    failed = [e["message"] for e in events(node, "no-credentials") if e["reason"] == "Failed"]
    assert any(m.startswith(f'Failed to pull image "{private_image}": ') and
               "401 Unauthorized" in m for m in failed), failed
    assert get(node, "pod", "no-credentials")["status"]["phase"] == "Pending"
    delete(node, "no-credentials")


def test_image_pull_secrets_let_the_kubelet_pull(node: AgentNode, private_image: str) -> None:
    host = private_image.split("/", 1)[0]
    node.kubectl("create", "secret", "docker-registry", "regcred", f"--docker-server={host}",
                 f"--docker-username={USER}", f"--docker-password={PASSWORD}")
    apply(node, POD.format(name="with-credentials", image=private_image,
                           secrets="  imagePullSecrets:\n  - name: regcred\n"))
    node.wait("pod not Running", lambda: get(node, "pod", "with-credentials").get(
        "status", {}).get("phase") == "Running", timeout=60)
    status = container_status(node, "with-credentials")
    assert status["ready"] is True
    assert status["imageID"]
    pulled = [e["message"] for e in events(node, "with-credentials") if e["reason"] == "Pulled"]
    assert pulled
    assert pulled[0].startswith(f'Successfully pulled image "{private_image}" in ')
    delete(node, "with-credentials")
