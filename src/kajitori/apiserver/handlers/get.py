"""GET of one object and of collections.

Mirrors staging/src/k8s.io/apiserver/pkg/endpoints/handlers/get.go: the object or list as the
client asked (itself, a Table, metadata only).
"""

from __future__ import annotations

from aiohttp import web

from kajitori.apiserver import responses
from kajitori.apiserver.handlers.scope import RequestScope


async def get(scope: RequestScope) -> web.Response:
    obj = await scope.registry.get(scope.info.namespace, scope.info.name)
    res = scope.registry.resource
    return responses.json_response(responses.render_object(
        obj, scope.rendering, group=res.group, resource=res.plural,
        include_object=scope.include_object, now=scope.now, printer=scope.printer))


async def list_(scope: RequestScope) -> web.Response:
    options = scope.list_options()
    rendering = scope.rendering
    listed = await scope.registry.list(scope.info.namespace, options)
    res = scope.registry.resource
    return responses.json_response(responses.render_list(
        listed, rendering, group=res.group, resource=res.plural,
        include_object=scope.include_object, now=scope.now, printer=scope.printer))
