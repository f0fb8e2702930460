"""The raw upgrade proxy: kubectl's `Upgrade: SPDY/3.1` through an aiohttp server to a backend,
with raw sockets on both ends (what kubectl and the kubelet see on the wire)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web

from kajitori.httpstream import upgradeaware

SPDY_REQUEST = (
    b"POST /exec/default/p/c?command=cat&stdin=1 HTTP/1.1\r\n"
    b"Host: proxy\r\n"
    b"Authorization: Bearer secret\r\n"
    b"User-Agent: kubectl/v1.33.0\r\n"
    b"Connection: Upgrade\r\n"
    b"Upgrade: SPDY/3.1\r\n"
    b"X-Stream-Protocol-Version: v5.channel.k8s.io\r\n"
    b"X-Stream-Protocol-Version: v4.channel.k8s.io\r\n"
    b"Content-Length: 0\r\n\r\n")
HTTP_LOOKALIKE = b"GET /pods HTTP/1.1\r\nHost: x\r\n\r\n"
"""Bytes after the upgrade that an HTTP parser would take for a request."""


@dataclass
class Backend:
    """A raw backend: answers the upgrade with `answer`, then echoes what it reads in capitals
    until the client closes, or closes after echoing `b"bye"`."""

    answer: bytes = (b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                     b"Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n")
    heads: list[bytes] = field(default_factory=list)
    client_closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.heads.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(self.answer)
        if not self.answer.startswith(b"HTTP/1.1 101"):
            writer.close()
            return
        while chunk := await reader.read(65536):
            writer.write(chunk.upper())
            await writer.drain()
            if chunk.endswith(b"bye"):
                writer.close()
                return
        self.client_closed.set()
        writer.close()


@contextlib.asynccontextmanager
async def proxy_to(backend: Backend | None) -> AsyncIterator[int]:
    """An aiohttp server proxying every request with `upgradeaware.serve` to `backend` (a port
    nothing listens on when None); yields its port."""
    if backend is not None:
        server = await asyncio.start_server(backend.handle, "127.0.0.1", 0)
        backend_port = server.sockets[0].getsockname()[1]
    else:
        with contextlib.closing(await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
                                ) as unused:
            backend_port = unused.sockets[0].getsockname()[1]

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return await upgradeaware.serve(
                request, f"http://127.0.0.1:{backend_port}{request.path_qs}")
        except upgradeaware.BackendError as exc:
            return web.Response(status=503, text=f"error dialing backend: {exc}")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    finally:
        await runner.cleanup()
        if backend is not None:
            server.close()


async def upgrade(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(SPDY_REQUEST)
    return reader, writer, await reader.readuntil(b"\r\n\r\n")


def header_lines(head: bytes) -> list[str]:
    return head.decode().split("\r\n")


async def test_the_backends_101_is_relayed_and_bytes_flow_both_ways_unparsed() -> None:
    backend = Backend()
    async with proxy_to(backend) as port:
        reader, writer, head = await upgrade(port)
        lines = header_lines(head)
        assert lines[0] == "HTTP/1.1 101 Switching Protocols"
        assert {"Connection: Upgrade", "Upgrade: SPDY/3.1",
                "X-Stream-Protocol-Version: v4.channel.k8s.io"} <= set(lines)
        assert not any(line.startswith(("Transfer-Encoding", "Content-Length"))
                       for line in lines)
        writer.write(HTTP_LOOKALIKE)
        assert await reader.readexactly(len(HTTP_LOOKALIKE)) == HTTP_LOOKALIKE.upper()
        writer.write(b"spdy frames bye")
        assert await reader.read() == b"SPDY FRAMES BYE"  # then the connection is closed
        writer.close()
    sent = header_lines(backend.heads[0])
    assert sent[0] == "POST /exec/default/p/c?command=cat&stdin=1 HTTP/1.1"
    assert [line for line in sent if line.startswith(("X-Stream", "Upgrade", "Connection"))] == [
        "Connection: Upgrade", "Upgrade: SPDY/3.1",
        "X-Stream-Protocol-Version: v5.channel.k8s.io",
        "X-Stream-Protocol-Version: v4.channel.k8s.io"]
    assert "User-Agent: kubectl/v1.33.0" in sent
    assert not any(line.lower().startswith("authorization") for line in sent)


async def test_a_client_closing_closes_the_backend() -> None:
    backend = Backend()
    async with proxy_to(backend) as port:
        reader, writer, _ = await upgrade(port)
        writer.write(b"x")
        assert await reader.readexactly(1) == b"X"
        writer.close()
        await backend.client_closed.wait()


async def test_megabytes_pass_both_ways_in_order() -> None:
    payload = bytes(range(97, 123)) * 80_000  # about 2 MB, more than every buffer on the way
    async with proxy_to(Backend()) as port:
        reader, writer, _ = await upgrade(port)

        async def send() -> None:
            writer.write(payload)
            await writer.drain()

        sending = asyncio.create_task(send())
        assert await reader.readexactly(len(payload)) == payload.upper()
        await sending
        writer.close()


async def test_a_refusal_is_relayed_as_the_backend_answered() -> None:
    refusal = (b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8"
               b"\r\nContent-Length: 26\r\n\r\ncontainer not found (\"c\")\n")
    async with proxy_to(Backend(answer=refusal)) as port:
        reader, writer, head = await upgrade(port)
        lines = header_lines(head)
        assert lines[0] == "HTTP/1.1 500 Internal Server Error"
        assert "Content-Length: 26" in lines
        assert await reader.readexactly(26) == b'container not found ("c")\n'
        writer.close()


async def test_an_unreachable_backend_is_a_backend_error() -> None:
    async with proxy_to(None) as port:
        reader, writer, head = await upgrade(port)
        lines = header_lines(head)
        assert lines[0] == "HTTP/1.1 503 Service Unavailable"
        [length] = [int(line.split(": ")[1]) for line in lines
                    if line.startswith("Content-Length")]
        body = await reader.readexactly(length)
        assert body.startswith(b"error dialing backend: ")
        assert b"Connect call failed" in body or b"refused" in body
        writer.close()
