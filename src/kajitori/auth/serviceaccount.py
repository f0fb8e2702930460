"""ServiceAccount tokens: issue them (TokenRequest) and authenticate them (bearer JWTs).

Mirrors `pkg/serviceaccount/jwt.go` and `claims.go`: RS256 JWTs signed with `pki/sa.key`, with
upstream's claims (`iss`, `sub` = `system:serviceaccount:<ns>:<name>`, `aud`, `exp`, `iat`,
`nbf`, `jti` and the private `kubernetes.io` claim naming the namespace and account). The
authenticated user is the account, in the groups `system:serviceaccounts` and
`system:serviceaccounts:<ns>`.

Departure: upstream also checks on every request that the account (and a bound object) still
exists with the token's uid; that needs the store and comes with the ServiceAccount controller.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization

from kajitori.auth import user

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
ALL_SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"
ALGORITHM = "RS256"


def username(namespace: str, name: str) -> str:
    return f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"


def _key_id(public_pem: bytes) -> str:
    """Upstream's kid: unpadded URL-safe base64 of the SHA-256 of the DER public key."""
    der = serialization.load_pem_public_key(public_pem).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expiration: int  # unix seconds


class TokenIssuer:
    def __init__(self, *, private_key_pem: bytes, public_key_pem: bytes,
                 issuer: str = DEFAULT_ISSUER) -> None:
        self._private = serialization.load_pem_private_key(private_key_pem, password=None)
        self._kid = _key_id(public_key_pem)
        self.issuer = issuer

    @classmethod
    def from_files(cls, private_key: Path, public_key: Path) -> TokenIssuer:
        return cls(private_key_pem=private_key.read_bytes(),
                   public_key_pem=public_key.read_bytes())

    def issue(self, *, namespace: str, name: str, uid: str, audiences: list[str],
              expiration_seconds: int, bound: dict[str, Any] | None = None) -> IssuedToken:
        now = int(time.time())
        private: dict[str, Any] = {"namespace": namespace,
                                   "serviceaccount": {"name": name, "uid": uid}}
        if bound:
            private.update(bound)
        claims = {"aud": audiences or [self.issuer], "exp": now + expiration_seconds,
                  "iat": now, "iss": self.issuer, "jti": str(uuid.uuid4()),
                  "kubernetes.io": private, "nbf": now, "sub": username(namespace, name)}
        token = jwt.encode(claims, self._private, algorithm=ALGORITHM,  # type: ignore[arg-type]
                           headers={"kid": self._kid})
        return IssuedToken(token=token, expiration=now + expiration_seconds)


class ServiceAccountTokenAuthenticator:
    """A `TokenAuthenticator` for JWTs this cluster issued; other tokens are not its business
    (None), so the static token file still gets its turn."""

    def __init__(self, *, public_key_pem: bytes, issuer: str = DEFAULT_ISSUER,
                 audiences: tuple[str, ...] = (DEFAULT_ISSUER,)) -> None:
        self._public = serialization.load_pem_public_key(public_key_pem)
        self._issuer = issuer
        self._audiences = list(audiences)

    def authenticate_token(self, token: str) -> user.UserInfo | None:
        if token.count(".") != 2:
            return None
        try:
            claims = jwt.decode(token, self._public, algorithms=[ALGORITHM],  # type: ignore[arg-type]
                                audience=self._audiences, issuer=self._issuer)
        except jwt.PyJWTError:
            return None
        private = claims.get("kubernetes.io") or {}
        namespace = private.get("namespace", "")
        account = private.get("serviceaccount") or {}
        if not namespace or not account.get("name"):
            return None
        return user.UserInfo(
            username(namespace, account["name"]), uid=account.get("uid", ""),
            groups=(ALL_SERVICE_ACCOUNTS_GROUP, f"{ALL_SERVICE_ACCOUNTS_GROUP}:{namespace}"))
