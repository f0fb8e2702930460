"""persistentVolumeClaim volumes: the claim's bound PersistentVolume, when it is on this node.

Mirrors what upstream's volume manager does for a claim (`pkg/kubelet/volumemanager/populator/
desired_state_of_world_populator.go`, `getPVCExtractPV`) and the two plugins Kajitori's node
has: `hostPath` PersistentVolumes (checked like hostPath volumes, `pkg/volume/hostpath`) and
`local` ones (`pkg/volume/local`: the path must exist). Containers bind-mount the path itself,
so nothing is written under the pod. A claim that is missing, being deleted or not bound keeps
the pod waiting with upstream's message (`error processing PVC default/x: PVC is not bound`),
which is not a SetUp failure and so raises MountError directly.

Departure: other PersistentVolume sources (nfs, csi, iscsi...) are refused, as this node has
none of their plugins.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from kajitori.api import meta
from kajitori.kubelet import errors
from kajitori.kubelet.volumes import hostpath, plugin

PLUGIN_NAME = "persistentvolumeclaim"
ERR_PROCESSING = "error processing PVC {namespace}/{name}: {reason}"
REASON_FETCH_PVC = "failed to fetch PVC from API server: {error}"
REASON_NOT_BOUND = "PVC is not bound"
ERR_DELETING = "can't start pod because PVC {namespace}/{name} is being deleted"
ERR_FETCH_PV = "failed to fetch PV {pv} from API server: {error}"
ERR_NOT_FOUND = 'persistentvolumeclaims "{name}" not found'
ERR_PV_NOT_FOUND = 'persistentvolumes "{name}" not found'
ERR_LOCAL_MISSING = 'path "{path}" does not exist'
ERR_UNSUPPORTED = ("persistent volume {pv} has a volume source this node cannot mount "
                   "(only hostPath and local)")


async def set_up(context: plugin.SetUpContext) -> plugin.MountedVolume:
    source = context.volume.get("persistentVolumeClaim") or {}
    name = str(source.get("claimName") or "")
    namespace = context.namespace

    def failure(reason: str) -> errors.MountError:
        return errors.MountError(ERR_PROCESSING.format(namespace=namespace, name=name,
                                                       reason=reason))

    claim = await context.lookup.persistent_volume_claim(namespace, name)
    if claim is None:
        raise failure(REASON_FETCH_PVC.format(error=ERR_NOT_FOUND.format(name=name)))
    if meta.deletion_timestamp(claim):
        raise failure(ERR_DELETING.format(namespace=namespace, name=name))
    volume_name = (claim.get("spec") or {}).get("volumeName") or ""
    if (claim.get("status") or {}).get("phase") != "Bound" or not volume_name:
        raise failure(REASON_NOT_BOUND)
    volume = await context.lookup.persistent_volume(volume_name)
    if volume is None:
        raise failure(ERR_FETCH_PV.format(pv=volume_name,
                                          error=ERR_PV_NOT_FOUND.format(name=volume_name)))
    spec = volume.get("spec") or {}
    readonly = bool(source.get("readOnly"))
    if spec.get("hostPath") is not None:
        return await hostpath.set_up_path(spec["hostPath"], readonly=readonly)
    if spec.get("local") is not None:
        path = str(spec["local"].get("path") or "")
        if not await asyncio.to_thread(os.path.exists, path):
            raise plugin.VolumeError(ERR_LOCAL_MISSING.format(path=path))
        return plugin.MountedVolume(Path(path), readonly=readonly)
    raise plugin.VolumeError(ERR_UNSUPPORTED.format(pv=volume_name))
