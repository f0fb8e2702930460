"""Client-certificate authentication over a real TLS connection, and the CN/O conversion."""

from __future__ import annotations

import asyncio
import base64
import datetime
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from kajitori.auth import authenticator, user
from kajitori.auth import x509 as x509auth
from kajitori.pki import certs, kubeconfig, pkiutil, secureserving


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> certs.PKIPaths:
    return certs.ensure_pki(tmp_path_factory.mktemp("data"), hostname="node-1")


@pytest.fixture(scope="module")
def admin_conf(pki: certs.PKIPaths) -> dict[str, Any]:
    path = pki.dir.parent / "admin.conf"
    kubeconfig.write_admin_kubeconfig(path, server="https://127.0.0.1:6443", pki=pki)
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def _client_context(admin_conf: dict[str, Any], tmp_path: Path, *,
                    cert_pem: bytes | None = None, key_pem: bytes | None = None) -> ssl.SSLContext:
    """What kubectl builds from the kubeconfig: trust its CA, present its certificate if given."""
    ca_pem = base64.b64decode(admin_conf["clusters"][0]["cluster"]["certificate-authority-data"])
    context = ssl.create_default_context(cadata=ca_pem.decode())
    if cert_pem is not None and key_pem is not None:
        (tmp_path / "client.crt").write_bytes(cert_pem)
        (tmp_path / "client.key").write_bytes(key_pem)
        context.load_cert_chain(tmp_path / "client.crt", tmp_path / "client.key")
    return context


def _admin_credentials(admin_conf: dict[str, Any]) -> tuple[bytes, bytes]:
    credentials = admin_conf["users"][0]["user"]
    return (base64.b64decode(credentials["client-certificate-data"]),
            base64.b64decode(credentials["client-key-data"]))


async def _whoami(server_context: ssl.SSLContext, client_context: ssl.SSLContext) -> Any:
    """Serve one request over TLS and return what the handler saw."""
    authn = authenticator.Authenticator()

    async def handler(request: web.Request) -> web.Response:
        cert = x509auth.peer_certificate(request.transport)
        info = authn.authenticate(peer_cert=cert,
                                  authorization_header=request.headers.get("Authorization"))
        return web.json_response({
            "peer_cert": cert is not None,
            "user": None if info is None else {"name": info.name, "groups": list(info.groups)}})

    app = web.Application()
    app.router.add_get("/whoami", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context)
        await site.start()
        _, port = runner.addresses[0][:2]
        async with aiohttp.ClientSession() as session, session.get(
                f"https://127.0.0.1:{port}/whoami", ssl=client_context,
                timeout=aiohttp.ClientTimeout(total=10)) as response:
            return await response.json()
    finally:
        await runner.cleanup()


def test_admin_certificate_from_kubeconfig_authenticates_as_masters(
        pki: certs.PKIPaths, admin_conf: dict[str, Any], tmp_path: Path) -> None:
    cert_pem, key_pem = _admin_credentials(admin_conf)
    client = _client_context(admin_conf, tmp_path, cert_pem=cert_pem, key_pem=key_pem)
    seen = asyncio.run(_whoami(secureserving.server_ssl_context(pki), client))
    assert seen == {"peer_cert": True, "user": {
        "name": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]}}


def test_connection_without_certificate_has_no_peer_certificate(
        pki: certs.PKIPaths, admin_conf: dict[str, Any], tmp_path: Path) -> None:
    client = _client_context(admin_conf, tmp_path)
    seen = asyncio.run(_whoami(secureserving.server_ssl_context(pki), client))
    assert seen == {"peer_cert": False, "user": {
        "name": "system:anonymous", "groups": ["system:unauthenticated"]}}


def test_certificate_from_another_ca_is_refused_in_the_handshake(
        pki: certs.PKIPaths, admin_conf: dict[str, Any], tmp_path: Path) -> None:
    now = datetime.datetime.now(datetime.UTC)
    rogue = pkiutil.new_signed_cert(pkiutil.new_self_signed_ca("kubernetes", now=now),
                                    "kubernetes-admin", organizations=["system:masters"],
                                    usages=[pkiutil.CLIENT_AUTH], now=now)
    client = _client_context(admin_conf, tmp_path, cert_pem=pkiutil.cert_pem(rogue.cert),
                             key_pem=pkiutil.key_pem(rogue.key))
    with pytest.raises((aiohttp.ClientError, ssl.SSLError, ConnectionError)):
        asyncio.run(_whoami(secureserving.server_ssl_context(pki), client))


def test_issued_client_certificate_gives_its_user_and_groups(
        pki: certs.PKIPaths, admin_conf: dict[str, Any], tmp_path: Path) -> None:
    cert_pem, key_pem = certs.issue_client_cert(pki, "system:node:node-1",
                                                groups=["system:nodes"])
    client = _client_context(admin_conf, tmp_path, cert_pem=cert_pem, key_pem=key_pem)
    seen = asyncio.run(_whoami(secureserving.server_ssl_context(pki), client))
    assert seen["user"] == {"name": "system:node:node-1",
                            "groups": ["system:nodes", "system:authenticated"]}


@pytest.fixture
def ca() -> pkiutil.CertAndKey:
    return pkiutil.new_self_signed_ca("test-ca", now=datetime.datetime.now(datetime.UTC))


def _client_cert(ca: pkiutil.CertAndKey, cn: str, groups: list[str]) -> x509.Certificate:
    return pkiutil.new_signed_cert(ca, cn, organizations=groups, usages=[pkiutil.CLIENT_AUTH],
                                   now=datetime.datetime.now(datetime.UTC)).cert


def test_common_name_is_user_and_organizations_are_groups_in_order(
        ca: pkiutil.CertAndKey) -> None:
    cert = _client_cert(ca, "jane", ["team-b", "team-a", "team-b"])
    assert x509auth.user_from_certificate(cert) == user.UserInfo(
        "jane", groups=("team-b", "team-a", "team-b"))


def test_certificate_without_common_name_does_not_authenticate(ca: pkiutil.CertAndKey) -> None:
    now = datetime.datetime.now(datetime.UTC)
    key = pkiutil.generate_key()
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "team-a")]))
            .issuer_name(ca.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(ca.key, hashes.SHA256()))
    assert x509auth.user_from_certificate(cert) is None


def test_no_transport_has_no_peer_certificate() -> None:
    assert x509auth.peer_certificate(None) is None
