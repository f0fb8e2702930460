"""Turn a request's method and path into what it asks of which resource.

Mirrors staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go: the verb is derived
from the method and the shape of the path (`GET` on a collection is `list`, with `watch=true` it
is `watch`); `/api/v1/namespaces/x` is the namespace `x` itself, while
`/api/v1/namespaces/x/pods` is pods in namespace `x`. Authorization and routing both read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

API_PREFIXES = ("api", "apis")
NAMESPACE_SUBRESOURCES = ("status", "finalize")


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
        if len(rest) > 2 and not (len(rest) == 3 and rest[2] in NAMESPACE_SUBRESOURCES):
            rest = rest[2:]
    parts = tuple(rest)
    resource = parts[0] if parts else ""
    name = parts[1] if len(parts) > 1 else ""
    subresource = parts[2] if len(parts) > 2 else ""

    if not name:
        if verb == "get":
            verb = "watch" if _truthy(query.get("watch")) else "list"
        elif verb == "delete":
            verb = "deletecollection"
    elif verb == "get" and _truthy(query.get("watch")):
        verb = "watch"
    return RequestInfo(is_resource_request=True, path=path, verb=verb, api_prefix=prefix,
                       group=group, version=version, namespace=namespace, resource=resource,
                       subresource=subresource, name=name, parts=parts)


def _truthy(value: str | None) -> bool:
    return value in ("true", "1")
