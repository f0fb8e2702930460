"""Continue tokens: upstream's wire format and upstream's refusals."""

from __future__ import annotations

import base64

import pytest

from kajitori.storage import continuetoken, errors

PREFIX = "/registry/pods/"


def raw(body: bytes) -> str:
    return base64.urlsafe_b64encode(body).rstrip(b"=").decode()


def test_encode_is_unpadded_url_base64_of_upstreams_json() -> None:
    token = continuetoken.encode(PREFIX + "default/web-0\x00", prefix=PREFIX, revision=42)

    assert token == raw(b'{"v":"meta.k8s.io/v1","rv":42,"start":"default/web-0\\u0000"}')
    assert "=" not in token


def test_decode_reads_a_token_as_upstream_writes_it() -> None:
    token = raw(b'{"v":"meta.k8s.io/v1","rv":42,"start":"default/web-0\\u0000"}')

    assert continuetoken.decode(token, prefix=PREFIX) == (PREFIX + "default/web-0\x00", 42)


def test_decode_joins_the_start_to_the_list_prefix() -> None:
    token = continuetoken.encode(PREFIX + "default/a\x00", prefix=PREFIX, revision=3)

    assert continuetoken.decode(token, prefix="/registry/secrets/") == (
        "/registry/secrets/default/a\x00", 3)


@pytest.mark.parametrize(("body", "message"), [
    (b'{"v":"meta.k8s.io/v1","rv":0,"start":"a"}',
     "continue key is not valid: incorrect encoded start resourceVersion "
     "(version meta.k8s.io/v1)"),
    (b'{"v":"meta.k8s.io/v1","rv":5,"start":""}',
     "continue key is not valid: encoded start key empty (version meta.k8s.io/v1)"),
    (b'{"v":"meta.k8s.io/v2","rv":5,"start":"a"}',
     "continue key is not valid: server does not recognize this encoded version "
     "meta.k8s.io/v2"),
    (b'{"v":"meta.k8s.io/v1","rv":5,"start":"../secrets/a"}',
     "continue key is not valid: ../secrets/a"),
    (b'{"v":"meta.k8s.io/v1","rv":5,"start":"a//b"}', "continue key is not valid: a//b"),
    (b'{"v":"meta.k8s.io/v1","rv":"5","start":"a"}', "continue key is not valid"),
    (b"[1]", "continue key is not valid"),
])
def test_decode_refuses_with_upstreams_message(body: bytes, message: str) -> None:
    with pytest.raises(errors.InvalidContinue) as caught:
        continuetoken.decode(raw(body), prefix=PREFIX)

    assert str(caught.value) == message
    assert caught.value.key == PREFIX


@pytest.mark.parametrize("token", ["%%%", "é", raw(b"{not json")])
def test_decode_refuses_undecodable_tokens(token: str) -> None:
    with pytest.raises(errors.InvalidContinue, match=r"^continue key is not valid: "):
        continuetoken.decode(token, prefix=PREFIX)
