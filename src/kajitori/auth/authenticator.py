"""Request authentication: client certificate, then bearer token, then anonymous.

Mirrors the chain `pkg/kubeapiserver/authenticator/config.go` builds from
`staging/src/k8s.io/apiserver/pkg/authentication/`: `request/x509` first, then
`request/bearertoken` over the token authenticators (`token/tokenfile` today; ServiceAccount JWTs
and bootstrap tokens plug in as further `TokenAuthenticator`s), `group.AuthenticatedGroupAdder` on
the result, and `request/anonymous` only when no credentials were presented at all
(`union.NewFailOnError`): a wrong token is a 401, never an anonymous request.

The apiserver calls `authenticate` per request, then the authorizer (`kajitori.auth.authorizer`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from cryptography import x509

from kajitori.auth import user
from kajitori.auth import x509 as x509auth

BEARER_SCHEME = "bearer"


class TokenAuthenticator(Protocol):
    """Upstream's `authenticator.Token`: the user a bearer token belongs to, or None when this
    authenticator does not know it. Must not block (in-memory lookups and signature checks)."""

    def authenticate_token(self, token: str) -> user.UserInfo | None: ...


def bearer_token(authorization_header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None when the header is absent,
    empty, another scheme, or has an empty token; the scheme is case-insensitive, and as upstream
    the token is what follows the first space up to the next one."""
    value = (authorization_header or "").strip()
    parts = value.split(" ")
    if len(parts) < 2 or parts[0].lower() != BEARER_SCHEME or not parts[1]:
        return None
    return parts[1]


class Authenticator:
    """Turns a request's credentials into a user, or None: the request is unauthenticated and the
    apiserver answers 401 `Unauthorized` (`kajitori.api.errors.unauthorized()`).

    - A client certificate with a CN authenticates and wins over any token, as upstream tries
      x509 first.
    - Otherwise a bearer token must belong to one of `token_authenticators`, tried in order;
      an unknown token gives None.
    - A request with neither is `system:anonymous` in `system:unauthenticated` when `anonymous`
      (upstream's `--anonymous-auth`, default true), else None.
    Authenticated users get `system:authenticated` appended. Pure and non-blocking.
    """

    def __init__(self, *, token_authenticators: Sequence[TokenAuthenticator] = (),
                 anonymous: bool = True) -> None:
        self._token_authenticators = tuple(token_authenticators)
        self._anonymous = anonymous

    def authenticate(self, *, peer_cert: x509.Certificate | None,
                     authorization_header: str | None) -> user.UserInfo | None:
        if peer_cert is not None:
            found = x509auth.user_from_certificate(peer_cert)
            if found is not None:
                return user.with_authenticated_group(found)
        token = bearer_token(authorization_header)
        if token is not None:
            for authenticator in self._token_authenticators:
                found = authenticator.authenticate_token(token)
                if found is not None:
                    return user.with_authenticated_group(found)
            return None  # upstream: "invalid bearer token", and no anonymous fallback
        return user.ANONYMOUS_USER if self._anonymous else None
