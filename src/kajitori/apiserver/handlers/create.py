"""POST: create an object in a collection.

Mirrors staging/src/k8s.io/apiserver/pkg/endpoints/handlers/create.go: decode (JSON, YAML or
protobuf), check fields as `fieldValidation` says, then the registry; 201 with the object.
"""

from __future__ import annotations

from aiohttp import web

from kajitori.api import managedfields
from kajitori.apiserver import body, negotiation, responses
from kajitori.apiserver.handlers.scope import RequestScope


async def decode_body(scope: RequestScope, *, gvk: tuple[str, str, str] | None = None
                      ) -> tuple[dict, list[str]]:
    """The request's object and the field warnings to send back; `gvk` names the body's kind
    when it is not the resource's own (subresources such as serviceaccounts/token)."""
    raw = await body.read(scope.http)
    media = negotiation.content_type(scope.http.headers.get("Content-Type"))
    obj, duplicates = body.decode(raw, media)
    mode = body.field_validation(scope.query.get("fieldValidation"),
                                 options_kind=scope.options_kind)
    custom = scope.registry.custom
    warnings = body.check(obj, gvk or body.gvk_of(scope.registry.resource), mode=mode,
                          duplicates=duplicates,
                          prune=custom.prune if custom is not None and gvk is None else None)
    return obj, warnings


def field_manager(scope: RequestScope) -> str:
    """Who writes, for managedFields: `fieldManager`, else the User-Agent's program."""
    return managedfields.manager_name(scope.query.get("fieldManager"),
                                      scope.http.headers.get("User-Agent"))


async def create(scope: RequestScope) -> web.Response:
    obj, warnings = await decode_body(scope)
    dry_run = scope.dry_run
    created = await scope.registry.create(scope.info.namespace, obj, dry_run=dry_run,
                                          user=scope.user, field_manager=field_manager(scope))
    return responses.json_response(created, status=201, warnings=warnings)
