"""PUT: replace an object (or its status).

Mirrors staging/src/k8s.io/apiserver/pkg/endpoints/handlers/update.go. A `resourceVersion` in the
body is a precondition (409 when stale).
"""

from __future__ import annotations

from aiohttp import web

from kajitori.apiserver import responses
from kajitori.apiserver.handlers.create import decode_body, field_manager
from kajitori.apiserver.handlers.scope import RequestScope


async def update(scope: RequestScope) -> web.Response:
    obj, warnings = await decode_body(scope)
    updated = await scope.registry.update(scope.info.namespace, scope.info.name, obj,
                                          dry_run=scope.dry_run,
                                          subresource=scope.info.subresource, user=scope.user,
                                          field_manager=field_manager(scope))
    return responses.json_response(updated, warnings=warnings)
