"""Create-only review resources and ServiceAccount tokens over HTTP."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kajitori.auth import serviceaccount

if TYPE_CHECKING:
    from conftest import API  # the fixture's type, from this directory's conftest.py

Obj = dict[str, Any]
MakeAPI = Callable[..., contextlib.AbstractAsyncContextManager["API"]]

SSAR = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
SSRR = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
SSR = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
SERVICEACCOUNTS = "/api/v1/namespaces/default/serviceaccounts"
PROTOBUF = "application/vnd.kubernetes.protobuf"
PROTOBUF_FIXTURES = Path(__file__).parent.parent / "api" / "protobuf_fixtures"


async def post(api: API, path: str, obj: Obj, *, status: int = 201) -> Obj:
    async with api.session.post(api.url(path), json=obj) as resp:
        assert resp.status == status, await resp.text()
        return await resp.json()


async def test_self_subject_access_review_for_masters(api: API) -> None:
    review = await post(api, SSAR, {
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": "delete", "resource": "pods",
                                        "namespace": "default"}}})
    assert (review["apiVersion"], review["kind"]) == ("authorization.k8s.io/v1",
                                                      "SelfSubjectAccessReview")
    assert review["status"]["allowed"] is True
    assert review["spec"]["resourceAttributes"]["verb"] == "delete"


async def test_self_subject_access_review_in_protobuf_as_kubectl_sends_it(api: API) -> None:
    # `kubectl auth can-i create deployments/scale -n kube-system` posts protobuf
    raw = (PROTOBUF_FIXTURES / "can-i-subresource.kubectl-1.33.pb").read_bytes()
    async with api.session.post(api.url(SSAR), data=raw, headers={
            "Content-Type": PROTOBUF, "Accept": f"{PROTOBUF},application/json"}) as resp:
        assert resp.status == 201, await resp.text()
        review = await resp.json()
    assert review["kind"] == "SelfSubjectAccessReview"
    assert review["spec"]["resourceAttributes"] == {
        "namespace": "kube-system", "verb": "create", "group": "apps", "resource": "deployments",
        "subresource": "scale"}
    assert review["status"]["allowed"] is True


async def test_self_subject_access_review_for_a_path(api: API) -> None:
    review = await post(api, SSAR, {"spec": {"nonResourceAttributes": {
        "verb": "get", "path": "/logs"}}})
    assert review["status"]["allowed"] is True


async def test_self_subject_access_review_needs_attributes(api: API) -> None:
    body = await post(api, SSAR, {"spec": {}}, status=422)
    assert body["reason"] == "Invalid"


async def test_self_subject_rules_review(api: API) -> None:
    review = await post(api, SSRR, {"spec": {"namespace": "default"}})
    assert review["status"]["resourceRules"] == [
        {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]
    assert review["status"]["incomplete"] is False


async def test_self_subject_review_is_whoami(api: API) -> None:
    review = await post(api, SSR, {"apiVersion": "authentication.k8s.io/v1",
                                   "kind": "SelfSubjectReview"})
    assert review["status"]["userInfo"] == {
        "username": "admin", "uid": "1", "groups": ["system:masters", "system:authenticated"]}


async def test_token_review(api: API) -> None:
    known = await post(api, TOKEN_REVIEWS, {"spec": {"token": "tok"}})
    assert known["status"]["authenticated"] is True
    assert known["status"]["user"]["username"] == "admin"
    unknown = await post(api, TOKEN_REVIEWS, {"spec": {"token": "nope"}})
    assert unknown["status"] == {"authenticated": False}


async def test_reviews_are_create_only(api: API) -> None:
    async with api.session.get(api.url(SSAR)) as resp:
        assert resp.status == 405


async def test_reviews_store_nothing(api: API) -> None:
    revision = api.server.store.current_revision()
    await post(api, SSR, {})
    assert api.server.store.current_revision() == revision


# --- serviceaccounts/<name>/token ---------------------------------------------------------------

@functools.cache  # one key for the module: generating RSA keys is slow
def key_pair() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def token_request(**spec: Any) -> Obj:
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}


async def test_token_request_issues_a_signed_token(make_api: MakeAPI) -> None:
    private, public = key_pair()
    issuer = serviceaccount.TokenIssuer(private_key_pem=private, public_key_pem=public)
    async with make_api(token_issuer=issuer) as api:
        account = await post(api, SERVICEACCOUNTS, {"metadata": {"name": "robot"}})
        before = int(time.time())
        answer = await post(api, f"{SERVICEACCOUNTS}/robot/token",
                            token_request(audiences=["api"], expirationSeconds=1200))
    assert (answer["apiVersion"], answer["kind"]) == ("authentication.k8s.io/v1",
                                                      "TokenRequest")
    assert answer["spec"]["expirationSeconds"] == 1200
    claims = jwt.decode(answer["status"]["token"], public, algorithms=["RS256"], audience="api")
    assert claims["sub"] == "system:serviceaccount:default:robot"
    assert claims["iss"] == serviceaccount.DEFAULT_ISSUER
    assert claims["kubernetes.io"]["serviceaccount"] == {
        "name": "robot", "uid": account["metadata"]["uid"]}
    assert before + 1200 <= claims["exp"] <= int(time.time()) + 1200
    assert answer["status"]["expirationTimestamp"].endswith("Z")
    authenticated = serviceaccount.ServiceAccountTokenAuthenticator(
        public_key_pem=public, audiences=("api",)).authenticate_token(answer["status"]["token"])
    assert authenticated is not None
    assert authenticated.name == "system:serviceaccount:default:robot"


async def test_token_request_defaults_to_an_hour_for_the_issuer(make_api: MakeAPI) -> None:
    private, public = key_pair()
    issuer = serviceaccount.TokenIssuer(private_key_pem=private, public_key_pem=public)
    async with make_api(token_issuer=issuer) as api:
        await post(api, SERVICEACCOUNTS, {"metadata": {"name": "robot"}})
        answer = await post(api, f"{SERVICEACCOUNTS}/robot/token", token_request())
    assert answer["spec"]["expirationSeconds"] == 3600
    claims = jwt.decode(answer["status"]["token"], public, algorithms=["RS256"],
                        audience=serviceaccount.DEFAULT_ISSUER)
    assert claims["aud"] == [serviceaccount.DEFAULT_ISSUER]


async def test_token_request_for_missing_account_is_not_found(make_api: MakeAPI) -> None:
    private, public = key_pair()
    issuer = serviceaccount.TokenIssuer(private_key_pem=private, public_key_pem=public)
    async with make_api(token_issuer=issuer) as api:
        body = await post(api, f"{SERVICEACCOUNTS}/ghost/token", token_request(), status=404)
    assert body["message"] == 'serviceaccounts "ghost" not found'


async def test_token_request_shorter_than_ten_minutes_is_invalid(make_api: MakeAPI) -> None:
    private, public = key_pair()
    issuer = serviceaccount.TokenIssuer(private_key_pem=private, public_key_pem=public)
    async with make_api(token_issuer=issuer) as api:
        await post(api, SERVICEACCOUNTS, {"metadata": {"name": "robot"}})
        body = await post(api, f"{SERVICEACCOUNTS}/robot/token",
                          token_request(expirationSeconds=60), status=422)
    assert body["message"] == (
        'TokenRequest.authentication.k8s.io "robot" is invalid: spec.expirationSeconds: Invalid '
        "value: 60: may not specify a duration less than 10 minutes")


async def test_token_subresource_without_issuer_is_not_found(api: API) -> None:
    await post(api, SERVICEACCOUNTS, {"metadata": {"name": "robot"}})
    await post(api, f"{SERVICEACCOUNTS}/robot/token", token_request(), status=404)
