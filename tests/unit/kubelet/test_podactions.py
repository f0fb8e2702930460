"""computePodActions: sandbox (re)creation, init containers in order, sidecars, app
containers restarted by restartPolicy, spec changes and failed probes, pods that are done."""

from __future__ import annotations

from typing import Any

from kajitori.kubelet import containerconfig, podactions
from kajitori.kubelet.podactions import ContainerState, RuntimePod, SandboxState

Obj = dict[str, Any]
SANDBOX = SandboxState(id="sb", attempt=0, ready=True, ip="10.42.0.2")


def pod(*names: str, init: tuple[Obj, ...] = (), policy: str = "Always") -> Obj:
    spec: Obj = {"restartPolicy": policy,
                 "containers": [{"name": n, "image": "busybox"} for n in names]}
    if init:
        spec["initContainers"] = list(init)
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u"}, "spec": spec}


def spec_of(p: Obj, name: str) -> Obj:
    return next(c for c in p["spec"].get("initContainers", []) + p["spec"]["containers"]
                if c["name"] == name)


def state(p: Obj, name: str, kind: str, *, code: int = 0, cid: str = "") -> ContainerState:
    return ContainerState(id=cid or f"id-{name}", name=name, state=kind, exit_code=code,
                          hash=containerconfig.container_hash(spec_of(p, name)))


def actions(p: Obj, *containers: ContainerState, sandboxes: tuple[SandboxState, ...] = (SANDBOX,),
            **kwargs: Any) -> podactions.PodActions:
    return podactions.compute_pod_actions(
        p, RuntimePod(sandboxes=list(sandboxes), containers=list(containers)), **kwargs)


def test_new_pod_creates_a_sandbox_and_starts_its_containers() -> None:
    got = actions(pod("a", "b"), sandboxes=())
    assert (got.create_sandbox, got.attempt, got.containers_to_start) == (True, 0, ["a", "b"])


def test_new_pod_with_init_containers_starts_the_first_one_only() -> None:
    p = pod("a", init=({"name": "i1"}, {"name": "i2"}))
    got = actions(p, sandboxes=())
    assert (got.init_containers_to_start, got.containers_to_start) == (["i1"], [])


def test_init_containers_run_one_at_a_time_in_order() -> None:
    p = pod("a", init=({"name": "i1"}, {"name": "i2"}))
    assert actions(p, state(p, "i1", "running")).init_containers_to_start == []
    got = actions(p, state(p, "i1", "exited"))
    assert (got.init_containers_to_start, got.containers_to_start) == (["i2"], [])
    got = actions(p, state(p, "i2", "exited"), state(p, "i1", "exited"))
    assert (got.init_containers_to_start, got.containers_to_start) == ([], ["a"])


def test_failed_init_container_restarts_or_fails_the_pod_with_never() -> None:
    p = pod("a", init=({"name": "i1"},))
    assert actions(p, state(p, "i1", "exited", code=1)).init_containers_to_start == ["i1"]
    never = pod("a", init=({"name": "i1"},), policy="Never")
    got = actions(never, state(never, "i1", "exited", code=1))
    assert (got.kill_pod, got.init_containers_to_start, got.containers_to_start) == (
        True, [], [])


def test_sidecar_starts_before_the_next_init_container_and_keeps_running() -> None:
    p = pod("a", init=({"name": "side", "restartPolicy": "Always"}, {"name": "i1"}))
    assert actions(p).init_containers_to_start == ["side"]
    got = actions(p, state(p, "side", "running"))
    assert got.init_containers_to_start == ["i1"]
    got = actions(p, state(p, "i1", "exited"), state(p, "side", "running"))
    assert (got.init_containers_to_start, got.containers_to_start) == ([], ["a"])
    got = actions(p, state(p, "a", "running"), state(p, "side", "exited", code=1),
                  state(p, "i1", "exited"))
    assert (got.init_containers_to_start, got.containers_to_start, got.kill_pod) == (
        ["side"], [], False)


def test_sidecar_waits_for_its_startup_probe() -> None:
    p = pod("a", init=({"name": "side", "restartPolicy": "Always"}, {"name": "i1"}))
    got = actions(p, state(p, "side", "running"), sidecars_started=set())
    assert got.init_containers_to_start == []
    got = actions(p, state(p, "side", "running"), sidecars_started={"side"})
    assert got.init_containers_to_start == ["i1"]


def test_exited_containers_restart_by_policy() -> None:
    always = pod("a")
    assert actions(always, state(always, "a", "exited")).containers_to_start == ["a"]
    on_failure = pod("a", "b", policy="OnFailure")
    got = actions(on_failure, state(on_failure, "a", "exited", code=0),
                  state(on_failure, "b", "exited", code=2))
    assert got.containers_to_start == ["b"]
    never = pod("a", "b", policy="Never")
    got = actions(never, state(never, "a", "exited", code=1), state(never, "b", "running"))
    assert (got.containers_to_start, got.kill_pod) == ([], False)


def test_pod_whose_containers_are_all_done_is_killed_with_its_sidecars() -> None:
    p = pod("a", init=({"name": "side", "restartPolicy": "Always"},), policy="Never")
    got = actions(p, state(p, "a", "exited"), state(p, "side", "exited", code=143))
    assert got.kill_pod
    assert got.init_containers_to_start == []


def test_changed_spec_restarts_a_running_container_whatever_the_policy() -> None:
    p = pod("a", policy="Never")
    old = ContainerState(id="id-a", name="a", state="running", hash="0")
    got = actions(p, old)
    assert got.containers_to_start == ["a"]
    assert [(k.container.id, k.message) for k in got.containers_to_kill] == [
        ("id-a", "Container a definition changed, will be restarted")]


def test_failed_liveness_probe_restarts_unless_never() -> None:
    p = pod("a")
    got = actions(p, state(p, "a", "running"), liveness_failed={"a"})
    assert (got.containers_to_start, [k.message for k in got.containers_to_kill]) == (
        ["a"], ["Container a failed liveness probe, will be restarted"])
    never = pod("a", policy="Never")
    got = actions(never, state(never, "a", "running"), liveness_failed={"a"})
    assert (got.containers_to_start, [k.message for k in got.containers_to_kill]) == (
        [], ["Container a failed liveness probe"])


def test_running_pod_needs_nothing() -> None:
    p = pod("a")
    got = actions(p, state(p, "a", "running"))
    assert got == podactions.PodActions(sandbox_id="sb")


def test_dead_sandbox_is_recreated_with_the_next_attempt() -> None:
    p = pod("a", init=({"name": "i1"},))
    dead = SandboxState(id="sb", attempt=1, ready=False)
    got = actions(p, state(p, "a", "exited"), state(p, "i1", "exited"), sandboxes=(dead,))
    assert (got.kill_pod, got.create_sandbox, got.attempt, got.sandbox_id) == (
        True, True, 2, "sb")
    assert got.init_containers_to_start == ["i1"]


def test_dead_sandbox_of_a_never_pod_that_ran_is_not_recreated() -> None:
    p = pod("a", policy="Never")
    dead = SandboxState(id="sb", attempt=0, ready=False)
    got = actions(p, state(p, "a", "exited"), sandboxes=(dead,))
    assert (got.kill_pod, got.create_sandbox, got.containers_to_start) == (True, False, [])


def test_dead_sandbox_of_a_completed_on_failure_pod_is_not_recreated() -> None:
    p = pod("a", policy="OnFailure")
    dead = SandboxState(id="sb", attempt=0, ready=False)
    got = actions(p, state(p, "a", "exited"), sandboxes=(dead,))
    assert (got.kill_pod, got.create_sandbox) == (True, False)


def test_sandbox_without_ip_is_recreated_unless_host_network() -> None:
    p = pod("a")
    no_ip = SandboxState(id="sb", attempt=0, ready=True)
    assert actions(p, sandboxes=(no_ip,)).create_sandbox
    p["spec"]["hostNetwork"] = True
    assert not actions(p, sandboxes=(no_ip,)).create_sandbox
