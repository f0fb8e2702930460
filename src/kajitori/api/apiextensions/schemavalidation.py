"""A custom object checked against its version's openAPIV3Schema, worded as upstream.

Mirrors staging/src/k8s.io/apiextensions-apiserver/pkg/apiserver/validation/validation.go
(`ValidateCustomResource`, which maps kube-openapi's validation errors to field errors) and
the validators of k8s.io/kube-openapi/pkg/validation/validate (type, format, string, number,
slice, enum, object, allOf/anyOf/oneOf/not) with the texts of .../validation/errors. A type
error reads `spec.replicas: Invalid value: "string": spec.replicas in body must be of type
integer: "string"`: the value shown is the JSON type the body had.

Departures: formats checked are the common ones (date-time, date, byte, int32, int64, uuid,
ipv4, ipv6, cidr, hostname, email); others pass. `x-kubernetes-validations` (CEL) rules are
not evaluated. Regular expressions are Python's, which agree with Go's RE2 on the patterns
CRDs use.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import ipaddress
import re
import uuid
from typing import Any

import orjson

from kajitori.api.apiextensions import fieldpath
from kajitori.api.errors import FieldError

Obj = dict[str, Any]

IN_BODY = "body"
INT32_RANGE = (-(2**31), 2**31 - 1)
INT64_RANGE = (-(2**63), 2**63 - 1)
_HOSTNAME = re.compile(r"^[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?"
                       r"(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def validate(value: Any, schema: Obj, *, path: str = "") -> list[FieldError]:
    """Every FieldError of `value` against `schema`, in the order kube-openapi meets them.
    `path` is where `value` sits in the object (`""` for the object itself); error paths and
    the `<path> in body` texts are built from it."""
    out: list[FieldError] = []
    _validate(value, schema, path, out)
    return out


def json_type(value: Any) -> str:
    """The JSON Schema type kube-openapi infers for a decoded value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _types(schema: Obj) -> list[str]:
    if schema.get("x-kubernetes-int-or-string"):
        return ["integer", "string"]
    type_ = schema.get("type")
    return [type_] if type_ else []


def _type_error(path: str, expected: str, got: str) -> FieldError:
    return FieldError.type_invalid(path, got, f"{path} in {IN_BODY} must be of type "
                                              f"{expected}: {_go_quote(got)}")


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _number_text(value: float | int) -> str:
    """Go's %v of a float64 bound read from JSON."""
    as_float = float(value)
    if as_float.is_integer() and abs(as_float) < 1e21:
        return str(int(as_float))
    return repr(as_float)


def _type_ok(value: Any, types: list[str], schema: Obj) -> bool:
    if not types:
        return True
    got = json_type(value)
    if got in types:
        return True
    if got == "number" and "integer" in types and float(value).is_integer():
        return True
    return got == "integer" and "number" in types


def _validate(value: Any, schema: Obj, path: str, out: list[FieldError]) -> None:
    types = _types(schema)
    if value is None:
        if types and not schema.get("nullable"):
            out.append(_type_error(path, ",".join(types), "null"))
        return
    if not _type_ok(value, types, schema):
        out.append(_type_error(path, ",".join(types), json_type(value)))
        return
    _junctors(value, schema, path, out)
    if isinstance(value, str):
        _string(value, schema, path, out)
    _format(value, schema, path, out)
    if isinstance(value, int | float) and not isinstance(value, bool):
        _number(value, schema, path, out)
    if isinstance(value, list):
        _slice(value, schema, path, out)
    _enum(value, schema, path, out)
    if isinstance(value, dict):
        _object(value, schema, path, out)


def _junctors(value: Any, schema: Obj, path: str, out: list[FieldError]) -> None:
    name = path
    any_of = schema.get("anyOf") or []
    if any_of and not any(not validate(value, s, path=path) for s in any_of):
        out.append(FieldError.invalid(path, value,
                                      f"{name} in {IN_BODY} must validate at least one schema "
                                      "(anyOf)"))
    one_of = schema.get("oneOf") or []
    if one_of and sum(1 for s in one_of if not validate(value, s, path=path)) != 1:
        out.append(FieldError.invalid(path, value,
                                      f"{name} in {IN_BODY} must validate one and only one "
                                      "schema (oneOf)"))
    for nested in schema.get("allOf") or []:
        _validate(value, nested, path, out)
    not_ = schema.get("not")
    if isinstance(not_, dict) and not validate(value, not_, path=path):
        out.append(FieldError.invalid(path, value,
                                      f"{name} in {IN_BODY} must not validate the schema (not)"))


def _string(value: str, schema: Obj, path: str, out: list[FieldError]) -> None:
    name = path
    length = len(value)  # kube-openapi counts runes
    max_length = schema.get("maxLength")
    if max_length is not None and length > max_length:
        out.append(FieldError(path, "FieldValueTooLong",
                              f"Too long: may not be longer than {int(max_length)}"))
    min_length = schema.get("minLength")
    if min_length is not None and length < min_length:
        out.append(FieldError.invalid(path, value, f"{name} in {IN_BODY} should be at least "
                                                   f"{int(min_length)} chars long"))
    pattern = schema.get("pattern")
    if pattern:
        try:
            matched = re.search(pattern, value) is not None
        except re.error:
            matched = True  # refused when the CRD was written; nothing to enforce
        if not matched:
            out.append(FieldError.invalid(path, value, f"{name} in {IN_BODY} should match "
                                                       f"'{pattern}'"))


def _format(value: Any, schema: Obj, path: str, out: list[FieldError]) -> None:
    fmt = schema.get("format")
    if not fmt:
        return
    if fmt in ("int32", "int64") and isinstance(value, int) and not isinstance(value, bool):
        low, high = INT32_RANGE if fmt == "int32" else INT64_RANGE
        if not low <= value <= high:
            out.append(_type_error(path, fmt, "integer"))
        return
    if not isinstance(value, str):
        return
    check = _STRING_FORMATS.get(fmt)
    if check is not None and not check(value):
        out.append(FieldError.type_invalid(
            path, value, f"{path} in {IN_BODY} must be of type {fmt}: "
                         f"{_go_quote(value)}"))


def _is_date_time(text: str) -> bool:
    try:
        datetime.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return "T" in text.upper()


def _is_date(text: str) -> bool:
    if not _DATE.match(text):
        return False
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_byte(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36


def _is_ip(version: int) -> Any:
    def check(text: str) -> bool:
        try:
            return ipaddress.ip_address(text).version == version
        except ValueError:
            return False
    return check


def _is_cidr(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return "/" in text


_STRING_FORMATS = {
    "date-time": _is_date_time,
    "date": _is_date,
    "byte": _is_byte,
    "uuid": _is_uuid,
    "ipv4": _is_ip(4),
    "ipv6": _is_ip(6),
    "cidr": _is_cidr,
    "hostname": lambda text: bool(_HOSTNAME.match(text)) and len(text) <= 255,
    "email": lambda text: bool(_EMAIL.match(text)),
}


def _number(value: float | int, schema: Obj, path: str, out: list[FieldError]) -> None:
    name = path
    multiple_of = schema.get("multipleOf")
    if multiple_of and (value / multiple_of) != int(value / multiple_of):
        out.append(FieldError.invalid(path, value, f"{name} in {IN_BODY} should be a multiple "
                                                   f"of {_number_text(multiple_of)}"))
    maximum = schema.get("maximum")
    if maximum is not None:
        if schema.get("exclusiveMaximum") and value >= maximum:
            out.append(FieldError.invalid(path, value, f"{name} in {IN_BODY} should be less "
                                                       f"than {_number_text(maximum)}"))
        elif value > maximum:
            out.append(FieldError.invalid(path, value, f"{name} in {IN_BODY} should be less "
                                                       f"than or equal to "
                                                       f"{_number_text(maximum)}"))
    minimum = schema.get("minimum")
    if minimum is not None:
        if schema.get("exclusiveMinimum") and value <= minimum:
            out.append(FieldError.invalid(path, value, f"{name} in {IN_BODY} should be greater "
                                                       f"than {_number_text(minimum)}"))
        elif value < minimum:
            out.append(FieldError.invalid(path, value, f"{name} in {IN_BODY} should be greater "
                                                       f"than or equal to "
                                                       f"{_number_text(minimum)}"))


def _slice(value: list[Any], schema: Obj, path: str, out: list[FieldError]) -> None:
    name = path
    min_items = schema.get("minItems")
    if min_items is not None and len(value) < min_items:
        out.append(FieldError.invalid(path, len(value), f"{name} in {IN_BODY} should have at "
                                                        f"least {int(min_items)} items"))
    max_items = schema.get("maxItems")
    if max_items is not None and len(value) > max_items:
        out.append(FieldError(path, "FieldValueTooMany",
                              f"Too many: {len(value)}: must have at most {int(max_items)} "
                              "items"))
    if schema.get("uniqueItems"):
        seen = [orjson.dumps(v, option=orjson.OPT_SORT_KEYS) for v in value]
        if len(set(seen)) != len(seen):
            out.append(FieldError.invalid(path, value, f"{name} in {IN_BODY} shouldn't contain "
                                                       "duplicates"))
    items = schema.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(value):
            _validate(item, items, fieldpath.index(path, i), out)


def _enum(value: Any, schema: Obj, path: str, out: list[FieldError]) -> None:
    allowed = schema.get("enum")
    if not allowed or any(_same(value, candidate) for candidate in allowed):
        return
    shown = [a if isinstance(a, str) else orjson.dumps(a).decode() for a in allowed]
    out.append(FieldError.not_supported(path, value, shown))


def _same(value: Any, candidate: Any) -> bool:
    if isinstance(value, bool) or isinstance(candidate, bool):
        return value is candidate
    return bool(value == candidate)


def _object(value: Obj, schema: Obj, path: str, out: list[FieldError]) -> None:
    name = path
    max_properties = schema.get("maxProperties")
    if max_properties is not None and len(value) > max_properties:
        out.append(FieldError(path, "FieldValueTooMany",
                              f"Too many: {len(value)}: must have at most {int(max_properties)} "
                              "items"))
    min_properties = schema.get("minProperties")
    if min_properties is not None and len(value) < min_properties:
        out.append(FieldError.invalid(path, len(value),
                                      f"{name} in {IN_BODY} should have at least "
                                      f"{int(min_properties)} properties"))
    for required in schema.get("required") or []:
        if required not in value:
            out.append(FieldError.required(fieldpath.child(path, required)))
    properties = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    embedded = schema.get("x-kubernetes-embedded-resource")
    for key, item in value.items():
        child = fieldpath.child(path, key)
        if key in properties:
            _validate(item, properties[key], child, out)
        elif isinstance(additional, dict):
            _validate(item, additional, child, out)
    if embedded:
        for required in ("apiVersion", "kind"):
            if not value.get(required):
                out.append(FieldError.required(fieldpath.child(path, required),
                                                "must not be empty"))
