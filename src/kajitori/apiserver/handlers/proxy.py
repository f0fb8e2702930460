"""nodes/proxy, pods/proxy and services/proxy: an HTTP request relayed to a node's kubelet, a
pod or one of a service's endpoints.

Mirrors upstream's `pkg/registry/core/{node,pod,service}/rest/proxy.go` and their
ResourceLocation functions: the name may carry a scheme and a port (`[scheme:]name[:port]`);
`/api/v1/nodes/n1/proxy/stats/summary` goes to `https://<node address>:<kubelet port>/stats/
summary` with the apiserver's kubelet client certificate (what `kubectl get --raw` on a node's
`/stats/summary` or `/metrics/resource` uses), `/api/v1/namespaces/ns/pods/p:8080/proxy/x` to
`http://<pod IP>:8080/x`, and `/api/v1/namespaces/ns/services/s:http/proxy/` to a ready
address of the service's Endpoints for that service port (what `kubectl proxy` users open).
The method, the query, the body and the end-to-end headers are passed on; the client's
credentials are not. The answer is streamed back with its status and headers.

Departures from upstream: no upgrade (WebSocket) requests through these proxies, and links in
HTML answers are not rewritten to the proxy's path.
"""

from __future__ import annotations

import contextlib
import random
import ssl
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from kajitori.api import errors
from kajitori.apiserver import registry
from kajitori.apiserver.handlers import nodeproxy
from kajitori.apiserver.handlers.scope import RequestScope

Obj = dict[str, Any]

SUBRESOURCE = "proxy"
RESOURCES = frozenset({"nodes", "pods", "services"})
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailer", "transfer-encoding", "upgrade", "host",
                        "authorization", "content-length"})
"""Request and answer headers that stay on their own hop (and the client's credentials)."""
TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=nodeproxy.CONNECT_TIMEOUT)
SCHEMES = ("http", "https")


@dataclass(frozen=True)
class Target:
    """`[scheme:]name[:port]` as upstream's `net.SplitSchemeNamePort`."""

    scheme: str
    name: str
    port: str


def split_name(text: str) -> Target:
    """Raises BadRequest for a scheme other than http or https, or too many parts."""
    parts = text.split(":")
    scheme, port = "", ""
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        name, port = parts
    elif len(parts) == 3:
        scheme, name, port = parts
    else:
        raise errors.bad_request(f"invalid request {text!r}")
    if not name or (scheme and scheme not in SCHEMES):
        raise errors.bad_request(f"invalid request {text!r}")
    return Target(scheme, name, port)


def proxied_path(scope: RequestScope) -> str:
    """What follows `/proxy` in the request's raw path (`/` when nothing does)."""
    raw = scope.http.raw_path.split("?", 1)[0]
    marker = f"/{scope.info.name}/{SUBRESOURCE}"
    _, found, rest = raw.partition(marker)
    return (rest or "/") if found else "/"


async def serve(scope: RequestScope, *, registry_for: Any,
                kubelet: nodeproxy.KubeletClient) -> web.StreamResponse:
    """One proxy request for `scope.info.resource` (one of RESOURCES)."""
    target = split_name(scope.info.name)
    resource = scope.info.resource
    context: ssl.SSLContext | bool = False
    if resource == "nodes":
        node = await scope.registry.get("", target.name)
        location = nodeproxy.kubelet_location(node)
        base = location.base_url
        if target.port:
            base = base.rsplit(":", 1)[0] + f":{target.port}"
        if target.scheme == "http":
            base = "http://" + base.removeprefix("https://")
        context = kubelet.ssl_context()
    elif resource == "pods":
        pod = await scope.registry.get(scope.info.namespace, target.name)
        ip = (pod.get("status") or {}).get("podIP")
        if not ip:
            raise errors.bad_request("address not allowed")
        base = _url(target.scheme or "http", ip, target.port)
    else:
        service = await scope.registry.get(scope.info.namespace, target.name)
        endpoints_registry: registry.Registry | None = registry_for("", "v1", "endpoints")
        if endpoints_registry is None:
            raise errors.not_found_path()
        ip, port = await _service_endpoint(scope, service, target, endpoints_registry)
        base = _url(target.scheme or "http", ip, str(port))
    return await _relay(scope, base + proxied_path(scope), context)


def _url(scheme: str, host: str, port: str) -> str:
    netloc = f"[{host}]" if ":" in host else host
    return f"{scheme}://{netloc}" + (f":{port}" if port else "")


async def _service_endpoint(scope: RequestScope, service: Obj, target: Target,
                            endpoints: registry.Registry) -> tuple[str, int]:
    """A ready address of the service for the named (or numbered, or only) service port, as
    upstream's service ResourceLocation picks one at random."""
    name = target.name
    ports = (service.get("spec") or {}).get("ports") or []
    wanted = [p for p in ports if not target.port or p.get("name") == target.port
              or str(p.get("port")) == target.port]
    if not wanted:
        raise errors.service_unavailable(
            f'no endpoints available for service "{name}"')
    port_name = wanted[0].get("name", "")
    found: Obj = {}
    with errors.ignore_not_found():
        found = await endpoints.get(scope.info.namespace, name)
    choices = [(address["ip"], port["port"])
               for subset in found.get("subsets") or []
               for port in subset.get("ports") or [] if port.get("name", "") == port_name
               for address in subset.get("addresses") or [] if address.get("ip")]
    if not choices:
        raise errors.service_unavailable(f'no endpoints available for service "{name}"')
    return random.choice(choices)


async def _relay(scope: RequestScope, url: str,
                 context: ssl.SSLContext | bool) -> web.StreamResponse:
    request = scope.http
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    body = await request.read() if request.can_read_body else None
    async with aiohttp.ClientSession(timeout=TIMEOUT, auto_decompress=False) as session:
        try:
            backend = await session.request(request.method, url, params=request.query,
                                            headers=headers, data=body, ssl=context,
                                            allow_redirects=False)
        except (aiohttp.ClientError, OSError) as exc:
            raise errors.service_unavailable(f"error trying to reach service: {exc}") from exc
        async with backend:
            answer = web.StreamResponse(status=backend.status, reason=backend.reason)
            for key, value in backend.headers.items():
                if key.lower() not in HOP_BY_HOP:
                    answer.headers.add(key, value)
            await answer.prepare(request)
            with contextlib.suppress(aiohttp.ClientError):
                async for chunk in backend.content.iter_any():
                    await answer.write(chunk)
            await answer.write_eof()
            return answer
