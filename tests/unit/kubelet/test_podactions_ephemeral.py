"""computePodActions with ephemeral containers (`kubectl debug`): started once in a running
sandbox, before initialization completes, never restarted, never keeping a pod alive."""

from __future__ import annotations

from typing import Any

from kajitori.kubelet import podactions
from kajitori.kubelet.podactions import ContainerState, RuntimePod, SandboxState

Obj = dict[str, Any]
SANDBOX = SandboxState(id="sb", attempt=0, ready=True, ip="10.42.0.2")


def pod(*ephemeral: str, init: bool = False, policy: str = "Always") -> Obj:
    spec: Obj = {"restartPolicy": policy, "containers": [{"name": "app", "image": "busybox"}],
                 "ephemeralContainers": [{"name": n, "image": "busybox"} for n in ephemeral]}
    if init:
        spec["initContainers"] = [{"name": "init", "image": "busybox"}]
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u"}, "spec": spec}


def running(name: str) -> ContainerState:
    return ContainerState(id=f"id-{name}", name=name, state=podactions.RUNNING)


def exited(name: str, code: int = 0) -> ContainerState:
    return ContainerState(id=f"id-{name}", name=name, state=podactions.EXITED, exit_code=code)


def actions(p: Obj, *containers: ContainerState,
            sandboxes: tuple[SandboxState, ...] = (SANDBOX,)) -> podactions.PodActions:
    return podactions.compute_pod_actions(
        p, RuntimePod(sandboxes=list(sandboxes), containers=list(containers)))


def test_a_new_ephemeral_container_starts_beside_the_running_app() -> None:
    got = actions(pod("debugger"), running("app"))
    assert got.ephemeral_containers_to_start == ["debugger"]
    assert (got.kill_pod, got.containers_to_start, got.containers_to_kill) == (False, [], [])


def test_ephemeral_containers_are_never_restarted() -> None:
    got = actions(pod("done", "failed", "live", "new"), running("app"), exited("done"),
                  exited("failed", 1), running("live"))
    assert got.ephemeral_containers_to_start == ["new"]


def test_an_ephemeral_container_may_start_before_initialization_completes() -> None:
    got = actions(pod("debugger", init=True), running("init"))
    assert got.ephemeral_containers_to_start == ["debugger"]
    assert got.containers_to_start == []


def test_no_ephemeral_container_starts_in_a_new_sandbox() -> None:
    got = actions(pod("debugger"), sandboxes=())
    assert got.create_sandbox
    assert got.ephemeral_containers_to_start == []


def test_a_running_ephemeral_container_does_not_keep_a_finished_pod_alive() -> None:
    got = actions(pod("debugger", policy="Never"), exited("app"), running("debugger"))
    assert got.kill_pod
