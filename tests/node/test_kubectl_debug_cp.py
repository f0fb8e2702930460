"""Into running pods with the real kubectl on a real node: `kubectl cp` both ways (tar in the
container over exec, stdin and stdout streamed), `kubectl run -it --rm`, and `kubectl debug`
with ephemeral containers (pods/ephemeralcontainers; `--target` joins the target's PID
namespace) and with `--copy-to`.

The images are the project's busybox (every applet linked, `tar` and `ps` included), pulled
by their names from the tutorial registry mirror as `--image=busybox` (tag latest, so pulled
Always) asks. Interactive sessions get their commands on a pipe that stays open until kubectl
ends, as a user's terminal would: unless a container is `stdinOnce` without a TTY, containerd
ends an attach as soon as its stdin closes (upstream's behaviour too), before the shell has
answered.
"""

from __future__ import annotations

import filecmp
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from agentnode import KUBECTL, AgentNode, skip_reason
from tutorialnode import delete, events, get, tutorial_node

pytestmark = pytest.mark.node

TIMEOUT = 90.0
COPY_SHELL = ("i=0; while [ $i -lt 20 ] && ! ps -o args | grep -q '^sleep 3600'; do "
              "i=$((i+1)); sleep 0.5; done\nps -o pid,args\nexit\n")
"""The debugger's commands in the copy: the copy's containers start one after the other, so
its shell waits (10 s at most) to see the original's `sleep` before listing the processes."""
SLEEPER = ("run", "--image=busybox", "--restart=Never", "--", "sleep", "3600")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, tutorial_registry: Path
         ) -> Iterator[AgentNode]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with tutorial_node(tmp_path_factory.mktemp("kjtdebug"),
                       registries=tutorial_registry) as node:
        yield node


def _env(node: AgentNode) -> dict[str, str]:
    return {**os.environ, "KUBECONFIG": str(node.kubeconfig), "HOME": str(node.data_dir)}


def kubectl(node: AgentNode, *args: str, input: str | None = None
            ) -> subprocess.CompletedProcess[str]:
    """kubectl whatever its exit code; `input` is piped to it, then its stdin closes."""
    return subprocess.run([str(KUBECTL), *args], capture_output=True, text=True,
                          env=_env(node), input=input, timeout=TIMEOUT, check=False)


def session(node: AgentNode, *args: str, commands: str) -> subprocess.CompletedProcess[str]:
    """kubectl with `commands` typed on a stdin that stays open until kubectl ends."""
    process = subprocess.Popen([str(KUBECTL), *args], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=_env(node))
    assert process.stdin is not None
    assert process.stdout is not None
    assert process.stderr is not None
    output: dict[str, str] = {}
    readers = [threading.Thread(target=lambda n=n, s=s: output.__setitem__(n, s.read()))
               for n, s in (("out", process.stdout), ("err", process.stderr))]
    for reader in readers:
        reader.start()
    process.stdin.write(commands)
    process.stdin.flush()
    try:
        code = process.wait(timeout=TIMEOUT)
    finally:
        process.kill()
        process.stdin.close()
        for reader in readers:
            reader.join()
    return subprocess.CompletedProcess(args, code, output["out"], output["err"])


def running_pod(node: AgentNode, name: str) -> None:
    """A busybox pod `name` sleeping, once it runs."""
    node.kubectl(SLEEPER[0], name, *SLEEPER[1:])
    node.wait(f"pod {name} not Running",
              lambda: (get(node, "pod", name).get("status") or {}).get("phase") == "Running")
    node.pod_uids.append(get(node, "pod", name)["metadata"]["uid"])


def ephemeral_status(node: AgentNode, pod: str, name: str) -> dict:
    statuses = (get(node, "pod", pod).get("status") or {}).get("ephemeralContainerStatuses")
    return next((s for s in statuses or [] if s["name"] == name), {})


def test_cp_round_trips_a_directory(node: AgentNode, tmp_path: Path) -> None:
    running_pod(node, "cp-pod")
    source = tmp_path / "data"
    (source / "sub" / "deeper").mkdir(parents=True)
    (source / "hello.txt").write_text("hello from the host\n")
    (source / "sub" / "random.bin").write_bytes(os.urandom(300_000))
    (source / "sub" / "deeper" / "empty").write_bytes(b"")
    node.kubectl("cp", str(source), "cp-pod:/tmp/data")
    listing = node.kubectl("exec", "cp-pod", "--", "find", "/tmp/data", "-type", "f")
    assert sorted(listing.split()) == ["/tmp/data/hello.txt", "/tmp/data/sub/deeper/empty",
                                       "/tmp/data/sub/random.bin"]
    assert node.kubectl("exec", "cp-pod", "--", "cat", "/tmp/data/hello.txt") == \
        "hello from the host\n"
    back = tmp_path / "back"
    node.kubectl("cp", "cp-pod:/tmp/data", str(back))
    comparison = filecmp.dircmp(source, back)
    assert (comparison.left_only, comparison.right_only) == ([], [])
    for relative in ("hello.txt", "sub/random.bin", "sub/deeper/empty"):
        assert (back / relative).read_bytes() == (source / relative).read_bytes()
    # One file, into a directory that exists: it keeps its name.
    node.kubectl("cp", str(source / "hello.txt"), "cp-pod:/tmp")
    assert node.kubectl("exec", "cp-pod", "--", "cat", "/tmp/hello.txt") == \
        "hello from the host\n"


def test_cp_of_a_missing_path_fails_with_the_message(node: AgentNode, tmp_path: Path) -> None:
    running_pod(node, "cp-missing")
    missing = tmp_path / "nothing-here"
    result = kubectl(node, "cp", str(missing), "cp-missing:/tmp/x")
    assert result.returncode == 1
    assert result.stderr == f"error: {missing} doesn't exist in local filesystem\n"
    present = tmp_path / "file.txt"
    present.write_text("x\n")
    result = kubectl(node, "cp", str(present), "cp-missing:/no/such/dir/file.txt")
    assert result.returncode == 1
    assert "tar: can't change directory to '/no/such/dir': No such file or directory" in \
        result.stderr
    assert result.stderr.endswith("command terminated with exit code 1\n")


def test_run_it_rm_attaches_then_deletes_the_pod(node: AgentNode) -> None:
    result = session(node, "run", "-it", "--rm", "--image=busybox", "--restart=Never",
                     "run-rm", "--", "sh", commands="echo hello from $(hostname)\nexit 0\n")
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith(
        "Unable to use a TTY - input is not a terminal or the right kind of file\n")
    lines = result.stdout.splitlines()
    assert "hello from run-rm" in lines
    assert lines[-1].startswith('pod "run-rm" deleted')
    node.wait("run-rm not deleted", lambda: not get(node, "pod", "run-rm"))


def test_debug_with_target_sees_the_targets_processes(node: AgentNode) -> None:
    running_pod(node, "target")
    result = kubectl(node, "debug", "pod/target", "--image=busybox", "--target=target",
                     "--container=ps", "--", "ps")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('Targeting container "target".')
    node.wait("ps not terminated",
              lambda: "terminated" in ephemeral_status(node, "target", "ps").get("state", {}))
    status = ephemeral_status(node, "target", "ps")
    assert status["state"]["terminated"]["reason"] == "Completed"
    assert (status["ready"], status["restartCount"]) == (False, 0)
    processes = node.kubectl("logs", "target", "-c", "ps").splitlines()
    assert processes[0].split() == ["PID", "USER", "COMMAND"]
    assert processes[1].split() == ["1", "root", "sleep", "3600"]  # the target's PID 1
    sources = [(e["reason"], e["involvedObject"].get("fieldPath")) for e in events(node, "target")]
    for reason in ("Pulling", "Pulled", "Created", "Started"):
        assert (reason, "spec.ephemeralContainers{ps}") in sources
    # An interactive shell in the target's PID namespace.
    shell = session(node, "debug", "-i", "pod/target", "--image=busybox", "--target=target",
                    "--container=shell", "--", "sh", commands="ps -o pid,args\nexit\n")
    assert shell.returncode == 0, shell.stderr
    assert "    1 sleep 3600" in shell.stdout.splitlines()
    # The app container ran on, untouched.
    app = (get(node, "pod", "target")["status"]["containerStatuses"])[0]
    assert (app["restartCount"], list(app["state"])) == (0, ["running"])
    spec = get(node, "pod", "target")["spec"]
    assert [c["name"] for c in spec["ephemeralContainers"]] == ["ps", "shell"]


def test_ephemeral_containers_subresource_answers_as_upstream(node: AgentNode) -> None:
    running_pod(node, "sub")
    pod = json.loads(node.kubectl(
        "get", "--raw", "/api/v1/namespaces/default/pods/sub/ephemeralcontainers"))
    assert (pod["kind"], pod["metadata"]["name"]) == ("Pod", "sub")
    result = kubectl(node, "debug", "pod/sub", "--image=busybox", "--target=nope", "--", "ps")
    assert result.returncode == 1
    assert result.stderr.startswith('The Pod "sub" is invalid: spec.ephemeralContainers[0]'
                                    '.targetContainerName: Not found: "nope"')
    result = kubectl(node, "debug", "pod/no-such-pod", "--image=busybox", "--", "ps")
    assert result.returncode == 1
    assert result.stderr == 'Error from server (NotFound): pods "no-such-pod" not found\n'


def test_debug_copy_to_runs_a_copy_with_a_debug_container(node: AgentNode) -> None:
    running_pod(node, "original")
    shell = session(node, "debug", "pod/original", "-i", "--copy-to=original-debug",
                    "--image=busybox", "--container=debugger", "--", "sh",
                    commands=COPY_SHELL)
    assert shell.returncode == 0, shell.stderr
    copy = get(node, "pod", "original-debug")
    node.pod_uids.append(copy["metadata"]["uid"])
    assert [c["name"] for c in copy["spec"]["containers"]] == ["original", "debugger"]
    assert copy["spec"]["shareProcessNamespace"] is True
    # The copy's processes are shared: the debugger sees the original's sleep.
    assert any(line.split()[1:] == ["sleep", "3600"] for line in shell.stdout.splitlines()[1:]
               if len(line.split()) > 1)
    original = get(node, "pod", "original")
    assert "ephemeralContainers" not in original["spec"]
    delete(node, "original-debug")


def test_debug_node_runs_a_pod_in_the_hosts_namespaces_with_its_root_at_host(
        node: AgentNode) -> None:
    shell = session(node, "debug", f"node/{node.name}", "-i", "--image=busybox",
                    "--", "sh", commands="cat /host/etc/os-release | head -1; hostname\n"
                                         "exit\n")
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.startswith(f"Creating debugging pod node-debugger-{node.name}-")
    lines = shell.stdout.splitlines()
    assert Path("/etc/os-release").read_text().splitlines()[0] in lines
    assert os.uname().nodename in lines  # hostNetwork: the machine's host name
    [pod] = [p for p in json.loads(node.kubectl("get", "pods", "-o", "json"))["items"]
             if p["metadata"]["name"].startswith(f"node-debugger-{node.name}-")]
    node.pod_uids.append(pod["metadata"]["uid"])
    spec = pod["spec"]
    assert (spec["nodeName"], spec["hostNetwork"], spec["hostPID"], spec["hostIPC"]) == (
        node.name, True, True, True)
    delete(node, pod["metadata"]["name"])
