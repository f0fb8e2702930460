"""`kubectl wait` against a real server: each `--for` kind comes true while kubectl waits
because the test writes the object's status through the API, as a kubelet or controller
would; kubectl must see it through its list + watch and print what it prints with a v1.33
cluster. A condition that never comes true times out with upstream's message."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

pytestmark = pytest.mark.e2e

WAIT_TIMEOUT = "60s"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def namespace(kubectl) -> str:
    name = unique("wait")
    kubectl("create", "namespace", name)
    return name


def start(kubectl, *args: str) -> subprocess.Popen[str]:
    """kubectl running in the background, as a user's second terminal."""
    env = {**os.environ, "KUBECONFIG": str(kubectl.kubeconfig), "HOME": str(kubectl.home)}
    return subprocess.Popen([kubectl.binary, *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    stdout, stderr = process.communicate(timeout=90)
    return process.returncode, stdout, stderr


def run_pod(kubectl, namespace: str, name: str = "p") -> None:
    kubectl("run", name, "--image=nginx", "--restart=Never", "-n", namespace)


def patch_status(kubectl, namespace: str, target: str, status: str) -> None:
    kubectl("patch", target, "-n", namespace, "--subresource=status", "--type=merge",
            "-p", f'{{"status":{status}}}')


def wait_until_watching(kubectl, namespace: str) -> None:
    """kubectl wait lists before it watches: a change written before its list is seen by the
    list, one written after by the watch; both must work, so no synchronisation is needed.
    This read only lets kubectl start first most of the time, to exercise the watch."""
    kubectl("get", "pods", "-n", namespace, "-o", "name")


def test_wait_for_condition_met_by_a_status_write(kubectl, namespace: str) -> None:
    run_pod(kubectl, namespace)
    waiting = start(kubectl, "wait", "--for=condition=Ready", "pod/p", "-n", namespace,
                    f"--timeout={WAIT_TIMEOUT}")
    wait_until_watching(kubectl, namespace)
    patch_status(kubectl, namespace, "pod/p",
                 '{"conditions":[{"type":"Ready","status":"True"}]}')
    assert finish(waiting) == (0, "pod/p condition met\n", "")


def test_condition_types_match_case_insensitively(kubectl, namespace: str) -> None:
    run_pod(kubectl, namespace)
    patch_status(kubectl, namespace, "pod/p",
                 '{"conditions":[{"type":"Ready","status":"True"}]}')
    out = kubectl("wait", "--for=condition=ready", "pod/p", "-n", namespace,
                  f"--timeout={WAIT_TIMEOUT}")
    assert out == "pod/p condition met\n"


def test_wait_for_jsonpath_value(kubectl, namespace: str) -> None:
    run_pod(kubectl, namespace)
    waiting = start(kubectl, "wait", "--for=jsonpath={.status.phase}=Running", "pod/p",
                    "-n", namespace, f"--timeout={WAIT_TIMEOUT}")
    wait_until_watching(kubectl, namespace)
    patch_status(kubectl, namespace, "pod/p", '{"phase":"Running"}')
    assert finish(waiting) == (0, "pod/p condition met\n", "")


def test_wait_for_delete(kubectl, namespace: str) -> None:
    run_pod(kubectl, namespace)
    waiting = start(kubectl, "wait", "--for=delete", "pod/p", "-n", namespace,
                    f"--timeout={WAIT_TIMEOUT}")
    wait_until_watching(kubectl, namespace)
    kubectl("delete", "pod", "p", "-n", namespace, "--wait=false")
    assert finish(waiting) == (0, "pod/p condition met\n", "")


def test_wait_for_create(kubectl, namespace: str) -> None:
    waiting = start(kubectl, "wait", "--for=create", "pod/p", "-n", namespace,
                    f"--timeout={WAIT_TIMEOUT}")
    wait_until_watching(kubectl, namespace)
    run_pod(kubectl, namespace)
    assert finish(waiting) == (0, "pod/p condition met\n", "")


def test_wait_for_a_selector_waits_for_every_match(kubectl, namespace: str) -> None:
    run_pod(kubectl, namespace, "a")
    run_pod(kubectl, namespace, "b")
    kubectl("label", "pod", "a", "b", "group=x", "-n", namespace)
    waiting = start(kubectl, "wait", "--for=condition=Ready", "pods", "-l", "group=x",
                    "-n", namespace, f"--timeout={WAIT_TIMEOUT}")
    wait_until_watching(kubectl, namespace)
    for name in ("a", "b"):
        patch_status(kubectl, namespace, f"pod/{name}",
                     '{"conditions":[{"type":"Ready","status":"True"}]}')
    returncode, stdout, stderr = finish(waiting)
    assert (returncode, stderr) == (0, "")
    assert sorted(stdout.splitlines()) == ["pod/a condition met", "pod/b condition met"]


def test_wait_times_out_with_upstreams_message(kubectl, namespace: str) -> None:
    run_pod(kubectl, namespace)
    result = kubectl.run("wait", "--for=condition=Ready", "pod/p", "-n", namespace,
                         "--timeout=1s", check=False)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "error: timed out waiting for the condition on pods/p\n"
