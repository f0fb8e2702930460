"""VolumeBinding: place a pod where its PersistentVolumeClaims can be bound, and bind them
(upstream's `plugins/volumebinding/volume_binding.go` and `binder.go`).

- PreFilter: every claim the pod names (`persistentVolumeClaim` volumes and generic
  `ephemeral` ones, whose claim is `<pod>-<volume>`) must exist, not be lost or being deleted;
  an unbound claim whose StorageClass binds Immediately (or pre-bound to a volume by name)
  waits for the PV controller: `pod has unbound immediate PersistentVolumeClaims`. Both are
  unresolvable. A pod without claims skips the plugin.
- Filter (unresolvable reasons, several per node as upstream): a bound claim's PV whose
  `nodeAffinity` excludes the node → `node(s) had volume node affinity conflict`; a missing
  bound PV → `... bound to non-existent pv(s)`; each WaitForFirstConsumer claim (smallest
  request first) takes the smallest available PV of its class that matches it (capacity,
  access modes, volume mode, selector) and whose node affinity admits the node, one PV per
  claim, as the PV binder matches; else its class must provision (a provisioner other than
  `kubernetes.io/no-provisioner`, `allowedTopologies` admitting the node); a claim already
  carrying `volume.kubernetes.io/selected-node` fits that node only. Otherwise
  `node(s) didn't find available persistent volumes to bind`.
- Reserve: the chosen node's bindings are assumed (PV with a `claimRef`, claim with the
  selected-node annotation) in an assume cache, so the next pods do not take the same PV.
- PreBind (binding cycle): the PV updates (`claimRef` and `pv.kubernetes.io/bound-by-controller`)
  and claim updates (`volume.kubernetes.io/selected-node`) are written; the PV controller does
  the rest; it then waits, polling the informers each second, until every claim is bound,
  at most `bindTimeoutSeconds` (600). A reset claimRef or a removed selected-node annotation
  (failed provisioning) fails it, and the pod is retried.
- Unreserve: the assumptions are dropped.

Class names are read with `kajitori.api.storageclass` (shared with the PV binder, whose
node-less matching in `controllers/pvindex.py` this plugin cannot import: the scheduler's
matching here is per node and vectorised). Score is upstream's StorageCapacityScoring, a gate
off by default: not built. Departures: a
claim counts as bound once it names a volume and carries `pv.kubernetes.io/bind-completed` or
has phase Bound; CSI migration and storage capacity (CSIStorageCapacity) are not consulted;
PreBind checks its bindings once before the first one-second wait. Node matching is memoised
per PV (and per StorageClass) as NumPy masks over node slots, so Filter over 5,000 nodes is
a few array operations per claim.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kajitori.api import errors, labels, meta, nodeaffinity, quantity, storageclass
from kajitori.client import rest
from kajitori.scheduler import framework, types
from kajitori.scheduler.framework import ActionType, ClusterEvent, EventResource

Obj = dict[str, Any]

NAME = "VolumeBinding"
STATE_KEY = "PreFilter" + NAME
ERR_REASON_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
ERR_REASON_NODE_CONFLICT = "node(s) had volume node affinity conflict"
ERR_REASON_PV_NOT_EXIST = \
    "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
ERR_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
PVC_NOT_FOUND = 'persistentvolumeclaim "{}" not found'
PVC_BEING_DELETED = 'persistentvolumeclaim "{}" is being deleted'
PVC_LOST = 'persistentvolumeclaim "{}" bound to non-existent persistentvolume "{}"'
EPHEMERAL_WAITING = \
    'waiting for ephemeral volume controller to create the persistentvolumeclaim "{}"'
EPHEMERAL_NOT_OWNER = "PVC {}/{} was not created for pod {}/{} (pod is not owner)"
ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node"
ANN_BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
ANN_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
NOT_SUPPORTED_PROVISIONER = "kubernetes.io/no-provisioner"
WAIT_FOR_FIRST_CONSUMER = "WaitForFirstConsumer"
VOLUME_AVAILABLE = "Available"
CLAIM_BOUND = "Bound"
CLAIM_LOST = "Lost"
FILESYSTEM = "Filesystem"
STORAGE = "storage"
DEFAULT_BIND_TIMEOUT_SECONDS = 600
BIND_POLL_INTERVAL = 1.0
"""Seconds between PreBind's checks of the bindings (upstream polls every second)."""


# --- the pod's claims and the objects' fields, shared by the volume plugins ---------------------

def claim_names(pod: Obj) -> list[tuple[str, bool]]:
    """(claim name, is it a generic ephemeral volume's) for each volume backed by a claim."""
    found = []
    pod_name = meta.name(pod)
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        if volume.get("persistentVolumeClaim") is not None:
            found.append((volume["persistentVolumeClaim"].get("claimName", ""), False))
        elif volume.get("ephemeral") is not None:
            found.append((f"{pod_name}-{volume.get('name', '')}", True))
    return found


def is_fully_bound(pvc: Obj) -> bool:
    """A claim naming its volume whose binding the PV controller completed."""
    if not (pvc.get("spec") or {}).get("volumeName"):
        return False
    return ANN_BIND_COMPLETED in meta.annotations(pvc) or \
        (pvc.get("status") or {}).get("phase") == CLAIM_BOUND


def volume_node_affinity_matches(pv: Obj, node_labels: dict[str, str], node_name: str) -> bool:
    """upstream's CheckNodeAffinity: a PV without required node affinity fits any node."""
    required = ((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required")
    if required is None:
        return True
    return nodeaffinity.node_selector_matches(required, node_labels, node_name)


def topology_matches(terms: list[Obj] | None, node_labels: dict[str, str]) -> bool:
    """upstream's MatchTopologySelectorTerms for a StorageClass's allowedTopologies: no terms
    admit every node; else one term whose every expression holds."""
    if not terms:
        return True
    return any(all(node_labels.get(e.get("key", "")) in (e.get("values") or [])
                   for e in term.get("matchLabelExpressions") or [])
               for term in terms)


def storage_request(pvc: Obj) -> int:
    requests = ((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}
    return quantity.parse(str(requests.get(STORAGE, "0"))).value()


def volume_capacity(pv: Obj) -> int:
    capacity = (pv.get("spec") or {}).get("capacity") or {}
    return quantity.parse(str(capacity.get(STORAGE, "0"))).value()


def is_volume_bound_to_claim(pv: Obj, pvc: Obj) -> bool:
    """upstream's IsVolumeBoundToClaim: the PV's claimRef names this claim (and its UID, if
    the claimRef has one)."""
    ref = (pv.get("spec") or {}).get("claimRef")
    if not ref:
        return False
    if ref.get("name") != meta.name(pvc) or ref.get("namespace") != meta.namespace(pvc):
        return False
    return not ref.get("uid") or ref.get("uid") == meta.uid(pvc)


def volume_matches_claim(pv: Obj, pvc: Obj) -> bool:
    """The node-independent checks of upstream's FindMatchingVolume for an available PV (the
    scheduler's path): size, volume mode, phase, no claimRef, selector, class, access modes."""
    pv_spec, pvc_spec = pv.get("spec") or {}, pvc.get("spec") or {}
    if volume_capacity(pv) < storage_request(pvc) or meta.deletion_timestamp(pv):
        return False
    if (pv_spec.get("volumeMode") or FILESYSTEM) != (pvc_spec.get("volumeMode") or FILESYSTEM):
        return False
    if (pv.get("status") or {}).get("phase") != VOLUME_AVAILABLE or pv_spec.get("claimRef"):
        return False
    selector = pvc_spec.get("selector")
    if selector is not None and not labels.from_label_selector(selector).matches(
            meta.labels(pv)):
        return False
    if storageclass.volume_class(pv) != storageclass.claim_class(pvc):
        return False
    modes = set(pv_spec.get("accessModes") or [])
    return all(mode in modes for mode in pvc_spec.get("accessModes") or [])


def is_prebound_candidate(pv: Obj, pvc: Obj) -> bool:
    """A PV whose claimRef already names the claim (size and volume mode still checked)."""
    if not is_volume_bound_to_claim(pv, pvc) or meta.deletion_timestamp(pv):
        return False
    pv_spec, pvc_spec = pv.get("spec") or {}, pvc.get("spec") or {}
    return volume_capacity(pv) >= storage_request(pvc) and \
        (pv_spec.get("volumeMode") or FILESYSTEM) == (pvc_spec.get("volumeMode") or FILESYSTEM)


def bind_volume_to_claim(pv: Obj, pvc: Obj) -> Obj:
    """upstream's GetBindVolumeToClaim: a copy of `pv` whose claimRef names `pvc`, marked
    bound by a controller."""
    bound = copy.deepcopy(pv)
    if not is_volume_bound_to_claim(pv, pvc):
        bound["spec"]["claimRef"] = {
            "kind": "PersistentVolumeClaim", "apiVersion": "v1",
            "namespace": meta.namespace(pvc), "name": meta.name(pvc), "uid": meta.uid(pvc),
            "resourceVersion": meta.resource_version(pvc)}
    bound["metadata"].setdefault("annotations", {})[ANN_BOUND_BY_CONTROLLER] = "yes"
    return bound


def _revision(obj: Obj) -> int:
    try:
        return int(meta.resource_version(obj) or 0)
    except ValueError:
        return 0


# --- the assume cache -------------------------------------------------------------------------

class AssumeCache:
    """Objects the scheduler has decided to change but the informer has not yet shown changed
    (upstream's AssumeCache): an assumed copy wins while the informer still holds the version
    it was made from; any newer informer version replaces it."""

    def __init__(self) -> None:
        self._assumed: dict[str, tuple[Obj, str]] = {}

    def get(self, key: str, latest: Obj | None) -> Obj | None:
        """The object to believe for `key`, given the informer's `latest` (None: absent)."""
        found = self._assumed.get(key)
        if found is None:
            return latest
        if latest is not None and meta.resource_version(latest) == found[1]:
            return found[0]
        del self._assumed[key]
        return latest

    def assume(self, key: str, obj: Obj) -> None:
        self._assumed[key] = (obj, meta.resource_version(obj))

    def restore(self, key: str) -> None:
        self._assumed.pop(key, None)


# --- what a cycle works out -------------------------------------------------------------------

@dataclass
class Claims:
    """The pod's claims split as upstream's PodVolumeClaims, with each delayed claim's
    candidate PVs (indices into `volumes`, smallest first)."""

    bound: list[Obj] = field(default_factory=list)
    delayed: list[Obj] = field(default_factory=list)
    """Unbound WaitForFirstConsumer claims, smallest request first."""
    candidates: list[list[int]] = field(default_factory=list)
    volumes: list[Obj] = field(default_factory=list)


@dataclass
class PodVolumes:
    """What binding the pod's claims on one node takes (upstream's PodVolumes)."""

    static_bindings: list[tuple[Obj, Obj]] = field(default_factory=list)
    """(PV with its claimRef set, claim)."""
    dynamic_provisions: list[Obj] = field(default_factory=list)
    """Claims carrying the selected-node annotation."""


@dataclass
class StateData:
    claims: Claims
    choices: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    """Per Filter call: the slots and, per delayed claim, the index of the PV chosen on each
    slot (-1: to provision)."""
    reserved: PodVolumes | None = None
    all_bound: bool = True


class VolumeBinding:
    name = NAME

    def __init__(self, args: dict[str, Any] | None = None, handle: Any = None) -> None:
        self._handle = handle
        self.bind_timeout = float((args or {}).get("bindTimeoutSeconds",
                                                   DEFAULT_BIND_TIMEOUT_SECONDS))
        self.pv_cache = AssumeCache()
        self.pvc_cache = AssumeCache()
        self._masks: dict[str, tuple[str, np.ndarray]] = {}
        self._masks_generation = -1

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent(EventResource.STORAGE_CLASS, ActionType.ADD | ActionType.UPDATE),
                ClusterEvent(EventResource.PERSISTENT_VOLUME_CLAIM,
                             ActionType.ADD | ActionType.UPDATE),
                ClusterEvent(EventResource.PERSISTENT_VOLUME, ActionType.ADD | ActionType.UPDATE),
                ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL
                             | ActionType.UPDATE_NODE_TAINT),
                ClusterEvent(EventResource.CSI_NODE, ActionType.ADD | ActionType.UPDATE)]

    # --- objects, through the informers and the assume caches ---------------------------------

    def _get(self, group: str, plural: str, namespace: str, name: str) -> Obj | None:
        getter = getattr(self._handle, "getter", None)
        return getter(group, plural, namespace, name) if getter is not None else None

    def claim(self, namespace: str, name: str) -> Obj | None:
        return self.pvc_cache.get(f"{namespace}/{name}",
                                  self._get("", "persistentvolumeclaims", namespace, name))

    def volume(self, name: str) -> Obj | None:
        return self.pv_cache.get(name, self._get("", "persistentvolumes", "", name))

    def volumes(self) -> list[Obj]:
        lister = getattr(self._handle, "lister", None)
        listed = lister("", "persistentvolumes", "") if lister is not None else []
        found = (self.pv_cache.get(meta.name(pv), pv) for pv in listed)
        return [pv for pv in found if pv is not None]

    def storage_class(self, name: str) -> Obj | None:
        return self._get("storage.k8s.io", "storageclasses", "", name) if name else None

    def is_delay_binding(self, pvc: Obj) -> bool:
        """upstream's IsDelayBindingMode: the claim's class binds WaitForFirstConsumer."""
        sc = self.storage_class(storageclass.claim_class(pvc))
        return sc is not None and sc.get("volumeBindingMode") == WAIT_FOR_FIRST_CONSUMER

    # --- PreFilter / Filter ---------------------------------------------------------------------

    def pre_filter(self, state: framework.CycleState, pod: types.PodInfo, cache: Any
                   ) -> tuple[None, framework.Status | None]:
        names = claim_names(pod.pod)
        if not names:
            return None, framework.SKIP
        claims = Claims()
        for name, ephemeral in names:
            pvc = self.claim(pod.namespace, name)
            if pvc is None:
                return None, framework.unresolvable(
                    (EPHEMERAL_WAITING if ephemeral else PVC_NOT_FOUND).format(name))
            if (pvc.get("status") or {}).get("phase") == CLAIM_LOST:
                return None, framework.unresolvable(PVC_LOST.format(
                    name, (pvc.get("spec") or {}).get("volumeName", "")))
            if meta.deletion_timestamp(pvc):
                return None, framework.unresolvable(PVC_BEING_DELETED.format(name))
            if ephemeral and not any(ref.get("controller") and ref.get("uid") == pod.uid
                                     for ref in meta.owner_references(pvc)):
                return None, framework.unresolvable(EPHEMERAL_NOT_OWNER.format(
                    pod.namespace, name, pod.namespace, pod.name))
            if is_fully_bound(pvc):
                claims.bound.append(pvc)
            elif self.is_delay_binding(pvc) and not (pvc.get("spec") or {}).get("volumeName"):
                claims.delayed.append(pvc)
            else:
                return None, framework.unresolvable(ERR_UNBOUND_IMMEDIATE)
        if claims.delayed:
            claims.delayed.sort(key=storage_request)
            claims.volumes = self.volumes()
            for pvc in claims.delayed:
                claims.candidates.append(self._candidates(pvc, claims.volumes))
        state[STATE_KEY] = StateData(claims)
        return None, None

    @staticmethod
    def _candidates(pvc: Obj, volumes: list[Obj]) -> list[int]:
        """The PVs that may take `pvc` on some node, smallest first; a PV pre-bound to the claim
        is its only candidate."""
        prebound = [i for i, pv in enumerate(volumes) if is_prebound_candidate(pv, pvc)]
        if prebound:
            return prebound[:1]
        matching = [i for i, pv in enumerate(volumes) if volume_matches_claim(pv, pvc)]
        return sorted(matching, key=lambda i: volume_capacity(volumes[i]))

    def _mask(self, cache: Any, key: str, obj: Obj, matches: Any) -> np.ndarray:
        """Per slot, whether `matches(obj, labels, name)` holds for the node there; memoised
        per object version until the nodes change."""
        if self._masks_generation != cache.node_generation:
            self._masks.clear()
            self._masks_generation = cache.node_generation
        version = meta.resource_version(obj)
        found = self._masks.get(key)
        if found is not None and found[0] == version and found[1].shape[0] == cache.capacity:
            return found[1]
        mask = np.zeros(cache.capacity, dtype=bool)
        for slot in cache.live_slots().tolist():
            info = cache.infos[slot]
            if info is not None:
                mask[slot] = matches(obj, info.labels, info.name)
        self._masks[key] = (version, mask)
        return mask

    def _volume_mask(self, cache: Any, pv: Obj) -> np.ndarray:
        return self._mask(cache, "pv/" + meta.name(pv), pv, volume_node_affinity_matches)

    def _provision_mask(self, cache: Any, pvc: Obj) -> np.ndarray | None:
        """Where the claim's class can provision it; None where it cannot provision at all."""
        sc = self.storage_class(storageclass.claim_class(pvc))
        if sc is None or sc.get("provisioner", "") in ("", NOT_SUPPORTED_PROVISIONER):
            return None
        return self._mask(cache, "sc/" + meta.name(sc), sc,
                          lambda obj, node_labels, _name: topology_matches(
                              obj.get("allowedTopologies"), node_labels))

    def filter(self, state: framework.CycleState, pod: types.PodInfo, cache: Any,
               slots: np.ndarray) -> list[tuple[np.ndarray, framework.Status]]:
        data: StateData | None = state.get(STATE_KEY)
        if data is None:
            return []
        claims = data.claims
        count = len(slots)
        node_ok = np.ones(count, dtype=bool)
        pv_missing = False
        for pvc in claims.bound:
            pv = self.volume(pvc["spec"]["volumeName"])
            if pv is None:
                pv_missing = True
                break
            node_ok &= self._volume_mask(cache, pv)[slots]
        bind_ok = np.ones(count, dtype=bool)
        choices = np.full((len(claims.delayed), count), -1, dtype=np.int64)
        if claims.delayed:
            masks = {i: self._volume_mask(cache, claims.volumes[i])[slots]
                     for rows in claims.candidates for i in rows}
            taken = {i: np.zeros(count, dtype=bool) for i in masks}
            for index, pvc in enumerate(claims.delayed):
                selected = meta.annotations(pvc).get(ANN_SELECTED_NODE)
                if selected is not None:
                    bind_ok &= np.asarray([n == selected for n in cache.names(slots)],
                                          dtype=bool)
                else:
                    for pv_index in claims.candidates[index]:
                        free = masks[pv_index] & ~taken[pv_index] & (choices[index] < 0)
                        choices[index][free] = pv_index
                        taken[pv_index] |= free
                unmatched = choices[index] < 0
                provisionable = self._provision_mask(cache, pvc)
                if provisionable is None:
                    bind_ok &= ~unmatched
                else:
                    bind_ok &= ~unmatched | provisionable[slots]
            data.choices.append((slots, choices))
        verdicts = []
        for node_conflict in (True, False):
            for bind_conflict in (True, False):
                reasons = []
                if node_conflict:
                    reasons.append(ERR_REASON_NODE_CONFLICT)
                if bind_conflict:
                    reasons.append(ERR_REASON_BIND_CONFLICT)
                if pv_missing:
                    reasons.append(ERR_REASON_PV_NOT_EXIST)
                if not reasons:
                    continue
                mask = (node_ok != node_conflict) & (bind_ok != bind_conflict)
                if mask.any():
                    verdicts.append((mask, framework.unresolvable(*reasons)))
        return verdicts

    # --- Reserve / Unreserve / PreBind ------------------------------------------------------

    def pod_volumes(self, data: StateData, cache: Any, node_name: str) -> PodVolumes:
        """The bindings Filter chose for `node_name` (the latest Filter call that saw it)."""
        volumes = PodVolumes()
        slot = cache.by_name.get(node_name)
        for slots, choices in reversed(data.choices):
            where = np.flatnonzero(slots == slot)
            if not len(where):
                continue
            for index, pvc in enumerate(data.claims.delayed):
                chosen = int(choices[index][where[0]])
                if chosen >= 0:
                    volumes.static_bindings.append((data.claims.volumes[chosen], pvc))
                else:
                    volumes.dynamic_provisions.append(pvc)
            break
        return volumes

    def reserve(self, state: framework.CycleState, pod: types.PodInfo, node_name: str
                ) -> framework.Status | None:
        """upstream's AssumePodVolumes: assume the PVs bound and the claims' node selected."""
        data: StateData | None = state.get(STATE_KEY)
        if data is None or not data.claims.delayed:
            if data is not None:
                data.all_bound = True
            return None
        chosen = self.pod_volumes(data, self._handle.cache, node_name)
        reserved = PodVolumes()
        for pv, pvc in chosen.static_bindings:
            bound = bind_volume_to_claim(pv, pvc)
            self.pv_cache.assume(meta.name(bound), bound)
            reserved.static_bindings.append((bound, pvc))
        for pvc in chosen.dynamic_provisions:
            selected = copy.deepcopy(pvc)
            selected["metadata"].setdefault("annotations", {})[ANN_SELECTED_NODE] = node_name
            self.pvc_cache.assume(f"{meta.namespace(pvc)}/{meta.name(pvc)}", selected)
            reserved.dynamic_provisions.append(selected)
        data.reserved = reserved
        data.all_bound = False
        return None

    def unreserve(self, state: framework.CycleState, pod: types.PodInfo, node_name: str
                  ) -> None:
        data: StateData | None = state.get(STATE_KEY)
        if data is None or data.reserved is None:
            return
        for pv, _pvc in data.reserved.static_bindings:
            self.pv_cache.restore(meta.name(pv))
        for pvc in data.reserved.dynamic_provisions:
            self.pvc_cache.restore(f"{meta.namespace(pvc)}/{meta.name(pvc)}")

    async def pre_bind(self, state: framework.CycleState, pod: types.PodInfo, node_name: str
                       ) -> framework.Status | None:
        """upstream's BindPodVolumes: write the bindings, then wait for the PV controller."""
        data: StateData | None = state.get(STATE_KEY)
        if data is None or data.all_bound or data.reserved is None:
            return None
        client = self._handle.client
        written = PodVolumes()
        try:
            for pv, pvc in data.reserved.static_bindings:
                path = rest.resource_path("", "v1", "persistentvolumes", name=meta.name(pv))
                written.static_bindings.append((await client.update(path, pv), pvc))
            for pvc in data.reserved.dynamic_provisions:
                path = rest.resource_path("", "v1", "persistentvolumeclaims",
                                          namespace=meta.namespace(pvc), name=meta.name(pvc))
                written.dynamic_provisions.append(await client.update(path, pvc))
        except errors.StatusError as exc:
            self.unreserve(state, pod, node_name)
            return framework.Status(framework.Code.ERROR, (str(exc),))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.bind_timeout
        while True:
            try:
                if self.check_bindings(pod, node_name, written):
                    return None
            except BindingError as exc:
                return framework.Status(framework.Code.ERROR, (f"binding volumes: {exc}",))
            if loop.time() >= deadline:
                return framework.Status(framework.Code.ERROR,
                                        ("binding volumes: context deadline exceeded",))
            await asyncio.sleep(BIND_POLL_INTERVAL)

    def check_bindings(self, pod: types.PodInfo, node_name: str, written: PodVolumes) -> bool:
        """upstream's checkBindings over the informers' objects: True once every claim is
        bound; raises BindingError when the binding was undone and the pod must be retried."""
        if self._get("", "pods", pod.namespace, pod.name) is None:
            raise BindingError(f'pod does not exist any more: pods "{pod.name}" not found')
        cache = self._handle.cache
        slot = cache.by_name.get(node_name)
        node_labels = cache.node_info(slot).labels if slot is not None else {}
        for pv, pvc in written.static_bindings:
            latest_pv = self._get("", "persistentvolumes", "", meta.name(pv))
            latest_pvc = self._get("", "persistentvolumeclaims", meta.namespace(pvc),
                                   meta.name(pvc))
            if latest_pv is None or latest_pvc is None:
                raise BindingError(f'failed to check binding: "{meta.name(pv)}" not found')
            if _revision(latest_pv) < _revision(pv):
                return False
            if not volume_node_affinity_matches(latest_pv, node_labels, node_name):
                raise BindingError(f'pv "{meta.name(pv)}" node affinity doesn\'t match node '
                                   f'"{node_name}"')
            ref = (latest_pv.get("spec") or {}).get("claimRef") or {}
            if not ref.get("uid"):
                raise BindingError(f'ClaimRef got reset for pv "{meta.name(pv)}"')
            if not is_fully_bound(latest_pvc):
                return False
        for pvc in written.dynamic_provisions:
            latest = self._get("", "persistentvolumeclaims", meta.namespace(pvc), meta.name(pvc))
            if latest is None:
                raise BindingError(f'failed to check provisioning pvc: "{meta.name(pvc)}" '
                                   "not found")
            if _revision(latest) < _revision(pvc):
                return False
            if meta.annotations(latest).get(ANN_SELECTED_NODE) != node_name:
                raise BindingError(f'provisioning failed for PVC "{meta.name(pvc)}"')
            volume_name = (latest.get("spec") or {}).get("volumeName")
            if volume_name:
                provisioned = self._get("", "persistentvolumes", "", volume_name)
                if provisioned is None:
                    return False
                if not volume_node_affinity_matches(provisioned, node_labels, node_name):
                    raise BindingError(f'pv "{volume_name}" node affinity doesn\'t match node '
                                       f'"{node_name}"')
            if not is_fully_bound(latest):
                return False
        return True


class BindingError(Exception):
    """A volume binding was undone or went wrong: the pod is scheduled again."""
