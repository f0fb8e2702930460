"""Create-only review resources: access reviews, rules reviews, whoami, token reviews.

Mirrors upstream's `pkg/registry/authorization/*` and `pkg/registry/authentication/*`: nothing is
stored; the answer is the request with `status` filled in, 201 Created. `kubectl auth can-i` and
`kubectl auth whoami` send these (as protobuf since kubectl 1.32).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kajitori.api import catalogue, errors
from kajitori.apiserver import responses
from kajitori.apiserver.handlers.create import decode_body
from kajitori.apiserver.handlers.scope import RequestScope
from kajitori.auth import authorizer as authz
from kajitori.auth import user as auth_user

Obj = dict[str, Any]

REVIEWS = frozenset({
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
    ("authorization.k8s.io", "subjectaccessreviews"),
    ("authorization.k8s.io", "localsubjectaccessreviews"),
    ("authentication.k8s.io", "selfsubjectreviews"),
    ("authentication.k8s.io", "tokenreviews"),
})


def is_review(resource: catalogue.Resource) -> bool:
    return (resource.group, resource.plural) in REVIEWS


def _user_of_spec(spec: Obj) -> auth_user.UserInfo:
    return auth_user.UserInfo(name=spec.get("user", ""), uid=spec.get("uid", ""),
                              groups=tuple(spec.get("groups") or ()),
                              extra={k: tuple(v) for k, v in (spec.get("extra") or {}).items()})


def _access(authorizer: Any, user: auth_user.UserInfo, spec: Obj) -> Obj:
    resource_attrs = spec.get("resourceAttributes")
    non_resource = spec.get("nonResourceAttributes")
    if resource_attrs is None and non_resource is None:
        raise errors.invalid("SelfSubjectAccessReview", "", [errors.FieldError.required(
            "spec.resourceAttributes",
            "exactly one of nonResourceAttributes or resourceAttributes must be specified")])
    if resource_attrs is not None:
        attrs = authz.Attributes(
            user=user, verb=resource_attrs.get("verb", ""),
            api_group=resource_attrs.get("group", ""),
            resource=resource_attrs.get("resource", ""),
            subresource=resource_attrs.get("subresource", ""),
            namespace=resource_attrs.get("namespace", ""),
            name=resource_attrs.get("name", ""), path="", resource_request=True)
    else:
        attrs = authz.Attributes(
            user=user, verb=non_resource.get("verb", ""), api_group="", resource="",
            subresource="", namespace="", name="", path=non_resource.get("path", ""),
            resource_request=False)
    decision = authorizer.authorize(attrs)
    status: Obj = {"allowed": decision.allowed}
    if decision.reason:
        status["reason"] = decision.reason
    return status


def user_info(user: auth_user.UserInfo) -> Obj:
    """authentication.k8s.io UserInfo as JSON."""
    out: Obj = {"username": user.name}
    if user.uid:
        out["uid"] = user.uid
    if user.groups:
        out["groups"] = list(user.groups)
    if user.extra:
        out["extra"] = {k: list(v) for k, v in user.extra.items()}
    return out


def _rules(user: auth_user.UserInfo) -> Obj:
    """What the interim authorizer lets this user do: everything for system:masters, nothing
    otherwise, until RBAC lands."""
    if auth_user.SYSTEM_PRIVILEGED_GROUP in user.groups:
        return {"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                "incomplete": False}
    return {"resourceRules": [], "nonResourceRules": [], "incomplete": False}


async def create(scope: RequestScope) -> web.Response:
    obj, warnings = await decode_body(scope)
    res = scope.registry.resource
    spec = obj.get("spec") or {}
    authorizer = scope.authorizer
    if res.plural == "selfsubjectaccessreviews":
        obj["status"] = _access(authorizer, scope.user, spec)
    elif res.plural in ("subjectaccessreviews", "localsubjectaccessreviews"):
        obj["status"] = _access(authorizer, _user_of_spec(spec), spec)
    elif res.plural == "selfsubjectrulesreviews":
        obj["status"] = _rules(scope.user)
    elif res.plural == "selfsubjectreviews":
        obj["status"] = {"userInfo": user_info(scope.user)}
    elif res.plural == "tokenreviews":
        reviewed = scope.authenticator.authenticate(
            peer_cert=None, authorization_header=f"Bearer {spec.get('token', '')}")
        obj["status"] = {"authenticated": True, "user": user_info(reviewed)} \
            if reviewed is not None else {"authenticated": False}
    obj["apiVersion"] = res.api_version
    obj["kind"] = res.kind
    obj.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    return responses.json_response(obj, status=201, warnings=warnings)
