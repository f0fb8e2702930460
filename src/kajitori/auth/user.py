"""Who made a request: upstream's `user.Info` and the well-known user and group names.

Mirrors `staging/src/k8s.io/apiserver/pkg/authentication/user/user.go`. Authenticators
(`kajitori.auth.authenticator`) produce a `UserInfo`; authorizers (`kajitori.auth.authorizer`)
decide on it; `kubectl auth whoami` shows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

SYSTEM_PRIVILEGED_GROUP = "system:masters"
"""Members may do everything; no authorizer is asked (upstream's superuser short cut)."""
CLUSTER_ADMINS_GROUP = "kubeadm:cluster-admins"
"""kubeadm binds this group to the `cluster-admin` ClusterRole (ClusterRoleBinding
`kubeadm:cluster-admins`); the apiserver's kubelet client certificate carries it."""
ALL_AUTHENTICATED = "system:authenticated"
ALL_UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"


@dataclass(frozen=True)
class UserInfo:
    """An authenticated (or anonymous) user. `groups` keeps the authenticator's order, duplicates
    included, as upstream reports them; `extra` holds authenticator-specific values (e.g. a
    ServiceAccount token's pod name)."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


ANONYMOUS_USER = UserInfo(ANONYMOUS, groups=(ALL_UNAUTHENTICATED,))
"""What a request without credentials is, when anonymous requests are allowed (the default)."""


def with_authenticated_group(user: UserInfo) -> UserInfo:
    """Append `system:authenticated`, as upstream's `AuthenticatedGroupAdder`: unless the user is
    `system:anonymous`, or already has `system:authenticated` or `system:unauthenticated`."""
    if user.name == ANONYMOUS or ALL_AUTHENTICATED in user.groups \
            or ALL_UNAUTHENTICATED in user.groups:
        return user
    return UserInfo(user.name, user.uid, (*user.groups, ALL_AUTHENTICATED), user.extra)
