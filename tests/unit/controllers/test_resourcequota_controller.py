"""The ResourceQuota controller: status.hard follows spec.hard, status.used counts live objects."""

from __future__ import annotations

import fakecluster

from kajitori.client import informer, rest, workqueue
from kajitori.controllers import resourcequota


class Informers:
    """An informer factory whose informers are seeded caches, already synced."""

    def __init__(self, **objects: list[dict]) -> None:
        self._objects = objects
        self.made: dict[str, informer.Informer] = {}

    def informer_for(self, group: str, version: str, plural: str) -> informer.Informer:
        if plural not in self.made:
            made = fakecluster.seeded(*self._objects.get(plural, []), name=plural)
            made._synced.set()  # seeded is as good as listed here
            self.made[plural] = made
        return self.made[plural]


def pod(name: str, cpu: str, phase: str = "Running", namespace: str = "default") -> dict:
    return {"metadata": {"name": name, "namespace": namespace},
            "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]},
            "status": {"phase": phase}}


async def test_sync_counts_what_the_quota_names(client: rest.RESTClient) -> None:
    quota = await client.create(
        fakecluster.path("", "v1", "resourcequotas", namespace="default"),
        {"metadata": {"name": "q1"},
         "spec": {"hard": {"pods": "10", "requests.cpu": "2", "configmaps": "5",
                           "count/deployments.apps": "3", "example.com/unknown": "1"}}})
    factory = Informers(
        resourcequotas=[quota],
        pods=[pod("a", "100m"), pod("b", "250m"), pod("done", "1", phase="Succeeded"),
              pod("elsewhere", "1", namespace="other")],
        configmaps=[{"metadata": {"name": "kube-root-ca.crt", "namespace": "default"}}],
        deployments=[])
    ctl = resourcequota.ResourceQuotaController(client=client,
                                                informers=factory)  # type: ignore[arg-type]
    await ctl.sync("default/q1")
    stored = await client.get(fakecluster.path("", "v1", "resourcequotas",
                                               namespace="default", name="q1"))
    assert stored["status"] == {
        "hard": {"pods": "10", "requests.cpu": "2", "configmaps": "5",
                 "count/deployments.apps": "3", "example.com/unknown": "1"},
        "used": {"pods": "2", "requests.cpu": "350m", "configmaps": "1",
                 "count/deployments.apps": "0"}}


def test_changes_queue_the_namespaces_quotas() -> None:
    quota = {"metadata": {"name": "q1", "namespace": "ns"}, "spec": {"hard": {"pods": "1"}},
             "status": {"hard": {"pods": "1"}, "used": {"pods": "0"}}}
    ctl = resourcequota.ResourceQuotaController(
        client=None, informers=Informers(resourcequotas=[quota]))  # type: ignore[arg-type]
    assert len(ctl.queue) == 1  # the quota, replayed on add
    ctl.queue = workqueue.RateLimitingQueue(name="test")
    charged = {**quota, "status": {"hard": {"pods": "1"}, "used": {"pods": "1"}}}
    ctl._quota_updated(quota, charged)
    ctl._replenish(pod("unrelated", "1", namespace="other"))
    assert len(ctl.queue) == 0  # admission's charge alone needs no recount
    ctl._replenish(pod("gone", "1", namespace="ns"))
    assert len(ctl.queue) == 1
    ctl.queue = workqueue.RateLimitingQueue(name="test")
    ctl._quota_updated(quota, {**quota, "spec": {"hard": {"pods": "2"}}})
    assert len(ctl.queue) == 1
