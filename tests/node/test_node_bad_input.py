"""Issue #6's bad input on a real node, as kubectl shows it: an image that exists nowhere goes
ErrImagePull then ImagePullBackOff; a command that does not exist is a StartError (the
runtime's message) and the container waits in RunContainerError or CrashLoopBackOff; a sysctl
outside the safe set is refused by the kubelet (SysctlForbidden) and the pod fails without
running. The node has no registry mirror: the missing image is asked of a registry on a
loopback port where nothing listens, so nothing leaves the machine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from agentnode import AgentNode, skip_reason
from tutorialnode import apply, container_status, delete, events, get, tutorial_node

pytestmark = pytest.mark.node

MISSING_IMAGE = """\
apiVersion: v1
kind: Pod
metadata:
  name: no-such-image
spec:
  containers:
  - name: app
    image: 127.0.0.1:9/kajitori/no-such-image:1.0
"""
MISSING_COMMAND = """\
apiVersion: v1
kind: Pod
metadata:
  name: no-such-command
spec:
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["/no/such/command"]
"""
UNSAFE_SYSCTL = """\
apiVersion: v1
kind: Pod
metadata:
  name: unsafe-sysctl
spec:
  securityContext:
    sysctls:
    - name: net.core.somaxconn
      value: "1024"
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
"""


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentNode]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with tutorial_node(tmp_path_factory.mktemp("kjtbad")) as ready:
        yield ready


def waiting_reasons(node: AgentNode, pod: str, seen: set[str]) -> set[str]:
    """Adds the container's current waiting reason to `seen`; returns `seen`."""
    waiting = (container_status(node, pod).get("state") or {}).get("waiting") or {}
    if waiting.get("reason"):
        seen.add(str(waiting["reason"]))
    return seen


def test_a_missing_image_is_err_image_pull_then_image_pull_back_off(node: AgentNode) -> None:
    apply(node, MISSING_IMAGE)
    seen: set[str] = set()
    node.wait("no ErrImagePull then ImagePullBackOff", lambda: {
        "ErrImagePull", "ImagePullBackOff"} <= waiting_reasons(node, "no-such-image", seen),
        timeout=120)
    reasons = [(e["type"], e["reason"]) for e in events(node, "no-such-image")]
    assert ("Normal", "Pulling") in reasons
    assert ("Warning", "Failed") in reasons
    assert ("Normal", "BackOff") in reasons
    failed = [e["message"] for e in events(node, "no-such-image") if e["reason"] == "Failed"]
    assert any(m.startswith('Failed to pull image "127.0.0.1:9/kajitori/no-such-image:1.0": ')
               for m in failed), failed
    assert "Error: ErrImagePull" in failed
    assert get(node, "pod", "no-such-image")["status"]["phase"] == "Pending"
    delete(node, "no-such-image")


def test_a_missing_command_is_a_start_error_with_the_runtimes_message(node: AgentNode) -> None:
    apply(node, MISSING_COMMAND)
    node.wait("the container never failed to start", lambda: (
        container_status(node, "no-such-command").get("lastState") or {}).get("terminated"))
    status = container_status(node, "no-such-command")
    terminated = status["lastState"]["terminated"]
    assert terminated["reason"] == "StartError"
    assert terminated["exitCode"] == 128
    assert "/no/such/command" in terminated["message"]
    assert "no such file or directory" in terminated["message"]
    waiting = (status.get("state") or {}).get("waiting") or {}
    assert waiting.get("reason") in ("RunContainerError", "CrashLoopBackOff"), status
    delete(node, "no-such-command")


def test_an_unsafe_sysctl_is_refused_by_the_kubelet(node: AgentNode) -> None:
    apply(node, UNSAFE_SYSCTL)
    node.wait("pod not failed", lambda: get(node, "pod", "unsafe-sysctl").get(
        "status", {}).get("phase") == "Failed")
    status = get(node, "pod", "unsafe-sysctl")["status"]
    assert status["reason"] == "SysctlForbidden"
    assert status["message"] == ('Pod was rejected: forbidden sysctl: "net.core.somaxconn" '
                                 "not allowlisted")
    assert not status.get("containerStatuses") or all(
        "running" not in s.get("state", {}) for s in status["containerStatuses"])
    assert ("Warning", "SysctlForbidden") in [(e["type"], e["reason"])
                                              for e in events(node, "unsafe-sysctl")]
    delete(node, "unsafe-sysctl")
