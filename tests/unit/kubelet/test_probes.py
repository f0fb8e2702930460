"""The probe kinds against real servers on 127.0.0.1 and a scripted runtime: results and the
output users read in events, in upstream's words."""

from __future__ import annotations

import socket
from pathlib import Path

import probeservers
import pytest
from cri_api.v1 import api_pb2
from probeservers import NOT_SERVING, SERVING, grpc_health_server, http_server

from kajitori.kubelet import probes, runtime
from kajitori.kubelet.probes import Outcome, Result

CONTAINER = {"name": "web", "ports": [{"name": "http", "containerPort": 8080}]}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def request(port: int, path: str = "/ok", **action: object) -> probes.HTTPGetRequest:
    return probes.new_request_for_http_get_action({"port": port, "path": path, **action},
                                                  CONTAINER, pod_ip="127.0.0.1",
                                                  purpose="probe")


class ScriptedExec:
    """exec_sync answers from a list, one per call; every call is kept."""

    def __init__(self, *answers: api_pb2.ExecSyncResponse | runtime.CRIError) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, list[str], int]] = []

    async def exec_sync(self, container_id: str, cmd: list[str], *,
                        run_seconds: int = 0) -> api_pb2.ExecSyncResponse:
        self.calls.append((container_id, cmd, run_seconds))
        answer = self.answers.pop(0)
        if isinstance(answer, runtime.CRIError):
            raise answer
        return answer


# --- ports and requests ----------------------------------------------------------------------

def test_named_port_resolves_to_the_container_port() -> None:
    assert probes.resolve_container_port("http", CONTAINER) == 8080
    assert probes.resolve_container_port(9000, CONTAINER) == 9000


@pytest.mark.parametrize(("port", "message"), [("metrics", 'port "metrics" not found'),
                                               (0, "invalid port number: 0"),
                                               (70000, "invalid port number: 70000")])
def test_unknown_or_invalid_port_is_an_error(port: int | str, message: str) -> None:
    with pytest.raises(probes.PortError, match=f"^{message}$"):
        probes.resolve_container_port(port, CONTAINER)


def test_request_goes_to_the_pod_ip_with_kube_probe_user_agent() -> None:
    built = probes.new_request_for_http_get_action(
        {"port": "http", "path": "/healthz?full=1", "scheme": "HTTPS"}, CONTAINER,
        pod_ip="10.42.0.7", purpose="probe")
    assert built.url == "https://10.42.0.7:8080/healthz?full=1"
    assert built.headers == (("User-Agent", "kube-probe/1.33"), ("Accept", "*/*"))


def test_request_host_and_headers_from_the_action() -> None:
    built = probes.new_request_for_http_get_action(
        {"port": 80, "host": "fd00::1", "httpHeaders": [
            {"name": "X-Custom", "value": "a"}, {"name": "X-Custom", "value": "b"},
            {"name": "User-Agent", "value": "mine"}, {"name": "Accept", "value": ""}]},
        CONTAINER, pod_ip="10.42.0.7", purpose="lifecycle")
    assert built.url == "http://[fd00::1]:80"
    assert built.headers == (("X-Custom", "a"), ("X-Custom", "b"), ("User-Agent", "mine"))


def test_lifecycle_requests_say_kube_lifecycle() -> None:
    built = probes.new_request_for_http_get_action({"port": 80, "path": "/hook"}, CONTAINER,
                                                   pod_ip="10.42.0.7", purpose="lifecycle")
    assert ("User-Agent", "kube-lifecycle/1.33") in built.headers


# --- httpGet ---------------------------------------------------------------------------------

async def test_http_success_carries_the_body_and_upstream_headers() -> None:
    async with http_server() as server:
        outcome = await probes.probe_http(
            request(server.port, httpHeaders=[{"name": "X-Probe", "value": "yes"},
                                              {"name": "Host", "value": "example.test"}]),
            timeout_seconds=5)
    assert outcome == Outcome(Result.SUCCESS, "ok body")
    [seen] = server.requests
    assert seen.headers["User-Agent"] == "kube-probe/1.33"
    assert seen.headers["Accept"] == "*/*"
    assert seen.headers["X-Probe"] == "yes"
    assert seen.headers["Host"] == "example.test"
    assert "Accept-Encoding" not in seen.headers


async def test_http_error_status_fails_without_the_body() -> None:
    async with http_server() as server:
        outcome = await probes.probe_http(request(server.port, "/fail"), timeout_seconds=5)
    assert outcome == Outcome(Result.FAILURE, "HTTP probe failed with statuscode: 500")


async def test_http_redirect_on_the_same_host_is_followed() -> None:
    async with http_server() as server:
        outcome = await probes.probe_http(request(server.port, "/local"), timeout_seconds=5)
    assert outcome == Outcome(Result.SUCCESS, "ok body")
    assert [r.path for r in server.requests] == ["/local", "/ok"]


async def test_http_redirect_to_another_host_is_a_warning_with_the_body() -> None:
    async with http_server() as server:
        outcome = await probes.probe_http(request(server.port, "/away"), timeout_seconds=5)
    assert outcome == Outcome(Result.WARNING, "Probe terminated redirects, Response body: moved")
    assert [r.path for r in server.requests] == ["/away"]


async def test_http_endless_redirects_stop_after_ten() -> None:
    async with http_server() as server:
        outcome = await probes.probe_http(request(server.port, "/loop"), timeout_seconds=5)
    assert outcome == Outcome(
        Result.FAILURE, f'Get "http://127.0.0.1:{server.port}/loop": stopped after 10 redirects')
    assert len(server.requests) == 11


async def test_http_body_is_cut_at_ten_kib() -> None:
    async with http_server() as server:
        outcome = await probes.probe_http(request(server.port, "/big"), timeout_seconds=5)
    assert outcome == Outcome(Result.SUCCESS, probeservers.BIG_BODY[:10240])


async def test_http_connection_refused_reads_as_go_says_it() -> None:
    port = closed_port()
    outcome = await probes.probe_http(request(port, "/healthz"), timeout_seconds=5)
    assert outcome == Outcome(Result.FAILURE, f'Get "http://127.0.0.1:{port}/healthz": dial tcp '
                                              f"127.0.0.1:{port}: connect: connection refused")


async def test_https_does_not_verify_the_certificate(tmp_path: Path) -> None:
    async with http_server(probeservers.self_signed_context(tmp_path)) as server:
        outcome = await probes.probe_http(request(server.port, scheme="HTTPS"),
                                          timeout_seconds=5)
    assert outcome == Outcome(Result.SUCCESS, "ok body")


async def test_https_to_a_plain_http_server_says_so() -> None:
    async with http_server() as server:
        outcome = await probes.probe_http(request(server.port, scheme="HTTPS"),
                                          timeout_seconds=5)
    assert outcome == Outcome(Result.FAILURE, f'Get "https://127.0.0.1:{server.port}/ok": '
                                              "http: server gave HTTP response to HTTPS client")


# --- tcpSocket -------------------------------------------------------------------------------

async def test_tcp_succeeds_when_the_port_accepts() -> None:
    async with http_server() as server:
        outcome = await probes.probe_tcp("127.0.0.1", server.port, timeout_seconds=5)
    assert outcome == Outcome(Result.SUCCESS, "")


async def test_tcp_fails_with_the_dial_error() -> None:
    port = closed_port()
    outcome = await probes.probe_tcp("127.0.0.1", port, timeout_seconds=5)
    assert outcome == Outcome(Result.FAILURE,
                              f"dial tcp 127.0.0.1:{port}: connect: connection refused")


# --- grpc ------------------------------------------------------------------------------------

async def test_grpc_serving_is_healthy() -> None:
    async with grpc_health_server({"": SERVING}) as port:
        outcome = await probes.probe_grpc("127.0.0.1", port, service="", timeout_seconds=5)
    assert outcome == Outcome(Result.SUCCESS, "service healthy")


async def test_grpc_named_service_not_serving_fails() -> None:
    async with grpc_health_server({"": SERVING, "db": NOT_SERVING}) as port:
        outcome = await probes.probe_grpc("127.0.0.1", port, service="db", timeout_seconds=5)
    assert outcome == Outcome(Result.FAILURE, 'service unhealthy (responded with "NOT_SERVING")')


async def test_grpc_unknown_service_fails_with_the_status() -> None:
    async with grpc_health_server({"": SERVING}) as port:
        outcome = await probes.probe_grpc("127.0.0.1", port, service="nope", timeout_seconds=5)
    assert outcome == Outcome(Result.FAILURE, "error: health rpc probe failed: rpc error: "
                                              "code = NotFound desc = unknown service")


async def test_grpc_server_without_health_service() -> None:
    async with grpc_health_server({}, health=False) as port:
        outcome = await probes.probe_grpc("127.0.0.1", port, service="", timeout_seconds=5)
    assert outcome.result is Result.FAILURE
    assert outcome.output.startswith("error: this server does not implement the grpc health "
                                      "protocol (grpc.health.v1.Health): ")


async def test_grpc_unreachable_times_out_connecting() -> None:
    port = closed_port()
    outcome = await probes.probe_grpc("127.0.0.1", port, service="", timeout_seconds=0.05)
    assert outcome == Outcome(Result.FAILURE, f'timeout: failed to connect service '
                                              f'"127.0.0.1:{port}" within 50ms: '
                                              "context deadline exceeded")


# --- exec ------------------------------------------------------------------------------------

async def test_exec_exit_zero_succeeds_with_its_output() -> None:
    cri = ScriptedExec(api_pb2.ExecSyncResponse(stdout=b"fine\n", exit_code=0))
    outcome = await probes.probe_exec(cri, "containerd://abc", ["cat", "/tmp/healthy"],
                                      timeout_seconds=3)
    assert outcome == Outcome(Result.SUCCESS, "fine\n")
    assert cri.calls == [("abc", ["cat", "/tmp/healthy"], 3)]


async def test_exec_nonzero_exit_fails_with_stdout_then_stderr() -> None:
    cri = ScriptedExec(api_pb2.ExecSyncResponse(stdout=b"out ", stderr=b"err", exit_code=1))
    outcome = await probes.probe_exec(cri, "abc", ["check"], timeout_seconds=1)
    assert outcome == Outcome(Result.FAILURE, "out err")


async def test_exec_past_its_timeout_fails_as_timed_out() -> None:
    cri = ScriptedExec(runtime.CRIError("DEADLINE_EXCEEDED", "timeout 1s exceeded"))
    outcome = await probes.probe_exec(cri, "abc", ["sleep", "10"], timeout_seconds=1)
    assert outcome == Outcome(Result.FAILURE, 'command "sleep 10" timed out')


async def test_exec_runtime_error_is_an_error() -> None:
    cri = ScriptedExec(runtime.CRIError("NOT_FOUND", "container abc not found"))
    outcome = await probes.probe_exec(cri, "abc", ["true"], timeout_seconds=1)
    assert outcome == Outcome(Result.UNKNOWN, "", "rpc error: code = NotFound desc = container "
                                                  "abc not found")
