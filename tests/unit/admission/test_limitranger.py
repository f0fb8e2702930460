"""LimitRanger: default requests and limits, and min/max/ratio refusals in upstream's words."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kajitori.admission import interface, limitranger
from kajitori.api import catalogue, errors

Obj = dict[str, Any]

CATALOGUE = catalogue.builtin()


def limit_range(*items: Obj) -> Obj:
    return {"metadata": {"name": "lr", "namespace": "ns"}, "spec": {"limits": list(items)}}


def pod(*containers: Obj, init: list[Obj] | None = None) -> Obj:
    spec: Obj = {"containers": list(containers)}
    if init:
        spec["initContainers"] = init
    return {"metadata": {"name": "p"}, "spec": spec}


def container(name: str, **resources: Any) -> Obj:
    return {"name": name, "resources": resources}


def admit(ranges: list[Obj], obj: Obj, plural: str = "pods", operation: str = "CREATE") -> None:
    async def list_limit_ranges(namespace: str) -> list[Obj]:
        return ranges

    resource = CATALOGUE.get("", "v1", plural)
    assert resource is not None
    plugin = limitranger.LimitRanger(list_limit_ranges=list_limit_ranges)
    asyncio.run(plugin.admit(interface.Attributes(
        operation=operation, resource=resource, namespace="ns", name=obj["metadata"]["name"],
        obj=obj, old=None)))


def refusal(ranges: list[Obj], obj: Obj, plural: str = "pods") -> str:
    with pytest.raises(errors.StatusError) as refused:
        admit(ranges, obj, plural)
    assert refused.value.status["code"] == 403
    return str(refused.value.status["message"])


DEFAULTS = {"type": "Container", "default": {"cpu": "500m", "memory": "256Mi"},
            "defaultRequest": {"cpu": "100m", "memory": "128Mi"}}


def test_containers_get_the_defaults_and_the_pod_says_so() -> None:
    obj = pod(container("nginx"), container("sidecar", limits={"cpu": "1"},
                                            requests={"cpu": "1"}),
              init=[container("setup")])
    admit([limit_range(DEFAULTS)], obj)
    nginx, sidecar = obj["spec"]["containers"]
    assert nginx["resources"] == {"limits": {"cpu": "500m", "memory": "256Mi"},
                                  "requests": {"cpu": "100m", "memory": "128Mi"}}
    assert sidecar["resources"] == {"limits": {"cpu": "1", "memory": "256Mi"},
                                    "requests": {"cpu": "1", "memory": "128Mi"}}
    assert obj["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container nginx; "
        "cpu, memory limit for container nginx; memory request for container sidecar; "
        "memory limit for container sidecar; cpu, memory request for init container setup; "
        "cpu, memory limit for init container setup")


def test_a_container_over_max_is_refused() -> None:
    ranges = [limit_range({"type": "Container", "max": {"cpu": "1"}})]
    message = refusal(ranges, pod(container("a", limits={"cpu": "2"}, requests={"cpu": "2"})))
    assert message == ('pods "p" is forbidden: maximum cpu usage per Container is 1, '
                       "but limit is 2")


def test_a_container_without_limit_under_max_is_refused() -> None:
    ranges = [limit_range({"type": "Container", "max": {"memory": "1Gi"}})]
    assert refusal(ranges, pod(container("a"))).endswith(
        "maximum memory usage per Container is 1Gi.  No limit is specified")


def test_min_and_several_failures_are_aggregated() -> None:
    ranges = [limit_range({"type": "Container", "min": {"cpu": "200m"}})]
    message = refusal(ranges, pod(container("a", requests={"cpu": "100m"}), container("b")))
    assert message == (
        'pods "p" is forbidden: [minimum cpu usage per Container is 200m, but request is '
        "100m, minimum cpu usage per Container is 200m.  No request is specified]")


def test_limit_to_request_ratio() -> None:
    ranges = [limit_range({"type": "Container", "maxLimitRequestRatio": {"cpu": "2"}})]
    message = refusal(ranges, pod(container("a", requests={"cpu": "100m"},
                                            limits={"cpu": "500m"})))
    assert message.endswith(
        "cpu max limit to request ratio per Container is 2, but provided ratio is 5.000000")
    admit(ranges, pod(container("a", requests={"cpu": "100m"}, limits={"cpu": "200m"})))


def test_pod_items_check_the_summed_containers() -> None:
    ranges = [limit_range({"type": "Pod", "max": {"memory": "1Gi"}})]
    two = pod(container("a", limits={"memory": "600Mi"}, requests={"memory": "600Mi"}),
              container("b", limits={"memory": "600Mi"}, requests={"memory": "600Mi"}))
    assert refusal(ranges, two).endswith(
        "maximum memory usage per Pod is 1Gi, but limit is 1200Mi")


def test_claims_are_held_to_storage_min_and_max() -> None:
    ranges = [limit_range({"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"},
                           "max": {"storage": "5Gi"}})]
    big = {"metadata": {"name": "data"},
           "spec": {"resources": {"requests": {"storage": "10Gi"}}}}
    assert refusal(ranges, big, plural="persistentvolumeclaims") == (
        'persistentvolumeclaims "data" is forbidden: maximum storage usage per '
        "PersistentVolumeClaim is 5Gi, but request is 10Gi")
    small = {"metadata": {"name": "data"},
             "spec": {"resources": {"requests": {"storage": "500Mi"}}}}
    assert refusal(ranges, small, plural="persistentvolumeclaims").endswith(
        "minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi")


def test_no_limit_ranges_leave_the_pod_alone() -> None:
    obj = pod(container("a"))
    admit([], obj)
    assert obj == pod(container("a"))
