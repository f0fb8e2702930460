"""Structural schema checks: what makes an openAPIV3Schema usable for pruning and defaulting.

Mirrors staging/src/k8s.io/apiextensions-apiserver/pkg/apiserver/schema/validation.go
(`ValidateStructural`: the invariants) and complete.go (every field named in a value
validation such as `allOf` is also specified outside of it), on the raw JSONSchemaProps dicts
a CRD carries. Upstream first splits a schema into its structural part (type, properties,
items, additionalProperties, the Kubernetes extensions) and its value validations (allOf,
anyOf, oneOf, not and the constraints); the split is made here on the fly.

Errors come back sorted by their text, as upstream sorts them. The CRD's own validation
(`kajitori.api.apiextensions.validation`) calls `validate_structural` per version.
"""

from __future__ import annotations

import enum
import re
from typing import Any

from kajitori.api.apiextensions import fieldpath
from kajitori.api.errors import FieldError

Obj = dict[str, Any]

# What a schema nested under allOf/anyOf/oneOf/not may not carry, with upstream's wording.
_FORBIDDEN_GENERICS = (
    ("type", "must be empty to be structural"),
    ("default", "must be undefined to be structural"),
    ("title", "must be empty to be structural"),
    ("description", "must be empty to be structural"),
    ("nullable", "must be false to be structural"),
    ("externalDocs", "must be undefined to be structural"),
)
_FORBIDDEN_EXTENSIONS = (
    ("x-kubernetes-preserve-unknown-fields", "must be false to be structural"),
    ("x-kubernetes-embedded-resource", "must be false to be structural"),
    ("x-kubernetes-int-or-string", "must be false to be structural"),
    ("x-kubernetes-list-map-keys", "must be empty to be structural"),
    ("x-kubernetes-list-type", "must be undefined to be structural"),
    ("x-kubernetes-map-type", "must be undefined to be structural"),
    ("x-kubernetes-validations", "must be empty to be structural"),
)
_INT_OR_STRING_ANY_OF = [{"type": "integer"}, {"type": "string"}]
_JUNCTORS = ("allOf", "anyOf", "oneOf")


class Level(enum.Enum):
    ROOT = "root"
    ITEM = "item"
    FIELD = "field"


_EMPTY_TYPE = {
    Level.ROOT: "must not be empty at the root",
    Level.ITEM: "must not be empty for specified array items",
    Level.FIELD: "must not be empty for specified object fields",
}


def validate_structural(schema: Obj, path: str) -> list[FieldError]:
    """Every structural violation of `schema` (an openAPIV3Schema), its paths under `path`
    (`spec.versions[0].schema.openAPIV3Schema`), sorted by text as upstream reports them.
    An empty answer means the schema is structural."""
    errs = _invariants(schema, Level.ROOT, path)
    errs += _completeness(schema, schema, path, path)
    return sorted(errs, key=str)


def is_structural(schema: Obj) -> bool:
    return not validate_structural(schema, "")


def _truthy(schema: Obj, extension: str) -> bool:
    return schema.get(extension) is True


def _additional_schema(schema: Obj) -> Obj | None:
    """additionalProperties as a schema; a bare true/false has no structural part."""
    value = schema.get("additionalProperties")
    return value if isinstance(value, dict) else None


def _invariants(s: Obj, level: Level, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    type_ = s.get("type") or ""
    int_or_string = _truthy(s, "x-kubernetes-int-or-string")
    preserve = _truthy(s, "x-kubernetes-preserve-unknown-fields")
    embedded = _truthy(s, "x-kubernetes-embedded-resource")
    properties = s.get("properties") or {}

    items = s.get("items")
    if type_ == "array" and items is None:
        errs.append(FieldError.required(fieldpath.child(path, "items"), "must be specified"))
    if isinstance(items, dict):
        errs += _invariants(items, Level.ITEM, fieldpath.child(path, "items"))
    for name, prop in properties.items():
        if isinstance(prop, dict):
            errs += _invariants(prop, Level.FIELD,
                                fieldpath.key(fieldpath.child(path, "properties"), name))
    if "additionalProperties" in s:
        if level is Level.ROOT:
            errs.append(FieldError.forbidden(fieldpath.child(path, "additionalProperties"),
                                             "must not be used at the root"))
        additional = _additional_schema(s)
        if additional is not None:
            errs += _invariants(additional, Level.FIELD,
                                fieldpath.child(path, "additionalProperties"))

    if int_or_string and preserve:
        errs.append(FieldError.invalid(
            fieldpath.child(path, "x-kubernetes-preserve-unknown-fields"), True,
            "must be false if x-kubernetes-int-or-string is true"))
    if int_or_string and embedded:
        errs.append(FieldError.invalid(
            fieldpath.child(path, "x-kubernetes-embedded-resource"), True,
            "must be false if x-kubernetes-int-or-string is true"))

    errs += _value_validation(s, path, skip_any_of=_is_int_or_string_any_of(s),
                              skip_first_all_of_any_of=_is_int_or_string_all_of(s))

    if embedded and type_ != "object":
        detail = "must be object if x-kubernetes-embedded-resource is true"
        if not type_:
            errs.append(FieldError.required(fieldpath.child(path, "type"), detail))
        else:
            errs.append(FieldError.invalid(fieldpath.child(path, "type"), type_, detail))
    elif not type_ and not int_or_string and not preserve:
        errs.append(FieldError.required(fieldpath.child(path, "type"), _EMPTY_TYPE[level]))
    if embedded and "additionalProperties" in s:
        errs.append(FieldError.forbidden(fieldpath.child(path, "additionalProperties"),
                                         "must not be used if x-kubernetes-embedded-resource "
                                         "is set"))
    if level is Level.ROOT and type_ and type_ != "object":
        errs.append(FieldError.invalid(fieldpath.child(path, "type"), type_,
                                       "must be object at the root"))

    check_metadata = level is Level.ROOT or embedded
    props_path = fieldpath.child(path, "properties")
    for meta_field in ("kind", "apiVersion"):
        prop = properties.get(meta_field)
        if isinstance(prop, dict) and check_metadata and prop.get("type") != "string":
            errs.append(FieldError.invalid(
                fieldpath.child(fieldpath.key(props_path, meta_field), "type"),
                prop.get("type") or "", "must be string"))
    metadata = properties.get("metadata")
    if isinstance(metadata, dict):
        errs += _metadata_invariants(metadata, check_metadata=check_metadata, level=level,
                                     path=fieldpath.key(props_path, "metadata"))
    if embedded and not preserve and not properties:
        errs.append(FieldError.required(
            fieldpath.child(path, "properties"),
            "must not be empty if x-kubernetes-embedded-resource is true without "
            "x-kubernetes-preserve-unknown-fields"))
    return errs


def _metadata_invariants(s: Obj, *, check_metadata: bool, level: Level,
                         path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if check_metadata and s.get("type") != "object":
        errs.append(FieldError.invalid(fieldpath.child(path, "type"), s.get("type") or "",
                                       "must be object"))
    if level is Level.ROOT:
        # Only name and generateName may be restricted: the rest of ObjectMeta is the
        # apiserver's. Type and default are checked elsewhere.
        rest = {k: v for k, v in s.items() if k not in ("type", "default")}
        properties = rest.pop("properties", None) or {}
        if set(properties) - {"name", "generateName"} or any(
                v not in (None, False, "", [], {}) for v in rest.values()):
            errs.append(FieldError.forbidden(
                path, "must not specify anything other than name and generateName, but "
                "metadata is implicitly specified"))
    return errs


def _is_int_or_string_any_of(s: Obj) -> bool:
    return s.get("anyOf") == _INT_OR_STRING_ANY_OF


def _is_int_or_string_all_of(s: Obj) -> bool:
    all_of = s.get("allOf") or []
    return bool(all_of) and isinstance(all_of[0], dict) and \
        all_of[0].get("anyOf") == _INT_OR_STRING_ANY_OF


def _value_validation(v: Obj, path: str, *, skip_any_of: bool,
                      skip_first_all_of_any_of: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    if not skip_any_of:
        for i, nested in enumerate(v.get("anyOf") or []):
            errs += _nested(nested, fieldpath.index(fieldpath.child(path, "anyOf"), i),
                            skip_any_of=False)
    for i, nested in enumerate(v.get("allOf") or []):
        errs += _nested(nested, fieldpath.index(fieldpath.child(path, "allOf"), i),
                        skip_any_of=skip_first_all_of_any_of and i == 0)
    for i, nested in enumerate(v.get("oneOf") or []):
        errs += _nested(nested, fieldpath.index(fieldpath.child(path, "oneOf"), i),
                        skip_any_of=False)
    if isinstance(v.get("not"), dict):
        errs += _nested(v["not"], fieldpath.child(path, "not"), skip_any_of=False)
    pattern = v.get("pattern")
    if pattern:
        try:
            re.compile(pattern)
        except re.error as exc:
            errs.append(FieldError.invalid(
                fieldpath.child(path, "pattern"), pattern,
                f"must be a valid regular expression, but isn't: {exc}"))
    return errs


def _nested(v: Any, path: str, *, skip_any_of: bool) -> list[FieldError]:
    """A schema under a logical junctor: value validations only."""
    if not isinstance(v, dict):
        return []
    errs = _value_validation(v, path, skip_any_of=skip_any_of, skip_first_all_of_any_of=False)
    if isinstance(v.get("items"), dict):
        errs += _nested(v["items"], fieldpath.child(path, "items"), skip_any_of=False)
    for name, prop in (v.get("properties") or {}).items():
        errs += _nested(prop, fieldpath.key(fieldpath.child(path, "properties"), name),
                        skip_any_of=False)
    for key, detail in _FORBIDDEN_GENERICS:
        if v.get(key) not in (None, "", False):
            errs.append(FieldError.forbidden(fieldpath.child(path, key), detail))
    if "additionalProperties" in v:
        errs.append(FieldError.forbidden(fieldpath.child(path, "additionalProperties"),
                                         "must be undefined to be structural"))
    for key, detail in _FORBIDDEN_EXTENSIONS:
        if v.get(key) not in (None, False, [], ""):
            errs.append(FieldError.forbidden(fieldpath.child(path, key), detail))
    if "metadata" in (v.get("properties") or {}):
        errs.append(FieldError.forbidden(
            fieldpath.key(fieldpath.child(path, "properties"), "metadata"),
            "must not be specified in a nested context"))
    return errs


def _completeness(v: Obj, s: Obj | None, s_path: str, v_path: str) -> list[FieldError]:
    """Every property or items a value validation names exists in the structural schema."""
    errs: list[FieldError] = []
    if isinstance(v.get("not"), dict):
        errs += _nested_completeness(v["not"], s, s_path, fieldpath.child(v_path, "not"))
    for junctor in ("allOf", "anyOf", "oneOf"):
        for i, nested in enumerate(v.get(junctor) or []):
            if isinstance(nested, dict):
                errs += _nested_completeness(
                    nested, s, s_path, fieldpath.index(fieldpath.child(v_path, junctor), i))
    return errs


def _nested_completeness(v: Obj, s: Obj | None, s_path: str, v_path: str) -> list[FieldError]:
    if s is None:
        return [FieldError.required(s_path, f"because it is defined in {v_path}")]
    errs = _completeness(v, s, s_path, v_path)
    if isinstance(v.get("items"), dict):
        items = s.get("items")
        errs += _nested_completeness(v["items"], items if isinstance(items, dict) else None,
                                     fieldpath.child(s_path, "items"),
                                     fieldpath.child(v_path, "items"))
    s_properties = s.get("properties") or {}
    for name, prop in (v.get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        nested_v_path = fieldpath.key(fieldpath.child(v_path, "properties"), name)
        nested_s_path = fieldpath.key(fieldpath.child(s_path, "properties"), name)
        if name not in s_properties:
            errs.append(FieldError.required(nested_s_path,
                                            f"because it is defined in {nested_v_path}"))
        else:
            errs += _nested_completeness(prop, s_properties[name], nested_s_path,
                                         nested_v_path)
    return errs
