"""Structural schema invariants, worded as upstream's ValidateStructural."""

from __future__ import annotations

from kajitori.api.apiextensions import structural

ROOT = "spec.versions[0].schema.openAPIV3Schema"


def messages(schema: dict) -> list[str]:
    return [str(e) for e in structural.validate_structural(schema, ROOT)]


def test_a_field_without_type_is_not_structural() -> None:
    schema = {"type": "object", "properties": {"spec": {"properties": {
        "replicas": {"type": "integer"}}}}}
    assert messages(schema) == [
        f"{ROOT}.properties[spec].type: Required value: must not be empty for specified "
        "object fields"]


def test_root_and_items_need_a_type_and_arrays_need_items() -> None:
    assert messages({"properties": {"list": {"type": "array"},
                                    "other": {"type": "array", "items": {}}}}) == [
        f"{ROOT}.properties[list].items: Required value: must be specified",
        f"{ROOT}.properties[other].items.type: Required value: must not be empty for specified "
        "array items",
        f"{ROOT}.type: Required value: must not be empty at the root"]


def test_root_must_be_an_object_without_additional_properties() -> None:
    assert messages({"type": "string"}) == [
        f'{ROOT}.type: Invalid value: "string": must be object at the root']
    assert messages({"type": "object", "additionalProperties": {"type": "string"}}) == [
        f"{ROOT}.additionalProperties: Forbidden: must not be used at the root"]


def test_int_or_string_and_preserve_unknown_fields_may_omit_the_type() -> None:
    schema = {"type": "object", "properties": {
        "port": {"x-kubernetes-int-or-string": True},
        "port2": {"x-kubernetes-int-or-string": True,
                  "anyOf": [{"type": "integer"}, {"type": "string"}]},
        "raw": {"x-kubernetes-preserve-unknown-fields": True}}}
    assert messages(schema) == []
    assert structural.is_structural(schema)


def test_value_validations_may_not_carry_types_or_unknown_fields() -> None:
    schema = {"type": "object", "properties": {"spec": {
        "type": "object", "properties": {"a": {"type": "string"}},
        "anyOf": [{"type": "object", "properties": {"b": {"description": "x"}}}]}}}
    assert messages(schema) == [
        f"{ROOT}.properties[spec].anyOf[0].properties[b].description: Forbidden: must be empty "
        "to be structural",
        f"{ROOT}.properties[spec].anyOf[0].type: Forbidden: must be empty to be structural"]


def test_fields_named_in_root_value_validations_must_exist() -> None:
    schema = {"type": "object", "properties": {"spec": {"type": "object"}},
              "allOf": [{"properties": {"status": {}}}]}
    assert messages(schema) == [
        f"{ROOT}.properties[status]: Required value: because it is defined in "
        f"{ROOT}.allOf[0].properties[status]"]


def test_metadata_may_only_restrict_name_and_generate_name() -> None:
    ok = {"type": "object", "properties": {"metadata": {"type": "object", "properties": {
        "name": {"type": "string", "maxLength": 10}}}}}
    assert messages(ok) == []
    bad = {"type": "object", "properties": {"metadata": {"type": "object", "properties": {
        "labels": {"type": "object"}}}}}
    assert messages(bad) == [
        f"{ROOT}.properties[metadata]: Forbidden: must not specify anything other than name "
        "and generateName, but metadata is implicitly specified"]


def test_embedded_resources_are_objects_with_fields() -> None:
    schema = {"type": "object", "properties": {"template": {
        "type": "object", "x-kubernetes-embedded-resource": True}}}
    assert messages(schema) == [
        f"{ROOT}.properties[template].properties: Required value: must not be empty if "
        "x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields"]
