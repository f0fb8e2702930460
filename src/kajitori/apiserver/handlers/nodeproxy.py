"""pods/log, pods/exec, pods/attach, pods/portforward: requests the node's kubelet answers.

Mirrors upstream's `pkg/registry/core/pod/rest/log.go` and `subresources.go` with
`pkg/registry/core/pod/strategy.go` (LogLocation, streamLocation, PortForwardLocation,
validateContainer) and `pkg/kubelet/client` (the node's address and kubelet port): the pod
must exist; the container is the named one, or the pod's only one; the request goes to
`https://<node address>:<daemonEndpoints.kubeletEndpoint.Port>/containerLogs|exec|attach|
portForward/...` with the apiserver's kubelet client certificate. Logs are streamed back as
they come (`follow`); the kubelet's refusals (400 text) become BadRequest Statuses, worded by
the kubelet (`kajitori.kubelet.server`).

exec/attach/portforward accept kubectl's WebSocket only after the kubelet accepted the same
WebSocket (same subprotocols), then relay messages both ways unchanged, so the kubelet ends
kubectl's `v5.channel.k8s.io` (or carries its SPDY tunnel for port-forward): see
`kajitori.kubelet.streaming` for the chain down to containerd. kubectl's plain SPDY/3.1 upgrade
(`Upgrade: SPDY/3.1`, its fallback) is proxied as upstream's UpgradeAwareHandler does: the same
upgrade to the kubelet, its 101 relayed, raw bytes both ways (`kajitori.httpstream.upgradeaware`);
a kubelet refusing it is relayed as it answered. Any other request gets upstream's
`Upgrade request required`.

Departures from upstream, on purpose:
- A pod on a simulated node (`containerRuntimeVersion` `sim://...`) has an empty log, and exec,
  attach and port-forward are refused with a BadRequest: the simulator runs no containers.
- The kubelet's serving certificate is not verified (as upstream without
  `--kubelet-certificate-authority`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from kajitori.api import errors
from kajitori.apiserver import registry
from kajitori.apiserver.handlers.scope import RequestScope
from kajitori.httpstream import upgradeaware

Obj = dict[str, Any]

SUBRESOURCES = frozenset({"log", "exec", "attach", "portforward"})
DEFAULT_KUBELET_PORT = 10250
PREFERRED_ADDRESS_TYPES = ("InternalIP", "ExternalIP", "Hostname")
"""kubeadm's `--kubelet-preferred-address-types`."""
SIMULATED_RUNTIME_PREFIX = "sim://"
CONNECT_TIMEOUT = 10.0
NORMAL_CLOSURE = 1000
INTERNAL_ERROR_CLOSURE = 1011
UNSENDABLE_CLOSE_CODES = frozenset({1005, 1006, 1015})
"""Close codes RFC 6455 reserves for reporting, never sent in a close frame."""
TRUE_VALUES = ("1", "t", "T", "true", "TRUE", "True")
"""Go's strconv.ParseBool true values, how upstream decodes boolean options."""
NEGATIVE_MESSAGE = "must be greater than or equal to 0"
NOT_POSITIVE_MESSAGE = "must be greater than 0"
SINCE_BOTH_MESSAGE = "at most one of `sinceTime` or `sinceSeconds` may be specified"
LOG_QUERY_PARAMS = ("follow", "previous", "timestamps", "sinceSeconds", "sinceTime",
                    "tailLines", "limitBytes")
"""PodLogOptions the kubelet is told, as LogLocation passes them."""
BOOLEAN_LOG_PARAMS = frozenset({"follow", "previous", "timestamps"})
STREAM_FLAGS = ("stdin", "stdout", "stderr", "tty")
UPGRADE_REQUIRED = "Upgrade request required"


@dataclass
class KubeletClient:
    """How the apiserver reaches kubelets (upstream's KubeletClientConfig): the client
    certificate it shows (kubeadm's `apiserver-kubelet-client.crt`; None shows none, which only
    a simulated node or a test's kubelet accepts)."""

    cert_file: Path | None = None
    key_file: Path | None = None
    _context: ssl.SSLContext | None = field(default=None, init=False, repr=False)

    def ssl_context(self) -> ssl.SSLContext:
        if self._context is None:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            if self.cert_file is not None and self.key_file is not None:
                context.load_cert_chain(self.cert_file, self.key_file)
            self._context = context
        return self._context


async def serve(scope: RequestScope, *, nodes: registry.Registry,
                kubelet: KubeletClient) -> web.StreamResponse:
    """Serve one pods/log, exec, attach or portforward request; the caller checked the verb."""
    subresource = scope.info.subresource
    if subresource == "log":
        return await pod_log(scope, nodes=nodes, kubelet=kubelet)
    return await pod_stream(scope, nodes=nodes, kubelet=kubelet)


def _is_true(value: str | None) -> bool:
    return value in TRUE_VALUES


def validate_log_options(scope: RequestScope) -> list[errors.FieldError]:
    """upstream's ValidatePodLogOptions over the query."""
    problems = []
    tail = scope.int_param("tailLines", -1) if scope.query.get("tailLines") else None
    if tail is not None and tail < 0:
        problems.append(errors.FieldError.invalid("tailLines", tail, NEGATIVE_MESSAGE))
    limit = scope.int_param("limitBytes") if scope.query.get("limitBytes") else None
    if limit is not None and limit < 1:
        problems.append(errors.FieldError.invalid("limitBytes", limit, NOT_POSITIVE_MESSAGE))
    since_seconds = scope.int_param("sinceSeconds") if scope.query.get("sinceSeconds") \
        else None
    if since_seconds is not None and scope.query.get("sinceTime"):
        problems.append(errors.FieldError.forbidden("", SINCE_BOTH_MESSAGE))
    elif since_seconds is not None and since_seconds < 1:
        problems.append(errors.FieldError.invalid("sinceSeconds", since_seconds,
                                                  NOT_POSITIVE_MESSAGE))
    return problems


def validate_container(pod: Obj, container: str) -> str:
    """upstream's validateContainer: the named container (init and ephemeral ones included),
    or the only one when none is named. Raises BadRequest in upstream's words."""
    spec = pod.get("spec") or {}
    name = (pod.get("metadata") or {}).get("name", "")
    every = [c.get("name", "") for key in ("initContainers", "containers",
                                           "ephemeralContainers")
             for c in spec.get(key) or ()]
    if container:
        if container not in every:
            raise errors.bad_request(f"container {container} is not valid for pod {name}")
        return container
    containers = spec.get("containers") or []
    if len(containers) == 1:
        return str(containers[0].get("name", ""))
    if not containers:
        raise errors.bad_request(f"a container name must be specified for pod {name}")
    raise errors.bad_request(f"a container name must be specified for pod {name}, "
                             f"choose one of: [{' '.join(every)}]")


@dataclass(frozen=True)
class KubeletLocation:
    """Where a node's kubelet answers: `https://<address>:<port>`, and whether the node is
    simulated (its address leads nowhere)."""

    base_url: str
    simulated: bool


def kubelet_location(node: Obj) -> KubeletLocation:
    """The kubelet URL of the Node `node` (upstream's NodeConnectionInfoGetter): its first
    address of the PREFERRED_ADDRESS_TYPES and its `daemonEndpoints.kubeletEndpoint.Port`
    (DEFAULT_KUBELET_PORT when unset). Raises `errors.unknown` in upstream's words when the
    node has no preferred address. Also the metrics scraper's (`kajitori.apiserver.
    metricsscraper`)."""
    status = node.get("status") or {}
    simulated = str((status.get("nodeInfo") or {}).get("containerRuntimeVersion", "")
                    ).startswith(SIMULATED_RUNTIME_PREFIX)
    addresses = status.get("addresses") or []
    host = next((a.get("address") for kind in PREFERRED_ADDRESS_TYPES for a in addresses
                 if a.get("type") == kind and a.get("address")), None)
    if host is None:
        known = ", ".join(f"{{{a.get('type')} {a.get('address')}}}" for a in addresses)
        raise errors.unknown(f"no preferred addresses found; known addresses: [{known}]")
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or 0
    if int(port) <= 0:
        port = DEFAULT_KUBELET_PORT
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return KubeletLocation(base_url=f"https://{netloc}", simulated=simulated)


async def _node(nodes: registry.Registry, node_name: str) -> KubeletLocation:
    return kubelet_location(await nodes.get("", node_name))


def _kubelet_error(status: int, body: str) -> errors.StatusError:
    """upstream's GenericHttpResponseChecker: the kubelet's answer as the client sees it."""
    if status == 400:
        return errors.bad_request(body)
    if status == 500:
        return errors.internal_error(body)
    if status == 404:
        return errors.StatusError(errors.status(404, "NotFound", body))
    return errors.StatusError(errors.status(status, "", body))


async def pod_log(scope: RequestScope, *, nodes: registry.Registry,
                  kubelet: KubeletClient) -> web.StreamResponse:
    name = scope.info.name
    problems = validate_log_options(scope)
    if problems:
        raise errors.invalid("PodLogOptions", name, problems)
    pod = await scope.registry.get(scope.info.namespace, name)
    container = validate_container(pod, scope.query.get("container", ""))
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        return await _empty_log(scope)
    node = await _node(nodes, node_name)
    if node.simulated:
        return await _empty_log(scope)
    params = []
    for key in LOG_QUERY_PARAMS:
        value = scope.query.get(key)
        if key in BOOLEAN_LOG_PARAMS:
            if _is_true(value):
                params.append((key, "true"))
        elif value:
            params.append((key, value))
    url = (f"{node.base_url}/containerLogs/{scope.info.namespace}/{name}/{container}"
           + (f"?{urllib.parse.urlencode(params)}" if params else ""))
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        try:
            backend = await session.get(url, ssl=kubelet.ssl_context())
        except (aiohttp.ClientError, OSError) as exc:
            raise errors.unknown(f'Get "{url}": {exc}') from exc
        async with backend:
            if not 200 <= backend.status <= 206:
                raise _kubelet_error(backend.status, await backend.text())
            response = web.StreamResponse(headers={"Content-Type": "text/plain"})
            await response.prepare(scope.http)
            with contextlib.suppress(aiohttp.ClientError):
                async for chunk in backend.content.iter_any():
                    await response.write(chunk)
            await response.write_eof()
            return response


async def _empty_log(scope: RequestScope) -> web.StreamResponse:
    """upstream's answer for a pod with no host: a 200 with no bytes."""
    return web.Response(body=b"", headers={"Content-Type": "text/plain"})


async def pod_stream(scope: RequestScope, *, nodes: registry.Registry,
                     kubelet: KubeletClient) -> web.StreamResponse:
    """exec, attach or portforward: connect a WebSocket to the kubelet, then accept kubectl's
    with the subprotocol the kubelet chose and relay messages until either side closes; or,
    for any other upgrade (SPDY/3.1), relay the raw connection (`upgradeaware.serve`)."""
    name, subresource = scope.info.name, scope.info.subresource
    pod = await scope.registry.get(scope.info.namespace, name)
    query = scope.query
    params: list[tuple[str, str]] = []
    if subresource == "portforward":
        path = f"/portForward/{scope.info.namespace}/{name}"
        for port in query.getall("ports", []):
            params.append(("port", port))
    else:
        container = validate_container(pod, query.get("container", ""))
        params = [(flag, "1") for flag in STREAM_FLAGS if _is_true(query.get(flag))]
        if subresource == "exec":
            command = query.getall("command", [])
            if not command:
                raise errors.bad_request("you must specify at least 1 command")
            params += [("command", c) for c in command]
        if not any(_is_true(query.get(f)) for f in ("stdin", "stdout", "stderr")):
            raise errors.bad_request("you must specify at least one of stdin, stdout, stderr")
        verb = "exec" if subresource == "exec" else "attach"
        path = f"/{verb}/{scope.info.namespace}/{name}/{container}"
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    node = await _node(nodes, node_name)
    if node.simulated:
        raise errors.bad_request(f"pod {name} runs on the simulated node {node_name}: it has "
                                 f"no containers to {subresource}")
    headers = scope.http.headers
    url = f"{node.base_url}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    if not upgradeaware.is_upgrade_request(scope.http):
        raise errors.bad_request(UPGRADE_REQUIRED)
    if headers.get("Upgrade", "").lower() != "websocket":
        try:
            return await upgradeaware.serve(scope.http, url, ssl_context=kubelet.ssl_context())
        except upgradeaware.BackendError as exc:
            raise errors.unknown(f"error dialing backend: {exc}") from exc
    protocols = [p.strip() for p in headers.get("Sec-WebSocket-Protocol", "").split(",")
                 if p.strip()]
    async with aiohttp.ClientSession() as session:
        try:
            backend = await session.ws_connect(
                url, protocols=protocols, ssl=kubelet.ssl_context(), max_msg_size=0,
                autoping=True, timeout=aiohttp.ClientWSTimeout(ws_close=CONNECT_TIMEOUT))
        except aiohttp.WSServerHandshakeError as exc:
            raise _kubelet_error(exc.status, exc.message) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise errors.unknown(f"error dialing backend: {exc}") from exc
        async with backend:
            client = web.WebSocketResponse(
                protocols=(backend.protocol,) if backend.protocol else (), max_msg_size=0,
                autoping=True)
            await client.prepare(scope.http)
            await _relay(client, backend)
            return client


async def _relay(client: web.WebSocketResponse,
                 backend: aiohttp.ClientWebSocketResponse) -> None:
    """Copy messages both ways (empty ones too: kubectl's SPDY tunnel sends them) until one
    side closes, then close the other with the same code.

    The copy still reading is stopped before the close: aiohttp's close() with a receive
    pending in another task drops the connection right after its close frame instead of
    waiting for the peer's. A code that must not be sent in a close frame (RFC 6455 7.4.1:
    1005, 1006, 1015, which aiohttp reports for a connection lost without one) is relayed as
    1011: kubectl then fails as it does on a broken stream, instead of rejecting the frame
    with `bad close code 1006`."""

    async def pump(source: Any, sink: Any) -> None:
        async for msg in source:
            if msg.type == aiohttp.WSMsgType.BINARY:
                await sink.send_bytes(msg.data)
            elif msg.type == aiohttp.WSMsgType.TEXT:
                await sink.send_str(msg.data)

    to_client = asyncio.create_task(pump(backend, client))
    to_backend = asyncio.create_task(pump(client, backend))
    try:
        done, pending = await asyncio.wait({to_client, to_backend},
                                           return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if to_client in done:
            await client.close(code=_relayed_close_code(backend.close_code))
        else:
            await backend.close(code=_relayed_close_code(client.close_code))
    finally:
        for task in (to_client, to_backend):
            task.cancel()
        await asyncio.gather(to_client, to_backend, return_exceptions=True)


def _relayed_close_code(code: int | None) -> int:
    """The close code to send on for one received: NORMAL_CLOSURE when there was none."""
    if code is None:
        return NORMAL_CLOSURE
    if code in UNSENDABLE_CLOSE_CODES:
        return INTERNAL_ERROR_CLOSURE
    return code
