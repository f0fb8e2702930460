"""JSON schemas of every built-in type, from kubernetes-validate's v1.33 definitions, and the
decoding checks upstream's JSON decoder makes against the Go types they describe.

The definitions carry upstream's OpenAPI extensions (`x-kubernetes-group-version-kind`,
`x-kubernetes-patch-merge-key`, `x-kubernetes-patch-strategy`, `x-kubernetes-list-type`,
`x-kubernetes-list-map-keys`), so validation, OpenAPI, strategic merge patch and (later)
server-side apply all read them from here.

`check`, `prune` and `duplicate_fields` reproduce what decoding a request body into Go structs
does upstream (sigs.k8s.io/json, the fork of encoding/json that
staging/src/k8s.io/apimachinery/pkg/runtime/serializer/json/json.go calls, case-sensitive and
strict): type errors worded as `json.UnmarshalTypeError` prints them, unknown and duplicate
fields named by the strict decoder's paths. What the bytes mean (names, required fields) is
validation, in the kinds' strategies; how the apiserver answers is in
`kajitori.apiserver.body`.

Departures from upstream, because the JSON schemas do not carry the information:
- A type error names the Go type from the schema's shape (`string`, `int32`, `[]v1.Container`,
  `map[string]string`); upstream names declared types (`v1.PullPolicy`, `v1.ResourceList`).
- A float in an integer field is printed by Python (`number 1000.0` where the body said `1e3`).
- `duplicate_fields` also reports duplicates inside fields the schema does not know, which
  upstream skips without looking.
"""

from __future__ import annotations

import binascii
import functools
import importlib.util
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

Obj = dict[str, Any]

SCHEMA_VERSION = "v1.33.0-local"
REF_PREFIX = "#/$defs/"


@functools.cache
def definitions() -> dict[str, Obj]:
    """Definition name (`io.k8s.api.core.v1.Pod`) -> schema, with `$ref`s as `#/$defs/<name>`."""
    # Found without importing kubernetes_validate (and jsonschema with it): 50 ms and 6 MiB
    # that the first write after start would otherwise pay.
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("kubernetes-validate is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root / "kubernetes-json-schema" / SCHEMA_VERSION / "_definitions.json"
    defs: dict[str, Obj] = orjson.loads(path.read_bytes())["$defs"]
    return defs


@functools.cache
def _gvk_index() -> dict[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, schema in definitions().items():
        for gvk in schema.get("x-kubernetes-group-version-kind", ()):
            index.setdefault((gvk.get("group", ""), gvk["version"], gvk["kind"]), name)
    return index


def definition_name(group: str, version: str, kind: str) -> str | None:
    """The definition that describes a kind at a group-version, or None if there is none."""
    return _gvk_index().get((group, version, kind))


def resolve(schema: Obj) -> Obj:
    """Follow a `$ref` (possibly under `allOf`) to the definition it names; else the schema."""
    name = ref_name(schema)
    return definitions()[name] if name else schema


def ref_name(schema: Obj) -> str | None:
    """The definition a schema refers to (`$ref`, or the only `allOf` entry), else None."""
    ref = schema.get("$ref")
    if ref is None and len(schema.get("allOf", ())) == 1:
        ref = schema["allOf"][0].get("$ref")
    if ref and ref.startswith(REF_PREFIX):
        return str(ref[len(REF_PREFIX):])
    return None


# --- decoding checks -----------------------------------------------------------------------

@dataclass(frozen=True)
class SchemaReport:
    """What decoding a body into the kind's Go struct would report.

    `type_errors`: upstream refuses the body with 400 when there is any, whatever the
    fieldValidation mode, as `<Kind> in version "<version>" cannot be handled as a <Kind>:
    <type_errors[0]>` (Go reports only the first it meets; the rest follow in body order).
    `unknown_fields`: paths as the strict decoder prints them (`spec.template.spec.containers[0]
    .imagez`), in body order, at most `MAX_STRICT_ERRORS`; upstream's Strict mode refuses them,
    Warn sends each as `unknown field "<path>"`, Ignore drops them silently (see `prune`).
    """

    type_errors: list[str] = field(default_factory=list)
    unknown_fields: list[str] = field(default_factory=list)


# sigs.k8s.io/json stops collecting strict errors (unknown and duplicate fields) at 100.
MAX_STRICT_ERRORS = 100

QUANTITY_FORMAT_WRONG = ("quantities must match the regular expression "
                         "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
QUANTITY_NUMERIC = "unable to parse numeric part of quantity"
QUANTITY_SUFFIX = "unable to parse quantity's suffix"
RFC3339_LAYOUT = "2006-01-02T15:04:05Z07:00"
RFC3339_MICRO_LAYOUT = "2006-01-02T15:04:05.000000Z07:00"

# Node kinds: how Go decodes a JSON value into the field's type.
_ANY, _STRING, _BOOL, _INT32, _INT64, _FLOAT64, _BYTES = range(7)
_INT_OR_STRING, _QUANTITY, _TIME, _MICRO_TIME, _STRUCT, _ARRAY, _MAP = range(7, 14)
_SCALARS = frozenset({_STRING, _BOOL, _INT32, _INT64, _FLOAT64})

# Types with their own UnmarshalJSON in apimachinery / apiextensions: the schema cannot say
# what they accept, so their behaviour is named here.
_CUSTOM_DECODERS = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": _INT_OR_STRING,
    "io.k8s.apimachinery.pkg.api.resource.Quantity": _QUANTITY,
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time": _TIME,
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": _MICRO_TIME,
    "io.k8s.apimachinery.pkg.runtime.RawExtension": _ANY,
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1": _ANY,
    "io.k8s.apimachinery.pkg.apis.meta.v1.Patch": _ANY,
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON": _ANY,
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray": _ANY,
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool": _ANY,
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray": _ANY,
}
_GO_SCALAR_TYPES = {_STRING: "string", _BOOL: "bool", _INT32: "int32", _INT64: "int64",
                    _FLOAT64: "float64", _BYTES: "[]uint8", _ANY: "interface {}"}
_INT_RANGES = {_INT32: (-(2**31), 2**31 - 1), _INT64: (-(2**63), 2**63 - 1)}


class _Node:
    """One schema, pre-resolved for the walker: what Go type it decodes into."""

    __slots__ = ("fields", "go_type", "item", "kind", "preserve_unknown", "struct_name")

    def __init__(self, kind: int, go_type: str) -> None:
        self.kind = kind
        self.go_type = go_type  # as reflect.Type.String() prints it: `v1.DeploymentSpec`
        self.struct_name = ""  # as reflect.Type.Name() prints it: `DeploymentSpec`
        self.fields: dict[str, _Node] = {}
        self.item: _Node | None = None  # of an array or map
        self.preserve_unknown = False


_definition_nodes: dict[str, _Node] = {}


def _definition_node(name: str) -> _Node:
    """The node of a definition, compiled once; recursive definitions (JSONSchemaProps) are
    safe because the node is cached before its fields are compiled."""
    node = _definition_nodes.get(name)
    if node is not None:
        return node
    short = name.rsplit(".", 2)
    go_type = f"{short[-2]}.{short[-1]}"
    kind = _CUSTOM_DECODERS.get(name)
    if kind is not None:
        node = _Node(kind, go_type)
        _definition_nodes[name] = node
        return node
    schema = definitions()[name]
    node = _compile(schema, go_type=go_type, cache_as=name)
    node.struct_name = short[-1] if node.kind == _STRUCT else ""
    return node


def _compile(schema: Obj, *, go_type: str = "", cache_as: str = "") -> _Node:
    ref = ref_name(schema)
    if ref is not None:
        return _definition_node(ref)
    if schema.get("x-kubernetes-int-or-string") or schema.get("format") == "int-or-string":
        return _Node(_INT_OR_STRING, "intstr.IntOrString")
    types = schema.get("type")
    if isinstance(types, list):
        types = next((t for t in types if t != "null"), None)
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    node: _Node
    if types == "object" or (types is None and "properties" in schema):
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and "properties" not in schema:
            item = _compile(extra)
            node = _Node(_MAP, f"map[string]{item.go_type}")
            node.item = item
        elif preserve and "properties" not in schema:
            node = _Node(_ANY, "map[string]interface {}")
        else:
            node = _Node(_STRUCT, go_type)
            node.preserve_unknown = preserve
            if cache_as:
                _definition_nodes[cache_as] = node
            node.fields = {k: _compile(v) for k, v in schema.get("properties", {}).items()}
    elif types == "array":
        item = _compile(schema.get("items") or {})
        node = _Node(_ARRAY, f"[]{item.go_type}")
        node.item = item
    elif types == "string":
        fmt = schema.get("format")
        kind = _BYTES if fmt == "byte" else _TIME if fmt == "date-time" else _STRING
        node = _Node(kind, _GO_SCALAR_TYPES.get(kind, "string"))
    elif types == "integer":
        kind = _INT32 if schema.get("format") == "int32" else _INT64
        node = _Node(kind, _GO_SCALAR_TYPES[kind])
    elif types == "number":
        node = _Node(_FLOAT64, "float64")
    elif types == "boolean":
        node = _Node(_BOOL, "bool")
    else:
        node = _Node(_ANY, "interface {}")
    if cache_as:
        _definition_nodes[cache_as] = node
    return node


@functools.cache
def _kind_node(group: str, version: str, kind: str) -> _Node | None:
    name = definition_name(group, version, kind)
    return _definition_node(name) if name else None


class _Abort(Exception):
    """A custom UnmarshalJSON failed: Go's decoder stops and reports this error alone."""


class _Walk:
    __slots__ = ("type_errors", "unknown")

    def __init__(self) -> None:
        self.type_errors: list[str] = []
        self.unknown: list[str] = []

    def unknown_field(self, path: str) -> None:
        if len(self.unknown) < MAX_STRICT_ERRORS:
            self.unknown.append(path)


def _describe(value: Any) -> str:
    """How encoding/json names a JSON value in an UnmarshalTypeError."""
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    return "object"


def _number(value: int | float) -> str:
    return f"number {value}"


def _unmarshal_error(value: str, struct: str, path: str, go_type: str) -> str:
    """json.UnmarshalTypeError.Error(): the struct is the innermost one holding the field,
    the path lists struct field names only (no list indexes or map keys)."""
    if struct or path:
        return (f"json: cannot unmarshal {value} into Go struct field {struct}.{path} "
                f"of type {go_type}")
    return f"json: cannot unmarshal {value} into Go value of type {go_type}"


def check(obj: Obj, *, group: str, version: str, kind: str) -> SchemaReport:
    """Check a decoded body against the kind's v1.33 schema as Go decoding would.

    Pure: `obj` is not changed. A kind without a definition (custom resources, until their
    schemas are registered) yields an empty report. Null is accepted anywhere, as Go decodes
    it to the zero value. Cost is one pass over the body: tens of microseconds for a
    ConfigMap or a small Deployment.
    """
    node = _kind_node(group, version, kind)
    if node is None:
        return SchemaReport()
    walk = _Walk()
    try:
        _check_value(node, obj, "", "", "", walk)
    except _Abort as exc:
        return SchemaReport(type_errors=[str(exc), *walk.type_errors])
    return SchemaReport(type_errors=walk.type_errors, unknown_fields=walk.unknown)


def _check_struct(node: _Node, obj: Obj, epath: str, spath: str, walk: _Walk) -> None:
    """`epath`: the struct's path as the type error prints it; `spath`: as strict errors do."""
    fields = node.fields
    struct = node.struct_name
    for key, value in obj.items():
        child = fields.get(key)
        if child is None:
            if not node.preserve_unknown:
                walk.unknown_field(f"{spath}.{key}" if spath else key)
            continue
        if value is None:
            continue
        kind = child.kind
        if kind == _STRING:  # most fields: keep the common case short
            if type(value) is str:
                continue
        elif kind in _SCALARS and _scalar_ok(kind, value):
            continue
        _check_value(child, value, struct, f"{epath}.{key}" if epath else key,
                     f"{spath}.{key}" if spath else key, walk)


def _scalar_ok(kind: int, value: Any) -> bool:
    t = type(value)
    if kind == _STRING:
        return t is str
    if kind == _BOOL:
        return t is bool
    if kind == _FLOAT64:
        return t is int or t is float
    low, high = _INT_RANGES[kind]
    return t is int and low <= value <= high


def _check_value(node: _Node, value: Any, struct: str, epath: str, spath: str,
                 walk: _Walk) -> None:
    """Check a non-null `value` decoded into `node`, a field of Go struct `struct` at
    `epath` (type errors) and `spath` (strict errors)."""
    kind = node.kind
    if kind == _STRUCT:
        if isinstance(value, dict):
            _check_struct(node, value, epath, spath, walk)
        else:
            walk.type_errors.append(
                _unmarshal_error(_describe(value), struct, epath, node.go_type))
    elif kind == _ARRAY:
        if not isinstance(value, list):
            walk.type_errors.append(
                _unmarshal_error(_describe(value), struct, epath, node.go_type))
            return
        item = node.item
        assert item is not None
        if item.kind in _SCALARS:
            for v in value:
                if v is not None and not _scalar_ok(item.kind, v):
                    walk.type_errors.append(_scalar_error(item, v, struct, epath))
            return
        for i, v in enumerate(value):
            if v is not None:
                _check_value(item, v, struct, epath, f"{spath}[{i}]", walk)
    elif kind == _MAP:
        if not isinstance(value, dict):
            walk.type_errors.append(
                _unmarshal_error(_describe(value), struct, epath, node.go_type))
            return
        item = node.item
        assert item is not None
        if item.kind in _SCALARS:
            for v in value.values():
                if v is not None and not _scalar_ok(item.kind, v):
                    walk.type_errors.append(_scalar_error(item, v, struct, epath))
            return
        for k, v in value.items():
            if v is not None:
                _check_value(item, v, struct, epath, f"{spath}.{k}" if spath else k, walk)
    elif kind in _SCALARS:
        if not _scalar_ok(kind, value):
            walk.type_errors.append(_scalar_error(node, value, struct, epath))
    elif kind == _INT_OR_STRING:
        _check_int_or_string(value, struct, epath)
    elif kind == _QUANTITY:
        _check_quantity(value)
    elif kind in (_TIME, _MICRO_TIME):
        _check_time(value, struct, epath, micro=kind == _MICRO_TIME)
    elif kind == _BYTES:
        _check_bytes(value, struct, epath, walk)


def _scalar_error(node: _Node, value: Any, struct: str, epath: str) -> str:
    # An integer that does not fit, or a float, is printed with its text: `number 1.5`.
    if node.kind in _INT_RANGES and type(value) in (int, float):
        return _unmarshal_error(_number(value), struct, epath, node.go_type)
    return _unmarshal_error(_describe(value), struct, epath, node.go_type)


def _check_int_or_string(value: Any, struct: str, epath: str) -> None:
    """intstr.IntOrString.UnmarshalJSON: a string, else an int32."""
    if type(value) is str:
        return
    low, high = _INT_RANGES[_INT32]
    if type(value) is int and low <= value <= high:
        return
    described = _number(value) if type(value) in (int, float) else _describe(value)
    raise _Abort(_unmarshal_error(described, struct, epath, "int32"))


_QUANTITY_DECIMAL_SUFFIXES = frozenset({"", "n", "u", "m", "k", "M", "G", "T", "P", "E"})
_QUANTITY_BINARY_SUFFIXES = frozenset({"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"})
_QUANTITY_SPLIT = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?([eEinumkKMGTP]*)([-+]?[0-9]*)")
_QUANTITY_EXPONENT = re.compile(r"[eE][+-]?[0-9]+")


def _check_quantity(value: Any) -> None:
    """resource.Quantity.UnmarshalJSON: a string or number that ParseQuantity accepts."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise _Abort(QUANTITY_FORMAT_WRONG)
    error = parse_quantity_error(text)
    if error:
        raise _Abort(error)


def parse_quantity_error(text: str) -> str | None:
    """The error resource.ParseQuantity gives for `text`, or None if it is a quantity."""
    if not text:
        return QUANTITY_FORMAT_WRONG
    m = _QUANTITY_SPLIT.fullmatch(text)
    if m is None:
        return QUANTITY_FORMAT_WRONG
    _, whole, fraction, letters, exponent = m.groups()
    suffix = letters + exponent
    if exponent and not _QUANTITY_EXPONENT.fullmatch(suffix):
        return QUANTITY_FORMAT_WRONG if not letters else QUANTITY_SUFFIX
    if not (suffix in _QUANTITY_DECIMAL_SUFFIXES or suffix in _QUANTITY_BINARY_SUFFIXES
            or _QUANTITY_EXPONENT.fullmatch(suffix)):
        return QUANTITY_SUFFIX
    if not whole and not fraction and (fraction is not None or not m.group(1)):
        return QUANTITY_NUMERIC
    return None


def _go_quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _check_time(value: Any, struct: str, epath: str, *, micro: bool) -> None:
    """metav1.Time / MicroTime UnmarshalJSON: a string in RFC 3339 (time.Parse's errors)."""
    if type(value) is not str:
        raise _Abort(_unmarshal_error(_describe(value), struct, epath, "string"))
    layout = RFC3339_MICRO_LAYOUT if micro else RFC3339_LAYOUT
    error = _rfc3339_error(value)
    if error:
        raise _Abort(f"parsing time {_go_quote(value)}{error}".replace(
            RFC3339_LAYOUT, layout, 1))


# The RFC 3339 layout as time.Parse walks it: (layout element, digits, range name, low, high).
_RFC3339_ELEMENTS: tuple[tuple[str, int, str, int, int], ...] = (
    ("2006", 4, "", 0, 9999), ("-", 0, "", 0, 0), ("01", 2, "month", 1, 12),
    ("-", 0, "", 0, 0), ("02", 2, "", 1, 31), ("T", 0, "", 0, 0),
    ("15", 2, "hour", 0, 23), (":", 0, "", 0, 0), ("04", 2, "minute", 0, 59),
    (":", 0, "", 0, 0), ("05", 2, "second", 0, 59),
)
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _rfc3339_error(value: str) -> str | None:
    """The tail of time.ParseError's message for `value` against RFC 3339, or None."""
    rest = value
    numbers: list[int] = []
    for element, digits, name, low, high in _RFC3339_ELEMENTS:
        if not digits:
            if not rest.startswith(element):
                return f" as {_go_quote(RFC3339_LAYOUT)}: cannot parse {_go_quote(rest)} as " \
                    f"{_go_quote(element)}"
            rest = rest[len(element):]
            continue
        chunk = rest[:digits]
        if len(chunk) < digits or not chunk.isascii() or not chunk.isdigit():
            return f" as {_go_quote(RFC3339_LAYOUT)}: cannot parse {_go_quote(rest)} as " \
                f"{_go_quote(element)}"
        number = int(chunk)
        if name and not low <= number <= high:
            return f": {name} out of range"
        numbers.append(number)
        rest = rest[digits:]
    if len(rest) >= 2 and rest[0] in ".," and rest[1].isdigit():
        rest = rest[1:].lstrip("0123456789")
    if rest.startswith("Z"):
        rest = rest[1:]
    elif len(rest) >= 6 and rest[0] in "+-" and rest[3] == ":" and \
            (rest[1:3] + rest[4:6]).isdigit():
        rest = rest[6:]
    else:
        return f" as {_go_quote(RFC3339_LAYOUT)}: cannot parse {_go_quote(rest)} as " \
            f"{_go_quote('Z07:00')}"
    if rest:
        return f": extra text: {_go_quote(rest)}"
    year, month, day = numbers[0], numbers[1], numbers[2]
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if day > _DAYS_IN_MONTH[month - 1] or (month == 2 and day == 29 and not leap):
        return ": day out of range"
    return None


_BASE64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _check_bytes(value: Any, struct: str, epath: str, walk: _Walk) -> None:
    """A []byte field: a base64 string (encoding/base64.StdEncoding), or an array of bytes."""
    if isinstance(value, str):
        data = value.encode()
        try:
            binascii.a2b_base64(data, strict_mode=True)
        except binascii.Error:
            offset = base64_error_offset(data)  # Python is stricter: Go skips newlines
            if offset is not None:
                walk.type_errors.append(f"illegal base64 data at input byte {offset}")
        return
    if isinstance(value, list):
        for v in value:
            if v is not None and not (type(v) is int and 0 <= v <= 255):
                described = _number(v) if type(v) in (int, float) else _describe(v)
                walk.type_errors.append(_unmarshal_error(described, struct, epath, "uint8"))
        return
    walk.type_errors.append(_unmarshal_error(_describe(value), struct, epath, "[]uint8"))


def base64_error_offset(data: bytes) -> int | None:
    """The offset encoding/base64's StdEncoding reports in its CorruptInputError for `data`,
    or None if it decodes. Newlines are skipped, as Go skips them."""
    i, n = 0, len(data)
    while True:
        seen = 0  # characters of the current 4-character quantum
        while seen < 4:
            if i == n:
                return None if seen == 0 else i - seen
            c = data[i]
            i += 1
            if c in _BASE64_ALPHABET:
                seen += 1
                continue
            if c in b"\r\n":
                continue
            if c != ord("=") or seen < 2:
                return i - 1
            if seen == 2:  # a second "=" must follow, newlines aside
                while i < n and data[i] in b"\r\n":
                    i += 1
                if i == n:
                    return n
                if data[i] != ord("="):
                    return i - 1
                i += 1
            while i < n and data[i] in b"\r\n":
                i += 1
            return i if i < n else None


def prune(obj: Obj, *, group: str, version: str, kind: str) -> None:
    """Drop, in place, every field `check` reports as unknown, as Go's decoder drops them
    (fieldValidation Warn and Ignore). Fields of the wrong type are left alone."""
    node = _kind_node(group, version, kind)
    if node is not None:
        _prune(node, obj)


def _prune(node: _Node, value: Any) -> None:
    kind = node.kind
    if kind == _STRUCT and isinstance(value, dict):
        fields = node.fields
        if not node.preserve_unknown:
            for key in [k for k in value if k not in fields]:
                del value[key]
        for key, v in value.items():
            child = fields.get(key)
            if child is not None and child.kind in (_STRUCT, _ARRAY, _MAP):
                _prune(child, v)
    elif kind == _ARRAY and isinstance(value, list) and node.item is not None:
        for v in value:
            _prune(node.item, v)
    elif kind == _MAP and isinstance(value, dict) and node.item is not None:
        for v in value.values():
            _prune(node.item, v)


# --- duplicate fields ----------------------------------------------------------------------

# A key's closing quote, JSON blanks, colon: every key matches once (with no blanks, `":`
# counted by bytes.count), and a few string contents match too.
_SPACED_KEY_END = re.compile(rb'"[ \t\r\n]+:')


def duplicate_fields(raw: bytes) -> tuple[Any, list[str]]:
    """Parse a JSON body; also return the paths of duplicate keys (`spec.replicas`,
    `spec.template.spec.containers[0].name`), as the strict decoder prints them after
    `duplicate field`, in body order, at most `MAX_STRICT_ERRORS`.

    The last occurrence wins; objects given twice are merged, as Go decodes the second into
    the struct or map the first filled. Raises ValueError (orjson.JSONDecodeError) if `raw` is
    not JSON. Fast path: orjson, then a count proves there are no duplicates (each key is
    followed by `"` blanks `:` in the body, so as many matches as parsed keys leaves no room
    for one); only otherwise is the body parsed a second time, keeping every key.
    """
    obj = orjson.loads(raw)
    key_ends = raw.count(b'":') + len(_SPACED_KEY_END.findall(raw))
    if key_ends == _count_keys(obj):
        return obj, []
    return _parse_with_duplicates(raw)


def _count_keys(value: Any) -> int:
    """Keys of every object in a parsed tree (orjson builds only exact dicts and lists)."""
    total = 0
    stack = [value]
    push = stack.append
    while stack:
        v = stack.pop()
        if type(v) is dict:
            total += len(v)
            v = v.values()
        elif type(v) is not list:
            continue
        for child in v:
            if type(child) is dict or type(child) is list:
                push(child)
    return total


def _parse_with_duplicates(raw: bytes) -> tuple[Any, list[str]]:
    """The slow path: json's pairs hook sees every key; duplicates are recorded against the
    object (by id) and located by a walk once the tree is built."""
    found: dict[int, list[str]] = {}

    def merge(into: Obj, other: Obj) -> None:
        for key in found.pop(id(other), ()):
            found.setdefault(id(into), []).append(key)
        for key, value in other.items():
            old = into.get(key)
            if isinstance(old, dict) and isinstance(value, dict):
                merge(old, value)
            else:
                into[key] = value

    def pairs(items: list[tuple[str, Any]]) -> Obj:
        obj: Obj = {}
        for key, value in items:
            if key in obj:
                found.setdefault(id(obj), []).append(key)
                old = obj[key]
                if isinstance(old, dict) and isinstance(value, dict):
                    merge(old, value)
                    continue
            obj[key] = value
        return obj

    result = json.loads(raw, object_pairs_hook=pairs)
    paths: list[str] = []
    _locate(result, "", found, paths)
    return result, paths[:MAX_STRICT_ERRORS]


def _locate(value: Any, path: str, found: dict[int, list[str]], paths: list[str]) -> None:
    if isinstance(value, dict):
        for key in found.get(id(value), ()):
            entry = f"{path}.{key}" if path else key
            if entry not in paths:
                paths.append(entry)
        for key, v in value.items():
            if isinstance(v, dict | list):
                _locate(v, f"{path}.{key}" if path else key, found, paths)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if isinstance(v, dict | list):
                _locate(v, f"{path}[{i}]", found, paths)
