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
