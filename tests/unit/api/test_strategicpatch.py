"""Strategic merge patch: the patches kubectl sends, upstream's ordering rules, its errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kajitori.api import errors, schemas, strategicpatch

DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"
POD = "io.k8s.api.core.v1.Pod"
NODE = "io.k8s.api.core.v1.Node"
SERVICE = "io.k8s.api.core.v1.Service"
PDB = "io.k8s.api.policy.v1.PodDisruptionBudget"
CRD = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def deployment(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": list(containers)}},
            **spec,
        },
    }


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = obj["spec"]["template"]["spec"]
    return spec


def env(*names: str, **values: str) -> list[dict[str, str]]:
    return [{"name": name, "value": values.get(name, name.lower())} for name in names]


def apply(original: dict[str, Any], patch: Any, definition: str = DEPLOYMENT) -> dict[str, Any]:
    """Apply, and check on the way that neither input was touched."""
    before = copy.deepcopy((original, patch))
    result = strategicpatch.apply(original, patch, definition=definition)
    assert (original, patch) == before
    return result


def failure(original: dict[str, Any], patch: Any,
            definition: str = DEPLOYMENT) -> dict[str, Any]:
    with pytest.raises(errors.StatusError) as caught:
        strategicpatch.apply(original, patch, definition=definition)
    return caught.value.status


def directive_keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [key for key in value if key.startswith("$")] + [
            found for member in value.values() for found in directive_keys(member)]
    if isinstance(value, list):
        return [found for item in value for found in directive_keys(item)]
    return []


def test_definition_names_come_from_the_schemas() -> None:
    assert schemas.definition_name("apps", "v1", "Deployment") == DEPLOYMENT


# --- what kubectl sends -------------------------------------------------------------------------

def test_client_side_apply_patch_removes_env_and_changes_image() -> None:
    live = deployment({"name": "nginx", "image": "nginx:1.27", "env": env("A", "B")})
    manifest = '{"apiVersion":"apps/v1","kind":"Deployment"}\n'
    patch = {
        "metadata": {"annotations": {LAST_APPLIED: manifest}},
        "spec": {"replicas": 3, "template": {"spec": {
            "$setElementOrder/containers": [{"name": "nginx"}],
            "containers": [{"$setElementOrder/env": [{"name": "A"}],
                            "env": [{"$patch": "delete", "name": "B"}],
                            "image": "nginx:1.28", "name": "nginx"}]}}},
    }
    result = apply(live, patch)
    assert result["metadata"]["annotations"] == {LAST_APPLIED: manifest}
    assert result["spec"]["replicas"] == 3
    assert pod_spec(result)["containers"] == [
        {"name": "nginx", "image": "nginx:1.28", "env": [{"name": "A", "value": "a"}]}]
    assert directive_keys(result) == []


def test_set_image_changes_one_container_and_keeps_order() -> None:
    live = deployment({"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}]},
                      {"name": "sidecar", "image": "busybox"})
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
        "containers": [{"image": "nginx:1.28", "name": "nginx"}]}}}}
    assert pod_spec(apply(live, patch))["containers"] == [
        {"name": "nginx", "image": "nginx:1.28", "ports": [{"containerPort": 80}]},
        {"name": "sidecar", "image": "busybox"}]


def test_rollout_restart_adds_a_template_annotation() -> None:
    live = deployment({"name": "nginx", "image": "nginx"})
    patch = {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2026-11-25T15:37:25Z"}}}}}
    template = apply(live, patch)["spec"]["template"]
    assert template["metadata"] == {
        "labels": {"app": "web"},
        "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-25T15:37:25Z"}}
    assert template["spec"] == live["spec"]["template"]["spec"]


def test_cordon_sets_and_uncordon_removes_unschedulable() -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"},
            "spec": {"podCIDR": "10.244.1.0/24"}}
    cordoned = apply(node, {"spec": {"unschedulable": True}}, NODE)
    assert cordoned["spec"] == {"podCIDR": "10.244.1.0/24", "unschedulable": True}
    uncordoned = apply(cordoned, {"spec": {"unschedulable": None}}, NODE)
    assert uncordoned["spec"] == {"podCIDR": "10.244.1.0/24"}


def test_labels_are_added_changed_and_removed_by_null() -> None:
    live = deployment()
    live["metadata"]["labels"] = {"app": "web", "tier": "front"}
    patch = {"metadata": {"labels": {"env": "dev", "tier": "back", "app": None, "gone": None}}}
    assert apply(live, patch)["metadata"]["labels"] == {"tier": "back", "env": "dev"}


def test_edit_patch_may_touch_status() -> None:
    live = deployment(status={"replicas": 2})
    live["status"] = {"replicas": 2}
    result = apply(live, {"metadata": {"labels": {"edited": "yes"}}, "spec": {"replicas": 4},
                          "status": {"replicas": 4}})
    assert (result["metadata"]["labels"], result["spec"]["replicas"], result["status"]) == (
        {"app": "web", "edited": "yes"}, 4, {"replicas": 4})


def test_service_ports_merge_by_port() -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"selector": {"app": "web"}, "ports": [
                   {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
                   {"name": "metrics", "port": 9090, "protocol": "TCP"}]}}
    patch = {"spec": {
        "$setElementOrder/ports": [{"port": 80}, {"port": 443}, {"port": 9090}],
        "ports": [{"port": 80, "targetPort": 8081},
                  {"name": "https", "port": 443, "targetPort": 8443}]}}
    assert apply(service, patch, SERVICE)["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": 8081, "protocol": "TCP"},
        {"name": "https", "port": 443, "targetPort": 8443},
        {"name": "metrics", "port": 9090, "protocol": "TCP"}]


def test_tolerations_are_replaced_whole() -> None:
    live = deployment({"name": "a", "image": "a"})
    pod_spec(live)["tolerations"] = [{"key": "a", "operator": "Exists"},
                                     {"key": "b", "operator": "Exists"}]
    patch = {"spec": {"template": {"spec": {"tolerations": [
        {"key": "c", "operator": "Equal", "value": "1", "effect": "NoSchedule"}]}}}}
    assert pod_spec(apply(live, patch))["tolerations"] == [
        {"key": "c", "operator": "Equal", "value": "1", "effect": "NoSchedule"}]


def test_volumes_merge_by_name_and_delete_by_directive() -> None:
    live = deployment({"name": "a", "image": "a"})
    pod_spec(live)["volumes"] = [{"name": "data", "emptyDir": {}},
                                 {"name": "cfg", "configMap": {"name": "cfg"}}]
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/volumes": [{"name": "data"}, {"name": "tmp"}],
        "volumes": [{"name": "tmp", "emptyDir": {"medium": "Memory"}},
                    {"$patch": "delete", "name": "cfg"}]}}}}
    assert pod_spec(apply(live, patch))["volumes"] == [
        {"name": "data", "emptyDir": {}}, {"name": "tmp", "emptyDir": {"medium": "Memory"}}]


def test_volume_source_switch_with_retain_keys() -> None:
    live = deployment({"name": "a", "image": "a"})
    pod_spec(live)["volumes"] = [{"name": "data", "emptyDir": {}}]
    patch = {"spec": {"template": {"spec": {"volumes": [
        {"$retainKeys": ["hostPath", "name"], "name": "data", "hostPath": {"path": "/srv"}}]}}}}
    assert pod_spec(apply(live, patch))["volumes"] == [
        {"name": "data", "hostPath": {"path": "/srv"}}]


def test_strategy_switch_to_recreate_with_retain_keys() -> None:
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate",
                                   "rollingUpdate": None}}}
    assert apply(deployment(), patch)["spec"]["strategy"] == {"type": "Recreate"}


def test_retain_keys_clears_what_it_omits_even_without_null() -> None:
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert apply(deployment(), patch)["spec"]["strategy"] == {"type": "Recreate"}


def test_retain_keys_on_an_absent_map_is_not_stored() -> None:
    live = deployment()
    del live["spec"]["strategy"]
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert apply(live, patch)["spec"]["strategy"] == {"type": "Recreate"}


def test_owner_references_merge_by_uid() -> None:
    live = deployment()
    live["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "a", "uid": "u1"}]
    patch = {"metadata": {"ownerReferences": [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "b", "uid": "u2"},
        {"uid": "u1", "blockOwnerDeletion": True}]}}
    assert apply(live, patch)["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "b", "uid": "u2"},
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "a", "uid": "u1",
         "blockOwnerDeletion": True}]


def test_pod_conditions_merge_by_type() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "status": {"phase": "Pending", "conditions": [
               {"type": "PodScheduled", "status": "True"},
               {"type": "Ready", "status": "False", "reason": "ContainersNotReady"}]}}
    patch = {"status": {"$setElementOrder/conditions": [{"type": "PodScheduled"},
                                                        {"type": "Ready"}],
                        "conditions": [{"type": "Ready", "status": "True", "reason": None}]}}
    assert apply(pod, patch, POD)["status"]["conditions"] == [
        {"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}]


def test_finalizers_merge_as_a_set() -> None:
    live = deployment()
    live["metadata"]["finalizers"] = ["a", "b"]
    patch = {"metadata": {"finalizers": ["b", "c"]}}
    assert apply(live, patch)["metadata"]["finalizers"] == ["a", "b", "c"]


def test_delete_from_primitive_list_with_set_element_order() -> None:
    live = deployment()
    live["metadata"]["finalizers"] = ["a", "b", "c"]
    patch = {"metadata": {"$setElementOrder/finalizers": ["c", "a"],
                          "$deleteFromPrimitiveList/finalizers": ["b"]}}
    assert apply(live, patch)["metadata"]["finalizers"] == ["c", "a"]


def test_delete_from_absent_primitive_list_adds_nothing() -> None:
    result = apply(deployment(), {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}})
    assert "finalizers" not in result["metadata"]


def test_delete_from_primitive_list_works_without_merge_strategy() -> None:
    live = deployment({"name": "a", "image": "a", "args": ["-v", "-x", "-y"]})
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "a", "$deleteFromPrimitiveList/args": ["-x"]}]}}}}
    assert pod_spec(apply(live, patch))["containers"][0]["args"] == ["-v", "-y"]


# --- directives ---------------------------------------------------------------------------------

def test_patch_replace_on_a_map_drops_what_it_omits() -> None:
    patch = {"metadata": {"labels": {"$patch": "replace", "new": "1"}}}
    assert apply(deployment(), patch)["metadata"]["labels"] == {"new": "1"}


def test_patch_delete_on_a_map_leaves_it_empty() -> None:
    patch = {"spec": {"strategy": {"$patch": "delete"}}}
    assert apply(deployment(), patch)["spec"]["strategy"] == {}


def test_patch_replace_on_a_list_keeps_only_the_patch_items() -> None:
    live = deployment({"name": "a", "image": "a"}, {"name": "b", "image": "b"})
    patch = {"spec": {"template": {"spec": {"containers": [
        {"$patch": "replace"}, {"name": "c", "image": "c", "$setElementOrder/env": []}]}}}}
    assert pod_spec(apply(live, patch))["containers"] == [{"name": "c", "image": "c"}]


def test_delete_directive_removes_every_item_with_the_key() -> None:
    live = deployment({"name": "a", "image": "a",
                       "env": [*env("X"), *env("Y"), {"name": "X", "value": "again"}]})
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "a", "env": [{"name": "X", "$patch": "delete"}]}]}}}}
    assert pod_spec(apply(live, patch))["containers"][0]["env"] == env("Y")


def test_a_map_carrying_patch_where_nothing_was_is_dropped() -> None:
    """Upstream's removeDirectives: a new value with `$patch` is not stored at all."""
    live = deployment()
    patch = {"metadata": {"annotations": {"$patch": "replace", "a": "b"}}}
    assert "annotations" not in apply(live, patch)["metadata"]


def test_directives_in_new_values_never_reach_the_result() -> None:
    live = deployment({"name": "a", "image": "a"})
    patch = {"spec": {"template": {"spec": {"initContainers": [
        {"name": "init", "image": "busybox", "$setElementOrder/env": [{"name": "A"}],
         "env": [{"name": "A", "value": "1"}, {"name": "B", "$patch": "delete"}],
         "resources": {"$retainKeys": ["limits"], "limits": {"cpu": "1"}}}]}}}}
    result = apply(live, patch)
    assert pod_spec(result)["initContainers"] == [
        {"name": "init", "image": "busybox", "env": [{"name": "A", "value": "1"}],
         "resources": {"limits": {"cpu": "1"}}}]


def test_unknown_dollar_keys_are_dropped_from_objects() -> None:
    patch = {"$foo": 1, "metadata": {"$bar": {"x": 1}}, "spec": {"$setElementOrder/nope": [],
                                                               "replicas": 5}}
    result = apply(deployment(), patch)
    assert directive_keys(result) == []
    assert result["spec"]["replicas"] == 5


def test_declared_dollar_fields_are_kept() -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "foos.example.com"},
           "spec": {"group": "example.com", "versions": [{"name": "v0"}]}}
    versions = [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
        "$schema": "http://json-schema.org/draft-04/schema#", "type": "object",
        "properties": {"$weird": {"type": "string"}}}}}]
    assert apply(crd, {"spec": {"versions": versions}}, CRD)["spec"]["versions"] == versions


def test_null_for_an_absent_key_is_ignored() -> None:
    assert apply(deployment(), {"spec": {"paused": None}}) == deployment()


def test_null_inside_a_new_value_is_not_stored() -> None:
    live = deployment({"name": "a", "image": "a"})
    patch = {"spec": {"template": {"spec": {"securityContext": {"runAsUser": 1000,
                                                                 "runAsGroup": None}}}}}
    assert pod_spec(apply(live, patch))["securityContext"] == {"runAsUser": 1000}


def test_replace_strategy_on_a_map_replaces_it() -> None:
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "p"},
           "spec": {"minAvailable": 1, "selector": {
               "matchLabels": {"app": "web"},
               "matchExpressions": [{"key": "tier", "operator": "Exists"}]}}}
    result = apply(pdb, {"spec": {"selector": {"matchLabels": {"app": "api"}}}}, PDB)
    assert result["spec"] == {"minAvailable": 1, "selector": {"matchLabels": {"app": "api"}}}


def test_unknown_fields_merge_maps_and_replace_lists() -> None:
    live = deployment()
    live["spec"]["extra"] = {"a": 1, "list": [1, 2], "deep": {"b": 2}}
    patch = {"spec": {"extra": {"list": [3], "deep": {"c": 3}}}}
    assert apply(live, patch)["spec"]["extra"] == {"a": 1, "list": [3],
                                                   "deep": {"b": 2, "c": 3}}


def test_a_value_of_another_type_replaces() -> None:
    live = deployment({"name": "a", "image": "a", "command": ["sh"]})
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "a", "command": "sh"}]}}}}
    assert pod_spec(apply(live, patch))["containers"][0]["command"] == "sh"


def test_null_body_changes_nothing() -> None:
    live = deployment()
    assert apply(live, None) == live


def test_result_shares_nothing_with_the_inputs() -> None:
    live = deployment({"name": "a", "image": "a"})
    patch = {"metadata": {"annotations": {"new": {"deep": "value"}}}}
    result = apply(live, patch)
    result["spec"]["template"]["spec"]["containers"][0]["image"] = "changed"
    result["metadata"]["annotations"]["new"]["deep"] = "changed"
    assert pod_spec(live)["containers"][0]["image"] == "a"
    assert patch["metadata"]["annotations"]["new"]["deep"] == "value"


# --- order, as upstream's patch_test.go pins it -------------------------------------------------

def env_names(result: dict[str, Any]) -> list[str]:
    return [item["name"] for item in pod_spec(result)["containers"][0]["env"]]


def env_patch(*items: dict[str, Any], order: list[str] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "a"}
    if items:
        container["env"] = list(items)
    if order is not None:
        container["$setElementOrder/env"] = [{"name": name} for name in order]
    return {"spec": {"template": {"spec": {"containers": [container]}}}}


def live_env(*names: str) -> dict[str, Any]:
    return deployment({"name": "a", "image": "a", "env": env(*names)})


def test_patch_order_wins_over_live_order() -> None:
    patch = env_patch({"name": "C", "value": "c2"}, {"name": "A", "value": "a2"},
                      {"name": "B", "value": "b2"})
    assert env_names(apply(live_env("A", "B", "C"), patch)) == ["C", "A", "B"]


def test_live_items_absent_from_the_patch_keep_their_place() -> None:
    patch = env_patch({"name": "C", "value": "c2"}, {"name": "A", "value": "a2"})
    assert env_names(apply(live_env("A", "B", "C"), patch)) == ["B", "C", "A"]


def test_new_items_without_an_order_go_first() -> None:
    patch = env_patch({"name": "D", "value": "d"})
    assert env_names(apply(live_env("A", "B"), patch)) == ["D", "A", "B"]


def test_set_element_order_places_new_items() -> None:
    patch = env_patch({"name": "D", "value": "d"}, order=["A", "D", "B"])
    assert env_names(apply(live_env("A", "B"), patch)) == ["A", "D", "B"]


def test_set_element_order_alone_reorders() -> None:
    patch = env_patch(order=["D", "B", "C", "A"])
    assert env_names(apply(live_env("A", "C", "D", "B"), patch)) == ["D", "B", "C", "A"]


@pytest.mark.parametrize(("live", "expected"), [
    (["A", "C", "D", "B", "X"], ["D", "B", "C", "A", "X"]),
    (["A", "B", "X", "C", "D"], ["B", "A", "X", "D", "C"]),
    (["A", "B", "G", "X", "H", "C", "D"], ["B", "A", "G", "X", "H", "D", "C"]),
])
def test_set_element_order_keeps_server_only_items_near_their_neighbours(
        live: list[str], expected: list[str]) -> None:
    order = [name for name in expected if name not in "GXH"]
    assert env_names(apply(live_env(*live), env_patch(order=order))) == expected


def test_set_element_order_naming_absent_items_is_harmless() -> None:
    patch = env_patch({"name": "C", "value": "3"}, {"name": "A", "value": "1"},
                      order=["C", "B", "A"])
    assert env_names(apply(live_env("A", "C"), patch)) == ["C", "A"]


def test_set_element_order_places_patch_items_among_server_only_ones() -> None:
    live = deployment({"name": "a", "image": "a",
                       "env": [{"name": "A", "value": "a", "other": "x"}, *env("C")]})
    patch = env_patch({"name": "B", "value": "b"}, order=["A", "B"])
    assert env_names(apply(live, patch)) == ["A", "B", "C"]


def test_delete_in_one_list_and_reorder_another() -> None:
    live = deployment({"name": "c", "image": "c"}, {"name": "d", "image": "d"})
    pod_spec(live)["volumes"] = [{"name": "a", "emptyDir": {}}, {"name": "b", "emptyDir": {}}]
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/volumes": [{"name": "b"}],
        "$setElementOrder/containers": [{"name": "d"}, {"name": "c"}],
        "volumes": [{"$patch": "delete", "name": "a"}]}}}}
    result = pod_spec(apply(live, patch))
    assert result["volumes"] == [{"name": "b", "emptyDir": {}}]
    assert result["containers"] == [{"name": "d", "image": "d"}, {"name": "c", "image": "c"}]


def test_set_element_order_keeps_duplicates_together() -> None:
    live = deployment({"name": "a", "image": "a", "env": [
        {"name": "A"}, {"name": "B", "value": "dup1"}, {"name": "C"},
        {"name": "B", "value": "dup2"}, {"name": "D"}]})
    result = apply(live, env_patch(order=["B", "A", "D", "C", "B"]))
    assert pod_spec(result)["containers"][0]["env"] == [
        {"name": "B", "value": "dup1"}, {"name": "B", "value": "dup2"}, {"name": "A"},
        {"name": "D"}, {"name": "C"}]


def test_set_element_order_of_primitives_with_server_only_items() -> None:
    live = deployment()
    live["metadata"]["finalizers"] = ["a", "b", "x", "c", "d"]
    patch = {"metadata": {"$setElementOrder/finalizers": ["b", "a", "d", "c"]}}
    assert apply(live, patch)["metadata"]["finalizers"] == ["b", "a", "x", "d", "c"]


def test_primitive_merge_keeps_patch_order_for_patch_items() -> None:
    live = deployment()
    live["metadata"]["finalizers"] = ["a", "b", "c"]
    patch = {"metadata": {"finalizers": ["c", "a"]}}
    assert apply(live, patch)["metadata"]["finalizers"] == ["b", "c", "a"]


# --- errors, as upstream's handler answers them -------------------------------------------------

def test_missing_merge_key_is_500_worded_as_go() -> None:
    live = deployment({"name": "a", "image": "a"})
    patch = {"spec": {"template": {"spec": {"containers": [
        {"image": "nginx", "ports": [{"containerPort": 80}]}]}}}}
    assert failure(live, patch) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "map: map[image:nginx ports:[map[containerPort:80]]] does not contain "
                   "declared merge key: name",
        "code": 500}


def test_unknown_patch_directive_on_a_map_is_500() -> None:
    status = failure(deployment(), {"spec": {"strategy": {"$patch": "merge", "type": "x"}}})
    assert (status["code"], status["message"]) == (
        500, "unknown patch type: merge in map: map[$patch:merge type:x]")


def test_unknown_patch_directive_on_a_list_item_is_500() -> None:
    live = deployment({"name": "a", "image": "a"})
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "a", "$patch": 7}]}}}}
    assert failure(live, patch)["message"] == (
        "unknown patch type: %!s(int64=7) in map: map[$patch:7 name:a]")


def test_merge_directive_on_a_list_item_is_refused() -> None:
    live = deployment({"name": "a", "image": "a"})
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "a", "$patch": "merge"}]}}}}
    status = failure(live, patch)
    assert (status["code"], status["message"]) == (
        500, "merging lists cannot yet be specified in the patch")


def test_patch_list_out_of_set_element_order_is_refused() -> None:
    patch = env_patch({"name": "C", "value": "3"}, {"name": "A", "value": "1"},
                      order=["A", "B", "C"])
    status = failure(live_env("A", "C", "B"), patch)
    assert status["code"] == 500
    assert status["message"] == (
        "The order in patch list:\n[map[name:C value:3] map[name:A value:1]]\n doesn't match "
        "$setElementOrder list:\n[map[name:A] map[name:B] map[name:C]]\n")


def test_retain_keys_must_list_every_key_the_patch_sets() -> None:
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "RollingUpdate",
                                   "rollingUpdate": {"maxSurge": 1}}}}
    assert failure(deployment(), patch) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "invalid patch format of retainKeys", "reason": "BadRequest", "code": 400}


@pytest.mark.parametrize(("patch", "message"), [
    ({"spec": {"strategy": {"$retainKeys": "type"}}}, "invalid patch format of retainKeys"),
    ({"metadata": {"$setElementOrderfinalizers": []}},
     "invalid patch format of setElementOrder list"),
    ({"metadata": {"$deleteFromPrimitiveListfinalizers": ["a"]}},
     "invalid patch format of primitive list"),
    ([{"op": "add"}], "json: cannot unmarshal array into Go value of type map[string]interface {}"),
    ("x", "json: cannot unmarshal string into Go value of type map[string]interface {}"),
])
def test_malformed_patches_are_bad_requests(patch: Any, message: str) -> None:
    live = deployment()
    live["metadata"]["finalizers"] = ["a"]
    status = failure(live, patch)
    assert (status["code"], status["reason"], status["message"]) == (400, "BadRequest", message)


def test_list_of_lists_is_unprocessable_with_upstreams_generic_message() -> None:
    live = deployment()
    live["metadata"]["finalizers"] = []
    assert failure(live, {"metadata": {"finalizers": [["b"]]}}) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "the server rejected our request due to an error in our request",
        "reason": "Invalid", "details": {}, "code": 422}


def test_mixed_item_types_are_refused() -> None:
    live = deployment()
    live["metadata"]["finalizers"] = ["a"]
    status = failure(live, {"metadata": {"finalizers": [1]}})
    assert (status["code"], status["message"]) == (
        500, "list element types are not identical: [[a] [1]]")


def test_set_element_order_that_is_not_a_list_is_refused() -> None:
    status = failure(deployment(), {"metadata": {"$setElementOrder/finalizers": "a"}})
    assert (status["code"], status["message"]) == (
        500, "expected a []interface {}, but received a string")


def test_kinds_without_a_schema_have_no_strategic_merge_patch() -> None:
    status = failure({"kind": "Foo"}, {"spec": {}}, "com.example.v1.Foo")
    assert (status["code"], status["message"]) == (
        400, "strategic merge patch format is not supported")
