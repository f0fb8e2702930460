"""nodes/proxy, pods/proxy and services/proxy through the full HTTP stack, to stand-in
backends on loopback (a TLS kubelet, a plain HTTP pod)."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from test_nodeproxy import make_node, post

from kajitori.kubelet import server as kubelet_server

if TYPE_CHECKING:
    from conftest import API

Obj = dict[str, Any]

NS = "/api/v1/namespaces/default"


async def _echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response(
        {"method": request.method, "path": request.path, "query": request.query_string,
         "body": body.decode(), "authorization": request.headers.get("Authorization", ""),
         "custom": request.headers.get("X-Custom", "")},
        headers={"X-Backend": "yes"}, status=201 if request.method == "POST" else 200)


@contextlib.asynccontextmanager
async def backend(tls_dir: Path | None = None) -> AsyncIterator[int]:
    context = None
    if tls_dir is not None:
        cert, key = kubelet_server.ensure_serving_cert(tls_dir, node_name="n1",
                                                       node_ip="127.0.0.1")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    try:
        yield site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    finally:
        await runner.cleanup()


async def _pod_at_loopback(api: API, name: str) -> None:
    await post(api, f"{NS}/pods", {"apiVersion": "v1", "kind": "Pod",
                                   "metadata": {"name": name, "labels": {"app": name}},
                                   "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    async with api.session.patch(api.url(f"{NS}/pods/{name}/status"),
                                 json={"status": {"podIP": "127.0.0.1"}},
                                 headers={"Content-Type": "application/merge-patch+json"}
                                 ) as resp:
        assert resp.status == 200, await resp.text()


async def test_node_proxy_reaches_the_kubelet_path_with_query_and_body(
        api: API, tmp_path: Path) -> None:
    async with backend(tmp_path / "pki") as port:
        await make_node(api, "n1", port=port)
        async with api.session.get(api.url(
                "/api/v1/nodes/n1/proxy/stats/summary?only_cpu_and_memory=true"),
                headers={"X-Custom": "kept"}) as resp:
            answer = await resp.json()
            assert resp.headers["X-Backend"] == "yes"
        async with api.session.post(api.url("/api/v1/nodes/n1/proxy/run/x"),
                                    data=b"hello") as posted:
            created = await posted.json()
    assert resp.status == 200
    assert answer["path"] == "/stats/summary"
    assert answer["query"] == "only_cpu_and_memory=true"
    assert answer["custom"] == "kept"
    assert answer["authorization"] == ""
    assert posted.status == 201
    assert (created["method"], created["body"]) == ("POST", "hello")


async def test_pod_proxy_goes_to_the_pod_ip_and_port(api: API) -> None:
    async with backend() as port:
        await _pod_at_loopback(api, "web")
        async with api.session.get(api.url(f"{NS}/pods/web:{port}/proxy/hello?x=1")) as resp:
            answer = await resp.json()
    assert resp.status == 200
    assert (answer["path"], answer["query"]) == ("/hello", "x=1")


async def test_service_proxy_picks_an_endpoint_of_the_named_port(api: API) -> None:
    async with backend() as port:
        await post(api, f"{NS}/services", {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"ports": [{"name": "http", "port": 80, "targetPort": port}]}})
        await post(api, f"{NS}/endpoints", {
            "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"},
            "subsets": [{"addresses": [{"ip": "127.0.0.1"}],
                         "ports": [{"name": "http", "port": port}]}]})
        async with api.session.get(api.url(f"{NS}/services/web:http/proxy/")) as by_name, \
                api.session.get(api.url(f"{NS}/services/web/proxy/a/b")) as only:
            assert (by_name.status, only.status) == (200, 200)
            assert (await by_name.json())["path"] == "/"
            assert (await only.json())["path"] == "/a/b"


async def test_a_service_without_endpoints_is_unavailable(api: API) -> None:
    await post(api, f"{NS}/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "lonely"},
        "spec": {"ports": [{"port": 80}]}})
    async with api.session.get(api.url(f"{NS}/services/lonely/proxy/")) as resp:
        status = await resp.json()
    assert (resp.status, status["reason"], status["message"]) == (
        503, "ServiceUnavailable", 'no endpoints available for service "lonely"')


async def test_an_unreachable_node_and_a_bad_scheme_are_reported(api: API) -> None:
    async with backend() as port:
        pass  # closed: nothing listens on `port` any more
    await make_node(api, "gone", port=port)
    async with api.session.get(api.url("/api/v1/nodes/gone/proxy/pods")) as resp:
        status = await resp.json()
    assert resp.status == 503
    assert status["message"].startswith("error trying to reach service: ")
    async with api.session.get(api.url("/api/v1/nodes/ftp:gone:1/proxy/")) as bad:
        assert bad.status == 400
    async with api.session.get(api.url("/api/v1/nodes/missing/proxy/")) as missing:
        assert missing.status == 404
