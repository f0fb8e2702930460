"""PATCH: JSON patch, merge patch, strategic merge patch, and apply patches.

Mirrors staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go. The patch is applied to
the stored object inside the registry's read-modify-write loop, so a concurrent writer makes it
re-apply rather than fail; a resourceVersion inside the patch is a precondition.

Server-side apply (`application/apply-patch+yaml`) is, until #3 lands, a strategic merge of the
applied configuration that creates the object when it is absent; managed fields and conflicts
come with #3.
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml
from aiohttp import web

from kajitori.api import errors, jsonpatch, mergepatch, schemas, strategicpatch
from kajitori.apiserver import body, responses
from kajitori.apiserver.handlers.scope import RequestScope

Obj = dict[str, Any]

APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = [jsonpatch.CONTENT_TYPE, mergepatch.CONTENT_TYPE, strategicpatch.CONTENT_TYPE,
               APPLY_PATCH]


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
    if patch_type == APPLY_PATCH and not scope.query.get("fieldManager"):
        raise body.options_invalid(scope.options_kind, errors.FieldError.required(
            "fieldManager", "is required for apply patch"))
    warnings: list[str] = []

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
        warnings[:] = body.check(patched, body.gvk_of(res), mode=mode, duplicates=[])
        return patched

    dry_run = scope.dry_run
    try:
        patched = await scope.registry.patch(scope.info.namespace, scope.info.name, apply,
                                             dry_run=dry_run,
                                             subresource=scope.info.subresource,
                                             user=scope.user)
    except errors.StatusError as exc:
        if exc.code != 404 or patch_type != APPLY_PATCH or scope.info.subresource:
            raise
        if not isinstance(document, dict):
            raise errors.bad_request("apply patch body must be an object") from exc
        warnings = body.check(document, body.gvk_of(res), mode=mode, duplicates=[])
        created = await scope.registry.create(scope.info.namespace, document, dry_run=dry_run,
                                              user=scope.user)
        return responses.json_response(created, status=201, warnings=warnings)
    return responses.json_response(patched, warnings=warnings)
