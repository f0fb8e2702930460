"""`kubectl exec` and `attach` through the apiserver to the agent's kubelet and on to containerd,
on a real node (`agentnode`), over both of kubectl's transports: WebSocket `v5.channel.k8s.io`
(its default; every exec ends with a clean WebSocket close) and plain SPDY/3.1
(`KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false`, older kubectls). kubectl prints the output and exits
with the command's code; stdin reaches the command and closing it ends the command; a terminal
(`-t`, from `script`) makes the command's stdin and stdout a tty.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterator

import pytest
from agentnode import KUBECTL, AgentNode, running_agent_node, skip_reason

pytestmark = pytest.mark.node

CONTROLLERS = ("serviceaccount", "root-ca-cert-publisher", "nodeipam")
POD = "kjt-exec"
EXEC_ROUNDS = 30
"""Enough rounds to catch a close race: before the fix about a third of them failed."""
TRANSPORTS = {"websocket": {}, "spdy": {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"}}
READER = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  restartPolicy: Never
  containers:
  - name: reader
    image: busybox
    imagePullPolicy: IfNotPresent
    stdin: true
    stdinOnce: true
    command: ["sh", "-c", "while read line; do echo got $line; done"]
"""
"""A container reading its stdin until the first attached client closes it."""


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


@pytest.fixture(params=list(TRANSPORTS))
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _env(node: AgentNode, transport: str) -> dict[str, str]:
    return {**os.environ, "KUBECONFIG": str(node.kubeconfig), "HOME": str(node.data_dir),
            **TRANSPORTS[transport]}


def _kubectl(node: AgentNode, *args: str, transport: str, stdin: str | None = None
             ) -> subprocess.CompletedProcess[str]:
    """kubectl over `transport` against the node's server, whatever its exit code."""
    return subprocess.run([str(KUBECTL), *args], input=stdin, capture_output=True, text=True,
                          env=_env(node, transport), timeout=60, check=False)


def _in_a_terminal(node: AgentNode, *args: str, transport: str
                   ) -> subprocess.CompletedProcess[str]:
    """kubectl with a terminal made by `script`, which passes on its exit code; what the
    terminal showed, with carriage returns removed."""
    result = subprocess.run(["script", "-qefc", shlex.join([str(KUBECTL), *args]), "/dev/null"],
                            capture_output=True,
                            text=True, env=_env(node, transport), timeout=60, check=False,
                            stdin=subprocess.DEVNULL)
    result.stdout = result.stdout.replace("\r", "")
    return result


def test_exec_prints_the_output_and_exits_zero_every_time(node: AgentNode,
                                                          transport: str) -> None:
    for _ in range(EXEC_ROUNDS):
        result = _kubectl(node, "exec", POD, "--", "echo", "hi", transport=transport)
        assert (result.returncode, result.stdout, result.stderr) == (0, "hi\n", "")


def test_exec_passes_on_the_exit_code_and_both_streams(node: AgentNode, transport: str) -> None:
    result = _kubectl(node, "exec", POD, "--", "sh", "-c", "echo out; echo err >&2; exit 3",
                      transport=transport)
    assert result.returncode == 3
    assert result.stdout == "out\n"
    assert result.stderr == "err\ncommand terminated with exit code 3\n"


def test_exec_stdin_reaches_the_command_and_closing_it_ends_the_command(
        node: AgentNode, transport: str) -> None:
    for _ in range(3):
        result = _kubectl(node, "exec", "-i", POD, "--", "cat", stdin="through-stdin\n",
                          transport=transport)
        assert (result.returncode, result.stdout, result.stderr) == (0, "through-stdin\n", "")
    result = _kubectl(node, "exec", "-i", POD, "--", "wc", "-c", stdin="x" * 100_000,
                      transport=transport)
    assert (result.returncode, result.stdout.strip()) == (0, "100000")


def test_exec_with_a_terminal(node: AgentNode, transport: str) -> None:
    result = _in_a_terminal(node, "exec", "-it", POD, "--", "sh", "-c",
                            "tty; test -t 0 && test -t 1 && echo both-ttys; exit 5",
                            transport=transport)
    assert result.returncode == 5
    assert re.fullmatch(r"/dev/pts/\d+\nboth-ttys\ncommand terminated with exit code 5\n",
                        result.stdout), result.stdout


def test_attach_passes_stdin_and_output(node: AgentNode, transport: str) -> None:
    name = f"reader-{transport}"
    subprocess.run([str(KUBECTL), "apply", "-f", "-"], input=READER.format(name=name),
                   text=True, env=_env(node, transport), check=True, capture_output=True)
    pod = json.loads(node.kubectl("get", "pod", name, "-o", "json"))
    node.pod_uids.append(pod["metadata"]["uid"])
    node.wait(f"{name} not Running", lambda: node.kubectl(
        "get", "pod", name, "-o", "jsonpath={.status.phase}") == "Running")
    result = _kubectl(node, "attach", "-i", name, stdin="one\ntwo\n", transport=transport)
    assert (result.returncode, result.stdout) == (0, "got one\ngot two\n")
    # stdinOnce: the container's stdin closed with kubectl's, so its loop ended.
    node.wait(f"{name} not Succeeded", lambda: node.kubectl(
        "get", "pod", name, "-o", "jsonpath={.status.phase}") == "Succeeded")


def test_exec_of_a_missing_command_fails_with_the_runtimes_message(node: AgentNode,
                                                                   transport: str) -> None:
    result = _kubectl(node, "exec", POD, "--", "no-such-command", transport=transport)
    assert result.returncode == 1
    assert result.stderr.startswith(
        "error: Internal error occurred: error executing command in container: ")
    assert 'exec: "no-such-command": executable file not found in $PATH' in result.stderr
