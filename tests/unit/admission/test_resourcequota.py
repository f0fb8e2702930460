"""ResourceQuota admission: creates are refused past a quota's hard limits and charged to it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kajitori.admission import interface, resourcequota
from kajitori.api import catalogue, errors
from kajitori.storage import errors as storage_errors

Obj = dict[str, Any]

CATALOGUE = catalogue.builtin()


def quota(name: str, hard: dict[str, str], used: dict[str, str] | None, **spec: Any) -> Obj:
    status: Obj = {"hard": hard}
    if used is not None:
        status["used"] = used
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": "7"},
            "spec": {"hard": hard, **spec}, "status": status}


def pod(name: str = "p", **resources: Any) -> Obj:
    return {"metadata": {"name": name},
            "spec": {"containers": [{"name": "app", "resources": resources}]}}


class Quotas:
    def __init__(self, *quotas: Obj, conflicts: int = 0) -> None:
        self.quotas = list(quotas)
        self.conflicts = conflicts
        self.written: list[Obj] = []

    async def list(self, namespace: str) -> list[Obj]:
        return self.quotas

    async def update(self, obj: Obj) -> None:
        if self.conflicts:
            self.conflicts -= 1
            raise storage_errors.Conflict("k", expected=7, actual=8)
        self.written.append(obj)


def admit(quotas: Quotas, obj: Obj, plural: str = "pods", group: str = "",
          dry_run: bool = False) -> None:
    resource = CATALOGUE.get(group, "v1", plural)
    assert resource is not None
    plugin = resourcequota.ResourceQuota(list_quotas=quotas.list,
                                         update_quota_status=quotas.update)
    asyncio.run(plugin.admit(interface.Attributes(
        operation="CREATE", resource=resource, namespace="ns",
        name=obj["metadata"].get("name", ""), obj=obj, old=None, dry_run=dry_run)))


def test_exceeding_pods_is_refused_with_upstreams_message() -> None:
    quotas = Quotas(quota("q1", {"pods": "10"}, {"pods": "10"}))
    with pytest.raises(errors.StatusError) as refused:
        admit(quotas, pod())
    assert refused.value.status["code"] == 403
    assert refused.value.status["message"] == (
        'pods "p" is forbidden: exceeded quota: q1, requested: pods=1, used: pods=10, '
        "limited: pods=10")
    assert quotas.written == []


def test_a_fitting_create_raises_used() -> None:
    quotas = Quotas(quota("q1", {"pods": "10", "requests.cpu": "1", "count/pods": "5"},
                          {"pods": "2", "requests.cpu": "100m", "count/pods": "2"}))
    admit(quotas, pod(requests={"cpu": "250m"}, limits={"cpu": "250m"}))
    assert [q["status"]["used"] for q in quotas.written] == [
        {"pods": "3", "requests.cpu": "350m", "count/pods": "3"}]


def test_only_the_exceeded_resources_are_named() -> None:
    quotas = Quotas(quota("q1", {"pods": "10", "requests.memory": "1Gi"},
                          {"pods": "1", "requests.memory": "900Mi"}))
    with pytest.raises(errors.StatusError) as refused:
        admit(quotas, pod("web", requests={"memory": "200Mi"}))
    assert refused.value.status["message"].endswith(
        "exceeded quota: q1, requested: requests.memory=200Mi, used: requests.memory=900Mi, "
        "limited: requests.memory=1Gi")


def test_quota_on_cpu_requires_every_container_to_state_it() -> None:
    quotas = Quotas(quota("q1", {"limits.cpu": "2", "requests.memory": "1Gi"},
                          {"limits.cpu": "0", "requests.memory": "0"}))
    with pytest.raises(errors.StatusError) as refused:
        admit(quotas, pod())
    assert refused.value.status["message"] == (
        'pods "p" is forbidden: failed quota: q1: must specify limits.cpu for: app; '
        "requests.memory for: app")


def test_a_quota_without_usage_yet_refuses() -> None:
    quotas = Quotas(quota("q1", {"configmaps": "3", "count/configmaps": "3"}, None))
    with pytest.raises(errors.StatusError) as refused:
        admit(quotas, {"metadata": {"name": "c"}}, plural="configmaps")
    assert refused.value.status["message"] == (
        'configmaps "c" is forbidden: status unknown for quota: q1, '
        "resources: configmaps,count/configmaps")


def test_group_resources_count_by_their_qualified_name() -> None:
    quotas = Quotas(quota("q1", {"count/deployments.apps": "1"},
                          {"count/deployments.apps": "1"}))
    with pytest.raises(errors.StatusError) as refused:
        admit(quotas, {"metadata": {"generateName": "web-"}}, plural="deployments",
              group="apps")
    assert refused.value.status["message"] == (
        'deployments.apps "web-" is forbidden: exceeded quota: q1, requested: '
        "count/deployments.apps=1, used: count/deployments.apps=1, "
        "limited: count/deployments.apps=1")


def test_claims_are_charged_their_storage_request() -> None:
    quotas = Quotas(quota("q1", {"requests.storage": "10Gi", "persistentvolumeclaims": "5"},
                          {"requests.storage": "8Gi", "persistentvolumeclaims": "1"}))
    claim = {"metadata": {"name": "data"},
             "spec": {"resources": {"requests": {"storage": "4Gi"}}}}
    with pytest.raises(errors.StatusError) as refused:
        admit(quotas, claim, plural="persistentvolumeclaims")
    assert refused.value.status["message"].endswith(
        "requested: requests.storage=4Gi, used: requests.storage=8Gi, "
        "limited: requests.storage=10Gi")


def test_scoped_quotas_only_charge_the_pods_they_select() -> None:
    quotas = Quotas(quota("best-effort", {"pods": "0"}, {"pods": "0"}, scopes=["BestEffort"]))
    admit(quotas, pod(requests={"cpu": "1"}))
    assert quotas.written == []
    with pytest.raises(errors.StatusError):
        admit(quotas, pod())


def test_dry_run_checks_but_charges_nothing() -> None:
    quotas = Quotas(quota("q1", {"pods": "10"}, {"pods": "0"}))
    admit(quotas, pod(), dry_run=True)
    assert quotas.written == []


def test_a_conflicting_writer_makes_it_read_again() -> None:
    quotas = Quotas(quota("q1", {"pods": "10"}, {"pods": "0"}), conflicts=2)
    admit(quotas, pod())
    assert [q["status"]["used"] for q in quotas.written] == [{"pods": "1"}]


def test_events_and_unquoted_resources_pass() -> None:
    quotas = Quotas(quota("q1", {"pods": "0"}, {"pods": "0"}))
    admit(quotas, {"metadata": {"name": "e"}}, plural="events")
    admit(quotas, {"metadata": {"name": "s"}}, plural="secrets")
    assert quotas.written == []
