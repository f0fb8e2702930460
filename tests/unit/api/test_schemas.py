"""Decoding checks: the messages upstream's JSON decoder and strict decoding print."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from kajitori.api import schemas

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{
                "name": "nginx", "image": "nginx",
                "ports": [{"containerPort": 80}],
                "resources": {"limits": {"cpu": "500m", "memory": 1073741824}},
            }]},
        },
    },
}


def deployment(**changes: Any) -> dict[str, Any]:
    obj = copy.deepcopy(DEPLOYMENT)
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = obj
        for p in parents:
            target = target[int(p)] if isinstance(target, list) else target[p]
        target[last] = value
    return obj


def check_deployment(obj: dict[str, Any]) -> schemas.SchemaReport:
    return schemas.check(obj, group="apps", version="v1", kind="Deployment")


def test_definitions_and_resolve_still_work() -> None:
    name = schemas.definition_name("apps", "v1", "Deployment")
    assert name == "io.k8s.api.apps.v1.Deployment"
    spec = schemas.resolve(schemas.definitions()[name]["properties"]["spec"])
    assert "replicas" in spec["properties"]


def test_valid_deployment_reports_nothing() -> None:
    assert check_deployment(deployment()) == schemas.SchemaReport([], [])


def test_string_in_int32_field_is_worded_as_go_prints_it() -> None:
    report = check_deployment(deployment(spec__replicas="abc"))
    assert report.type_errors == [
        "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas "
        "of type int32"]


def test_type_error_path_names_struct_fields_only_not_list_indexes() -> None:
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "80"
    assert check_deployment(obj).type_errors == [
        "json: cannot unmarshal string into Go struct field ContainerPort."
        "spec.template.spec.containers.ports.containerPort of type int32"]


@pytest.mark.parametrize(("value", "message"), [
    (1.5, "number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32"),
    (2**31, "number 2147483648 into Go struct field DeploymentSpec.spec.replicas of type int32"),
    (True, "bool into Go struct field DeploymentSpec.spec.replicas of type int32"),
    ([1], "array into Go struct field DeploymentSpec.spec.replicas of type int32"),
    ({}, "object into Go struct field DeploymentSpec.spec.replicas of type int32"),
])
def test_int32_field_refuses_what_go_refuses(value: Any, message: str) -> None:
    assert check_deployment(deployment(spec__replicas=value)).type_errors == [
        "json: cannot unmarshal " + message]


def test_wrong_container_types_name_go_types() -> None:
    assert check_deployment(deployment(spec__paused="yes")).type_errors == [
        "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused "
        "of type bool"]
    assert check_deployment(deployment(spec__selector="app=web")).type_errors == [
        "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.selector "
        "of type v1.LabelSelector"]
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"] = {"name": "x"}
    assert check_deployment(obj).type_errors == [
        "json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec."
        "containers of type []v1.Container"]
    assert check_deployment(deployment(metadata__labels={"app": 1})).type_errors == [
        "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels "
        "of type string"]


def test_null_is_accepted_everywhere() -> None:
    obj = deployment(spec__replicas=None, spec__selector=None, metadata__labels={"a": None})
    assert check_deployment(obj) == schemas.SchemaReport([], [])


def test_type_errors_come_in_body_order() -> None:
    obj = deployment(metadata__labels={"app": 1}, spec__replicas="x")
    assert [e.split(" of type")[0].rsplit(".", 1)[1] for e in check_deployment(obj).type_errors] \
        == ["labels", "replicas"]


def test_unknown_fields_are_named_with_list_indexes_in_body_order() -> None:
    obj = deployment(metadata__labelz={"a": "b"})
    obj["spec"]["template"]["spec"]["containers"][0]["imagez"] = "nginx"
    obj["spec"]["replicaz"] = 3
    assert check_deployment(obj).unknown_fields == [
        "metadata.labelz", "spec.template.spec.containers[0].imagez", "spec.replicaz"]


def test_unknown_top_level_field_has_no_leading_dot() -> None:
    assert check_deployment(deployment(spek={})).unknown_fields == ["spek"]


def test_map_of_structs_names_unknown_fields_under_the_key() -> None:
    report = schemas.check(
        {"spec": {"devices": {"requests": [{"name": "gpu", "exactly": {
            "deviceClassName": "x", "selectorz": []}}]}}},
        group="resource.k8s.io", version="v1beta2", kind="ResourceClaim")
    assert report.unknown_fields == ["spec.devices.requests[0].exactly.selectorz"]


def test_int_or_string_accepts_both_and_refuses_floats_alone() -> None:
    assert check_deployment(deployment()).type_errors == []
    obj = deployment(spec__strategy={"rollingUpdate": {"maxSurge": 1.5, "maxUnavailable": "x"}})
    assert check_deployment(obj).type_errors == [
        "json: cannot unmarshal number 1.5 into Go struct field RollingUpdateDeployment."
        "spec.strategy.rollingUpdate.maxSurge of type int32"]


def test_int_or_string_failure_stops_decoding_like_a_returned_error() -> None:
    obj = deployment(spec__replicaz=1, spec__strategy={"rollingUpdate": {"maxSurge": True}})
    report = check_deployment(obj)
    assert report.type_errors[0].startswith("json: cannot unmarshal bool into Go struct field "
                                            "RollingUpdateDeployment.spec.strategy")
    assert report.unknown_fields == []


@pytest.mark.parametrize("value", ["100m", "1Gi", 2, 0.5, "1e3", " 2 "])
def test_quantity_accepts_strings_and_numbers(value: Any) -> None:
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = value
    assert check_deployment(obj).type_errors == []


@pytest.mark.parametrize(("value", "message"), [
    ("abc", schemas.QUANTITY_FORMAT_WRONG),
    (True, schemas.QUANTITY_FORMAT_WRONG),
    ({}, schemas.QUANTITY_FORMAT_WRONG),
    ("5i", schemas.QUANTITY_SUFFIX),
    ("1e", schemas.QUANTITY_SUFFIX),
])
def test_quantity_errors_are_parse_quantity_errors(value: Any, message: str) -> None:
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = value
    assert check_deployment(obj).type_errors == [message]


def test_quantity_message_is_upstreams() -> None:
    assert schemas.QUANTITY_FORMAT_WRONG == (
        "quantities must match the regular expression "
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


def configmap_report(obj: dict[str, Any]) -> schemas.SchemaReport:
    return schemas.check(obj, group="", version="v1", kind="ConfigMap")


@pytest.mark.parametrize(("value", "message"), [
    ("2025-01-02T03:04:05Z", None),
    ("2025-01-02T03:04:05.123+02:00", None),
    ("abc", 'parsing time "abc" as "2006-01-02T15:04:05Z07:00": cannot parse "abc" as "2006"'),
    ("2025-13-01T00:00:00Z", 'parsing time "2025-13-01T00:00:00Z": month out of range'),
    ("2025-02-30T00:00:00Z", 'parsing time "2025-02-30T00:00:00Z": day out of range'),
    ("2025-01-02", 'parsing time "2025-01-02" as "2006-01-02T15:04:05Z07:00": '
                   'cannot parse "" as "T"'),
    ("2025-01-02T03:04:05Zx", 'parsing time "2025-01-02T03:04:05Zx": extra text: "x"'),
    (5, "json: cannot unmarshal number into Go struct field "
        "ObjectMeta.metadata.creationTimestamp of type string"),
])
def test_time_is_rfc3339(value: Any, message: str | None) -> None:
    report = configmap_report({"metadata": {"creationTimestamp": value}})
    assert report.type_errors == ([message] if message else [])


def test_configmap_data_values_are_strings_and_binary_data_base64() -> None:
    report = configmap_report({"data": {"a": 1}, "binaryData": {"b": "YWJj", "c": "YW=j"}})
    assert report.type_errors == [
        "json: cannot unmarshal number into Go struct field ConfigMap.data of type string",
        "illegal base64 data at input byte 2"]


@pytest.mark.parametrize(("data", "offset"), [
    (b"YWJj", None), (b"YW\nJj", None), (b"YWI=", None), (b"YQ==", None),
    (b"YWJ", 0), (b"Y", 0), (b"YW?j", 2), (b"YQ=", 3), (b"YQ==YQ==", 4), (b"=AAA", 0),
])
def test_base64_error_offset_is_gos(data: bytes, offset: int | None) -> None:
    assert schemas.base64_error_offset(data) == offset


def test_raw_extension_and_fields_accept_anything() -> None:
    report = schemas.check(
        {"data": {"anything": [1, {"x": True}]}, "revision": 1},
        group="apps", version="v1", kind="ControllerRevision")
    assert report == schemas.SchemaReport([], [])
    report = configmap_report({"metadata": {"managedFields": [
        {"manager": "kubectl", "fieldsV1": {"f:data": {"f:x": {}}}}]}})
    assert report == schemas.SchemaReport([], [])


def test_unknown_kind_is_not_checked() -> None:
    report = schemas.check({"spec": {"x": 1}}, group="example.com", version="v1", kind="Widget")
    assert report == schemas.SchemaReport([], [])


def test_check_does_not_change_the_object() -> None:
    obj = deployment(spec__replicaz=1)
    before = copy.deepcopy(obj)
    check_deployment(obj)
    assert obj == before


def test_prune_drops_unknown_fields_in_place() -> None:
    obj = deployment(spec__replicaz=1)
    obj["spec"]["template"]["spec"]["containers"][0]["imagez"] = "x"
    schemas.prune(obj, group="apps", version="v1", kind="Deployment")
    assert obj == DEPLOYMENT


def test_duplicate_fields_fast_path_returns_the_object() -> None:
    raw = orjson.dumps(DEPLOYMENT)
    assert schemas.duplicate_fields(raw) == (DEPLOYMENT, [])


def test_colons_inside_strings_are_not_duplicates() -> None:
    assert schemas.duplicate_fields(b'{"a" : "x\\" : y", "b": ":"}') == (
        {"a": 'x" : y', "b": ":"}, [])


def test_duplicate_fields_are_named_by_path() -> None:
    raw = (b'{"spec": {"replicas": 1, "replicas": 2, "template": {"spec": {"containers": '
           b'[{"name": "a", "name": "b"}]}}}, "metadata": {"labels": {"x": "1", "x": "2"}}}')
    obj, duplicates = schemas.duplicate_fields(raw)
    assert obj["spec"]["replicas"] == 2
    assert obj["spec"]["template"]["spec"]["containers"][0]["name"] == "b"
    assert duplicates == ["spec.replicas", "spec.template.spec.containers[0].name",
                          "metadata.labels.x"]


def test_duplicate_objects_merge_as_go_decodes_into_the_same_struct() -> None:
    obj, duplicates = schemas.duplicate_fields(
        b'{"spec": {"replicas": 1, "paused": false}, "spec": {"paused": true}}')
    assert obj == {"spec": {"replicas": 1, "paused": True}}
    assert duplicates == ["spec"]


def test_duplicate_fields_refuses_malformed_json() -> None:
    with pytest.raises(ValueError, match=r"\w"):
        schemas.duplicate_fields(b'{"a": ')
