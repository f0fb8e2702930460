"""A pod's QoS class, per the definitions of the Kubernetes docs (Pod Quality of Service
Classes) and upstream's qos.go."""

from __future__ import annotations

from typing import Any

import pytest

from kajitori.api import qos

Obj = dict[str, Any]


def container(name: str = "c", *, requests: Obj | None = None, limits: Obj | None = None) -> Obj:
    resources: Obj = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    return {"name": name, "image": "nginx", "resources": resources}


def pod(*containers: Obj, init: tuple[Obj, ...] = ()) -> Obj:
    spec: Obj = {"containers": list(containers)}
    if init:
        spec["initContainers"] = list(init)
    return {"metadata": {"name": "p"}, "spec": spec}


EQUAL = {"cpu": "700m", "memory": "200Mi"}


def test_guaranteed_when_every_container_has_equal_cpu_and_memory_requests_and_limits() -> None:
    assert qos.pod_qos_class(pod(container(requests=EQUAL, limits=EQUAL))) == "Guaranteed"
    assert qos.pod_qos_class(pod(container("a", requests=EQUAL, limits=EQUAL),
                                 container("b", requests={"cpu": "1", "memory": "1Gi"},
                                           limits={"cpu": "1", "memory": "1Gi"}))) == "Guaranteed"


def test_guaranteed_when_limits_are_given_without_requests() -> None:
    # "Kubernetes automatically assigns a memory request that matches the limit"
    assert qos.pod_qos_class(pod(container(limits=EQUAL))) == "Guaranteed"


def test_equal_quantities_in_other_spellings_are_equal() -> None:
    assert qos.pod_qos_class(pod(container(
        requests={"cpu": "0.5", "memory": "1Gi"},
        limits={"cpu": "500m", "memory": "1073741824"}))) == "Guaranteed"


def test_burstable_when_a_request_is_below_its_limit() -> None:
    assert qos.pod_qos_class(pod(container(requests={"cpu": "500m", "memory": "200Mi"},
                                           limits=EQUAL))) == "Burstable"


def test_burstable_when_only_memory_is_limited() -> None:
    assert qos.pod_qos_class(pod(container(requests={"memory": "200Mi"},
                                           limits={"memory": "200Mi"}))) == "Burstable"


def test_burstable_when_only_requests_are_given() -> None:
    assert qos.pod_qos_class(pod(container(requests={"memory": "100Mi"}))) == "Burstable"


def test_burstable_when_one_container_of_several_sets_anything() -> None:
    assert qos.pod_qos_class(pod(container("a"), container("b", requests={"cpu": "100m"}))) == \
        "Burstable"


def test_burstable_when_another_container_is_unconstrained() -> None:
    assert qos.pod_qos_class(pod(container("a", requests=EQUAL, limits=EQUAL),
                                 container("b"))) == "Burstable"


def test_init_containers_count() -> None:
    assert qos.pod_qos_class(pod(container("a", requests=EQUAL, limits=EQUAL),
                                 init=(container("i", requests={"cpu": "100m"}),))) == "Burstable"
    assert qos.pod_qos_class(pod(container("a"),
                                 init=(container("i", requests={"cpu": "100m"}),))) == "Burstable"


@pytest.mark.parametrize("resources", [
    {},
    {"requests": {}, "limits": {}},
    {"requests": {"cpu": "0", "memory": "0"}},
    {"requests": {"ephemeral-storage": "1Gi"}, "limits": {"nvidia.com/gpu": "1"}},
])
def test_best_effort_without_cpu_or_memory_requests_or_limits(resources: Obj) -> None:
    spec_container = {"name": "c", "image": "nginx", "resources": resources}
    assert qos.pod_qos_class(pod(spec_container, spec_container)) == "BestEffort"


def test_best_effort_for_a_pod_without_resources_key() -> None:
    assert qos.pod_qos_class({"spec": {"containers": [{"name": "c", "image": "nginx"}]}}) == \
        "BestEffort"


def test_other_resources_do_not_spoil_guaranteed() -> None:
    both = {**EQUAL, "ephemeral-storage": "1Gi"}
    assert qos.pod_qos_class(pod(container(requests={**EQUAL, "ephemeral-storage": "500Mi"},
                                           limits=both))) == "Guaranteed"


def test_zero_cpu_limit_is_no_limit() -> None:
    # qos.go counts only limits greater than zero towards "has a cpu and a memory limit"
    zero_cpu = {"cpu": "0", "memory": "200Mi"}
    assert qos.pod_qos_class(pod(container(requests=zero_cpu, limits=zero_cpu))) == "Burstable"


def test_zero_request_with_a_limit_is_no_request() -> None:
    # the zero request stays (it was given) and does not count: requests and limits differ
    assert qos.pod_qos_class(pod(container(requests={"cpu": "0", "memory": "200Mi"},
                                           limits=EQUAL))) == "Burstable"


def test_zero_limits_alone_are_best_effort() -> None:
    assert qos.pod_qos_class(pod(container(limits={"cpu": "0", "memory": "0"}))) == "BestEffort"


def test_a_missing_request_defaults_to_its_limit() -> None:
    assert qos.pod_qos_class(pod(container(requests={"cpu": "700m"}, limits=EQUAL))) == \
        "Guaranteed"


def test_init_container_without_limits_spoils_guaranteed() -> None:
    assert qos.pod_qos_class(pod(container(limits=EQUAL), init=(container("i"),))) == \
        "Burstable"
    assert qos.pod_qos_class(pod(container(limits=EQUAL), init=(container("i", limits=EQUAL),))) \
        == "Guaranteed"


def test_bare_numbers_are_quantities() -> None:
    assert qos.pod_qos_class(pod(container(limits={"cpu": 1, "memory": 1073741824}))) == \
        "Guaranteed"
