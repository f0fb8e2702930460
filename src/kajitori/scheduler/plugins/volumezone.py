"""VolumeZone: a pod's bound volumes must be in the node's zone and region (upstream's
`plugins/volumezone/volume_zone.go`).

PreFilter reads the topology labels of the PVs the pod's claims are bound to
(`topology.kubernetes.io/zone|region` and the deprecated `failure-domain.beta.kubernetes.io`
ones; a value may list several zones joined by `__`). An unbound claim of a
WaitForFirstConsumer class is skipped (VolumeBinding places it); any other unbound claim, a
missing claim, class or PV is unresolvable. Filter admits a node that has none of the
topology labels, else one whose label (the GA one standing in for a beta key the node lacks)
is among each volume's values: `node(s) had no available volume zone`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kajitori.api import meta, storageclass
from kajitori.scheduler import framework, types
from kajitori.scheduler.framework import ActionType, ClusterEvent, EventResource
from kajitori.scheduler.plugins import volumebinding

NAME = "VolumeZone"
STATE_KEY = "PreFilter" + NAME
ERR_REASON_CONFLICT = "node(s) had no available volume zone"
ERR_NO_CLAIM_NAME = "PersistentVolumeClaim had no name"
ERR_NO_VOLUME_OR_CLASS = "PersistentVolumeClaim had no pv name and storageClass name"
ERR_NO_VOLUME_NAME = "PersistentVolume had no name"
ERR_BINDING_MODE_UNSET = 'VolumeBindingMode not set for StorageClass "{}"'
STORAGE_CLASS_NOT_FOUND = 'storageclass.storage.k8s.io "{}" not found'
VOLUME_NOT_FOUND = 'persistentvolume "{}" not found'
LABEL_ZONE_BETA = "failure-domain.beta.kubernetes.io/zone"
LABEL_REGION_BETA = "failure-domain.beta.kubernetes.io/region"
LABEL_ZONE = "topology.kubernetes.io/zone"
LABEL_REGION = "topology.kubernetes.io/region"
TOPOLOGY_LABELS = (LABEL_ZONE_BETA, LABEL_REGION_BETA, LABEL_ZONE, LABEL_REGION)
GA_LABEL = {LABEL_ZONE_BETA: LABEL_ZONE, LABEL_REGION_BETA: LABEL_REGION}
ZONE_SEPARATOR = "__"


@dataclass(frozen=True)
class VolumeTopology:
    key: str
    values: frozenset[str]


def volume_topologies(pv: Any) -> list[VolumeTopology]:
    """The topology constraints a PV's labels carry."""
    pv_labels = meta.labels(pv)
    return [VolumeTopology(key, frozenset(pv_labels[key].split(ZONE_SEPARATOR)))
            for key in TOPOLOGY_LABELS if key in pv_labels]


def node_fits(topologies: list[VolumeTopology], node_labels: dict[str, str]) -> bool:
    if not any(key in node_labels for key in TOPOLOGY_LABELS):
        return True
    for topology in topologies:
        value = node_labels.get(topology.key)
        if value is None:
            value = node_labels.get(GA_LABEL.get(topology.key, topology.key))
        if value is None or value not in topology.values:
            return False
    return True


class VolumeZone:
    name = NAME

    def __init__(self, args: dict[str, Any] | None = None, handle: Any = None) -> None:
        del args
        self._handle = handle

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent(EventResource.STORAGE_CLASS, ActionType.ADD),
                ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL),
                ClusterEvent(EventResource.PERSISTENT_VOLUME_CLAIM,
                             ActionType.ADD | ActionType.UPDATE),
                ClusterEvent(EventResource.PERSISTENT_VOLUME, ActionType.ADD | ActionType.UPDATE)]

    def _get(self, group: str, plural: str, name: str, namespace: str = "") -> Any:
        getter = getattr(self._handle, "getter", None)
        return getter(group, plural, namespace, name) if getter is not None else None

    def pre_filter(self, state: framework.CycleState, pod: types.PodInfo, cache: Any
                   ) -> tuple[None, framework.Status | None]:
        names = volumebinding.claim_names(pod.pod)
        if not names:
            return None, framework.SKIP
        topologies: list[VolumeTopology] = []
        for name, _ephemeral in names:
            if not name:
                return None, framework.unresolvable(ERR_NO_CLAIM_NAME)
            pvc = self._get("", "persistentvolumeclaims", name, pod.namespace)
            if pvc is None:
                return None, framework.unresolvable(volumebinding.PVC_NOT_FOUND.format(name))
            volume_name = (pvc.get("spec") or {}).get("volumeName")
            if not volume_name:
                class_name = storageclass.claim_class(pvc)
                if not class_name:
                    return None, framework.unresolvable(ERR_NO_VOLUME_OR_CLASS)
                sc = self._get("storage.k8s.io", "storageclasses", class_name)
                if sc is None:
                    return None, framework.unresolvable(
                        STORAGE_CLASS_NOT_FOUND.format(class_name))
                mode = sc.get("volumeBindingMode")
                if not mode:
                    return None, framework.unresolvable(ERR_BINDING_MODE_UNSET.format(class_name))
                if mode == volumebinding.WAIT_FOR_FIRST_CONSUMER:
                    continue
                return None, framework.unresolvable(ERR_NO_VOLUME_NAME)
            pv = self._get("", "persistentvolumes", volume_name)
            if pv is None:
                return None, framework.unresolvable(VOLUME_NOT_FOUND.format(volume_name))
            topologies.extend(volume_topologies(pv))
        if not topologies:
            return None, framework.SKIP
        state[STATE_KEY] = topologies
        return None, None

    def filter(self, state: framework.CycleState, pod: types.PodInfo, cache: Any,
               slots: np.ndarray) -> list[tuple[np.ndarray, framework.Status]]:
        topologies = state.get(STATE_KEY)
        if not topologies:
            return []
        mask = np.asarray([not node_fits(topologies, cache.node_info(slot).labels)
                           for slot in slots.tolist()], dtype=bool)
        return [(mask, framework.unresolvable(ERR_REASON_CONFLICT))] if mask.any() else []
