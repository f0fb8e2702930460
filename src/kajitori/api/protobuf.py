"""Decode Kubernetes protobuf request bodies into wire-format JSON objects.

kubectl >= 1.32 sends `application/vnd.kubernetes.protobuf` bodies from its typed clients
(`create deployment|configmap|secret|...`, `auth can-i`, `auth whoami`, `create token`,
`certificate approve`) and never falls back to JSON. The body is upstream's envelope
(staging/src/k8s.io/apimachinery/pkg/runtime/serializer/protobuf/protobuf.go): the magic
`k8s\\x00`, then a `runtime.Unknown` whose `typeMeta` names the kind and whose `raw` is the object
encoded as the message of its `generated.proto`. `decode` turns it into the dict the JSON body
would have been; the handlers go on exactly as for JSON. Only decoding exists: responses stay JSON,
which every typed client accepts.

The message layouts come from `data/protobuf.json`, transcribed from the v1.33 `generated.proto`
files of k8s.io/api, k8s.io/apimachinery and k8s.io/apiextensions-apiserver together with the
Go field tags beside them (tools/protobuf_table.py): JSON names (`uID` in proto is `uid`),
pointer-ness, `omitempty` and `json:",inline"`.

Which zero values appear in the result. Go's protobuf marshaller writes every non-pointer field,
zero or not, while encoding/json drops `omitempty` zeros; so a field's presence on the wire only
means something for pointers. The rule, read from the Go types rather than guessed:
  - a pointer field (`*int32 replicas`, `*bool immutable`, `*IntOrString minAvailable`,
    `*EmptyDirVolumeSource emptyDir`) is kept whenever it is on the wire, even as 0, false,
    "" or {} (`kubectl create deployment --replicas=0` keeps `replicas: 0`);
  - a non-pointer scalar whose JSON tag has no `omitempty` (`ServicePort.port`,
    `RoleRef.apiGroup`, `SubjectAccessReviewStatus.allowed`) is always present, as in JSON;
  - any other field is dropped when its value is zero: "", 0, false, an empty list, map or
    object, a zero `Time`. Empty non-pointer structs (`resources: {}`, `status: {}`) and Go's
    `null`s are thus left out, where kubectl's JSON would carry them: no reader can tell the
    difference, since upstream decodes both to the same Go value.
Elements of lists and values of maps are kept as they are. Fields unknown to the table (a newer
client) are skipped, as the upstream decoder skips them.

Special messages take their JSON form: `meta.v1.Time` -> `2026-11-25T15:30:57Z`, `MicroTime` ->
six decimals, `Duration` -> Go's duration string (`1h0m0s`), `resource.Quantity` -> its string,
`intstr.IntOrString` -> int or string, `runtime.RawExtension`, `meta.v1.FieldsV1` and
apiextensions `JSON` -> the embedded JSON (a nested protobuf envelope is decoded too),
`bytes` -> base64, `ExtraValue`/`Verbs` wrappers -> their list, apiextensions
`JSONSchemaPropsOr*` -> schema, list or bool as their MarshalJSON chooses.

Errors: malformed input of any kind raises `errors.bad_request` (400), never another exception.
"""

from __future__ import annotations

import base64
import datetime
import functools
import json
import struct
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any

from kajitori.api import errors

Obj = dict[str, Any]

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

META_V1 = "k8s.io.apimachinery.pkg.apis.meta.v1"
APIEXTENSIONS_V1 = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1"
APIEXTENSIONS_V1BETA1 = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1beta1"

# Upstream's wording for a body it cannot use (runtime/serializer/protobuf, runtime/error.go).
EMPTY_DATA = "empty data"
EMPTY_BODY = "empty body"
MISSING_MAGIC = ("provided data does not appear to be a protobuf message, expected prefix "
                 "[107 56 115 0]")  # MAGIC as Go's %v prints a []byte
MISSING_KIND = ("Object 'Kind' is missing in "
                "'runtime.TypeMeta{{APIVersion:\"{api_version}\", Kind:\"\"}}'")
NOT_REGISTERED = 'no kind "{kind}" is registered for version "{version}"'
MALFORMED = "unable to decode protobuf body: {detail}"

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5
MAX_VARINT_BYTES = 10
INT64_SIGN, UINT64_RANGE = 1 << 63, 1 << 64
INT32_SIGN, UINT32_RANGE = 1 << 31, 1 << 32

# Field numbers of the Unknown envelope (runtime/generated.proto).
UNKNOWN_TYPE_META, UNKNOWN_RAW = 1, 2
TYPE_META_API_VERSION, TYPE_META_KIND = 1, 2
INT_OR_STRING_STRING = 1  # intstr.Type: 0 Int, 1 String

Field = tuple[int, int, Any]  # (number, wire type, int for numeric wire types or bytes)


class Malformed(ValueError):
    """Raised inside the decoder; `decode` turns it into a 400 with the reason."""


@functools.cache
def _table() -> Obj:
    path = resources.files("kajitori.api").joinpath("data/protobuf.json")
    table: Obj = json.loads(path.read_text())
    table["wrappers"] = frozenset(table["wrappers"])
    return table


def decode(body: bytes, *, api_version: str = "", kind: str = "") -> Obj:
    """The JSON object a protobuf body encodes, with `kind` and `apiVersion` set.

    `api_version` and `kind` are the defaults the handler expects for the URL, used only when
    the envelope's typeMeta leaves them empty (upstream's Decode defaults); kubectl always sets
    them. Raises a 400 `StatusError` for a missing magic prefix, a truncated or malformed
    message, an unregistered (apiVersion, kind) or embedded JSON that does not parse.
    """
    if not body:
        raise errors.bad_request(EMPTY_DATA)
    if not body.startswith(MAGIC):
        raise errors.bad_request(MISSING_MAGIC)
    if body == MAGIC:
        raise errors.bad_request(EMPTY_BODY)
    try:
        type_meta, raw = _envelope(body[len(MAGIC):])
        api_version = type_meta.get(TYPE_META_API_VERSION) or api_version
        kind = type_meta.get(TYPE_META_KIND) or kind
        if not kind:
            raise errors.bad_request(MISSING_KIND.format(api_version=api_version))
        message = _message_for(api_version, kind)
        obj = _decode_message(message, raw)
    except (Malformed, RecursionError) as exc:
        raise errors.bad_request(MALFORMED.format(detail=exc)) from exc
    return {"kind": kind, "apiVersion": api_version, **obj}


def _envelope(data: bytes) -> tuple[dict[int, str], bytes]:
    type_meta: dict[int, str] = {}
    raw = b""
    for number, wire, value in _fields(data):
        if number == UNKNOWN_TYPE_META and wire == LENGTH:
            type_meta = {n: _text(v) for n, w, v in _fields(value) if w == LENGTH}
        elif number == UNKNOWN_RAW and wire == LENGTH:
            raw = value
    return type_meta, raw


def _message_for(api_version: str, kind: str) -> str:
    """The message of a kind: its group-version's package, or meta/v1 for the option kinds
    (DeleteOptions, ...) that every group-version registers (metav1.AddToGroupVersion)."""
    table = _table()
    package = table["groups"].get(api_version)
    if package is not None:
        for candidate in (f"{package}.{kind}", f"{META_V1}.{kind}"):
            if candidate in table["messages"]:
                return candidate
    raise errors.bad_request(NOT_REGISTERED.format(kind=kind, version=api_version))


# --- wire format -----------------------------------------------------------------------------


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    for index in range(pos, min(pos + MAX_VARINT_BYTES, len(data))):
        byte = data[index]
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result & (UINT64_RANGE - 1), index + 1
        shift += 7
    raise Malformed("truncated or overlong varint")


def _fields(data: bytes) -> Iterator[Field]:
    """Each field of a message in wire order; a length-delimited value is its bytes."""
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise Malformed("field number 0")
        value: Any
        if wire == VARINT:
            value, pos = _varint(data, pos)
        elif wire in (FIXED64, FIXED32):
            size = 8 if wire == FIXED64 else 4
            if pos + size > end:
                raise Malformed(f"truncated {size * 8}-bit field {number}")
            value, pos = data[pos:pos + size], pos + size
        elif wire == LENGTH:
            length, pos = _varint(data, pos)
            if pos + length > end:
                raise Malformed(f"field {number} runs past the end of its message")
            value, pos = data[pos:pos + length], pos + length
        else:
            raise Malformed(f"unsupported wire type {wire} for field {number}")
        yield number, wire, value


def _signed(value: int, sign: int) -> int:
    value &= (sign << 1) - 1
    return value - (sign << 1) if value & sign else value


def _text(value: bytes) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError as exc:
        raise Malformed("string field is not valid UTF-8") from exc


def _scalar(type_name: str, wire: int, value: Any) -> Any:
    """One scalar value of a proto type, from a field's wire type and value."""
    expected = _WIRE_TYPES[type_name]
    if wire != expected:
        raise Malformed(f"{type_name} field has wire type {wire}")
    if type_name == "string":
        return _text(value)
    if type_name == "bytes":
        return base64.b64encode(value).decode()
    if type_name == "bool":
        return value != 0
    if type_name in ("int64", "int32"):  # int32 negatives come sign-extended to 64 bits
        return _signed(value, INT32_SIGN if type_name == "int32" else INT64_SIGN)
    if type_name in ("sint32", "sint64"):
        return (value >> 1) ^ -(value & 1)
    if type_name == "uint32":
        return value & (UINT32_RANGE - 1)
    if type_name == "uint64":
        return value
    return struct.unpack(_FIXED_FORMATS[type_name], value)[0]


_WIRE_TYPES = {"string": LENGTH, "bytes": LENGTH, "bool": VARINT, "int32": VARINT,
               "int64": VARINT, "uint32": VARINT, "uint64": VARINT, "sint32": VARINT,
               "sint64": VARINT, "double": FIXED64, "fixed64": FIXED64, "sfixed64": FIXED64,
               "float": FIXED32, "fixed32": FIXED32, "sfixed32": FIXED32}
_FIXED_FORMATS = {"double": "<d", "fixed64": "<Q", "sfixed64": "<q", "float": "<f",
                  "fixed32": "<I", "sfixed32": "<i"}
_ZERO_SCALARS: dict[str, Any] = {"string": "", "bytes": "", "bool": False}  # else 0


def _repeated_scalars(type_name: str, wire: int, value: Any) -> list[Any]:
    """Scalars of one repeated field occurrence: a single value or a packed run."""
    expected = _WIRE_TYPES[type_name]
    if wire != LENGTH or expected == LENGTH:
        return [_scalar(type_name, wire, value)]
    values: list[Any] = []
    pos = 0
    while pos < len(value):
        if expected == VARINT:
            item, pos = _varint(value, pos)
        else:
            size = 8 if expected == FIXED64 else 4
            if pos + size > len(value):
                raise Malformed("truncated packed field")
            item, pos = value[pos:pos + size], pos + size
        values.append(_scalar(type_name, expected, item))
    return values


# --- messages --------------------------------------------------------------------------------


def _is_zero(value: Any) -> bool:
    """Whether JSON would carry nothing here: null, "", 0, false, [], {}."""
    return value is None or value == 0 or (isinstance(value, str | list | dict) and not value)


def _decode_value(type_name: str, wire: int, value: Any) -> Any:
    if type_name in _WIRE_TYPES:
        return _scalar(type_name, wire, value)
    if wire != LENGTH:
        raise Malformed(f"message field {type_name} has wire type {wire}")
    return _decode_message(type_name, value)


def _decode_message(name: str, data: bytes) -> Any:
    """The JSON value of one message: a dict, or a special type's JSON form."""
    special = _SPECIAL.get(name)
    if special is not None:
        return special(name, data)
    table = _table()
    if name in table["wrappers"]:
        return [_text(v) for n, w, v in _fields(data) if n == 1 and w == LENGTH]
    layout = table["messages"].get(name)
    if layout is None:
        raise Malformed(f"no message {name} in the protobuf table")
    package = name.rpartition(".")[0]
    obj: Obj = {}
    inlined: list[Obj] = []
    kept: set[str] = set()  # pointers on the wire, and scalars JSON never omits
    for number, wire, value in _fields(data):
        entry = layout.get(str(number))
        if entry is None:
            continue  # a field newer than the table
        json_name, type_spec, kind, *flags = entry
        if "skip" in flags:
            continue
        if kind == "map":
            key_type, value_type = (_qualify(t, package) for t in type_spec)
            key, item = _map_entry(key_type, value_type, wire, value)
            obj.setdefault(json_name, {})[key] = item
            continue
        type_name = _qualify(type_spec, package)
        if kind == "repeated":
            items = obj.setdefault(json_name, [])
            if type_name in _WIRE_TYPES:
                items.extend(_repeated_scalars(type_name, wire, value))
            else:
                items.append(_decode_value(type_name, wire, value))
            continue
        decoded = _decode_value(type_name, wire, value)
        if "inline" in flags:
            if isinstance(decoded, dict):
                inlined.append(decoded)
            continue
        obj[json_name] = decoded
        if "pointer" in flags:
            kept.add(json_name)
    for json_name, type_name, kind, *flags in layout.values():
        if "always" in flags and kind == "optional" and type_name != "bytes":
            obj.setdefault(json_name, _ZERO_SCALARS.get(type_name, 0))
            kept.add(json_name)
    result = {k: v for k, v in obj.items() if k in kept or not _is_zero(v)}
    for fields in inlined:
        result.update(fields)
    return result


def _qualify(type_name: str, package: str) -> str:
    if type_name in _WIRE_TYPES or "." in type_name:
        return type_name
    return f"{package}.{type_name}"


def _map_entry(key_type: str, value_type: str, wire: int, data: Any) -> tuple[str, Any]:
    if wire != LENGTH:
        raise Malformed("map entry is not length-delimited")
    key: Any = None
    item: Any = None
    for number, entry_wire, value in _fields(data):
        if number == 1:
            key = _scalar(key_type, entry_wire, value)
        elif number == 2:
            item = _decode_value(value_type, entry_wire, value)
    if item is None and value_type in _WIRE_TYPES:
        item = _ZERO_SCALARS.get(value_type, 0)
    elif item is None:
        item = _decode_message(value_type, b"")
    return ("" if key is None else str(key)), item


# --- special types ---------------------------------------------------------------------------


def _special_fields(data: bytes, wires: dict[int, int]) -> dict[int, Any]:
    """The last value of each known field of a special message, wire types checked."""
    fields: dict[int, Any] = {}
    for number, wire, value in _fields(data):
        if number in wires:
            if wire != wires[number]:
                raise Malformed(f"field {number} has wire type {wire}")
            fields[number] = value
    return fields


EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def _instant(data: bytes) -> datetime.datetime | None:
    """A Timestamp's instant; None for the empty message Go writes for the zero Time."""
    if not data:
        return None
    fields = _special_fields(data, {1: VARINT, 2: VARINT})
    seconds = _signed(fields.get(1, 0), INT64_SIGN)
    nanos = _signed(fields.get(2, 0), INT32_SIGN)
    try:
        return EPOCH + datetime.timedelta(seconds=seconds, microseconds=nanos // 1000)
    except OverflowError as exc:
        raise Malformed("time out of range") from exc


def _time(_name: str, data: bytes) -> str | None:
    instant = _instant(data)
    return None if instant is None else instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro_time(_name: str, data: bytes) -> str | None:
    instant = _instant(data)
    return None if instant is None else instant.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _duration(_name: str, data: bytes) -> str:
    return go_duration(_signed(_special_fields(data, {1: VARINT}).get(1, 0), INT64_SIGN))


def go_duration(nanoseconds: int) -> str:
    """Go's time.Duration.String(): `1h0m0s`, `30s`, `1.5s`, `500ms`, `0s`."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    ns = abs(nanoseconds)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _decimal(ns, size) + unit
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = _decimal(rest, 1_000_000_000) + "s"
    if hours or minutes:
        text = f"{minutes}m" + text
    if hours:
        text = f"{hours}h" + text
    return sign + text


def _decimal(value: int, unit: int) -> str:
    whole, fraction = divmod(value, unit)
    if not fraction:
        return str(whole)
    digits = str(fraction).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def _quantity(_name: str, data: bytes) -> str:
    return _text(_special_fields(data, {1: LENGTH}).get(1, b""))


def _int_or_string(_name: str, data: bytes) -> int | str:
    fields = _special_fields(data, {1: VARINT, 2: VARINT, 3: LENGTH})
    if fields.get(1, 0) == INT_OR_STRING_STRING:
        return _text(fields.get(3, b""))
    return _signed(fields.get(2, 0), INT32_SIGN)


def _embedded_json(_name: str, data: bytes) -> Any:
    raw = _special_fields(data, {1: LENGTH}).get(1, b"")
    if not raw:
        return None
    if raw.startswith(MAGIC):
        return decode(raw)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Malformed("embedded object is neither JSON nor protobuf") from exc


def _schema_or(name: str, data: bytes) -> Any:
    """apiextensions JSONSchemaPropsOr{Array,Bool,StringArray} as their MarshalJSON writes."""
    package, _, kind = name.rpartition(".")
    props = f"{package}.JSONSchemaProps"
    schema_number = 2 if kind == "JSONSchemaPropsOrBool" else 1
    schema: Any = None
    allows = False
    items: list[Any] = []
    for number, wire, value in _fields(data):
        if number == schema_number:
            schema = _decode_value(props, wire, value)
        elif kind == "JSONSchemaPropsOrBool" and number == 1:
            allows = _scalar("bool", wire, value)
        elif number == 2:
            items.append(_decode_value(props if kind == "JSONSchemaPropsOrArray" else "string",
                                       wire, value))
    if kind == "JSONSchemaPropsOrBool":
        return schema if schema is not None else allows
    return items if items else schema


_SPECIAL: dict[str, Callable[[str, bytes], Any]] = {
    f"{META_V1}.Time": _time,
    f"{META_V1}.MicroTime": _micro_time,
    f"{META_V1}.Duration": _duration,
    f"{META_V1}.FieldsV1": _embedded_json,
    "k8s.io.apimachinery.pkg.api.resource.Quantity": _quantity,
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": _int_or_string,
    "k8s.io.apimachinery.pkg.runtime.RawExtension": _embedded_json,
    **{f"{package}.{kind}": handler
       for package in (APIEXTENSIONS_V1, APIEXTENSIONS_V1BETA1)
       for kind, handler in (("JSON", _embedded_json), ("JSONSchemaPropsOrArray", _schema_or),
                             ("JSONSchemaPropsOrBool", _schema_or),
                             ("JSONSchemaPropsOrStringArray", _schema_or))},
}
