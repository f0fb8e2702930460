"""The PV protection controller: a volume bound to a claim is not deleted while it is bound.

Mirrors pkg/controller/volume/pvprotection/pv_protection_controller.go: every live volume
carries the finalizer `kubernetes.io/pv-protection` (added here to one without it, standing in
for the StorageObjectInUseProtection admission plugin Kajitori does not have yet); a volume being
deleted keeps it while its phase is Bound, and loses it otherwise, so the deletion completes.
"""

from __future__ import annotations

import copy
from typing import Any

from kajitori.api import errors, meta
from kajitori.client import informer, rest, workqueue
from kajitori.controllers import pvindex, worker

Obj = dict[str, Any]

PV_PROTECTION_FINALIZER = "kubernetes.io/pv-protection"
BOUND = "Bound"


class PVProtectionController:
    """Adds and removes the volumes' protection finalizer; one volume at a time."""

    def __init__(self, *, client: rest.RESTClient, volumes: informer.Informer) -> None:
        self._client = client
        self.volumes = volumes
        self.queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
            name="pvprotection")
        volumes.add_handlers(on_add=self._enqueue,
                             on_update=lambda _old, new: self._enqueue(new))

    def _enqueue(self, volume: Obj) -> None:
        self.queue.add(meta.name(volume))

    async def run(self) -> None:
        await worker.run_workers(self.queue, self.sync, what="PersistentVolume", workers=1,
                                 informers=(self.volumes,))

    async def sync(self, name: str) -> None:
        """Add the finalizer to a live volume; remove it from a deleted one not Bound."""
        volume = self.volumes.cache.get(name)
        if volume is None:
            return
        finalizers = meta.finalizers(volume)
        if not meta.deletion_timestamp(volume):
            if PV_PROTECTION_FINALIZER not in finalizers:
                await self._set_finalizers(volume, [*finalizers, PV_PROTECTION_FINALIZER])
            return
        if PV_PROTECTION_FINALIZER not in finalizers \
                or (volume.get("status") or {}).get("phase") == BOUND:
            return
        await self._set_finalizers(volume, [f for f in finalizers
                                            if f != PV_PROTECTION_FINALIZER])

    async def _set_finalizers(self, volume: Obj, finalizers: list[str]) -> None:
        updated = copy.deepcopy(volume)
        meta.metadata(updated)["finalizers"] = finalizers
        with errors.ignore_not_found():
            await self._client.update(
                rest.resource_path(*pvindex.VOLUMES, name=meta.name(volume)), updated)


def new_pv_protection_controller(client: rest.RESTClient, *,
                                 informers: informer.SharedInformerFactory
                                 ) -> PVProtectionController:
    return PVProtectionController(client=client,
                                  volumes=informers.informer_for(*pvindex.VOLUMES))
