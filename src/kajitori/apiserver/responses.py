"""Write responses: objects, lists, Tables and metav1.Status errors, always JSON.

Mirrors staging/src/k8s.io/apiserver/pkg/endpoints/handlers/responsewriters: every error a
handler raises becomes one Status body here (unexpected exceptions: logged, 500).
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

from kajitori.api import errors, printers
from kajitori.apiserver import negotiation

Obj = dict[str, Any]
log = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/json"


def json_bytes(obj: Any) -> bytes:
    return orjson.dumps(obj)


def json_response(obj: Any, *, status: int = 200, warnings: list[str] | None = None,
                  headers: dict[str, str] | None = None) -> web.Response:
    out_headers: CIMultiDict[str] = CIMultiDict(headers or {})
    out_headers["Content-Type"] = JSON_CONTENT_TYPE
    for warning in warnings or ():
        out_headers.add("Warning", warning_header(warning))
    return web.Response(body=json_bytes(obj), status=status, headers=out_headers)


def warning_header(text: str) -> str:
    """`299 - "text"` with the text escaped as upstream's warning recorder does."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{escaped}"'


def status_response(exc: errors.StatusError) -> web.Response:
    return json_response(exc.status, status=exc.code, headers=exc.headers)


def error_response(exc: BaseException) -> web.Response:
    """The one place exceptions become responses."""
    if isinstance(exc, errors.StatusError):
        return status_response(exc)
    log.exception("unexpected error serving request", exc_info=exc)
    return status_response(errors.internal_error(str(exc) or type(exc).__name__))


def success_status(*, name: str, kind: str, group: str, uid: str) -> Obj:
    details: Obj = {"name": name, "kind": kind, "uid": uid}
    if group:
        details["group"] = group
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": details}


def partial_metadata(obj: Obj, version: str) -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{version}",
            "metadata": obj.get("metadata", {})}


def render_object(obj: Obj, rendering: negotiation.Rendering, *, group: str, resource: str,
                  include_object: str, now: datetime.datetime,
                  printer: printers.Printer | None = None) -> Obj:
    """One object as the client asked: itself, a one-row Table, or its metadata. `printer`:
    a custom resource's Table shape (None: the built-in printer of the resource)."""
    if rendering.as_ == "Table":
        table = printers.table(group=group, resource=resource, objects=[obj],
                               include_object=include_object, now=now, printer=printer,
                               list_metadata={"resourceVersion": obj.get("metadata", {}).get(
                                   "resourceVersion", "")})
        table["apiVersion"] = f"meta.k8s.io/{rendering.version}"
        return table
    if rendering.as_ == "PartialObjectMetadata":
        return partial_metadata(obj, rendering.version)
    return obj


def render_list(listed: Obj, rendering: negotiation.Rendering, *, group: str, resource: str,
                include_object: str, now: datetime.datetime,
                printer: printers.Printer | None = None) -> Obj:
    """A list as the client asked; `printer` as for `render_object`."""
    if rendering.as_ == "Table":
        table = printers.table(group=group, resource=resource, objects=listed["items"],
                               include_object=include_object, now=now, printer=printer,
                               list_metadata=listed["metadata"])
        table["apiVersion"] = f"meta.k8s.io/{rendering.version}"
        return table
    if rendering.as_ in ("PartialObjectMetadataList", "PartialObjectMetadata"):
        return {"kind": "PartialObjectMetadataList",
                "apiVersion": f"meta.k8s.io/{rendering.version}",
                "metadata": listed["metadata"],
                "items": [partial_metadata(o, rendering.version) for o in listed["items"]]}
    return listed
