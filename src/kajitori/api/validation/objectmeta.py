"""Object metadata rules and the name rules kinds choose from.

Mirrors staging/src/k8s.io/apimachinery/pkg/api/validation/{objectmeta,generic}.go,
.../api/validation/path/name.go, .../apis/meta/v1/validation/validation.go (labels, label
selectors) and the finalizer check that pkg/apis/core/validation adds. Functions return lists
of FieldError in upstream's order and never raise; `kajitori.api.validation.resources` decides
which apply to which kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kajitori.api import meta
from kajitori.api.errors import FieldError
from kajitori.api.validation import gorepr, names

Obj = dict[str, Any]
NameRule = Callable[[str, bool], list[str]]
"""(name, is_generate_name_prefix) -> messages, as upstream's ValidateNameFunc."""

FIELD_IMMUTABLE = "field is immutable"
IS_NEGATIVE = "must be greater than or equal to 0"
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
NAME_REQUIRED = "name or generateName is required"
NAMESPACE_NOT_ALLOWED = "not allowed on this type"
FINALIZER_ORPHAN = "orphan"
FINALIZER_FOREGROUND = "foregroundDeletion"
STANDARD_FINALIZERS = frozenset({"kubernetes", FINALIZER_ORPHAN, FINALIZER_FOREGROUND})
NOT_STANDARD_FINALIZER = "name is neither a standard finalizer name nor is it fully qualified"


def _mask_trailing_dash(name: str) -> str:
    """A generateName prefix may end in '-': check it as if a character followed."""
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def dns_subdomain(name: str, prefix: bool) -> list[str]:
    return names.is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def dns_label(name: str, prefix: bool) -> list[str]:
    return names.is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def dns1035_label(name: str, prefix: bool) -> list[str]:
    return names.is_dns1035_label(_mask_trailing_dash(name) if prefix else name)


def path_segment(name: str, prefix: bool) -> list[str]:
    """Upstream ValidatePathSegmentName: the only rule a name must always pass (it becomes a
    URL path segment)."""
    if not prefix:
        for bad in (".", ".."):
            if name == bad:
                return [f"may not be '{bad}'"]
    return [f"may not contain '{bad}'" for bad in ("/", "%") if bad in name]


def invalid_each(path: str, value: Any, messages: list[str]) -> list[FieldError]:
    return [FieldError.invalid(path, value, m) for m in messages]


def nonnegative(value: int, path: str) -> list[FieldError]:
    return [FieldError.invalid(path, value, IS_NEGATIVE)] if value < 0 else []


def immutable(new: Any, old: Any, path: str, *, shown: Any = None) -> list[FieldError]:
    """Upstream ValidateImmutableField; `shown` overrides how the new value prints."""
    if new == old:
        return []
    return [FieldError.invalid(path, new if shown is None else shown, FIELD_IMMUTABLE)]


def validate_labels(labels: Mapping[str, str] | None, path: str) -> list[FieldError]:
    out: list[FieldError] = []
    for key in sorted(labels or {}):
        out += invalid_each(path, key, names.is_qualified_name(key))
        out += invalid_each(path, (labels or {})[key], names.is_valid_label_value(
            str((labels or {})[key])))
    return out


def validate_annotations(annotations: Mapping[str, str] | None, path: str) -> list[FieldError]:
    out: list[FieldError] = []
    for key in sorted(annotations or {}):
        out += invalid_each(path, key, names.is_qualified_name(key.lower()))
    size = sum(len(k.encode()) + len(str(v).encode()) for k, v in (annotations or {}).items())
    if size > TOTAL_ANNOTATION_SIZE_LIMIT:
        out.append(FieldError.too_long(path, "", TOTAL_ANNOTATION_SIZE_LIMIT))
    return out


def _owner_reference_repr(ref: Obj) -> str:
    def ptr(key: str) -> str:
        return "(*bool)(nil)" if ref.get(key) is None else f"&{str(bool(ref[key])).lower()}"
    return (f"v1.OwnerReference{{APIVersion:{gorepr._q(ref.get('apiVersion', ''))}, "
            f"Kind:{gorepr._q(ref.get('kind', ''))}, Name:{gorepr._q(ref.get('name', ''))}, "
            f"UID:{gorepr._q(ref.get('uid', ''))}, Controller:{ptr('controller')}, "
            f"BlockOwnerDeletion:{ptr('blockOwnerDeletion')}}}")


def validate_owner_references(refs: list[Obj], path: str) -> list[FieldError]:
    out: list[FieldError] = []
    first_controller = ""
    for ref in refs:
        _, version = meta.split_api_version(ref.get("apiVersion") or "")
        if not version:
            out.append(FieldError.invalid(f"{path}.apiVersion", ref.get("apiVersion") or "",
                                          "version must not be empty"))
        if not ref.get("kind"):
            out.append(FieldError.invalid(f"{path}.kind", "", "kind must not be empty"))
        if not ref.get("name"):
            out.append(FieldError.invalid(f"{path}.name", "", "name must not be empty"))
        if not ref.get("uid"):
            out.append(FieldError.invalid(f"{path}.uid", "", "uid must not be empty"))
        if ref.get("apiVersion") == "v1" and ref.get("kind") == "Event":
            out.append(FieldError.invalid(path, gorepr.value(_owner_reference_repr(ref)),
                                          "/v1, Kind=Event is disallowed from being an owner"))
        if ref.get("controller"):
            current = f"{ref.get('kind', '')}/{ref.get('name', '')}"
            if first_controller:
                shown = "[]v1.OwnerReference{" + ", ".join(
                    _owner_reference_repr(r) for r in refs) + "}"
                out.append(FieldError.invalid(
                    path, gorepr.value(shown),
                    "Only one reference can have Controller set to true. Found \"true\" in "
                    f"references for {first_controller} and {current}"))
            else:
                first_controller = current
    return out


def validate_finalizers(finalizers: list[str], path: str) -> list[FieldError]:
    out: list[FieldError] = []
    for f in finalizers:
        out += invalid_each(path, f, names.is_qualified_name(f))
    if FINALIZER_ORPHAN in finalizers and FINALIZER_FOREGROUND in finalizers:
        out.append(FieldError.invalid(
            path, gorepr.value(gorepr.strings(finalizers)),
            f"finalizer {FINALIZER_ORPHAN} and {FINALIZER_FOREGROUND} cannot be both set"))
    return out


def validate_kube_finalizers(finalizers: list[str], path: str) -> list[FieldError]:
    """The extra check pkg/apis/core/validation.ValidateObjectMeta runs for built-in kinds."""
    return [FieldError.invalid(f"{path}[{i}]", f, NOT_STANDARD_FINALIZER)
            for i, f in enumerate(finalizers)
            if "/" not in f and f not in STANDARD_FINALIZERS]


def validate_object_meta(obj: Obj, *, namespaced: bool, name_rule: NameRule,
                         path: str = "metadata") -> list[FieldError]:
    """Upstream ValidateObjectMeta (core's, with the finalizer-name check) for a create."""
    md = obj.get("metadata") or {}
    out: list[FieldError] = []
    generate_name = md.get("generateName") or ""
    if generate_name:
        out += invalid_each(f"{path}.generateName", generate_name,
                            name_rule(generate_name, True))
    name = md.get("name") or ""
    if not name:
        out.append(FieldError.required(f"{path}.name", NAME_REQUIRED))
    else:
        out += invalid_each(f"{path}.name", name, name_rule(name, False))
    namespace = md.get("namespace") or ""
    if namespaced:
        if not namespace:
            out.append(FieldError.required(f"{path}.namespace"))
        else:
            out += invalid_each(f"{path}.namespace", namespace, dns_label(namespace, False))
    elif namespace:
        out.append(FieldError.forbidden(f"{path}.namespace", NAMESPACE_NOT_ALLOWED))
    out += nonnegative(int(md.get("generation") or 0), f"{path}.generation")
    out += validate_labels(md.get("labels"), f"{path}.labels")
    out += validate_annotations(md.get("annotations"), f"{path}.annotations")
    out += validate_owner_references(md.get("ownerReferences") or [], f"{path}.ownerReferences")
    finalizers = md.get("finalizers") or []
    out += validate_finalizers(finalizers, f"{path}.finalizers")
    out += validate_kube_finalizers(finalizers, f"{path}.finalizers")
    return out


def validate_update_object_meta(new: Obj, old: Obj, *,
                                path: str = "metadata") -> list[FieldError]:
    """Upstream ValidateObjectMetaUpdate: identity fields are immutable, no new finalizers
    once deleting, resourceVersion required."""
    nm, om = new.get("metadata") or {}, old.get("metadata") or {}
    out: list[FieldError] = []
    if om.get("deletionTimestamp"):
        added = sorted(set(nm.get("finalizers") or []) - set(om.get("finalizers") or []))
        if added:
            out.append(FieldError.forbidden(
                f"{path}.finalizers",
                "no new finalizers can be added if the object is being deleted, found new "
                f"finalizers {gorepr.strings(added)}"))
    if not nm.get("resourceVersion"):
        out.append(FieldError.invalid(f"{path}.resourceVersion", "",
                                      "must be specified for an update"))
    if int(nm.get("generation") or 0) < int(om.get("generation") or 0):
        out.append(FieldError.invalid(f"{path}.generation", int(nm.get("generation") or 0),
                                      "must not be decremented"))
    for key in ("name", "namespace", "uid"):
        out += immutable(nm.get(key) or "", om.get(key) or "", f"{path}.{key}")
    for key in ("creationTimestamp", "deletionTimestamp"):
        if nm.get(key) != om.get(key):
            shown = gorepr.value(_go_time(nm.get(key)))
            out.append(FieldError.invalid(f"{path}.{key}", shown, FIELD_IMMUTABLE))
    if nm.get("deletionGracePeriodSeconds") != om.get("deletionGracePeriodSeconds"):
        grace = nm.get("deletionGracePeriodSeconds")
        out.append(FieldError.invalid(f"{path}.deletionGracePeriodSeconds",
                                      "null" if grace is None else grace, FIELD_IMMUTABLE))
    out += validate_labels(nm.get("labels"), f"{path}.labels")
    out += validate_annotations(nm.get("annotations"), f"{path}.annotations")
    out += validate_owner_references(nm.get("ownerReferences") or [], f"{path}.ownerReferences")
    return out


def _go_time(stamp: str | None) -> str:
    """metav1.Time as a field error prints it (its String(), Go's time layout)."""
    if not stamp:
        return "0001-01-01 00:00:00 +0000 UTC"
    moment = meta.parse_time(stamp)
    return moment.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def validate_label_selector(selector: Obj | None, path: str) -> list[FieldError]:
    """Upstream metav1 ValidateLabelSelector (invalid values rejected)."""
    if selector is None:
        return []
    out = validate_labels(selector.get("matchLabels"), f"{path}.matchLabels")
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        p = f"{path}.matchExpressions[{i}]"
        op, values = expr.get("operator", ""), expr.get("values") or []
        if op in ("In", "NotIn"):
            if not values:
                out.append(FieldError.required(
                    f"{p}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                out.append(FieldError.forbidden(
                    f"{p}.values",
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            out.append(FieldError.invalid(f"{p}.operator", op, "not a valid selector operator"))
        out += invalid_each(f"{p}.key", expr.get("key", ""),
                            names.is_qualified_name(expr.get("key", "")))
        for j, v in enumerate(values):
            out += invalid_each(f"{p}.values[{j}]", v, names.is_valid_label_value(v))
    return out
