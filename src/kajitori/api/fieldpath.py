"""Field sets as managedFields store them (`fieldsV1`): parse, serialize, set algebra.

Mirrors sigs.k8s.io/structured-merge-diff `fieldpath` (set.go, element.go, serialize.go,
serialize-pe.go). A path element is kept in its serialized form, which is also its identity:
  - `f:<name>`   a field of a map or struct;
  - `k:{...}`    an item of a list of maps, by its key fields (JSON, keys sorted by name);
  - `v:<json>`   an item of a set (a list of scalars), by its value;
  - `i:<n>`      an item of a list by index (upstream never produces it for built-in types).
A `Set` is a tree: `members` are the elements owned themselves, `children` the elements under
which something is owned. Serialized, a member is `"<pe>": {}` and a member that also has
children carries `".": {}` among them; keys are ordered as upstream orders path elements
(fields, then keys, then values, then indexes; each by value), so `to_fields_v1` writes
byte-for-byte what a v1.33 apiserver writes. `serversideapply` computes sets from objects.

Sets are values: the operations return new sets and may share subtrees with their operands, so
a set must not be changed once it has been handed to another set (`insert` is for building).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterator
from typing import Any

Obj = dict[str, Any]

FIELD_PREFIX = "f:"
KEY_PREFIX = "k:"
VALUE_PREFIX = "v:"
INDEX_PREFIX = "i:"
SELF = "."

# encoding/json (and the jsoniter configuration upstream serializes with) escapes these.
_GO_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028",
                    "\u2029": "\\u2029"}


class FieldsError(ValueError):
    """A fieldsV1 document or path element that does not parse."""


def go_json(value: Any) -> str:
    """`value` as Go's encoding/json writes it: compact, map keys sorted, HTML-safe, integral
    floats without a fraction (Go decodes every JSON number to float64 and prints 80, not 80.0).
    """
    text = json.dumps(_normalize(value), ensure_ascii=False, separators=(",", ":"),
                      sort_keys=True)
    if any(c in text for c in _GO_JSON_ESCAPES):
        for char, escaped in _GO_JSON_ESCAPES.items():
            text = text.replace(char, escaped)
    return text


def _normalize(value: Any) -> Any:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    return value


def field_element(name: str) -> str:
    return FIELD_PREFIX + name


def key_element(fields: dict[str, Any]) -> str:
    """The element of the list item whose key fields are `fields` (any order)."""
    return KEY_PREFIX + go_json(fields)


def value_element(value: Any) -> str:
    return VALUE_PREFIX + go_json(value)


def index_element(index: int) -> str:
    return INDEX_PREFIX + str(index)


@functools.lru_cache(maxsize=8192)
def canonical_element(text: str) -> str | None:
    """The canonical form of a serialized path element (`k:` keys sorted, JSON re-encoded as
    upstream writes it); None for an element type this version does not know, which upstream
    drops silently. Raises FieldsError for a malformed element."""
    if len(text) < 2:
        raise FieldsError("key must be 2 characters long:")
    if text[1] != ":":
        raise FieldsError(f"missing colon: {text}")
    kind, body = text[0], text[2:]
    if kind == "f":
        return text
    if kind == "i":
        try:
            return INDEX_PREFIX + str(int(body))
        except ValueError as exc:
            raise FieldsError(f'strconv.Atoi: parsing "{body}": invalid syntax') from exc
    if kind not in "kv":
        return None
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise FieldsError(f"parsing key as path element: {exc}") from exc
    if kind == "k":
        if not isinstance(value, dict):
            raise FieldsError("parsing key as path element: expected an object")
        return key_element(value)
    return value_element(value)


def _value_order(value: Any) -> tuple[Any, ...]:
    """value.Compare's total order: numbers, strings, booleans, lists, maps, null."""
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, list):
        return (3, tuple(_value_order(v) for v in value))
    if isinstance(value, dict):
        return (4, tuple((k, _value_order(value[k])) for k in sorted(value)))
    return (5,)


@functools.lru_cache(maxsize=8192)
def _element_order(element: str) -> tuple[Any, ...]:
    kind, body = element[0], element[2:]
    if kind == "f":
        return (0, body)
    if kind == "k":
        fields = json.loads(body)
        return (1, tuple((name, _value_order(fields[name])) for name in sorted(fields)))
    if kind == "v":
        return (2, _value_order(json.loads(body)))
    return (3, int(body))


def element_order(element: str) -> tuple[Any, ...]:
    """Sort key of a canonical path element in upstream's PathElement.Compare order."""
    if element[0] == "f":
        return (0, element[2:])
    return _element_order(element)


def element_string(element: str) -> str:
    """PathElement.String(): `.name`, `[name="x",protocol="TCP"]`, `[="value"]`, `[0]`."""
    kind, body = element[0], element[2:]
    if kind == "f":
        return "." + body
    if kind == "k":
        fields = json.loads(body)
        return "[" + ",".join(f"{name}={_go_string(fields[name])}"
                              for name in sorted(fields)) + "]"
    if kind == "v":
        return f"[={_go_string(json.loads(body))}]"
    return f"[{body}]"


def _go_string(value: Any) -> str:
    """value.ToString: strings quoted as %q, numbers and booleans as %v."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + ",".join(_go_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "".join(f"{k}={_go_string(v)}" for k, v in value.items())
    return str(value)


def path_string(path: tuple[str, ...]) -> str:
    """Path.String(): the elements' strings joined (`.spec.containers[name="x"].image`)."""
    return "".join(element_string(e) for e in path)


class Set:
    """A set of field paths. `members`: elements in the set themselves; `children`: the sets
    below elements (an element may be both)."""

    __slots__ = ("children", "members")

    def __init__(self, members: set[str] | None = None,
                 children: dict[str, Set] | None = None) -> None:
        self.members: set[str] = members if members is not None else set()
        self.children: dict[str, Set] = children if children is not None else {}

    # ---- building and reading ---------------------------------------------------------------

    def insert(self, path: tuple[str, ...] | list[str]) -> None:
        """Add one path (its last element becomes a member); only while building the set."""
        node = self
        for element in path[:-1]:
            child = node.children.get(element)
            if child is None:
                child = node.children[element] = Set()
            node = child
        if path:
            node.members.add(path[-1])

    def has(self, path: tuple[str, ...] | list[str]) -> bool:
        node: Set | None = self
        for element in path[:-1]:
            node = node.children.get(element) if node is not None else None
        return node is not None and bool(path) and path[-1] in node.members

    def with_prefix(self, element: str) -> Set:
        """The subset below `element` (an empty set when there is none)."""
        return self.children.get(element) or EMPTY

    def empty(self) -> bool:
        if self.members:
            return False
        return all(child.empty() for child in self.children.values())

    def paths(self) -> Iterator[tuple[str, ...]]:
        """Every path, in upstream's Iterate order: a node's members first, then its children's
        paths; each sorted."""
        yield from self._paths(())

    def _paths(self, prefix: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        for element in sorted(self.members, key=element_order):
            yield (*prefix, element)
        for element in sorted(self.children, key=element_order):
            yield from self.children[element]._paths((*prefix, element))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Set):
            return NotImplemented
        return self.members == other.members and self.children == other.children

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Set({self.to_fields_v1()!r})"

    # ---- algebra (Set.Union, Intersection, Difference, RecursiveDifference) -----------------

    def union(self, other: Set) -> Set:
        if not other.members and not other.children:
            return self
        if not self.members and not self.children:
            return other
        children = dict(self.children)
        for element, theirs in other.children.items():
            mine = children.get(element)
            children[element] = theirs if mine is None else mine.union(theirs)
        return Set(self.members | other.members, children)

    def intersection(self, other: Set) -> Set:
        children = {}
        for element, mine in self.children.items():
            theirs = other.children.get(element)
            if theirs is not None:
                both = mine.intersection(theirs)
                if not both.empty():
                    children[element] = both
        return Set(self.members & other.members, children)

    def difference(self, other: Set) -> Set:
        """Members of `self` not members of `other`; children subtracted child by child (a
        member of `other` does not remove the subtree below the same element)."""
        if not other.members and not other.children:
            return self
        children = {}
        for element, mine in self.children.items():
            theirs = other.children.get(element)
            if theirs is None:
                children[element] = mine
                continue
            rest = mine.difference(theirs)
            if not rest.empty():
                children[element] = rest
        return Set(self.members - other.members, children)

    def recursive_difference(self, other: Set) -> Set:
        """As `difference`, but a member of `other` also removes everything below it."""
        children = {}
        for element, mine in self.children.items():
            if element in other.members:
                continue
            theirs = other.children.get(element)
            if theirs is None:
                children[element] = mine
                continue
            rest = mine.recursive_difference(theirs)
            if not rest.empty():
                children[element] = rest
        return Set(self.members - other.members, children)

    # ---- fieldsV1 ---------------------------------------------------------------------------

    def to_fields_v1(self) -> Obj:
        """The fieldsV1 document, keys in upstream's order."""
        return self._emit(include_self=False)

    def _emit(self, *, include_self: bool) -> Obj:
        out: Obj = {}
        members, children = self.members, self.children
        if include_self and (members or children):
            out[SELF] = {}
        elements = members | children.keys() if children else members
        if len(elements) > 1:
            elements = sorted(elements, key=element_order)
        for element in elements:
            child = children.get(element)
            out[element] = {} if child is None else child._emit(include_self=element in members)
        return out

    @classmethod
    def from_fields_v1(cls, fields: Any) -> Set:
        """Parse a fieldsV1 document. Raises FieldsError when it is not one; elements of a type
        this version does not know are dropped, as upstream drops them."""
        if not isinstance(fields, dict):
            raise FieldsError("fieldsV1 must be an object")
        parsed, _ = _parse(fields)
        return parsed or Set()


def _parse(fields: Obj) -> tuple[Set | None, bool]:
    """(the children, or None; whether the node itself is a member): an empty object or one
    with `.` is a member (upstream's readIterV1)."""
    members: set[str] = set()
    children: dict[str, Set] = {}
    is_member = False
    for key, value in fields.items():
        if key == SELF:
            is_member = True
            continue
        element = canonical_element(key)
        if not isinstance(value, dict):
            raise FieldsError(f"parsing key as path element: {key} is not an object")
        if element is None:
            continue
        below, child_is_member = _parse(value)
        if child_is_member:
            members.add(element)
        if below is not None:
            children[element] = below
    if not members and not children:
        return None, True
    return Set(members, children), is_member


EMPTY = Set(frozenset(), {})  # type: ignore[arg-type]
