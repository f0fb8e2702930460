"""postStart / preStop handlers: the failure messages the pod worker puts into
FailedPostStartHook and FailedPreStopHook events, against a scripted runtime and a real local
HTTP server."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from cri_api.v1 import api_pb2
from probeservers import http_server

from kajitori.client import clock
from kajitori.kubelet import lifecycle, runtime

Obj = dict[str, Any]

POD = {"kind": "Pod", "apiVersion": "v1",
       "metadata": {"name": "web", "namespace": "ns", "uid": "u-1"}}
CONTAINER = {"name": "app", "ports": [{"name": "http", "containerPort": 8080}]}
POD_NAME = "web_ns(u-1)"


class ScriptedExec:
    def __init__(self, answer: api_pb2.ExecSyncResponse | runtime.CRIError) -> None:
        self.answer = answer
        self.calls: list[tuple[str, list[str], int]] = []

    async def exec_sync(self, container_id: str, cmd: list[str], *,
                        run_seconds: int = 0) -> api_pb2.ExecSyncResponse:
        self.calls.append((container_id, cmd, run_seconds))
        if isinstance(self.answer, runtime.CRIError):
            raise self.answer
        return self.answer


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        self.events.append((type_, reason, message))


async def run(handler: Obj, cri: Any = None, **kwargs: Any) -> str | None:
    return await lifecycle.run_handler(cri or ScriptedExec(api_pb2.ExecSyncResponse()), POD,
                                       CONTAINER, "containerd://c1", handler,
                                       pod_ip=kwargs.pop("pod_ip", "127.0.0.1"), **kwargs)


async def test_exec_hook_succeeds_on_exit_zero_without_a_deadline() -> None:
    cri = ScriptedExec(api_pb2.ExecSyncResponse(stdout=b"hello", exit_code=0))
    assert await run({"exec": {"command": ["/bin/sh", "-c", "echo hello"]}}, cri) is None
    assert cri.calls == [("c1", ["/bin/sh", "-c", "echo hello"], 0)]


async def test_exec_hook_failure_message_is_upstreams() -> None:
    cri = ScriptedExec(api_pb2.ExecSyncResponse(exit_code=1))
    message = await run({"exec": {"command": ["/bin/sh", "-c", "exit 1"]}}, cri)
    assert message == (
        'Exec lifecycle hook ([/bin/sh -c exit 1]) for Container "app" in Pod "web_ns(u-1)" '
        "failed - error: command '/bin/sh -c exit 1' exited with 1: , message: \"\"")


async def test_exec_hook_failure_quotes_its_output() -> None:
    cri = ScriptedExec(api_pb2.ExecSyncResponse(stdout=b"out\n", stderr=b"no such file",
                                                exit_code=2))
    message = await run({"exec": {"command": ["check"]}}, cri)
    assert message == (
        f'Exec lifecycle hook ([check]) for Container "app" in Pod "{POD_NAME}" failed - '
        "error: command 'check' exited with 2: no such file, message: \"out\\nno such file\"")


async def test_exec_hook_runtime_error() -> None:
    cri = ScriptedExec(runtime.CRIError("UNKNOWN", "failed to exec in container"))
    message = await run({"exec": {"command": ["check"]}}, cri)
    assert message == (
        f'Exec lifecycle hook ([check]) for Container "app" in Pod "{POD_NAME}" failed - '
        'error: rpc error: code = Unknown desc = failed to exec in container, message: ""')


async def test_http_hook_gets_the_path_with_kube_lifecycle_user_agent() -> None:
    async with http_server() as server:
        assert await run({"httpGet": {"path": "/hook", "port": server.port}}) is None
    [seen] = server.requests
    assert (seen.path, seen.headers["User-Agent"]) == ("/hook", "kube-lifecycle/1.33")


async def test_http_hook_passes_whatever_the_status() -> None:
    async with http_server() as server:
        assert await run({"httpGet": {"path": "/fail", "port": server.port}}) is None


async def test_http_hook_without_a_response_fails() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    message = await run({"httpGet": {"path": "/hook", "port": port}})
    assert message == (
        f'HTTP lifecycle hook (/hook) for Container "app" in Pod "{POD_NAME}" failed - error: '
        f'Get "http://127.0.0.1:{port}/hook": dial tcp 127.0.0.1:{port}: connect: connection '
        "refused")


async def test_http_hook_with_unknown_port_name_fails() -> None:
    message = await run({"httpGet": {"path": "/hook", "port": "admin"}})
    assert message == (f'HTTP lifecycle hook (/hook) for Container "app" in Pod "{POD_NAME}" '
                       'failed - error: port "admin" not found')


async def test_https_hook_answered_in_plain_http_falls_back_with_an_event() -> None:
    recorder = Recorder()
    async with http_server() as server:
        handler = {"httpGet": {"path": "/hook", "port": server.port, "scheme": "HTTPS",
                               "httpHeaders": [{"name": "Authorization", "value": "secret"}]}}
        assert await run(handler, recorder=recorder) is None
    assert recorder.events == [
        ("Warning", "LifecycleHTTPFallback", f"request to HTTPS lifecycle hook "
                                             f"127.0.0.1:{server.port} got HTTP response, "
                                             "retry with HTTP succeeded")]
    assert "Authorization" not in server.requests[-1].headers


async def test_sleep_hook_sleeps_on_the_clock() -> None:
    fake = clock.FakeClock()
    hook = asyncio.create_task(run({"sleep": {"seconds": 5}}, clock=fake))
    await fake.wait_for_waiters()
    fake.step(4)
    await asyncio.sleep(0)
    assert not hook.done()
    fake.step(1)
    assert await hook is None


async def test_tcp_socket_handler_cannot_run() -> None:
    message = await run({"tcpSocket": {"port": 8080}})
    assert message == ("Cannot run handler: invalid handler: &LifecycleHandler{Exec:nil,"
                       "HTTPGet:nil,TCPSocket:&TCPSocketAction{Port:8080,Host:,},Sleep:nil,}")
