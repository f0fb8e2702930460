"""Applying a custom resource schema's `default`s, and dropping nulls nothing allows.

Mirrors staging/src/k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting/
algorithm.go (`Default`) and prunenulls.go (`PruneNonNullableNullsWithoutDefaults`): an absent
field whose schema has a default gets a copy of it, as does a null in a field that is not
nullable; defaults apply top-down, so a defaulted object receives its own fields' defaults
too. Runs after pruning, on the decoded body, as upstream's decoder does.
"""

from __future__ import annotations

import copy
from typing import Any

Obj = dict[str, Any]


def default(value: Any, schema: Obj | None) -> None:
    """Fill in `schema`'s defaults in `value` (the object or any part of it), in place."""
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for key, prop in properties.items():
            if not isinstance(prop, dict) or "default" not in prop:
                continue
            if key not in value or (value[key] is None and not prop.get("nullable")):
                value[key] = copy.deepcopy(prop["default"])
        additional = schema.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                default(item, properties[key])
            elif isinstance(additional, dict):
                default(item, additional)
    elif isinstance(value, list):
        for item in value:
            default(item, schema.get("items"))


def prune_non_nullable_nulls(value: Any, schema: Obj | None) -> None:
    """Drop, in place, null fields whose schema is neither nullable nor defaulted: Go's
    decoding of such a null into the field's type yields its zero value, which the
    apiserver omits."""
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key in list(value):
            prop = properties.get(key, additional if isinstance(additional, dict) else None)
            if not isinstance(prop, dict):
                continue
            if value[key] is None:
                if not prop.get("nullable") and "default" not in prop:
                    del value[key]
            else:
                prune_non_nullable_nulls(value[key], prop)
    elif isinstance(value, list):
        items = schema.get("items")
        for item in value:
            if item is not None:
                prune_non_nullable_nulls(item, items)
