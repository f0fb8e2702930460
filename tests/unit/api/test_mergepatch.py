"""JSON merge patch (RFC 7386) as the apiserver applies it: kubectl label, annotate, scale."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kajitori.api import errors, mergepatch


def configmap() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": "default", "labels": {"app": "web"}},
            "data": {"a": "1", "b": "2"}}


def apply(original: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Apply, and check on the way that neither input was touched."""
    before = copy.deepcopy((original, patch))
    result = mergepatch.apply(original, patch)
    assert (original, patch) == before
    return result


def test_label_adds_a_label() -> None:
    result = apply(configmap(), {"metadata": {"labels": {"env": "dev"}}})
    assert result["metadata"]["labels"] == {"app": "web", "env": "dev"}


def test_label_removal_sends_null() -> None:
    result = apply(configmap(), {"metadata": {"labels": {"app": None}}})
    assert result["metadata"]["labels"] == {}


def test_empty_patch_changes_nothing() -> None:
    assert apply(configmap(), {}) == configmap()


def test_scale_sets_replicas() -> None:
    scale = {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": {"name": "web"},
             "spec": {"replicas": 2}, "status": {"replicas": 2, "selector": "app=web"}}
    assert apply(scale, {"spec": {"replicas": 4}})["spec"] == {"replicas": 4}


def test_arrays_are_replaced_whole() -> None:
    original = {"spec": {"finalizers": ["a", "b"], "ports": [{"port": 80}, {"port": 443}]}}
    result = apply(original, {"spec": {"ports": [{"port": 8080}]}})
    assert result == {"spec": {"finalizers": ["a", "b"], "ports": [{"port": 8080}]}}


def test_an_object_replaces_a_scalar_without_its_nulls() -> None:
    result = apply({"a": "text"}, {"a": {"b": 1, "c": None}})
    assert result == {"a": {"b": 1}}


def test_new_values_lose_null_members_at_any_depth() -> None:
    patch = {"metadata": {"annotations": {"x": "1", "y": None}},
             "spec": {"items": [{"keep": 1, "drop": None}, None]}}
    result = apply(configmap(), patch)
    assert result["metadata"]["annotations"] == {"x": "1"}
    assert result["spec"] == {"items": [{"keep": 1}, None]}


def test_an_array_replacing_an_object_keeps_its_nulls() -> None:
    """evanphx/json-patch v4 returns such a patch value untouched."""
    result = apply({"a": {"b": 1}}, {"a": [{"c": None}]})
    assert result == {"a": [{"c": None}]}


def test_nested_objects_merge() -> None:
    original = {"spec": {"template": {"metadata": {"labels": {"a": "1"}}, "spec": {"x": 1}}}}
    patch = {"spec": {"template": {"metadata": {"labels": {"b": "2", "a": None}}}}}
    assert apply(original, patch) == {
        "spec": {"template": {"metadata": {"labels": {"b": "2"}}, "spec": {"x": 1}}}}


def test_result_shares_nothing_with_the_inputs() -> None:
    original = configmap()
    patch = {"metadata": {"annotations": {"note": "x"}}}
    result = apply(original, patch)
    result["metadata"]["labels"]["app"] = "changed"
    result["metadata"]["annotations"]["note"] = "changed"
    assert original["metadata"]["labels"]["app"] == "web"
    assert patch["metadata"]["annotations"]["note"] == "x"


def test_null_body_is_an_invalid_patch() -> None:
    with pytest.raises(errors.StatusError) as caught:
        mergepatch.apply(configmap(), None)
    assert caught.value.status == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "Invalid JSON Patch", "reason": "BadRequest", "code": 400}


@pytest.mark.parametrize(("body", "kind"), [
    ([{"op": "add"}], "array"), ("x", "string"), (3, "number"), (True, "bool")])
def test_a_body_that_is_not_an_object_is_a_bad_request(body: Any, kind: str) -> None:
    with pytest.raises(errors.StatusError) as caught:
        mergepatch.apply(configmap(), body)
    assert (caught.value.code, caught.value.reason, str(caught.value)) == (
        400, "BadRequest", f"error decoding patch: json: cannot unmarshal {kind} into Go value "
                           "of type map[string]interface {}")
