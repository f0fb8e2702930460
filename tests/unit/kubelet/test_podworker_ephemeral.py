"""The pod workers with ephemeral containers (`kubectl debug`), over the in-memory runtime:
started in the running pod with upstream's events, the target's PID namespace joined, never
restarted, reported in `ephemeralContainerStatuses`."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from cri_api.v1 import api_pb2
from test_podworker import UID, Node, pod

FIELD_PATH = "spec.ephemeralContainers{debugger}"


@pytest.fixture
def node(tmp_path: Path) -> Node:
    return Node(tmp_path)


def with_debugger(p: dict, **fields: object) -> dict:
    debugged = copy.deepcopy(p)
    debugged["spec"]["ephemeralContainers"] = [
        {"name": "debugger", "image": "busybox", "command": ["ps"], **fields}]
    return debugged


async def test_an_ephemeral_container_starts_in_the_running_pod(node: Node) -> None:
    p = pod()
    await node.sync(p)
    app = node.container("c")
    node.recorder.events.clear()
    status = await node.sync(with_debugger(p))
    assert sorted(node.rt.running()) == ["c", "debugger"]
    assert node.container("c") == app  # the app is not disturbed
    assert node.recorder.events == [("Normal", "Created", "Created container: debugger"),
                                    ("Normal", "Started", "Started container debugger")]
    assert node.recorder.field_paths["Started"] == FIELD_PATH
    (debugger,) = status["ephemeralContainerStatuses"]
    assert debugger["name"] == "debugger"
    assert debugger["state"]["running"]
    assert debugger["containerID"] == f"containerd://{node.container('debugger')}"
    assert (debugger["ready"], debugger["restartCount"]) == (False, 0)
    assert "started" not in debugger
    assert [c["name"] for c in status["containerStatuses"]] == ["c"]
    config = node.rt.containers[node.container("debugger")].config
    assert config.linux.security_context.namespace_options.pid == api_pb2.CONTAINER


async def test_a_targeted_ephemeral_container_joins_the_targets_pid_namespace(
        node: Node) -> None:
    p = pod()
    await node.sync(p)
    await node.sync(with_debugger(p, targetContainerName="c"))
    options = node.rt.containers[node.container("debugger")].config.linux.security_context \
        .namespace_options
    assert (options.pid, options.target_id) == (api_pb2.TARGET, node.container("c"))


async def test_a_shared_process_namespace_is_kept_whatever_the_target(node: Node) -> None:
    p = pod(shareProcessNamespace=True)
    await node.sync(p)
    await node.sync(with_debugger(p, targetContainerName="c"))
    options = node.rt.containers[node.container("debugger")].config.linux.security_context \
        .namespace_options
    assert (options.pid, options.target_id) == (api_pb2.POD, "")


async def test_a_target_that_is_not_running_is_create_container_config_error(
        node: Node) -> None:
    p = pod(policy="OnFailure")
    await node.sync(p)
    node.rt.exit(node.container("c"), 1)
    node.recorder.events.clear()
    status = await node.sync(with_debugger(p, targetContainerName="c"))
    assert node.rt.by_name("debugger") == []
    assert ("Warning", "Failed", "Error: unable to find target container c") in \
        node.recorder.events
    (debugger,) = status["ephemeralContainerStatuses"]
    assert debugger["state"] == {"waiting": {
        "reason": "CreateContainerConfigError",
        "message": "unable to find target container c"}}


async def test_an_exited_ephemeral_container_is_never_restarted(node: Node) -> None:
    p = with_debugger(pod())
    await node.sync(pod())
    await node.sync(p)
    node.rt.exit(node.container("debugger"), 1)
    node.advance(600)
    status = await node.sync(p)
    assert len(node.rt.by_name("debugger")) == 1
    (debugger,) = status["ephemeralContainerStatuses"]
    assert debugger["state"]["terminated"]["exitCode"] == 1
    assert status["phase"] == "Running"


async def test_deleting_the_pod_stops_its_ephemeral_containers(node: Node) -> None:
    p = with_debugger(pod())
    await node.sync(pod())
    await node.sync(p)
    p["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    p["metadata"]["deletionGracePeriodSeconds"] = 30
    await node.sync(p)
    assert node.rt.running() == []
    assert UID in node.volumes.mounted
