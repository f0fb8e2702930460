"""A CustomResourceDefinition's own validation, worded as upstream (apiextensions v1)."""

from __future__ import annotations

import copy
from typing import Any

from kajitori.api.apiextensions import customresourcedefinition as crds
from kajitori.api.apiextensions import validation

Obj = dict[str, Any]


def crd(**spec: Any) -> Obj:
    base: Obj = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"plural": "widgets", "kind": "Widget"},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {"type": "object"}}}]}}
    base["spec"].update(spec)
    crds.apply_defaults(base)
    crds.CustomResourceDefinitionStrategy().prepare_for_create(base)
    return base


def errors(obj: Obj, old: Obj | None = None) -> list[str]:
    return [str(e) for e in validation.validate(obj, old=old)]


def test_a_minimal_crd_is_valid_after_defaulting() -> None:
    obj = crd()
    assert obj["spec"]["names"] == {"plural": "widgets", "kind": "Widget",
                                    "singular": "widget", "listKind": "WidgetList"}
    assert obj["spec"]["conversion"] == {"strategy": "None"}
    assert obj["status"] == {"storedVersions": ["v1"]}
    assert errors(obj) == []


def test_name_must_be_plural_dot_group() -> None:
    obj = crd()
    obj["metadata"]["name"] = "gadgets.example.com"
    assert errors(obj) == ['metadata.name: Invalid value: "gadgets.example.com": must be '
                           'spec.names.plural+"."+spec.group']


def test_group_needs_a_dot_and_scope_a_known_value() -> None:
    obj = crd(group="example", scope="Global")
    obj["metadata"]["name"] = "widgets.example"
    assert errors(obj) == [
        'spec.group: Invalid value: "example": should be a domain with at least one dot',
        'spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"']


def test_exactly_one_storage_version() -> None:
    obj = crd()
    obj["spec"]["versions"].append(copy.deepcopy(obj["spec"]["versions"][0]) | {"name": "v2"})
    found = errors(obj)
    assert len(found) == 2
    assert found[0].startswith("spec.versions: Invalid value: ")
    assert found[0].endswith(": must have exactly one version marked as storage version")
    # Only the first storage version was recorded as stored, as upstream's strategy does.
    assert found[1] == ('status.storedVersions: Invalid value: []string{"v1"}: must have the '
                        "storage version v2")


def test_schemas_are_required_and_structural() -> None:
    obj = crd()
    del obj["spec"]["versions"][0]["schema"]
    assert errors(obj) == ["spec.versions[0].schema.openAPIV3Schema: Required value: schemas "
                           "are required"]
    obj = crd()
    obj["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = {
        "type": "object", "properties": {"spec": {"properties": {}}}}
    assert errors(obj) == [
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must "
        "not be empty for specified object fields"]


def test_defaults_must_match_their_schema() -> None:
    obj = crd()
    obj["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = {
        "type": "object", "properties": {"spec": {"type": "object", "properties": {
            "replicas": {"type": "integer", "default": "one"}}}}}
    assert errors(obj) == [
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[replicas].default:"
        ' Invalid value: "string":  in body must be of type integer: "string"']


def test_printer_columns_and_scale_paths() -> None:
    obj = crd()
    version = obj["spec"]["versions"][0]
    version["additionalPrinterColumns"] = [{"name": "X", "type": "text", "jsonPath": "spec.x"}]
    version["subresources"] = {"scale": {"specReplicasPath": ".status.replicas",
                                         "statusReplicasPath": ""}}
    assert errors(obj) == [
        'spec.versions[0].subresources.scale.specReplicasPath: Invalid value: '
        '".status.replicas": should be a json path under .spec',
        "spec.versions[0].subresources.scale.statusReplicasPath: Required value",
        'spec.versions[0].additionalPrinterColumns[0].type: Invalid value: "text": must be one '
        "of boolean,date,integer,number,string",
        'spec.versions[0].additionalPrinterColumns[0].JSONPath: Invalid value: "spec.x": must '
        "be a simple json path starting with ."]


def test_names_are_dns_labels_and_kind_differs_from_list_kind() -> None:
    obj = crd(names={"plural": "widgets", "kind": "Widget", "listKind": "Widget",
                     "shortNames": ["W"]})
    assert errors(obj) == [
        'spec.names.shortNames[0]: Invalid value: "W": a DNS-1035 label must consist of lower '
        "case alphanumeric characters or '-', start with an alphabetic character, and end with "
        "an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation "
        "is '[a-z]([-a-z0-9]*[a-z0-9])?')",
        'spec.names.listKind: Invalid value: "Widget": kind and listKind may not be the same']


def test_protected_groups_need_api_approval() -> None:
    obj = crd(group="widgets.k8s.io")
    obj["metadata"]["name"] = "widgets.widgets.k8s.io"
    assert errors(obj) == [
        "metadata.annotations[api-approved.kubernetes.io]: Required value: protected groups "
        'must have approval annotation "api-approved.kubernetes.io", see '
        "https://github.com/kubernetes/enhancements/pull/1111"]
    obj["metadata"]["annotations"] = {"api-approved.kubernetes.io": "unapproved, testing"}
    assert errors(obj) == []


def test_group_and_plural_are_immutable_kind_once_established() -> None:
    old = crd()
    old["metadata"]["resourceVersion"] = "5"
    crds.set_condition(old, crds.ESTABLISHED, crds.TRUE, crds.INITIAL_NAMES_ACCEPTED)
    new = copy.deepcopy(old)
    new["spec"]["names"]["kind"] = "Gadget"
    new["spec"]["names"]["listKind"] = "GadgetList"
    assert errors(new, old) == ['spec.names.kind: Invalid value: "Gadget": field is immutable']
