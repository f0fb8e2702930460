"""managedFields on every write: manager names, entries as a v1.33 cluster writes them, the
409 of a conflicting apply worded as upstream, and kubectl's client-side apply migration."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kajitori.api import errors, managedfields
from kajitori.api.managedfields import Scope

Obj = dict[str, Any]
CONFIGMAPS = Scope("", "v1", "ConfigMap")
DEPLOYMENTS = Scope("apps", "v1", "Deployment", has_status=True)
DEPLOYMENT_STATUS = Scope("apps", "v1", "Deployment", subresource="status", has_status=True)


def configmap(**data: str) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": "default"}, "data": data}


def stored(obj: Obj) -> Obj:
    """What the registry stores: the object with its system fields."""
    out = copy.deepcopy(obj)
    out["metadata"].update(uid="u-1", resourceVersion="7",
                           creationTimestamp="2025-01-01T00:00:00Z")
    return out


def entries(obj: Obj) -> list[tuple[str, str, str]]:
    return [(e["manager"], e["operation"], e.get("subresource", ""))
            for e in obj["metadata"].get("managedFields", [])]


def fields(obj: Obj, manager: str, operation: str = "Update") -> Obj:
    for entry in obj["metadata"]["managedFields"]:
        if entry["manager"] == manager and entry["operation"] == operation:
            return entry["fieldsV1"]  # type: ignore[no-any-return]
    raise AssertionError(f"no {operation} entry of {manager}")


def created(obj: Obj, manager: str, scope: Scope = CONFIGMAPS) -> Obj:
    new = copy.deepcopy(obj)
    managedfields.update(None, new, manager=manager, scope=scope)
    return stored(new)


def updated(live: Obj, change: Any, manager: str, scope: Scope = CONFIGMAPS) -> Obj:
    new = copy.deepcopy(live)
    change(new)
    managedfields.update(live, new, manager=manager, scope=scope)
    return new


# ---- manager names ---------------------------------------------------------------------------

@pytest.mark.parametrize(("field_manager", "user_agent", "expected"), [
    ("kubectl-client-side-apply", "kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0",
     "kubectl-client-side-apply"),
    (None, "kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0", "kubectl"),
    (None, "python-requests/2.32.3", "python-requests"),
    ("", "OpenAPI-Generator/33.1.0/python", "OpenAPI-Generator"),
    (None, "tab\there/1", "tabhere"),
    (None, "", ""),
    (None, "x" * 200, "x" * 128),
])
def test_manager_is_field_manager_or_the_user_agent_program(
        field_manager: str | None, user_agent: str, expected: str) -> None:
    assert managedfields.manager_name(field_manager, user_agent) == expected


# ---- updates -----------------------------------------------------------------------------------

def test_create_records_an_update_entry_like_a_cluster() -> None:
    obj = created(configmap(a="1"), "kubectl-create")
    [entry] = obj["metadata"]["managedFields"]
    assert list(entry) == ["manager", "operation", "apiVersion", "time", "fieldsType",
                           "fieldsV1"]
    assert entry["manager"] == "kubectl-create"
    assert entry["operation"] == "Update"
    assert entry["apiVersion"] == "v1"
    assert entry["fieldsType"] == "FieldsV1"
    # Identity and system metadata are nobody's.
    assert entry["fieldsV1"] == {"f:data": {".": {}, "f:a": {}}}


def test_updates_by_one_manager_merge_into_its_entry() -> None:
    obj = created(configmap(a="1"), "kubectl-create")
    obj = updated(obj, lambda o: o["data"].update(b="2"), "kubectl-edit")
    obj = updated(obj, lambda o: o["data"].update(c="3"), "kubectl-edit")
    assert sorted(entries(obj)) == [("kubectl-create", "Update", ""),
                                    ("kubectl-edit", "Update", "")]
    assert fields(obj, "kubectl-edit") == {"f:data": {"f:b": {}, "f:c": {}}}
    assert fields(obj, "kubectl-create") == {"f:data": {".": {}, "f:a": {}}}


def test_update_taking_a_field_moves_it_between_managers() -> None:
    obj = created(configmap(a="1", b="1"), "kubectl-create")
    obj = updated(obj, lambda o: o["data"].update(a="2"), "kubectl-edit")
    assert fields(obj, "kubectl-create") == {"f:data": {".": {}, "f:b": {}}}
    assert fields(obj, "kubectl-edit") == {"f:data": {"f:a": {}}}


def test_a_write_that_changes_nothing_keeps_the_entries_and_times() -> None:
    obj = created(configmap(a="1"), "kubectl-create")
    obj["metadata"]["managedFields"][0]["time"] = "2020-01-01T00:00:00Z"
    again = updated(obj, lambda o: None, "kubectl-edit")
    assert again == obj


def test_a_later_write_stamps_the_time() -> None:
    obj = created(configmap(a="1"), "kubectl-create")
    obj["metadata"]["managedFields"][0]["time"] = "2020-01-01T00:00:00Z"
    obj = updated(obj, lambda o: o["data"].update(a="2"), "kubectl-create")
    assert obj["metadata"]["managedFields"][0]["time"] != "2020-01-01T00:00:00Z"


def test_status_writes_are_their_own_entry_and_main_writes_ignore_status() -> None:
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "web", "namespace": "default"},
              "spec": {"replicas": 1}, "status": {}}
    obj = created(deploy, "kubectl-create", DEPLOYMENTS)
    assert "f:status" not in fields(obj, "kubectl-create")
    obj = updated(obj, lambda o: o["status"].update(replicas=1), "kube-controller-manager",
                  DEPLOYMENT_STATUS)
    # Same second: ordered by manager name.
    assert entries(obj) == [("kube-controller-manager", "Update", "status"),
                            ("kubectl-create", "Update", "")]
    assert fields(obj, "kube-controller-manager") == {"f:status": {"f:replicas": {}}}


def test_managed_fields_sent_with_a_write_replace_the_stored_ones() -> None:
    obj = created(configmap(a="1"), "kubectl-create")
    entry = copy.deepcopy(obj["metadata"]["managedFields"][0])
    entry.update(manager="renamed", operation="Apply")
    again = updated(obj, lambda o: o["metadata"].update(managedFields=[entry]), "kubectl")
    assert entries(again) == [("renamed", "Apply", "")]


@pytest.mark.parametrize("reset", [[], [{}]])
def test_empty_managed_fields_clear_them_and_tracking_stops(reset: list[Obj]) -> None:
    obj = created(configmap(a="1"), "kubectl-create")
    cleared = updated(obj, lambda o: o["metadata"].update(managedFields=reset), "kubectl-patch")
    assert "managedFields" not in cleared["metadata"]
    later = updated(cleared, lambda o: o["data"].update(b="2"), "kubectl-edit")
    assert "managedFields" not in later["metadata"]


def test_undecodable_managed_fields_in_a_write_fall_back_to_the_stored_ones() -> None:
    obj = created(configmap(a="1"), "kubectl-create")
    bad = updated(obj, lambda o: o["metadata"].update(managedFields=[{"manager": "x"}]), "y")
    assert entries(bad) == [("kubectl-create", "Update", "")]


def test_more_than_ten_updaters_merge_the_oldest_into_ancient_changes() -> None:
    obj = created(configmap(), "m00")
    for i in range(1, 12):
        obj = updated(obj, lambda o, i=i: o["data"].update({f"k{i}": "v"}), f"m{i:02}")
        for entry in obj["metadata"]["managedFields"]:  # distinct times, in order of writing
            if entry["manager"] != "ancient-changes":
                entry["time"] = f"2025-01-01T00:00:{int(entry['manager'][1:]):02}Z"
    managers = [e["manager"] for e in obj["metadata"]["managedFields"]]
    assert len(managers) == 10
    assert "ancient-changes" in managers
    # m00 (the first) takes in m01 and m02; m00 created the empty data map.
    assert fields(obj, "ancient-changes") == {"f:data": {".": {}, "f:k1": {}, "f:k2": {}}}
    assert not {"m00", "m01", "m02"} & set(managers)


# ---- apply -------------------------------------------------------------------------------------

def applied(live: Obj | None, config: Obj, manager: str = "kubectl", *, force: bool = False,
            scope: Scope = CONFIGMAPS) -> Obj:
    return managedfields.apply(live, copy.deepcopy(config), manager=manager, force=force,
                               scope=scope)


def test_apply_creates_with_an_apply_entry() -> None:
    obj = applied(None, configmap(a="1"))
    [entry] = obj["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["apiVersion"]) == \
        ("kubectl", "Apply", "v1")
    assert entry["fieldsV1"] == {"f:data": {"f:a": {}}}
    assert obj["data"] == {"a": "1"}


def test_reapply_returns_the_stored_object_unchanged() -> None:
    live = stored(applied(None, configmap(a="1")))
    assert applied(live, configmap(a="1")) == live


def test_apply_entries_come_before_update_entries() -> None:
    live = created(configmap(a="1"), "kubectl-create")
    obj = applied(live, configmap(b="2"), "ci-tool")
    assert entries(obj) == [("ci-tool", "Apply", ""), ("kubectl-create", "Update", "")]


def test_conflict_is_409_worded_as_upstream() -> None:
    live = created(configmap(a="1"), "kubectl-client-side-apply")
    with pytest.raises(errors.StatusError) as info:
        applied(live, configmap(a="2"), "ci-tool")
    assert info.value.status == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" '
                   "using v1: .data.a",
        "reason": "Conflict",
        "details": {"causes": [{"reason": "FieldManagerConflict",
                                "message": 'conflict with "kubectl-client-side-apply" using v1',
                                "field": ".data.a"}]},
        "code": 409}


def test_several_conflicts_are_grouped_by_manager() -> None:
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "web", "namespace": "default"},
              "spec": {"replicas": 1, "template": {"spec": {"containers": [
                  {"name": "nginx", "image": "nginx:1"}]}}}}
    live = created(deploy, "kubectl-client-side-apply", DEPLOYMENTS)
    live = updated(live, lambda o: o["metadata"].update(labels={"x": "1"}), "kubectl-label",
                   DEPLOYMENTS)
    config = copy.deepcopy(deploy)
    config["spec"]["replicas"] = 3
    config["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    config["metadata"]["labels"] = {"x": "2"}
    with pytest.raises(errors.StatusError) as info:
        applied(live, config, "ci", scope=DEPLOYMENTS)
    assert info.value.status["message"] == (
        "Apply failed with 3 conflicts: "
        'conflicts with "kubectl-client-side-apply" using apps/v1:\n'
        "- .spec.replicas\n"
        '- .spec.template.spec.containers[name="nginx"].image\n'
        'conflicts with "kubectl-label" using apps/v1:\n'
        "- .metadata.labels.x")
    assert [c["field"] for c in info.value.status["details"]["causes"]] == [
        ".spec.replicas", '.spec.template.spec.containers[name="nginx"].image',
        ".metadata.labels.x"]


def test_force_takes_the_field() -> None:
    live = created(configmap(a="1"), "kubectl-client-side-apply")
    obj = applied(live, configmap(a="2"), "ci-tool", force=True)
    assert obj["data"] == {"a": "2"}
    assert fields(obj, "ci-tool", "Apply") == {"f:data": {"f:a": {}}}
    # The client-side applier keeps what it still owns: the data map itself.
    assert entries(obj) == [("ci-tool", "Apply", ""),
                            ("kubectl-client-side-apply", "Update", "")]
    assert fields(obj, "kubectl-client-side-apply") == {"f:data": {}}


@pytest.mark.parametrize(("body", "message"), [
    ([1, 2], "error decoding YAML: error unmarshaling JSON: while decoding JSON: json: cannot "
             "unmarshal array into Go value of type map[string]interface {}"),
    ("text", "error decoding YAML: error unmarshaling JSON: while decoding JSON: json: cannot "
             "unmarshal string into Go value of type map[string]interface {}"),
    (None, "invalid object type: /, Kind="),
    ({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cfg"}},
     "invalid object type: /v1, Kind=Secret"),
    ({**configmap(), "metadata": {"name": "cfg", "managedFields": []}},
     "metadata.managedFields must be nil"),
])
def test_bad_apply_bodies_are_400(body: Any, message: str) -> None:
    with pytest.raises(errors.StatusError) as info:
        managedfields.apply(None, body, manager="m", force=False, scope=CONFIGMAPS)
    assert (info.value.code, info.value.status["message"]) == (400, message)


def test_fields_the_schema_does_not_declare_are_500_as_upstream() -> None:
    with pytest.raises(errors.StatusError) as info:
        applied(None, {**configmap(), "spec": {}})
    assert info.value.code == 500
    assert info.value.status["message"] == (
        "failed to create typed patch object (default/cfg; /v1, Kind=ConfigMap): "
        ".spec: field not declared in schema")


def test_first_apply_to_an_untracked_object_credits_before_first_apply() -> None:
    live = stored(configmap(a="1", b="2"))
    obj = applied(live, configmap(a="1"), "ci-tool")
    assert entries(obj) == [("ci-tool", "Apply", ""), ("before-first-apply", "Update", "")]
    # a is co-owned: the same value was applied.
    assert fields(obj, "before-first-apply") == {"f:data": {".": {}, "f:a": {}, "f:b": {}}}


def test_kubectl_conflicts_covered_by_the_last_applied_annotation_are_forced() -> None:
    config = configmap(a="1")
    annotation = json.dumps(config)
    live = created({**config, "metadata": {**config["metadata"], "annotations": {
        managedfields.LAST_APPLIED_ANNOTATION: annotation}}}, "kubectl-client-side-apply")
    moved = configmap(a="2")
    obj = applied(live, moved, "kubectl")
    assert obj["data"] == {"a": "2"}
    # kubectl's server-side apply keeps the annotation in step.
    assert json.loads(obj["metadata"]["annotations"][managedfields.LAST_APPLIED_ANNOTATION]) \
        == moved
    # Another manager gets the conflict.
    with pytest.raises(errors.StatusError):
        applied(live, moved, "ci-tool")
