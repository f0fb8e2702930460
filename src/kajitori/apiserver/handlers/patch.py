"""PATCH: JSON patch, merge patch, strategic merge patch, and server-side apply.

Mirrors staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go. The patch is applied to
the stored object inside the registry's read-modify-write loop, so a concurrent writer makes it
re-apply rather than fail; a resourceVersion inside the patch is a precondition (kubectl's
move to server-side apply replaces `/metadata/managedFields` under one).

`application/apply-patch+yaml` is server-side apply (`kajitori.api.managedfields.apply`): it
sets managed fields itself and creates the object when it is absent; every other patch is an
Update the registry records under the `fieldManager` parameter or the User-Agent's program.
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml
from aiohttp import web

from kajitori.api import errors, jsonpatch, managedfields, mergepatch, schemas, strategicpatch
from kajitori.apiserver import body, responses
from kajitori.apiserver.handlers.scope import TRUE_VALUES, RequestScope

Obj = dict[str, Any]

APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = [jsonpatch.CONTENT_TYPE, mergepatch.CONTENT_TYPE, strategicpatch.CONTENT_TYPE,
               APPLY_PATCH]
FORCE_NOT_APPLY = "may not be specified for non-apply patch"
FIELD_MANAGER_REQUIRED = "is required for apply patch"
NAME_MISMATCH = "the name of the object ({body}) does not match the name on the URL ({url})"


def _parse(raw: bytes, patch_type: str) -> Any:
    try:
        if patch_type == APPLY_PATCH:
            return yaml.load(raw, Loader=body.YAML_LOADER)
        return orjson.loads(raw)
    except (orjson.JSONDecodeError, yaml.YAMLError) as exc:
        raise errors.bad_request(f"error decoding patch: {exc}") from exc


async def patch(scope: RequestScope) -> web.Response:
    patch_type = (scope.http.headers.get("Content-Type") or "").split(";")[0].strip()
    if patch_type not in PATCH_TYPES:
        raise errors.unsupported_media_type(patch_type, PATCH_TYPES)
    res = scope.registry.resource
    definition = schemas.definition_name(res.group, res.version, res.kind)
    if patch_type == strategicpatch.CONTENT_TYPE and definition is None:
        raise errors.unsupported_media_type(patch_type, PATCH_TYPES[:2] + PATCH_TYPES[3:])
    raw = await body.read(scope.http)
    document = _parse(raw, patch_type)
    mode = body.field_validation(scope.query.get("fieldValidation"),
                                 options_kind=scope.options_kind)
    field_manager = scope.query.get("fieldManager")
    force = scope.query.get("force")
    if patch_type == APPLY_PATCH:
        if not field_manager:
            raise body.options_invalid(scope.options_kind, errors.FieldError.required(
                "fieldManager", FIELD_MANAGER_REQUIRED))
        return await _apply(scope, document, manager=field_manager,
                            force=force in TRUE_VALUES)
    if force is not None:
        raise body.options_invalid(scope.options_kind, errors.FieldError.forbidden(
            "force", FORCE_NOT_APPLY))
    warnings: list[str] = []
    custom = scope.registry.custom

    def apply(current: Obj) -> Obj:
        if patch_type == jsonpatch.CONTENT_TYPE:
            patched = jsonpatch.apply(current, document)
        elif patch_type == mergepatch.CONTENT_TYPE:
            patched = mergepatch.apply(current, document)
        else:
            if not isinstance(document, dict):
                raise errors.bad_request("patch body must be an object")
            patched = strategicpatch.apply(current, document, definition=definition) \
                if definition else mergepatch.apply(current, document)
        warnings[:] = body.check(patched, body.gvk_of(res), mode=mode, duplicates=[],
                                 prune=custom.prune if custom is not None else None)
        return patched

    patched = await scope.registry.patch(
        scope.info.namespace, scope.info.name, apply, dry_run=scope.dry_run,
        subresource=scope.info.subresource, user=scope.user,
        field_manager=managedfields.manager_name(field_manager,
                                                 scope.http.headers.get("User-Agent")))
    return responses.json_response(patched, warnings=warnings)


async def _apply(scope: RequestScope, document: Any, *, manager: str,
                 force: bool) -> web.Response:
    """Server-side apply: merge into the stored object, or create it from the configuration
    (201) when there is none (never through a subresource)."""
    res = scope.registry.resource
    fields_scope = managedfields.Scope(res.group, res.version, res.kind,
                                       subresource=scope.info.subresource,
                                       has_status=res.subresource("status") is not None)

    def apply(current: Obj) -> Obj:
        applied = managedfields.apply(current, document, manager=manager, force=force,
                                      scope=fields_scope)
        # The merge shares values with the stored object, which the write path must not change.
        return orjson.loads(orjson.dumps(applied))  # type: ignore[no-any-return]

    try:
        applied = await scope.registry.patch(scope.info.namespace, scope.info.name, apply,
                                             dry_run=scope.dry_run,
                                             subresource=scope.info.subresource,
                                             user=scope.user)
    except errors.StatusError as exc:
        if exc.code != 404 or scope.info.subresource:
            raise
        new = managedfields.apply(None, document, manager=manager, force=force,
                                  scope=fields_scope)
        md = new.setdefault("metadata", {})
        if md.get("name") and md["name"] != scope.info.name:
            raise errors.bad_request(NAME_MISMATCH.format(body=md["name"],
                                                          url=scope.info.name)) from exc
        md["name"] = scope.info.name
        created = await scope.registry.create(scope.info.namespace, new, dry_run=scope.dry_run,
                                              user=scope.user)
        return responses.json_response(created, status=201)
    return responses.json_response(applied)
