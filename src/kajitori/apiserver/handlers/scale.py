"""GET, PUT and PATCH of `<resource>/<name>/scale`: the autoscaling/v1 Scale of a parent.

Mirrors the ScaleREST of upstream's pkg/registry/apps/deployment/storage/storage.go (and its
replicaset, statefulset, replicationcontroller and custom resource siblings): reads show the
parent as a Scale (`kajitori.api.scale`); writes turn the parent into its Scale, apply the
client's Scale or patch to it, and write back only spec.replicas through the parent's registry,
so the parent's strategy bumps its generation and keeps its status. The Scale's
resourceVersion is the write's precondition (409 `Operation cannot be fulfilled on
deployments.apps "x": the object has been modified; ...` when stale), as upstream's.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from kajitori.api import errors, jsonpatch, mergepatch, schemas, strategicpatch
from kajitori.api import scale as scale_
from kajitori.apiserver import body, responses
from kajitori.apiserver.handlers.create import decode_body
from kajitori.apiserver.handlers.scope import RequestScope

Obj = dict[str, Any]

# Server-side apply of a Scale needs managed fields (#3); the other three work.
PATCH_TYPES = [jsonpatch.CONTENT_TYPE, mergepatch.CONTENT_TYPE, strategicpatch.CONTENT_TYPE]
# What `kajitori.api.printers` prints a Scale's Table under (Name, Desired, Available, Age).
SCALE_PRINTER = "scale"


async def scale(scope: RequestScope, access: scale_.ScaleAccess) -> web.Response:
    """Serve one request to a scale subresource whose parent keeps its replicas as `access`
    says. The caller has checked the verb against the subresource's (get, update, patch)."""
    if scope.info.verb == "get":
        parent = await scope.registry.get(scope.info.namespace, scope.info.name)
        return responses.json_response(responses.render_object(
            scale_.scale_of(parent, access), scope.rendering, group=scale_.SCALE_GROUP,
            resource=SCALE_PRINTER, include_object=scope.include_object, now=scope.now))
    if scope.info.verb == "update":
        wanted, warnings = await decode_body(scope, gvk=scale_.SCALE_GVK)
        _check_kind(wanted)
        return await _write(scope, access, lambda _current: wanted, warnings)
    return await _patch(scope, access)


def _check_kind(obj: Obj) -> None:
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if api_version and api_version != scale_.SCALE_API_VERSION:
        raise errors.bad_request(
            f"the API version in the data ({api_version}) does not match the expected API "
            f"version ({scale_.SCALE_API_VERSION})")
    if kind and kind != scale_.SCALE_KIND:
        raise errors.bad_request(
            f"the kind in the data ({kind}) does not match the expected kind "
            f"({scale_.SCALE_KIND})")


async def _patch(scope: RequestScope, access: scale_.ScaleAccess) -> web.Response:
    patch_type = (scope.http.headers.get("Content-Type") or "").split(";")[0].strip()
    if patch_type not in PATCH_TYPES:
        raise errors.unsupported_media_type(patch_type, PATCH_TYPES)
    raw = await body.read(scope.http)
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise errors.bad_request(f"error decoding patch: {exc}") from exc
    mode = body.field_validation(scope.query.get("fieldValidation"),
                                 options_kind=scope.options_kind)
    warnings: list[str] = []
    definition = schemas.definition_name(*scale_.SCALE_GVK)

    def apply(current: Obj) -> Obj:
        if patch_type == jsonpatch.CONTENT_TYPE:
            patched = jsonpatch.apply(current, document)
        elif not isinstance(document, dict):
            raise errors.bad_request("patch body must be an object")
        elif patch_type == mergepatch.CONTENT_TYPE or definition is None:
            patched = mergepatch.apply(current, document)
        else:
            patched = strategicpatch.apply(current, document, definition=definition)
        warnings[:] = body.check(patched, scale_.SCALE_GVK, mode=mode, duplicates=[])
        return patched

    return await _write(scope, access, apply, warnings)


async def _write(scope: RequestScope, access: scale_.ScaleAccess, change: Any,
                 warnings: list[str]) -> web.Response:
    """Read-modify-write of the parent: `change` maps the parent's current Scale to the
    wanted one; the registry retries it on a lost race unless it carries a resourceVersion."""
    res = scope.registry.resource
    conflict_resource = scale_.scale_resource(res.group, res.plural)

    def to_parent(parent: Obj) -> Obj:
        wanted = change(scale_.scale_of(parent, access))
        return scale_.apply_scale(parent, wanted, access, resource=conflict_resource)

    updated = await scope.registry.patch(scope.info.namespace, scope.info.name, to_parent,
                                         dry_run=scope.dry_run, subresource="scale",
                                         user=scope.user)
    return responses.json_response(scale_.scale_of(updated, access), warnings=warnings)


def builtin_access(group: str, plural: str) -> scale_.ScaleAccess | None:
    """How a built-in resource keeps its replicas, or None when it has no scale subresource.
    Custom resources build theirs with `kajitori.api.scale.for_custom_resource`."""
    return scale_.BUILTIN.get((group, plural))
