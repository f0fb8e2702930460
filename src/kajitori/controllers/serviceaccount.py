"""The ServiceAccount controller: every active namespace has a `default` ServiceAccount.

Mirrors pkg/controller/serviceaccount/serviceaccounts_controller.go: a namespace added or
updated, or a ServiceAccount deleted, queues the namespace; its sync creates each required
account the cache lacks. A namespace that is not `Active` (terminating) gets nothing, and a
creation refused because the namespace is going away or gone is not retried.
"""

from __future__ import annotations

from typing import Any

from kajitori.api import errors, meta
from kajitori.client import informer, rest, workqueue
from kajitori.controllers import apistatus, worker

Obj = dict[str, Any]

NAMESPACES = ("", "v1", "namespaces")
SERVICE_ACCOUNTS = ("", "v1", "serviceaccounts")
DEFAULT_SERVICE_ACCOUNT = "default"
SERVICE_ACCOUNTS_TO_ENSURE = (DEFAULT_SERVICE_ACCOUNT,)
"""Upstream's `DefaultServiceAccountsControllerOptions`: just `default`."""
PHASE_ACTIVE = "Active"
WORKERS = 1
"""kube-controller-manager runs this controller with one worker."""


class ServiceAccountsController:
    """Creates the required ServiceAccounts in every active namespace."""

    def __init__(self, *, client: rest.RESTClient, namespaces: informer.Informer,
                 service_accounts: informer.Informer) -> None:
        self._client = client
        self._namespaces = namespaces
        self._service_accounts = service_accounts
        self.queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
            name="serviceaccount")
        namespaces.add_handlers(on_add=self._enqueue_namespace,
                                on_update=lambda _old, new: self._enqueue_namespace(new))
        service_accounts.add_handlers(on_delete=self._service_account_deleted)

    def _enqueue_namespace(self, namespace: Obj) -> None:
        self.queue.add(meta.name(namespace))

    def _service_account_deleted(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        account = informer.deleted_object(obj)
        self.queue.add(meta.namespace(account))

    async def run(self) -> None:
        await worker.run_workers(self.queue, self.sync, what="namespace", workers=WORKERS,
                                 informers=(self._namespaces, self._service_accounts))

    async def sync(self, key: str) -> None:
        """Create what is missing in namespace `key`. Raises SyncFailed naming the accounts
        that could not be created."""
        namespace = self._namespaces.cache.get(key)
        if namespace is None or (namespace.get("status") or {}).get("phase") != PHASE_ACTIVE:
            return  # gone, or terminating: nothing new belongs there
        failures = []
        for name in SERVICE_ACCOUNTS_TO_ENSURE:
            if f"{key}/{name}" in self._service_accounts.cache:
                continue
            try:
                await self._client.create(
                    rest.resource_path(*SERVICE_ACCOUNTS, namespace=key),
                    {"apiVersion": "v1", "kind": "ServiceAccount",
                     "metadata": {"name": name, "namespace": key}})
            except errors.StatusError as exc:
                if exc.reason == "AlreadyExists" or apistatus.is_namespace_gone_or_terminating(exc):
                    continue
                failures.append(str(exc.status.get("message") or exc))
        if failures:
            raise worker.SyncFailed("; ".join(failures))
