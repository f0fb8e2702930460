"""The local-path provisioner: a hostPath volume on the node the scheduler picked, for every
claim of a class whose provisioner is `rancher.io/local-path` (the default class `local-path`).

Mirrors k3s's rancher/local-path-provisioner on sig-storage-lib-external-provisioner (its
controller.go: `shouldProvision`, `provisionClaimOperation`, `shouldDelete`,
`deleteVolumeOperation`), with the provisioner's name, so manifests written for k3s work
unchanged. The PersistentVolume binder (`persistentvolume.py`) annotates a claim with
`volume.kubernetes.io/storage-provisioner: rancher.io/local-path` once it needs a volume; the
scheduler's VolumeBinding plugin sets `volume.kubernetes.io/selected-node` when it places the
first pod using the claim (WaitForFirstConsumer). Then this controller creates the volume
`pvc-<claim uid>`: hostPath `<storage root>/pvc-<uid>_<namespace>_<claim>` of type
DirectoryOrCreate (the kubelet creates the directory when it mounts it), required node affinity
to that node's `kubernetes.io/hostname`, capacity as requested, the class's reclaim policy and
mount options, claimRef to the claim and `pv.kubernetes.io/provisioned-by`; the binder then binds
the claim to it.

A Released volume of this provisioner with reclaim policy Delete is deleted. Its directory is on
the node and stays there: this controller runs beside the API, not on the node, and never touches
a node's disk (upstream runs a helper pod on the node for it; Kajitori leaves that to the node
agent). A selected node that no longer exists is reported and its annotation removed, so the
scheduler places the pod again. A class with `volumeBindingMode: Immediate` cannot work for
node-local storage (no node is chosen): such a claim gets a ProvisioningFailed warning, as
local-path-provisioner refuses it.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from pathlib import PurePosixPath
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

PROVISIONER_NAME = "rancher.io/local-path"
COMPONENT = f"{PROVISIONER_NAME}_kajitori"
"""Events' source, as the library names it `<provisioner>_<identity>`."""
DEFAULT_STORAGE_ROOT = PurePosixPath("/var/lib/kajitori/storage")
NODES = ("", "v1", "nodes")
HOSTNAME_LABEL = "kubernetes.io/hostname"
DIRECTORY_OR_CREATE = "DirectoryOrCreate"
WAIT_FOR_FIRST_CONSUMER = "WaitForFirstConsumer"
RELEASED = "Released"
DELETE = "Delete"

PROVISIONING = "Provisioning"
PROVISIONING_MESSAGE = 'External provisioner is provisioning volume for claim "{claim}"'
PROVISIONING_SUCCEEDED = "ProvisioningSucceeded"
PROVISIONING_SUCCEEDED_MESSAGE = "Successfully provisioned volume {volume}"
PROVISIONING_FAILED = "ProvisioningFailed"
PROVISIONING_FAILED_MESSAGE = 'failed to provision volume with StorageClass "{cls}": {error}'
NO_TARGET_NODE_MESSAGE = 'failed to get target node: nodes "{node}" not found'
NO_NODE_ERROR = "configuration error, no node was specified"


def volume_name(claim: Obj) -> str:
    """The name of the volume provisioned for `claim`: `pvc-<uid>`, so a retry finds it."""
    return f"pvc-{meta.uid(claim)}"


def volume_path(root: PurePosixPath, claim: Obj) -> str:
    return str(root / f"{volume_name(claim)}_{meta.namespace(claim)}_{meta.name(claim)}")


def make_volume(claim: Obj, storage_class: Obj, *, node: Obj, root: PurePosixPath) -> Obj:
    """The PersistentVolume for `claim` of `storage_class` on `node` (module docstring)."""
    spec = claim.get("spec") or {}
    requests = (spec.get("resources") or {}).get("requests") or {}
    hostname = meta.labels(node).get(HOSTNAME_LABEL) or meta.name(node)
    volume_spec: Obj = {
        "capacity": {"storage": requests.get("storage", "0")},
        "accessModes": list(spec.get("accessModes") or []),
        "persistentVolumeReclaimPolicy": storage_class.get("reclaimPolicy") or "Delete",
        "storageClassName": meta.name(storage_class),
        "volumeMode": spec.get("volumeMode") or "Filesystem",
        "hostPath": {"path": volume_path(root, claim), "type": DIRECTORY_OR_CREATE},
        "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": HOSTNAME_LABEL, "operator": "In", "values": [hostname]}]}]}},
        "claimRef": pvindex.claim_reference(claim),
    }
    if storage_class.get("mountOptions"):
        volume_spec["mountOptions"] = list(storage_class["mountOptions"])
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": volume_name(claim), "annotations": {
                pvindex.ANN_DYNAMICALLY_PROVISIONED: PROVISIONER_NAME}},
            "spec": volume_spec}


class LocalPathProvisioner:
    """Provisions and deletes this provisioner's volumes; one claim or volume at a time."""

    def __init__(self, *, client: rest.RESTClient, claims: informer.Informer,
                 volumes: informer.Informer, classes: informer.Informer,
                 nodes: informer.Informer, recorder: Recorder,
                 storage_root: PurePosixPath = DEFAULT_STORAGE_ROOT) -> None:
        """`storage_root`: the directory on each node under which volumes live."""
        self._client = client
        self.claims, self.volumes, self.classes, self.nodes = claims, volumes, classes, nodes
        self.recorder = recorder
        self._root = storage_root
        self.claim_queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
            name="local-path-claims")
        self.volume_queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
            name="local-path-volumes")
        claims.add_handlers(on_add=self._enqueue_claim,
                            on_update=lambda _old, new: self._enqueue_claim(new))
        volumes.add_handlers(on_add=self._enqueue_volume,
                             on_update=lambda _old, new: self._enqueue_volume(new))

    def _enqueue_claim(self, claim: Obj) -> None:
        self.claim_queue.add(pvindex.claim_key(claim))

    def _enqueue_volume(self, volume: Obj) -> None:
        self.volume_queue.add(meta.name(volume))

    async def run(self) -> None:
        informers = (self.claims, self.volumes, self.classes, self.nodes)
        async with asyncio.TaskGroup() as group:
            group.create_task(worker.run_workers(
                self.claim_queue, self.sync_claim, what="local-path claim", workers=1,
                informers=informers, alongside=(self.recorder.run,)))
            group.create_task(worker.run_workers(
                self.volume_queue, self.sync_volume, what="local-path volume", workers=1,
                informers=informers))

    # ---- provisioning ------------------------------------------------------------------

    def _class_to_provision(self, claim: Obj) -> Obj | None:
        """The claim's class, when the claim is waiting for this provisioner: unbound,
        annotated for it by the binder, of a class of this provisioner."""
        if (claim.get("spec") or {}).get("volumeName") or meta.deletion_timestamp(claim):
            return None
        annotations = meta.annotations(claim)
        asked = annotations.get(pvindex.ANN_STORAGE_PROVISIONER) or \
            annotations.get(pvindex.ANN_BETA_STORAGE_PROVISIONER)
        if asked != PROVISIONER_NAME:
            return None
        storage_class = self.classes.cache.get(storageclass.claim_class(claim))
        if storage_class is None or storage_class.get("provisioner") != PROVISIONER_NAME:
            return None
        return storage_class

    async def sync_claim(self, key: str) -> None:
        """Provision a volume for the claim at `key` if it waits for one on a chosen node.
        Idempotent: the volume's name is fixed by the claim's uid."""
        claim = self.claims.cache.get(key)
        if claim is None:
            return
        storage_class = self._class_to_provision(claim)
        if storage_class is None or self.volumes.cache.get(volume_name(claim)) is not None:
            return
        class_name = meta.name(storage_class)
        node_name = meta.annotations(claim).get(pvindex.ANN_SELECTED_NODE)
        if not node_name:
            if storage_class.get("volumeBindingMode") == WAIT_FOR_FIRST_CONSUMER:
                return  # the scheduler has not placed a consumer yet
            self._failed(claim, class_name, NO_NODE_ERROR)
            return
        node = self.nodes.cache.get(node_name)
        if node is None:
            self.recorder.event(claim, events.WARNING, PROVISIONING_FAILED,
                                NO_TARGET_NODE_MESSAGE.format(node=node_name))
            await self._reschedule(claim)
            return
        self.recorder.event(claim, events.NORMAL, PROVISIONING,
                            PROVISIONING_MESSAGE.format(claim=key))
        volume = make_volume(claim, storage_class, node=node, root=self._root)
        try:
            await self._client.create(rest.resource_path(*pvindex.VOLUMES), volume)
        except errors.StatusError as exc:
            if exc.code != 409:
                raise
            return  # made by an earlier try whose answer was lost
        log.info("provisioned %s for claim %s on node %s", volume_name(claim), key, node_name)
        self.recorder.event(claim, events.NORMAL, PROVISIONING_SUCCEEDED,
                            PROVISIONING_SUCCEEDED_MESSAGE.format(volume=volume_name(claim)))

    async def _reschedule(self, claim: Obj) -> None:
        """The selected node is gone: drop the annotation so the scheduler picks another node
        for the claim's pod (the library's rescheduleProvisioning)."""
        updated = copy.deepcopy(claim)
        del meta.metadata(updated)["annotations"][pvindex.ANN_SELECTED_NODE]
        with errors.ignore_not_found():
            await self._client.update(rest.resource_path(
                *pvindex.CLAIMS, namespace=meta.namespace(claim), name=meta.name(claim)),
                updated)

    def _failed(self, claim: Obj, class_name: str, error: str) -> None:
        self.recorder.event(claim, events.WARNING, PROVISIONING_FAILED,
                            PROVISIONING_FAILED_MESSAGE.format(cls=class_name, error=error))

    # ---- deleting ----------------------------------------------------------------------

    async def sync_volume(self, name: str) -> None:
        """Delete the volume `name` if it is this provisioner's, Released, policy Delete. The
        directory on the node is left to the node (module docstring)."""
        volume = self.volumes.cache.get(name)
        if volume is None or meta.deletion_timestamp(volume):
            return
        if meta.annotations(volume).get(pvindex.ANN_DYNAMICALLY_PROVISIONED) \
                != PROVISIONER_NAME:
            return
        spec = volume.get("spec") or {}
        if (volume.get("status") or {}).get("phase") != RELEASED \
                or spec.get("persistentVolumeReclaimPolicy") != DELETE:
            return
        log.info("deleting volume %s (its data at %s stays on the node)", name,
                 (spec.get("hostPath") or {}).get("path", ""))
        with errors.ignore_not_found():
            await self._client.delete(rest.resource_path(*pvindex.VOLUMES, name=name),
                                      options={"kind": "DeleteOptions", "apiVersion": "v1",
                                               "preconditions": {"uid": meta.uid(volume)}})


def new_local_path_provisioner(client: rest.RESTClient, *,
                               informers: informer.SharedInformerFactory,
                               storage_root: PurePosixPath) -> LocalPathProvisioner:
    """The provisioner on the shared informers, as the controller manager starts it."""
    return LocalPathProvisioner(
        client=client, claims=informers.informer_for(*pvindex.CLAIMS),
        volumes=informers.informer_for(*pvindex.VOLUMES),
        classes=informers.informer_for(*pvindex.STORAGE_CLASSES),
        nodes=informers.informer_for(*NODES),
        recorder=events.EventRecorder(client, component=COMPONENT),
        storage_root=storage_root)
