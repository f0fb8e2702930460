"""MastersOnlyAuthorizer decisions and upstream's Forbidden wording (responsewriters/errors.go)."""

from __future__ import annotations

import pytest

from kajitori.auth import authorizer
from kajitori.auth.authorizer import Attributes
from kajitori.auth.user import UserInfo

ADMIN = UserInfo("kubernetes-admin", groups=("system:masters", "system:authenticated"))
BOB = UserInfo("bob", groups=("dev", "system:authenticated"))
ANONYMOUS = UserInfo("system:anonymous", groups=("system:unauthenticated",))


def _pods(user: UserInfo | None, verb: str = "list", **fields: str) -> Attributes:
    return Attributes(user=user, verb=verb, resource="pods", namespace="default",
                      resource_request=True, **fields)


@pytest.mark.parametrize("attrs", [
    _pods(ADMIN),
    _pods(ADMIN, "delete", name="web-1"),
    Attributes(user=ADMIN, verb="get", path="/metrics"),
    Attributes(user=ADMIN, verb="create", api_group="rbac.authorization.k8s.io",
               resource="clusterroles", resource_request=True),
])
def test_system_masters_may_do_everything(attrs: Attributes) -> None:
    assert authorizer.MastersOnlyAuthorizer().authorize(attrs) == authorizer.Decision(True, "")


@pytest.mark.parametrize("attrs", [
    _pods(BOB),
    _pods(ANONYMOUS, "get", name="x"),
    _pods(None),
    Attributes(user=BOB, verb="get", path="/metrics"),  # system:monitoring's, not everyone's
])
def test_everyone_else_is_denied_without_reason(attrs: Attributes) -> None:
    assert authorizer.MastersOnlyAuthorizer().authorize(attrs) == authorizer.Decision(False, "")


def _review(user: UserInfo | None, group: str, resource: str, verb: str = "create",
            **fields: str) -> Attributes:
    return Attributes(user=user, verb=verb, api_group=group, resource=resource,
                      resource_request=True, **fields)


AUTHZ = "authorization.k8s.io"
AUTHN = "authentication.k8s.io"
# Paths upstream's system:public-info-viewer grants (bound to system:authenticated and
# system:unauthenticated) and system:discovery adds for system:authenticated (bootstrappolicy).
PUBLIC_INFO_PATHS = ["/livez", "/readyz", "/healthz", "/version", "/version/"]
DISCOVERY_PATHS = ["/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1", "/openapi/v2",
                   "/openapi/v3", "/openapi/v3/apis/apps/v1"]


@pytest.mark.parametrize("path", PUBLIC_INFO_PATHS + DISCOVERY_PATHS)
def test_authenticated_users_may_read_discovery_version_and_health(path: str) -> None:
    decision = authorizer.MastersOnlyAuthorizer().authorize(
        Attributes(user=BOB, verb="get", path=path))
    assert decision == authorizer.Decision(True, "")


@pytest.mark.parametrize("attrs", [
    _review(BOB, AUTHZ, "selfsubjectaccessreviews"),  # kubectl auth can-i
    _review(BOB, AUTHZ, "selfsubjectrulesreviews"),  # kubectl auth can-i --list
    _review(BOB, AUTHN, "selfsubjectreviews"),  # kubectl auth whoami
])
def test_authenticated_users_may_ask_who_they_are_and_what_they_may_do(
        attrs: Attributes) -> None:
    assert authorizer.MastersOnlyAuthorizer().authorize(attrs) == authorizer.Decision(True, "")


@pytest.mark.parametrize("attrs", [
    Attributes(user=BOB, verb="post", path="/api"),  # the roles grant only get
    Attributes(user=BOB, verb="get", path="/logs"),
    Attributes(user=BOB, verb="get", path="/apiserver"),  # no prefix match without a slash
    _review(BOB, AUTHZ, "selfsubjectaccessreviews", verb="list"),
    _review(BOB, AUTHZ, "subjectaccessreviews"),
    _review(BOB, AUTHZ, "localsubjectaccessreviews", namespace="default"),
    _review(BOB, AUTHN, "tokenreviews"),
    _review(BOB, AUTHN, "selfsubjectaccessreviews"),  # right name, wrong group
    Attributes(user=None, verb="get", path="/version"),
    _review(None, AUTHZ, "selfsubjectaccessreviews"),
])
def test_the_default_roles_grant_nothing_more(attrs: Attributes) -> None:
    assert authorizer.MastersOnlyAuthorizer().authorize(attrs) == authorizer.Decision(False, "")


@pytest.mark.parametrize("path", PUBLIC_INFO_PATHS)
def test_anonymous_users_may_read_version_and_health(path: str) -> None:
    decision = authorizer.MastersOnlyAuthorizer().authorize(
        Attributes(user=ANONYMOUS, verb="get", path=path))
    assert decision == authorizer.Decision(True, "")


@pytest.mark.parametrize("attrs", [
    Attributes(user=ANONYMOUS, verb="get", path="/api"),
    Attributes(user=ANONYMOUS, verb="get", path="/openapi/v2"),
    _review(ANONYMOUS, AUTHZ, "selfsubjectaccessreviews"),
])
def test_anonymous_users_get_neither_discovery_nor_self_reviews(attrs: Attributes) -> None:
    # system:discovery and system:basic-user are bound to system:authenticated only
    assert authorizer.MastersOnlyAuthorizer().authorize(attrs) == authorizer.Decision(False, "")


@pytest.mark.parametrize("path", ["/healthz/etcd", "/livez/ping", "/readyz/", "/healthz/"])
def test_health_checks_other_than_the_listed_paths_are_not_granted(path: str) -> None:
    # the roles list "/healthz", "/livez", "/readyz" exactly: no "/healthz/*"
    decision = authorizer.MastersOnlyAuthorizer().authorize(
        Attributes(user=BOB, verb="get", path=path))
    assert decision == authorizer.Decision(False, "")


@pytest.mark.parametrize(("attrs", "message"), [
    (_pods(BOB),
     'User "bob" cannot list resource "pods" in API group "" in the namespace "default"'),
    (_pods(BOB, "get", subresource="log", name="web-1"),
     'User "bob" cannot get resource "pods/log" in API group "" in the namespace "default"'),
    (Attributes(user=BOB, verb="list", resource="nodes", resource_request=True),
     'User "bob" cannot list resource "nodes" in API group "" at the cluster scope'),
    (Attributes(user=BOB, verb="update", api_group="apps", resource="deployments",
                subresource="scale", namespace="team-a", name="web", resource_request=True),
     'User "bob" cannot update resource "deployments/scale" in API group "apps" in the '
     'namespace "team-a"'),
    (Attributes(user=BOB, verb="get", path="/foo"), 'User "bob" cannot get path "/foo"'),
    (Attributes(user=None, verb="get", path="/healthz"), 'User "" cannot get path "/healthz"'),
    (Attributes(user=UserInfo('we"ird\\name\n'), verb="get", path="/"),
     'User "we\\"ird\\\\name\\n" cannot get path "/"'),
])
def test_forbidden_message_is_worded_as_upstream(attrs: Attributes, message: str) -> None:
    assert authorizer.forbidden_message(attrs) == message


@pytest.mark.parametrize(("attrs", "message", "details"), [
    (_pods(BOB, "get", name="x"),
     'pods "x" is forbidden: User "bob" cannot get resource "pods" in API group "" in the '
     'namespace "default"',
     {"name": "x", "kind": "pods"}),
    (_pods(BOB),
     'pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the '
     'namespace "default"',
     {"kind": "pods"}),
    (Attributes(user=BOB, verb="get", api_group="v2", resource="pod", subresource="quota",
                namespace="test", resource_request=True),
     'pod.v2 is forbidden: User "bob" cannot get resource "pod/quota" in API group "v2" in the '
     'namespace "test"',
     {"group": "v2", "kind": "pod"}),
    (Attributes(user=BOB, verb="get", path="/<script>"),
     'forbidden: User "bob" cannot get path "/&lt;script&gt;"',
     {}),
])
def test_forbidden_error_is_upstreams_status(attrs: Attributes, message: str,
                                             details: dict[str, str]) -> None:
    error = authorizer.forbidden(attrs)
    assert error.code == 403
    assert error.status == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                            "status": "Failure", "message": message, "reason": "Forbidden",
                            "details": details, "code": 403}


def test_forbidden_error_appends_the_authorizer_reason() -> None:
    error = authorizer.forbidden(_pods(BOB, "get", name="x"), "RBAC: role \"r\" not found")
    assert error.status["message"] == (
        'pods "x" is forbidden: User "bob" cannot get resource "pods" in API group "" in the '
        'namespace "default": RBAC: role "r" not found')
