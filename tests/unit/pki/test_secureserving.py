"""server_ssl_context: HTTP/1.1 only over ALPN; the serving certificate verifies for its names."""

from __future__ import annotations

import asyncio
import ssl

import pytest

from kajitori.pki import certs, secureserving


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> certs.PKIPaths:
    return certs.ensure_pki(tmp_path_factory.mktemp("data"), hostname="node-1")


async def _handshake(server_context: ssl.SSLContext, client_context: ssl.SSLContext, *,
                     server_hostname: str) -> ssl.SSLObject:
    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0, ssl=server_context)
    async with server:
        port = server.sockets[0].getsockname()[1]
        _, writer = await asyncio.wait_for(asyncio.open_connection(
            "127.0.0.1", port, ssl=client_context, server_hostname=server_hostname), timeout=10)
        ssl_object: ssl.SSLObject = writer.get_extra_info("ssl_object")
        writer.close()
        return ssl_object


def _client(pki: certs.PKIPaths, *, alpn: list[str]) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=pki.ca_cert)
    context.set_alpn_protocols(alpn)
    return context


def test_client_offering_h2_gets_http_1_1(pki: certs.PKIPaths) -> None:
    ssl_object = asyncio.run(_handshake(secureserving.server_ssl_context(pki),
                                        _client(pki, alpn=["h2", "http/1.1"]),
                                        server_hostname="kubernetes.default.svc"))
    assert ssl_object.selected_alpn_protocol() == "http/1.1"


@pytest.mark.parametrize("server_hostname", ["localhost", "node-1", "kubernetes"])
def test_serving_certificate_verifies_for_local_and_service_names(
        pki: certs.PKIPaths, server_hostname: str) -> None:
    ssl_object = asyncio.run(_handshake(secureserving.server_ssl_context(pki),
                                        _client(pki, alpn=["http/1.1"]),
                                        server_hostname=server_hostname))
    assert ssl_object.version() in {"TLSv1.2", "TLSv1.3"}
