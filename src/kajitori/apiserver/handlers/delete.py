"""DELETE of one object or a collection.

Mirrors staging/src/k8s.io/apiserver/pkg/endpoints/handlers/delete.go. Options come from the
body (DeleteOptions, JSON or protobuf) or the query. A graceful or finalized deletion answers
200 with the object carrying deletionTimestamp; a completed one answers with a Success Status,
except for the kinds whose upstream storage returns the deleted object (pods).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kajitori.api import errors
from kajitori.apiserver import body, negotiation, registry, responses
from kajitori.apiserver.handlers.scope import RequestScope

PROPAGATION_POLICIES = ("Orphan", "Background", "Foreground")
RETURN_DELETED_OBJECT = frozenset({("", "pods")})


async def _options(scope: RequestScope) -> tuple[registry.DeleteOptions, bool]:
    """The DeleteOptions of the body and query, and whether this is a dry run (kubectl puts
    `dryRun: ["All"]` in the body, other clients in the query)."""
    raw = await body.read(scope.http)
    doc: dict[str, Any] = {}
    if raw.strip():
        media = negotiation.content_type(scope.http.headers.get("Content-Type"))
        doc, _ = body.decode(raw, media)
    grace = doc.get("gracePeriodSeconds")
    if grace is None and scope.query.get("gracePeriodSeconds"):
        grace = scope.int_param("gracePeriodSeconds")
    policy = doc.get("propagationPolicy") or scope.query.get("propagationPolicy")
    if doc.get("orphanDependents") is True or scope.query.get("orphanDependents") == "true":
        policy = policy or "Orphan"
    if policy is not None and policy not in PROPAGATION_POLICIES:
        raise errors.invalid("DeleteOptions", "", [errors.FieldError.not_supported(
            "propagationPolicy", policy, list(PROPAGATION_POLICIES))])
    body_dry_run = doc.get("dryRun") or []
    if any(value != "All" for value in body_dry_run):
        quoted = ", ".join(f'"{v}"' for v in body_dry_run)
        raise errors.invalid("DeleteOptions", "", [errors.FieldError(
            "dryRun", "FieldValueNotSupported",
            f'Unsupported value: []string{{{quoted}}}: supported values: "All"')],
            group="meta.k8s.io")
    preconditions = doc.get("preconditions") or {}
    options = registry.DeleteOptions(
        grace_period_seconds=grace, propagation_policy=policy,
        preconditions_uid=preconditions.get("uid"),
        preconditions_resource_version=preconditions.get("resourceVersion"))
    return options, scope.dry_run or bool(body_dry_run)


async def delete(scope: RequestScope) -> web.Response:
    options, dry_run = await _options(scope)
    obj, gone = await scope.registry.delete(scope.info.namespace, scope.info.name, options,
                                            dry_run=dry_run, user=scope.user)
    res = scope.registry.resource
    if gone and (res.group, res.plural) not in RETURN_DELETED_OBJECT:
        md = obj.get("metadata", {})
        return responses.json_response(responses.success_status(
            name=md.get("name", ""), kind=res.plural, group=res.group, uid=md.get("uid", "")))
    return responses.json_response(obj)


async def delete_collection(scope: RequestScope) -> web.Response:
    options, dry_run = await _options(scope)
    listed = await scope.registry.delete_collection(scope.info.namespace, scope.list_options(),
                                                    options, dry_run=dry_run,
                                                    user=scope.user)
    return responses.json_response(listed)
