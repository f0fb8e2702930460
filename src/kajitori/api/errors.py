"""API errors as metav1.Status, worded as upstream.

Mirrors staging/src/k8s.io/apimachinery/pkg/api/errors/errors.go: one exception class,
`StatusError`, carrying the Status body the apiserver sends and the client raises again.
Constructors take the *qualified resource* (`pods`, `deployments.apps`) the way upstream's
`schema.GroupResource.String()` prints it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypedDict

Obj = dict[str, Any]


class StatusCause(TypedDict, total=False):
    reason: str
    message: str
    field: str


@dataclass(frozen=True)
class FieldError:
    """One entry of upstream's field.ErrorList: a path, a type, a detail."""

    field: str
    reason: str  # FieldValueInvalid, FieldValueRequired, FieldValueForbidden, ...
    message: str

    @classmethod
    def invalid(cls, field: str, value: Any, detail: str) -> FieldError:
        return cls(field, "FieldValueInvalid", f"Invalid value: {_go_value(value)}: {detail}")

    @classmethod
    def required(cls, field: str, detail: str = "") -> FieldError:
        suffix = f": {detail}" if detail else ""
        return cls(field, "FieldValueRequired", "Required value" + suffix)

    @classmethod
    def forbidden(cls, field: str, detail: str) -> FieldError:
        return cls(field, "FieldValueForbidden", f"Forbidden: {detail}")

    @classmethod
    def not_supported(cls, field: str, value: Any, valid: list[str]) -> FieldError:
        quoted = ", ".join(f'"{v}"' for v in valid)
        return cls(field, "FieldValueNotSupported",
                   f"Unsupported value: {_go_value(value)}: supported values: {quoted}")

    @classmethod
    def duplicate(cls, field: str, value: Any) -> FieldError:
        return cls(field, "FieldValueDuplicate", f"Duplicate value: {_go_value(value)}")

    @classmethod
    def too_long(cls, field: str, value: Any, limit: int) -> FieldError:
        return cls(field, "FieldValueTooLong",
                   f"Too long: may not be more than {limit} bytes")

    @classmethod
    def type_invalid(cls, field: str, value: Any, detail: str) -> FieldError:
        return cls(field, "FieldValueTypeInvalid", f"Invalid value: {_go_value(value)}: {detail}")

    def __str__(self) -> str:
        """`<field>: <message>`, as field.Error prints, also for an error about the whole
        object (field "": `: Forbidden: ...`)."""
        return f"{self.field}: {self.message}"


def _go_value(value: Any) -> str:
    """Print a value as Go's %#v does in field errors: strings quoted, the rest plain."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


class StatusError(Exception):
    """An API error; `status` is the metav1.Status body, `code` its HTTP status."""

    def __init__(self, status: Obj, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(status.get("message", ""))
        self.status = status
        self.headers = headers or {}

    @property
    def code(self) -> int:
        return int(self.status.get("code", 500))

    @property
    def reason(self) -> str:
        return str(self.status.get("reason", ""))


def status(code: int, reason: str, message: str, details: Obj | None = None) -> Obj:
    """A failure Status body; `reason` is a metav1.StatusReason (`NotFound`, ...)."""
    body: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                 "message": message, "reason": reason}
    if details:
        body["details"] = details
    body["code"] = code
    return body


def _details(resource: str, name: str) -> Obj:
    group_resource = resource.split(".", 1)
    details: Obj = {}
    if name:
        details["name"] = name
    if len(group_resource) == 2:
        details["group"] = group_resource[1]
    details["kind"] = group_resource[0]
    return details


def not_found(resource: str, name: str) -> StatusError:
    return StatusError(status(404, "NotFound", f'{resource} "{name}" not found',
                              _details(resource, name)))


def already_exists(resource: str, name: str) -> StatusError:
    return StatusError(status(409, "AlreadyExists", f'{resource} "{name}" already exists',
                              _details(resource, name)))


def conflict(resource: str, name: str, detail: str) -> StatusError:
    return StatusError(status(409, "Conflict",
                              f'Operation cannot be fulfilled on {resource} "{name}": {detail}',
                              _details(resource, name)))


OBJECT_MODIFIED = "the object has been modified; please apply your changes to the latest version " \
    "and try again"


def object_modified(resource: str, name: str) -> StatusError:
    return conflict(resource, name, OBJECT_MODIFIED)


def invalid(kind: str, name: str, errors: list[FieldError], *, group: str = "") -> StatusError:
    """422 Invalid; `kind` is the Kind (not the resource), as upstream's NewInvalid."""
    joined = ", ".join(str(e) for e in errors)
    summary = joined if len(errors) == 1 else f"[{joined}]"
    qualified = f"{kind}.{group}" if group else kind
    details: Obj = {"name": name, "group": group, "kind": kind,
                    "causes": [{"reason": e.reason, "message": e.message, "field": e.field}
                               for e in errors]}
    if not group:
        del details["group"]
    return StatusError(status(422, "Invalid", f'{qualified} "{name}" is invalid: {summary}',
                              details))


def bad_request(message: str) -> StatusError:
    return StatusError(status(400, "BadRequest", message))


def forbidden(resource: str, name: str, detail: str) -> StatusError:
    if name:
        message = f'{resource} "{name}" is forbidden: {detail}'
    else:
        message = f"{resource} is forbidden: {detail}"
    return StatusError(status(403, "Forbidden", message, _details(resource, name)))


def unauthorized(message: str = "Unauthorized") -> StatusError:
    return StatusError(status(401, "Unauthorized", message))


def method_not_allowed() -> StatusError:
    return StatusError(status(405, "MethodNotAllowed",
                              "the server does not allow this method on the requested resource"))


def not_acceptable(message: str) -> StatusError:
    return StatusError(status(406, "NotAcceptable", message))


def unsupported_media_type(content_type: str, accepted: list[str]) -> StatusError:
    return StatusError(status(
        415, "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{', '.join(accepted)}"))


def request_entity_too_large(message: str) -> StatusError:
    return StatusError(status(413, "RequestEntityTooLarge", message))


def gone(message: str) -> StatusError:
    return StatusError(status(410, "Expired", message))


def resource_expired(message: str) -> StatusError:
    return StatusError(status(410, "Expired", message))


def too_many_requests(message: str, *, retry_after: int = 1) -> StatusError:
    return StatusError(status(429, "TooManyRequests", message,
                              {"retryAfterSeconds": retry_after}),
                       headers={"Retry-After": str(retry_after)})


def internal_error(message: str) -> StatusError:
    return StatusError(status(500, "InternalError",
                              f"Internal error occurred: {message}",
                              {"causes": [{"message": message}]}))


def not_found_path() -> StatusError:
    """An unknown URL: upstream's generic 404 with no details."""
    return StatusError(status(404, "NotFound", "the server could not find the requested resource",
                              {}))


def service_unavailable(message: str) -> StatusError:
    return StatusError(status(503, "ServiceUnavailable", message))


def unknown(message: str) -> StatusError:
    """A plain Go error reaching a handler: 500 with no reason, the message verbatim."""
    body = status(500, "", message)
    del body["reason"]
    return StatusError(body)


REJECTED_REQUEST = "the server rejected our request due to an error in our request"


def rejected_request() -> StatusError:
    """upstream's NewGenericServerResponse(422, ...) for patches: the cause is not told."""
    body = status(422, "Invalid", REJECTED_REQUEST)
    body["details"] = {}
    return StatusError(body)


@contextlib.contextmanager
def ignore_not_found() -> Iterator[None]:
    """Lets a 404 of the block pass: for a client's write to an object that may be gone
    already (deleted by someone else, or by an earlier try whose answer was lost), where gone
    is as good as done. Any other error propagates."""
    try:
        yield
    except StatusError as exc:
        if exc.code != 404:
            raise
