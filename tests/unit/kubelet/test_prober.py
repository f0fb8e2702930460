"""The probe manager on a fake clock: when probes run, what readiness and started say, when a
container is to be killed, and the events users read."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from cri_api.v1 import api_pb2
from probeservers import http_server

from kajitori.client import clock
from kajitori.kubelet import prober, runtime

Obj = dict[str, Any]

UID = "uid-1"
OK = api_pb2.ExecSyncResponse(exit_code=0)


def failed(output: bytes) -> api_pb2.ExecSyncResponse:
    return api_pb2.ExecSyncResponse(stdout=output, exit_code=1)


class ScriptedExec:
    """exec_sync answers per command from a list (the last answer repeats); calls are kept."""

    def __init__(self) -> None:
        self.answers: dict[str, list[api_pb2.ExecSyncResponse | runtime.CRIError]] = {}
        self.calls: list[tuple[str, str, int]] = []

    async def exec_sync(self, container_id: str, cmd: list[str], *,
                        run_seconds: int = 0) -> api_pb2.ExecSyncResponse:
        command = " ".join(cmd)
        self.calls.append((container_id, command, run_seconds))
        queue = self.answers.get(command, [OK])
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, runtime.CRIError):
            raise answer
        return answer

    def ran(self, command: str) -> int:
        return sum(1 for _, called, _ in self.calls if called == command)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []
        self.field_paths: dict[str, str] = {}
        """The field path of the last event of each reason."""
        self.recorded = asyncio.Event()

    def event(self, obj: Obj, type_: str, reason: str, message: str, *,
              field_path: str = "") -> None:
        self.events.append((type_, reason, message))
        self.field_paths[reason] = field_path
        self.recorded.set()


def exec_probe(command: str, **timing: int) -> Obj:
    return {"exec": {"command": command.split()}, **timing}


def pod_with(**probes: Obj) -> Obj:
    container = {"name": "app", "image": "busybox", **probes}
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": "web", "namespace": "ns", "uid": UID},
            "spec": {"containers": [container]}, "status": {"podIP": "127.0.0.1"}}


class Harness:
    def __init__(self) -> None:
        self.clock = clock.FakeClock(1000.0)
        self.cri = ScriptedExec()
        self.recorder = Recorder()
        self.killed: list[tuple[str, str]] = []
        self.changes: list[str] = []
        self.jitter = 0.0
        self.manager = prober.ProbeManager(
            self.cri, recorder=self.recorder,  # type: ignore[arg-type]
            on_liveness_failure=lambda uid, name: self.killed.append((uid, name)),
            on_change=self._on_change, clock=self.clock, wall_clock=self.clock.now,
            jitter=lambda: self.jitter)

    def _on_change(self, uid: str) -> None:
        self.changes.append(uid)

    def start(self, container_id: str = "containerd://c1") -> None:
        self.manager.update_container(UID, "app", container_id=container_id,
                                      started_at=self.clock.now())

    async def step(self, seconds: float) -> None:
        """Move time on, then let the workers run what fell due."""
        await settle()
        self.clock.step(seconds)
        await settle()


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


@contextlib.asynccontextmanager
async def running(pod: Obj) -> AsyncIterator[Harness]:
    harness = Harness()
    harness.manager.add_pod(pod)
    task = asyncio.create_task(harness.manager.run())
    await settle()
    try:
        yield harness
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_readiness_is_false_until_the_first_success_after_the_initial_delay() -> None:
    pod = pod_with(readinessProbe=exec_probe("check", initialDelaySeconds=5, periodSeconds=10))
    async with running(pod) as h:
        h.start()
        await h.step(4)
        assert (h.cri.ran("check"), h.manager.is_ready(UID, "app")) == (0, False)
        await h.step(1)
        assert h.cri.calls == [("c1", "check", 1)]
        assert h.manager.is_ready(UID, "app") is True
        assert h.changes == [UID]
        await h.step(10)
        assert h.cri.ran("check") == 2


async def test_without_readiness_probe_ready_once_running() -> None:
    async with running(pod_with()) as h:
        assert h.manager.is_ready(UID, "app") is False
        h.start()
        assert h.manager.is_started(UID, "app") is True
        assert h.manager.is_ready(UID, "app") is True
        h.manager.update_container(UID, "app", container_id="containerd://c1", started_at=None)
        assert h.manager.is_ready(UID, "app") is False


async def test_readiness_failures_clear_ready_after_the_failure_threshold() -> None:
    probe = exec_probe("check", periodSeconds=10, failureThreshold=2)
    async with running(pod_with(readinessProbe=probe)) as h:
        h.start()
        await settle()
        assert h.manager.is_ready(UID, "app") is True
        h.cri.answers["check"] = [failed(b"not yet")]
        await h.step(10)
        assert h.manager.is_ready(UID, "app") is True
        await h.step(10)
        assert h.manager.is_ready(UID, "app") is False
        assert h.changes == [UID, UID]
        assert h.killed == []
        assert h.recorder.events == [
            ("Warning", "Unhealthy", "Readiness probe failed: not yet")] * 2


async def test_success_threshold_needs_that_many_successes_in_a_row() -> None:
    probe = exec_probe("check", periodSeconds=10, successThreshold=2)
    async with running(pod_with(readinessProbe=probe)) as h:
        h.start()
        await settle()
        assert h.manager.is_ready(UID, "app") is False
        await h.step(10)
        assert h.manager.is_ready(UID, "app") is True


async def test_liveness_failure_kills_after_the_threshold_then_holds() -> None:
    probe = exec_probe("cat /tmp/healthy", periodSeconds=5, failureThreshold=3)
    async with running(pod_with(livenessProbe=probe)) as h:
        h.cri.answers["cat /tmp/healthy"] = [
            failed(b"cat: can't open '/tmp/healthy': No such file or directory\n")]
        h.start()
        await settle()
        await h.step(5)
        assert h.killed == []
        assert h.manager.liveness_failure(UID, "app") is None
        await h.step(5)
        assert h.killed == [(UID, "app")]
        assert h.recorder.events == [
            ("Warning", "Unhealthy", "Liveness probe failed: cat: can't open '/tmp/healthy': "
                                     "No such file or directory\n")] * 3
        assert h.recorder.field_paths == {"Unhealthy": "spec.containers{app}"}
        failure = h.manager.liveness_failure(UID, "app")
        assert failure is not None
        assert failure.kill_message(restart=True) == (
            "Container app failed liveness probe, will be restarted")
        assert failure.termination_grace_period_seconds is None
        await h.step(50)
        assert h.cri.ran("cat /tmp/healthy") == 3
        assert h.killed == [(UID, "app")]


async def test_new_container_resets_results_and_resumes_probing() -> None:
    probe = exec_probe("check", periodSeconds=5, failureThreshold=1,
                       terminationGracePeriodSeconds=7)
    async with running(pod_with(livenessProbe=probe)) as h:
        h.cri.answers["check"] = [failed(b"bad"), OK]
        h.start()
        await settle()
        failure = h.manager.liveness_failure(UID, "app")
        assert failure is not None
        assert failure.termination_grace_period_seconds == 7
        h.start("containerd://c2")
        assert h.manager.liveness_failure(UID, "app") is None
        await settle()
        assert h.cri.calls[-1] == ("c2", "check", 1)
        assert h.killed == [(UID, "app")]


async def test_startup_probe_gates_liveness_and_readiness() -> None:
    pod = pod_with(startupProbe=exec_probe("started", periodSeconds=10, failureThreshold=30),
                   livenessProbe=exec_probe("alive", periodSeconds=10),
                   readinessProbe=exec_probe("ready", periodSeconds=10))
    async with running(pod) as h:
        h.cri.answers["started"] = [failed(b"not yet"), failed(b"not yet"), OK]
        h.start()
        await settle()
        assert h.manager.is_started(UID, "app") is False
        await h.step(10)
        assert (h.cri.ran("alive"), h.cri.ran("ready")) == (0, 0)
        assert h.manager.is_ready(UID, "app") is False
        await h.step(10)
        assert h.manager.is_started(UID, "app") is True
        assert h.cri.ran("ready") == 1  # at once, as the status update triggers it upstream
        assert h.manager.is_ready(UID, "app") is True
        await h.step(30)
        assert h.cri.ran("started") == 3
        assert h.cri.ran("alive") >= 1
        assert h.recorder.events == [("Warning", "Unhealthy", "Startup probe failed: not yet")] * 2


async def test_failed_startup_probe_kills_the_container() -> None:
    pod = pod_with(startupProbe=exec_probe("started", periodSeconds=10, failureThreshold=2))
    async with running(pod) as h:
        h.cri.answers["started"] = [failed(b"")]
        h.start()
        await settle()
        await h.step(10)
        assert h.killed == [(UID, "app")]
        failure = h.manager.liveness_failure(UID, "app")
        assert failure is not None
        assert failure.kill_message(restart=False) == "Container app failed startup probe"


async def test_probe_that_cannot_run_is_retried_reported_and_thrown_away() -> None:
    probe = exec_probe("alive", periodSeconds=10, failureThreshold=1)
    async with running(pod_with(livenessProbe=probe)) as h:
        h.cri.answers["alive"] = [runtime.CRIError("NOT_FOUND", "container c1 not found")]
        h.start()
        await settle()
        assert h.cri.ran("alive") == 3
        assert h.killed == []
        assert h.recorder.events == [
            ("Warning", "Unhealthy", "Liveness probe errored and resulted in unknown state: "
                                     "rpc error: code = NotFound desc = container c1 not found")]


async def test_http_readiness_failure_event_names_the_status_code() -> None:
    async with http_server() as server:
        probe = {"httpGet": {"path": "/fail", "port": server.port}, "failureThreshold": 1}
        async with running(pod_with(readinessProbe=probe)) as h:
            h.start()
            await h.recorder.recorded.wait()
            assert h.recorder.events == [
                ("Warning", "Unhealthy", "Readiness probe failed: HTTP probe failed with "
                                         "statuscode: 500")]
            assert h.manager.is_ready(UID, "app") is False


async def test_removed_pod_is_no_longer_probed() -> None:
    async with running(pod_with(livenessProbe=exec_probe("alive", periodSeconds=10))) as h:
        h.start()
        await settle()
        h.manager.remove_pod(UID)
        await h.step(100)
        assert h.cri.ran("alive") == 1
        assert h.manager.is_ready(UID, "app") is False


async def test_deleting_pod_stops_liveness_but_keeps_readiness() -> None:
    pod = pod_with(livenessProbe=exec_probe("alive", periodSeconds=10),
                   readinessProbe=exec_probe("ready", periodSeconds=10))
    async with running(pod) as h:
        h.start()
        await settle()
        deleting = {**pod, "metadata": {**pod["metadata"],
                                        "deletionTimestamp": "2025-01-01T00:00:00Z"}}
        h.manager.add_pod(deleting)
        await h.step(10)
        assert (h.cri.ran("alive"), h.cri.ran("ready")) == (1, 2)


async def test_first_probe_is_jittered_when_the_kubelet_just_started() -> None:
    h = Harness()
    h.jitter = 0.5
    h.manager.add_pod(pod_with(livenessProbe=exec_probe("alive", periodSeconds=10)))
    h.start()
    task = asyncio.create_task(h.manager.run())
    try:
        await h.step(4.9)
        assert h.cri.ran("alive") == 0
        await h.step(0.1)
        assert h.cri.ran("alive") == 1
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_kill_message_without_restart() -> None:
    assert prober.failed_probe_message("web", prober.ProbeType.LIVENESS, restart=False) == (
        "Container web failed liveness probe")


async def test_repeated_updates_of_the_same_container_do_not_hurry_probes() -> None:
    async with running(pod_with(livenessProbe=exec_probe("alive", periodSeconds=10))) as h:
        h.start()
        await settle()
        started = h.clock.now()
        await h.step(3)
        h.manager.update_container(UID, "app", container_id="containerd://c1",
                                   started_at=started)
        await settle()
        assert h.cri.ran("alive") == 1


async def test_exec_command_expands_static_env_values_only() -> None:
    pod = pod_with(livenessProbe=exec_probe("cat $(FILE) $(FROM_SECRET) $(MISSING)"))
    pod["spec"]["containers"][0]["env"] = [
        {"name": "FILE", "value": "/tmp/healthy"},
        {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]
    async with running(pod) as h:
        h.start()
        await settle()
        assert h.cri.calls == [("c1", "cat /tmp/healthy  $(MISSING)", 1)]
