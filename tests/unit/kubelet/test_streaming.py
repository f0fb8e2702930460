"""The kubelet's SPDY/3.1 client session (what it speaks to containerd's streaming server for a
v5 WebSocket exec) against in-memory streams: frames on the wire, header blocks compressed with
the SPDY/3 dictionary across frames, data and FIN per stream, PING echoed, the end of the
connection seen by every stream."""

from __future__ import annotations

import asyncio
import struct
import zlib

from kajitori.kubelet import streaming


class Wire:
    """The writer side of an in-memory connection: every byte the session sends."""

    def __init__(self) -> None:
        self.sent = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.sent += data

    async def drain(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True


def frames(data: bytes) -> list[tuple[int, int, bytes]]:
    """(control word, flags, payload) of each frame in `data`."""
    out = []
    while data:
        word, flags_length = struct.unpack(">II", data[:8])
        length = flags_length & 0xFFFFFF
        out.append((word, flags_length >> 24, data[8:8 + length]))
        data = data[8 + length:]
    return out


def header_block(raw: bytes) -> dict[str, str]:
    count, offset, headers = struct.unpack(">I", raw[:4])[0], 4, {}
    for _ in range(count):
        size = struct.unpack(">I", raw[offset:offset + 4])[0]
        name = raw[offset + 4:offset + 4 + size].decode()
        offset += 4 + size
        size = struct.unpack(">I", raw[offset:offset + 4])[0]
        headers[name] = raw[offset + 4:offset + 4 + size].decode()
        offset += 4 + size
    return headers


def control(frame_type: int, payload: bytes, *, flags: int = 0) -> bytes:
    return struct.pack(">HHI", 0x8003, frame_type, (flags << 24) | len(payload)) + payload


def data_frame(stream_id: int, payload: bytes, *, fin: bool = False) -> bytes:
    return struct.pack(">II", stream_id, ((1 if fin else 0) << 24) | len(payload)) + payload


def test_the_dictionary_is_spdy3s() -> None:
    assert len(streaming.SPDY_DICTIONARY) == 1423
    assert streaming.SPDY_DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert b"Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec" in streaming.SPDY_DICTIONARY
    assert streaming.SPDY_DICTIONARY.endswith(b"enq=0.")


async def test_streams_are_opened_with_typed_headers_in_one_compression_context() -> None:
    wire = Wire()
    session = streaming.SPDYSession(asyncio.StreamReader(), wire)  # type: ignore[arg-type]
    await session.open_stream({"streamType": "error"})
    await session.open_stream({"streamType": "stdin"})
    inflate = zlib.decompressobj(zdict=streaming.SPDY_DICTIONARY)
    opened = []
    for word, flags, payload in frames(bytes(wire.sent)):
        assert (word >> 16, word & 0xFFFF, flags) == (0x8003, streaming.SYN_STREAM, 0)
        stream_id, associated = struct.unpack(">II", payload[:8])
        opened.append((stream_id, associated, header_block(inflate.decompress(payload[10:]))))
    assert opened == [(1, 0, {"streamtype": "error"}), (3, 0, {"streamtype": "stdin"})]


async def test_data_fin_ping_and_the_end_of_the_connection() -> None:
    reader, wire = asyncio.StreamReader(), Wire()
    session = streaming.SPDYSession(reader, wire)  # type: ignore[arg-type]
    error = await session.open_stream({"streamType": "error"})
    stdout = await session.open_stream({"streamType": "stdout"})
    await stdout.write(b"ignored by the server", fin=True)
    opened = len(wire.sent)
    deflate = zlib.compressobj(zdict=streaming.SPDY_DICTIONARY)
    for stream_id in (1, 3):  # one compression context for the server's header blocks too
        reply = deflate.compress(struct.pack(">I", 0)) + deflate.flush(zlib.Z_SYNC_FLUSH)
        reader.feed_data(control(streaming.SYN_REPLY, struct.pack(">I", stream_id) + reply))
    reader.feed_data(data_frame(3, b"hello "))
    reader.feed_data(data_frame(3, b"world", fin=True))
    reader.feed_data(control(streaming.PING, struct.pack(">I", 7)))
    reader.feed_data(data_frame(1, b'{"status":"Success"}'))
    reader.feed_eof()
    await session.run()
    assert [await stdout.received.get() for _ in range(3)] == [b"hello ", b"world", None]
    assert await error.received.get() == b'{"status":"Success"}'
    assert await error.received.get() is None  # the connection ended
    sent = frames(bytes(wire.sent))
    assert sent[2] == (3, 1, b"ignored by the server")  # DATA with FLAG_FIN on stream 3
    assert frames(bytes(wire.sent[opened:])) == [
        (0x80030000 | streaming.PING, 0, struct.pack(">I", 7))]


async def test_goaway_ends_the_session() -> None:
    reader = asyncio.StreamReader()
    session = streaming.SPDYSession(reader, Wire())  # type: ignore[arg-type]
    stream = await session.open_stream({"streamType": "stdout"})
    reader.feed_data(control(streaming.GOAWAY, struct.pack(">II", 1, 0)))
    await session.run()  # returns without the connection ending
    assert await stream.received.get() is None
