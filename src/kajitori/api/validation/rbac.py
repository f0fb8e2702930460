"""Semantic rules for rbac.authorization.k8s.io/v1 Roles, ClusterRoles and their bindings.

Mirrors pkg/apis/rbac/validation/validation.go. Names are path segments (`system:...` is
fine); a binding's roleRef never changes.
"""

from __future__ import annotations

from typing import Any

from kajitori.api.errors import FieldError
from kajitori.api.validation import gorepr, objectmeta

Obj = dict[str, Any]

GROUP = "rbac.authorization.k8s.io"
SUBJECT_KINDS = ["ServiceAccount", "User", "Group"]
CANNOT_CHANGE_ROLE_REF = "cannot change roleRef"


def _validate_rules(obj: Obj, *, namespaced: bool) -> list[FieldError]:
    out: list[FieldError] = []
    for i, rule in enumerate(obj.get("rules") or []):
        p = f"rules[{i}]"
        if not rule.get("verbs"):
            out.append(FieldError.required(f"{p}.verbs", "verbs must contain at least one value"))
        urls = rule.get("nonResourceURLs") or []
        if urls:
            shown = gorepr.value(gorepr.strings(urls))
            if namespaced:
                out.append(FieldError.invalid(f"{p}.nonResourceURLs", shown,
                                              "namespaced rules cannot apply to non-resource "
                                              "URLs"))
            if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
                out.append(FieldError.invalid(f"{p}.nonResourceURLs", shown,
                                              "rules cannot apply to both regular resources "
                                              "and non-resource URLs"))
            continue
        if not rule.get("apiGroups"):
            out.append(FieldError.required(f"{p}.apiGroups",
                                           "resource rules must supply at least one api group"))
        if not rule.get("resources"):
            out.append(FieldError.required(f"{p}.resources",
                                           "resource rules must supply at least one resource"))
    return out


def validate_role(obj: Obj) -> list[FieldError]:
    return _validate_rules(obj, namespaced=True)


def validate_cluster_role(obj: Obj) -> list[FieldError]:
    return _validate_rules(obj, namespaced=False)


def _validate_binding(obj: Obj, *, namespaced: bool) -> list[FieldError]:
    out: list[FieldError] = []
    ref = obj.get("roleRef") or {}
    if ref.get("apiGroup", "") != GROUP:
        out.append(FieldError.not_supported("roleRef.apiGroup", ref.get("apiGroup", ""), [GROUP]))
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    if ref.get("kind", "") not in kinds:
        out.append(FieldError.not_supported("roleRef.kind", ref.get("kind", ""), kinds))
    name = ref.get("name") or ""
    if not name:
        out.append(FieldError.required("roleRef.name"))
    else:
        out += objectmeta.invalid_each("roleRef.name", name, objectmeta.path_segment(name, False))
    for i, subject in enumerate(obj.get("subjects") or []):
        out += _validate_subject(subject, f"subjects[{i}]", namespaced=namespaced)
    return out


def _validate_subject(subject: Obj, path: str, *, namespaced: bool) -> list[FieldError]:
    out: list[FieldError] = []
    name, kind = subject.get("name") or "", subject.get("kind") or ""
    group = subject.get("apiGroup") or ""
    if not name:
        out.append(FieldError.required(f"{path}.name"))
    if kind == "ServiceAccount":
        if name:
            out += objectmeta.invalid_each(f"{path}.name", name,
                                           objectmeta.dns_subdomain(name, False))
        if group:
            out.append(FieldError.not_supported(f"{path}.apiGroup", group, [""]))
        if not namespaced and not subject.get("namespace"):
            out.append(FieldError.required(f"{path}.namespace"))
    elif kind in ("User", "Group"):
        if group != GROUP:
            out.append(FieldError.not_supported(f"{path}.apiGroup", group, [GROUP]))
    else:
        out.append(FieldError.not_supported(f"{path}.kind", kind, SUBJECT_KINDS))
    return out


def validate_role_binding(obj: Obj) -> list[FieldError]:
    return _validate_binding(obj, namespaced=True)


def validate_cluster_role_binding(obj: Obj) -> list[FieldError]:
    return _validate_binding(obj, namespaced=False)


def _role_ref_repr(ref: Obj) -> gorepr.GoValue:
    return gorepr.value(
        f"rbac.RoleRef{{APIGroup:{gorepr._q(ref.get('apiGroup', ''))}, "
        f"Kind:{gorepr._q(ref.get('kind', ''))}, Name:{gorepr._q(ref.get('name', ''))}}}")


def _role_ref_unchanged(new: Obj, old: Obj) -> list[FieldError]:
    if (new.get("roleRef") or {}) == (old.get("roleRef") or {}):
        return []
    return [FieldError.invalid("roleRef", _role_ref_repr(new.get("roleRef") or {}),
                               CANNOT_CHANGE_ROLE_REF)]


def validate_role_binding_update(new: Obj, old: Obj) -> list[FieldError]:
    return validate_role_binding(new) + _role_ref_unchanged(new, old)


def validate_cluster_role_binding_update(new: Obj, old: Obj) -> list[FieldError]:
    return validate_cluster_role_binding(new) + _role_ref_unchanged(new, old)
