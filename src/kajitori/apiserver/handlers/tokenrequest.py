"""POST serviceaccounts/<name>/token: a TokenRequest answered with a signed JWT.

Mirrors `pkg/registry/core/serviceaccount/storage/token.go`: the account must exist; the
expiration defaults to an hour and may not be under ten minutes; audiences default to the
issuer. `kubectl create token` uses it.
"""

from __future__ import annotations

import datetime

from aiohttp import web

from kajitori.api import errors, meta
from kajitori.apiserver import responses
from kajitori.apiserver.handlers.create import decode_body
from kajitori.apiserver.handlers.scope import RequestScope
from kajitori.auth import serviceaccount

DEFAULT_EXPIRATION_SECONDS = 3600
MIN_EXPIRATION_SECONDS = 600
TOKEN_REQUEST_API_VERSION = "authentication.k8s.io/v1"
TOKEN_REQUEST_GVK = ("authentication.k8s.io", "v1", "TokenRequest")


async def create_token(scope: RequestScope, issuer: serviceaccount.TokenIssuer) -> web.Response:
    account = await scope.registry.get(scope.info.namespace, scope.info.name)
    request, warnings = await decode_body(scope, gvk=TOKEN_REQUEST_GVK)
    spec = request.setdefault("spec", {})
    expiration = int(spec.get("expirationSeconds") or DEFAULT_EXPIRATION_SECONDS)
    if expiration < MIN_EXPIRATION_SECONDS:
        raise errors.invalid("TokenRequest", scope.info.name, [errors.FieldError.invalid(
            "spec.expirationSeconds", expiration,
            "may not specify a duration less than 10 minutes")],
            group="authentication.k8s.io")
    spec["expirationSeconds"] = expiration
    spec.setdefault("audiences", [])
    spec.setdefault("boundObjectRef", None)
    issued = issuer.issue(namespace=scope.info.namespace, name=scope.info.name,
                          uid=meta.uid(account), audiences=list(spec["audiences"]),
                          expiration_seconds=expiration)
    request["apiVersion"] = TOKEN_REQUEST_API_VERSION
    request["kind"] = "TokenRequest"
    md = request.setdefault("metadata", {})
    md.update({"name": scope.info.name, "namespace": scope.info.namespace,
               "creationTimestamp": meta.now()})
    request["status"] = {"token": issued.token, "expirationTimestamp": meta.format_time(
        datetime.datetime.fromtimestamp(issued.expiration, datetime.UTC))}
    return responses.json_response(request, status=201, warnings=warnings)
