"""exec, attach and port-forward: kubectl's WebSocket streams bridged to the runtime's server.

CRI `Exec`/`Attach`/`PortForward` return a URL on containerd's own streaming server (upstream's
`k8s.io/kubelet/pkg/cri/streaming`, as vendored by containerd 1.6), which speaks SPDY/3.1 and
the `channel.k8s.io` WebSocket protocols up to v4. kubectl (1.30+) speaks WebSocket
`v5.channel.k8s.io` for exec/attach and SPDY tunnelled in WebSocket (`SPDY/3.1+portforward.
k8s.io`) for port-forward. The chain, end to end:

    kubectl --WebSocket--> apiserver (relays messages, `apiserver/handlers/nodeproxy.py`)
            --WebSocket--> kubelet (`kajitori.kubelet.server`, this module)
            --SPDY/3.1--> containerd's streaming server

- exec/attach: this module ends kubectl's v5 WebSocket and speaks SPDY (`v4.channel.k8s.io`)
  to containerd, as upstream's apiserver StreamTranslatorProxy does. SPDY rather than v4
  WebSocket because v4 WebSocket cannot half-close stdin (`echo x | kubectl exec -i -- cat`
  would never end): the v5 close signal (channel 255) becomes a FIN on the SPDY stdin stream.
  The v4 status JSON on the SPDY error stream is the same object v5 sends on channel 3, so it is
  passed on unchanged (exit codes: `NonZeroExitCode` with an `ExitCode` cause).
- port-forward: SPDY already runs end to end (kubectl ↔ containerd), so the kubelet only
  upgrades a TCP connection to containerd and copies the WebSocket payloads into it and back.

kubectl's plain SPDY upgrade (its fallback when WebSocket is refused, and older kubectl's only
way) needs no translation: the kubelet proxies it to containerd's streaming server unchanged, as
upstream's kubelet does (`proxyStream`; `kajitori.httpstream.upgradeaware`), and containerd ends
the SPDY session (stream types, `v4.channel.k8s.io` negotiation, stdin FIN, the exit-code Status,
port-forward's error stream). `is_spdy_upgrade` tells the kubelet which way a request goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import zlib
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from kajitori.httpstream import upgradeaware

log = logging.getLogger(__name__)

# WebSocket subprotocols (client-go `remotecommand` / `portforward` constants).
REMOTE_COMMAND_V5 = "v5.channel.k8s.io"
PORT_FORWARD_WEBSOCKET = "SPDY/3.1+portforward.k8s.io"
# SPDY subprotocols spoken to the runtime.
REMOTE_COMMAND_V4 = "v4.channel.k8s.io"
PORT_FORWARD_SPDY = "portforward.k8s.io"
SPDY_UPGRADE = "SPDY/3.1"

# v5 channel bytes.
STDIN_CHANNEL = 0
STDOUT_CHANNEL = 1
STDERR_CHANNEL = 2
ERROR_CHANNEL = 3
RESIZE_CHANNEL = 4
CLOSE_CHANNEL = 255

SUCCESS_STATUS = {"metadata": {}, "status": "Success"}
NORMAL_CLOSURE = 1000
CONNECT_TIMEOUT = 10.0

# SPDY/3.1 framing (draft-mbelshe-httpbis-spdy-00 with the 3.1 flow-control frames ignored:
# moby/spdystream, containerd's implementation, does no flow control).
SPDY_VERSION = 3
SYN_STREAM = 1
SYN_REPLY = 2
RST_STREAM = 3
PING = 6
GOAWAY = 7
FLAG_FIN = 0x01
RST_CANCEL = 5


def _spdy_dictionary() -> bytes:
    """The SPDY/3 header compression dictionary (spec data, section 2.6.10.1): length-prefixed
    header names, then a run of common values. 1423 bytes."""
    names_text = (
        "options head post put delete trace accept accept-charset accept-encoding "
        "accept-language accept-ranges age allow authorization cache-control connection "
        "content-base content-encoding content-language content-length content-location "
        "content-md5 content-range content-type date etag expect expires from host if-match "
        "if-modified-since if-none-match if-range if-unmodified-since last-modified location "
        "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after "
        "server te trailer transfer-encoding upgrade user-agent vary via warning "
        "www-authenticate method get status 200_OK version HTTP/1.1 url public set-cookie "
        "keep-alive origin")
    tail = (
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417502"
        "504505203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad "
        "Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not "
        "Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec "
        "00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,"
        "image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,public"
        "privatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
    names = b"".join(len(w).to_bytes(4, "big") + w.replace("_", " ").encode()
                     for w in names_text.split(" "))
    return names + tail.encode()


SPDY_DICTIONARY = _spdy_dictionary()


class StreamError(Exception):
    """The runtime's streaming server could not be reached or refused the upgrade."""


@dataclass
class SPDYStream:
    """One client-opened stream: data received in order, None once the server sent FIN."""

    id: int
    session: SPDYSession
    received: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)

    async def write(self, data: bytes, *, fin: bool = False) -> None:
        await self.session.send_data(self.id, data, fin=fin)


class SPDYSession:
    """A client SPDY/3.1 session on an upgraded connection, as upstream's spdystream client:
    the client opens odd-numbered streams with typed headers; the server answers on them.
    `run` reads frames until the connection ends; afterwards every stream reads EOF."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._deflate = zlib.compressobj(zdict=SPDY_DICTIONARY)
        self._inflate = zlib.decompressobj(zdict=SPDY_DICTIONARY)
        self._next_id = 1
        self._streams: dict[int, SPDYStream] = {}
        self._write_lock = asyncio.Lock()

    def _header_block(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers))
        for name, value in headers.items():
            raw += struct.pack(">I", len(name)) + name.lower().encode()
            raw += struct.pack(">I", len(value)) + value.encode()
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    async def _send_control(self, frame_type: int, payload: bytes, *, flags: int = 0) -> None:
        header = struct.pack(">HHI", 0x8000 | SPDY_VERSION, frame_type,
                             (flags << 24) | len(payload))
        async with self._write_lock:
            self._writer.write(header + payload)
            await self._writer.drain()

    async def open_stream(self, headers: dict[str, str]) -> SPDYStream:
        stream_id = self._next_id
        self._next_id += 2
        stream = SPDYStream(stream_id, self)
        self._streams[stream_id] = stream
        payload = struct.pack(">IIH", stream_id, 0, 0) + self._header_block(headers)
        await self._send_control(SYN_STREAM, payload)
        return stream

    async def send_data(self, stream_id: int, data: bytes, *, fin: bool = False) -> None:
        header = struct.pack(">II", stream_id & 0x7FFFFFFF,
                             ((FLAG_FIN if fin else 0) << 24) | len(data))
        async with self._write_lock:
            self._writer.write(header + data)
            await self._writer.drain()

    async def run(self) -> None:
        """Read frames until the server closes the connection (or sends GOAWAY)."""
        try:
            while True:
                head = await self._reader.readexactly(8)
                word, flags_length = struct.unpack(">II", head)
                flags, length = flags_length >> 24, flags_length & 0xFFFFFF
                payload = await self._reader.readexactly(length)
                if not word & 0x80000000:
                    stream = self._streams.get(word)
                    if stream is not None:
                        if payload:
                            stream.received.put_nowait(payload)
                        if flags & FLAG_FIN:
                            stream.received.put_nowait(None)
                    continue
                frame_type = word & 0xFFFF
                if frame_type in (SYN_REPLY, SYN_STREAM):
                    # Keep the shared inflater in step; the headers say nothing we need.
                    offset = 4 if frame_type == SYN_REPLY else 10
                    self._inflate.decompress(payload[offset:])
                    stream_id = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
                    if flags & FLAG_FIN and stream_id in self._streams:
                        self._streams[stream_id].received.put_nowait(None)
                elif frame_type == RST_STREAM:
                    stream_id = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
                    if stream_id in self._streams:
                        self._streams[stream_id].received.put_nowait(None)
                elif frame_type == PING:
                    await self._send_control(PING, payload)
                elif frame_type == GOAWAY:
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            for stream in self._streams.values():
                stream.received.put_nowait(None)

    def close(self) -> None:
        self._writer.close()


async def upgrade(url: str, *, protocol: str) -> tuple[asyncio.StreamReader,
                                                       asyncio.StreamWriter]:
    """Connect to the runtime's streaming `url` (http://host:port/path) and upgrade to SPDY/3.1
    offering `protocol` (`X-Stream-Protocol-Version`). Raises StreamError on refusal."""
    try:
        reader, writer, answer = await upgradeaware.dial(url, headers=(
            ("Connection", "Upgrade"), ("Upgrade", SPDY_UPGRADE),
            ("X-Stream-Protocol-Version", protocol)))
    except upgradeaware.BackendError as exc:
        raise StreamError(f"error dialing backend: {exc}") from exc
    if answer.status != upgradeaware.SWITCHING_PROTOCOLS:
        writer.close()
        raise StreamError(f"unable to upgrade connection: {answer.status} {answer.reason}")
    return reader, writer


def is_spdy_upgrade(request: web.BaseRequest) -> bool:
    """An upgrade request for anything but WebSocket: kubectl's `Upgrade: SPDY/3.1`."""
    return upgradeaware.is_upgrade_request(request) and \
        request.headers.get("Upgrade", "").strip().lower() != "websocket"


@dataclass(frozen=True)
class StreamOptions:
    """Which streams a remote command uses (the `stdin`/`stdout`/`stderr`/`tty` query)."""

    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> StreamOptions:
        """From the kubelet's query (`1` as the apiserver writes them, or `true`); stderr is
        merged into stdout with a TTY, so never asked for then."""
        truthy = ("1", "true", "True")
        tty = query.get("tty", "") in truthy
        return cls(stdin=query.get("stdin", "") in truthy,
                   stdout=query.get("stdout", "") in truthy,
                   stderr=query.get("stderr", "") in truthy and not tty, tty=tty)


def failure_status(message: str, *, reason: str = "InternalError") -> bytes:
    """A v4/v5 error-channel Status for a failure before or around the command."""
    status = {"metadata": {}, "status": "Failure", "message": message, "reason": reason,
              "code": 500}
    return orjson.dumps(status)


async def send_status_and_close(ws: web.WebSocketResponse, status: bytes) -> None:
    """Status on the error channel, then a normal close: what kubectl waits for."""
    with contextlib.suppress(ConnectionError):
        await ws.send_bytes(bytes([ERROR_CHANNEL]) + status)
    await ws.close(code=NORMAL_CLOSURE)


async def bridge_remote_command(ws: web.WebSocketResponse, url: str,
                                options: StreamOptions) -> None:
    """Serve one exec/attach: `ws` is kubectl's accepted v5 WebSocket, `url` the runtime's
    streaming URL for it. Returns once the command ended (status sent, WebSocket closed) or
    kubectl went away. A runtime that cannot be reached is reported on the error channel."""
    try:
        reader, writer = await upgrade(url, protocol=REMOTE_COMMAND_V4)
    except StreamError as exc:
        await send_status_and_close(ws, failure_status(str(exc)))
        return
    session = SPDYSession(reader, writer)
    try:
        # The order upstream's v4 client opens them in; the server waits for all it expects.
        error = await session.open_stream({"streamType": "error"})
        stdin = await session.open_stream({"streamType": "stdin"}) if options.stdin else None
        outputs: list[tuple[int, SPDYStream]] = []
        if options.stdout:
            outputs.append((STDOUT_CHANNEL, await session.open_stream({"streamType": "stdout"})))
        if options.stderr:
            outputs.append((STDERR_CHANNEL, await session.open_stream({"streamType": "stderr"})))
        resize = await session.open_stream({"streamType": "resize"}) if options.tty else None
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(session.run())
            from_kubectl = tasks.create_task(_from_kubectl(ws, session, stdin=stdin,
                                                           resize=resize))
            copies = [tasks.create_task(_to_kubectl(ws, channel, stream))
                      for channel, stream in outputs]
            status = b""
            while (chunk := await error.received.get()) is not None:
                status += chunk
            await asyncio.gather(*copies)
            # Stop reading kubectl's side before closing: aiohttp's close() with a receive
            # pending in another task drops the connection right after its close frame, and
            # the apiserver's reply then fails (kubectl saw `bad close code 1006`). With no
            # reader, close() waits for the peer's close frame: a clean close handshake.
            from_kubectl.cancel()
            await asyncio.wait([from_kubectl])
            await send_status_and_close(ws, status or orjson.dumps(SUCCESS_STATUS))
            session.close()
    finally:
        session.close()


async def _to_kubectl(ws: web.WebSocketResponse, channel: int, stream: SPDYStream) -> None:
    prefix = bytes([channel])
    while (chunk := await stream.received.get()) is not None:
        with contextlib.suppress(ConnectionError):
            await ws.send_bytes(prefix + chunk)


async def _from_kubectl(ws: web.WebSocketResponse, session: SPDYSession, *,
                        stdin: SPDYStream | None, resize: SPDYStream | None) -> None:
    """Copy kubectl's stdin and resize messages to the runtime; when kubectl goes away, end the
    session (the runtime then ends the command's streams)."""
    async for msg in ws:
        if msg.type != WSMsgType.BINARY or not msg.data:
            continue
        channel, payload = msg.data[0], msg.data[1:]
        if channel == STDIN_CHANNEL and stdin is not None and payload:
            await stdin.write(payload)
        elif channel == RESIZE_CHANNEL and resize is not None:
            await resize.write(payload)
        elif channel == CLOSE_CHANNEL and payload[:1] == bytes([STDIN_CHANNEL]) and stdin:
            await stdin.write(b"", fin=True)
            stdin = None
    session.close()


async def bridge_port_forward(ws: web.WebSocketResponse, url: str) -> None:
    """Serve one port-forward: kubectl's SPDY byte stream (the payloads of its WebSocket
    messages) is copied to the runtime's port-forward server and back until either side
    closes. Zero-length messages carry nothing (kubectl sends them for empty DATA frames)."""
    try:
        reader, writer = await upgrade(url, protocol=PORT_FORWARD_SPDY)
    except StreamError as exc:
        log.warning("port-forward: %s", exc)
        await ws.close(code=NORMAL_CLOSURE)
        return

    async def upstream() -> None:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY and msg.data:
                writer.write(msg.data)
                await writer.drain()

    async def downstream() -> None:
        while chunk := await reader.read(64 * 1024):
            await ws.send_bytes(chunk)

    try:
        await _first_completed([upstream(), downstream()])
    finally:
        writer.close()
        await ws.close(code=NORMAL_CLOSURE)


async def _first_completed(coroutines: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Run the copies until one ends (its side closed), then cancel the others. A copy that
    failed other than by a dropped connection raises here."""
    tasks = [asyncio.create_task(c) for c in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            error = task.exception()
            if error is not None and not isinstance(error, ConnectionError):
                raise error
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
