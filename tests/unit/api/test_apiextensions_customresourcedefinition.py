"""The CustomResourceDefinition strategy, conditions and discovery entries."""

from __future__ import annotations

import copy

from kajitori.api.apiextensions import customresourcedefinition as crds


def crd() -> dict:
    obj = {"metadata": {"name": "widgets.example.com", "uid": "u", "resourceVersion": "3"},
           "spec": {"group": "example.com", "scope": "Cluster",
                    "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"],
                              "categories": ["all"]},
                    "versions": [
                        {"name": "v1beta1", "served": True, "storage": False},
                        {"name": "v1", "served": True, "storage": True,
                         "subresources": {"status": {}, "scale": {}}},
                        {"name": "v1alpha1", "served": False, "storage": False}]}}
    crds.apply_defaults(obj)
    return obj


def test_create_resets_status_to_the_stored_version_and_starts_generation() -> None:
    obj = crd()
    obj["status"] = {"acceptedNames": {"plural": "x"}}
    crds.CustomResourceDefinitionStrategy().prepare_for_create(obj)
    assert obj["status"] == {"storedVersions": ["v1"]}
    assert obj["metadata"]["generation"] == 1


def test_update_keeps_status_bumps_generation_on_spec_and_records_new_storage() -> None:
    old = crd()
    strategy = crds.CustomResourceDefinitionStrategy()
    strategy.prepare_for_create(old)
    new = copy.deepcopy(old)
    new["status"] = {"storedVersions": []}
    new["spec"]["versions"][0]["storage"], new["spec"]["versions"][1]["storage"] = True, False
    strategy.prepare_for_update(new, old)
    assert new["status"] == {"storedVersions": ["v1", "v1beta1"]}
    assert new["metadata"]["generation"] == 2


def test_first_delete_adds_the_cleanup_finalizer_and_terminating() -> None:
    obj = crd()
    updated = crds.CustomResourceDefinitionStrategy().prepare_for_delete(obj)
    assert updated["metadata"]["finalizers"] == [crds.CLEANUP_FINALIZER]
    (condition,) = updated["status"]["conditions"]
    assert (condition["type"], condition["status"], condition["reason"],
            condition["message"]) == (
        "Terminating", "True", "InstanceDeletionPending",
        "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon")
    assert "finalizers" not in obj["metadata"]  # the stored object is untouched


def test_set_condition_moves_the_transition_time_only_on_status_change() -> None:
    obj = crd()
    crds.set_condition(obj, crds.ESTABLISHED, crds.TRUE, crds.INITIAL_NAMES_ACCEPTED)
    obj["status"]["conditions"][0]["lastTransitionTime"] = "2020-01-01T00:00:00Z"
    crds.set_condition(obj, crds.ESTABLISHED, crds.TRUE, ("Other", "again"))
    assert obj["status"]["conditions"][0]["lastTransitionTime"] == "2020-01-01T00:00:00Z"
    assert obj["status"]["conditions"][0]["reason"] == "Other"
    crds.set_condition(obj, crds.ESTABLISHED, crds.FALSE, crds.NOT_ACCEPTED)
    assert obj["status"]["conditions"][0]["lastTransitionTime"] != "2020-01-01T00:00:00Z"


def test_served_versions_sort_kube_aware() -> None:
    assert crds.sort_versions(["v1beta1", "foo", "v2", "v1", "v10alpha1", "v1beta2"]) == [
        "v2", "v1", "v1beta2", "v1beta1", "v10alpha1", "foo"]
    assert crds.served_versions(crd()) == ["v1beta1", "v1"]


def test_served_resource_uses_accepted_names_and_lists_subresources() -> None:
    obj = crd()
    obj["status"] = {"acceptedNames": {"plural": "widgets", "singular": "widget",
                                       "kind": "Widget", "listKind": "WidgetList"}}
    resource = crds.served_resource(obj, "v1")
    assert (resource.group, resource.version, resource.kind, resource.namespaced) == (
        "example.com", "v1", "Widget", False)
    assert resource.short_names == ()  # not accepted yet
    assert resource.verbs == ("delete", "deletecollection", "get", "list", "patch", "create",
                              "update", "watch")
    assert [(s.name, s.group, s.version, s.kind) for s in resource.subresources] == [
        ("status", "example.com", "v1", "Widget"), ("scale", "autoscaling", "v1", "Scale")]
