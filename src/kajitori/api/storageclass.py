"""StorageClass rules the apiserver's admission and the volume controllers share: which class
is the default, and which class a claim or a volume names.

Mirrors pkg/volume/util/storageclass.go (`GetDefaultClass`) and the class helpers of
staging/src/k8s.io/component-helpers/storage/volume/helpers.go
(`GetPersistentVolumeClaimClass`, `GetPersistentVolumeClass`). Here because the DefaultStorageClass
admission plugin and the PersistentVolume binder must agree on the default, and neither layer may
import the other.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kajitori.api import meta

Obj = dict[str, Any]

IS_DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
BETA_IS_DEFAULT_CLASS_ANNOTATION = "storageclass.beta.kubernetes.io/is-default-class"
BETA_STORAGE_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
"""The class of a claim or volume before `storageClassName` existed; still honoured first."""


def is_default_annotation(storage_class: Obj) -> bool:
    """Whether `storage_class` is marked default by either annotation, value exactly "true"."""
    annotations = meta.annotations(storage_class)
    return (annotations.get(IS_DEFAULT_CLASS_ANNOTATION) == "true"
            or annotations.get(BETA_IS_DEFAULT_CLASS_ANNOTATION) == "true")


def get_default_class(classes: Iterable[Obj]) -> Obj | None:
    """The default StorageClass among `classes`: of several marked default, the newest by
    creationTimestamp, the name breaking ties (ascending), as upstream picks; None when none
    is marked."""
    defaults = [c for c in classes if is_default_annotation(c)]
    if not defaults:
        return None
    defaults.sort(key=meta.name)
    # Stable sort: among equal timestamps the name order above stays.
    defaults.sort(key=lambda c: meta.metadata(c).get("creationTimestamp") or "", reverse=True)
    return defaults[0]


def claim_class(claim: Obj) -> str:
    """The class a PersistentVolumeClaim asks for: the beta annotation, else
    `spec.storageClassName`, else "" (no class)."""
    annotations = meta.annotations(claim)
    if BETA_STORAGE_CLASS_ANNOTATION in annotations:
        return annotations[BETA_STORAGE_CLASS_ANNOTATION]
    return (claim.get("spec") or {}).get("storageClassName") or ""


def volume_class(volume: Obj) -> str:
    """The class a PersistentVolume belongs to, read as `claim_class` reads a claim's."""
    annotations = meta.annotations(volume)
    if BETA_STORAGE_CLASS_ANNOTATION in annotations:
        return annotations[BETA_STORAGE_CLASS_ANNOTATION]
    return (volume.get("spec") or {}).get("storageClassName") or ""
