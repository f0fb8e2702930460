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
    Attributes(user=BOB, verb="get", path="/version"),
])
def test_everyone_else_is_denied_without_reason(attrs: Attributes) -> None:
    assert authorizer.MastersOnlyAuthorizer().authorize(attrs) == authorizer.Decision(False, "")


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
