"""Request bodies: size limit, JSON/YAML/protobuf decoding, and the fieldValidation modes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from kajitori.api import errors
from kajitori.apiserver import body

CONFIGMAP_GVK = ("", "v1", "ConfigMap")
DEPLOYMENT_GVK = ("apps", "v1", "Deployment")
PROTOBUF_FIXTURES = Path(__file__).parent.parent / "api" / "protobuf_fixtures"
NOT_AN_OBJECT = (
    'couldn\'t get version/kind; json parse error: json: cannot unmarshal %s into Go value of '
    'type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string '
    '"json:\\"kind,omitempty\\"" }')


class _Content:
    """The `content` stream of an aiohttp request: read(n) returns at most n bytes."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    async def read(self, n: int = -1) -> bytes:
        out, self._data = (self._data, b"") if n < 0 else (self._data[:n], self._data[n:])
        return out


class _Request:
    """The two attributes of aiohttp's web.Request that body.read uses."""

    def __init__(self, data: bytes, *, content_length: int | None) -> None:
        self.content_length = content_length
        self.content = _Content(data)


def read(data: bytes, *, content_length: int | None) -> bytes:
    return asyncio.run(body.read(_Request(data, content_length=content_length)))  # type: ignore[arg-type]


def raises(call: object, *args: object, **kwargs: object) -> errors.StatusError:
    with pytest.raises(errors.StatusError) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    return caught.value


# --- size ---------------------------------------------------------------------------------------

def test_read_returns_the_body() -> None:
    assert read(b'{"a":1}', content_length=7) == b'{"a":1}'


def test_body_at_the_limit_is_read() -> None:
    data = b"x" * body.MAX_BODY_BYTES
    assert read(data, content_length=None) == data


def test_declared_length_over_limit_is_413() -> None:
    exc = raises(read, b"", content_length=body.MAX_BODY_BYTES + 1)
    assert exc.code == 413
    assert exc.reason == "RequestEntityTooLarge"
    assert str(exc) == "Request entity too large: limit is 3145728"


def test_streamed_body_over_limit_is_413() -> None:
    exc = raises(read, b"x" * (body.MAX_BODY_BYTES + 1), content_length=None)
    assert exc.code == 413
    assert str(exc) == "Request entity too large: limit is 3145728"


# --- decoding -----------------------------------------------------------------------------------

def test_decode_json() -> None:
    obj, duplicates = body.decode(b'{"kind":"ConfigMap","data":{"a":"1"}}', "application/json")
    assert obj == {"kind": "ConfigMap", "data": {"a": "1"}}
    assert duplicates == []


def test_decode_json_reports_duplicate_fields_last_wins() -> None:
    obj, duplicates = body.decode(b'{"data":{"a":"1"},"kind":"ConfigMap","kind":"ConfigMap"}',
                                  "application/json")
    assert obj["kind"] == "ConfigMap"
    assert duplicates == ["kind"]


def test_decode_yaml() -> None:
    raw = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: '1'\n"
    obj, duplicates = body.decode(raw, "application/yaml")
    assert obj == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                   "data": {"a": "1"}}
    assert duplicates == []


def test_decode_protobuf_as_kubectl_sends_it() -> None:
    raw = (PROTOBUF_FIXTURES / "configmap.kubectl-1.33.pb").read_bytes()
    expected = json.loads((PROTOBUF_FIXTURES / "configmap.kubectl-1.31.json").read_text())
    obj, duplicates = body.decode(raw, "application/vnd.kubernetes.protobuf")
    assert obj["kind"] == "ConfigMap"
    assert obj["data"] == expected["data"]
    assert duplicates == []


@pytest.mark.parametrize(("raw", "go_type"), [
    (b"[1, 2]", "array"), (b'"text"', "string"), (b"3", "number"), (b"true", "bool"),
])
def test_non_object_body_is_400(raw: bytes, go_type: str) -> None:
    exc = raises(body.decode, raw, "application/json")
    assert exc.code == 400
    assert exc.reason == "BadRequest"
    assert str(exc) == NOT_AN_OBJECT % go_type


def test_non_object_yaml_body_is_400() -> None:
    exc = raises(body.decode, b"- a\n- b\n", "application/yaml")
    assert exc.code == 400
    assert str(exc) == NOT_AN_OBJECT % "array"


def test_malformed_json_is_400() -> None:
    exc = raises(body.decode, b'{"kind": ', "application/json")
    assert exc.code == 400
    assert str(exc).startswith("couldn't get version/kind; json parse error: ")


def test_malformed_yaml_is_400() -> None:
    exc = raises(body.decode, b"a: [1\n", "application/yaml")
    assert exc.code == 400
    assert str(exc).startswith("error converting YAML to JSON: ")


def test_unknown_media_type_is_415() -> None:
    exc = raises(body.decode, b"<xml/>", "application/xml")
    assert exc.code == 415
    assert exc.reason == "UnsupportedMediaType"
    assert str(exc) == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json, application/yaml, application/vnd.kubernetes.protobuf")


# --- fieldValidation ----------------------------------------------------------------------------

@pytest.mark.parametrize(("given", "mode"), [
    (None, "Warn"), ("", "Warn"), ("Strict", "Strict"), ("Warn", "Warn"), ("Ignore", "Ignore"),
])
def test_field_validation_modes(given: str | None, mode: str) -> None:
    assert body.field_validation(given, options_kind="CreateOptions") == mode


def test_invalid_field_validation_is_refused_as_upstream_validates_options() -> None:
    # ValidateFieldValidation: 422 Invalid CreateOptions, not a 400
    exc = raises(lambda: body.field_validation("Bogus", options_kind="CreateOptions"))
    assert exc.code == 422
    assert str(exc) == ('CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported '
                        'value: "Bogus": supported values: "", "Ignore", "Strict", "Warn"')


def configmap_with_unknown() -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "bogus": 1},
            "data": {"a": "1"}, "extra": True}


def test_warn_reports_unknown_and_duplicate_fields_and_prunes() -> None:
    obj = configmap_with_unknown()
    warnings = body.check(obj, CONFIGMAP_GVK, mode="Warn", duplicates=["data"])
    assert warnings == ['duplicate field "data"', 'unknown field "metadata.bogus"',
                        'unknown field "extra"']
    assert obj == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                   "data": {"a": "1"}}


def test_strict_refuses_unknown_fields() -> None:
    obj = configmap_with_unknown()
    exc = raises(body.check, obj, CONFIGMAP_GVK, mode="Strict", duplicates=[])
    assert exc.code == 400
    assert str(exc) == ('ConfigMap in version "v1" cannot be handled as a ConfigMap: strict '
                        'decoding error: unknown field "metadata.bogus", unknown field "extra"')


def test_strict_refuses_duplicate_fields() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    exc = raises(body.check, obj, CONFIGMAP_GVK, mode="Strict", duplicates=["metadata.name"])
    assert str(exc) == ('ConfigMap in version "v1" cannot be handled as a ConfigMap: strict '
                        'decoding error: duplicate field "metadata.name"')


def test_ignore_says_nothing_and_prunes() -> None:
    obj = configmap_with_unknown()
    assert body.check(obj, CONFIGMAP_GVK, mode="Ignore", duplicates=["data"]) == []
    assert "extra" not in obj
    assert obj["metadata"] == {"name": "c"}


def test_clean_body_has_no_warnings_in_any_mode() -> None:
    for mode in body.FIELD_VALIDATION_MODES:
        obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
        assert body.check(obj, CONFIGMAP_GVK, mode=mode, duplicates=[]) == []


@pytest.mark.parametrize("mode", body.FIELD_VALIDATION_MODES)
def test_type_errors_are_400_in_every_mode(mode: str) -> None:
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"replicas": "three"}}
    exc = raises(body.check, obj, DEPLOYMENT_GVK, mode=mode, duplicates=[])
    assert exc.code == 400
    assert str(exc).startswith(
        'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal '
        'string into Go struct field DeploymentSpec.spec.replicas of type int32')
