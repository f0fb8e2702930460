"""What objects cost a ResourceQuota."""

from __future__ import annotations

from kajitori.quota import evaluator


def printed(resources: evaluator.ResourceList) -> dict[str, str]:
    return evaluator.to_json(resources)


def test_a_running_pod_pays_its_requests_and_limits() -> None:
    pod = {"spec": {
        "containers": [{"name": "a", "resources": {"requests": {"cpu": "100m"},
                                                   "limits": {"memory": "1Gi"}}},
                       {"name": "b", "resources": {"requests": {"cpu": "200m"}}}],
        "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "1"}}}]}}
    assert printed(evaluator.usage("", "pods", pod)) == {
        "count/pods": "1", "pods": "1", "cpu": "1", "requests.cpu": "1",
        "limits.memory": "1Gi"}


def test_a_finished_pod_only_counts_as_an_object() -> None:
    pod = {"spec": {"containers": [{"name": "a", "resources": {"requests": {"cpu": "1"}}}]},
           "status": {"phase": "Succeeded"}}
    assert printed(evaluator.usage("", "pods", pod)) == {"count/pods": "1"}


def test_services_pay_their_node_ports() -> None:
    service = {"spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 443}]}}
    assert printed(evaluator.usage("", "services", service)) == {
        "count/services": "1", "services": "1", "services.nodeports": "2"}


def test_other_resources_pay_their_object_count() -> None:
    assert printed(evaluator.usage("", "secrets", {})) == {"count/secrets": "1",
                                                           "secrets": "1"}
    assert printed(evaluator.usage("apps", "deployments", {})) == {
        "count/deployments.apps": "1"}
    assert evaluator.matching_resources("apps", "deployments",
                                        ["pods", "count/deployments.apps"]) == [
        "count/deployments.apps"]


def test_pretty_sorts_by_name() -> None:
    assert evaluator.pretty(evaluator.parse_list({"pods": "1", "cpu": "2"})) == "cpu=2,pods=1"


def test_pods_match_compute_and_extended_resources_not_storage() -> None:
    names = ["pods", "requests.cpu", "requests.storage", "requests.example.com/gpu",
             "services"]
    assert evaluator.matching_resources("", "pods", names) == [
        "pods", "requests.cpu", "requests.example.com/gpu"]
