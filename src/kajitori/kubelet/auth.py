"""Who may call the kubelet's HTTPS API: the client certificate's user, authorized by the
apiserver with a SubjectAccessReview.

Mirrors upstream's kubelet with `authentication.x509.clientCAFile` and `authorization.mode:
Webhook` (`pkg/kubelet/server/auth.go`, `NewNodeAuthorizerAttributesGetter`): a request is
`<verb> nodes/<subresource> <node>`, the verb from the HTTP method (GET → get, POST → create,
PUT → update, PATCH → patch, DELETE → delete), the subresource `stats`, `metrics`, `log`,
`spec` or `checkpoint` for those paths and `proxy` for every other one (exec, attach,
portForward, containerLogs, run). With upstream's fine-grained kubelet authorization (beta and
on in v1.33) `/pods`, `/healthz` and `/configz` ask for `nodes/pods`, `nodes/healthz` and
`nodes/configz` first and fall back to `nodes/proxy`. Answers are cached as the webhook
authorizer's defaults: allowed 5 minutes, denied 30 seconds.

`mode: AlwaysAllow` (upstream's flag default, used by tests that run a bare kubelet server) lets
every authenticated client through.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from kajitori.api import errors
from kajitori.client import rest

Obj = dict[str, Any]

MODE_WEBHOOK = "Webhook"
MODE_ALWAYS_ALLOW = "AlwaysAllow"
MODES = (MODE_WEBHOOK, MODE_ALWAYS_ALLOW)
AUTHORIZED_TTL = 300.0
UNAUTHORIZED_TTL = 30.0
REVIEWS_PATH = rest.resource_path("authorization.k8s.io", "v1", "subjectaccessreviews")
FORBIDDEN = "Forbidden (user={user}, verb={verb}, resource={resource}, subresource={subresource})"
METHOD_VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update",
                "PATCH": "patch", "DELETE": "delete"}
PATH_SUBRESOURCES = (("/stats", "stats"), ("/metrics", "metrics"), ("/logs", "log"),
                     ("/spec", "spec"), ("/checkpoint", "checkpoint"))
FINE_GRAINED_SUBRESOURCES = (("/pods", "pods"), ("/healthz", "healthz"), ("/configz", "configz"))


@dataclass(frozen=True)
class User:
    """A client certificate's identity: CN is the name, O the groups (as upstream's x509
    authenticator)."""

    name: str
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Attributes:
    user: User
    verb: str
    subresource: str
    node_name: str

    def forbidden(self) -> str:
        """The body of upstream's 403 for this request."""
        return FORBIDDEN.format(user=self.user.name, verb=self.verb, resource="nodes",
                                subresource=self.subresource)


def _is_subpath(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def request_attributes(user: User, *, method: str, path: str,
                       node_name: str) -> list[Attributes]:
    """What a request asks, in the order to try: the first allowed lets it through, and the
    last is the one a denial names."""
    verb = METHOD_VERBS.get(method.upper(), "")
    for prefix, subresource in PATH_SUBRESOURCES:
        if _is_subpath(path, prefix):
            return [Attributes(user, verb, subresource, node_name)]
    proxy = Attributes(user, verb, "proxy", node_name)
    for prefix, subresource in FINE_GRAINED_SUBRESOURCES:
        if _is_subpath(path, prefix):
            return [Attributes(user, verb, subresource, node_name), proxy]
    return [proxy]


def user_of_certificate(peer_cert: Obj) -> User:
    """The user of a certificate as `ssl.SSLSocket.getpeercert()` returns it."""
    name, groups = "", []
    for rdn in peer_cert.get("subject") or ():
        for key, value in rdn:
            if key == "commonName":
                name = value
            elif key == "organizationName":
                groups.append(value)
    return User(name, tuple(groups))


class Authorizer(Protocol):
    async def allowed(self, attrs: Attributes) -> bool: ...


class AlwaysAllow:
    async def allowed(self, attrs: Attributes) -> bool:
        return True


Review = Callable[[Obj], Awaitable[Obj]]


class WebhookAuthorizer:
    """Asks the apiserver (`create subjectaccessreviews`) and caches the answer. An error
    reaching the apiserver denies without caching, as upstream's webhook does."""

    def __init__(self, review: Review, *, clock: Callable[[], float] = time.monotonic,
                 authorized_ttl: float = AUTHORIZED_TTL,
                 unauthorized_ttl: float = UNAUTHORIZED_TTL) -> None:
        self._review = review
        self._clock = clock
        self._ttl = {True: authorized_ttl, False: unauthorized_ttl}
        self._cache: dict[Attributes, tuple[bool, float]] = {}

    @classmethod
    def over(cls, client: rest.RESTClient) -> WebhookAuthorizer:
        async def review(body: Obj) -> Obj:
            return await client.create(REVIEWS_PATH, body)
        return cls(review)

    async def allowed(self, attrs: Attributes) -> bool:
        now = self._clock()
        cached = self._cache.get(attrs)
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            answer = await self._review(subject_access_review(attrs))
        except (errors.StatusError, aiohttp.ClientError, OSError, TimeoutError):
            return False
        allowed = bool((answer.get("status") or {}).get("allowed"))
        self._cache[attrs] = (allowed, now + self._ttl[allowed])
        return allowed


def subject_access_review(attrs: Attributes) -> Obj:
    spec: Obj = {"user": attrs.user.name, "groups": list(attrs.user.groups),
                 "resourceAttributes": {"verb": attrs.verb, "version": "v1",
                                        "resource": "nodes", "subresource": attrs.subresource,
                                        "name": attrs.node_name}}
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": spec}


async def first_denial(authorizer: Authorizer, candidates: Sequence[Attributes]) -> \
        Attributes | None:
    """None when one of `candidates` is allowed, else the last one (the one to name)."""
    for attrs in candidates:
        if await authorizer.allowed(attrs):
            return None
    return candidates[-1]
