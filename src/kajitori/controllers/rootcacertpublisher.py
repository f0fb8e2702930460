"""The root CA publisher: a `kube-root-ca.crt` ConfigMap in every namespace.

Mirrors pkg/controller/certificates/rootcacertpublisher/publisher.go: a namespace added (or
updated while Active), or that ConfigMap changed or deleted anywhere, queues the namespace; its
sync creates the ConfigMap with `ca.crt` (the cluster CA) and the description annotation, or
puts them back if someone changed them. Pods reach the apiserver with this bundle through their
projected service account volume.
"""

from __future__ import annotations

import copy
from typing import Any

from kajitori.api import errors, meta
from kajitori.client import informer, rest, workqueue
from kajitori.controllers import apistatus, worker

Obj = dict[str, Any]

NAMESPACES = ("", "v1", "namespaces")
CONFIG_MAPS = ("", "v1", "configmaps")
ROOT_CA_CONFIG_MAP_NAME = "kube-root-ca.crt"
CA_KEY = "ca.crt"
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using "
               "internal endpoints such as the internal service IP or kubernetes.default.svc. "
               "No other usage is guaranteed across distributions of Kubernetes clusters.")
PHASE_ACTIVE = "Active"
WORKERS = 1
"""kube-controller-manager runs this controller with one worker."""


class Publisher:
    """Keeps `kube-root-ca.crt` in every namespace holding `root_ca`."""

    def __init__(self, *, client: rest.RESTClient, namespaces: informer.Informer,
                 config_maps: informer.Informer, root_ca: str) -> None:
        self._client = client
        self._namespaces = namespaces
        self._config_maps = config_maps
        self._root_ca = root_ca
        self.queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
            name="root_ca_cert_publisher")
        namespaces.add_handlers(on_add=self._namespace_added,
                                on_update=self._namespace_updated)
        config_maps.add_handlers(on_update=lambda _old, new: self._config_map_changed(new),
                                 on_delete=self._config_map_changed)

    def _namespace_added(self, namespace: Obj) -> None:
        self.queue.add(meta.name(namespace))

    def _namespace_updated(self, _old: Obj, new: Obj) -> None:
        if (new.get("status") or {}).get("phase") == PHASE_ACTIVE:
            self.queue.add(meta.name(new))

    def _config_map_changed(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        config_map = informer.deleted_object(obj)
        if meta.name(config_map) == ROOT_CA_CONFIG_MAP_NAME:
            self.queue.add(meta.namespace(config_map))

    async def run(self) -> None:
        await worker.run_workers(self.queue, self.sync, what="namespace", workers=WORKERS,
                                 informers=(self._namespaces, self._config_maps))

    async def sync(self, key: str) -> None:
        """Create or repair the ConfigMap in namespace `key`; a namespace gone or
        terminating is left alone."""
        data = {CA_KEY: self._root_ca}
        current = self._config_maps.cache.get(f"{key}/{ROOT_CA_CONFIG_MAP_NAME}")
        collection = rest.resource_path(*CONFIG_MAPS, namespace=key)
        if current is None:
            try:
                await self._client.create(collection, {
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": ROOT_CA_CONFIG_MAP_NAME, "namespace": key,
                                 "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION}},
                    "data": data})
            except errors.StatusError as exc:
                if not apistatus.is_namespace_gone_or_terminating(exc):
                    raise
            return
        annotations = meta.metadata(current).get("annotations") or {}
        if current.get("data") == data and annotations.get(DESCRIPTION_ANNOTATION):
            return
        repaired = copy.deepcopy(current)  # the cache's copy is shared
        repaired["data"] = data
        repaired.setdefault("metadata", {}).setdefault("annotations", {})[
            DESCRIPTION_ANNOTATION] = DESCRIPTION
        await self._client.update(f"{collection}/{ROOT_CA_CONFIG_MAP_NAME}", repaired)
