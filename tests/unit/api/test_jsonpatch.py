"""JSON patch (RFC 6902) as the apiserver applies it: patch --type=json, rollout undo."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kajitori.api import errors, jsonpatch

REJECTED = {
    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
    "message": "the server rejected our request due to an error in our request",
    "reason": "Invalid", "details": {}, "code": 422}


def deployment() -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "annotations": {"deployment.kubernetes.io/revision": "3"}},
            "spec": {"replicas": 2, "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.28"}]}}}}


def apply(original: dict[str, Any], operations: Any) -> dict[str, Any]:
    """Apply, and check on the way that neither input was touched."""
    before = copy.deepcopy((original, operations))
    result = jsonpatch.apply(original, operations)
    assert (original, operations) == before
    return result


def failure(original: dict[str, Any], operations: Any) -> dict[str, Any]:
    before = copy.deepcopy(original)
    with pytest.raises(errors.StatusError) as caught:
        jsonpatch.apply(original, operations)
    assert original == before
    return caught.value.status


def test_kubectl_patch_replaces_replicas() -> None:
    result = apply(deployment(), [{"op": "replace", "path": "/spec/replicas", "value": 1}])
    assert result["spec"]["replicas"] == 1


def test_rollout_undo_replaces_template_and_annotations() -> None:
    template = {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}
    operations = [
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations",
         "value": {"deployment.kubernetes.io/revision": "2"}}]
    result = apply(deployment(), operations)
    assert result["spec"]["template"] == template
    assert result["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "2"}


def test_replace_of_a_missing_member_adds_it_as_upstream_does() -> None:
    original = deployment()
    del original["metadata"]["annotations"]
    result = apply(original, [{"op": "replace", "path": "/metadata/annotations",
                               "value": {"a": "b"}}])
    assert result["metadata"]["annotations"] == {"a": "b"}


REVISION = {"deployment.kubernetes.io/revision": "3"}


@pytest.mark.parametrize(("operation", "metadata"), [
    ({"op": "add", "path": "/metadata/labels", "value": {"x": "1"}},
     {"name": "web", "annotations": REVISION, "labels": {"x": "1"}}),
    ({"op": "remove", "path": "/metadata/annotations"}, {"name": "web"}),
    ({"op": "copy", "from": "/metadata/name", "path": "/metadata/generateName"},
     {"name": "web", "annotations": REVISION, "generateName": "web"}),
    ({"op": "move", "from": "/metadata/annotations", "path": "/metadata/labels"},
     {"name": "web", "labels": REVISION}),
])
def test_every_operation_applies(operation: dict[str, Any], metadata: dict[str, Any]) -> None:
    assert apply(deployment(), [operation])["metadata"] == metadata


def test_add_appends_to_a_list_with_dash() -> None:
    operation = {"op": "add", "path": "/spec/template/spec/containers/-",
                 "value": {"name": "sidecar", "image": "busybox"}}
    containers = apply(deployment(), [operation])["spec"]["template"]["spec"]["containers"]
    assert [container["name"] for container in containers] == ["nginx", "sidecar"]


def test_a_passing_test_lets_the_rest_apply() -> None:
    operations = [{"op": "test", "path": "/spec/replicas", "value": 2},
                  {"op": "replace", "path": "/spec/replicas", "value": 5}]
    assert apply(deployment(), operations)["spec"]["replicas"] == 5


def test_testing_a_missing_member_for_null_passes_as_upstream() -> None:
    operations = [{"op": "test", "path": "/spec/paused", "value": None},
                  {"op": "add", "path": "/spec/paused", "value": True}]
    assert apply(deployment(), operations)["spec"]["paused"] is True


def test_null_body_changes_nothing() -> None:
    assert apply(deployment(), None) == deployment()


def test_from_matters_only_to_move_and_copy() -> None:
    operation = {"op": "add", "from": "", "path": "/spec/paused", "value": True}
    assert apply(deployment(), [operation])["spec"]["paused"] is True


def test_result_shares_nothing_with_the_inputs() -> None:
    original = deployment()
    value = {"x": {"y": "1"}}
    result = apply(original, [{"op": "add", "path": "/metadata/labels", "value": value}])
    result["metadata"]["labels"]["x"]["y"] = "changed"
    result["spec"]["template"]["metadata"]["labels"]["app"] = "changed"
    assert value == {"x": {"y": "1"}}
    assert original["spec"]["template"]["metadata"]["labels"]["app"] == "web"


@pytest.mark.parametrize("operations", [
    [{"op": "test", "path": "/spec/replicas", "value": 3},
     {"op": "replace", "path": "/spec/replicas", "value": 5}],
    [{"op": "test", "path": "/spec/replicas", "value": "2"}],
    [{"op": "remove", "path": "/spec/foo"}],
    [{"op": "replace", "path": "/spec/foo/bar", "value": 1}],
    [{"op": "add", "path": "/spec/template/spec/containers/5", "value": {}}],
    [{"op": "move", "from": "/spec/foo", "path": "/spec/bar"}],
    [{"op": "copy", "from": "/spec/template/spec/containers/3", "path": "/spec/bar"}],
    [{"op": "frobnicate", "path": "/spec"}],
    [{"path": "/spec/replicas", "value": 1}],
    [{"op": "add", "value": 1}],
    [{"op": "add", "path": "", "value": {}}],
    [{"op": "move", "from": "", "path": "/spec/copy"}],
    [{"op": "replace", "path": "", "value": [1]}],
    [None],
])
def test_operations_that_do_not_apply_are_rejected_as_upstream(operations: list[Any]) -> None:
    assert failure(deployment(), operations) == REJECTED


def test_the_cause_is_kept_for_logs() -> None:
    with pytest.raises(errors.StatusError) as caught:
        jsonpatch.apply(deployment(), [{"op": "remove", "path": "/spec/foo"}])
    assert caught.value.__cause__ is not None


@pytest.mark.parametrize(("body", "message"), [
    ({"op": "add", "path": "/a", "value": 1},
     "error decoding patch: json: cannot unmarshal object into Go value of type "
     "[]handlers.jsonPatchOp"),
    ("add", "error decoding patch: json: cannot unmarshal string into Go value of type "
            "[]handlers.jsonPatchOp"),
    ([1], "error decoding patch: json: cannot unmarshal number into Go value of type "
          "handlers.jsonPatchOp"),
    ([{"op": "add", "path": 5}], "error decoding patch: json: cannot unmarshal number into Go "
                                 "struct field jsonPatchOp.path of type string"),
    ([{"op": ["add"], "path": "/a"}], "error decoding patch: json: cannot unmarshal array into "
                                      "Go struct field jsonPatchOp.op of type string"),
])
def test_a_body_that_is_not_a_list_of_operations_is_a_bad_request(body: Any,
                                                                   message: str) -> None:
    status = failure(deployment(), body)
    assert (status["code"], status["reason"], status["message"]) == (400, "BadRequest", message)


def test_too_many_operations_are_refused() -> None:
    operations = [{"op": "test", "path": "/spec/replicas", "value": 2}] * 10001
    status = failure(deployment(), operations)
    assert (status["code"], status["reason"], status["message"]) == (
        413, "RequestEntityTooLarge",
        "Request entity too large: The allowed maximum operations in a JSON patch is 10000, "
        "got 10001")


def test_the_operation_limit_itself_is_allowed() -> None:
    operations = [{"op": "test", "path": "/spec/replicas", "value": 2}] * 10000
    assert apply(deployment(), operations) == deployment()
