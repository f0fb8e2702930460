"""The structured merge: field sets of objects, the apply merge with the schema's list and map
semantics, pruning of what a manager stops applying, co-ownership, conflicts and force."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kajitori.api import fieldpath
from kajitori.api import serversideapply as ssa

Obj = dict[str, Any]
POD = ssa.schema_for("", "v1", "Pod")
DEPLOYMENT = ssa.schema_for("apps", "v1", "Deployment")
SERVICE = ssa.schema_for("", "v1", "Service")


def pod(*containers: Obj, **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": list(containers), **spec}}


def fields_of(obj: Obj, node: ssa.Node = POD) -> Obj:
    return ssa.to_field_set(obj, node).to_fields_v1()


def apply(live: Obj, config: Obj, managers: ssa.ManagedFields, manager: str = "a", *,
          force: bool = False) -> tuple[Obj | None, ssa.ManagedFields]:
    before = copy.deepcopy((live, config))
    result = ssa.apply(live, config, POD, managers, manager, api_version="v1", force=force)
    assert (live, config) == before  # inputs untouched
    return result


def owned(managers: ssa.ManagedFields, manager: str) -> Obj:
    return managers[manager].fields.to_fields_v1()


# ---- field sets ------------------------------------------------------------------------------

def test_field_set_of_a_configuration() -> None:
    config = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "web", "labels": {"app": "web"}},
              "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                       "template": {"spec": {"containers": [
                           {"name": "nginx", "image": "nginx", "args": ["-g"],
                            "ports": [{"containerPort": 80}]}]}}}}
    assert fields_of(config, DEPLOYMENT) == {
        "f:apiVersion": {}, "f:kind": {},
        "f:metadata": {"f:labels": {"f:app": {}}, "f:name": {}},
        "f:spec": {"f:replicas": {}, "f:selector": {}, "f:template": {"f:spec": {
            "f:containers": {'k:{"name":"nginx"}': {
                ".": {}, "f:args": {}, "f:image": {}, "f:name": {},
                # protocol is a key with a default: the item is TCP's.
                "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {
                    ".": {}, "f:containerPort": {}}}}}}}}}


def test_field_set_of_sets_empty_maps_and_nulls() -> None:
    obj = {"metadata": {"finalizers": ["b", "a"], "annotations": {}},
           "spec": {"nodeSelector": {"disk": "ssd"}, "securityContext": None}}
    assert fields_of(obj) == {
        "f:metadata": {"f:annotations": {}, "f:finalizers": {'v:"a"': {}, 'v:"b"': {}}},
        "f:spec": {"f:nodeSelector": {}, "f:securityContext": {}}}


# ---- validation ----------------------------------------------------------------------------

def test_validation_names_undeclared_fields_and_duplicate_keys() -> None:
    with pytest.raises(ssa.ValidationError) as info:
        ssa.validate({"spec": {"replicaz": 1}}, DEPLOYMENT)
    assert str(info.value) == ".spec.replicaz: field not declared in schema"
    with pytest.raises(ssa.ValidationError) as info:
        ssa.validate(pod({"name": "a"}, {"name": "a"}), POD)
    assert str(info.value) == '.spec.containers: duplicate entries for key [name="a"]'
    with pytest.raises(ssa.ValidationError) as info:
        ssa.validate({"spec": {"replicas": "two", "paused": 1}}, DEPLOYMENT)
    assert str(info.value) == ("errors:\n  .spec.replicas: expected numeric (int or float), "
                               "got string\n  .spec.paused: expected boolean, got 1")


# ---- merge ---------------------------------------------------------------------------------------

def test_map_list_items_merge_by_key_and_keep_other_items_in_place() -> None:
    live = pod({"name": "a", "image": "a:1", "imagePullPolicy": "Always"},
               {"name": "b", "image": "b:1"})
    merged = ssa.merge(live, pod({"name": "b", "image": "b:2"}), POD)
    assert merged["spec"]["containers"] == [
        {"name": "a", "image": "a:1", "imagePullPolicy": "Always"},
        {"name": "b", "image": "b:2"}]


def test_map_list_follows_the_configuration_order_for_shared_items() -> None:
    live = pod({"name": "a"}, {"name": "x"}, {"name": "b"})
    merged = ssa.merge(live, pod({"name": "b"}, {"name": "a"}, {"name": "c"}), POD)
    assert [c["name"] for c in merged["spec"]["containers"]] == ["x", "b", "a", "c"]


def test_sets_merge_as_sets() -> None:
    live = {"metadata": {"finalizers": ["a", "b"]}}
    merged = ssa.merge(live, {"metadata": {"finalizers": ["c", "a"]}}, POD)
    assert merged["metadata"]["finalizers"] == ["c", "a", "b"]


def test_atomic_lists_and_maps_are_replaced_whole() -> None:
    live = pod({"name": "a", "args": ["x", "y"]}, nodeSelector={"disk": "ssd", "zone": "a"})
    merged = ssa.merge(live, pod({"name": "a", "args": ["z"]}, nodeSelector={"zone": "b"}), POD)
    assert merged["spec"]["containers"][0]["args"] == ["z"]
    assert merged["spec"]["nodeSelector"] == {"zone": "b"}


def test_granular_maps_merge_by_key() -> None:
    live = {"metadata": {"labels": {"a": "1", "b": "2"}}}
    merged = ssa.merge(live, {"metadata": {"labels": {"b": "3", "c": "4"}}}, POD)
    assert merged["metadata"]["labels"] == {"a": "1", "b": "3", "c": "4"}


def test_a_null_field_in_the_configuration_removes_the_field() -> None:
    merged = ssa.merge({"spec": {"hostname": "h", "subdomain": "s"}},
                       {"spec": {"hostname": None}}, POD)
    assert merged == {"spec": {"subdomain": "s"}}


# ---- compare -----------------------------------------------------------------------------------

def test_compare_against_the_zero_object_counts_go_struct_fields_as_present() -> None:
    new = pod({"name": "a", "image": "a:1"}, restartPolicy="Always")
    cmp = ssa.compare({}, new, POD)
    # spec and metadata are Go structs (present, empty) in the zero object: not added
    # themselves; containers is a list Go writes as null; the container item is new.
    assert cmp.added.to_fields_v1() == {
        "f:apiVersion": {}, "f:kind": {}, "f:metadata": {"f:name": {}},
        "f:spec": {"f:containers": {'k:{"name":"a"}': {".": {}, "f:image": {}, "f:name": {},
                                                       "f:resources": {}}},
                   "f:restartPolicy": {}}}
    assert cmp.modified.empty()
    assert cmp.removed.empty()


def test_compare_reports_modified_and_removed() -> None:
    old = pod({"name": "a", "image": "a:1", "args": ["x"]}, hostname="h")
    new = pod({"name": "a", "image": "a:2"}, subdomain="s")
    cmp = ssa.compare(old, new, POD)
    assert cmp.modified.to_fields_v1() == {
        "f:spec": {"f:containers": {'k:{"name":"a"}': {"f:image": {}}}}}
    assert cmp.removed.to_fields_v1() == {
        "f:spec": {"f:containers": {'k:{"name":"a"}': {"f:args": {}}}, "f:hostname": {}}}
    assert cmp.added.to_fields_v1() == {"f:spec": {"f:subdomain": {}}}


# ---- apply -------------------------------------------------------------------------------------

def test_first_apply_owns_the_configuration() -> None:
    config = pod({"name": "a", "image": "a:1"})
    new, managers = apply({}, config, {})
    assert new == config
    assert owned(managers, "a") == fields_of(config)
    assert managers["a"].applied
    assert managers["a"].api_version == "v1"


def test_reapplying_the_same_configuration_changes_nothing() -> None:
    config = pod({"name": "a", "image": "a:1"})
    live, managers = apply({}, config, {})
    assert live is not None
    again, managers_again = apply(live, config, managers)
    assert again is None
    assert managers_again == managers


def test_fields_no_longer_applied_are_removed() -> None:
    live, managers = apply({}, pod({"name": "a", "image": "a:1", "args": ["x"]},
                                   {"name": "b", "image": "b:1"}, hostname="h"), {})
    assert live is not None
    new, managers = apply(live, pod({"name": "a", "image": "a:1"}), managers)
    assert new == pod({"name": "a", "image": "a:1"})
    assert owned(managers, "a") == fields_of(pod({"name": "a", "image": "a:1"}))


def test_fields_another_manager_owns_are_kept_when_omitted() -> None:
    config = pod({"name": "a", "image": "a:1"}, hostname="h")
    live, managers = apply({}, config, {})
    assert live is not None
    # b applies the same hostname: both own it.
    live2, managers = apply(live, {"spec": {"hostname": "h"}}, managers, "b")
    assert live2 is None
    assert owned(managers, "b") == {"f:spec": {"f:hostname": {}}}
    new, managers = apply(live, pod({"name": "a", "image": "a:1"}), managers)
    assert new is None  # hostname stays: b still owns it
    assert owned(managers, "a") == fields_of(pod({"name": "a", "image": "a:1"}))
    assert owned(managers, "b") == {"f:spec": {"f:hostname": {}}}


def test_unowned_defaults_stay_when_their_list_item_stays() -> None:
    live, managers = apply({}, pod({"name": "a", "image": "a:1", "args": ["x"]}), {})
    assert live is not None
    live["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"  # set by defaulting
    new, _ = apply(live, pod({"name": "a", "image": "a:1"}), managers)
    assert new is not None
    assert new["spec"]["containers"] == [{"name": "a", "image": "a:1",
                                          "imagePullPolicy": "IfNotPresent"}]


def test_changing_a_field_another_manager_owns_is_a_conflict() -> None:
    live, managers = apply({}, pod({"name": "a", "image": "a:1"}), {}, "owner")
    assert live is not None
    with pytest.raises(ssa.Conflicts) as info:
        apply(live, pod({"name": "a", "image": "a:2"}), managers, "other")
    assert info.value.conflicts == [
        ("owner", ("f:spec", "f:containers", 'k:{"name":"a"}', "f:image"))]


def test_conflicts_list_every_field_grouped_by_manager() -> None:
    live, managers = apply({}, pod({"name": "a", "image": "a:1"}, hostname="h"), {}, "m1")
    assert live is not None
    live, managers2 = apply(live, {"spec": {"subdomain": "s"}}, managers, "m2")
    assert live is not None
    with pytest.raises(ssa.Conflicts) as info:
        apply(live, pod({"name": "a", "image": "a:2"}, hostname="x", subdomain="y"),
              managers2, "m3")
    assert info.value.conflicts == [
        ("m1", ("f:spec", "f:hostname")),
        ("m1", ("f:spec", "f:containers", 'k:{"name":"a"}', "f:image")),
        ("m2", ("f:spec", "f:subdomain"))]


def test_applying_the_same_value_shares_ownership() -> None:
    live, managers = apply({}, pod({"name": "a", "image": "a:1"}), {}, "owner")
    assert live is not None
    new, managers = apply(live, pod({"name": "a", "image": "a:1"}), managers, "other")
    assert new is None
    assert owned(managers, "owner") == owned(managers, "other")


def test_force_takes_ownership_from_the_other_manager() -> None:
    live, managers = apply({}, pod({"name": "a", "image": "a:1"}, hostname="h"), {}, "owner")
    assert live is not None
    new, managers = apply(live, pod({"name": "a", "image": "a:2"}), managers, "other",
                          force=True)
    assert new is not None
    assert new["spec"]["containers"][0]["image"] == "a:2"
    image = ("f:spec", "f:containers", 'k:{"name":"a"}', "f:image")
    assert managers["other"].fields.has(image)
    assert not managers["owner"].fields.has(image)
    assert managers["owner"].fields.has(("f:spec", "f:hostname"))


def test_a_manager_left_with_nothing_disappears() -> None:
    live, managers = apply({}, {"spec": {"hostname": "h"}}, {}, "owner")
    assert live is not None
    _, managers = apply(live, {"spec": {"hostname": "x"}}, managers, "other", force=True)
    assert set(managers) == {"other"}


def test_ignored_fields_are_never_owned() -> None:
    status = fieldpath.Set({"f:status"})
    _, managers = ssa.apply({}, {"spec": {"hostname": "h"}, "status": {"phase": "Running"}},
                            POD, {}, "a", api_version="v1", force=False, ignored=status)
    assert owned(managers, "a") == {"f:spec": {"f:hostname": {}}}


def test_service_ports_merge_by_port_and_protocol() -> None:
    live = {"spec": {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080},
                               {"port": 80, "protocol": "UDP"}]}}
    merged = ssa.merge(live, {"spec": {"ports": [{"port": 80, "name": "http"}]}}, SERVICE)
    assert merged["spec"]["ports"] == [
        {"port": 80, "protocol": "TCP", "targetPort": 8080, "name": "http"},
        {"port": 80, "protocol": "UDP"}]


# ---- update --------------------------------------------------------------------------------------

def test_update_gives_changed_fields_to_the_writer_and_takes_them_from_others() -> None:
    live, managers = apply({}, pod({"name": "a", "image": "a:1"}, hostname="h"), {}, "applier")
    assert live is not None
    new = copy.deepcopy(live)
    new["spec"]["containers"][0]["image"] = "a:2"
    del new["spec"]["hostname"]
    out = ssa.update(live, new, POD, managers, "editor", api_version="v1")
    assert owned(out, "editor") == {
        "f:spec": {"f:containers": {'k:{"name":"a"}': {"f:image": {}}}}}
    assert not out["editor"].applied
    applier = out["applier"].fields
    assert not applier.has(("f:spec", "f:hostname"))
    assert not applier.has(("f:spec", "f:containers", 'k:{"name":"a"}', "f:image"))
    assert applier.has(("f:spec", "f:containers", 'k:{"name":"a"}', "f:name"))


def test_update_that_changes_nothing_changes_no_owner() -> None:
    live, managers = apply({}, pod({"name": "a"}), {}, "applier")
    assert live is not None
    assert ssa.update(live, copy.deepcopy(live), POD, managers, "editor",
                      api_version="v1") == managers
