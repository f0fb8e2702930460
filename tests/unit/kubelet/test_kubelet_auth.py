"""The kubelet's authorization: what a request asks for, the SubjectAccessReview it sends, the
cache, and the 403 wording."""

from __future__ import annotations

import asyncio

import pytest

from kajitori.api import errors
from kajitori.kubelet import auth

JANE = auth.User("jane", ("dev",))


def _subresources(method: str, path: str) -> list[tuple[str, str]]:
    return [(a.verb, a.subresource) for a in auth.request_attributes(
        JANE, method=method, path=path, node_name="n1")]


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("GET", "/stats/summary", [("get", "stats")]),
    ("GET", "/stats", [("get", "stats")]),
    ("GET", "/metrics/resource", [("get", "metrics")]),
    ("GET", "/logs/syslog", [("get", "log")]),
    ("GET", "/spec/", [("get", "spec")]),
    ("POST", "/exec/default/p/c", [("create", "proxy")]),
    ("GET", "/containerLogs/default/p/c", [("get", "proxy")]),
    ("GET", "/statsfoo", [("get", "proxy")]),
    ("GET", "/pods", [("get", "pods"), ("get", "proxy")]),
    ("GET", "/healthz", [("get", "healthz"), ("get", "proxy")]),
    ("DELETE", "/configz", [("delete", "configz"), ("delete", "proxy")]),
])
def test_request_attributes_as_upstreams_node_authorizer_attributes_getter(
        method: str, path: str, expected: list[tuple[str, str]]) -> None:
    assert _subresources(method, path) == expected


def test_the_certificate_subject_gives_the_user_and_groups() -> None:
    peer = {"subject": ((("organizationName", "system:nodes"),),
                        (("organizationName", "dev"),), (("commonName", "system:node:n1"),))}
    assert auth.user_of_certificate(peer) == auth.User("system:node:n1",
                                                       ("system:nodes", "dev"))


def test_forbidden_names_the_user_verb_and_subresource() -> None:
    [attrs] = auth.request_attributes(JANE, method="POST", path="/exec/ns/p/c", node_name="n1")
    assert attrs.forbidden() == \
        "Forbidden (user=jane, verb=create, resource=nodes, subresource=proxy)"


class Reviews:
    def __init__(self, allowed: bool) -> None:
        self.allowed = allowed
        self.sent: list[dict] = []

    async def __call__(self, body: dict) -> dict:
        self.sent.append(body)
        return {**body, "status": {"allowed": self.allowed}}


def _decide(authorizer: auth.WebhookAuthorizer, path: str) -> auth.Attributes | None:
    return asyncio.run(auth.first_denial(authorizer, auth.request_attributes(
        JANE, method="GET", path=path, node_name="n1")))


def test_the_review_asks_for_the_node_subresource_as_the_user() -> None:
    reviews = Reviews(allowed=True)
    assert _decide(auth.WebhookAuthorizer(reviews), "/stats/summary") is None
    assert reviews.sent == [{
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": "jane", "groups": ["dev"], "resourceAttributes": {
            "verb": "get", "version": "v1", "resource": "nodes", "subresource": "stats",
            "name": "n1"}}}]


def test_a_denied_fine_grained_request_falls_back_to_proxy_and_names_it() -> None:
    reviews = Reviews(allowed=False)
    denied = _decide(auth.WebhookAuthorizer(reviews), "/pods")
    assert denied is not None
    assert denied.subresource == "proxy"
    assert [r["spec"]["resourceAttributes"]["subresource"] for r in reviews.sent] == \
        ["pods", "proxy"]


def test_answers_are_cached_allowed_for_five_minutes_denied_for_thirty_seconds() -> None:
    now = [0.0]
    reviews = Reviews(allowed=True)
    authorizer = auth.WebhookAuthorizer(reviews, clock=lambda: now[0])
    _decide(authorizer, "/stats/summary")
    now[0] = 299.0
    _decide(authorizer, "/stats/summary")
    assert len(reviews.sent) == 1
    now[0] = 301.0
    reviews.allowed = False
    assert _decide(authorizer, "/stats/summary") is not None
    assert len(reviews.sent) == 2
    now[0] = 330.0
    _decide(authorizer, "/stats/summary")
    assert len(reviews.sent) == 2
    now[0] = 332.0
    reviews.allowed = True
    assert _decide(authorizer, "/stats/summary") is None
    assert len(reviews.sent) == 3


def test_an_apiserver_error_denies_and_is_not_cached() -> None:
    calls = []

    async def failing(body: dict) -> dict:
        calls.append(body)
        raise errors.StatusError(errors.status(500, "InternalError", "boom"))

    authorizer = auth.WebhookAuthorizer(failing)
    assert _decide(authorizer, "/stats/summary") is not None
    assert _decide(authorizer, "/stats/summary") is not None
    assert len(calls) == 2
