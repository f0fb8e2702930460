"""The kubelet's HTTPS API (port 10250): container logs, exec, attach, port-forward, pods.

Mirrors upstream's `pkg/kubelet/server/server.go`: `/containerLogs/{ns}/{pod}/{container}`,
`/exec/{ns}/{pod}/{container}`, `/attach/{ns}/{pod}/{container}`, `/portForward/{ns}/{pod}`,
`/pods`, `/healthz`, `/stats/summary` and `/metrics/resource` (`kajitori.kubelet.stats`; 404
without a stats provider), the paths and query parameters the apiserver's LogLocation /
streamLocation build (`apiserver/handlers/nodeproxy.py`). Logs are read by
`kajitori.kubelet.logs`; the streams are bridged to containerd by `kajitori.kubelet.streaming`
(WebSocket) or proxied to it unchanged (kubectl's plain SPDY upgrade).

Serving certificate: as upstream without `--tls-cert-file`, a self-signed certificate for the
node's host name and IP, kept as `<root>/pki/kubelet.crt` and `kubelet.key` and made again when
it expired or no longer names the node. Clients authenticate with a certificate signed by the
cluster CA (`client_ca`), as the apiserver's `apiserver-kubelet-client` does; the certificate's
user is then authorized by `authorizer` (`kajitori.kubelet.auth`: a SubjectAccessReview for
`nodes/proxy`, `nodes/stats`, ... as upstream's Webhook mode; AlwaysAllow by default).

Departures from upstream: no checkpoint or debugging endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import ipaddress
import logging
import socket
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

import orjson
from aiohttp import web
from cri_api.v1 import api_pb2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kajitori.httpstream import upgradeaware
from kajitori.kubelet import auth, logs, runtime, stats, statsmetrics, streaming

log = logging.getLogger(__name__)

Obj = dict[str, Any]

DEFAULT_PORT = 10250
PKI_DIR_NAME = "pki"
CERT_VALIDITY = datetime.timedelta(days=365)
CERT_RENEW_BEFORE = datetime.timedelta(days=1)
UNAUTHORIZED = "Unauthorized"
PARSE_BOOL_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
"""What Go's strconv.ParseBool reads as true (upstream parses `only_cpu_and_memory` so)."""


class HostInterface(Protocol):
    """What the server needs from the kubelet (upstream's `server.HostInterface`, the part of
    it served here). K3's kubelet implements it from its pod manager and status manager."""

    def get_pod_by_name(self, namespace: str, name: str) -> Obj | None:
        """The API pod bound to this node, with the latest status the kubelet computed
        (containerStatuses carry the `containerd://` ids); None when it has no such pod."""
        ...

    def get_pods(self) -> list[Obj]:
        """Every pod the kubelet runs (for `/pods`)."""
        ...


class KubeletServer:
    """The HTTPS API; start with `async with server.running(): ...` (or `start`/`stop`).

    `client_ca` is the cluster CA certificate (PEM) whose client certificates are admitted;
    `port` 0 picks a free port, readable as `server.port` once started. Requests are served
    concurrently; each stream holds its own connection to the runtime's streaming server.
    """

    def __init__(self, host: HostInterface, runtime_service: runtime.RuntimeService, *,
                 root_dir: Path, node_name: str, node_ip: str, client_ca: bytes,
                 address: str = "0.0.0.0", port: int = DEFAULT_PORT,
                 authorizer: auth.Authorizer | None = None,
                 stats_provider: stats.StatsProvider | None = None) -> None:
        self._host = host
        self._runtime = runtime_service
        self._root_dir = root_dir
        self._node_name = node_name
        self._node_ip = node_ip
        self._client_ca = client_ca
        self._authorizer = authorizer or auth.AlwaysAllow()
        self._stats = stats_provider
        self._address = address
        self.port = port
        self._runner: web.AppRunner | None = None

    # ---- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        cert, key = await asyncio.to_thread(
            ensure_serving_cert, self._root_dir / PKI_DIR_NAME, node_name=self._node_name,
            node_ip=self._node_ip)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert, key)
        context.verify_mode = ssl.CERT_OPTIONAL
        context.load_verify_locations(cadata=self._client_ca.decode())
        context.set_alpn_protocols(["http/1.1"])
        app = web.Application(middlewares=[self._authenticate])
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/pods", self._pods)
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self._container_logs)
        app.router.add_get("/stats/summary", self._stats_summary)
        app.router.add_get("/metrics/resource", self._metrics_resource)
        for method in ("GET", "POST"):
            app.router.add_route(method, "/exec/{namespace}/{pod}/{container}", self._exec)
            app.router.add_route(method, "/attach/{namespace}/{pod}/{container}", self._attach)
            app.router.add_route(method, "/portForward/{namespace}/{pod}", self._port_forward)
        sock = socket.create_server((self._address, self.port), reuse_port=False)
        self.port = sock.getsockname()[1]
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        try:
            await self._runner.setup()
            await web.SockSite(self._runner, sock, ssl_context=context).start()
        except BaseException:
            sock.close()
            raise

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[KubeletServer]:
        await self.start()
        try:
            yield self
        finally:
            await self.stop()

    # ---- handlers ----------------------------------------------------------------------

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        ssl_object = request.transport.get_extra_info("ssl_object") if request.transport \
            else None
        peer_cert = ssl_object.getpeercert() if ssl_object is not None else None
        if not peer_cert:
            return web.Response(status=401, text=UNAUTHORIZED)
        denied = await auth.first_denial(self._authorizer, auth.request_attributes(
            auth.user_of_certificate(peer_cert), method=request.method, path=request.path,
            node_name=self._node_name))
        if denied is not None:
            return web.Response(status=403, text=denied.forbidden())
        response: web.StreamResponse = await handler(request)
        return response

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _pods(self, _request: web.Request) -> web.Response:
        body = {"kind": "PodList", "apiVersion": "v1", "metadata": {},
                "items": self._host.get_pods()}
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    async def _stats_summary(self, request: web.Request) -> web.Response:
        """upstream's `handleSummary`: the Summary, or only cpu and memory when asked."""
        if self._stats is None:
            raise web.HTTPNotFound()
        try:
            summary = await self._stats.summary()
        except runtime.CRIError as exc:
            raise web.HTTPInternalServerError(text=f"Internal Error: {exc}") from exc
        if request.query.get("only_cpu_and_memory") in PARSE_BOOL_TRUE:
            summary = stats.only_cpu_and_memory(summary)
        return web.Response(body=orjson.dumps(summary), content_type="application/json")

    async def _metrics_resource(self, _request: web.Request) -> web.Response:
        if self._stats is None:
            raise web.HTTPNotFound()
        try:
            summary: Obj | None = await self._stats.summary()
        except runtime.CRIError:
            log.exception("Error getting summary for resourceMetric prometheus endpoint")
            summary = None
        return web.Response(body=statsmetrics.render(summary).encode(),
                            headers={"Content-Type": statsmetrics.CONTENT_TYPE})

    def _pod(self, request: web.Request) -> Obj:
        namespace, name = request.match_info["namespace"], request.match_info["pod"]
        pod = self._host.get_pod_by_name(namespace, name)
        if pod is None:
            raise web.HTTPNotFound(text=f'pod "{name}" does not exist')
        return pod

    async def _container_logs(self, request: web.Request) -> web.StreamResponse:
        pod = self._pod(request)
        name, container = request.match_info["pod"], request.match_info["container"]
        if not _has_container(pod, container):
            raise web.HTTPNotFound(text=f'container "{container}" not found in pod "{name}"')
        try:
            options, previous = logs.options_from_query(request.query, now_ns=time.time_ns())
            container_id = logs.log_container_id(pod, container, previous=previous)
        except logs.LogError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
        try:
            status = await self._runtime.container_status(container_id)
        except runtime.CRIError as exc:
            raise web.HTTPBadRequest(
                text=f'failed to get container status "{container_id}": {exc}') from exc
        path = Path(status.log_path)
        if not await asyncio.to_thread(path.is_file):
            raise web.HTTPBadRequest(text=f'failed to open log file "{path}": '
                                          "no such file or directory")
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)

        async def is_running() -> bool:
            try:
                current = await self._runtime.container_status(container_id)
            except runtime.CRIError:
                return False
            return current.state == api_pb2.ContainerState.CONTAINER_RUNNING

        await logs.read_logs(path, options, response.write, is_running=is_running)
        await response.write_eof()
        return response

    async def _running_container_id(self, pod: Obj, container: str) -> str | None:
        uid = pod["metadata"]["uid"]
        found = await self._runtime.list_containers(labels={
            runtime.POD_UID_LABEL: uid, runtime.CONTAINER_NAME_LABEL: container})
        running = [c for c in found if c.state == api_pb2.ContainerState.CONTAINER_RUNNING]
        return running[0].id if running else None

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        return await self._remote_command(request, attach=False)

    async def _attach(self, request: web.Request) -> web.StreamResponse:
        return await self._remote_command(request, attach=True)

    async def _remote_command(self, request: web.Request, *, attach: bool
                              ) -> web.StreamResponse:
        """exec/attach: kubectl's plain SPDY upgrade is proxied to the runtime's streaming
        server as it is (refusals as upstream's streaming.WriteError: a 500 with the error's
        text); its v5 WebSocket is accepted first and bridged (refusals on the error
        channel)."""
        pod = self._pod(request)
        container = request.match_info["container"]
        options = streaming.StreamOptions.from_query(request.query)
        if streaming.is_spdy_upgrade(request):
            try:
                url = await self._remote_command_url(request, pod, container, options,
                                                     attach=attach)
            except streaming.StreamError as exc:
                raise web.HTTPInternalServerError(text=str(exc)) from exc
            return await _proxy_upgrade(request, url)
        ws = await _accept(request, streaming.REMOTE_COMMAND_V5)
        if attach:
            # As upstream's GetAttach: whether the process has a TTY was fixed when it started
            # (`kubectl run -it` with a piped stdin asks for none); a TTY merges stderr.
            tty = bool((_container_spec(pod, container) or {}).get("tty"))
            options = dataclasses.replace(options, tty=tty, stderr=options.stderr and not tty)
        try:
            url = await self._remote_command_url(request, pod, container, options,
                                                 attach=attach)
        except streaming.StreamError as exc:
            await streaming.send_status_and_close(ws, streaming.failure_status(str(exc)))
            return ws
        await streaming.bridge_remote_command(ws, url, options)
        return ws

    async def _remote_command_url(self, request: web.Request, pod: Obj, container: str,
                                  options: streaming.StreamOptions, *, attach: bool) -> str:
        """The runtime's streaming URL for this exec/attach; StreamError in upstream's words
        when the container is not running or the runtime refuses."""
        container_id = await self._running_container_id(pod, container)
        if container_id is None:
            raise streaming.StreamError(f'container not found ("{container}")')
        try:
            if attach:
                return await self._runtime.attach(api_pb2.AttachRequest(
                    container_id=container_id, stdin=options.stdin, tty=options.tty,
                    stdout=options.stdout, stderr=options.stderr))
            return await self._runtime.exec(api_pb2.ExecRequest(
                container_id=container_id, cmd=request.query.getall("command", []),
                tty=options.tty, stdin=options.stdin, stdout=options.stdout,
                stderr=options.stderr))
        except runtime.CRIError as exc:
            raise streaming.StreamError(exc.message) from exc

    async def _port_forward(self, request: web.Request) -> web.StreamResponse:
        pod = self._pod(request)
        uid = pod["metadata"]["uid"]
        sandboxes = await self._runtime.list_pod_sandboxes(labels={runtime.POD_UID_LABEL: uid})
        ready = [s for s in sandboxes if s.state == api_pb2.PodSandboxState.SANDBOX_READY]
        if not ready:
            raise web.HTTPNotFound(text=f'pod "{request.match_info["pod"]}" has no sandbox')
        forward = api_pb2.PortForwardRequest(pod_sandbox_id=ready[0].id)
        if streaming.is_spdy_upgrade(request):
            try:
                url = await self._runtime.port_forward(forward)
            except runtime.CRIError as exc:
                raise web.HTTPInternalServerError(text=exc.message) from exc
            return await _proxy_upgrade(request, url)
        ws = await _accept(request, streaming.PORT_FORWARD_WEBSOCKET)
        try:
            url = await self._runtime.port_forward(forward)
        except runtime.CRIError:
            log.exception("port-forward to pod %s", uid)
            await ws.close(code=streaming.NORMAL_CLOSURE)
            return ws
        await streaming.bridge_port_forward(ws, url)
        return ws


async def _proxy_upgrade(request: web.Request, url: str) -> web.StreamResponse:
    """kubectl's SPDY upgrade relayed to the runtime's streaming `url` (upstream's
    proxyStream); a streaming server that cannot be reached is a 500, as upstream's."""
    try:
        return await upgradeaware.serve(request, url)
    except upgradeaware.BackendError as exc:
        raise web.HTTPInternalServerError(text=f"error dialing backend: {exc}") from exc


async def _accept(request: web.Request, protocol: str) -> web.WebSocketResponse:
    """Upgrade to a WebSocket speaking `protocol`, which the client must offer; anything else
    is a 400, as upstream answers an unsupported upgrade."""
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    if request.headers.get("Upgrade", "").lower() != "websocket" or protocol not in offered:
        raise web.HTTPBadRequest(text=f"unable to upgrade: the client must offer WebSocket "
                                      f"subprotocol {protocol}")
    ws = web.WebSocketResponse(protocols=(protocol,), max_msg_size=0, autoping=True)
    await ws.prepare(request)
    return ws


def _container_spec(pod: Obj, name: str) -> Obj | None:
    """The pod's init, app or ephemeral container named `name`."""
    spec = pod.get("spec") or {}
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(key) or ():
            if container.get("name") == name:
                found: Obj = container
                return found
    return None


def _has_container(pod: Obj, name: str) -> bool:
    return _container_spec(pod, name) is not None


def ensure_serving_cert(pki_dir: Path, *, node_name: str, node_ip: str) -> tuple[Path, Path]:
    """`(kubelet.crt, kubelet.key)` under `pki_dir`: kept while valid for another day and
    naming `node_name` and `node_ip`, otherwise made again (self-signed, ECDSA P-256).
    Synchronous: call in a thread."""
    cert_path, key_path = pki_dir / "kubelet.crt", pki_dir / "kubelet.key"
    now = datetime.datetime.now(datetime.UTC)
    if cert_path.exists() and key_path.exists() and \
            _cert_covers(cert_path, node_name=node_name, node_ip=node_ip, now=now):
        return cert_path, key_path
    pki_dir.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                         f"{node_name}@{int(now.timestamp())}")])
    sans: list[x509.GeneralName] = [x509.DNSName(node_name)]
    with contextlib.suppress(ValueError):
        sans.append(x509.IPAddress(ipaddress.ip_address(node_ip)))
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + CERT_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(key, hashes.SHA256()))
    key_path.touch(mode=0o600)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def _cert_covers(cert_path: Path, *, node_name: str, node_ip: str,
                 now: datetime.datetime) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    if cert.not_valid_after_utc - CERT_RENEW_BEFORE <= now:
        return False
    ips = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    try:
        wanted_ip = {str(ipaddress.ip_address(node_ip))}
    except ValueError:
        wanted_ip = set()
    return node_name in sans.get_values_for_type(x509.DNSName) and wanted_ip <= ips
