"""Client-certificate authentication: the verified peer certificate of a TLS connection → a user.

Mirrors `staging/src/k8s.io/apiserver/pkg/authentication/request/x509/x509.go`
(`CommonNameUserConversion`): the subject's CN is the user name, each O a group. Verification
against `ca.crt` happens earlier, in the TLS handshake (`kajitori.pki.secureserving`), so a
certificate that reaches this module is trusted. `kajitori.auth.authenticator` combines this with
bearer tokens.
"""

from __future__ import annotations

import asyncio
import functools
import ssl

from cryptography import x509
from cryptography.x509.oid import NameOID

from kajitori.auth import user

PEER_CERT_CACHE_SIZE = 4096
"""Distinct client certificates kept parsed: one per node agent and component, with room."""


@functools.lru_cache(maxsize=PEER_CERT_CACHE_SIZE)
def _parse_der(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


def peer_certificate(transport: asyncio.BaseTransport | None) -> x509.Certificate | None:
    """The client certificate the TLS layer verified on this connection (aiohttp:
    `request.transport`), or None: no TLS, no certificate sent, or the connection already closed.
    Parsed certificates are cached by their DER bytes, so a long-lived client costs one parse."""
    if transport is None:
        return None
    ssl_object = transport.get_extra_info("ssl_object")
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    return _parse_der(der)


@functools.lru_cache(maxsize=PEER_CERT_CACHE_SIZE)
def user_from_certificate(cert: x509.Certificate) -> user.UserInfo | None:
    """CN → name, O attributes → groups in subject order. None for a certificate without a CN: as
    upstream, that is "not authenticated by this method", not an error, and the request may still
    authenticate otherwise. `system:authenticated` is added by the caller."""
    subject = cert.subject
    common_names = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    # Go's pkix.Name keeps the last CN when a subject has several.
    name = str(common_names[-1].value) if common_names else ""
    if not name:
        return None
    groups = tuple(str(a.value) for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
    return user.UserInfo(name, groups=groups)
