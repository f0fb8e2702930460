"""The PVC protection controller: a claim in use by a pod is not deleted until no pod uses it.

Mirrors pkg/controller/volume/pvcprotection/pvc_protection_controller.go: every live claim
carries the finalizer `kubernetes.io/pvc-protection` (upstream's StorageObjectInUseProtection
admission plugin adds it on create; Kajitori has no such plugin yet, so this controller adds it
to every claim it sees without one, as upstream's controller also does). A claim being deleted
keeps the finalizer while a scheduled pod that has not finished uses it (a volume naming it, or
the pod's ephemeral volume of that name); the cache's answer "unused" is confirmed by listing
the namespace's pods from the API, so a pod the cache has not seen yet still protects it.
Pod changes re-queue the claims they use.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from kajitori.api import errors, meta
from kajitori.client import informer, rest, workqueue
from kajitori.controllers import pvindex, worker

Obj = dict[str, Any]

log = logging.getLogger(__name__)

PVC_PROTECTION_FINALIZER = "kubernetes.io/pvc-protection"
TERMINAL_PHASES = ("Succeeded", "Failed")


def pod_uses_claim(pod: Obj, claim_name: str) -> bool:
    """Whether `pod` holds the claim: scheduled (the kubelet refuses to start a pod whose
    claim is being deleted, so an unscheduled pod never will use it), not finished, and
    naming it."""
    if not (pod.get("spec") or {}).get("nodeName"):
        return False
    if (pod.get("status") or {}).get("phase") in TERMINAL_PHASES:
        return False
    return f"{meta.namespace(pod)}/{claim_name}" in pvindex.pod_pvc_index(pod)


class PVCProtectionController:
    """Adds and removes the claims' protection finalizer; one claim at a time."""

    def __init__(self, *, client: rest.RESTClient, claims: informer.Informer,
                 pods: informer.Informer) -> None:
        self._client = client
        self.claims, self.pods = claims, pods
        self.queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
            name="pvcprotection")
        pvindex.add_pod_pvc_index(pods)
        claims.add_handlers(on_add=self._enqueue_claim,
                            on_update=lambda _old, new: self._enqueue_claim(new))
        pods.add_handlers(on_add=self._enqueue_pod_claims,
                          on_update=lambda _old, new: self._enqueue_pod_claims(new),
                          on_delete=self._on_pod_delete)

    def _enqueue_claim(self, claim: Obj) -> None:
        self.queue.add(pvindex.claim_key(claim))

    def _enqueue_pod_claims(self, pod: Obj) -> None:
        for key in pvindex.pod_pvc_index(pod):
            self.queue.add(key)

    def _on_pod_delete(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        self._enqueue_pod_claims(informer.deleted_object(obj))

    async def run(self) -> None:
        await worker.run_workers(self.queue, self.sync, what="PersistentVolumeClaim",
                                 workers=1, informers=(self.claims, self.pods))

    async def sync(self, key: str) -> None:
        """Add the finalizer to a live claim; remove it from a deleted one nobody uses."""
        claim = self.claims.cache.get(key)
        if claim is None:
            return
        has_finalizer = PVC_PROTECTION_FINALIZER in meta.finalizers(claim)
        if not meta.deletion_timestamp(claim):
            if not has_finalizer:
                await self._set_finalizers(claim, [*meta.finalizers(claim),
                                                   PVC_PROTECTION_FINALIZER])
            return
        if not has_finalizer or await self._in_use(claim):
            return
        await self._set_finalizers(claim, [f for f in meta.finalizers(claim)
                                           if f != PVC_PROTECTION_FINALIZER])

    async def _in_use(self, claim: Obj) -> bool:
        name = meta.name(claim)
        cached = self.pods.cache.by_index(pvindex.POD_PVC_INDEX, pvindex.claim_key(claim))
        if any(pod_uses_claim(pod, name) for pod in cached):
            return True
        listed = await self._client.get(rest.resource_path(
            *pvindex.PODS, namespace=meta.namespace(claim)))
        return any(pod_uses_claim(pod, name) for pod in listed.get("items") or [])

    async def _set_finalizers(self, claim: Obj, finalizers: list[str]) -> None:
        updated = copy.deepcopy(claim)
        meta.metadata(updated)["finalizers"] = finalizers
        with errors.ignore_not_found():
            await self._client.update(rest.resource_path(
                *pvindex.CLAIMS, namespace=meta.namespace(claim), name=meta.name(claim)),
                updated)


def new_pvc_protection_controller(client: rest.RESTClient, *,
                                  informers: informer.SharedInformerFactory
                                  ) -> PVCProtectionController:
    return PVCProtectionController(client=client,
                                   claims=informers.informer_for(*pvindex.CLAIMS),
                                   pods=informers.informer_for(*pvindex.PODS))
