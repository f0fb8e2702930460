"""Strategic merge patch, applied as the apiserver applies it.

Mirrors the server side of staging/src/k8s.io/apimachinery/pkg/util/strategicpatch/patch.go
(`StrategicMergeMapPatch`: parallel lists merged, nulls for absent keys ignored), with the patch
metadata read from the v1.33 JSON schemas (`x-kubernetes-patch-strategy`,
`x-kubernetes-patch-merge-key` in `kajitori.api.schemas`) instead of Go struct tags. The PATCH
handler decodes the body, calls `apply`, then decodes, defaults and validates the result as any
update; `kajitori.api.mergepatch` and `kajitori.api.jsonpatch` are the other two patch types.

What a patch can say, as kubectl sends it (client-side apply, edit, patch, set image, rollout
restart, cordon):
- maps merge key by key; `null` deletes a key;
- a list whose field has strategy `merge` merges: maps by their merge key (`containers` by
  `name`, Service `ports` by `port`, `ownerReferences` by `uid`, ...), primitives as a set
  (`finalizers`); any other list is replaced whole (`tolerations`, `args`);
- `$patch: replace|delete` on a map, `{"$patch": "delete", <key>: <value>}` and
  `{"$patch": "replace"}` as list items, `$retainKeys`, `$setElementOrder/<list>` and
  `$deleteFromPrimitiveList/<list>`; no directive reaches the result.

Items keep upstream's order: `$setElementOrder` first, then the patch's order, then the live
list's, new items interleaved before the live items they have no order with.

Errors are `kajitori.api.errors.StatusError`s with the code upstream's handler gives them
(`interpretStrategicMergePatchError` in staging/src/k8s.io/apiserver/pkg/endpoints/handlers/
patch.go), worded as Go prints them, so the handler raises them unchanged:
- 400 BadRequest: a body that is not a JSON object, a malformed `$retainKeys`,
  `$setElementOrder/...` or `$deleteFromPrimitiveList/...` directive, a kind without a schema;
- 422 Invalid, with upstream's generic message: a list of lists;
- 500 with no reason (upstream returns these as plain errors): a list item without its merge
  key (`map: map[image:nginx] does not contain declared merge key: name`), an unknown `$patch`
  value, `$patch: merge` on a list, a patch list out of `$setElementOrder`'s order, mixed item
  types. kubectl prints them as `Error from server: <message>`.

Departures from upstream, where its Go types answer differently from the schemas:
- Fields the schema does not describe (unknown fields, RawExtension, `x-kubernetes-preserve-
  unknown-fields`): maps merge and lists are replaced, where upstream fails with `unable to find
  api field ...` once both sides hold a map or a list.
- Maps of objects (`additionalProperties`) merge their values with the value schema; upstream
  refuses (`merging an object in json but data type is not struct`).
- Values taken whole from the patch lose their nulls and directives here; upstream keeps them
  in its map and its typed decoding drops them afterwards.
- A `$`-prefixed key that an object's schema does not declare is dropped; upstream keeps it for
  the strict decoder to report as an unknown field.
- Numbers compare as Python values of the same type (an `int` never equals a `float`, as
  `int64` never equals `float64` in Go).
"""

from __future__ import annotations

import copy
import decimal
from dataclasses import dataclass
from typing import Any, Final

import orjson

from kajitori.api import errors, gojson, schemas

Obj = dict[str, Any]

CONTENT_TYPE: Final = "application/strategic-merge-patch+json"

DIRECTIVE: Final = "$patch"
REPLACE: Final = "replace"
MERGE: Final = "merge"
DELETE: Final = "delete"
RETAIN_KEYS: Final = "$retainKeys"
SET_ELEMENT_ORDER: Final = "$setElementOrder"
DELETE_FROM_PRIMITIVE_LIST: Final = "$deleteFromPrimitiveList"
_RETAIN_KEYS_STRATEGY: Final = "retainKeys"

# staging/src/k8s.io/apimachinery/pkg/util/mergepatch/errors.go and patch.go, word for word.
BAD_PATCH_FORMAT_FOR_PRIMITIVE_LIST: Final = "invalid patch format of primitive list"
BAD_PATCH_FORMAT_FOR_RETAIN_KEYS: Final = "invalid patch format of retainKeys"
BAD_PATCH_FORMAT_FOR_SET_ELEMENT_ORDER_LIST: Final = "invalid patch format of setElementOrder list"
NO_LIST_OF_LISTS: Final = "lists of lists are not supported"
UNSUPPORTED_FORMAT: Final = "strategic merge patch format is not supported"
MERGING_LISTS_UNSUPPORTED: Final = "merging lists cannot yet be specified in the patch"
# What upstream's NewGenericServerResponse says for a 422, whatever the cause.
REJECTED: Final = "the server rejected our request due to an error in our request"
# Go's name for the element type of a merging list, as `LookupPatchMeta.Name()` prints it.
_STRUCT_KIND: Final = "struct"


def apply(original: Obj, patch: Any, *, definition: str) -> Obj:
    """Apply a strategic merge `patch` (the decoded body) to `original`; return the new object.

    `definition` names the schema of the object's kind (`io.k8s.api.apps.v1.Deployment`, from
    `schemas.definition_name`). Neither argument is changed and the result shares nothing with
    them. A `null` body changes nothing, as upstream. Raises `errors.StatusError` as the module
    docstring lists; the caller answers with it unchanged.
    """
    schema = schemas.definitions().get(definition)
    if schema is None:  # custom resources: upstream accepts no strategic merge patch for them
        raise errors.bad_request(UNSUPPORTED_FORMAT)
    if patch is None:
        return _copy(original)
    if not isinstance(patch, dict):
        raise errors.bad_request(
            f"json: cannot unmarshal {gojson.json_kind(patch)} into Go value of type "
            "map[string]interface {}")
    return _merge_map(_copy(original), _copy(patch), _node(schema))


# --- what the schema says about each field ------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Field:
    """The patch metadata of one field; `node` describes its value, or its items for a list."""

    node: _Node
    strategy: str  # "merge", "replace" or "" (replace for lists, merge for maps)
    merge_key: str


class _Node:
    """What the schema says about the keys of one JSON object: fields of a struct
    (`properties`), values of a map (`additionalProperties`), or nothing (free-form).

    Fields are compiled on first use and kept: definitions are immutable and shared, so one
    patch pays for the fields it touches once per process.
    """

    __slots__ = ("_fields", "_properties", "_values")

    def __init__(self, schema: Obj) -> None:
        properties = schema.get("properties")
        values = schema.get("additionalProperties")
        self._properties: Obj | None = properties if isinstance(properties, dict) else None
        self._values: Obj | None = values if isinstance(values, dict) else None
        self._fields: dict[str, _Field] = {}

    def field(self, key: str) -> _Field:
        found = self._fields.get(key)
        if found is None:
            found = self._fields[key] = self._compile(key)
        return found

    def keeps(self, key: str) -> bool:
        """Whether a key may reach the result: a struct keeps only the `$` keys it declares
        (JSONSchemaProps' `$ref`); elsewhere keys are data, and only directives go."""
        if not key.startswith("$"):
            return True
        if self._properties is not None:
            return key in self._properties
        return not _is_directive(key)

    def _compile(self, key: str) -> _Field:
        if self._properties is not None:
            prop = self._properties.get(key)
            if prop is None:
                return _UNKNOWN
            strategies = str(prop.get("x-kubernetes-patch-strategy", "")).split(",")
            strategy = next((s for s in strategies if s != _RETAIN_KEYS_STRATEGY), "")
            return _Field(_value_node(prop), strategy,
                          str(prop.get("x-kubernetes-patch-merge-key", "")))
        if self._values is not None:
            return _Field(_value_node(self._values), "", "")
        return _UNKNOWN


_NODES: dict[int, _Node] = {}


def _node(schema: Obj) -> _Node:
    """The node of a schema, following `$ref`. Definitions are compiled once: they live as long
    as the process (`schemas.definitions()` is cached), so their identity is a stable key."""
    resolved = schemas.resolve(schema)
    if resolved is schema:
        return _Node(schema)  # inline: cached by the field that holds it
    found = _NODES.get(id(resolved))
    if found is None:
        found = _NODES[id(resolved)] = _Node(resolved)
    return found


def _value_node(schema: Obj) -> _Node:
    items = schema.get("items")
    return _node(items if isinstance(items, dict) else schema)


_UNKNOWN: Final = _Field(_Node({}), "", "")


def _is_directive(key: str) -> bool:
    return key in (DIRECTIVE, RETAIN_KEYS) or key.startswith(
        (SET_ELEMENT_ORDER, DELETE_FROM_PRIMITIVE_LIST))


# --- merging (patch.go: mergeMap and what it calls) ---------------------------------------------

def _merge_map(original: Obj, patch: Obj, node: _Node) -> Obj:
    """Merge `patch` into `original`, both owned by the caller and changed in place."""
    if DIRECTIVE in patch:
        return _map_directive(patch, node)
    _apply_retain_keys(original, patch)
    _merge_ordered_lists(original, patch, node)
    for patch_key, value in patch.items():
        key, delete_list = patch_key, False
        if patch_key.startswith(DELETE_FROM_PRIMITIVE_LIST):
            key = _list_key(patch_key, DELETE_FROM_PRIMITIVE_LIST,
                            BAD_PATCH_FORMAT_FOR_PRIMITIVE_LIST)
            delete_list = True
        elif not node.keeps(key):
            continue
        if value is None:
            original.pop(key, None)
            continue
        field = node.field(key)
        if key not in original or type(original[key]) is not type(value):
            if not delete_list:  # a deletion list never adds anything
                _set_stripped(original, key, value, field.node)
            continue
        current = original[key]
        if isinstance(value, dict):
            original[key] = (_replaced(value, field.node) if field.strategy == REPLACE
                             else _merge_map(current, value, field.node))
        elif isinstance(value, list):
            original[key] = (_merge_list(current, value, field, delete_list=delete_list)
                             if field.strategy == MERGE or delete_list
                             else _strip_list(value, field.node))
        else:
            original[key] = value
    return original


def _map_directive(patch: Obj, node: _Node) -> Obj:
    directive = patch[DIRECTIVE]
    if _is(directive, REPLACE):
        return _replaced(patch, node)
    if _is(directive, DELETE):
        return {}
    raise _bad_patch_type(directive, patch)


def _apply_retain_keys(original: Obj, patch: Obj) -> None:
    """`$retainKeys`: clear what the list omits; every other key the patch sets must be in it."""
    if RETAIN_KEYS not in patch:
        return
    retained = patch.pop(RETAIN_KEYS)
    if not isinstance(retained, list):
        raise errors.bad_request(BAD_PATCH_FORMAT_FOR_RETAIN_KEYS)
    keep = {key for key in retained if isinstance(key, str)}
    for key, value in patch.items():
        if value is None or key.startswith((DELETE_FROM_PRIMITIVE_LIST, SET_ELEMENT_ORDER)):
            continue
        if key not in keep:
            raise errors.bad_request(BAD_PATCH_FORMAT_FOR_RETAIN_KEYS)
    for key in [key for key in original if key not in keep]:
        del original[key]


def _merge_ordered_lists(original: Obj, patch: Obj, node: _Node) -> None:
    """`$setElementOrder/<list>`: merge that list now, then put its items in the given order;
    items the order does not name (server-only) keep their place among the others."""
    for directive_key in [key for key in patch if key.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(directive_key)
        if not isinstance(order, list):
            raise errors.unknown(_bad_arg_type([], order))
        key = _list_key(directive_key, SET_ELEMENT_ORDER,
                        BAD_PATCH_FORMAT_FOR_SET_ELEMENT_ORDER_LIST)
        # A null live list is an absent one: upstream's live object never holds nulls.
        current = _list_or_none(original, key) if original.get(key) is not None else None
        incoming = _list_or_none(patch, key)
        field = node.field(key)
        _check_order(incoming or [], order, field.merge_key)
        if current is not None and incoming is not None:
            merged = (_merge_list(current, incoming, field, delete_list=False)
                      if field.strategy == MERGE else _strip_list(incoming, field.node))
        elif incoming is not None:
            merged = _strip_list(incoming, field.node)
        elif current is not None:
            merged = current
        else:
            continue
        kind = _element_kind(current or [], incoming or [])
        if kind is not None:  # upstream fails on two empty lists; nothing to order here
            in_order, server_only = _partition(merged, order, field.merge_key)
            merged = _normalize_order(in_order, server_only, patch_order=order,
                                      server_order=current or [], merge_key=field.merge_key,
                                      kind=kind)
        original[key] = merged
        patch.pop(key, None)


def _merge_list(original: list[Any], patch: list[Any], field: _Field, *,
                delete_list: bool) -> list[Any]:
    """A merging list (or a `$deleteFromPrimitiveList`); `original` keeps its items' order
    (its maps may be merged in place), so it still tells the live order afterwards."""
    kind = _element_kind(original, patch)
    if kind is None:
        return original
    merge_key = field.merge_key
    if kind is not dict:
        if delete_list:
            doomed = {_hashable(value) for value in patch}
            return [value for value in original if _hashable(value) not in doomed]
        merged = _deduplicate(original + patch)
    else:
        if not merge_key:
            raise errors.unknown(f"cannot merge lists without merge key for {_STRUCT_KIND}")
        original, patch = _apply_item_directives(original, patch, merge_key, field.node)
        merged = _merge_items(original, patch, merge_key, field.node)
    in_patch, server_only = _partition(merged, patch, merge_key)
    return _normalize_order(in_patch, server_only, patch_order=patch, server_order=original,
                            merge_key=merge_key, kind=kind)


def _apply_item_directives(original: list[Any], patch: list[Any], merge_key: str,
                           node: _Node) -> tuple[list[Any], list[Any]]:
    """Items carrying `$patch`: delete the live items with that key, or (`replace`) make the
    list the patch's other items. Returns the list to merge into and the items to merge."""
    plain: list[Any] = []
    replace = False
    for item in patch:
        if DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[DIRECTIVE]
        if _is(directive, DELETE):
            if merge_key not in item:
                raise errors.unknown(_no_merge_key(item, merge_key))
            doomed = item[merge_key]
            original = [live for live in original
                        if not (merge_key in live and _same(live[merge_key], doomed))]
        elif _is(directive, REPLACE):
            replace = True  # and keep going: the other directives are dropped too
        elif _is(directive, MERGE):
            raise errors.unknown(MERGING_LISTS_UNSUPPORTED)
        else:
            raise _bad_patch_type(directive, item)
    if replace:
        return _strip_list(plain, node), []
    return original, plain


def _merge_items(original: list[Any], patch: list[Any], merge_key: str,
                 node: _Node) -> list[Any]:
    merged = list(original)
    for item in patch:
        if merge_key not in item:
            raise errors.unknown(_no_merge_key(item, merge_key))
        wanted = item[merge_key]
        at = next((i for i, live in enumerate(merged)
                   if merge_key in live and _same(live[merge_key], wanted)), None)
        if at is None:
            merged.append(_strip(item, node))
        else:
            merged[at] = _merge_map(merged[at], item, node)
    return merged


# --- order (patch.go: normalizeElementOrder, mergeSortedSlice) ----------------------------------

def _check_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """The patch's items must appear in `$setElementOrder`, in the same order."""
    if not order or not patch_list:
        return
    items = patch_list
    if merge_key:
        items = [item for item in patch_list
                 if not _is(_as_map(item).get(DIRECTIVE), DELETE)]
    at, position = 0, 0
    while at < len(items) and position < len(order):
        if isinstance(items[at], dict) and DIRECTIVE in items[at]:
            at += 1
            continue
        if _merge_keys_equal(items[at], order[position], merge_key):
            at += 1
        position += 1
    if at < len(items) and position >= len(order):
        raise errors.unknown(f"The order in patch list:\n{_go_v(patch_list)}\n doesn't match "
                       f"{SET_ELEMENT_ORDER} list:\n{_go_v(order)}\n")


def _partition(merged: list[Any], by: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    """Split `merged` into the items `by` names and the others, each in `merged`'s order."""
    if merge_key:
        keys = []
        for item in merged:
            if merge_key not in _as_map(item):
                raise errors.unknown(_no_merge_key(item, merge_key))
            keys.append(_hashable(item[merge_key]))
        named = set()
        for position, item in enumerate(by):
            if not isinstance(item, dict):
                raise errors.unknown(f"value for key {position} is not a map")
            if merge_key in item:
                named.add(_hashable(item[merge_key]))
    else:
        keys = [_hashable(item) for item in merged]
        named = {_hashable(item) for item in by}
    inside = [item for item, key in zip(merged, keys, strict=True) if key in named]
    outside = [item for item, key in zip(merged, keys, strict=True) if key not in named]
    return inside, outside


def _normalize_order(in_patch: list[Any], server_only: list[Any], *, patch_order: list[Any],
                     server_order: list[Any], merge_key: str, kind: type) -> list[Any]:
    """Patch items in the patch's order, server-only items in the live order, then interleaved:
    a server-only item goes first only when the live list put it before the next patch item."""
    live = _positions(server_order, merge_key, kind)
    in_patch = _sort_by(in_patch, patch_order, _positions(patch_order, merge_key, kind),
                        merge_key, kind)
    server_only = _sort_by(server_only, server_order, live, merge_key, kind)
    result: list[Any] = []
    left, right = 0, 0
    while left < len(server_only) or right < len(in_patch):
        if right >= len(in_patch):
            result.append(server_only[left])
            left += 1
            continue
        if left < len(server_only):
            mine = live.get(_order_key(server_only[left], merge_key, kind), -1)
            theirs = live.get(_order_key(in_patch[right], merge_key, kind), -1)
            if 0 <= mine < theirs:
                result.append(server_only[left])
                left += 1
                continue
        result.append(in_patch[right])
        right += 1
    return result


def _sort_by(items: list[Any], order: list[Any], positions: dict[Any, int], merge_key: str,
             kind: type) -> list[Any]:
    """Stable sort by position in `order` (`positions`); upstream's comparator has no answer
    for an item `order` lacks (only a malformed patch has one), so such items go first."""
    if kind is dict:
        for item in (*items, *order):
            if not isinstance(item, dict):
                raise errors.unknown(_bad_arg_type({}, item))
            if merge_key not in item:
                raise errors.unknown(_no_merge_key(item, merge_key))
    return sorted(items, key=lambda item: positions.get(_order_key(item, merge_key, kind), -1))


def _positions(order: list[Any], merge_key: str, kind: type) -> dict[Any, int]:
    positions: dict[Any, int] = {}
    for position, item in enumerate(order):
        positions.setdefault(_order_key(item, merge_key, kind), position)
    return positions


def _order_key(item: Any, merge_key: str, kind: type) -> Any:
    if kind is dict:
        return _hashable(item.get(merge_key) if isinstance(item, dict) else None)
    return _hashable(item)


# --- values taken whole from the patch ----------------------------------------------------------

_DROP: Final = object()  # a map carrying `$patch` where it cannot apply: upstream drops it


def _strip(value: Any, node: _Node) -> Any:
    """A patch value as it lands where nothing was: directives and null members gone, and a map
    carrying `$patch` dropped (upstream's removeDirectives after discardNullValuesFromPatch)."""
    if isinstance(value, dict):
        return _DROP if DIRECTIVE in value else _strip_members(value, node)
    if isinstance(value, list):
        return _strip_list(value, node)
    return value


def _strip_members(value: Obj, node: _Node) -> Obj:
    stripped: Obj = {}
    for key, member in value.items():
        if member is not None and key != DIRECTIVE and node.keeps(key):
            _set_stripped(stripped, key, member, node.field(key).node)
    return stripped


def _strip_list(items: list[Any], node: _Node) -> list[Any]:
    stripped = (_strip(item, node) for item in items)
    return [item for item in stripped if item is not _DROP]


def _set_stripped(target: Obj, key: str, value: Any, node: _Node) -> None:
    stripped = _strip(value, node)
    if stripped is _DROP:
        target.pop(key, None)
    else:
        target[key] = stripped


def _replaced(value: Obj, node: _Node) -> Obj:
    """A map that replaces what was there (`$patch: replace`, strategy `replace`)."""
    return _strip_members(value, node)


# --- small helpers ------------------------------------------------------------------------------

def _copy(value: Obj) -> Obj:
    try:
        copied: Obj = orjson.loads(orjson.dumps(value))
    except orjson.JSONEncodeError:  # integers beyond 64 bits, which orjson refuses
        return copy.deepcopy(value)
    return copied


def _list_key(key: str, prefix: str, malformed: str) -> str:
    head, slash, tail = key.partition("/")
    if head != prefix or not slash:
        raise errors.bad_request(malformed)
    return tail


def _list_or_none(container: Obj, key: str) -> list[Any] | None:
    if key not in container:
        return None
    value = container[key]
    if not isinstance(value, list):
        raise errors.unknown(_bad_arg_type([], value))
    return value


def _element_kind(*lists: list[Any]) -> type | None:
    """The one type of all items (upstream's sliceElementType); None when there are none."""
    kinds = [type(item) for items in lists for item in items]
    if not kinds:
        return None
    if kinds[0] is list:
        raise errors.rejected_request()
    if any(kind is not kinds[0] for kind in kinds):
        raise errors.unknown(f"list element types are not identical: {_go_v(list(lists))}")
    return kinds[0]


def _deduplicate(values: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    unique = []
    for value in values:
        key = _hashable(value)
        if key not in seen:
            seen.add(key)
            unique.append(value)
    return unique


def _merge_keys_equal(left: Any, right: Any, merge_key: str) -> bool:
    if not merge_key:
        return _same(left, right)
    for side in (left, right):
        if not isinstance(side, dict):
            raise errors.unknown(_bad_arg_type({}, side))
        if merge_key not in side:
            raise errors.unknown(_no_merge_key(side, merge_key))
    return _same(left[merge_key], right[merge_key])


def _as_map(value: Any) -> Obj:
    if not isinstance(value, dict):
        raise errors.unknown(_bad_arg_type({}, value))
    return value


def _is(value: Any, directive: str) -> bool:
    return isinstance(value, str) and value == directive


def _same(left: Any, right: Any) -> bool:
    """Go's `==` on decoded JSON: equal values of the same type (1 is not 1.0, nor True)."""
    return type(left) is type(right) and bool(left == right)


def _hashable(value: Any) -> Any:
    if isinstance(value, dict | list):
        return (list, orjson.dumps(value, option=orjson.OPT_SORT_KEYS))
    return (type(value), value)


# --- errors, worded as Go prints them -----------------------------------------------------------



def _no_merge_key(item: Any, merge_key: str) -> str:
    return f"map: {_go_v(item)} does not contain declared merge key: {merge_key}"


def _bad_patch_type(directive: Any, item: Obj) -> errors.StatusError:
    return errors.unknown(f"unknown patch type: {_go_s(directive)} in map: {_go_v(item)}")


def _bad_arg_type(expected: Any, actual: Any) -> str:
    return f"expected a {_go_type(expected)}, but received a {_go_type(actual)}"



def _go_type(value: Any) -> str:
    if value is None:
        return "<nil>"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    return "float64" if isinstance(value, float) else "string"


def _go_v(value: Any) -> str:
    """fmt's %v of a decoded JSON value: `map[a:1 b:[x y]]`, keys sorted."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{key}:{_go_v(value[key])}" for key in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_v(item) for item in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    return str(value)


def _go_s(value: Any) -> str:
    """fmt's %s: strings as they are, anything else flagged as Go flags a wrong verb."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "map[" + " ".join(f"{key}:{_go_s(value[key])}" for key in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_s(item) for item in value) + "]"
    if value is None:
        return "%!s(<nil>)"
    return f"%!s({_go_type(value)}={_go_v(value)})"


def _go_float(value: float) -> str:
    """strconv's shortest %g: an exponent below -4 or from 6 up switches to e-notation."""
    if value != value or value in (float("inf"), float("-inf")):
        return {"nan": "NaN", "inf": "+Inf", "-inf": "-Inf"}[repr(value)]
    if value == 0:
        return "-0" if repr(value).startswith("-") else "0"
    sign, digits, exponent = decimal.Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    point = len(text) + int(exponent)  # digits before the decimal point
    minus = "-" if sign else ""
    if point - 1 < -4 or point - 1 >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        power = point - 1
        return f"{minus}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{text}"
    if point >= len(text):
        return f"{minus}{text}{'0' * (point - len(text))}"
    return f"{minus}{text[:point]}.{text[point:]}"
