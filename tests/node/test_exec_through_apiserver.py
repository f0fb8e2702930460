"""`kubectl exec` through the apiserver to the agent's kubelet and on to containerd, on a real
node (`agentnode`): every exec ends with a clean WebSocket close, so kubectl prints the output
and exits with the command's code; stdin reaches the command and closing it ends the command.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator

import pytest
from agentnode import KUBECTL, AgentNode, running_agent_node, skip_reason

pytestmark = pytest.mark.node

CONTROLLERS = ("serviceaccount", "root-ca-cert-publisher", "nodeipam")
POD = "kjt-exec"
EXEC_ROUNDS = 30
"""Enough rounds to catch a close race: before the fix about a third of them failed."""


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentNode]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with running_agent_node(tmp_path_factory.mktemp("kjtexec"),
                            controllers=CONTROLLERS) as agent:
        agent.wait("node not Ready", agent.ready)
        agent.kubectl("run", POD, "--image=busybox", "--image-pull-policy=IfNotPresent",
                      "--restart=Never", "--command", "--", "sleep", "3600")
        pod = json.loads(agent.kubectl("get", "pod", POD, "-o", "json"))
        agent.pod_uids.append(pod["metadata"]["uid"])
        agent.wait("pod not Running", lambda: agent.kubectl(
            "get", "pod", POD, "-o", "jsonpath={.status.phase}") == "Running")
        yield agent


def _kubectl(node: AgentNode, *args: str, stdin: str | None = None
             ) -> subprocess.CompletedProcess[str]:
    """kubectl against the node's server, whatever its exit code."""
    env = {**os.environ, "KUBECONFIG": str(node.kubeconfig), "HOME": str(node.data_dir)}
    return subprocess.run([str(KUBECTL), *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=60, check=False)


def test_exec_prints_the_output_and_exits_zero_every_time(node: AgentNode) -> None:
    for _ in range(EXEC_ROUNDS):
        result = _kubectl(node, "exec", POD, "--", "echo", "hi")
        assert (result.returncode, result.stdout, result.stderr) == (0, "hi\n", "")


def test_exec_passes_on_the_exit_code_and_both_streams(node: AgentNode) -> None:
    result = _kubectl(node, "exec", POD, "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert result.returncode == 3
    assert result.stdout == "out\n"
    assert result.stderr == "err\ncommand terminated with exit code 3\n"


def test_exec_stdin_reaches_the_command_and_closing_it_ends_the_command(
        node: AgentNode) -> None:
    for _ in range(3):
        result = _kubectl(node, "exec", "-i", POD, "--", "cat", stdin="through-stdin\n")
        assert (result.returncode, result.stdout, result.stderr) == (0, "through-stdin\n", "")
    result = _kubectl(node, "exec", "-i", POD, "--", "wc", "-c", stdin="x" * 100_000)
    assert (result.returncode, result.stdout.strip()) == (0, "100000")


def test_exec_of_a_missing_command_fails_with_the_runtimes_message(node: AgentNode) -> None:
    result = _kubectl(node, "exec", POD, "--", "no-such-command")
    assert result.returncode == 1
    assert result.stderr.startswith(
        "error: Internal error occurred: error executing command in container: ")
    assert 'exec: "no-such-command": executable file not found in $PATH' in result.stderr
