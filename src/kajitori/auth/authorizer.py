"""Authorization: request attributes, the decision, and the interim system:masters-only authorizer.

Mirrors `staging/src/k8s.io/apiserver/pkg/authorization/authorizer/interfaces.go` (`Attributes`,
`Authorizer`), `authorizerfactory.NewPrivilegedGroups` (members of `system:masters` may do
anything) and the Forbidden wording of
`staging/src/k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go`.

`MastersOnlyAuthorizer` stands in until RBAC: everyone outside `system:masters` is denied. RBAC and
the Node authorizer will implement the same `Authorizer` protocol; the apiserver asks one
`Authorizer` per request and, when it is not allowed, raises `forbidden(attrs, decision.reason)`.
Upstream's third outcome, NoOpinion, is "not allowed" here: a union of authorizers asks each in
turn until one allows, which is how upstream chains privileged groups, Node and RBAC (none of them
ever says Deny).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kajitori.api import errors
from kajitori.auth.user import (
    ALL_AUTHENTICATED,
    CLUSTER_ADMINS_GROUP,
    SYSTEM_PRIVILEGED_GROUP,
    UserInfo,
)


@dataclass(frozen=True)
class Attributes:
    """What a request asks to do. A resource request (`resource_request`) names `verb` (`get`,
    `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`, ...), `api_group`
    ("" for the core group), `resource` (plural), `subresource`, `namespace` ("" when
    cluster-scoped or across all namespaces) and `name` ("" for collections); a non-resource
    request (`/version`, `/healthz`, discovery) names `verb` (the lower-case HTTP method) and
    `path`. `user` is None only when authentication was skipped."""

    user: UserInfo | None
    verb: str
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""
    resource_request: bool = False


@dataclass(frozen=True)
class Decision:
    """`reason` is shown to the user: after the Forbidden message, or by `kubectl auth can-i` as
    `no - <reason>`; empty when there is nothing to add."""

    allowed: bool
    reason: str = ""


class Authorizer(Protocol):
    """Upstream's `authorizer.Authorizer`. Decides from memory (RBAC from informer caches, as
    upstream's listers): must not block, may be called concurrently; never raises for a denial."""

    def authorize(self, attrs: Attributes) -> Decision: ...


ALLOWED = Decision(True)
NOT_ALLOWED = Decision(False)


# What upstream's default ClusterRoles grant (plugin/pkg/auth/authorizer/rbac/bootstrappolicy):
# `system:public-info-viewer` to everyone, anonymous included; `system:discovery` and
# `system:basic-user` to authenticated users. Non-resource URLs match exactly, or by prefix
# where the rule ends in `*`.
PUBLIC_INFO_URLS = ("/healthz", "/livez", "/readyz", "/version", "/version/")
DISCOVERY_URLS = ("/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*",
                  *PUBLIC_INFO_URLS)
SELF_REVIEWS = frozenset({("authorization.k8s.io", "selfsubjectaccessreviews"),
                          ("authorization.k8s.io", "selfsubjectrulesreviews"),
                          ("authentication.k8s.io", "selfsubjectreviews")})


def _url_matches(path: str, rules: tuple[str, ...]) -> bool:
    return any(path == rule or (rule.endswith("*") and path.startswith(rule[:-1]))
               for rule in rules)


def _default_grant(attrs: Attributes) -> bool:
    authenticated = attrs.user is not None and ALL_AUTHENTICATED in attrs.user.groups
    if attrs.resource_request:
        return authenticated and attrs.verb == "create" and \
            (attrs.api_group, attrs.resource) in SELF_REVIEWS
    if attrs.verb != "get":
        return False
    return _url_matches(attrs.path, DISCOVERY_URLS if authenticated else PUBLIC_INFO_URLS)


class MastersOnlyAuthorizer:
    """Allows members of `system:masters` everything, and members of `kubeadm:cluster-admins`
    too (the `cluster-admin` binding kubeadm's bootstrap creates: the apiserver's kubelet
    client carries that group, and kubelets ask whether it may proxy to them); every
    authenticated user what upstream's default discovery and basic-user roles grant; denies
    the rest, giving no reason (as RBAC gives none for a plain miss, so the message reads the
    same once RBAC replaces this)."""

    def authorize(self, attrs: Attributes) -> Decision:
        if attrs.user is not None and {SYSTEM_PRIVILEGED_GROUP, CLUSTER_ADMINS_GROUP} & \
                set(attrs.user.groups):
            return ALLOWED
        if attrs.user is not None and _default_grant(attrs):
            return ALLOWED
        return NOT_ALLOWED


_GO_ESCAPES = {'"': '\\"', "\\": "\\\\", "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n",
               "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def _go_quote(value: str) -> str:
    """Go's `%q` (strconv.Quote) of a string: printable characters as they are, the rest
    escaped."""
    out = []
    for char in value:
        if char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def _sanitize(message: str) -> str:
    """Upstream escapes what could pass for HTML in the Forbidden message; quotes are kept."""
    return message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def forbidden_message(attrs: Attributes) -> str:
    """Upstream's sentence for a denied request, e.g.
    `User "bob" cannot list resource "pods" in API group "" in the namespace "default"`,
    `User "bob" cannot get resource "pods/log" in API group "" in the namespace "default"`,
    `User "bob" cannot list resource "nodes" in API group "" at the cluster scope`,
    `User "bob" cannot get path "/foo"`."""
    username = attrs.user.name if attrs.user is not None else ""
    if not attrs.resource_request:
        return (f"User {_go_quote(username)} cannot {attrs.verb} path "
                f"{_go_quote(attrs.path)}")
    resource = attrs.resource
    if attrs.subresource:
        resource = f"{resource}/{attrs.subresource}"
    head = (f"User {_go_quote(username)} cannot {attrs.verb} resource {_go_quote(resource)} in API "
            f"group {_go_quote(attrs.api_group)}")
    if attrs.namespace:
        return f"{head} in the namespace {_go_quote(attrs.namespace)}"
    return f"{head} at the cluster scope"


def forbidden(attrs: Attributes, reason: str = "") -> errors.StatusError:
    """The 403 the apiserver answers for a denied request, worded as upstream's
    `responsewriters.Forbidden`: `pods "x" is forbidden: User ...`, `deployments.apps is
    forbidden: User ...`, `forbidden: User "bob" cannot get path "/foo"`; the authorizer's
    `reason`, if any, follows after `: `."""
    detail = _sanitize(forbidden_message(attrs))
    if reason:
        detail = f"{detail}: {reason}"
    if not attrs.resource and not attrs.api_group:
        body = errors.status(403, "Forbidden", f"forbidden: {detail}")
        body["details"] = {}
        return errors.StatusError(body)
    qualified = f"{attrs.resource}.{attrs.api_group}" if attrs.api_group else attrs.resource
    return errors.forbidden(qualified, attrs.name, detail)
