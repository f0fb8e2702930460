"""Authenticator: client certificate, then bearer token, then anonymous; a bad token is a 401."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509

from kajitori.auth import authenticator, tokenfile
from kajitori.auth.user import UserInfo
from kajitori.pki import pkiutil

JANE = UserInfo("jane", "1", ("dev",))
JANE_AUTHENTICATED = UserInfo("jane", "1", ("dev", "system:authenticated"))
ANONYMOUS = UserInfo("system:anonymous", groups=("system:unauthenticated",))


@pytest.fixture(scope="module")
def admin_cert() -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    ca = pkiutil.new_self_signed_ca("kubernetes", now=now)
    return pkiutil.new_signed_cert(ca, "kubernetes-admin", organizations=["system:masters"],
                                   usages=[pkiutil.CLIENT_AUTH], now=now).cert


@pytest.fixture
def authn() -> authenticator.Authenticator:
    tokens = tokenfile.TokenFile({"s3cret": JANE})
    return authenticator.Authenticator(token_authenticators=[tokens])


def test_client_certificate_authenticates(authn: authenticator.Authenticator,
                                          admin_cert: x509.Certificate) -> None:
    assert authn.authenticate(peer_cert=admin_cert, authorization_header=None) == UserInfo(
        "kubernetes-admin", groups=("system:masters", "system:authenticated"))


def test_client_certificate_wins_over_a_bad_token(authn: authenticator.Authenticator,
                                                  admin_cert: x509.Certificate) -> None:
    found = authn.authenticate(peer_cert=admin_cert, authorization_header="Bearer wrong")
    assert found is not None
    assert found.name == "kubernetes-admin"


@pytest.mark.parametrize("header", ["Bearer s3cret", "bearer s3cret", "  BEARER s3cret  ",
                                    "Bearer s3cret trailing"])
def test_known_bearer_token_authenticates(authn: authenticator.Authenticator,
                                          header: str) -> None:
    assert authn.authenticate(peer_cert=None, authorization_header=header) == JANE_AUTHENTICATED


def test_unknown_bearer_token_is_unauthenticated_not_anonymous(
        authn: authenticator.Authenticator) -> None:
    assert authn.authenticate(peer_cert=None, authorization_header="Bearer wrong") is None


@pytest.mark.parametrize("header", [None, "", "Basic amFuZTpwdw==", "Bearer", "Bearer ",
                                    "Bearer  s3cret"])
def test_request_without_bearer_token_is_anonymous(authn: authenticator.Authenticator,
                                                   header: str | None) -> None:
    assert authn.authenticate(peer_cert=None, authorization_header=header) == ANONYMOUS


def test_anonymous_disabled_leaves_request_unauthenticated() -> None:
    authn = authenticator.Authenticator(anonymous=False)
    assert authn.authenticate(peer_cert=None, authorization_header=None) is None


def test_token_authenticators_are_asked_in_order() -> None:
    first = tokenfile.TokenFile({"a": UserInfo("first")})
    second = tokenfile.TokenFile({"a": UserInfo("second"), "b": UserInfo("bee")})
    authn = authenticator.Authenticator(token_authenticators=[first, second])
    assert authn.authenticate(peer_cert=None, authorization_header="Bearer a") == UserInfo(
        "first", groups=("system:authenticated",))
    assert authn.authenticate(peer_cert=None, authorization_header="Bearer b") == UserInfo(
        "bee", groups=("system:authenticated",))
