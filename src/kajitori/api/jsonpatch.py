"""JSON patch (RFC 6902), applied as the apiserver applies it.

Mirrors the JSON-patch branch of `applyJSPatch` in staging/src/k8s.io/apiserver/pkg/endpoints/
handlers/patch.go, which decodes the body strictly, then applies it with
gopkg.in/evanphx/json-patch.v4. kubectl sends JSON patches for `patch --type=json`, `rollout
undo` (`replace` of `/spec/template` and `/metadata/annotations`) and the client-side to
server-side apply migration (`replace` of `/metadata/managedFields`). The operations themselves
run on the `jsonpatch` library; the PATCH handler decodes the body, calls `apply`, then decodes,
defaults and validates the result as any update. `kajitori.api.strategicpatch` and
`kajitori.api.mergepatch` are the other two patch types.

Errors, as upstream's handler reports them (with fieldValidation Strict or Warn, Warn being the
default):
- 400 BadRequest for a body that is not an array of operation objects with string `op`,
  `path` and `from` (`error decoding patch: json: cannot unmarshal object into Go value of type
  []handlers.jsonPatchOp`);
- 413 RequestEntityTooLarge for more than `MAX_OPERATIONS` operations;
- 422 Invalid for any operation that does not apply (a failing `test`, a missing path for
  `remove`, an unknown `op`, ...), always with the message `the server rejected our request due
  to an error in our request`: upstream's NewGenericServerResponse drops the library's reason,
  which `__cause__` keeps here for logs.

Where evanphx/json-patch v4 departs from RFC 6902 in a way clients meet, it is reproduced:
`replace` of a missing object member adds it (rollout undo on an object without annotations),
and `test` of a missing member against `null` passes. Other v4 quirks are not: negative array
indices, `copy` from a missing member (v4 copies null), `add` without `value` (v4 adds null),
paths without a leading `/`, and numbers in `test` compared by value (v4 compares their text:
`1` is not `1.0` there).
"""

from __future__ import annotations

import copy
from typing import Any, Final

import jsonpatch as rfc6902
import jsonpointer
import orjson

from kajitori.api import errors, gojson

Obj = dict[str, Any]

CONTENT_TYPE: Final = "application/json-patch+json"
MAX_OPERATIONS: Final = 10000  # upstream's maxJSONPatchOperations
# What upstream's NewGenericServerResponse says for a 422, whatever the cause.
REJECTED: Final = "the server rejected our request due to an error in our request"
_DECODING: Final = "error decoding patch: json: cannot unmarshal"
_STRING_FIELDS: Final = ("op", "path", "from")


def apply(original: Obj, operations: Any) -> Obj:
    """Apply the JSON patch `operations` (the decoded body) to `original`; return the new object.

    Operations apply in order and all or nothing. Neither argument is changed and the result
    shares nothing with them. A `null` body changes nothing, as upstream. Raises
    `errors.StatusError` as the module docstring lists; the caller answers with it unchanged.
    """
    _check_document(operations)
    document: Any = _copy(original)
    for operation in operations or ():
        try:
            document = _apply_one(document, operation)
        except (rfc6902.JsonPatchException, jsonpointer.JsonPointerException) as exc:
            raise errors.rejected_request() from exc
    if not isinstance(document, dict):  # `replace` of the root with a non-object
        raise errors.rejected_request()
    return document


def _check_document(operations: Any) -> None:
    """What upstream's strict decoding into []jsonPatchOp refuses, and the operation limit."""
    if operations is None:
        return
    if not isinstance(operations, list):
        raise errors.bad_request(
            f"{_DECODING} {gojson.json_kind(operations)} into Go value of type "
            "[]handlers.jsonPatchOp")
    for operation in operations:
        if operation is None:
            continue
        if not isinstance(operation, dict):
            raise errors.bad_request(
                f"{_DECODING} {gojson.json_kind(operation)} into Go value of type "
                "handlers.jsonPatchOp")
        for name in _STRING_FIELDS:
            value = operation.get(name)
            if value is not None and not isinstance(value, str):
                raise errors.bad_request(
                    f"{_DECODING} {gojson.json_kind(value)} into Go struct field "
                    f"jsonPatchOp.{name} of type string")
    if len(operations) > MAX_OPERATIONS:
        raise errors.request_entity_too_large(
            "Request entity too large: The allowed maximum operations in a JSON patch is "
            f"{MAX_OPERATIONS}, got {len(operations)}")


def _apply_one(document: Any, operation: Obj | None) -> Any:
    """Apply one operation in place; returns the document (a new one if the root is replaced).
    Raises the library's exceptions for an operation that does not apply."""
    if operation is None:
        raise rfc6902.InvalidJsonPatch("Operation does not contain 'op' member")
    kind, path = operation.get("op"), operation.get("path")
    # v4 resolves the parent of every path but a replaced or tested one, and the root has none.
    if (path == "" and kind not in ("replace", "test")) or (
            kind in ("move", "copy") and operation.get("from") == ""):
        raise jsonpointer.JsonPointerException("the root has no parent")
    if kind in ("replace", "test") and path and _missing_member(document, path):
        if kind == "replace":
            operation = {**operation, "op": "add"}
        elif operation.get("value", ...) is None:
            return document
    return rfc6902.JsonPatch([operation]).apply(document, in_place=True)


def _missing_member(document: Any, path: str) -> bool:
    """Whether `path` names an absent member of an existing object."""
    parent, member = jsonpointer.JsonPointer(path).to_last(document)
    return isinstance(parent, dict) and member not in parent



def _copy(value: Obj) -> Obj:
    try:
        copied: Obj = orjson.loads(orjson.dumps(value))
    except orjson.JSONEncodeError:  # integers beyond 64 bits, which orjson refuses
        return copy.deepcopy(value)
    return copied


