"""Server-side apply: the structured merge of an applied configuration into a live object, and
the field ownership every write changes.

Mirrors sigs.k8s.io/structured-merge-diff: `typed` (merge.go, compare.go, tofieldset.go,
remove.go, validate.go: walks of an object against its schema) and `merge` (update.go's
Updater.Apply and Updater.Update, conflict.go). What is in a managedFields entry, who the
managers are and how a conflict reads is `kajitori.api.managedfields`, which calls this module.

The schema is upstream's, derived as kube-openapi's schemaconv derives it from the v1.33
OpenAPI definitions (`kajitori.api.schemas`):
  - lists: `x-kubernetes-list-type` (`map` with `x-kubernetes-list-map-keys`, `set`, `atomic`);
    without it, `x-kubernetes-patch-strategy: merge` with a merge key is a map list and a plain
    list is atomic; a map list item lacking a key field uses the field's default (the table
    below: the OpenAPI documents carry them, the JSON schemas do not);
  - maps and structs are granular unless `x-kubernetes-map-type: atomic`;
  - fields of no declared shape (IntOrString, Quantity, RawExtension, preserve-unknown objects)
    are deduced from the value: maps granular, lists atomic.
Go serializes non-pointer struct fields even when empty (`spec: {}`, `resources: {}`); compare
sees the objects as Go does, so those fields count as present on both sides of a write (the
table of them comes from the Go types, `data/protobuf.json`).

Departures from upstream:
  - Objects are served at one version per resource, so managed sets are never converted
    between versions; an entry of another apiVersion is taken as describing the same fields.
  - A merge that sets a field to null removes it (upstream keeps the null until the object
    is converted to its Go type, which drops it).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from kajitori.api import fieldpath, schemas

Obj = dict[str, Any]

SCALAR, STRUCT, MAP, LIST, UNTYPED = range(5)
NUMERIC, STRING, BOOLEAN, ANY_SCALAR = "numeric", "string", "boolean", "untyped"

# Map-list key fields that may be omitted: the default the OpenAPI schema gives them.
KEY_DEFAULTS: dict[tuple[str, str], Any] = {
    ("io.k8s.api.core.v1.ContainerPort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.ServicePort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.LocalObjectReference", "name"): "",
}

# List fields whose Go tag has no omitempty: Go writes them as null when empty.
NULL_LISTS = frozenset({
    ("io.k8s.api.core.v1.PodSpec", "containers"),
    ("io.k8s.api.rbac.v1.Role", "rules"),
    ("io.k8s.api.rbac.v1.ClusterRole", "rules"),
})

# Messages whose JSON form is a scalar (their own MarshalJSON), never an always-present struct.
_SCALAR_MESSAGES = frozenset({
    "k8s.io.apimachinery.pkg.apis.meta.v1.Time", "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime",
    "k8s.io.apimachinery.pkg.apis.meta.v1.Duration",
    "k8s.io.apimachinery.pkg.api.resource.Quantity",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString",
})

_ABSENT: Any = object()  # a side of a walk that has no value (Go's nil Value)


class Node:
    """One schema type as structured-merge-diff sees it."""

    __slots__ = ("always", "atomic", "elem", "fields", "key_defaults", "keys", "kind",
                 "scalar")

    def __init__(self, kind: int, *, scalar: str = ANY_SCALAR) -> None:
        self.kind = kind
        self.scalar = scalar
        self.fields: dict[str, Node] = {}
        self.elem: Node | None = None  # map values, list items, a struct's unknown fields
        self.atomic = False
        self.keys: tuple[str, ...] | None = None  # a granular list: map keys, () for a set
        self.key_defaults: dict[str, Any] = {}
        # Fields Go always serializes -> the type of their empty value (dict or list).
        self.always: dict[str, type] = {}


DEDUCED = Node(UNTYPED)


class ValidationError(ValueError):
    """The value does not fit the schema (typed.ValidationErrors); `str()` is upstream's."""

    def __init__(self, problems: list[str]) -> None:
        if len(problems) == 1:
            text = problems[0]
        else:
            text = "\n".join(["errors:", *("  " + p for p in problems)])
        super().__init__(text)
        self.problems = problems


# ---- schema -----------------------------------------------------------------------------------

@functools.cache
def _always_present() -> dict[str, frozenset[str]]:
    """Definition name -> JSON names of its non-pointer struct fields (Go always writes them)."""
    table = json.loads(resources.files("kajitori.api").joinpath("data/protobuf.json")
                       .read_bytes())["messages"]
    out: dict[str, frozenset[str]] = {}
    for message, fields in table.items():
        package = message.rsplit(".", 1)[0]
        names = set()
        for spec in fields.values():
            json_name, type_name, label = spec[0], spec[1], spec[2]
            if label != "optional" or not isinstance(type_name, str) or \
                    "pointer" in spec[3:] or "inline" in spec[3:]:
                continue
            qualified = type_name if type_name in table else f"{package}.{type_name}"
            if qualified in table and qualified not in _SCALAR_MESSAGES and table[qualified]:
                names.add(json_name)
        if names:
            definition = "io.k8s." + message.removeprefix("k8s.io.")
            out[definition.replace("apiextensions_apiserver", "apiextensions-apiserver")
                .replace("kube_aggregator", "kube-aggregator")] = frozenset(names)
    return out


_nodes: dict[str, Node] = {}


def _definition(name: str) -> Node:
    node = _nodes.get(name)
    if node is None:
        node = _compile(schemas.definitions()[name], name=name)
    return node


def _types(schema: Obj) -> set[str]:
    kinds = schema.get("type")
    if kinds is None:
        return set()
    return {kinds} if isinstance(kinds, str) else set(kinds) - {"null"}


def _compile(schema: Obj, *, name: str = "") -> Node:
    ref = schemas.ref_name(schema)
    if ref is not None:
        return _definition(ref)
    kinds = _types(schema)
    node: Node
    if "object" in kinds and "properties" in schema:
        node = Node(STRUCT)
        if name:
            _nodes[name] = node  # before the fields: definitions may recurse
        node.atomic = schema.get("x-kubernetes-map-type") == "atomic"
        if schema.get("x-kubernetes-preserve-unknown-fields"):
            node.elem = DEDUCED
        node.fields = {k: _compile(v) for k, v in schema.get("properties", {}).items()}
        node.always = {f: dict for f in _always_present().get(name, ())
                       if f in node.fields and node.fields[f].kind == STRUCT}
        node.always.update((f, list) for definition, f in NULL_LISTS if definition == name)
    elif "object" in kinds and isinstance(schema.get("additionalProperties"), dict):
        node = Node(MAP)
        node.elem = _compile(schema["additionalProperties"])
        node.atomic = schema.get("x-kubernetes-map-type") == "atomic"
    elif "array" in kinds:
        node = Node(LIST)
        items = schema.get("items") or {}
        node.elem = _compile(items)
        list_type = schema.get("x-kubernetes-list-type")
        if list_type == "map":
            node.keys = tuple(schema.get("x-kubernetes-list-map-keys") or ())
        elif list_type == "set":
            node.keys = ()
        elif list_type is None and schema.get("x-kubernetes-patch-strategy") in (
                "merge", "merge,retainKeys"):
            merge_key = schema.get("x-kubernetes-patch-merge-key")
            node.keys = (merge_key,) if merge_key else ()
        node.atomic = node.keys is None
        item_name = schemas.ref_name(items) or ""
        node.key_defaults = {key: KEY_DEFAULTS[(item_name, key)] for key in node.keys or ()
                             if (item_name, key) in KEY_DEFAULTS}
    elif len(kinds) == 1 and kinds <= {"string", "integer", "number", "boolean"}:
        kind = next(iter(kinds))
        node = Node(SCALAR, scalar={"string": STRING, "boolean": BOOLEAN}.get(kind, NUMERIC))
    else:
        node = DEDUCED
    if name:
        _nodes[name] = node
    return node


def schema_for(group: str, version: str, kind: str) -> Node:
    """The schema of a kind; DEDUCED for kinds without a definition (custom resources until
    their schemas are registered), where everything is deduced from the values."""
    name = schemas.definition_name(group, version, kind)
    return _definition(name) if name else DEDUCED


def _child(node: Node, key: str) -> Node:
    if node.kind == UNTYPED:
        return DEDUCED
    found = node.fields.get(key)
    if found is not None:
        return found
    return node.elem or DEDUCED


# ---- path elements of list items ---------------------------------------------------------------

def _item_element(node: Node, item: Any) -> str:
    """listItemToPathElement: a map list item by its keys, a set item by its value. Raises
    ValueError worded as upstream for an item that has none."""
    keys = node.keys
    if keys:
        if not isinstance(item, dict):
            if item is None:
                raise ValueError("associative list with keys may not have a null element")
            raise ValueError("associative list with keys may not have non-map elements")
        found = {}
        for key in keys:
            if key in item:
                found[key] = item[key]
            elif key in node.key_defaults:
                found[key] = node.key_defaults[key]
        if not found:
            quoted = " ".join(f'"{k}"' for k in keys)
            raise ValueError("associative list with keys has an element that omits all key "
                             f"fields [{quoted}] (and doesn't have default values for any key "
                             "fields)")
        return fieldpath.key_element(found)
    if isinstance(item, dict):
        raise ValueError("associative list without keys has an element that's a map type")
    if isinstance(item, list):
        raise ValueError("not supported: associative list with lists as elements")
    if item is None:
        raise ValueError("associative list without keys has an element that's an explicit null")
    return fieldpath.value_element(item)


# ---- validation (typed.AsTyped) ------------------------------------------------------------------

def validate(value: Obj, node: Node) -> None:
    """Check an applied configuration against the schema as upstream's typed conversion does:
    types of scalars, maps and lists, undeclared fields, list items without keys, duplicate
    keys. Raises ValidationError."""
    problems: list[str] = []
    _validate(value, node, "", problems)
    if problems:
        raise ValidationError(problems)


def _go_value(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def _validate(value: Any, node: Node, path: str, problems: list[str]) -> None:
    if value is None:
        return
    kind = node.kind
    if kind == UNTYPED:
        if isinstance(value, dict):
            for k, v in value.items():
                _validate(v, DEDUCED, f"{path}.{k}", problems)
        return
    if kind in (STRUCT, MAP):
        if not isinstance(value, dict):
            problems.append(f"{path}: expected map, got {_go_value(value)}".lstrip(": "))
            return
        for k, v in value.items():
            child = node.fields.get(k) if kind == STRUCT else node.elem
            if child is None:
                child = node.elem
                if child is None:
                    problems.append(f"{path}.{k}: field not declared in schema")
                    return
            _validate(v, child, f"{path}.{k}", problems)
        return
    if kind == LIST:
        if not isinstance(value, list):
            problems.append(f"{path}: expected list, got {_go_value(value)}")
            return
        assert node.elem is not None
        seen: set[str] = set()
        for i, item in enumerate(value):
            if node.atomic:
                prefix = f"{path}[{i}]"
            else:
                try:
                    element = _item_element(node, item)
                except ValueError as exc:
                    problems.append(f"{path}: element {i}: {exc}")
                    return
                prefix = path + fieldpath.element_string(element)
                if element in seen:
                    problems.append(f"{path}: duplicate entries for key "
                                    f"{fieldpath.element_string(element)}")
                seen.add(element)
            _validate(item, node.elem, prefix, problems)
        return
    _validate_scalar(value, node, path, problems)


def _validate_scalar(value: Any, node: Node, path: str, problems: list[str]) -> None:
    if isinstance(value, dict | list):
        expected = {NUMERIC: "numeric (int or float)", STRING: "string",
                    BOOLEAN: "boolean"}.get(node.scalar, "any scalar")
        problems.append(f"{path}: expected {expected}, got {_go_value(value)}")
    elif node.scalar == NUMERIC and (isinstance(value, bool) or
                                     not isinstance(value, int | float)):
        problems.append(f"{path}: expected numeric (int or float), got {type(value).__name__}"
                        .replace("str", "string"))
    elif node.scalar == STRING and not isinstance(value, str):
        problems.append(f"{path}: expected string, got {_go_value(value)}")
    elif node.scalar == BOOLEAN and not isinstance(value, bool):
        problems.append(f"{path}: expected boolean, got {_go_value(value)}")


# ---- field sets (typed.ToFieldSet) -----------------------------------------------------------

def to_field_set(value: Obj, node: Node) -> fieldpath.Set:
    """The fields `value` sets: every scalar, atomic list or map, empty or null map field, map
    entry and list item (with what is below it). Lists and maps must fit the schema."""
    out = fieldpath.Set()
    _fields_of_map(value, node, out)
    return out


def _fields_of_map(value: Obj, node: Node, out: fieldpath.Set) -> None:
    struct_fields = node.fields if node.kind == STRUCT else None
    for key, item in value.items():
        element = "f:" + key
        child_node = _child(node, key)
        declared = struct_fields is not None and key in struct_fields
        if item is None or (type(item) is dict and not item) or not declared:
            out.members.add(element)
        _fields_of_value(item, child_node, element, out)


def _fields_of_value(item: Any, node: Node, element: str, out: fieldpath.Set) -> None:
    if type(item) is dict:
        if node.atomic or node.kind == SCALAR:
            out.members.add(element)
            return
        if item:
            below = fieldpath.Set()
            _fields_of_map(item, node, below)
            if below.members or below.children:
                out.children[element] = below
    elif type(item) is list:
        if node.kind != LIST or node.atomic:
            out.members.add(element)
            return
        below = fieldpath.Set()
        _fields_of_list(item, node, below)
        if below.members or below.children:
            out.children[element] = below
    elif item is not None:
        out.members.add(element)


def _fields_of_list(items: list[Any], node: Node, out: fieldpath.Set) -> None:
    assert node.elem is not None
    elements = [_item_element(node, item) for item in items]
    duplicates = {e for i, e in enumerate(elements) if e in elements[:i]} \
        if len(set(elements)) != len(elements) else set()
    for element, item in zip(elements, items, strict=True):
        out.members.add(element)
        if element not in duplicates:
            _fields_of_value(item, node.elem, element, out)


def ensure_named_fields_are_members(fields: fieldpath.Set, node: Node) -> fieldpath.Set:
    """Set.EnsureNamedFieldsAreMembers: struct fields that have owned fields below become
    members themselves (so that removing what is below removes them too)."""
    if not fields.children:
        return fields
    members = set(fields.members)
    children = {}
    for element, below in fields.children.items():
        child_node = DEDUCED
        if element.startswith("f:"):
            name = element[2:]
            if node.kind == STRUCT and name in node.fields:
                members.add(element)
            child_node = _child(node, name) if node.kind != LIST else DEDUCED
        elif node.kind == LIST and node.elem is not None:
            child_node = node.elem
        children[element] = ensure_named_fields_are_members(below, child_node)
    return fieldpath.Set(members, children)


# ---- merge (typed.Merge with ruleKeepRHS) --------------------------------------------------------

def merge(lhs: Obj, rhs: Obj, node: Node) -> Obj:
    """`rhs` (the applied configuration) merged into `lhs` (the live object): fields of `rhs`
    win; granular maps merge by key, granular lists by item key in `rhs`'s order with `lhs`'s
    other items kept in place; atomic lists and maps are replaced whole. Null fields vanish."""
    out = _merge(lhs, rhs, node)
    return out if isinstance(out, dict) else {}


def _merge(lhs: Any, rhs: Any, node: Node) -> Any:
    if rhs is _ABSENT:
        return lhs
    if lhs is _ABSENT or lhs is None or rhs is None:
        return rhs
    lt, rt = type(lhs), type(rhs)
    if rt is dict and lt is dict:
        if node.atomic or node.kind == SCALAR or (not lhs and not rhs):
            return rhs
        return _merge_maps(lhs, rhs, node)
    if rt is list and lt is list:
        if node.kind != LIST or node.atomic or (not lhs and not rhs):
            return rhs
        return _merge_lists(lhs, rhs, node)
    return rhs


def _merge_maps(lhs: Obj, rhs: Obj, node: Node) -> Any:
    out: Obj = {}
    for key, left in lhs.items():
        right = rhs.get(key, _ABSENT)
        if right is _ABSENT:
            out[key] = left
            continue
        merged = _merge(left, right, _child(node, key))
        if merged is not None and merged is not _ABSENT:
            out[key] = merged
    for key, right in rhs.items():
        if key not in lhs and right is not None:
            out[key] = right
    return out if out else _ABSENT


def _merge_lists(lhs: list[Any], rhs: list[Any], node: Node) -> Any:
    """visitListItems: shared items follow `rhs`'s order; `lhs`-only items keep their place."""
    item_node = node.elem or DEDUCED
    rpes = [_item_element(node, item) for item in rhs]
    lpes = [_item_element(node, item) for item in lhs]
    observed_r = dict(zip(rpes, rhs, strict=True))
    observed_l: dict[str, Any] = {}
    for pe, item in zip(lpes, lhs, strict=True):
        observed_l[pe] = _ABSENT if pe in observed_l else item  # duplicates merge as absent
    shared = [pe for pe in rpes if pe in observed_l]
    shared_at = 0
    next_shared = shared[0] if shared else None
    merged_r: set[str] = set()
    out: list[Any] = []

    def advance() -> str | None:
        nonlocal shared_at
        shared_at += 1
        return shared[shared_at] if shared_at < len(shared) else None

    li = ri = 0
    n_l, n_r = len(lpes), len(rpes)
    while li < n_l or ri < n_r:
        if li < n_l and ri < n_r:
            pe = lpes[li]
            if pe == rpes[ri]:
                merged_r.add(pe)
                _append(out, _merge(observed_l[pe], observed_r[pe], item_node))
                li += 1
                ri += 1
                next_shared = advance() if shared_at < len(shared) else None
                continue
            if pe in observed_r and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < n_l:
            pe = lpes[li]
            if pe not in observed_r:
                _append(out, lhs[li])
                li += 1
                continue
            if pe in merged_r:
                li += 1
        if ri < n_r:
            pe = rpes[ri]
            merged_r.add(pe)
            _append(out, _merge(observed_l.get(pe, _ABSENT), observed_r[pe], item_node))
            ri += 1
            if next_shared is not None and next_shared == pe:
                next_shared = advance()
    return out if out else _ABSENT


def _append(out: list[Any], item: Any) -> None:
    if item is not _ABSENT:
        out.append(item)


# ---- compare (typed.Compare) ---------------------------------------------------------------------

@dataclass
class Comparison:
    """Fields `rhs` added, modified (present in both, different) and removed, relative to `lhs`.
    """

    added: fieldpath.Set = field(default_factory=fieldpath.Set)
    modified: fieldpath.Set = field(default_factory=fieldpath.Set)
    removed: fieldpath.Set = field(default_factory=fieldpath.Set)

    def same(self) -> bool:
        return self.added.empty() and self.modified.empty() and self.removed.empty()


def compare(lhs: Obj, rhs: Obj, node: Node) -> Comparison:
    """What changed from `lhs` to `rhs`, both full objects (the zero object `{}` for a create).
    Non-pointer struct fields count as present (empty) wherever their parent is."""
    cmp = Comparison()
    if lhs != rhs:
        _compare_maps(lhs, rhs, node, (), cmp)
    return cmp


def _compare(lhs: Any, rhs: Any, node: Node, path: tuple[str, ...], cmp: Comparison) -> None:
    """compareWalker.compare for one field or item; `_ABSENT` on the side that lacks it."""
    if lhs is not _ABSENT and rhs is not _ABSENT:
        if lhs == rhs and type(lhs) is type(rhs):
            return
        if lhs is None and type(rhs) in (dict, list):
            lhs = type(rhs)()  # a null map or list derefs to an empty one
        elif rhs is None and type(lhs) in (dict, list):
            rhs = type(lhs)()
        elif type(lhs) is not type(rhs) and (type(lhs) in (dict, list) or
                                             type(rhs) in (dict, list)):
            cmp.modified.insert(path)
            return
    value = rhs if rhs is not _ABSENT else lhs
    kind = type(value)
    if kind is dict:
        granular = node.kind != SCALAR and not node.atomic
    elif kind is list:
        granular = node.kind == LIST and not node.atomic
    else:
        granular = False
    if granular and (lhs is _ABSENT or not lhs) and (rhs is _ABSENT or not rhs):
        granular = False  # emptyPromoteToLeaf
    if granular:
        if kind is dict:
            _compare_maps(lhs, rhs, node, path, cmp)
        else:
            _compare_lists(lhs, rhs, node, path, cmp)
        if lhs is _ABSENT:
            cmp.added.insert(path)
        elif rhs is _ABSENT:
            cmp.removed.insert(path)
    elif lhs is _ABSENT:
        cmp.added.insert(path)
    elif rhs is _ABSENT:
        cmp.removed.insert(path)
    elif lhs != rhs or type(lhs) is not type(rhs):
        cmp.modified.insert(path)


def _compare_maps(lhs: Any, rhs: Any, node: Node, path: tuple[str, ...],
                  cmp: Comparison) -> None:
    """Both sides are dicts or _ABSENT. Null fields are absent (Go decodes both alike); a field
    Go always writes (non-pointer structs, lists without omitempty) that is missing on a side
    whose map is present is compared as the empty value Go would write."""
    always = node.always
    left: Obj = lhs if lhs is not _ABSENT else {}
    right: Obj = rhs if rhs is not _ABSENT else {}
    keys = [*left, *(k for k in right if k not in left)]
    keys.extend(k for k in always if k not in left and k not in right)
    for key in keys:
        lv = left.get(key, _ABSENT)
        rv = right.get(key, _ABSENT)
        if lv is None:
            lv = _ABSENT
        if rv is None:
            rv = _ABSENT
        if key in always:
            if lv is _ABSENT and lhs is not _ABSENT:
                lv = always[key]()
            if rv is _ABSENT and rhs is not _ABSENT:
                rv = always[key]()
        if lv is _ABSENT and rv is _ABSENT:
            continue
        _compare(lv, rv, _child(node, key), (*path, "f:" + key), cmp)


def _compare_lists(lhs: Any, rhs: Any, node: Node, path: tuple[str, ...],
                   cmp: Comparison) -> None:
    item_node = node.elem or DEDUCED
    left: dict[str, list[Any]] = {}
    order: list[str] = []
    for item in lhs if lhs is not _ABSENT else ():
        pe = _item_element(node, item)
        if pe not in left:
            order.append(pe)
            left[pe] = []
        left[pe].append(item)
    right: dict[str, list[Any]] = {}
    for item in rhs if rhs is not _ABSENT else ():
        pe = _item_element(node, item)
        if pe not in right:
            right[pe] = []
            if pe not in left:
                order.append(pe)
        right[pe].append(item)
    for pe in order:
        ls, rs = left.get(pe, ()), right.get(pe, ())
        item_path = (*path, pe)
        if len(ls) <= 1 and len(rs) <= 1:
            _compare(ls[0] if ls else _ABSENT, rs[0] if rs else _ABSENT, item_node,
                     item_path, cmp)
        elif len(ls) >= 2 and len(rs) >= 2:
            if ls != rs:
                cmp.modified.insert(item_path)
        elif len(ls) >= 2:
            if rs:
                _compare(_ABSENT, rs[0], item_node, item_path, cmp)
            cmp.removed.insert(item_path)
        else:
            if ls:
                _compare(ls[0], _ABSENT, item_node, item_path, cmp)
            cmp.added.insert(item_path)


# ---- removal (typed.RemoveItems) -----------------------------------------------------------------

def remove_items(value: Obj, fields: fieldpath.Set, node: Node) -> Obj:
    """`value` without the members of `fields` (a removed map field or list item goes whole);
    maps and lists emptied by the removal vanish."""
    if fields.empty():
        return value
    out = _remove_map(value, fields, node)
    return out if isinstance(out, dict) else {}


def _remove(value: Any, fields: fieldpath.Set, node: Node) -> Any:
    if type(value) is dict:
        if not value or node.atomic or node.kind == SCALAR:
            return None
        return _remove_map(value, fields, node)
    if type(value) is list:
        if not value or node.kind != LIST or node.atomic:
            return None
        return _remove_list(value, fields, node)
    return value


def _remove_map(value: Obj, fields: fieldpath.Set, node: Node) -> Obj | None:
    out: Obj = {}
    members, children = fields.members, fields.children
    for key, item in value.items():
        element = "f:" + key
        if element in members:
            continue
        below = children.get(element)
        if below is not None and not below.empty():
            item = _remove(item, below, _child(node, key))
            if item is None:
                continue
        out[key] = item
    return out or None


def _remove_list(value: list[Any], fields: fieldpath.Set, node: Node) -> list[Any] | None:
    out = []
    item_node = node.elem or DEDUCED
    members, children = fields.members, fields.children
    for item in value:
        element = _item_element(node, item)
        if element in members:
            continue
        below = children.get(element)
        if below is not None and not below.empty():
            item = _remove(item, below, item_node)
            if item is None:
                continue
        out.append(item)
    return out or None


# ---- the updater (merge.Updater) ---------------------------------------------------------------

@dataclass(frozen=True)
class VersionedSet:
    """A manager's fields, the apiVersion it wrote them at, and whether it applied them."""

    fields: fieldpath.Set
    api_version: str
    applied: bool


ManagedFields = dict[str, VersionedSet]  # manager identifier -> its fields


class Conflicts(Exception):
    """Apply would change fields other managers own: (manager identifier, path) pairs, each
    manager's paths in upstream's iteration order."""

    def __init__(self, conflicts: list[tuple[str, tuple[str, ...]]]) -> None:
        super().__init__(f"{len(conflicts)} conflicts")
        self.conflicts = conflicts


def _conflicts(sets: dict[str, fieldpath.Set]) -> Conflicts:
    return Conflicts([(manager, path) for manager in sorted(sets)
                      for path in sets[manager].paths()])


def _ignore(fields: fieldpath.Set, ignored: fieldpath.Set | None) -> fieldpath.Set:
    return fields.recursive_difference(ignored) if ignored is not None else fields


def _update_others(live: Obj, new: Obj, node: Node, managers: ManagedFields, manager: str, *,
                   force: bool, ignored: fieldpath.Set | None) -> tuple[ManagedFields,
                                                                      Comparison]:
    """Updater.update: other managers lose fields that changed (a conflict unless `force`)
    and fields that were removed."""
    cmp = compare(live, new, node)
    if ignored is not None:
        cmp = Comparison(_ignore(cmp.added, ignored), _ignore(cmp.modified, ignored),
                         _ignore(cmp.removed, ignored))
    if cmp.same():
        return managers, cmp
    changed = cmp.modified.union(cmp.added)
    conflicts: dict[str, fieldpath.Set] = {}
    out = dict(managers)
    for other, versioned in managers.items():
        if other == manager:
            continue
        lost = versioned.fields.intersection(changed)
        if not lost.empty():
            conflicts[other] = lost
    if conflicts and not force:
        raise _conflicts(conflicts)
    for other, versioned in managers.items():
        if other == manager:
            continue
        kept = versioned.fields
        if other in conflicts:
            kept = kept.difference(conflicts[other])
        if not cmp.removed.empty():
            kept = kept.difference(cmp.removed)
        if kept is versioned.fields:
            continue
        if kept.empty():
            del out[other]
        else:
            out[other] = VersionedSet(kept, versioned.api_version, versioned.applied)
    return out, cmp


def update(live: Obj, new: Obj, node: Node, managers: ManagedFields, manager: str, *,
           api_version: str, ignored: fieldpath.Set | None = None) -> ManagedFields:
    """Updater.Update for a non-apply write from `live` to `new` by `manager`: the manager
    takes every field it changed, other managers lose them (no conflicts for updates) and
    lose removed fields. `ignored`: fields the write may not change (reset by the strategy),
    never owned. Returns the new managers (the argument is not changed)."""
    out, cmp = _update_others(live, new, node, managers, manager, force=True, ignored=ignored)
    if cmp.same():
        return out
    previous = out.get(manager)
    mine = previous.fields if previous is not None else fieldpath.Set()
    mine = mine.difference(cmp.removed).union(cmp.modified).union(cmp.added)
    mine = _ignore(mine, ignored)
    if mine.empty():
        out.pop(manager, None)
    else:
        out[manager] = VersionedSet(mine, api_version, False)
    return out


def apply(live: Obj, config: Obj, node: Node, managers: ManagedFields, manager: str, *,
          api_version: str, force: bool,
          ignored: fieldpath.Set | None = None) -> tuple[Obj | None, ManagedFields]:
    """Updater.Apply: merge `config` into `live`, make `manager` own exactly the fields of
    `config`, remove what it applied before and no longer does (unless another manager owns
    it), and take changed fields from other managers (Conflicts unless `force`).

    Returns (the new object, or None when nothing changed; the new managers). `config` must
    have passed `validate`. When the manager's fields are the ones it applied last time,
    pruning cannot remove anything and is skipped (the cost of a no-op re-apply is one merge,
    one field set and one comparison of dicts).
    """
    merged = merge(live, config, node)
    fields = _ignore(to_field_set(config, node), ignored)
    last = managers.get(manager)
    out = dict(managers)
    out[manager] = VersionedSet(fields, api_version, True)
    if last is not None and not last.fields.empty() and last.fields != fields:
        merged = _prune(merged, out, manager, last.fields, node)
    out, _ = _update_others(live, merged, node, out, manager, force=force, ignored=ignored)
    return (None if merged == live else merged), out


def _prune(merged: Obj, managers: ManagedFields, manager: str, last: fieldpath.Set,
           node: Node) -> Obj:
    """Updater.prune: remove what `manager` applied last time and not now, then add back
    what any manager (including its new configuration) owns and what was never its own."""
    last_named = ensure_named_fields_are_members(last, node)
    pruned = remove_items(merged, last_named, node)
    owned = fieldpath.Set()
    for versioned in managers.values():
        owned = owned.union(versioned.fields)
    merged_set = ensure_named_fields_are_members(to_field_set(merged, node), node)
    pruned_set = ensure_named_fields_are_members(to_field_set(pruned, node), node)
    owned_named = ensure_named_fields_are_members(owned, node)
    pruned = remove_items(merged, merged_set.difference(pruned_set.union(owned_named)), node)
    pruned_set = ensure_named_fields_are_members(to_field_set(pruned, node), node)
    dangling = merged_set.difference(pruned_set).intersection(last_named)
    return remove_items(merged, dangling, node)
