"""The Scale view of built-in and custom resources, and writing a Scale back."""

from __future__ import annotations

from typing import Any

import pytest

from kajitori.api import errors, scale

Obj = dict[str, Any]


def statefulset() -> Obj:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": "ns", "uid": "u1", "resourceVersion": "7",
                         "creationTimestamp": "2025-01-01T00:00:00Z", "labels": {"x": "y"}},
            "spec": {"replicas": 3, "selector": {
                "matchLabels": {"app": "db"},
                "matchExpressions": [{"key": "tier", "operator": "In",
                                      "values": ["b", "a"]}]}},
            "status": {"replicas": 2}}


def test_scale_of_label_selector_kind_prints_selector_as_upstream() -> None:
    got = scale.scale_of(statefulset(), scale.BUILTIN[("apps", "statefulsets")])
    assert got == {"kind": "Scale", "apiVersion": "autoscaling/v1",
                   "metadata": {"name": "db", "namespace": "ns", "uid": "u1",
                                "resourceVersion": "7",
                                "creationTimestamp": "2025-01-01T00:00:00Z"},
                   "spec": {"replicas": 3},
                   "status": {"replicas": 2, "selector": "app=db,tier in (a,b)"}}


def test_apply_scale_changes_only_replicas_and_carries_resource_version() -> None:
    parent = statefulset()
    wanted = {"metadata": {"resourceVersion": "7"}, "spec": {"replicas": 5},
              "status": {"replicas": 99}}
    updated = scale.apply_scale(parent, wanted, scale.BUILTIN[("apps", "statefulsets")],
                                resource="statefulsets/scale.apps")
    assert updated["spec"]["replicas"] == 5
    assert updated["status"] == {"replicas": 2}
    assert updated["metadata"]["resourceVersion"] == "7"
    assert parent["spec"]["replicas"] == 3  # the stored object is untouched


def test_apply_scale_with_other_uid_is_conflict() -> None:
    wanted = {"metadata": {"uid": "other"}, "spec": {"replicas": 1}}
    with pytest.raises(errors.StatusError) as caught:
        scale.apply_scale(statefulset(), wanted, scale.BUILTIN[("apps", "statefulsets")],
                          resource=scale.scale_resource("apps", "statefulsets"))
    assert caught.value.code == 409
    assert caught.value.status["message"] == (
        'Operation cannot be fulfilled on statefulsets/scale.apps "db": Precondition failed: '
        "UID in precondition: other, UID in object meta: u1")


def test_validate_scale_rejects_negative_replicas() -> None:
    assert [str(e) for e in scale.validate_scale({"spec": {"replicas": -1}})] == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0"]
    assert scale.validate_scale({"spec": {"replicas": 0}}) == []


def test_custom_resource_scale_reads_its_paths() -> None:
    access = scale.for_custom_resource(spec_replicas_path=".spec.size",
                                       status_replicas_path=".status.current",
                                       label_selector_path=".status.selector")
    cr = {"apiVersion": "example.com/v1", "kind": "Db", "metadata": {"name": "d"},
          "spec": {"size": 4}, "status": {"current": 1, "selector": "app=d"}}
    got = scale.scale_of(cr, access)
    assert got["spec"] == {"replicas": 4}
    assert got["status"] == {"replicas": 1, "selector": "app=d"}
    updated = scale.apply_scale(cr, {"spec": {"replicas": 6}}, access,
                                resource="dbs/scale.example.com")
    assert updated["spec"] == {"size": 6}


def test_custom_resource_without_spec_replicas_is_internal_error() -> None:
    access = scale.for_custom_resource(spec_replicas_path=".spec.replicas",
                                       status_replicas_path=".status.replicas")
    with pytest.raises(errors.StatusError) as caught:
        scale.scale_of({"metadata": {"name": "d"}, "spec": {}}, access)
    assert caught.value.code == 500
    assert caught.value.status["message"].endswith(
        "the spec replicas field \".spec.replicas\" does not exist")
