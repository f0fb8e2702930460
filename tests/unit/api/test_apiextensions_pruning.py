"""Pruning and defaulting of custom objects by their schema (upstream's pruning and
structural defaulting algorithms)."""

from __future__ import annotations

from kajitori.api.apiextensions import defaulting, pruning

SCHEMA = {"type": "object", "properties": {
    "spec": {"type": "object", "properties": {
        "replicas": {"type": "integer", "default": 1},
        "mode": {"type": "string", "default": "fast", "nullable": False},
        "limit": {"type": "integer"},
        "template": {"type": "object", "default": {}, "properties": {
            "size": {"type": "string", "default": "small"}}},
        "items": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"}, "port": {"type": "integer", "default": 80}}}},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "embedded": {"type": "object", "x-kubernetes-embedded-resource": True,
                     "properties": {"spec": {"type": "object"}}}}},
    "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}}}


def test_unknown_fields_are_dropped_and_reported_sorted() -> None:
    obj = {"apiVersion": "x/v1", "kind": "K",
           "metadata": {"name": "a", "bogus": 1},
           "spec": {"foo": 1, "items": [{"name": "n", "extra": True}],
                    "labels": {"free": "form"}, "raw": {"kept": {"deep": 1}},
                    "embedded": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                 "spec": {"containers": []}, "other": 1}},
           "top": 1}
    assert pruning.prune(obj, SCHEMA) == [
        "metadata.bogus", "spec.embedded.other", "spec.embedded.spec.containers", "spec.foo",
        "spec.items[0].extra", "top"]
    assert obj == {"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "a"},
                   "spec": {"items": [{"name": "n"}], "labels": {"free": "form"},
                            "raw": {"kept": {"deep": 1}},
                            "embedded": {"apiVersion": "v1", "kind": "Pod",
                                         "metadata": {"name": "p"}, "spec": {}}}}


def test_without_a_schema_only_type_and_object_metadata_stay() -> None:
    obj = {"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "a"}, "spec": {}}
    assert pruning.prune(obj, None) == ["spec"]


def test_defaults_fill_absent_fields_top_down() -> None:
    obj = {"spec": {"items": [{"name": "a"}, {"name": "b", "port": 8080}]}}
    defaulting.default(obj, SCHEMA)
    assert obj == {"spec": {"replicas": 1, "mode": "fast", "template": {"size": "small"},
                            "items": [{"name": "a", "port": 80},
                                      {"name": "b", "port": 8080}]}}


def test_defaults_replace_nulls_of_non_nullable_fields() -> None:
    obj = {"spec": {"mode": None, "replicas": 3}}
    defaulting.default(obj, SCHEMA)
    assert obj["spec"]["mode"] == "fast"
    assert obj["spec"]["replicas"] == 3


def test_nulls_without_defaults_are_dropped() -> None:
    obj = {"spec": {"limit": None, "labels": {"a": None, "b": "x"}}, "status": None}
    defaulting.prune_non_nullable_nulls(obj, SCHEMA)
    assert obj == {"spec": {"labels": {"b": "x"}}}
