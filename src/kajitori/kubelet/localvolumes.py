"""Local-path volumes on this node: a deleted volume's directory is removed from the disk.

The local-path provisioner (`kajitori.controllers.localpath`, k3s's rancher/local-path-
provisioner under the same name) runs beside the API and never touches a node's disk; upstream
runs a helper pod on the node whose teardown script removes the volume's directory before the
PersistentVolume is deleted. Here the node's kubelet does that part: it watches
PersistentVolumes and, when one annotated `pv.kubernetes.io/provisioned-by: rancher.io/local-
path` whose required node affinity selects this node is deleted, removes its `spec.hostPath.path`
with everything in it.

Only a directory strictly under the storage root (`KubeletSettings.local_path_storage_root`,
the provisioner's `/var/lib/kajitori/storage`) is removed, symbolic links resolved first: a
volume naming any other path (an edited object, a typo, `..`) is left in place and logged.

Departures: the directory goes after the object, not before it (the delete event is what the
kubelet sees), and a volume deleted while the kubelet was not running keeps its directory.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kajitori.api import meta, nodeaffinity
from kajitori.client import informer, rest

Obj = dict[str, Any]

log = logging.getLogger(__name__)

PERSISTENT_VOLUMES = ("", "v1", "persistentvolumes")
PROVISIONED_BY_ANNOTATION = "pv.kubernetes.io/provisioned-by"
LOCAL_PATH_PROVISIONER = "rancher.io/local-path"


def is_local_volume_of(volume: Obj, *, node_name: str, node_labels: dict[str, str]) -> bool:
    """Whether `volume` was provisioned by the local-path provisioner for this node (its
    required node affinity selects a node of this name and these labels)."""
    if meta.annotations(volume).get(PROVISIONED_BY_ANNOTATION) != LOCAL_PATH_PROVISIONER:
        return False
    required: Obj | None = ((volume.get("spec") or {}).get("nodeAffinity") or {}).get(
        "required")
    if not required:
        return False
    return nodeaffinity.node_selector_matches(required, node_labels, node_name)


def removable_path(volume: Obj, *, storage_root: Path) -> Path | None:
    """The volume's directory, resolved, when it lies strictly under `storage_root`
    (resolved too); None otherwise (no hostPath, the root itself, or elsewhere)."""
    path = ((volume.get("spec") or {}).get("hostPath") or {}).get("path")
    if not path:
        return None
    root = Path(os.path.realpath(storage_root))
    resolved = Path(os.path.realpath(path))
    if resolved == root or not resolved.is_relative_to(root):
        return None
    return resolved


def remove_directory(path: Path) -> bool:
    """Remove `path` and its contents (symbolic links inside are removed, never followed);
    False when it was not there. Synchronous: call in a thread."""
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        return False
    except NotADirectoryError:
        path.unlink()
    return True


class LocalVolumeCleaner:
    """Removes the directories of this node's deleted local-path volumes until cancelled
    (`run`). `node_labels()` gives the registered Node's labels (the provisioner selects the
    node by its `kubernetes.io/hostname`)."""

    def __init__(self, client: rest.RESTClient, *, node_name: str, storage_root: Path,
                 node_labels: Callable[[], dict[str, str]]) -> None:
        self._node_name = node_name
        self._storage_root = storage_root
        self._node_labels = node_labels
        self._deleted: asyncio.Queue[Obj] = asyncio.Queue()
        self.volumes = informer.Informer(rest.ListWatch(client, *PERSISTENT_VOLUMES),
                                         name="kubelet-local-volumes")
        self.volumes.add_handlers(on_delete=self.volume_deleted)

    def volume_deleted(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        """The informer's delete handler: queue this node's local-path volumes."""
        volume = informer.deleted_object(obj)
        if is_local_volume_of(volume, node_name=self._node_name,
                              node_labels=self._node_labels()):
            self._deleted.put_nowait(volume)

    async def remove_next(self) -> None:
        """Wait for the next deleted volume of this node and remove its directory."""
        volume = await self._deleted.get()
        path = removable_path(volume, storage_root=self._storage_root)
        if path is None:
            log.warning("not removing the directory of local-path volume %s: %r is not under "
                        "the storage root %s", meta.name(volume),
                        ((volume.get("spec") or {}).get("hostPath") or {}).get("path"),
                        self._storage_root)
            return
        try:
            if await asyncio.to_thread(remove_directory, path):
                log.info("removed %s of the deleted local-path volume %s", path,
                         meta.name(volume))
        except OSError as exc:
            log.warning("removing %s of the deleted local-path volume %s failed: %s", path,
                        meta.name(volume), exc)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.volumes.run())
            while True:
                await self.remove_next()
