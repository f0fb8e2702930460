"""Turn a request's method and path into what it asks of which resource.

Mirrors staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go (v1.33): the verb is
derived from the method and the shape of the path (`GET` on a collection is `list`, or `watch`
when its `watch` parameter is anything but `false`/`0`; a `GET` of a named object stays `get`
whatever its query); `/api/v1/namespaces/x` is the namespace `x` itself, while
`/api/v1/namespaces/x/pods` is pods in namespace `x`. A list or watch whose field selector pins
`metadata.name` names that object, so authorization (resourceNames) and its Forbidden message see
it as upstream's do. Authorization and routing both read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kajitori.api import errors, fields, labels

API_PREFIXES = ("api", "apis")
NAMESPACE_SUBRESOURCES = ("status", "finalize")
# Query values that read as false for a boolean parameter (upstream's
# Convert_Slice_string_To_bool, "false" case-insensitively); any other value, even empty, is true.
FALSE_VALUES = ("0", "false")
# metav1.ListOptions parameters that decode as integers; one that does not parse fails the whole
# decoding, and then upstream takes no name from the field selector.
INTEGER_LIST_OPTIONS = ("limit", "timeoutSeconds")


@dataclass(frozen=True)
class RequestInfo:
    is_resource_request: bool
    path: str
    verb: str
    api_prefix: str = ""
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    parts: tuple[str, ...] = ()


def _method_verb(method: str) -> str:
    return {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update",
            "PATCH": "patch", "DELETE": "delete"}.get(method, "")


def parse(method: str, path: str, query: Mapping[str, str]) -> RequestInfo:
    """A RequestInfo for any path; non-resource paths get the lower-cased method as verb."""
    segments = [s for s in path.strip("/").split("/") if s] if path.strip("/") else []
    non_resource = RequestInfo(is_resource_request=False, path=path, verb=method.lower())
    if not segments or segments[0] not in API_PREFIXES:
        return non_resource
    prefix = segments[0]
    rest = segments[1:]
    group = ""
    if prefix == "apis":
        if len(rest) < 2:
            return non_resource  # /apis, /apis/<group>: discovery
        group, rest = rest[0], rest[1:]
    if not rest:
        return non_resource
    version, rest = rest[0], rest[1:]
    if not rest:
        return non_resource  # /api/v1, /apis/g/v: discovery

    verb = _method_verb(method)
    if rest[0] == "watch":  # deprecated /api/v1/watch/... form
        verb = "watch"
        rest = rest[1:]

    namespace = ""
    if rest and rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        # /namespaces/<ns>/<resource>... is namespaced; /namespaces/<name>[/status|/finalize]
        # is the namespace object itself, whose name upstream also reports as its namespace.
        if len(rest) > 2 and rest[2] not in NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    parts = tuple(rest)
    resource = parts[0] if parts else ""
    name = parts[1] if len(parts) > 1 else ""
    subresource = parts[2] if len(parts) > 2 else ""

    if not name and verb == "get":
        verb = "watch" if _is_true(query.get("watch")) else "list"
        name = _name_from_field_selector(query)
    elif not name and verb == "delete":
        verb = "deletecollection"
    return RequestInfo(is_resource_request=True, path=path, verb=verb, api_prefix=prefix,
                       group=group, version=version, namespace=namespace, resource=resource,
                       subresource=subresource, name=name, parts=parts)


def _is_true(value: str | None) -> bool:
    """A boolean query parameter as upstream decodes it: absent, `0` or `false` (any case) is
    false, anything else (`true`, `1`, `yes`, even empty) is true."""
    return value is not None and value.casefold() not in FALSE_VALUES


def _name_from_field_selector(query: Mapping[str, str]) -> str:
    """The name a `metadata.name=<name>` (or `==`) field selector pins, if the list options
    decode and the name is a valid path segment; otherwise no name, as upstream."""
    try:
        selector = fields.parse(query.get("fieldSelector", ""))
        labels.parse(query.get("labelSelector", ""))
    except errors.StatusError:
        return ""
    if any(name in query and not _is_int64(query[name]) for name in INTEGER_LIST_OPTIONS):
        return ""
    name = selector.requires_exact_match(fields.METADATA_NAME)
    if name is None or not _is_path_segment_name(name):
        return ""
    return name


def _is_int64(text: str) -> bool:
    """Go's strconv.ParseInt(text, 10, 64) succeeds: an optional sign, ASCII digits, in range."""
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits or not digits.isascii() or not digits.isdigit():
        return False
    return -(2**63) <= int(text) < 2**63


def _is_path_segment_name(name: str) -> bool:
    """Upstream's IsValidPathSegmentName: not `.` or `..`, and no `/` or `%`."""
    return name not in (".", "..") and "/" not in name and "%" not in name
