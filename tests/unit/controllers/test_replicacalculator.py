"""The HPA replica calculation: upstream's cases for utilization and average-value targets."""

from __future__ import annotations

import datetime

import pytest

from kajitori.controllers import replicacalculator as rc
from kajitori.controllers.replicacalculator import PodMetric

NOW = 1_800_000_000.0
LONG_AGO = "2020-01-01T00:00:00Z"


def pod(name: str, *, cpu: str = "1", phase: str = "Running", ready: str = "True",
        started: str = LONG_AGO, deleting: bool = False) -> dict:
    obj: dict = {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": cpu}}}]},
        "status": {"phase": phase, "startTime": started, "conditions": [
            {"type": "Ready", "status": ready, "lastTransitionTime": LONG_AGO}]},
    }
    if deleting:
        obj["metadata"]["deletionTimestamp"] = LONG_AGO
    return obj


def sample(milli: int) -> PodMetric:
    return PodMetric(milli, NOW - 10, 30.0)


def test_scale_up_by_utilization() -> None:
    pods = [pod("a"), pod("b"), pod("c")]
    metrics = {"a": sample(800), "b": sample(800), "c": sample(800)}
    rec = rc.resource_replicas(3, pods, metrics, resource="cpu", target_utilization=50, now=NOW)
    assert rec == rc.Recommendation(replicas=5, utilization=80, raw_average=800)


def test_within_tolerance_keeps_current() -> None:
    pods = [pod("a"), pod("b")]
    metrics = {"a": sample(540), "b": sample(540)}
    rec = rc.resource_replicas(2, pods, metrics, resource="cpu", target_utilization=50, now=NOW)
    assert rec.replicas == 2
    assert rec.utilization == 54


def test_scale_down_by_utilization() -> None:
    pods = [pod(n) for n in "abcd"]
    metrics = {n: sample(100) for n in "abcd"}
    rec = rc.resource_replicas(4, pods, metrics, resource="cpu", target_utilization=50, now=NOW)
    assert rec.replicas == 1


def test_missing_pods_count_as_at_request_on_scale_down() -> None:
    # Two pods at 10% and one without a sample: the missing one counts as 100%, so the
    # ratio becomes (10+10+100)/3/50 = 0.8 and three samples give ceil(2.4) = 3.
    pods = [pod("a"), pod("b"), pod("c")]
    metrics = {"a": sample(100), "b": sample(100)}
    rec = rc.resource_replicas(3, pods, metrics, resource="cpu", target_utilization=50, now=NOW)
    assert rec.replicas == 3


def test_unready_pods_count_as_zero_on_scale_up() -> None:
    pods = [pod("a"), pod("b"), pod("c", phase="Pending")]
    metrics = {"a": sample(1000), "b": sample(1000)}
    rec = rc.resource_replicas(3, pods, metrics, resource="cpu", target_utilization=50, now=NOW)
    # (100+100+0)/3 = 66% of 50% -> ratio 1.33, ceil(1.33*3) = 4
    assert rec.replicas == 4
    assert rec.utilization == 100


def test_deleted_and_failed_pods_are_ignored() -> None:
    pods = [pod("a"), pod("b", deleting=True), pod("c", phase="Failed")]
    metrics = {"a": sample(1000), "b": sample(0), "c": sample(0)}
    rec = rc.resource_replicas(3, pods, metrics, resource="cpu", target_utilization=50, now=NOW)
    assert rec.replicas == 2


def test_average_value_target() -> None:
    pods = [pod("a"), pod("b")]
    metrics = {"a": sample(300), "b": sample(500)}
    rec = rc.resource_replicas(2, pods, metrics, resource="memory", target_average=200, now=NOW)
    assert rec == rc.Recommendation(replicas=4, utilization=None, raw_average=400)


def test_missing_request_is_named() -> None:
    pods = [pod("a")]
    del pods[0]["spec"]["containers"][0]["resources"]["requests"]["cpu"]
    with pytest.raises(rc.ReplicaCalculationError,
                       match="missing request for cpu in container app of Pod a"):
        rc.resource_replicas(1, pods, {"a": sample(100)}, resource="cpu",
                             target_utilization=50, now=NOW)


def test_no_metrics_for_ready_pods() -> None:
    with pytest.raises(rc.ReplicaCalculationError, match="pods might be unready"):
        rc.resource_replicas(1, [pod("a", phase="Pending")], {"a": sample(100)},
                             resource="cpu", target_utilization=50, now=NOW)


def _rfc3339(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_cpu_initialization_period_decides_whether_a_young_pods_sample_counts() -> None:
    # "b" started 100 s ago and turned ready 20 s ago; its sample (taken 10 s ago over 30 s)
    # partly predates readiness. Within the cpu initialization period that makes it unready,
    # and a scale-up that counts it as 0 no longer holds; after the period it counts.
    young = pod("b", started=_rfc3339(NOW - 100))
    young["status"]["conditions"][0]["lastTransitionTime"] = _rfc3339(NOW - 20)
    pods = [pod("a"), young]
    metrics = {"a": sample(800), "b": sample(800)}
    by_default = rc.resource_replicas(2, pods, metrics, resource="cpu", target_utilization=50,
                                      now=NOW)
    assert by_default.replicas == 2
    short = rc.StartupTiming(cpu_initialization_period=60.0)
    rec = rc.resource_replicas(2, pods, metrics, resource="cpu", target_utilization=50,
                               now=NOW, timing=short)
    assert rec.replicas == 4


def test_initial_readiness_delay_decides_whether_an_unready_pod_ever_was_ready() -> None:
    # Past the initialization period, an unready pod whose last transition came within the
    # initial readiness delay of its start never became ready: its sample is left out.
    late = pod("b", ready="False", started=_rfc3339(NOW - 1000))
    late["status"]["conditions"][0]["lastTransitionTime"] = _rfc3339(NOW - 980)
    pods = [pod("a"), late]
    metrics = {"a": sample(800), "b": sample(800)}
    assert rc.resource_replicas(2, pods, metrics, resource="cpu", target_utilization=50,
                                now=NOW).replicas == 2
    brief = rc.StartupTiming(initial_readiness_delay=10.0)
    assert rc.resource_replicas(2, pods, metrics, resource="cpu", target_utilization=50,
                                now=NOW, timing=brief).replicas == 4
