"""The apiserver's TLS server context: serving certificate, client-certificate request, ALPN.

Mirrors `staging/src/k8s.io/apiserver/pkg/server/secure_serving.go` (`tlsConfig`): TLS 1.2 or
newer, and client certificates requested but not required (Go's `tls.RequestClientCert`), so that
token and anonymous requests still get through. The authenticator that reads the verified
certificate lives in `kajitori.auth.x509`.

Departures from upstream, on purpose:
- Only `http/1.1` is offered by ALPN: Kajitori serves no HTTP/2, and Go clients (kubectl) switch to
  h2 whenever the server offers it (../shared/docs/kubectl-protocol.md §1).
- OpenSSL verifies the client certificate during the handshake (Go verifies it later, in the
  authenticator). A certificate not signed by `ca.crt`, expired, or without the clientAuth usage
  therefore fails the handshake instead of drawing a 401 `Unauthorized`.
"""

from __future__ import annotations

import ssl

from kajitori.pki import certs

ALPN_PROTOCOLS = ["http/1.1"]


def server_ssl_context(pki: certs.PKIPaths) -> ssl.SSLContext:
    """A server context serving `apiserver.crt` and verifying optional client certificates
    against `ca.crt`. Reads the files once; a context built before the serving certificate is
    issued again keeps the old one until the server restarts."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(pki.apiserver_cert, pki.apiserver_key)
    context.verify_mode = ssl.CERT_OPTIONAL
    context.load_verify_locations(cafile=pki.ca_cert)
    context.set_alpn_protocols(ALPN_PROTOCOLS)
    return context
