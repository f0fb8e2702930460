"""The PersistentVolume binder: binds claims to volumes, asks provisioners for new ones, and
reclaims volumes whose claim is gone.

Mirrors pkg/controller/volume/persistentvolume/pv_controller.go and pv_controller_base.go
(v1.33): `sync_claim` (syncClaim: syncUnboundClaim / syncBoundClaim) and `sync_volume`
(syncVolume) run from two work queues, fed by the claim and volume informers and by a full
resync every `pvclaimbinder_sync_period`; which volume a claim gets is `pvindex.py`. Phases,
annotations, event reasons and messages are upstream's, so `kubectl get pv,pvc` and
`kubectl describe` read as against upstream.

Binding writes, in upstream's order, the volume's claimRef (and
`pv.kubernetes.io/bound-by-controller` when this controller chose the volume), the volume's
phase Bound, the claim's `spec.volumeName` (with `pv.kubernetes.io/bind-completed`, and
bound-by-controller when this controller chose it) and the claim's status (Bound, the volume's
accessModes and capacity). Each write carries the resourceVersion it read, so a stale cache
makes it fail with a conflict and the key is retried; a half-done binding is finished by the
next sync of either object.

A claim whose class binds on WaitForFirstConsumer is left to the scheduler until it is on a node:
the scheduler pre-binds a chosen static volume (its claimRef) or sets
`volume.kubernetes.io/selected-node` on the claim for a provisioner. Dynamic provisioning is
always external here (Kajitori has no in-tree volume plugins): the claim is annotated
`volume.kubernetes.io/storage-provisioner` (and the beta key) with its class's provisioner,
which creates a volume pre-bound to the claim (`localpath.py` for `rancher.io/local-path`);
this controller then binds the claim to it.

Departures from upstream, all for want of in-tree volume plugins: a volume with reclaim policy
Delete that no external provisioner made is deleted as an object only (its data stays where it
is); one an external provisioner made is left to that provisioner, as upstream; Recycle always
fails as upstream fails without a recycler plugin.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any, Protocol

from kajitori.api import errors, meta, storageclass
from kajitori.client import events, informer, rest, workqueue
from kajitori.controllers import pvindex, worker

Obj = dict[str, Any]


class Recorder(Protocol):
    """What is used of `events.EventRecorder` (tests pass a fake that keeps the events)."""

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None: ...

    async def run(self) -> None: ...

log = logging.getLogger(__name__)

COMPONENT = "persistentvolume-controller"

# Phases.
CLAIM_PENDING, CLAIM_BOUND, CLAIM_LOST = "Pending", "Bound", "Lost"
VOLUME_AVAILABLE, VOLUME_BOUND = "Available", "Bound"
VOLUME_RELEASED, VOLUME_FAILED = "Released", "Failed"

# Reclaim policies.
RETAIN, DELETE, RECYCLE = "Retain", "Delete", "Recycle"
WAIT_FOR_FIRST_CONSUMER = "WaitForFirstConsumer"

# Event reasons (pkg/controller/volume/events/event.go) and messages.
FAILED_BINDING = "FailedBinding"
ALREADY_BOUND_MESSAGE = 'volume "{volume}" already bound to a different claim.'
NO_CLASS_MESSAGE = "no persistent volumes available for this claim and no storage class is set"
WAIT_FOR_FIRST_CONSUMER_REASON = "WaitForFirstConsumer"
WAIT_FOR_FIRST_CONSUMER_MESSAGE = "waiting for first consumer to be created before binding"
WAIT_FOR_POD_SCHEDULED = "WaitForPodScheduled"
EXTERNAL_PROVISIONING = "ExternalProvisioning"
EXTERNAL_PROVISIONING_MESSAGE = (
    "Waiting for a volume to be created either by the external provisioner '{provisioner}' or "
    "manually by the system administrator. If volume creation is delayed, please verify that "
    "the provisioner is running and correctly registered.")
PROVISIONING_FAILED = "ProvisioningFailed"
VOLUME_MISMATCH = "VolumeMismatch"
CLAIM_LOST_REASON = "ClaimLost"
CLAIM_LOST_REFERENCE = ("Bound claim has lost reference to PersistentVolume. "
                        "Data on the volume is lost!")
CLAIM_LOST_VOLUME = "Bound claim has lost its PersistentVolume. Data on the volume is lost!"
CLAIM_MISBOUND = "ClaimMisbound"
CLAIM_MISBOUND_MESSAGE = "Two claims are bound to the same volume, this one is bound incorrectly"
VOLUME_FAILED_RECYCLE = "VolumeFailedRecycle"
NO_RECYCLER_MESSAGE = "No recycler plugin found for the volume!"
VOLUME_UNKNOWN_RECLAIM_POLICY = "VolumeUnknownReclaimPolicy"
UNKNOWN_RECLAIM_POLICY_MESSAGE = "Volume has unrecognized PersistentVolumeReclaimPolicy"
IN_TREE_PREFIX = "kubernetes.io/"
"""Provisioner names of in-tree plugins; none exists here, so such a class fails to provision
(upstream's message for an unknown in-tree plugin)."""

def is_pod_terminated(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def with_annotation(obj: Obj, key: str, value: str) -> None:
    meta.metadata(obj).setdefault("annotations", {})[key] = value


def provisioner_message(provisioner: str) -> str:
    return EXTERNAL_PROVISIONING_MESSAGE.format(provisioner=provisioner)


class PersistentVolumeController:
    """Binds claims and volumes; each claim and each volume key is synced by one worker at a
    time (one queue each), so two bindings of one object never race in this process."""

    def __init__(self, *, client: rest.RESTClient, volumes: informer.Informer,
                 claims: informer.Informer, classes: informer.Informer,
                 pods: informer.Informer, recorder: Recorder,
                 resync_period: float) -> None:
        """`resync_period`: seconds between full resyncs (`--pvclaimbinder-sync-period`)."""
        self._client = client
        self.volumes, self.claims, self.classes, self.pods = volumes, claims, classes, pods
        self.recorder = recorder
        self._resync_period = resync_period
        self.volume_queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
            name="volumes")
        self.claim_queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
            name="claims")
        pvindex.add_pod_pvc_index(pods)
        volumes.add_handlers(on_add=self._enqueue_volume,
                             on_update=lambda _old, new: self._enqueue_volume(new),
                             on_delete=self._on_volume_delete)
        claims.add_handlers(on_add=self._enqueue_claim,
                            on_update=lambda _old, new: self._enqueue_claim(new),
                            on_delete=self._on_claim_delete)

    # ---- event handlers ----------------------------------------------------------------

    def _enqueue_volume(self, volume: Obj) -> None:
        self.volume_queue.add(meta.name(volume))

    def _enqueue_claim(self, claim: Obj) -> None:
        self.claim_queue.add(pvindex.claim_key(claim))

    def _on_volume_delete(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        """A deleted volume may leave its claim Lost: sync the claim."""
        ref = pvindex.claim_ref(informer.deleted_object(obj))
        if ref is not None:
            self.claim_queue.add(pvindex.claim_ref_key(ref))

    def _on_claim_delete(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        """A deleted claim releases its volume: sync the volume."""
        volume_name = (informer.deleted_object(obj).get("spec") or {}).get("volumeName")
        if volume_name:
            self.volume_queue.add(volume_name)

    # ---- running -----------------------------------------------------------------------

    async def run(self) -> None:
        informers = (self.volumes, self.claims, self.classes, self.pods)
        async with asyncio.TaskGroup() as group:
            group.create_task(worker.run_workers(
                self.volume_queue, self.sync_volume, what="PersistentVolume", workers=1,
                informers=informers, alongside=(self.recorder.run,)))
            group.create_task(worker.run_workers(
                self.claim_queue, self.sync_claim, what="PersistentVolumeClaim", workers=1,
                informers=informers))
            group.create_task(self._resync_loop())

    async def _resync_loop(self) -> None:
        """Every `resync_period`, queue every claim and volume (upstream's resync): waiting
        claims retry, and their events repeat, as upstream's do."""
        while True:
            await asyncio.sleep(self._resync_period)
            for claim in self.claims.cache.list():
                self._enqueue_claim(claim)
            for volume in self.volumes.cache.list():
                self._enqueue_volume(volume)

    # ---- claims ------------------------------------------------------------------------

    async def sync_claim(self, key: str) -> None:
        """Bring the claim at `key` one step closer to Bound (or to Lost)."""
        claim = self.claims.cache.get(key)
        if claim is None:
            return
        if pvindex.ANN_BIND_COMPLETED in meta.annotations(claim):
            await self._sync_bound_claim(claim)
        else:
            await self._sync_unbound_claim(claim)

    def _class(self, name: str) -> Obj | None:
        return self.classes.cache.get(name) if name else None

    def is_delay_binding(self, claim: Obj) -> bool:
        """Whether the claim's class binds on WaitForFirstConsumer (a missing class: no)."""
        storage_class = self._class(storageclass.claim_class(claim))
        return (storage_class or {}).get("volumeBindingMode") == WAIT_FOR_FIRST_CONSUMER

    async def _sync_unbound_claim(self, claim: Obj) -> None:
        volume_name = (claim.get("spec") or {}).get("volumeName") or ""
        if not volume_name:
            await self._sync_claim_without_volume(claim)
            return
        # The user (or a scheduler) asked for one volume by name.
        volume = self.volumes.cache.get(volume_name)
        if volume is None:
            await self._update_claim_status(claim, CLAIM_PENDING, None)
            return
        ref = pvindex.claim_ref(volume)
        if ref is None:
            reason = pvindex.check_volume_satisfy_claim(volume, claim)
            if reason is not None:
                self.recorder.event(claim, events.WARNING, VOLUME_MISMATCH,
                                    f'Cannot bind to requested volume "{volume_name}": {reason}')
                await self._update_claim_status(claim, CLAIM_PENDING, None)
                return
            await self.bind(volume, claim)
        elif pvindex.is_volume_bound_to_claim(volume, claim):
            await self.bind(volume, claim)
        elif pvindex.ANN_BOUND_BY_CONTROLLER not in meta.annotations(claim):
            # Claimed by someone else; the user's choice stands, wait for it to free up.
            self.recorder.event(claim, events.WARNING, FAILED_BINDING,
                                ALREADY_BOUND_MESSAGE.format(volume=volume_name))
            await self._update_claim_status(claim, CLAIM_PENDING, None)
        else:
            self.recorder.event(claim, events.WARNING, FAILED_BINDING,
                                ALREADY_BOUND_MESSAGE.format(volume=volume_name))
            raise worker.SyncFailed(
                f'invalid binding of claim "{pvindex.claim_key(claim)}" to volume "{volume_name}": '
                f'volume already claimed by "{pvindex.claim_ref_key(ref)}"')

    async def _sync_claim_without_volume(self, claim: Obj) -> None:
        delay_binding = self.is_delay_binding(claim)
        volume = pvindex.find_best_match_for_claim(claim, self.volumes.cache.list(),
                                                   delay_binding=delay_binding)
        if volume is not None:
            await self.bind(volume, claim)
            return
        if await self._assign_default_storage_class(claim):
            return  # the update re-queues the claim
        if delay_binding and pvindex.ANN_SELECTED_NODE not in meta.annotations(claim):
            self._emit_event_for_unbound_delay_binding_claim(claim)
        elif storageclass.claim_class(claim):
            await self.provision_claim(claim)
            return
        else:
            self.recorder.event(claim, events.NORMAL, FAILED_BINDING, NO_CLASS_MESSAGE)
        await self._update_claim_status(claim, CLAIM_PENDING, None)

    async def _assign_default_storage_class(self, claim: Obj) -> bool:
        """A claim created with no class before a default class existed gets the default now
        (upstream's retroactive default StorageClass). True when the claim was updated."""
        if (claim.get("spec") or {}).get("storageClassName") is not None \
                or storageclass.BETA_STORAGE_CLASS_ANNOTATION in meta.annotations(claim):
            return False
        default = storageclass.get_default_class(self.classes.cache.list())
        if default is None:
            return False
        updated = copy.deepcopy(claim)
        updated.setdefault("spec", {})["storageClassName"] = meta.name(default)
        await self._client.update(self._claim_path(claim), updated)
        return True

    def _emit_event_for_unbound_delay_binding_claim(self, claim: Obj) -> None:
        reason, message = WAIT_FOR_FIRST_CONSUMER_REASON, WAIT_FOR_FIRST_CONSUMER_MESSAGE
        waiting = [meta.name(pod) for pod in self.pods.cache.by_index(pvindex.POD_PVC_INDEX,
                                                                       pvindex.claim_key(claim))
                   if not is_pod_terminated(pod) and not (pod.get("spec") or {}).get("nodeName")]
        if len(waiting) == 1:
            reason = WAIT_FOR_POD_SCHEDULED
            message = f"waiting for pod {waiting[0]} to be scheduled"
        elif waiting:
            reason = WAIT_FOR_POD_SCHEDULED
            message = f"waiting for pods {','.join(sorted(waiting))} to be scheduled"
        self.recorder.event(claim, events.NORMAL, reason, message)

    async def provision_claim(self, claim: Obj) -> None:
        """Ask the class's provisioner for a volume: annotate the claim with its name and say so
        (upstream's provisionClaimOperationExternal). A missing class or an in-tree provisioner
        is a ProvisioningFailed warning; the next resync tries again."""
        class_name = storageclass.claim_class(claim)
        storage_class = self._class(class_name)
        if storage_class is None:
            self.recorder.event(claim, events.WARNING, PROVISIONING_FAILED,
                                f'storageclass.storage.k8s.io "{class_name}" not found')
            return
        provisioner = storage_class.get("provisioner", "")
        if provisioner.startswith(IN_TREE_PREFIX):
            self.recorder.event(claim, events.WARNING, PROVISIONING_FAILED,
                                f"no volume plugin matched name: {provisioner}")
            return
        annotations = meta.annotations(claim)
        if annotations.get(pvindex.ANN_STORAGE_PROVISIONER) != provisioner \
                or annotations.get(pvindex.ANN_BETA_STORAGE_PROVISIONER) != provisioner:
            updated = copy.deepcopy(claim)
            with_annotation(updated, pvindex.ANN_STORAGE_PROVISIONER, provisioner)
            with_annotation(updated, pvindex.ANN_BETA_STORAGE_PROVISIONER, provisioner)
            claim = await self._client.update(self._claim_path(claim), updated)
        self.recorder.event(claim, events.NORMAL, EXTERNAL_PROVISIONING,
                            provisioner_message(provisioner))

    async def _sync_bound_claim(self, claim: Obj) -> None:
        volume_name = (claim.get("spec") or {}).get("volumeName") or ""
        if not volume_name:
            await self._update_claim_status_with_event(claim, CLAIM_LOST, CLAIM_LOST_REASON,
                                                       CLAIM_LOST_REFERENCE)
            return
        volume = self.volumes.cache.get(volume_name)
        if volume is None:
            await self._update_claim_status_with_event(claim, CLAIM_LOST, CLAIM_LOST_REASON,
                                                       CLAIM_LOST_VOLUME)
            return
        ref = pvindex.claim_ref(volume)
        if ref is None or ref.get("uid") == meta.uid(claim):
            # Unbound volume (or a cache that has not seen our write yet): bind again;
            # properly bound: bind() finds nothing to change.
            await self.bind(volume, claim)
            return
        await self._update_claim_status_with_event(claim, CLAIM_LOST, CLAIM_MISBOUND,
                                                   CLAIM_MISBOUND_MESSAGE)

    # ---- binding -----------------------------------------------------------------------

    async def bind(self, volume: Obj, claim: Obj) -> None:
        """Bind `volume` and `claim` to each other and mark both Bound; each step writes only
        what is not so already, so a repeated or resumed bind is cheap and safe."""
        volume = await self._bind_volume_to_claim(volume, claim)
        volume = await self._update_volume_phase(volume, VOLUME_BOUND)
        claim = await self._bind_claim_to_volume(claim, volume)
        await self._update_claim_status(claim, CLAIM_BOUND, volume)

    async def _bind_volume_to_claim(self, volume: Obj, claim: Obj) -> Obj:
        chosen_here = not pvindex.is_volume_bound_to_claim(volume, claim)
        updated = copy.deepcopy(volume)
        dirty = False
        ref = pvindex.claim_ref(volume) or {}
        if (ref.get("name"), ref.get("namespace"), ref.get("uid")) != \
                (meta.name(claim), meta.namespace(claim), meta.uid(claim)):
            updated.setdefault("spec", {})["claimRef"] = pvindex.claim_reference(claim)
            dirty = True
        if chosen_here and pvindex.ANN_BOUND_BY_CONTROLLER not in meta.annotations(updated):
            with_annotation(updated, pvindex.ANN_BOUND_BY_CONTROLLER, pvindex.ANNOTATION_TRUE)
            dirty = True
        if not dirty:
            return volume
        return await self._client.update(self._volume_path(volume), updated)

    async def _bind_claim_to_volume(self, claim: Obj, volume: Obj) -> Obj:
        updated = copy.deepcopy(claim)
        dirty = False
        if (claim.get("spec") or {}).get("volumeName") != meta.name(volume):
            updated.setdefault("spec", {})["volumeName"] = meta.name(volume)
            if pvindex.ANN_BOUND_BY_CONTROLLER not in meta.annotations(updated):
                with_annotation(updated, pvindex.ANN_BOUND_BY_CONTROLLER, pvindex.ANNOTATION_TRUE)
            dirty = True
        if pvindex.ANN_BIND_COMPLETED not in meta.annotations(updated):
            with_annotation(updated, pvindex.ANN_BIND_COMPLETED, pvindex.ANNOTATION_TRUE)
            dirty = True
        if not dirty:
            return claim
        return await self._client.update(self._claim_path(claim), updated)

    async def _update_claim_status(self, claim: Obj, phase: str, volume: Obj | None) -> Obj:
        """Set the claim's phase; a Bound claim shows its volume's access modes, and its
        capacity once, on becoming Bound (a later difference may be intended); others none."""
        status = claim.get("status") or {}
        updated = copy.deepcopy(claim)
        new_status = updated.setdefault("status", {})
        new_status["phase"] = phase
        if volume is None:
            new_status.pop("accessModes", None)
            new_status.pop("capacity", None)
        else:
            modes = (volume.get("spec") or {}).get("accessModes")
            if modes is not None:
                new_status["accessModes"] = modes
            capacity = (volume.get("spec") or {}).get("capacity")
            if status.get("phase") != phase and capacity:
                new_status["capacity"] = capacity
        if new_status == status:
            return claim
        return await self._client.update(self._claim_path(claim, status=True), updated)

    async def _update_claim_status_with_event(self, claim: Obj, phase: str, reason: str,
                                              message: str) -> None:
        if (claim.get("status") or {}).get("phase") == phase:
            return  # reported already
        claim = await self._update_claim_status(claim, phase, None)
        self.recorder.event(claim, events.WARNING, reason, message)

    # ---- volumes -----------------------------------------------------------------------

    async def sync_volume(self, name: str) -> None:
        """Keep the volume's phase true to its claim, and reclaim it once its claim is gone."""
        volume = self.volumes.cache.get(name)
        if volume is None:
            return
        ref = pvindex.claim_ref(volume)
        if ref is None or not ref.get("uid"):
            # Unused, or reserved for a claim whose sync will finish the binding.
            await self._update_volume_phase(volume, VOLUME_AVAILABLE)
            return
        claim = await self._claim_of(volume, ref)
        if claim is None:
            if self._phase(volume) not in (VOLUME_RELEASED, VOLUME_FAILED):
                volume = await self._update_volume_phase(volume, VOLUME_RELEASED)
            await self.reclaim_volume(volume)
            return
        bound_to = (claim.get("spec") or {}).get("volumeName") or ""
        if not bound_to:
            if pvindex.volume_modes_mismatch(claim, volume):
                self.recorder.event(
                    volume, events.WARNING, VOLUME_MISMATCH,
                    f'Cannot bind PersistentVolume to requested PersistentVolumeClaim '
                    f'"{meta.name(claim)}" due to incompatible volumeMode.')
                self.recorder.event(
                    claim, events.WARNING, VOLUME_MISMATCH,
                    f'Cannot bind PersistentVolume "{name}" to requested '
                    "PersistentVolumeClaim due to incompatible volumeMode.")
                return
            # Half-bound (or freshly provisioned for the claim): the claim's sync binds it.
            self.claim_queue.add(pvindex.claim_key(claim))
            return
        if bound_to == name:
            await self._update_volume_phase(volume, VOLUME_BOUND)
            return
        # The claim is bound to another volume.
        annotations = meta.annotations(volume)
        if pvindex.ANN_DYNAMICALLY_PROVISIONED in annotations and self._policy(volume) == DELETE:
            # Provisioned for this claim, which went elsewhere: not needed any more.
            if self._phase(volume) not in (VOLUME_RELEASED, VOLUME_FAILED):
                volume = await self._update_volume_phase(volume, VOLUME_RELEASED)
            await self.reclaim_volume(volume)
            return
        await self._unbind_volume(volume)

    async def _claim_of(self, volume: Obj, ref: Obj) -> Obj | None:
        """The claim `ref` names, if it is still the one (same uid). The cache may not have
        seen a claim a provisioner or scheduler just bound to, nor a recreated one: before
        releasing a volume, ask the API."""
        claim = self.claims.cache.get(pvindex.claim_ref_key(ref))
        if claim is not None and meta.uid(claim) == ref.get("uid"):
            return claim
        if claim is None and self._phase(volume) in (VOLUME_RELEASED, VOLUME_FAILED):
            return None
        try:
            claim = await self._client.get(rest.resource_path(
                *pvindex.CLAIMS, namespace=ref.get("namespace", ""), name=ref.get("name", "")))
        except errors.StatusError as exc:
            if exc.code == 404:
                return None
            raise
        return claim if meta.uid(claim) == ref.get("uid") else None

    async def _unbind_volume(self, volume: Obj) -> None:
        """Free a volume whose claim went elsewhere: one this controller bound loses its
        claimRef; one a user pre-bound keeps the claim's name, only the uid goes."""
        updated = copy.deepcopy(volume)
        if pvindex.ANN_BOUND_BY_CONTROLLER in meta.annotations(volume):
            updated["spec"].pop("claimRef", None)
            annotations = meta.metadata(updated)["annotations"]
            del annotations[pvindex.ANN_BOUND_BY_CONTROLLER]
            if not annotations:
                del meta.metadata(updated)["annotations"]
        else:
            updated["spec"]["claimRef"].pop("uid", None)
        volume = await self._client.update(self._volume_path(volume), updated)
        await self._update_volume_phase(volume, VOLUME_AVAILABLE)

    async def reclaim_volume(self, volume: Obj) -> None:
        """Apply the volume's reclaim policy now that it is Released: Retain keeps it (an
        administrator recovers it), Delete deletes it (an external provisioner's volume is left
        to that provisioner, which removes the data first), Recycle fails as upstream does
        without a recycler."""
        policy = self._policy(volume)
        if policy == RETAIN:
            return
        if policy == RECYCLE:
            await self._update_volume_phase_with_event(volume, VOLUME_FAILED,
                                                       VOLUME_FAILED_RECYCLE, NO_RECYCLER_MESSAGE)
            return
        if policy != DELETE:
            await self._update_volume_phase_with_event(volume, VOLUME_FAILED,
                                                       VOLUME_UNKNOWN_RECLAIM_POLICY,
                                                       UNKNOWN_RECLAIM_POLICY_MESSAGE)
            return
        if meta.deletion_timestamp(volume):
            return
        provisioner = meta.annotations(volume).get(pvindex.ANN_DYNAMICALLY_PROVISIONED, "")
        if provisioner and not provisioner.startswith(IN_TREE_PREFIX):
            return  # the external provisioner deletes it
        log.info("deleting released volume %s (reclaim policy Delete)", meta.name(volume))
        with errors.ignore_not_found():
            await self._client.delete(self._volume_path(volume), options={
                "kind": "DeleteOptions", "apiVersion": "v1",
                "preconditions": {"uid": meta.uid(volume)}})

    async def _update_volume_phase(self, volume: Obj, phase: str) -> Obj:
        status = volume.get("status") or {}
        if status.get("phase") == phase and not status.get("message"):
            return volume
        return await self._write_volume_status(volume, phase, "")

    async def _update_volume_phase_with_event(self, volume: Obj, phase: str, reason: str,
                                              message: str) -> None:
        if self._phase(volume) == phase:
            return  # reported already
        volume = await self._write_volume_status(volume, phase, message)
        self.recorder.event(volume, events.WARNING, reason, message)

    async def _write_volume_status(self, volume: Obj, phase: str, message: str) -> Obj:
        updated = copy.deepcopy(volume)
        status = updated.setdefault("status", {})
        if status.get("phase") != phase:
            status["lastPhaseTransitionTime"] = meta.now()
        status["phase"] = phase
        if message:
            status["message"] = message
        else:
            status.pop("message", None)
        return await self._client.update(self._volume_path(volume, status=True), updated)

    # ---- helpers -----------------------------------------------------------------------

    @staticmethod
    def _phase(volume: Obj) -> str:
        return (volume.get("status") or {}).get("phase") or ""

    @staticmethod
    def _policy(volume: Obj) -> str:
        return (volume.get("spec") or {}).get("persistentVolumeReclaimPolicy") or RETAIN

    @staticmethod
    def _volume_path(volume: Obj, *, status: bool = False) -> str:
        return rest.resource_path(*pvindex.VOLUMES, name=meta.name(volume),
                                  subresource="status" if status else "")

    @staticmethod
    def _claim_path(claim: Obj, *, status: bool = False) -> str:
        return rest.resource_path(*pvindex.CLAIMS, namespace=meta.namespace(claim),
                                  name=meta.name(claim), subresource="status" if status else "")


def new_persistent_volume_controller(client: rest.RESTClient, *,
                                     informers: informer.SharedInformerFactory,
                                     resync_period: float) -> PersistentVolumeController:
    """The binder on the shared informers, as the controller manager starts it."""
    return PersistentVolumeController(
        client=client, volumes=informers.informer_for(*pvindex.VOLUMES),
        claims=informers.informer_for(*pvindex.CLAIMS),
        classes=informers.informer_for(*pvindex.STORAGE_CLASSES),
        pods=informers.informer_for(*pvindex.PODS),
        recorder=events.EventRecorder(client, component=COMPONENT), resync_period=resync_period)
