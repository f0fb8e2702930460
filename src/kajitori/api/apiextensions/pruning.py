"""Dropping the fields a custom resource's schema does not specify.

Mirrors staging/src/k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning/algorithm.go
and the ObjectMeta coercion of .../schema/objectmeta/coerce.go: every field outside the
schema's `properties` goes, unless `x-kubernetes-preserve-unknown-fields` keeps it; maps
(`additionalProperties`) and list items are pruned by their own schemas; at the resource root
and in every `x-kubernetes-embedded-resource`, `apiVersion`, `kind` and `metadata` stay, and
metadata keeps only ObjectMeta's fields. The dropped paths are what fieldValidation reports as
`unknown field "spec.foo"` (Strict refuses them, Warn sends them as warnings); the decoding
step of `kajitori.apiserver.body` calls `prune`.
"""

from __future__ import annotations

import functools
from typing import Any

from kajitori.api import schemas
from kajitori.api.apiextensions import fieldpath

Obj = dict[str, Any]

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
TYPE_META_FIELDS = ("apiVersion", "kind")


@functools.cache
def object_meta_fields() -> frozenset[str]:
    return frozenset(schemas.definitions()[OBJECT_META]["properties"])


def prune(obj: Obj, schema: Obj | None) -> list[str]:
    """Drop, in place, every field of the custom object `obj` that `schema` (its version's
    openAPIV3Schema; None prunes everything but type and object metadata) does not specify.
    Returns the dropped paths, sorted (`metadata.foo`, `spec.bar`, `spec.list[0].baz`)."""
    pruned: list[str] = []
    _prune_resource(obj, schema or {}, "", pruned)
    return sorted(pruned)


def prune_value(value: Any, schema: Obj) -> list[str]:
    """Drop, in place, the fields of `value` (a part of an object, such as a default) that
    `schema` does not specify; returns the dropped paths relative to `value`."""
    pruned: list[str] = []
    _prune_value(value, schema, "", pruned)
    return sorted(pruned)


def _prune_resource(obj: Obj, schema: Obj, path: str, pruned: list[str]) -> None:
    """An object that is a resource: the root, or an embedded resource."""
    metadata = obj.get("metadata")
    if isinstance(metadata, dict):
        known = object_meta_fields()
        for key in [k for k in metadata if k not in known]:
            del metadata[key]
            pruned.append(fieldpath.child(fieldpath.child(path, "metadata"), key))
    _prune_object(obj, schema, path, pruned,
                  kept=frozenset({*TYPE_META_FIELDS, "metadata"}))


def _prune_object(obj: Obj, schema: Obj, path: str, pruned: list[str], *,
                  kept: frozenset[str] = frozenset()) -> None:
    properties = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
    for key in list(obj):
        if key in kept:
            continue
        value = obj[key]
        child = fieldpath.child(path, key)
        if key in properties:
            _prune_value(value, properties[key], child, pruned)
        elif isinstance(additional, dict):
            _prune_value(value, additional, child, pruned)
        elif not preserve and additional is not True:
            del obj[key]
            pruned.append(child)


def _prune_value(value: Any, schema: Any, path: str, pruned: list[str]) -> None:
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        if schema.get("x-kubernetes-embedded-resource") is True:
            _prune_resource(value, schema, path, pruned)
        elif "properties" in schema or "additionalProperties" in schema or \
                schema.get("x-kubernetes-preserve-unknown-fields") is not True:
            _prune_object(value, schema, path, pruned)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _prune_value(item, schema["items"], fieldpath.index(path, i), pruned)
