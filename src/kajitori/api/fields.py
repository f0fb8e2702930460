"""Field selectors: the `fieldSelector` grammar, matching, and each resource's selectable fields.

Mirrors staging/src/k8s.io/apimachinery/pkg/fields/selector.go (grammar, escaping, messages),
the field label conversion functions each API group registers (pkg/apis/core/v1/conversion.go,
pkg/apis/batch/v1/conversion.go, pkg/apis/certificates/v1/conversion.go; every other kind gets
apimachinery's DefaultMetaV1FieldSelectorConversion), and the `ToSelectableFields`/`GetAttrs`
of each registry's strategy (pkg/registry/<group>/<resource>/strategy.go).

The apiserver's list/watch handler calls `parse`, then `check_supported` (upstream's
`Transform(ConvertFieldLabel)`, which answers 400 with the conversion's own words), then matches
each object's `object_fields`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kajitori.api import catalogue, errors, events

Obj = dict[str, Any]

EQUALS = "="
NOT_EQUALS = "!="
_OPERATORS = ("!=", "==", "=")  # tried in this order at each position, as upstream

METADATA_NAME = "metadata.name"
METADATA_NAMESPACE = "metadata.namespace"


@dataclass(frozen=True)
class Term:
    """`field=value` (operator EQUALS, also for `==`) or `field!=value`."""

    field: str
    operator: str
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        equal = fields.get(self.field, "") == self.value
        return equal if self.operator == EQUALS else not equal

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{escape_value(self.value)}"


@dataclass(frozen=True)
class FieldSelector:
    """An AND of terms; no terms selects everything. A field absent from an object's fields
    reads as the empty string, as upstream's fields.Set.Get."""

    terms: tuple[Term, ...] = ()

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(t.matches(fields) for t in self.terms)

    def empty(self) -> bool:
        return not self.terms

    def requires_exact_match(self, field: str) -> str | None:
        """The value an `=` term pins `field` to (an index can serve the list), else None."""
        for t in self.terms:
            if t.field == field and t.operator == EQUALS:
                return t.value
        return None

    def __str__(self) -> str:
        return ",".join(str(t) for t in self.terms)


EVERYTHING = FieldSelector()


def escape_value(value: str) -> str:
    """Upstream EscapeValue: backslash, comma and equals get a backslash."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _unescape(value: str) -> str:
    if not any(c in value for c in "\\,="):
        return value
    out: list[str] = []
    in_slash = False
    for c in value:
        if in_slash:
            if c not in "\\,=":
                raise errors.bad_request(
                    f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c in ",=":
            # Go prints the rune with %v: its code point.
            raise errors.bad_request(
                f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if in_slash:
        raise errors.bad_request("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    if not text:
        return []
    terms: list[str] = []
    start, in_slash = 0, False
    for i, c in enumerate(text):
        if in_slash:
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for op in _OPERATORS:
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
    return None


def parse(text: str) -> FieldSelector:
    """Parse a `fieldSelector` query parameter (upstream fields.ParseSelector). Terms are
    sorted as upstream sorts them. Raises a 400 StatusError in upstream's words."""
    parts = sorted(_split_terms(text), key=lambda s: s.encode())
    terms: list[Term] = []
    for part in parts:
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise errors.bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, raw = split
        terms.append(Term(field, NOT_EQUALS if op == NOT_EQUALS else EQUALS, _unescape(raw)))
    return FieldSelector(tuple(terms))


# --- which field labels each kind accepts (upstream's field label conversion funcs) -----------

_NOT_SUPPORTED = "field label not supported: {label}"

_EVENT_FIELDS = frozenset({
    "involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
    "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
    "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type",
    METADATA_NAMESPACE, METADATA_NAME})

# (group, resource) -> (accepted labels, message format for any other label)
_CONVERSIONS: dict[tuple[str, str], tuple[frozenset[str], str]] = {
    ("", "pods"): (frozenset({
        METADATA_NAME, METADATA_NAMESPACE, "spec.nodeName", "spec.restartPolicy",
        "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
        "status.podIP", "status.podIPs", "status.nominatedNodeName", "spec.host"}),
        _NOT_SUPPORTED),
    ("", "nodes"): (frozenset({METADATA_NAME, "spec.unschedulable"}), _NOT_SUPPORTED),
    ("", "replicationcontrollers"): (
        frozenset({METADATA_NAME, METADATA_NAMESPACE, "status.replicas"}), _NOT_SUPPORTED),
    ("", "events"): (_EVENT_FIELDS, _NOT_SUPPORTED),
    (events.GROUP, "events"): (frozenset(events.FIELD_LABELS), _NOT_SUPPORTED),
    ("", "namespaces"): (frozenset({"status.phase", METADATA_NAME}), _NOT_SUPPORTED),
    ("", "secrets"): (frozenset({"type", METADATA_NAMESPACE, METADATA_NAME}), _NOT_SUPPORTED),
    ("", "services"): (frozenset({METADATA_NAMESPACE, METADATA_NAME, "spec.clusterIP",
                                  "spec.type"}), _NOT_SUPPORTED),
    ("batch", "jobs"): (frozenset({METADATA_NAME, METADATA_NAMESPACE, "status.successful"}),
                        'field label "{label}" not supported for batchv1.Job'),
    ("certificates.k8s.io", "certificatesigningrequests"): (
        frozenset({METADATA_NAME, "spec.signerName"}), _NOT_SUPPORTED),
}
_DEFAULT_CONVERSION = (
    frozenset({METADATA_NAME, METADATA_NAMESPACE}),
    '"{label}" is not a known field selector: only "metadata.name", "metadata.namespace"')

# Old v1 clients say spec.host; upstream's Pod conversion rewrites it. events.k8s.io Events
# select by their core names (`regarding.name` is `involvedObject.name`).
_ALIASES = {("", "pods", "spec.host"): "spec.nodeName",
            **{(events.GROUP, "events", label): core_label
               for label, core_label in events.FIELD_LABELS.items() if label != core_label}}


def check_supported(group: str, resource: str, selector: FieldSelector) -> FieldSelector:
    """Upstream's Transform(ConvertFieldLabel) for built-in kinds: returns the selector with
    aliases rewritten (`spec.host` → `spec.nodeName` on pods). Raises a 400 StatusError for a
    field the kind does not register, worded by that kind's conversion (`field label not
    supported: foo`; `"foo" is not a known field selector: only "metadata.name",
    "metadata.namespace"` for kinds without their own)."""
    accepted, message = _CONVERSIONS.get((group, resource), _DEFAULT_CONVERSION)
    out: list[Term] = []
    for term in selector.terms:
        if term.field not in accepted:
            raise errors.bad_request(message.format(label=term.field))
        field = _ALIASES.get((group, resource, term.field), term.field)
        out.append(Term(field, term.operator, term.value))
    return FieldSelector(tuple(out))


# --- what each kind exposes (upstream's ToSelectableFields / GetAttrs) ------------------------

@functools.cache
def _namespaced() -> dict[tuple[str, str], bool]:
    return {(r.group, r.plural): r.namespaced for r in catalogue.builtin().all()}


def _go_bool(value: Any) -> str:
    return "true" if value else "false"


def _get(obj: Obj, *path: str) -> Any:
    current: Any = obj
    for part in path:
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


def _text(obj: Obj, *path: str) -> str:
    value = _get(obj, *path)
    return "" if value is None else str(value)


def _int(obj: Obj, *path: str) -> str:
    return str(int(_get(obj, *path) or 0))


def _pod_fields(pod: Obj) -> dict[str, str]:
    ips = _get(pod, "status", "podIPs") or []
    pod_ip = ips[0].get("ip", "") if ips else _text(pod, "status", "podIP")
    return {
        "spec.nodeName": _text(pod, "spec", "nodeName"),
        "spec.restartPolicy": _text(pod, "spec", "restartPolicy"),
        "spec.schedulerName": _text(pod, "spec", "schedulerName"),
        "spec.serviceAccountName": _text(pod, "spec", "serviceAccountName"),
        "spec.hostNetwork": _go_bool(_get(pod, "spec", "hostNetwork")),
        "status.phase": _text(pod, "status", "phase"),
        "status.podIP": pod_ip,
        "status.nominatedNodeName": _text(pod, "status", "nominatedNodeName"),
    }


def _core_event_fields(event: Obj) -> dict[str, str]:
    source = _text(event, "source", "component") or _text(event, "reportingComponent")
    fields = {f"involvedObject.{k}": _text(event, "involvedObject", k) for k in (
        "kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")}
    fields.update(reason=_text(event, "reason"),
                  reportingComponent=_text(event, "reportingComponent"),
                  source=source, type=_text(event, "type"))
    return fields


def _events_v1_fields(event: Obj) -> dict[str, str]:
    """events.k8s.io Events select by their core/v1 names, as upstream converts them."""
    source = (_text(event, "deprecatedSource", "component")
              or _text(event, "reportingController"))
    fields = {f"involvedObject.{k}": _text(event, "regarding", k) for k in (
        "kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")}
    fields.update(reason=_text(event, "reason"),
                  reportingComponent=_text(event, "reportingController"),
                  source=source, type=_text(event, "type"))
    return fields


_SPECIFIC = {
    ("", "pods"): _pod_fields,
    ("", "events"): _core_event_fields,
    ("events.k8s.io", "events"): _events_v1_fields,
    ("", "secrets"): lambda o: {"type": _text(o, "type")},
    ("", "nodes"): lambda o: {"spec.unschedulable": _go_bool(_get(o, "spec", "unschedulable"))},
    ("", "namespaces"): lambda o: {"status.phase": _text(o, "status", "phase")},
    ("", "replicationcontrollers"): lambda o: {"status.replicas": _int(o, "status", "replicas")},
    ("apps", "replicasets"): lambda o: {"status.replicas": _int(o, "status", "replicas")},
    ("batch", "jobs"): lambda o: {"status.successful": _int(o, "status", "succeeded")},
    ("certificates.k8s.io", "certificatesigningrequests"): lambda o: {
        "spec.signerName": _text(o, "spec", "signerName")},
    ("", "services"): lambda o: {"spec.clusterIP": _text(o, "spec", "clusterIP"),
                                 "spec.type": _text(o, "spec", "type")},
}


def object_fields(group: str, resource: str, obj: Obj) -> dict[str, str]:
    """The fields an object of a built-in resource can be selected by: `metadata.name`,
    `metadata.namespace` for namespaced resources, and the kind's own (values as upstream
    prints them: booleans `true`/`false`, counts in decimal, absent strings empty)."""
    meta = obj.get("metadata") or {}
    fields = {METADATA_NAME: meta.get("name") or ""}
    if _namespaced().get((group, resource), True):
        fields[METADATA_NAMESPACE] = meta.get("namespace") or ""
    specific = _SPECIFIC.get((group, resource))
    if specific is not None:
        fields.update(specific(obj))
    return fields
