"""What kinds do on create and update that a schema cannot say: status, generation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kajitori.api import strategy

Obj = dict[str, Any]


def deployment(*, replicas: int = 1, **extra: Any) -> Obj:
    labels = {"app": "web"}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
            **extra}


def pod(**extra: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}, **extra}


def stored(obj: Obj, *, generation: int | None = 1) -> Obj:
    out = copy.deepcopy(obj)
    if generation is not None:
        out["metadata"]["generation"] = generation
    out["metadata"]["resourceVersion"] = "7"
    return out


# --- create -------------------------------------------------------------------------------------

def test_pod_starts_pending_with_its_qos_class() -> None:
    obj = pod(status={"phase": "Running", "podIP": "10.0.0.1"})
    strategy.prepare_for_create("", "pods", obj, has_status=True)
    assert obj["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    assert "generation" not in obj["metadata"]


def test_namespace_starts_active() -> None:
    obj = {"metadata": {"name": "ns"}, "status": {"phase": "Terminating"}}
    strategy.prepare_for_create("", "namespaces", obj, has_status=True)
    assert obj["status"] == {"phase": "Active"}


@pytest.mark.parametrize("resource", ["persistentvolumeclaims", "persistentvolumes"])
def test_volumes_start_pending(resource: str) -> None:
    obj: Obj = {"metadata": {"name": "v"}, "spec": {}}
    strategy.prepare_for_create("", resource, obj, has_status=True)
    assert obj["status"] == {"phase": "Pending"}


def test_service_starts_with_empty_load_balancer_status() -> None:
    obj = {"metadata": {"name": "s"}, "spec": {}, "status": {"loadBalancer": {
        "ingress": [{"ip": "1.2.3.4"}]}}}
    strategy.prepare_for_create("", "services", obj, has_status=True)
    assert obj["status"] == {"loadBalancer": {}}


def test_deployment_starts_at_generation_one_with_client_status_dropped() -> None:
    obj = deployment(status={"replicas": 3})
    obj["metadata"]["generation"] = 9
    strategy.prepare_for_create("apps", "deployments", obj, has_status=True)
    assert obj["metadata"]["generation"] == 1
    assert obj["status"] == {}


def test_new_deployment_shows_an_empty_status() -> None:
    # Upstream's DeploymentStatus is a struct: a created Deployment is served with "status": {}
    # (what `kubectl create deployment --dry-run=server -o yaml` prints), client status or not.
    obj = deployment()
    strategy.prepare_for_create("apps", "deployments", obj, has_status=True)
    assert obj["status"] == {}


def test_node_keeps_the_status_it_registers_with() -> None:
    status = {"capacity": {"cpu": "4"}, "conditions": [{"type": "Ready", "status": "True"}]}
    obj = {"metadata": {"name": "n"}, "status": copy.deepcopy(status)}
    strategy.prepare_for_create("", "nodes", obj, has_status=True)
    assert obj["status"] == status


def test_kind_without_status_is_left_alone() -> None:
    obj = {"metadata": {"name": "c"}, "data": {"k": "v"}}
    strategy.prepare_for_create("", "configmaps", obj, has_status=False)
    assert obj == {"metadata": {"name": "c"}, "data": {"k": "v"}}


# --- update -------------------------------------------------------------------------------------

def test_main_resource_update_keeps_the_stored_status() -> None:
    old = stored(deployment(status={"replicas": 1, "observedGeneration": 1}))
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 42}
    strategy.prepare_for_update("apps", "deployments", new, old, has_status=True)
    assert new["status"] == {"replicas": 1, "observedGeneration": 1}


def test_main_resource_update_cannot_add_a_status() -> None:
    old = stored(deployment())
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 42}
    strategy.prepare_for_update("apps", "deployments", new, old, has_status=True)
    assert new.get("status", {}) == {}


def test_spec_change_bumps_generation() -> None:
    old = stored(deployment(), generation=4)
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 3
    strategy.prepare_for_update("apps", "deployments", new, old, has_status=True)
    assert new["metadata"]["generation"] == 5


def test_label_change_keeps_generation() -> None:
    old = stored(deployment(), generation=4)
    new = copy.deepcopy(old)
    new["metadata"]["labels"] = {"team": "a"}
    strategy.prepare_for_update("apps", "deployments", new, old, has_status=True)
    assert new["metadata"]["generation"] == 4


def test_deployment_annotation_change_bumps_generation() -> None:
    # Upstream's deployment strategy: annotations are copied to the ReplicaSets, so a change
    # to them is a change the controller must observe.
    old = stored(deployment(), generation=4)
    new = copy.deepcopy(old)
    new["metadata"]["annotations"] = {"note": "x"}
    strategy.prepare_for_update("apps", "deployments", new, old, has_status=True)
    assert new["metadata"]["generation"] == 5


def test_replicaset_annotation_change_keeps_generation() -> None:
    old = stored(deployment(), generation=2)
    old["kind"] = "ReplicaSet"
    new = copy.deepcopy(old)
    new["metadata"]["annotations"] = {"note": "x"}
    strategy.prepare_for_update("apps", "replicasets", new, old, has_status=True)
    assert new["metadata"]["generation"] == 2


def test_client_cannot_set_generation_on_update() -> None:
    old = stored(deployment(), generation=4)
    new = copy.deepcopy(old)
    new["metadata"]["generation"] = 100
    strategy.prepare_for_update("apps", "deployments", new, old, has_status=True)
    assert new["metadata"]["generation"] == 4


def test_status_change_alone_keeps_generation() -> None:
    old = stored(deployment(status={"replicas": 1}), generation=3)
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 2}
    strategy.prepare_for_update("apps", "deployments", new, old, has_status=True)
    assert new["metadata"]["generation"] == 3


def test_kind_without_generation_gets_none() -> None:
    old = stored(pod(status={"phase": "Pending"}), generation=None)
    new = copy.deepcopy(old)
    new["spec"]["activeDeadlineSeconds"] = 10
    strategy.prepare_for_update("", "pods", new, old, has_status=True)
    assert "generation" not in new["metadata"]
    assert new["status"] == {"phase": "Pending"}


# --- status updates -----------------------------------------------------------------------------

def test_status_update_changes_only_status() -> None:
    old = stored(deployment(status={"replicas": 1}), generation=2)
    old["metadata"]["labels"] = {"keep": "me"}
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 9
    new["metadata"]["labels"] = {"changed": "yes"}
    new["status"] = {"replicas": 3, "readyReplicas": 3}
    strategy.prepare_for_status_update("apps", "deployments", new, old)
    assert new["spec"] == old["spec"]
    assert new["metadata"]["labels"] == {"keep": "me"}
    assert new["metadata"]["generation"] == 2
    assert new["status"] == {"replicas": 3, "readyReplicas": 3}


def test_deployment_status_update_may_change_annotations() -> None:
    old = stored(deployment(status={}))
    new = copy.deepcopy(old)
    new["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "1"}
    strategy.prepare_for_status_update("apps", "deployments", new, old)
    assert new["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "1"}


def test_newer_kinds_keep_all_metadata_on_status_update() -> None:
    old = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "h", "annotations": {"a": "1"}, "resourceVersion": "1"},
           "spec": {}, "status": {}}
    new = copy.deepcopy(old)
    new["metadata"]["annotations"] = {"a": "2"}
    strategy.prepare_for_status_update("autoscaling", "horizontalpodautoscalers", new, old)
    assert new["metadata"]["annotations"] == {"a": "1"}


def test_status_update_carries_the_callers_resource_version() -> None:
    old = stored(deployment(status={}))
    new = copy.deepcopy(old)
    new["metadata"]["resourceVersion"] = "3"
    strategy.prepare_for_status_update("apps", "deployments", new, old)
    assert new["metadata"]["resourceVersion"] == "3"


def test_status_update_does_not_change_the_stored_object() -> None:
    old = stored(deployment(status={"replicas": 1}))
    snapshot = copy.deepcopy(old)
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 5}
    strategy.prepare_for_status_update("apps", "deployments", new, old)
    new["spec"]["replicas"] = 77
    new["metadata"]["labels"] = {"x": "y"}
    assert old == snapshot
