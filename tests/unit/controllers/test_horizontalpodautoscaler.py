"""HPA behavior: stabilization windows and scale-rate policies, on a fake clock."""

from __future__ import annotations

from kajitori.controllers import horizontalpodautoscaler as hpa_
from kajitori.controllers.horizontalpodautoscaler import ScaleHistory


def rules(*, down_window: int = 300, behavior: dict | None = None) -> tuple[dict, dict]:
    obj = {"spec": {"behavior": behavior or {}}}
    return hpa_.behavior_rules(obj, downscale_stabilization=down_window)


def test_scale_down_waits_for_the_stabilization_window() -> None:
    up, down = rules(behavior={"scaleDown": {"stabilizationWindowSeconds": 60}})
    history = ScaleHistory()
    replicas, cond = hpa_.stabilize(history, current=5, recommended=5, up=up, down=down, now=0)
    assert (replicas, cond.reason) == (5, "ReadyForNewScale")
    replicas, cond = hpa_.stabilize(history, current=5, recommended=2, up=up, down=down, now=30)
    assert (replicas, cond.reason) == (5, "ScaleDownStabilized")
    assert cond.message == hpa_.MSG_SCALE_DOWN_STABILIZED
    replicas, cond = hpa_.stabilize(history, current=5, recommended=2, up=up, down=down, now=61)
    assert (replicas, cond.reason) == (2, "ReadyForNewScale")


def test_scale_up_is_immediate_by_default() -> None:
    up, down = rules()
    history = ScaleHistory()
    hpa_.stabilize(history, current=2, recommended=2, up=up, down=down, now=0)
    replicas, _ = hpa_.stabilize(history, current=2, recommended=6, up=up, down=down, now=15)
    assert replicas == 6


def test_scale_up_window_takes_lowest_recent_recommendation() -> None:
    up, down = rules(behavior={"scaleUp": {"stabilizationWindowSeconds": 60}})
    history = ScaleHistory()
    hpa_.stabilize(history, current=2, recommended=3, up=up, down=down, now=0)
    replicas, cond = hpa_.stabilize(history, current=2, recommended=8, up=up, down=down, now=15)
    assert (replicas, cond.reason) == (3, "ScaleUpStabilized")


def test_default_scale_up_rate_is_max_of_four_pods_or_double() -> None:
    up, down = rules()
    desired, cond = hpa_.limit_by_behavior(ScaleHistory(), current=1, desired=20, min_replicas=1,
                                           max_replicas=50, up=up, down=down, now=0)
    assert (desired, cond.reason, cond.message) == (5, "ScaleUpLimit", hpa_.MSG_SCALE_UP_LIMIT)
    desired, _ = hpa_.limit_by_behavior(ScaleHistory(), current=10, desired=40, min_replicas=1,
                                        max_replicas=50, up=up, down=down, now=0)
    assert desired == 20


def test_rate_counts_changes_within_the_period() -> None:
    up, down = rules(behavior={"scaleUp": {"policies": [
        {"type": "Pods", "value": 2, "periodSeconds": 60}]}})
    history = ScaleHistory()
    hpa_.record_rescale(history, current=2, desired=4, up=up, down=down, now=0)
    desired, cond = hpa_.limit_by_behavior(history, current=4, desired=10, min_replicas=1,
                                           max_replicas=10, up=up, down=down, now=30)
    assert (desired, cond.reason) == (4, "ScaleUpLimit")
    desired, _ = hpa_.limit_by_behavior(history, current=4, desired=10, min_replicas=1,
                                        max_replicas=10, up=up, down=down, now=61)
    assert desired == 6


def test_max_and_min_replicas_bound_the_result() -> None:
    up, down = rules()
    desired, cond = hpa_.limit_by_behavior(ScaleHistory(), current=4, desired=7, min_replicas=1,
                                           max_replicas=5, up=up, down=down, now=0)
    assert (desired, cond.reason, cond.message) == (5, "TooManyReplicas", hpa_.MSG_TOO_MANY)
    desired, cond = hpa_.limit_by_behavior(ScaleHistory(), current=4, desired=1, min_replicas=2,
                                           max_replicas=5, up=up, down=down, now=0)
    assert (desired, cond.reason) == (2, "TooFewReplicas")
    desired, cond = hpa_.limit_by_behavior(ScaleHistory(), current=4, desired=3, min_replicas=2,
                                           max_replicas=5, up=up, down=down, now=0)
    assert (desired, cond.status, cond.reason) == (3, "False", "DesiredWithinRange")


def test_disabled_scale_down() -> None:
    up, down = rules(behavior={"scaleDown": {"selectPolicy": "Disabled"}})
    desired, cond = hpa_.limit_by_behavior(ScaleHistory(), current=4, desired=1, min_replicas=1,
                                           max_replicas=5, up=up, down=down, now=0)
    assert (desired, cond.reason) == (4, "ScaleDownLimit")


def test_metric_names_and_usage() -> None:
    util = {"resource": {"name": "cpu", "target": {"type": "Utilization"}}}
    value = {"resource": {"name": "memory", "target": {"type": "AverageValue"}}}
    assert hpa_.metric_name(util) == "cpu resource utilization (percentage of request)"
    assert hpa_.metric_name(value) == "memory resource"
    item = {"containers": [{"usage": {"cpu": "250m"}}, {"usage": {"cpu": "1"}}]}
    assert hpa_.pod_usage(item, "cpu") == 1250


# --- one sync against a fake API ------------------------------------------------------------

SCALE_PATH = "/apis/apps/v1/namespaces/ns/deployments/web/scale"
STARTED = "2020-01-01T00:00:00Z"


class FakeAPI:
    """Answers GETs from `objects` by path; records scale patches and status writes."""

    def __init__(self, objects: dict[str, dict]) -> None:
        self.objects = objects
        self.patches: list[tuple[str, dict]] = []
        self.statuses: list[dict] = []

    async def get(self, path: str, *, params: dict[str, str] | None = None) -> dict:
        return self.objects[path]

    async def patch(self, path: str, patch: dict) -> dict:
        self.patches.append((path, patch))
        return {}

    async def update(self, path: str, obj: dict) -> dict:
        self.statuses.append(obj["status"])
        return obj


def running_pod(name: str) -> dict:
    return {"metadata": {"name": name, "namespace": "ns"},
            "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "100m"}}}]},
            "status": {"phase": "Running", "startTime": STARTED, "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": STARTED}]}}


def pod_metrics(name: str, cpu: str) -> dict:
    return {"metadata": {"name": name, "namespace": "ns"}, "timestamp": "2026-01-01T00:00:00Z",
            "window": "15s", "containers": [{"name": "c", "usage": {"cpu": cpu}}]}


def hpa_object(*, metrics: list[dict] | None = None) -> dict:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "ns", "uid": "u"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "name": "web"},
                     "minReplicas": 1, "maxReplicas": 5,
                     "metrics": metrics or [{"type": "Resource", "resource": {
                         "name": "cpu", "target": {"type": "Utilization",
                                                   "averageUtilization": 50}}}]}}


def fake_api(cpu: list[str]) -> FakeAPI:
    names = [f"p{i}" for i in range(len(cpu))]
    return FakeAPI({
        SCALE_PATH: {"spec": {"replicas": len(cpu)},
                     "status": {"replicas": len(cpu), "selector": "app=web"}},
        "/api/v1/namespaces/ns/pods": {"items": [running_pod(n) for n in names]},
        "/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods": {
            "items": [pod_metrics(n, c) for n, c in zip(names, cpu, strict=True)]},
    })


async def reconcile(api: FakeAPI, hpa: dict) -> dict:
    controller = hpa_.HorizontalPodAutoscalerController(
        client=api, hpas=seeded_informer(), now=lambda: 1_800_000_000.0)  # type: ignore[arg-type]
    await controller._reconcile("ns/web", hpa)
    return api.statuses[-1]


def seeded_informer() -> object:
    class Handlers:
        def add_handlers(self, **_: object) -> None:
            pass
    return Handlers()


async def test_sync_scales_up_and_reports_status() -> None:
    api = fake_api(["80m", "80m"])
    status = await reconcile(api, hpa_object())
    assert api.patches == [(SCALE_PATH, {"spec": {"replicas": 4}})]
    assert (status["currentReplicas"], status["desiredReplicas"]) == (2, 4)
    assert status["currentMetrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "current": {"averageUtilization": 80, "averageValue": "80m"}}}]
    reasons = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert reasons == {"AbleToScale": ("True", "SucceededRescale"),
                       "ScalingActive": ("True", "ValidMetricFound"),
                       "ScalingLimited": ("False", "DesiredWithinRange")}


async def test_no_metrics_makes_scaling_inactive_without_rescaling() -> None:
    api = fake_api(["80m"])
    api.objects["/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods"] = {"items": []}
    status = await reconcile(api, hpa_object())
    assert api.patches == []
    active = next(c for c in status["conditions"] if c["type"] == "ScalingActive")
    assert (active["status"], active["reason"]) == ("False", "FailedGetResourceMetric")
    assert active["message"] == (
        "the HPA was unable to compute the replica count: failed to get cpu utilization: "
        "unable to get metrics for resource cpu: no metrics returned from resource metrics API")


async def test_average_value_target_on_memory() -> None:
    api = fake_api(["10m"])
    api.objects["/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods"]["items"][0][
        "containers"][0]["usage"]["memory"] = "300Mi"
    status = await reconcile(api, hpa_object(metrics=[{"type": "Resource", "resource": {
        "name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}}]))
    assert api.patches == [(SCALE_PATH, {"spec": {"replicas": 3}})]
    # Upstream writes the raw average in DecimalSI, whatever the resource.
    assert status["currentMetrics"][0]["resource"]["current"] == {"averageValue": "314572800"}
