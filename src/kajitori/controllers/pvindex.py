"""Which PersistentVolume a claim gets (the binder's matching rules), and what the volume
controllers share: annotation keys, claim references, the pods-by-claim index.

Mirrors pkg/controller/volume/persistentvolume/index.go (`findByClaim`,
`allPossibleMatchingAccessModes`) and the matching helpers of
staging/src/k8s.io/component-helpers/storage/volume/pv_helpers.go (`FindMatchingVolume`,
`IsVolumeBoundToClaim`, `CheckVolumeModeMismatches`, `CheckAccessModes`) and of pv_controller.go
(`checkVolumeSatisfyClaim`), the annotation keys of component-helpers/storage/volume/
helpers.go and pkg/controller/volume/common's PodPVCIndex. Pure functions over wire-format
dicts: the binder (`persistentvolume.py`), the local-path provisioner (`localpath.py`) and the
PVC protection controller (`pvcprotection.py`) pass what their caches hold.

The rules, as upstream: a volume pre-bound to the claim (its claimRef names the claim, with no
uid or the claim's) wins outright; otherwise, among Available volumes with no claimRef, of the
claim's class, whose labels match its selector, whose volumeMode equals the claim's and whose
capacity is at least the request, the smallest. Access modes narrow the search first: volumes are
grouped by their exact set of modes, and the sets holding every requested mode are tried from the
fewest modes up, so a ReadWriteOnce claim takes a ReadWriteOnce volume before a bigger-moded one
even when the latter is smaller. A claim whose class binds on WaitForFirstConsumer takes only a
pre-bound volume here: the scheduler chooses the others, for the node it picks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from kajitori.api import labels, meta, quantity, storageclass
from kajitori.client import informer

Obj = dict[str, Any]

VOLUMES = ("", "v1", "persistentvolumes")
CLAIMS = ("", "v1", "persistentvolumeclaims")
STORAGE_CLASSES = ("storage.k8s.io", "v1", "storageclasses")
PODS = ("", "v1", "pods")

# Annotations (component-helpers/storage/volume/helpers.go).
ANN_BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
ANN_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
ANN_DYNAMICALLY_PROVISIONED = "pv.kubernetes.io/provisioned-by"
ANN_STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
ANN_BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node"
ANNOTATION_TRUE = "yes"

AVAILABLE = "Available"
FILESYSTEM = "Filesystem"
STORAGE = "storage"


def access_modes(obj: Obj) -> frozenset[str]:
    return frozenset((obj.get("spec") or {}).get("accessModes") or ())


def volume_mode(obj: Obj) -> str:
    """`spec.volumeMode` of a claim or a volume; absent reads as Filesystem, as defaulted."""
    return (obj.get("spec") or {}).get("volumeMode") or FILESYSTEM


def requested_storage(claim: Obj) -> quantity.Quantity:
    requests = ((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}
    return quantity.from_json(requests.get(STORAGE, 0))


def volume_capacity(volume: Obj) -> quantity.Quantity:
    capacity = (volume.get("spec") or {}).get("capacity") or {}
    return quantity.from_json(capacity.get(STORAGE, 0))


def claim_ref(volume: Obj) -> Obj | None:
    return (volume.get("spec") or {}).get("claimRef")


def is_volume_bound_to_claim(volume: Obj, claim: Obj) -> bool:
    """Whether `volume`'s claimRef names `claim`: same namespace and name, and no uid (a user
    pre-bound it by name) or the claim's uid."""
    ref = claim_ref(volume)
    if ref is None:
        return False
    if ref.get("name") != meta.name(claim) or ref.get("namespace") != meta.namespace(claim):
        return False
    return not ref.get("uid") or ref["uid"] == meta.uid(claim)


def volume_modes_mismatch(claim: Obj, volume: Obj) -> bool:
    return volume_mode(claim) != volume_mode(volume)


def access_modes_satisfied(claim: Obj, volume: Obj) -> bool:
    """Whether `volume` offers every access mode `claim` asks for."""
    return access_modes(claim) <= access_modes(volume)


def check_volume_satisfy_claim(volume: Obj, claim: Obj) -> str | None:
    """Why `volume`, named by `claim.spec.volumeName`, cannot serve `claim`, in upstream's
    words; None when it can."""
    if meta.deletion_timestamp(volume):
        return f'the volume is marked for deletion "{meta.name(volume)}"'
    if volume_capacity(volume).value() < requested_storage(claim).value():
        return "requested PV is too small"
    if storageclass.volume_class(volume) != storageclass.claim_class(claim):
        return "storageClassName does not match"
    if volume_modes_mismatch(claim, volume):
        return "incompatible volumeMode"
    if not access_modes_satisfied(claim, volume):
        return "incompatible accessMode"
    return None


def _claim_selector(claim: Obj) -> labels.Selector | None:
    selector = (claim.get("spec") or {}).get("selector")
    if selector is None:
        return None
    return labels.from_label_selector(selector)


def find_matching_volume(claim: Obj, volumes: Iterable[Obj], *,
                         delay_binding: bool) -> Obj | None:
    """The volume `claim` should be bound to among `volumes` (all of one access-mode set, or any
    list), by the rules of the module docstring, or None. `delay_binding`: the claim's class
    binds on WaitForFirstConsumer, so only a volume pre-bound to it is returned."""
    requested = requested_storage(claim)
    requested_class = storageclass.claim_class(claim)
    selector = _claim_selector(claim)
    smallest: Obj | None = None
    for volume in volumes:
        if volume_modes_mismatch(claim, volume) or meta.deletion_timestamp(volume):
            continue
        if is_volume_bound_to_claim(volume, claim):
            return volume
        if delay_binding:
            continue
        if (volume.get("status") or {}).get("phase") != AVAILABLE:
            continue
        if claim_ref(volume) is not None:
            continue
        if selector is not None and not selector.matches(meta.labels(volume)):
            continue
        if storageclass.volume_class(volume) != requested_class:
            continue
        capacity = volume_capacity(volume)
        if capacity < requested:
            continue
        if smallest is None or capacity < volume_capacity(smallest):
            smallest = volume
    return smallest


def find_best_match_for_claim(claim: Obj, volumes: Iterable[Obj], *,
                              delay_binding: bool) -> Obj | None:
    """The volume for `claim` among all `volumes`: each set of access modes that holds all the
    claim's modes is searched with `find_matching_volume`, fewest modes first (ties by their
    sorted names, so the choice is stable); the first match wins."""
    wanted = access_modes(claim)
    by_modes: dict[frozenset[str], list[Obj]] = {}
    for volume in volumes:
        by_modes.setdefault(access_modes(volume), []).append(volume)
    candidates = sorted((modes for modes in by_modes if wanted <= modes),
                        key=lambda modes: (len(modes), sorted(modes)))
    for modes in candidates:
        # Keep the volumes' order stable by name: equal sizes then pick the first name.
        ordered = sorted(by_modes[modes], key=meta.name)
        match = find_matching_volume(claim, ordered, delay_binding=delay_binding)
        if match is not None:
            return match
    return None


def claim_key(claim: Obj) -> str:
    return f"{meta.namespace(claim)}/{meta.name(claim)}"


def claim_ref_key(ref: Obj) -> str:
    return f"{ref.get('namespace', '')}/{ref.get('name', '')}"


def claim_reference(claim: Obj) -> Obj:
    """The ObjectReference a volume's claimRef holds (upstream's reference.GetReference)."""
    md = meta.metadata(claim)
    return {"kind": "PersistentVolumeClaim", "namespace": md.get("namespace", ""),
            "name": md.get("name", ""), "uid": md.get("uid", ""), "apiVersion": "v1",
            "resourceVersion": md.get("resourceVersion", "")}


POD_PVC_INDEX = "pod-pvc-index"


def pod_pvc_index(pod: Obj) -> list[str]:
    """`namespace/claim` of every claim `pod` uses, ephemeral ones (`<pod>-<volume>`) included
    (upstream's PodPVCIndexFunc)."""
    namespace = meta.namespace(pod)
    keys = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        if (volume.get("persistentVolumeClaim") or {}).get("claimName"):
            keys.append(f"{namespace}/{volume['persistentVolumeClaim']['claimName']}")
        elif volume.get("ephemeral") is not None:
            keys.append(f"{namespace}/{meta.name(pod)}-{volume.get('name', '')}")
    return keys


def add_pod_pvc_index(pods: informer.Informer) -> None:
    """Index `pods` by the claims they use, unless another controller already did (upstream's
    AddPodPVCIndexerIfNotPresent: the index is the same whoever adds it)."""
    with contextlib.suppress(ValueError):
        pods.add_indexers({POD_PVC_INDEX: pod_pvc_index})
