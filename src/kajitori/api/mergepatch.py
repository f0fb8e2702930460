"""JSON merge patch (RFC 7386), applied as the apiserver applies it.

Mirrors the merge-patch branch of `applyJSPatch` in staging/src/k8s.io/apiserver/pkg/endpoints/
handlers/patch.go, which hands the body to gopkg.in/evanphx/json-patch.v4 `MergePatch`. kubectl
sends merge patches for `label`, `annotate`, `scale`, `patch --type=merge` and for anything it
cannot strategic-merge (custom resources). The PATCH handler decodes the body, calls `apply`,
then decodes, defaults and validates the result as any update; `kajitori.api.strategicpatch` and
`kajitori.api.jsonpatch` are the other two patch types.

Semantics: an object in the patch merges into the object it names, member by member; `null`
deletes a member; anything else (arrays included) replaces. A value that lands where there was
no object loses its null members, recursively, including inside objects in arrays, as the
library prunes them (RFC 7386 only says so of objects); an array replacing an existing object
keeps them, as the library does.

Errors, as upstream's handler reports them (with fieldValidation Strict or Warn, Warn being the
default): 400 BadRequest for a `null` body (`Invalid JSON Patch`) and for a body that is not a
JSON object (`error decoding patch: json: cannot unmarshal array into Go value of type
map[string]interface {}`).
"""

from __future__ import annotations

import copy
from typing import Any, Final

import orjson

from kajitori.api import errors, gojson

Obj = dict[str, Any]

CONTENT_TYPE: Final = "application/merge-patch+json"
INVALID_PATCH: Final = "Invalid JSON Patch"  # evanphx/json-patch's ErrBadJSONPatch


def apply(original: Obj, patch: Any) -> Obj:
    """Apply a merge `patch` (the decoded body) to `original`; return the new object.

    Neither argument is changed and the result shares nothing with them. `{}` changes nothing
    (kubectl label sends it when there is nothing to remove). Raises `errors.StatusError`
    (400) for a body that is not an object; the caller answers with it unchanged.
    """
    if patch is None:
        raise errors.bad_request(INVALID_PATCH)
    if not isinstance(patch, dict):
        raise errors.bad_request(
            f"error decoding patch: json: cannot unmarshal {gojson.json_kind(patch)} into Go "
            "value of type map[string]interface {}")
    return _merge_object(_copy(original), patch)


def _merge_object(target: Obj, patch: Obj) -> Obj:
    """Merge `patch` into `target` (owned by the caller, changed in place)."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif target.get(key) is None:
            target[key] = _pruned(value)
        else:
            target[key] = _merged(target[key], value)
    return target


def _merged(current: Any, value: Any) -> Any:
    if not isinstance(current, dict):
        return _pruned(value)
    if not isinstance(value, dict):
        return _copy(value)
    return _merge_object(current, value)


def _pruned(value: Any) -> Any:
    """A copy of `value` without null object members, at any depth; null array items stay."""
    if isinstance(value, dict):
        return {key: _pruned(member) for key, member in value.items() if member is not None}
    if isinstance(value, list):
        return [_pruned(item) for item in value]
    return value


def _copy(value: Any) -> Any:
    try:
        return orjson.loads(orjson.dumps(value))
    except orjson.JSONEncodeError:  # integers beyond 64 bits, which orjson refuses
        return copy.deepcopy(value)


