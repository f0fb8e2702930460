"""The probe kinds: exec, httpGet, tcpSocket and grpc, each run once against a container.

Mirrors upstream's `pkg/probe` (`probe.go` results, `util.go` ResolveContainerPort) and its
`exec`, `http` (`http.go`, `request.go`), `tcp` and `grpc` packages. Each `probe_*` function
answers an `Outcome`: a `Result` and the output users read in `Unhealthy` events
(`HTTP probe failed with statuscode: 500`, `dial tcp 10.42.0.7:8080: connect: connection
refused`). Failures to reach the container are results, not errors, as upstream converts them
"to catch timeouts"; `Outcome.error` is set only when the probe could not be run at all (an
unknown port name, a runtime that cannot exec), which the prober reports as "errored".

The HTTP request is built and sent by the same two functions for probes and for httpGet
lifecycle hooks (`kubelet/lifecycle.py`), as upstream's lifecycle handler uses
`NewRequestForHTTPGetAction` with the `lifecycle` user agent. The prober's schedule, thresholds
and events live in `kubelet/prober.py`.

Error texts are Go's (`Get "http://...": dial tcp ...`), since upstream shows its Go error
strings verbatim and users search for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import errno
import os
import re
import socket
import ssl
import urllib.parse
from typing import Any

import aiohttp
import grpc

from kajitori.api import protobuf
from kajitori.kubelet import runtime

Obj = dict[str, Any]

KUBE_VERSION = "1.33"
"""The minor version in `kube-probe/1.33` and `kube-lifecycle/1.33` user agents."""
PROBE_PURPOSE = "probe"
LIFECYCLE_PURPOSE = "lifecycle"
MAX_OUTPUT_LENGTH = 10 * 1024
"""Bytes of exec output or HTTP body kept for the message (upstream's maxRespBodyLength and
the exec prober's maxReadLength, 10 KiB)."""
MAX_REDIRECTS = 10
"""Go's http.Client default: the 11th redirect is an error."""

HEALTH_CHECK_METHOD = "/grpc.health.v1.Health/Check"
HEALTH_SERVING_STATUSES = ("UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN")
"""grpc.health.v1.HealthCheckResponse.ServingStatus, by number."""

TIMED_OUT = "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
HTTP_TO_HTTPS = "http: server gave HTTP response to HTTPS client"
"""What Go's client says when an https URL reaches a plain-HTTP server; lifecycle hooks retry
such a request over http (upstream's isHTTPResponseError)."""


class Result(enum.Enum):
    """probe.Result; the values are upstream's strings (`... resulted in unknown state`)."""

    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"
    UNKNOWN = "unknown"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One probe's answer. `output` is what a user reads; `error` is set when the probe could
    not be run (the result is then UNKNOWN and the prober retries)."""

    result: Result
    output: str = ""
    error: str | None = None


class PortError(Exception):
    """A probe or hook names a port the container does not have, or an invalid number."""


def join_host_port(host: str, port: int) -> str:
    """net.JoinHostPort: IPv6 literals in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def resolve_container_port(port: int | str, container: Obj) -> int:
    """probe.ResolveContainerPort: a number as is, a name through `container.ports[].name`.
    Raises PortError in upstream's words (`port "http" not found`, `invalid port number: 0`)."""
    if isinstance(port, str):
        for spec in container.get("ports") or []:
            if spec.get("name") == port:
                number = int(spec.get("containerPort", 0))
                break
        else:
            raise PortError(f'port "{port}" not found')
    else:
        number = int(port)
    if 0 < number < 65536:
        return number
    raise PortError(f"invalid port number: {number}")


# --- httpGet ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class HTTPGetRequest:
    """A GET built from an HTTPGetAction: the URL and the headers in the order given (names
    may repeat, as in http.Header.Add)."""

    url: str
    headers: tuple[tuple[str, str], ...]


def new_request_for_http_get_action(http_get: Obj, container: Obj, *, pod_ip: str,
                                    purpose: str) -> HTTPGetRequest:
    """NewRequestForHTTPGetAction: scheme (default http, lowercased), host (default the pod
    IP), the resolved port, path (its query kept), `httpHeaders`; `User-Agent:
    kube-<purpose>/1.33` and `Accept: */*` unless the action sets them (an empty Accept removes
    it). A `Host` header becomes the request's Host. Raises PortError."""
    scheme = (http_get.get("scheme") or "HTTP").lower()
    host = http_get.get("host") or pod_ip
    port = resolve_container_port(http_get.get("port", 0), container)
    path = http_get.get("path") or ""
    parts = urllib.parse.urlsplit(path)
    if parts.scheme or parts.netloc:  # not a path: kept whole, as Go's fallback keeps it
        parts = urllib.parse.SplitResult("", "", path, "", "")
    url_path = parts.path if not parts.path or parts.path.startswith("/") else "/" + parts.path
    url = urllib.parse.urlunsplit((scheme, join_host_port(host, port), url_path,
                                   parts.query, parts.fragment))
    headers = [(h.get("name", ""), h.get("value", "")) for h in http_get.get("httpHeaders") or []]
    names = {name.lower() for name, _ in headers}
    if "user-agent" not in names:
        headers.append(("User-Agent", f"kube-{purpose}/{KUBE_VERSION}"))
    if "accept" not in names:
        headers.append(("Accept", "*/*"))
    else:
        headers = [(n, v) for n, v in headers
                   if n.lower() != "accept" or _first(headers, "accept")]
    return HTTPGetRequest(url=url, headers=tuple(headers))


def _first(headers: list[tuple[str, str]], name: str) -> str:
    return next((v for n, v in headers if n.lower() == name), "")


@dataclasses.dataclass(frozen=True)
class HTTPResponse:
    status: int
    body: str
    """At most MAX_OUTPUT_LENGTH bytes of it, decoded leniently."""


class HTTPGetError(Exception):
    """The GET got no response: Go's url.Error text (`Get "http://...": dial tcp ...`)."""


async def http_get(request: HTTPGetRequest, *, timeout_seconds: float | None
                   ) -> HTTPResponse:
    """Send the GET without keep-alive, compression or proxy, not verifying certificates.

    Redirects are followed while they stay on the same host name (at most 10), as upstream's
    RedirectChecker(followNonLocalRedirects=false); a redirect elsewhere is answered with the
    3xx response itself. `timeout_seconds` (None for none) bounds everything, redirects and
    body included, like Go's Client.Timeout. Raises HTTPGetError."""
    url = request.url
    host_header = _first(list(request.headers), "host")
    headers = [(n, v) for n, v in request.headers if n.lower() != "host"]
    connector = aiohttp.TCPConnector(ssl=False, force_close=True)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
        try:
            async with asyncio.timeout(timeout_seconds):
                hops = 0
                while True:
                    sent = headers + ([("Host", host_header)] if host_header else [])
                    async with session.get(url, headers=sent, allow_redirects=False,
                                           skip_auto_headers=("Accept", "Accept-Encoding",
                                                              "User-Agent")) as resp:
                        location = resp.headers.get("Location")
                        if resp.status in (301, 302, 303, 307, 308) and location:
                            target = urllib.parse.urljoin(url, location)
                            if (urllib.parse.urlsplit(target).hostname
                                    == urllib.parse.urlsplit(url).hostname):
                                if hops == MAX_REDIRECTS:
                                    raise HTTPGetError(
                                        f'Get "{target}": stopped after {MAX_REDIRECTS} '
                                        "redirects")
                                if urllib.parse.urlsplit(location).netloc:
                                    host_header = ""  # Go keeps Host only on relative hops
                                url, hops = target, hops + 1
                                continue
                        body = await _read_at_most(resp.content, MAX_OUTPUT_LENGTH)
                        return HTTPResponse(status=resp.status,
                                            body=body.decode("utf-8", errors="replace"))
        except TimeoutError as exc:
            raise HTTPGetError(f'Get "{url}": {TIMED_OUT}') from exc
        except aiohttp.ClientConnectorError as exc:
            raise HTTPGetError(f'Get "{url}": {_connect_error(exc)}') from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise HTTPGetError(f'Get "{url}": EOF') from exc
        except (aiohttp.ClientError, ssl.SSLError) as exc:
            raise HTTPGetError(f'Get "{url}": {exc}') from exc


async def _read_at_most(stream: aiohttp.StreamReader, limit: int) -> bytes:
    data = b""
    while len(data) < limit:
        chunk = await stream.read(limit - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _connect_error(exc: aiohttp.ClientConnectorError) -> str:
    """Go's dial error for a failed connection."""
    if isinstance(exc, aiohttp.ClientConnectorSSLError | aiohttp.ClientSSLError):
        if re.search(r"WRONG_VERSION_NUMBER|wrong version number|record layer", str(exc)):
            return HTTP_TO_HTTPS
        return str(exc)
    return dial_error(exc.host, exc.port or 0, exc.os_error)


def dial_error(host: str, port: int, error: OSError) -> str:
    """`dial tcp 10.42.0.7:8080: connect: connection refused`, `...: i/o timeout`, or
    `dial tcp: lookup name: no such host`."""
    addr = join_host_port(host, port)
    if isinstance(error, socket.gaierror):
        return f"dial tcp: lookup {host}: no such host"
    if isinstance(error, TimeoutError) or error.errno == errno.ETIMEDOUT:
        return f"dial tcp {addr}: i/o timeout"
    reason = os.strerror(error.errno) if error.errno else str(error)
    return f"dial tcp {addr}: connect: {reason[:1].lower()}{reason[1:]}"


async def probe_http(request: HTTPGetRequest, *, timeout_seconds: float) -> Outcome:
    """DoHTTPProbe: 200-399 succeeds with the body as output, except that a redirect left
    unfollowed is a WARNING (`Probe terminated redirects, Response body: ...`); any other
    status fails with `HTTP probe failed with statuscode: N` (never the body: upstream keeps
    bodies out of events, issue 99425); no response fails with Go's error text."""
    try:
        resp = await http_get(request, timeout_seconds=timeout_seconds)
    except HTTPGetError as exc:
        return Outcome(Result.FAILURE, str(exc))
    if 200 <= resp.status < 400:
        if resp.status >= 300:
            return Outcome(Result.WARNING, f"Probe terminated redirects, Response body: "
                                           f"{resp.body}")
        return Outcome(Result.SUCCESS, resp.body)
    return Outcome(Result.FAILURE, f"HTTP probe failed with statuscode: {resp.status}")


# --- tcpSocket -------------------------------------------------------------------------------


async def probe_tcp(host: str, port: int, *, timeout_seconds: float) -> Outcome:
    """DoTCPProbe: success once a connection opens within `timeout_seconds` (then closed)."""
    try:
        async with asyncio.timeout(timeout_seconds):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError as exc:
        return Outcome(Result.FAILURE, dial_error(host, port, exc))
    except OSError as exc:
        return Outcome(Result.FAILURE, dial_error(host, port, exc))
    writer.close()
    with contextlib.suppress(OSError):  # the probe only needed the connection to open
        await writer.wait_closed()
    return Outcome(Result.SUCCESS)


# --- grpc ------------------------------------------------------------------------------------


def go_status_code(code_name: str) -> str:
    """A gRPC status code as Go's codes.Code.String() spells it (`NOT_FOUND` -> `NotFound`)."""
    if code_name == "CANCELLED":
        return "Canceled"
    return "".join(word.capitalize() for word in code_name.split("_"))


def rpc_error(code_name: str, message: str) -> str:
    """Go's status error text: `rpc error: code = Unavailable desc = ...`."""
    return f"rpc error: code = {go_status_code(code_name)} desc = {message}"


def _encode_health_request(service: str) -> bytes:
    """grpc.health.v1.HealthCheckRequest{service}: field 1, length-delimited."""
    data = service.encode()
    if not data:
        return b""
    length, out = len(data), bytearray(b"\x0a")
    while length >= 0x80:
        out.append(length & 0x7F | 0x80)
        length >>= 7
    out.append(length)
    return bytes(out) + data


def _decode_health_response(data: bytes) -> str:
    """grpc.health.v1.HealthCheckResponse.status (field 1, varint) as its enum name."""
    status, pos = 0, 0
    while pos < len(data):
        key = data[pos]
        pos += 1
        value, shift = 0, 0
        while True:
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        if key == 0x08:
            status = value
        elif key & 0x07 == 2:  # an unknown length-delimited field: skip its bytes
            pos += value
    if status < len(HEALTH_SERVING_STATUSES):
        return HEALTH_SERVING_STATUSES[status]
    return str(status)


async def probe_grpc(host: str, port: int, *, service: str,
                     timeout_seconds: float) -> Outcome:
    """The gRPC probe: grpc.health.v1.Health/Check for `service` ("" = the whole server) over
    plaintext, connecting and answering within `timeout_seconds` together; SERVING succeeds
    (`service healthy`), anything else fails with upstream's words."""
    addr = join_host_port(host, port)
    within = protobuf.go_duration(int(timeout_seconds * 1_000_000_000))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_seconds
    options = [("grpc.primary_user_agent", f"kube-{PROBE_PURPOSE}/{KUBE_VERSION}"),
               ("grpc.enable_retries", 0)]
    async with grpc.aio.insecure_channel(addr, options=options) as channel:
        try:
            async with asyncio.timeout(timeout_seconds):
                await channel.channel_ready()
        except TimeoutError:
            return Outcome(Result.FAILURE, f'timeout: failed to connect service "{addr}" '
                                           f"within {within}: context deadline exceeded")
        check = channel.unary_unary(HEALTH_CHECK_METHOD,
                                    request_serializer=_encode_health_request,
                                    response_deserializer=_decode_health_response)
        try:
            status = await check(service, timeout=max(deadline - loop.time(), 0.001))
        except grpc.aio.AioRpcError as exc:
            code, details = exc.code(), exc.details() or ""
            if code == grpc.StatusCode.UNIMPLEMENTED:
                return Outcome(Result.FAILURE, "error: this server does not implement the grpc "
                                               f"health protocol (grpc.health.v1.Health): "
                                               f"{details}")
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                return Outcome(Result.FAILURE,
                               f"timeout: health rpc did not complete within {within}")
            return Outcome(Result.FAILURE, "error: health rpc probe failed: "
                                           + rpc_error(code.name, details))
    if status != "SERVING":
        return Outcome(Result.FAILURE, f'service unhealthy (responded with "{status}")')
    return Outcome(Result.SUCCESS, "service healthy")


# --- exec ------------------------------------------------------------------------------------


def runtime_container_id(container_id: str) -> str:
    """The runtime's own id from a status containerID (`containerd://abc` -> `abc`)."""
    return container_id.partition("://")[2] or container_id


async def probe_exec(cri: runtime.RuntimeService, container_id: str, command: list[str], *,
                     timeout_seconds: int) -> Outcome:
    """The exec probe through CRI ExecSync: exit 0 succeeds, any other code fails; the output
    (stdout then stderr, at most 10 KiB) is the message either way. A run longer than
    `timeout_seconds` fails with `command "..." timed out`; a runtime error is an error."""
    try:
        resp = await cri.exec_sync(runtime_container_id(container_id), command,
                                   run_seconds=timeout_seconds)
    except runtime.CRIError as exc:
        if exc.code == "DEADLINE_EXCEEDED":
            return Outcome(Result.FAILURE, f'command "{" ".join(command)}" timed out')
        return Outcome(Result.UNKNOWN, error=rpc_error(exc.code, exc.message))
    output = (resp.stdout + resp.stderr)[:MAX_OUTPUT_LENGTH].decode("utf-8", errors="replace")
    return Outcome(Result.SUCCESS if resp.exit_code == 0 else Result.FAILURE, output)
