"""What simulated nodes report as usage: annotations, request fractions, node sums."""

from __future__ import annotations

from kajitori.sim import metrics


def pod(name: str, *, annotations: dict[str, str] | None = None,
        requests: dict[str, str] | None = None, containers: int = 1) -> dict:
    return {"metadata": {"name": name, "namespace": "ns", "labels": {"app": "x"},
                         "annotations": annotations or {}},
            "spec": {"containers": [{"name": f"c{i}",
                                     "resources": {"requests": requests or {}}}
                                    for i in range(containers)]}}


def test_annotation_is_split_over_containers() -> None:
    obj = metrics.pod_metrics(pod("a", annotations={metrics.CPU_USAGE_ANNOTATION: "800m",
                                                    metrics.MEMORY_USAGE_ANNOTATION: "1Gi"},
                                  containers=2), timestamp="T", window="15s")
    assert obj["kind"] == "PodMetrics"
    assert obj["metadata"]["labels"] == {"app": "x"}
    assert obj["containers"] == [{"name": "c0", "usage": {"cpu": "400m", "memory": "512Mi"}},
                                 {"name": "c1", "usage": {"cpu": "400m", "memory": "512Mi"}}]


def test_default_is_a_tenth_of_the_request_or_a_minimum() -> None:
    with_requests = metrics.container_usage(pod("a", requests={"cpu": "500m",
                                                               "memory": "100Mi"}))
    assert with_requests == [("c0", {"cpu": 50, "memory": 10 * 1024 * 1024 * 1000})]
    assert metrics.container_usage(pod("b")) == [("c0", dict(metrics.MINIMUM_USAGE))]


def test_node_usage_is_its_pods_plus_a_base() -> None:
    pods = [pod("a", annotations={metrics.CPU_USAGE_ANNOTATION: "1",
                                  metrics.MEMORY_USAGE_ANNOTATION: "256Mi"})]
    obj = metrics.node_metrics("n1", pods, timestamp="T", window="15s")
    assert obj["usage"] == {"cpu": "1100m", "memory": "512Mi"}
    assert (obj["kind"], obj["metadata"], obj["window"]) == ("NodeMetrics", {"name": "n1"},
                                                             "15s")
