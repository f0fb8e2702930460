"""Custom objects against their schema, worded as upstream's ValidateCustomResource."""

from __future__ import annotations

from typing import Any

from kajitori.api.apiextensions import schemavalidation

SCHEMA = {"type": "object", "properties": {"spec": {
    "type": "object", "required": ["image"], "properties": {
        "image": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5, "minLength": 2},
        "replicas": {"type": "integer", "minimum": 1, "maximum": 10},
        "ratio": {"type": "number", "exclusiveMaximum": True, "maximum": 1},
        "color": {"type": "string", "enum": ["red", "blue"]},
        "port": {"x-kubernetes-int-or-string": True},
        "when": {"type": "string", "format": "date-time"},
        "note": {"type": "string", "nullable": True},
        "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    }}}}


def errors(spec: dict[str, Any]) -> list[str]:
    obj = {"spec": {"image": "abc", **spec}}
    return [str(e) for e in schemavalidation.validate(obj, SCHEMA)]


def test_a_valid_object_has_no_errors() -> None:
    assert errors({"replicas": 3, "port": "http", "note": None, "tags": ["a"],
                   "labels": {"a": "b"}, "raw": {"anything": [1]},
                   "when": "2025-01-01T00:00:00Z"}) == []


def test_type_errors_show_the_json_type_given() -> None:
    assert errors({"replicas": "three"}) == [
        'spec.replicas: Invalid value: "string": spec.replicas in body must be of type '
        'integer: "string"']
    assert errors({"labels": {"a": 1}}) == [
        'spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type '
        'string: "integer"']
    assert errors({"tags": [True]}) == [
        'spec.tags[0]: Invalid value: "boolean": spec.tags[0] in body must be of type string: '
        '"boolean"']


def test_null_is_a_type_error_unless_nullable() -> None:
    assert errors({"replicas": None}) == [
        'spec.replicas: Invalid value: "null": spec.replicas in body must be of type integer: '
        '"null"']


def test_integral_floats_are_integers() -> None:
    assert errors({"replicas": 3.0}) == []


def test_int_or_string_accepts_both_only() -> None:
    assert errors({"port": 80}) == []
    assert errors({"port": [80]}) == [
        'spec.port: Invalid value: "array": spec.port in body must be of type integer,string: '
        '"array"']


def test_required_fields() -> None:
    obj = {"spec": {"replicas": 1}}
    assert [str(e) for e in schemavalidation.validate(obj, SCHEMA)] == [
        "spec.image: Required value"]


def test_enum_bounds_pattern_and_lengths() -> None:
    assert errors({"color": "pink"}) == [
        'spec.color: Unsupported value: "pink": supported values: "red", "blue"']
    assert errors({"replicas": 11}) == [
        "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal "
        "to 10"]
    assert errors({"replicas": 0}) == [
        "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or "
        "equal to 1"]
    assert errors({"ratio": 1}) == [
        "spec.ratio: Invalid value: 1: spec.ratio in body should be less than 1"]
    assert errors({"image": "ABC"}) == [
        "spec.image: Invalid value: \"ABC\": spec.image in body should match '^[a-z]+$'"]
    assert errors({"image": "abcdef"}) == ["spec.image: Too long: may not be longer than 5"]
    assert errors({"image": "a"}) == [
        'spec.image: Invalid value: "a": spec.image in body should be at least 2 chars long']
    assert errors({"tags": ["a", "b", "c"]}) == [
        "spec.tags: Too many: 3: must have at most 2 items"]


def test_formats() -> None:
    assert errors({"when": "yesterday"}) == [
        'spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time: '
        '"yesterday"']


def test_embedded_resources_need_api_version_and_kind() -> None:
    schema = {"type": "object", "properties": {"template": {
        "type": "object", "x-kubernetes-embedded-resource": True,
        "x-kubernetes-preserve-unknown-fields": True}}}
    found = schemavalidation.validate({"template": {"kind": "Pod"}}, schema)
    assert [str(e) for e in found] == ["template.apiVersion: Required value: must not be empty"]
