"""Pod statuses as upstream's kubelet reports them: phase, conditions, container states with
reasons, restart counts, last states, IDs, IPs, QoS class, termination messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kajitori.api import podstatus as apipodstatus
from kajitori.kubelet import containerconfig, podstatus
from kajitori.kubelet.podactions import ContainerState, RuntimePod, SandboxState

Obj = dict[str, Any]
NOW = "2025-06-01T12:00:00Z"
NS = 1_748_779_200 * 1_000_000_000  # 2025-06-01T12:00:00Z
SANDBOX = SandboxState(id="sb", attempt=0, ready=True, ip="10.42.0.5")


def pod(*names: str, init: tuple[Obj, ...] = (), policy: str = "Always", **spec: Any) -> Obj:
    body: Obj = {"restartPolicy": policy,
                 "containers": [{"name": n, "image": "nginx"} for n in names], **spec}
    if init:
        body["initContainers"] = list(init)
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u"}, "spec": body,
            "status": {"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                 "lastTransitionTime": "2025-06-01T11:00:00Z"}]}}


def run(name: str, *, cid: str = "", state: str = "running", code: int = 0, restarts: int = 0,
        reason: str = "", message: str = "") -> ContainerState:
    return ContainerState(id=cid or f"{name}{restarts}", name=name, state=state,
                          started_at=NS, finished_at=NS + 5_000_000_000 if state == "exited" else 0,
                          exit_code=code, reason=reason, message=message,
                          image="docker.io/library/nginx:latest",
                          image_ref="docker.io/library/nginx@sha256:aa", restart_count=restarts)


def generate(p: Obj, *containers: ContainerState, sandboxes: tuple[SandboxState, ...] = (SANDBOX,),
             **kwargs: Any) -> Obj:
    return podstatus.generate_pod_status(
        p, RuntimePod(sandboxes=list(sandboxes), containers=list(containers)),
        host_ips=["192.168.1.10"], start_time=NOW, now=NOW, **kwargs)


def conditions(status: Obj) -> list[tuple[str, str, str]]:
    return [(c["type"], c["status"], c.get("reason", "")) for c in status["conditions"]]


def test_pod_without_sandbox_is_pending_container_creating() -> None:
    status = generate(pod("web"), sandboxes=())
    assert status["phase"] == "Pending"
    assert conditions(status) == [
        ("PodReadyToStartContainers", "False", ""), ("Initialized", "True", ""),
        ("Ready", "False", "ContainersNotReady"),
        ("ContainersReady", "False", "ContainersNotReady"), ("PodScheduled", "True", "")]
    assert status["conditions"][2]["message"] == "containers with unready status: [web]"
    assert status["conditions"][-1]["lastTransitionTime"] == "2025-06-01T11:00:00Z"
    (web,) = status["containerStatuses"]
    assert web == {"name": "web", "state": {"waiting": {"reason": "ContainerCreating"}},
                   "lastState": {}, "ready": False, "restartCount": 0, "image": "nginx",
                   "imageID": "", "started": False}
    assert "podIP" not in status
    assert status["qosClass"] == "BestEffort"


def test_running_pod() -> None:
    status = generate(pod("web"), run("web", cid="abc"))
    assert status["phase"] == "Running"
    assert [c[1] for c in conditions(status)] == ["True"] * 5
    assert (status["hostIP"], status["hostIPs"]) == ("192.168.1.10", [{"ip": "192.168.1.10"}])
    assert (status["podIP"], status["podIPs"]) == ("10.42.0.5", [{"ip": "10.42.0.5"}])
    assert status["startTime"] == NOW
    (web,) = status["containerStatuses"]
    assert web["state"] == {"running": {"startedAt": "2025-06-01T12:00:00Z"}}
    assert (web["containerID"], web["image"], web["imageID"]) == (
        "containerd://abc", "docker.io/library/nginx:latest", "docker.io/library/nginx@sha256:aa")
    assert (web["ready"], web["started"]) == (True, True)


def test_readiness_and_startup_probes_gate_ready_and_started() -> None:
    p = pod("web")
    p["spec"]["containers"][0]["readinessProbe"] = {"exec": {"command": ["true"]}}
    status = generate(p, run("web"), probed_ready=lambda _: False)
    assert status["containerStatuses"][0]["ready"] is False
    assert conditions(status)[2] == ("Ready", "False", "ContainersNotReady")
    p["spec"]["containers"][0]["startupProbe"] = {"exec": {"command": ["true"]}}
    status = generate(p, run("web"), probed_started=lambda _: False)
    assert status["containerStatuses"][0]["started"] is False


def test_crash_loop_back_off_shows_the_last_run_as_last_state() -> None:
    message = apipodstatus.crash_loop_message(pod("web"), "web", delay=20)
    status = generate(pod("web"), run("web", state="exited", code=1, restarts=2, reason="Error"),
                      run("web", state="exited", code=1, restarts=1, reason="Error"),
                      reasons={"web": podstatus.Waiting("CrashLoopBackOff", message)})
    (web,) = status["containerStatuses"]
    assert web["state"] == {"waiting": {"reason": "CrashLoopBackOff", "message":
                                        "back-off 20s restarting failed container=web "
                                        "pod=p_ns(u)"}}
    assert web["lastState"]["terminated"] == {
        "exitCode": 1, "reason": "Error", "startedAt": "2025-06-01T12:00:00Z",
        "finishedAt": "2025-06-01T12:00:05Z", "containerID": "containerd://web2"}
    assert web["restartCount"] == 2
    assert status["phase"] == "Running"


def test_previous_run_is_last_state_of_a_running_container() -> None:
    status = generate(pod("web"), run("web", restarts=1),
                      run("web", state="exited", code=137, reason="OOMKilled"))
    (web,) = status["containerStatuses"]
    assert web["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert web["lastState"]["terminated"]["exitCode"] == 137
    assert web["restartCount"] == 1


def test_never_pod_that_failed_is_failed() -> None:
    status = generate(pod("web", policy="Never"), run("web", state="exited", code=2))
    assert status["phase"] == "Failed"
    assert conditions(status)[2:4] == [("Ready", "False", "PodFailed"),
                                       ("ContainersReady", "False", "PodFailed")]
    assert status["containerStatuses"][0]["state"]["terminated"]["reason"] == "Error"


def test_completed_pod_is_succeeded() -> None:
    status = generate(pod("web", policy="OnFailure"), run("web", state="exited"))
    assert status["phase"] == "Succeeded"
    assert conditions(status)[1:4] == [("Initialized", "True", "PodCompleted"),
                                       ("Ready", "False", "PodCompleted"),
                                       ("ContainersReady", "False", "PodCompleted")]


def test_always_pod_whose_container_exited_is_still_running() -> None:
    assert generate(pod("web"), run("web", state="exited", code=1))["phase"] == "Running"


def test_terminal_phase_never_goes_back() -> None:
    p = pod("web")
    p["status"]["phase"] = "Succeeded"
    assert generate(p, sandboxes=())["phase"] == "Succeeded"


def test_pod_being_deleted_with_stopped_containers_is_terminal() -> None:
    status = generate(pod("web"), run("web", state="exited", code=143), terminal=True)
    assert status["phase"] == "Failed"


def test_init_containers_pending_then_initialized() -> None:
    p = pod("web", init=({"name": "init", "image": "busybox"},))
    status = generate(p, run("init"))
    assert status["phase"] == "Pending"
    assert conditions(status)[1] == ("Initialized", "False", "ContainersNotInitialized")
    assert status["conditions"][1]["message"] == "containers with incomplete status: [init]"
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert status["initContainerStatuses"][0]["state"]["running"]
    status = generate(p, run("init", state="exited"))
    assert status["initContainerStatuses"][0]["ready"] is True
    assert status["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert conditions(status)[1] == ("Initialized", "True", "")


def test_failed_init_container_with_never_fails_the_pod() -> None:
    p = pod("web", init=({"name": "init"},), policy="Never")
    status = generate(p, run("init", state="exited", code=1))
    assert status["phase"] == "Failed"


def test_sidecar_is_running_ready_and_counted_in_containers_ready() -> None:
    p = pod("web", init=({"name": "side", "restartPolicy": "Always"},))
    status = generate(p, run("web"), run("side"))
    side = status["initContainerStatuses"][0]
    assert (side["ready"], side["started"]) == (True, True)
    assert status["phase"] == "Running"
    status = generate(p, run("web"), run("side", state="exited", code=1),
                      reasons={"side": podstatus.Waiting("CrashLoopBackOff", "m")})
    assert status["conditions"][3]["message"] == "containers with unready status: [side]"
    assert conditions(status)[1] == ("Initialized", "True", "")


def test_start_and_config_errors_are_waiting_reasons() -> None:
    status = generate(pod("web"), reasons={"web": podstatus.Waiting(
        "CreateContainerConfigError", 'configmap "cfg" not found')})
    assert status["containerStatuses"][0]["state"] == {"waiting": {
        "reason": "CreateContainerConfigError", "message": 'configmap "cfg" not found'}}
    failed = run("web", state="exited", code=128, reason="StartError",
                 message='exec: "nope": executable file not found in $PATH')
    status = generate(pod("web"), failed, reasons={"web": podstatus.Waiting(
        "RunContainerError", "failed to start")})
    (web,) = status["containerStatuses"]
    assert web["state"]["waiting"]["reason"] == "RunContainerError"
    assert web["lastState"]["terminated"]["reason"] == "StartError"
    assert web["lastState"]["terminated"]["message"] == \
        'exec: "nope": executable file not found in $PATH'
    assert web["lastState"]["terminated"]["startedAt"] == "2025-06-01T12:00:00Z"
    never_started = ContainerState(id="x", name="web", state="exited", exit_code=128,
                                   reason="StartError", finished_at=NS)
    status = generate(pod("web", policy="Never"), never_started)
    assert status["containerStatuses"][0]["state"]["terminated"]["startedAt"] == \
        "1970-01-01T00:00:00Z"


def test_host_network_pod_has_the_node_ip() -> None:
    status = generate(pod("web", hostNetwork=True), run("web"),
                      sandboxes=(SandboxState(id="sb", attempt=0, ready=True),))
    assert status["podIPs"] == [{"ip": "192.168.1.10"}]


def test_readiness_gates_and_others_conditions_are_kept() -> None:
    p = pod("web", readinessGates=[{"conditionType": "example.com/gate"}])
    p["status"]["conditions"].insert(0, {"type": "DisruptionTarget", "status": "False"})
    status = generate(p, run("web"))
    assert status["conditions"][0] == {"type": "DisruptionTarget", "status": "False"}
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["reason"], ready["message"]) == (
        "ReadinessGatesNotReady",
        'corresponding condition of pod readiness gate "example.com/gate" does not exist.')


def test_spec_fields_and_qos() -> None:
    p = pod("web")
    p["spec"]["containers"][0].update(
        volumeMounts=[{"name": "v", "mountPath": "/v", "readOnly": True}],
        resources={"requests": {"cpu": "100m"}})
    status = generate(p, run("web"))
    web = status["containerStatuses"][0]
    assert web["volumeMounts"] == [{"name": "v", "mountPath": "/v", "readOnly": True,
                                    "recursiveReadOnly": "Disabled"}]
    assert web["resources"] == {"requests": {"cpu": "100m"}}
    assert status["qosClass"] == "Burstable"


async def test_termination_message_from_file_and_log_fallback(tmp_path: Path) -> None:
    p = pod("web", "other")
    message_file = containerconfig.termination_message_file(tmp_path, "u", "web", 0)
    message_file.parent.mkdir(parents=True)
    message_file.write_text("bye")
    log = containerconfig.pod_log_directory(tmp_path, p) / "other" / "0.log"
    log.parent.mkdir(parents=True)
    log.write_text("2025-06-01T12:00:00Z stderr F panic: boom\n")
    exited = RuntimePod(sandboxes=[SANDBOX], containers=[
        run("web", state="exited", code=0, cid="w"),
        ContainerState(id="o", name="other", state="exited", exit_code=2,
                       termination_message_policy="FallbackToLogsOnError")])
    messages = await podstatus.read_termination_messages(p, exited, root_dir=tmp_path)
    assert messages == {"w": "bye", "o": "panic: boom\n"}
    status = podstatus.generate_pod_status(p, exited, host_ips=[], start_time=NOW, now=NOW,
                                           messages=messages)
    assert status["containerStatuses"][0]["state"]["terminated"]["message"] == "bye"


def test_back_off_doubles_to_five_minutes() -> None:
    assert [apipodstatus.backoff_seconds(n) for n in (0, 1, 2, 3, 5, 6, 20)] == [
        0.0, 10.0, 20.0, 40.0, 160.0, 300.0, 300.0]


def test_phase_of_a_sidecar_pod_whose_sidecar_restarts_stays_running() -> None:
    p = pod("web", init=({"name": "side", "restartPolicy": "Always"},))
    statuses = [{"name": "web", "state": {"running": {}}},
                {"name": "side", "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 1}}}]
    assert apipodstatus.phase(p, statuses) == "Running"
    fresh = [{"name": "side", "state": {"waiting": {"reason": "ContainerCreating"}}}]
    assert apipodstatus.phase(p, fresh) == "Pending"


def test_phase_on_failure_pod_with_a_failed_container_keeps_running() -> None:
    p = pod("a", "b", policy="OnFailure")
    statuses = [{"name": "a", "state": {"terminated": {"exitCode": 0}}},
                {"name": "b", "state": {"terminated": {"exitCode": 1}}}]
    assert apipodstatus.phase(p, statuses) == "Running"
    assert apipodstatus.phase(p, statuses, terminal=True) == "Failed"
