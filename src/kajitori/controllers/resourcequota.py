"""The ResourceQuota controller: every quota's status says what is hard and what is used.

Mirrors pkg/controller/resourcequota/resource_quota_controller.go: a quota added, or whose
spec no longer matches its `status.hard`, is synced; so is every quota of a namespace where a
charged object (pod, service, claim, configmap, secret, or whatever a `count/` name names)
appears, changes or goes away (upstream's replenishment), and every quota each
`--resource-quota-sync-period` (5 minutes). A sync recounts the namespace's objects from the
informers' caches with the same evaluator admission charges by (`kajitori.quota.evaluator`),
sets `status.hard` to `spec.hard` and `status.used` to the count of each hard resource, and
writes the status only when it changed.

Departure: resources are found in the built-in catalogue, so `count/` names of custom
resources are not counted.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from kajitori.api import catalogue, meta
from kajitori.client import informer, rest, workqueue
from kajitori.controllers import worker
from kajitori.quota import evaluator

Obj = dict[str, Any]

RESOURCE_QUOTAS = ("", "v1", "resourcequotas")
# Charged resources watched from the start; others when a quota names them.
REPLENISHED = (("", "v1", "pods"), ("", "v1", "services"),
               ("", "v1", "persistentvolumeclaims"), ("", "v1", "configmaps"),
               ("", "v1", "secrets"))


@dataclass(frozen=True)
class ResourceQuotaSettings:
    """kube-controller-manager's flags for this controller, with upstream's defaults."""

    concurrent_resource_quota_syncs: int = 5
    """`--concurrent-resource-quota-syncs`: quotas recounted at once."""
    resource_quota_sync_period: float = 300.0
    """`--resource-quota-sync-period`, seconds (5 min): every quota is recounted this often
    even without a change, catching charges a missed event left out."""


class ResourceQuotaController:
    """Keeps `status.hard` and `status.used` of every ResourceQuota current."""

    def __init__(self, *, client: rest.RESTClient, informers: informer.SharedInformerFactory,
                 resources: catalogue.Catalogue | None = None,
                 settings: ResourceQuotaSettings | None = None) -> None:
        """`resources`: where `count/` names are looked up (None, always so far: the
        built-in catalogue); `settings` None (tests) is upstream's defaults."""
        self._client = client
        self.settings = settings or ResourceQuotaSettings()
        self._informers = informers
        self._resources = resources or catalogue.builtin()
        self._quotas = informers.informer_for(*RESOURCE_QUOTAS)
        self._watched: dict[tuple[str, str], informer.Informer] = {}
        self.queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
            name="resourcequota")
        self._quotas.add_handlers(on_add=self._enqueue, on_update=self._quota_updated)
        for group, version, plural in REPLENISHED:
            self._watch(group, version, plural)

    def _enqueue(self, quota: Obj) -> None:
        self.queue.add(informer.meta_namespace_key(quota))

    def _quota_updated(self, old: Obj, new: Obj) -> None:
        """Admission's own charges change only `status.used`: those need no recount."""
        hard = (new.get("spec") or {}).get("hard") or {}
        if old.get("spec") != new.get("spec") or \
                (new.get("status") or {}).get("hard") != hard:
            self._enqueue(new)

    def _watch(self, group: str, version: str, plural: str) -> informer.Informer:
        watched = self._watched.get((group, plural))
        if watched is None:
            watched = self._informers.informer_for(group, version, plural)
            watched.add_handlers(
                on_add=self._replenish, on_update=lambda _old, new: self._replenish(new),
                on_delete=self._replenish)
            self._watched[(group, plural)] = watched
        return watched

    def _replenish(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        """Something charged changed: recount every quota of its namespace."""
        item = obj.obj if isinstance(obj, informer.DeletedFinalStateUnknown) else obj
        for quota in self._quotas.cache.list(meta.namespace(item)):
            self._enqueue(quota)

    async def run(self) -> None:
        try:
            await self._quotas.wait_for_sync()
            async with asyncio.TaskGroup() as group:
                for _ in range(self.settings.concurrent_resource_quota_syncs):
                    group.create_task(worker.run_worker(self.queue, self.sync,
                                                        what="resourcequota"))
                group.create_task(self._resync())
        finally:
            self.queue.shut_down()

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.settings.resource_quota_sync_period)
            for quota in self._quotas.cache.list():
                self._enqueue(quota)

    async def sync(self, key: str) -> None:
        """Recount quota `key` (`namespace/name`) and store its status if it changed."""
        quota = self._quotas.cache.get(key)
        if quota is None:
            return
        namespace = meta.namespace(quota)
        hard = dict((quota.get("spec") or {}).get("hard") or {})
        used: evaluator.ResourceList = {}
        by_resource: dict[tuple[str, str], list[str]] = {}
        for name in hard:
            charged = evaluator.charged_resource(name)
            if charged is not None and self._version_of(*charged):
                by_resource.setdefault(charged, []).append(name)
                used[name] = evaluator.ZERO
        for (group, plural), names in by_resource.items():
            source = self._watch(group, self._version_of(group, plural), plural)
            await source.wait_for_sync()
            for obj in source.cache.list(namespace):
                if not evaluator.matches_scopes(quota, group, plural, obj):
                    continue
                usage = evaluator.usage(group, plural, obj)
                used = evaluator.add(used, {n: usage[n] for n in names if n in usage})
        status = {"hard": hard, "used": evaluator.to_json(used)}
        if quota.get("status") == status:
            return
        await self._client.update(
            rest.resource_path(*RESOURCE_QUOTAS, namespace=namespace, name=meta.name(quota),
                               subresource="status"),
            {**quota, "status": status})

    def _version_of(self, group: str, plural: str) -> str:
        """The preferred version serving `plural` in `group`, or "" if none does."""
        for group_version in self._resources.group_versions(group):
            if any(r.plural == plural and r.namespaced for r in group_version.resources):
                return group_version.version
        return ""
