"""kajitori.api.protobuf: kubectl's protobuf bodies decode to the JSON it would have sent.

Two kinds of evidence. protobuf_fixtures/ holds bodies captured from the real kubectl 1.33 and
1.37 (`<command>.kubectl-1.3x.pb`) for one command each, beside the JSON body kubectl 1.31 sent
for the same command (`<command>.kubectl-1.31.json`); the decoded protobuf must equal that JSON
less the `null`s and `{}`s Go's encoder always writes. The other tests encode messages by hand
(field numbers from upstream's generated.proto) to pin each rule of the decoder.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import Any

import pytest

from kajitori.api import errors, protobuf

FIXTURES = Path(__file__).parent / "protobuf_fixtures"
CAPTURED = sorted(FIXTURES.glob("*.pb"))
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


# --- a tiny test-side encoder ----------------------------------------------------------------


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negatives as Go writes them: ten bytes, sign-extended
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


def num(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def msg(number: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(data)) + data


def entry(number: int, key: str, value: bytes) -> bytes:
    """A map entry whose value is already encoded as field 2."""
    return msg(number, msg(1, key) + value)


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = msg(1, api_version) + msg(2, kind)
    return protobuf.MAGIC + msg(1, type_meta) + msg(2, raw) + msg(3, "") + msg(4, "")


def object_meta(name: str, **extra: bytes) -> bytes:
    """ObjectMeta as Go writes it: every non-pointer field, zero or not."""
    return msg(1, msg(1, name) + msg(2, "") + msg(3, "default") + msg(4, "") + msg(5, "")
               + msg(6, "") + num(7, 0) + msg(8, b"") + b"".join(extra.values()))


def decode_error(body: bytes) -> errors.StatusError:
    with pytest.raises(errors.StatusError) as caught:
        protobuf.decode(body)
    assert caught.value.code == 400
    assert caught.value.reason == "BadRequest"
    return caught.value


# --- captured from kubectl -------------------------------------------------------------------


def without_go_empties(value: Any) -> Any:
    if isinstance(value, dict):
        pruned = {k: without_go_empties(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v is not None and v != {}}
    if isinstance(value, list):
        return [without_go_empties(v) for v in value]
    return value


def without_clock(obj: dict[str, Any]) -> dict[str, Any]:
    """Drop the approval time kubectl takes from its own clock, after checking its form."""
    for condition in obj.get("status", {}).get("conditions", ()):
        assert RFC3339.match(condition.pop("lastUpdateTime"))
    return obj


@pytest.mark.parametrize("path", CAPTURED, ids=[p.name for p in CAPTURED])
def test_captured_body_decodes_to_the_json_kubectl_sends(path: Path) -> None:
    command = path.name.split(".kubectl-")[0]
    expected = json.loads((FIXTURES / f"{command}.kubectl-1.31.json").read_text())

    decoded = protobuf.decode(path.read_bytes())

    assert without_clock(decoded) == without_clock(without_go_empties(expected))


def test_captured_fixtures_cover_both_protobuf_kubectls() -> None:
    versions = {p.name.split(".kubectl-")[1] for p in CAPTURED}
    assert versions == {"1.33.pb", "1.37.pb"}
    assert len(CAPTURED) >= 30


def test_captured_deployment_keeps_replicas_zero() -> None:
    body = (FIXTURES / "deployment-replicas-0.kubectl-1.33.pb").read_bytes()

    spec = protobuf.decode(body)["spec"]

    assert spec["replicas"] == 0
    assert spec["template"]["spec"]["containers"] == [
        {"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}]}]


# --- hand-encoded messages -------------------------------------------------------------------


def test_configmap_data_and_binary_data() -> None:
    raw = (object_meta("cm", labels=entry(11, "app", msg(2, "web")))
           + entry(2, "a", msg(2, "b")) + entry(2, "empty", msg(2, ""))
           + entry(3, "blob", msg(2, b"\x00\xff")) + num(4, 0))

    obj = protobuf.decode(envelope("v1", "ConfigMap", raw))

    assert obj == {"kind": "ConfigMap", "apiVersion": "v1",
                   "metadata": {"name": "cm", "namespace": "default", "labels": {"app": "web"}},
                   "data": {"a": "b", "empty": ""}, "binaryData": {"blob": "AP8="},
                   "immutable": False}


def test_secret_bytes_data_is_base64() -> None:
    raw = object_meta("s") + entry(2, "password", msg(2, b"hunter2")) + msg(3, "Opaque")

    obj = protobuf.decode(envelope("v1", "Secret", raw))

    assert obj["data"] == {"password": "aHVudGVyMg=="}
    assert obj["type"] == "Opaque"
    assert "immutable" not in obj


def test_deployment_keeps_pointer_zero_and_drops_value_zeros() -> None:
    container = msg(1, "nginx") + msg(2, "nginx") + msg(5, "") + msg(8, b"")
    pod_spec = msg(2, container) + msg(3, "")
    spec = (num(1, 0) + msg(2, entry(1, "app", msg(2, "web")))
            + msg(3, msg(1, b"") + msg(2, pod_spec)) + msg(4, b"") + num(5, 0) + num(7, 0))
    raw = object_meta("web") + msg(2, spec) + msg(3, b"")

    obj = protobuf.decode(envelope("apps/v1", "Deployment", raw))

    assert obj["spec"] == {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                           "template": {"spec": {"containers": [
                               {"name": "nginx", "image": "nginx"}]}}}
    assert "status" not in obj
    assert "creationTimestamp" not in obj["metadata"]


def test_container_name_is_kept_even_when_empty_as_json_has_no_omitempty() -> None:
    pod_spec = msg(2, msg(1, "") + msg(2, "nginx"))
    raw = object_meta("p") + msg(2, pod_spec)

    obj = protobuf.decode(envelope("v1", "Pod", raw))

    assert obj["spec"]["containers"] == [{"name": "", "image": "nginx"}]


def test_service_target_port_int_or_string() -> None:
    by_number = msg(1, "web") + msg(2, "TCP") + num(3, 80) + msg(4, num(1, 0) + num(2, 8080)
                                                              + msg(3, "")) + num(5, 0)
    by_name = msg(2, "TCP") + num(3, 443) + msg(4, num(1, 1) + num(2, 0) + msg(3, "https"))
    spec = (msg(1, by_number) + msg(1, by_name) + entry(2, "app", msg(2, "web"))
            + msg(4, "ClusterIP"))

    obj = protobuf.decode(envelope("v1", "Service", object_meta("svc") + msg(2, spec)))

    assert obj["spec"] == {
        "ports": [{"name": "web", "protocol": "TCP", "port": 80, "targetPort": 8080},
                  {"protocol": "TCP", "port": 443, "targetPort": "https"}],
        "selector": {"app": "web"}, "type": "ClusterIP"}


def test_self_subject_access_review() -> None:
    attributes = (msg(1, "default") + msg(2, "list") + msg(3, "") + msg(4, "") + msg(5, "pods")
                  + msg(6, "") + msg(7, ""))
    raw = msg(1, b"") + msg(2, msg(1, attributes)) + msg(3, num(1, 0) + msg(2, "") + msg(3, ""))

    obj = protobuf.decode(envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview", raw))

    assert obj == {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                   "spec": {"resourceAttributes": {"namespace": "default", "verb": "list",
                                                   "resource": "pods"}},
                   "status": {"allowed": False}}


def test_cronjob_keeps_suspend_false() -> None:
    container = msg(1, "cj") + msg(2, "busybox") + msg(3, "date")
    job_spec = msg(6, msg(2, msg(2, container) + msg(3, "OnFailure")))
    spec = msg(1, "*/5 * * * *") + num(4, 0) + msg(5, msg(1, b"") + msg(2, job_spec))

    obj = protobuf.decode(envelope("batch/v1", "CronJob", object_meta("cj") + msg(2, spec)))

    assert obj["spec"] == {
        "schedule": "*/5 * * * *", "suspend": False,
        "jobTemplate": {"spec": {"template": {"spec": {
            "containers": [{"name": "cj", "image": "busybox", "command": ["date"]}],
            "restartPolicy": "OnFailure"}}}}}


@pytest.mark.parametrize(("int_or_string", "expected"), [
    (num(1, 0) + num(2, 0) + msg(3, ""), 0),
    (num(1, 0) + num(2, 2) + msg(3, ""), 2),
    (num(1, 1) + num(2, 0) + msg(3, "50%"), "50%"),
])
def test_pdb_min_available_is_an_int_or_a_string(int_or_string: bytes, expected: Any) -> None:
    raw = object_meta("pdb") + msg(2, msg(1, int_or_string))

    obj = protobuf.decode(envelope("policy/v1", "PodDisruptionBudget", raw))

    assert obj["spec"] == {"minAvailable": expected}


def test_time_is_rfc3339_and_micro_time_has_six_decimals() -> None:
    stamp = num(1, 1795620657) + num(2, 123456789)
    raw = (object_meta("ev", created=msg(8, stamp)) + msg(2, stamp)
           + msg(8, msg(1, "Pod")) + msg(10, "note"))

    obj = protobuf.decode(envelope("events.k8s.io/v1", "Event", raw))

    assert obj["metadata"]["creationTimestamp"] == "2026-11-25T15:30:57Z"
    assert obj["eventTime"] == "2026-11-25T15:30:57.123456Z"


def test_epoch_time_is_kept_but_the_empty_zero_time_is_not() -> None:
    epoch = object_meta("a", created=msg(8, num(1, 0) + num(2, 0)))

    assert protobuf.decode(envelope("v1", "ConfigMap", epoch))["metadata"][
        "creationTimestamp"] == "1970-01-01T00:00:00Z"


def test_negative_int32_arrives_as_a_ten_byte_varint() -> None:
    assert len(varint(-5)) == 10
    raw = object_meta("low") + num(2, -5) + num(3, 0)

    obj = protobuf.decode(envelope("scheduling.k8s.io/v1", "PriorityClass", raw))

    assert obj["value"] == -5
    assert "globalDefault" not in obj


def test_zero_priority_value_is_kept_as_json_has_no_omitempty() -> None:
    obj = protobuf.decode(envelope("scheduling.k8s.io/v1", "PriorityClass",
                                   object_meta("zero") + num(2, 0)))

    assert obj["value"] == 0


@pytest.mark.parametrize("groups", [
    num(4, 1000) + num(4, 2000),  # one value a field, as gogo-protobuf writes
    msg(4, varint(1000) + varint(2000)),  # packed, as proto3 writers do
])
def test_repeated_scalars_plain_or_packed(groups: bytes) -> None:
    pod_spec = msg(2, msg(1, "c")) + msg(14, groups)

    obj = protobuf.decode(envelope("v1", "Pod", object_meta("p") + msg(2, pod_spec)))

    assert obj["spec"]["securityContext"] == {"supplementalGroups": [1000, 2000]}


def test_inline_volume_source_and_empty_pointer_struct() -> None:
    volume = msg(1, "scratch") + msg(2, msg(2, msg(1, "")))
    pod_spec = msg(1, volume) + msg(2, msg(1, "c"))

    obj = protobuf.decode(envelope("v1", "Pod", object_meta("p") + msg(2, pod_spec)))

    assert obj["spec"]["volumes"] == [{"name": "scratch", "emptyDir": {}}]


def test_json_names_come_from_go_tags_not_proto_names() -> None:
    bound = msg(1, "Pod") + msg(2, "v1") + msg(3, "p") + msg(4, "1234")
    spec = msg(1, "api") + msg(3, bound) + num(4, 3600)

    obj = protobuf.decode(envelope("authentication.k8s.io/v1", "TokenRequest", msg(2, spec)))

    assert obj["spec"] == {"audiences": ["api"], "expirationSeconds": 3600,
                           "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p",
                                              "uid": "1234"}}


def test_extra_value_wrapper_becomes_a_list() -> None:
    spec = msg(3, "alice") + entry(5, "scopes", msg(2, msg(1, "a") + msg(1, "b")))

    obj = protobuf.decode(envelope("authorization.k8s.io/v1", "SubjectAccessReview",
                                   msg(2, spec)))

    assert obj["spec"] == {"user": "alice", "extra": {"scopes": ["a", "b"]}}


def test_fields_v1_is_embedded_json() -> None:
    managed = (msg(1, "kubectl") + msg(2, "Update") + msg(6, "FieldsV1")
               + msg(7, msg(1, b'{"f:data":{"f:a":{}}}')))

    obj = protobuf.decode(envelope("v1", "ConfigMap", object_meta("cm", managed=msg(17, managed))))

    assert obj["metadata"]["managedFields"] == [
        {"manager": "kubectl", "operation": "Update", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:data": {"f:a": {}}}}]


@pytest.mark.parametrize("api_version", ["v1", "apps/v1", "meta.k8s.io/v1"])
def test_delete_options_of_any_group_version(api_version: str) -> None:
    raw = num(1, 0) + msg(4, "Foreground") + msg(5, "All")

    obj = protobuf.decode(envelope(api_version, "DeleteOptions", raw))

    assert obj == {"kind": "DeleteOptions", "apiVersion": api_version, "gracePeriodSeconds": 0,
                   "propagationPolicy": "Foreground", "dryRun": ["All"]}


def test_double_field() -> None:
    props = msg(5, "number") + varint(9 << 3 | 1) + struct.pack("<d", 2.5)  # maximum
    version = msg(1, "v1") + num(2, 1) + num(3, 1) + msg(4, msg(1, props))
    spec = msg(1, "example.com") + msg(4, "Namespaced") + msg(7, version)

    obj = protobuf.decode(envelope("apiextensions.k8s.io/v1", "CustomResourceDefinition",
                                   object_meta("crd") + msg(2, spec)))

    schema = obj["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert schema == {"type": "number", "maximum": 2.5}


def test_schema_or_bool_is_a_schema_or_a_bool() -> None:
    allowed = msg(5, "object") + msg(30, num(1, 1))  # additionalProperties: true
    nested = msg(5, "object") + msg(30, num(1, 1) + msg(2, msg(5, "string")))
    version = msg(1, "v1") + num(2, 1) + num(3, 1) + msg(4, msg(1, msg(5, "object")
                                                                + entry(29, "a", msg(2, allowed))
                                                                + entry(29, "b", msg(2, nested))))
    spec = msg(1, "example.com") + msg(4, "Namespaced") + msg(7, version)

    obj = protobuf.decode(envelope("apiextensions.k8s.io/v1", "CustomResourceDefinition",
                                   object_meta("crd") + msg(2, spec)))

    properties = obj["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    assert properties == {"a": {"type": "object", "additionalProperties": True},
                          "b": {"type": "object", "additionalProperties": {"type": "string"}}}


def test_unknown_fields_of_newer_clients_are_skipped() -> None:
    raw = object_meta("cm") + entry(2, "a", msg(2, "b")) + msg(99, "future") + num(98, 7)

    obj = protobuf.decode(envelope("v1", "ConfigMap", raw))

    assert obj["data"] == {"a": "b"}


def test_defaults_apply_when_type_meta_is_empty() -> None:
    body = protobuf.MAGIC + msg(2, object_meta("ns"))

    obj = protobuf.decode(body, api_version="v1", kind="Namespace")

    assert obj == {"kind": "Namespace", "apiVersion": "v1",
                   "metadata": {"name": "ns", "namespace": "default"}}


@pytest.mark.parametrize(("nanoseconds", "text"), [
    (0, "0s"), (3_600_000_000_000, "1h0m0s"), (30_000_000_000, "30s"),
    (5_400_000_000_000, "1h30m0s"), (1_500_000_000, "1.5s"), (500_000_000, "500ms"),
    (1_500, "1.5µs"), (7, "7ns"), (-90_000_000_000, "-1m30s"),
])
def test_go_duration(nanoseconds: int, text: str) -> None:
    assert protobuf.go_duration(nanoseconds) == text


# --- malformed bodies ------------------------------------------------------------------------


def test_bad_magic_is_bad_request() -> None:
    error = decode_error(b'{"kind":"ConfigMap"}')

    assert error.status["message"] == (
        "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]")


@pytest.mark.parametrize(("body", "message"), [(b"", "empty data"),
                                                (protobuf.MAGIC, "empty body")])
def test_empty_body_is_bad_request(body: bytes, message: str) -> None:
    assert decode_error(body).status["message"] == message


@pytest.mark.parametrize("body", [
    protobuf.MAGIC + b"\x0a",  # typeMeta length missing
    protobuf.MAGIC + b"\x0a\xff\xff",  # truncated varint
    protobuf.MAGIC + b"\x0a\x05ab",  # length past the end
    protobuf.MAGIC + b"\x08" + b"\xff" * 11,  # overlong varint
    protobuf.MAGIC + b"\x0b",  # group wire type
    envelope("v1", "ConfigMap", b"\x12\x04\x0a\x01a"),  # map entry cut short
    envelope("v1", "ConfigMap", num(1, 5)),  # metadata sent as a varint
    envelope("v1", "ConfigMap", msg(1, msg(1, b"\xff\xfe"))),  # name not UTF-8
    envelope("v1", "ConfigMap", object_meta("cm", managed=msg(17, msg(7, msg(1, "{nope"))))),
    envelope("policy/v1", "PodDisruptionBudget", msg(2, msg(1, msg(1, "String")))),  # type as text
    envelope("v1", "Pod", msg(2, msg(14, msg(4, b"\x80")))),  # packed run cut short
])
def test_malformed_body_is_bad_request(body: bytes) -> None:
    error = decode_error(body)

    assert error.status["message"].startswith("unable to decode protobuf body: ")


def test_unregistered_kind_is_bad_request() -> None:
    error = decode_error(envelope("v1", "Widget", b""))

    assert error.status["message"] == 'no kind "Widget" is registered for version "v1"'


def test_unknown_group_version_is_bad_request() -> None:
    error = decode_error(envelope("example.com/v1", "Widget", b""))

    assert error.status["message"] == 'no kind "Widget" is registered for version "example.com/v1"'


def test_missing_kind_is_bad_request() -> None:
    error = decode_error(protobuf.MAGIC + msg(1, msg(1, "v1")) + msg(2, b""))

    assert error.status["message"] == (
        """Object 'Kind' is missing in 'runtime.TypeMeta{APIVersion:"v1", Kind:""}'""")
