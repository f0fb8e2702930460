"""Upgrades aiohttp cannot do, proxied as raw bytes: upstream's UpgradeAwareHandler
(`k8s.io/apimachinery/pkg/util/proxy/upgradeaware.go`) for kubectl's plain SPDY/3.1.

kubectl's SPDY transport (its fallback when WebSocket is refused; the only one with
`KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false`, `KUBECTL_PORT_FORWARD_WEBSOCKETS=false` or an older
kubectl) sends `POST ...` with `Connection: Upgrade`, `Upgrade: SPDY/3.1` and the protocols it
speaks (`X-Stream-Protocol-Version`); after a 101 the connection carries SPDY frames. Neither
hop parses them, as upstream: the API server opens the same upgrade to the kubelet
(`apiserver/handlers/nodeproxy.py`), the kubelet opens it to containerd's streaming server
(`kubelet/server.py`), which ends the SPDY session; each relays its backend's 101 and then
copies bytes both ways until either side closes.

Why it is built this way: aiohttp's server upgrades only to WebSocket (and `tcp`); after any
other upgrade request it parses what follows as further HTTP requests. So `serve` uses the hook
aiohttp's own WebSocketResponse uses: `RequestHandler.set_parser` installs a reader of ours
before the 101 goes out, so every later byte of the connection reaches it and none the HTTP
parser; the 101 is an ordinary prepared StreamResponse (a 1xx answer has no body framing, so
what is written after it goes out as it is), marked not keep-alive, so aiohttp closes the
connection when `serve` returns instead of reading another request from it.

Only `FORWARDED_HEADERS` go to the backend: never the client's credentials (upstream's
authentication filter strips them before its proxy).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ssl
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import web
from multidict import CIMultiDict

FORWARDED_HEADERS = ("Connection", "Upgrade", "X-Stream-Protocol-Version", "User-Agent")
"""What the backend needs of the client's request: the upgrade and the protocols offered."""
RELAYED_HEADERS = ("Connection", "Upgrade", "X-Stream-Protocol-Version")
"""What the client needs of the backend's 101: the upgrade and the protocol chosen."""
SWITCHING_PROTOCOLS = 101
CONNECT_TIMEOUT = 10.0
MAX_HEAD = 64 * 1024
MAX_REFUSAL_BODY = 64 * 1024
READ_SIZE = 64 * 1024
CLIENT_BUFFER = 256 * 1024
"""Bytes from the client held for a slow backend before the client is no longer read."""


class BackendError(Exception):
    """The backend could not be reached, or its answer to the upgrade could not be read."""


@dataclass(frozen=True)
class BackendAnswer:
    """The backend's response head to an upgrade request."""

    status: int
    reason: str
    headers: CIMultiDict[str]


def is_upgrade_request(request: web.BaseRequest) -> bool:
    """upstream's httpstream.IsUpgradeRequest: a `Connection` header naming `upgrade`."""
    return any(token.strip().lower() == "upgrade"
               for value in request.headers.getall("Connection", ())
               for token in value.split(","))


async def dial(url: str, *, method: str = "POST", headers: Iterable[tuple[str, str]] = (),
               ssl_context: ssl.SSLContext | None = None
               ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, BackendAnswer]:
    """Send an upgrade request to `url` (http or https; `ssl_context` for https) with
    `headers` (repeated names kept, in order) and read the answer's head. The caller owns the
    returned connection: after a 101 it carries the upgraded protocol, otherwise the answer's
    body follows (`read_refusal`). Raises BackendError when no answer could be read."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.hostname is None:
        raise BackendError(f"unsupported URL {url!r}")
    secure = parts.scheme == "https"
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(
            parts.hostname, parts.port or (443 if secure else 80),
            ssl=(ssl_context or ssl.create_default_context()) if secure else None,
            limit=MAX_HEAD), CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise BackendError(str(exc) or type(exc).__name__) from exc
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}",
             *(f"{name}: {value}" for name, value in headers), "Content-Length: 0"]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    try:
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), CONNECT_TIMEOUT)
        answer = _parse_head(head)
    except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError,
            asyncio.LimitOverrunError) as exc:
        writer.close()
        raise BackendError(f"error reading the upgrade answer: {exc}") from exc
    return reader, writer, answer


def _parse_head(head: bytes) -> BackendAnswer:
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/") or not code.isdigit():
        raise ValueError(f"malformed status line {status_line!r}")
    headers: CIMultiDict[str] = CIMultiDict()
    for line in header_lines:
        if line:
            name, _, value = line.partition(":")
            headers.add(name.strip(), value.strip())
    return BackendAnswer(status=int(code), reason=reason, headers=headers)


async def read_refusal(reader: asyncio.StreamReader, answer: BackendAnswer) -> bytes:
    """The body of a non-101 answer (its Content-Length, else up to the connection's end),
    at most MAX_REFUSAL_BODY bytes."""
    length = answer.headers.get("Content-Length", "")
    with contextlib.suppress(OSError, TimeoutError, asyncio.IncompleteReadError):
        if length.isdigit():
            return await asyncio.wait_for(
                reader.readexactly(min(int(length), MAX_REFUSAL_BODY)), CONNECT_TIMEOUT)
        return await asyncio.wait_for(reader.read(MAX_REFUSAL_BODY), CONNECT_TIMEOUT)
    return b""


class _ClientBytes:
    """What aiohttp feeds every byte of the connection after the upgrade (the `set_parser`
    hook): a buffer read by the copy to the backend. The client's transport is paused while
    more than CLIENT_BUFFER bytes wait, so a slow backend slows the client down."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._chunks: collections.deque[bytes] = collections.deque()
        self._size = 0
        self._eof = False
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        """aiohttp's parser contract: (end of message, unparsed tail); never either."""
        if data:
            self._chunks.append(bytes(data))
            self._size += len(data)
            if self._size > CLIENT_BUFFER and not self._paused:
                self._paused = True
                self._transport.pause_reading()
            self._wake()
        return False, b""

    def feed_eof(self) -> None:
        self._eof = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def read(self) -> bytes:
        """The next bytes from the client; b"" once it closed the connection."""
        while not self._chunks and not self._eof:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if not self._chunks:
            return b""
        chunk = self._chunks.popleft()
        self._size -= len(chunk)
        if self._paused and self._size <= CLIENT_BUFFER // 2:
            self._paused = False
            with contextlib.suppress(RuntimeError):  # the connection is already closing
                self._transport.resume_reading()
        return chunk


async def serve(request: web.Request, url: str, *,
                ssl_context: ssl.SSLContext | None = None) -> web.StreamResponse:
    """Proxy the upgrade `request` (see `is_upgrade_request`) to `url` with the same method.

    On the backend's 101 the client gets a 101 with the backend's upgrade headers, then bytes
    are copied both ways; returns when either side closed, having closed the backend, and
    the client's connection is closed when the response is finished. Any other answer is
    relayed as it is (status, body, content type), as upstream echoes the backend's refusal:
    kubectl reports `unable to upgrade connection: <body>`. Raises BackendError when the
    backend could not be reached. The caller checked authorization: `serve` only relays."""
    forwarded = [(name, value) for name in FORWARDED_HEADERS
                 for value in request.headers.getall(name, ())]
    reader, writer, answer = await dial(url, method=request.method, headers=forwarded,
                                        ssl_context=ssl_context)
    try:
        if answer.status != SWITCHING_PROTOCOLS:
            body = await read_refusal(reader, answer)
            return web.Response(status=answer.status, reason=answer.reason or None, body=body,
                                content_type=answer.headers.get("Content-Type", "text/plain")
                                .split(";")[0].strip() or "text/plain")
        transport = request.transport
        if transport is None:
            raise ConnectionResetError("the client went away during the upgrade")
        client = _ClientBytes(transport)
        # Before the 101 goes out: no byte of the upgraded connection may reach the HTTP parser.
        request.protocol.set_parser(client)  # type: ignore[arg-type]
        headers = CIMultiDict((name, value) for name in RELAYED_HEADERS
                              for value in answer.headers.getall(name, ()))
        response = web.StreamResponse(status=SWITCHING_PROTOCOLS,
                                      reason=answer.reason or "Switching Protocols",
                                      headers=headers)
        response.force_close()
        await response.prepare(request)
        await response.write(b"")  # the 101 goes out now, not with the first relayed bytes
        await _copy_both(client, response, reader=reader, writer=writer)
        return response
    finally:
        writer.close()


async def _copy_both(client: _ClientBytes, response: web.StreamResponse, *,
                     reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until one direction ends (its source closed or failed), then stop the other, as
    upstream's handler returns when either copy does."""

    async def to_backend() -> None:
        while chunk := await client.read():
            writer.write(chunk)
            await writer.drain()

    async def to_client() -> None:
        while chunk := await reader.read(READ_SIZE):
            await response.write(chunk)

    tasks = [asyncio.create_task(to_backend()), asyncio.create_task(to_client())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(
                result, (ConnectionError, asyncio.CancelledError)):
            raise result
