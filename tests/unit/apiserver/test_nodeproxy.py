"""pods/log and pods/exec through the full HTTP stack, proxied to a stand-in kubelet (TLS, on a
free port named by the node's daemonEndpoints)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from inprocessserver import AUTH

from kajitori.kubelet import server as kubelet_server

if TYPE_CHECKING:
    from conftest import API

Obj = dict[str, Any]

PODS = "/api/v1/namespaces/default/pods"
V5 = "v5.channel.k8s.io"
WAITING = 'container "c" in pod "waiting" is waiting to start: ContainerCreating'


class StandInKubelet:
    """Answers /containerLogs with the request it got, refuses pod `waiting` as the kubelet
    does, and runs a one-message exec over WebSocket v5."""

    def __init__(self) -> None:
        self.stdin: list[bytes] = []

    async def logs(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["pod"] == "waiting":
            return web.Response(status=400, text=WAITING)
        response = web.StreamResponse()
        await response.prepare(request)
        for line in (request.path + "\n", request.query_string + "\n"):
            await response.write(line.encode())
        return response

    async def exec(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=(V5,))
        await ws.prepare(request)
        async for msg in ws:
            if msg.data[:1] == b"\xff":
                break
            self.stdin.append(msg.data)
        await ws.send_bytes(b"\x01" + request.query_string.encode())
        await ws.send_bytes(b"\x03" + json.dumps({"metadata": {}, "status": "Success"}).encode())
        await ws.close()
        return ws


@contextlib.asynccontextmanager
async def stand_in_kubelet(tmp_path: Path) -> AsyncIterator[tuple[StandInKubelet, int]]:
    cert, key = kubelet_server.ensure_serving_cert(tmp_path / "pki", node_name="n1",
                                                   node_ip="127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    kubelet = StandInKubelet()
    app = web.Application()
    app.router.add_get("/containerLogs/{ns}/{pod}/{container}", kubelet.logs)
    app.router.add_get("/exec/{ns}/{pod}/{container}", kubelet.exec)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    try:
        yield kubelet, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    finally:
        await runner.cleanup()


async def post(api: API, path: str, obj: Obj) -> Obj:
    async with api.session.post(api.url(path), json=obj) as resp:
        assert resp.status == 201, await resp.text()
        return dict(await resp.json())


async def make_node(api: API, name: str, *, port: int, runtime: str = "containerd://1.6.20"
                    ) -> None:
    await post(api, "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
                                      "metadata": {"name": name}})
    status = {"status": {"addresses": [{"type": "Hostname", "address": name},
                                       {"type": "InternalIP", "address": "127.0.0.1"}],
                         "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
                         "nodeInfo": {"containerRuntimeVersion": runtime}}}
    async with api.session.patch(api.url(f"/api/v1/nodes/{name}/status"), json=status,
                                 headers={"Content-Type": "application/merge-patch+json"}
                                 ) as resp:
        assert resp.status == 200, await resp.text()


async def make_pod(api: API, name: str, *, node: str = "", containers: tuple[str, ...] = ("c",)
                   ) -> None:
    spec: Obj = {"containers": [{"name": c, "image": "busybox"} for c in containers]}
    await post(api, PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                           "spec": spec})
    if node:
        await post(api, f"{PODS}/{name}/binding", {
            "apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
            "target": {"kind": "Node", "name": node}})


async def get_log(api: API, path: str) -> tuple[int, str]:
    async with api.session.get(api.url(path)) as resp:
        return resp.status, await resp.text()


async def test_log_is_proxied_to_the_nodes_kubelet(api: API, tmp_path: Path) -> None:
    async with stand_in_kubelet(tmp_path) as (_, port):
        await make_node(api, "n1", port=port)
        await make_pod(api, "p", node="n1")
        code, body = await get_log(
            api, f"{PODS}/p/log?follow=true&tailLines=2&timestamps=1&previous=false")
    assert code == 200
    assert body == "/containerLogs/default/p/c\nfollow=true&timestamps=true&tailLines=2\n"


async def test_kubelet_refusal_is_a_bad_request(api: API, tmp_path: Path) -> None:
    async with stand_in_kubelet(tmp_path) as (_, port):
        await make_node(api, "n1", port=port)
        await make_pod(api, "waiting", node="n1")
        async with api.session.get(api.url(f"{PODS}/waiting/log")) as resp:
            status = await resp.json()
    assert (resp.status, status["reason"], status["message"]) == (400, "BadRequest", WAITING)


async def test_unscheduled_and_simulated_pods_have_empty_logs(api: API) -> None:
    await make_pod(api, "pending")
    assert await get_log(api, f"{PODS}/pending/log") == (200, "")
    await make_node(api, "sim", port=1, runtime="sim://0.1")
    await make_pod(api, "simulated", node="sim")
    assert await get_log(api, f"{PODS}/simulated/log") == (200, "")


async def test_container_must_be_named_when_there_are_several(api: API) -> None:
    await make_pod(api, "two", containers=("a", "b"))
    async with api.session.get(api.url(f"{PODS}/two/log")) as resp:
        status = await resp.json()
    assert (resp.status, status["message"]) == (
        400, "a container name must be specified for pod two, choose one of: [a b]")
    async with api.session.get(api.url(f"{PODS}/two/log?container=x")) as resp:
        status = await resp.json()
    assert status["message"] == "container x is not valid for pod two"


async def test_log_options_are_validated(api: API) -> None:
    await make_pod(api, "p")
    async with api.session.get(api.url(f"{PODS}/p/log?tailLines=-1&sinceSeconds=5&"
                                       "sinceTime=2026-01-01T00:00:00Z")) as resp:
        status = await resp.json()
    assert resp.status == 422
    assert status["message"].startswith(
        'PodLogOptions "p" is invalid: [tailLines: Invalid value: -1: must be greater than or '
        'equal to 0, ')
    assert status["message"].endswith(
        "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified]")


async def test_missing_pod_is_not_found(api: API) -> None:
    async with api.session.get(api.url(f"{PODS}/nope/log")) as resp:
        status = await resp.json()
    assert (resp.status, status["message"]) == (404, 'pods "nope" not found')


async def test_exec_websocket_is_relayed_both_ways(api: API, tmp_path: Path) -> None:
    async with stand_in_kubelet(tmp_path) as (kubelet, port):
        await make_node(api, "n1", port=port)
        await make_pod(api, "p", node="n1")
        received: list[bytes] = []
        async with api.session.ws_connect(
                api.url(f"{PODS}/p/exec?command=cat&command=-n&stdin=true&stdout=true"),
                protocols=(V5,)) as ws:
            assert ws.protocol == V5
            await ws.send_bytes(b"\x00hello")
            await ws.send_bytes(b"")  # kubectl's empty messages pass unchanged
            await ws.send_bytes(bytes([255, 0]))
            received = [msg.data async for msg in ws]
        assert ws.close_code == 1000
    assert kubelet.stdin == [b"\x00hello", b""]
    assert received == [b"\x01stdin=1&stdout=1&command=cat&command=-n",
                        b'\x03{"metadata": {}, "status": "Success"}']


async def test_exec_needs_a_command_and_a_host(api: API) -> None:
    await make_pod(api, "p")
    async with api.session.get(api.url(f"{PODS}/p/exec?stdout=true")) as resp:
        assert (await resp.json())["message"] == "you must specify at least 1 command"
    async with api.session.get(api.url(f"{PODS}/p/exec?command=ls&stdout=true")) as resp:
        assert (await resp.json())["message"] == "pod p does not have a host assigned"


SPDY_ANSWER = (b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
               b"X-Stream-Protocol-Version: portforward.k8s.io\r\n\r\n")


@contextlib.asynccontextmanager
async def spdy_kubelet(tmp_path: Path) -> AsyncIterator[tuple[list[bytes], int]]:
    """A kubelet (TLS) that upgrades every request to SPDY, then echoes what it reads in
    capitals; yields the request heads it got and its port."""
    cert, key = kubelet_server.ensure_serving_cert(tmp_path / "pki", node_name="n1",
                                                   node_ip="127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    heads: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if b"Upgrade: SPDY/3.1" not in head:  # the API server's metrics scraper
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            writer.close()
            return
        heads.append(head)
        writer.write(SPDY_ANSWER)
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(65536):
                writer.write(chunk.upper())
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    try:
        yield heads, server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def test_spdy_upgrade_is_relayed_to_the_kubelet_as_raw_bytes(api: API,
                                                                   tmp_path: Path) -> None:
    async with spdy_kubelet(tmp_path) as (heads, port):
        await make_node(api, "n1", port=port)
        await make_pod(api, "p", node="n1")
        reader, writer = await asyncio.open_connection("127.0.0.1", api.server.port)
        writer.write(
            (f"POST {PODS}/p/portforward HTTP/1.1\r\nHost: kajitori\r\n"
             f"Authorization: {AUTH['Authorization']}\r\nConnection: Upgrade\r\n"
             "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\n"
             "Content-Length: 0\r\n\r\n").encode())
        head = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")
        writer.write(b"\x80\x03\x00\x01 spdy frames")
        echoed = await reader.readexactly(16)
        writer.close()
    assert head[0] == "HTTP/1.1 101 Switching Protocols"
    assert {"Connection: Upgrade", "Upgrade: SPDY/3.1",
            "X-Stream-Protocol-Version: portforward.k8s.io"} <= set(head)
    assert echoed == b"\x80\x03\x00\x01 SPDY FRAMES"
    sent = heads[0].decode().split("\r\n")
    assert sent[0] == "POST /portForward/default/p HTTP/1.1"
    assert "X-Stream-Protocol-Version: portforward.k8s.io" in sent
    assert not any(line.startswith("Authorization") for line in sent)


async def test_streams_need_an_upgrade_and_a_reachable_kubelet(api: API) -> None:
    await make_node(api, "n1", port=1)
    await make_pod(api, "p", node="n1")
    async with api.session.post(api.url(f"{PODS}/p/portforward")) as resp:
        assert (resp.status, (await resp.json())["message"]) == (
            400, "Upgrade request required")
    async with api.session.post(api.url(f"{PODS}/p/exec?command=ls&stdout=true"), headers={
            "Connection": "Upgrade", "Upgrade": "SPDY/3.1"}) as resp:
        status = await resp.json()
    assert resp.status == 500
    assert status["message"].startswith("error dialing backend: ")
