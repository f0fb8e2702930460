"""Real servers on 127.0.0.1 for the probe and lifecycle hook tests: HTTP(S) with a few fixed
routes, and a gRPC server answering grpc.health.v1.Health/Check from a dict."""

from __future__ import annotations

import contextlib
import datetime
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

BIG_BODY = "x" * 20_000


class HTTPServer:
    """Routes: /ok (200 `ok body`), /fail (500), /local (302 to /ok), /away (302 to
    `localhost`, another host name), /loop (302 to itself), /big (20000 bytes). Every request's
    path and headers are kept in `requests`."""

    def __init__(self) -> None:
        self.port = 0
        self.requests: list[web.Request] = []
        self.app = web.Application()
        self.app.router.add_get("/{tail:.*}", self._handle)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        path = request.path
        if path == "/fail":
            return web.Response(status=500, text="boom")
        if path == "/local":
            return web.Response(status=302, headers={"Location": "/ok"})
        if path == "/away":
            return web.Response(status=302, text="moved",
                                headers={"Location": f"http://localhost:{self.port}/ok"})
        if path == "/loop":
            return web.Response(status=302, headers={"Location": "/loop"})
        if path == "/big":
            return web.Response(text=BIG_BODY)
        return web.Response(text="ok body")


@contextlib.asynccontextmanager
async def http_server(ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[HTTPServer]:
    server = HTTPServer()
    runner = web.AppRunner(server.app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    server.port = runner.addresses[0][1]
    try:
        yield server
    finally:
        await runner.cleanup()


def self_signed_context(directory: Path) -> ssl.SSLContext:
    """A server TLS context with a throw-away self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kjt-probe-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "tls.crt", directory / "tls.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


SERVING, NOT_SERVING = 1, 2


@contextlib.asynccontextmanager
async def grpc_health_server(statuses: dict[str, int], *, health: bool = True
                             ) -> AsyncIterator[int]:
    """A gRPC server on 127.0.0.1 (its port is yielded) whose Health/Check answers
    `statuses[service]`, NOT_FOUND `unknown service` for others; without `health` it has no
    services at all (UNIMPLEMENTED)."""

    async def check(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        service = request[2:].decode() if request else ""
        if service not in statuses:
            await context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
        return bytes([0x08, statuses[service]])

    server = grpc.aio.server()
    if health:
        handler = grpc.unary_unary_rpc_method_handler(
            check, request_deserializer=lambda b: b, response_serializer=lambda b: b)
        server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler("grpc.health.v1.Health", {"Check": handler})])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield port
    finally:
        await server.stop(None)
