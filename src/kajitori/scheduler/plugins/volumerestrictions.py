"""VolumeRestrictions: volumes that only one pod (or one node) may use at a time (upstream's
`plugins/volumerestrictions/volume_restrictions.go`).

- Inline disks: on one node, the same GCE PD (`pdName`) or iSCSI target (`iqn`) mounted by two
  pods conflicts unless both mount it read-only; the same AWS EBS `volumeID` always conflicts;
  the same RBD image (overlapping monitors, same pool and image) unless both are read-only:
  `node(s) had no available disk`.
- ReadWriteOncePod claims: when any pod in the cluster (assigned or assumed) already uses a
  claim of the pod's with that access mode, no node fits: `node has pod using
  PersistentVolumeClaim with the same name and ReadWriteOncePod access mode`.

Both are Unschedulable (preemption may free the volume). A missing claim is unresolvable.
Only pods with such volumes or claims are looked at; the claim users are counted by scanning
the assigned pods once per cycle, which such (rare) pods can afford.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kajitori.scheduler import framework, types
from kajitori.scheduler.framework import ActionType, ClusterEvent, EventResource
from kajitori.scheduler.plugins import volumebinding

NAME = "VolumeRestrictions"
STATE_KEY = "PreFilter" + NAME
ERR_REASON_DISK_CONFLICT = "node(s) had no available disk"
ERR_REASON_READ_WRITE_ONCE_POD_CONFLICT = \
    "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode"
READ_WRITE_ONCE_POD = "ReadWriteOncePod"
GCE_PD = "gcePersistentDisk"
AWS_EBS = "awsElasticBlockStore"
ISCSI = "iscsi"
RBD = "rbd"
DEFAULT_RBD_POOL = "rbd"
RESTRICTED_SOURCES = (GCE_PD, AWS_EBS, ISCSI, RBD)


def volume_conflicts(volume: dict[str, Any], existing: dict[str, Any]) -> bool:
    """upstream's isVolumeConflict for one volume of the incoming pod and one of a pod on
    the node."""
    both_read_only = False
    for source in RESTRICTED_SOURCES:
        mine, theirs = volume.get(source), existing.get(source)
        if mine is None or theirs is None:
            continue
        both_read_only = bool(mine.get("readOnly")) and bool(theirs.get("readOnly"))
        if source == GCE_PD:
            return mine.get("pdName") == theirs.get("pdName") and not both_read_only
        if source == AWS_EBS:
            return bool(mine.get("volumeID") == theirs.get("volumeID"))
        if source == ISCSI:
            return mine.get("iqn") == theirs.get("iqn") and not both_read_only
        overlap = set(mine.get("monitors") or []) & set(theirs.get("monitors") or [])
        return bool(overlap) and \
            (mine.get("pool") or DEFAULT_RBD_POOL) == (theirs.get("pool") or DEFAULT_RBD_POOL) \
            and mine.get("image") == theirs.get("image") and not both_read_only
    return False


def claims_used(pod: types.PodInfo) -> set[str]:
    return {name for name, _ephemeral in volumebinding.claim_names(pod.pod)}


class VolumeRestrictions:
    name = NAME

    def __init__(self, args: dict[str, Any] | None = None, handle: Any = None) -> None:
        del args
        self._handle = handle

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent(EventResource.ASSIGNED_POD, ActionType.DELETE),
                ClusterEvent(EventResource.NODE, ActionType.ADD),
                ClusterEvent(EventResource.PERSISTENT_VOLUME_CLAIM,
                             ActionType.ADD | ActionType.UPDATE)]

    def pre_filter(self, state: framework.CycleState, pod: types.PodInfo, cache: Any
                   ) -> tuple[None, framework.Status | None]:
        volumes = pod.spec.get("volumes") or []
        if not any(v.get("persistentVolumeClaim") is not None or
                   any(v.get(s) is not None for s in RESTRICTED_SOURCES) for v in volumes):
            return None, framework.SKIP
        getter = getattr(self._handle, "getter", None)
        exclusive: set[str] = set()
        for volume in volumes:
            ref = volume.get("persistentVolumeClaim")
            if ref is None:
                continue
            name = ref.get("claimName", "")
            pvc = getter("", "persistentvolumeclaims", pod.namespace, name) \
                if getter is not None else None
            if pvc is None:
                return None, framework.unresolvable(volumebinding.PVC_NOT_FOUND.format(name))
            if READ_WRITE_ONCE_POD in ((pvc.get("spec") or {}).get("accessModes") or []):
                exclusive.add(name)
        conflicting = 0
        if exclusive:
            for other, _slot in cache.pods.values():
                if other.key != pod.key and other.namespace == pod.namespace:
                    conflicting += len(exclusive & claims_used(other))
        state[STATE_KEY] = conflicting
        return None, None

    def filter(self, state: framework.CycleState, pod: types.PodInfo, cache: Any,
               slots: np.ndarray) -> list[tuple[np.ndarray, framework.Status]]:
        verdicts = []
        inline = [v for v in pod.spec.get("volumes") or []
                  if any(v.get(s) is not None for s in RESTRICTED_SOURCES)]
        disk = np.zeros(len(slots), dtype=bool)
        if inline:
            for index, slot in enumerate(slots.tolist()):
                disk[index] = any(
                    volume_conflicts(volume, existing)
                    for other in cache.node_info(slot).pods.values() if other.key != pod.key
                    for existing in other.spec.get("volumes") or []
                    for volume in inline)
            if disk.any():
                verdicts.append((disk, framework.unschedulable(ERR_REASON_DISK_CONFLICT)))
        if state.get(STATE_KEY):
            verdicts.append((~disk, framework.unschedulable(
                ERR_REASON_READ_WRITE_ONCE_POD_CONFLICT)))
        return verdicts
