"""Printers for storage.k8s.io: storageclasses, csidrivers, csinodes, csistoragecapacities,
volumeattachments.

Mirrors the storage handlers of pkg/printers/internalversion/printers.go (v1.33); absent
optional fields read as their API defaults (reclaim policy `Delete`, binding mode `Immediate`,
`attachRequired` true).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kajitori.api import meta
from kajitori.api.printers import cells
from kajitori.api.printers.printer import AGE, NAME, Column, Doc, Obj, Printer, created

STORAGE = "io.k8s.api.storage.v1."
DEFAULT_CLASS_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                             "storageclass.beta.kubernetes.io/is-default-class")
DEFAULT_MARKER = " (default)"


def is_default_class(storage_class: Obj) -> bool:
    annotations = meta.metadata(storage_class).get("annotations") or {}
    return any(annotations.get(key) == "true" for key in DEFAULT_CLASS_ANNOTATIONS)


def _storage_class_cells(storage_class: Obj, now: datetime) -> list[Any]:
    name = meta.name(storage_class)
    if is_default_class(storage_class):
        name += DEFAULT_MARKER
    return [name, storage_class.get("provisioner", ""),
            storage_class.get("reclaimPolicy") or "Delete",
            storage_class.get("volumeBindingMode") or "Immediate",
            bool(storage_class.get("allowVolumeExpansion")), created(storage_class, now)]


STORAGE_CLASS = STORAGE + "StorageClass"
STORAGECLASSES = Printer(
    columns=(
        NAME,
        Column("Provisioner", Doc(STORAGE_CLASS, "provisioner")),
        Column("ReclaimPolicy", Doc(STORAGE_CLASS, "reclaimPolicy")),
        Column("VolumeBindingMode", Doc(STORAGE_CLASS, "volumeBindingMode")),
        Column("AllowVolumeExpansion", Doc(STORAGE_CLASS, "allowVolumeExpansion")),
        AGE,
    ),
    cells=_storage_class_cells,
)


def _csi_driver_cells(driver: Obj, now: datetime) -> list[Any]:
    spec = driver.get("spec") or {}
    token_requests = cells.UNSET
    if spec.get("tokenRequests") is not None:
        token_requests = ",".join(t.get("audience", "") for t in spec["tokenRequests"])
    attach_required = spec.get("attachRequired")
    return [meta.name(driver), True if attach_required is None else bool(attach_required),
            bool(spec.get("podInfoOnMount")), bool(spec.get("storageCapacity")), token_requests,
            bool(spec.get("requiresRepublish")),
            ",".join(spec.get("volumeLifecycleModes") or []) or cells.NONE, created(driver, now)]


CSI_DRIVER = STORAGE + "CSIDriverSpec"
CSIDRIVERS = Printer(
    columns=(
        NAME,
        Column("AttachRequired", Doc(CSI_DRIVER, "attachRequired"), type="boolean"),
        Column("PodInfoOnMount", Doc(CSI_DRIVER, "podInfoOnMount"), type="boolean"),
        Column("StorageCapacity", Doc(CSI_DRIVER, "storageCapacity"), type="boolean"),
        Column("TokenRequests", Doc(CSI_DRIVER, "tokenRequests")),
        Column("RequiresRepublish", Doc(CSI_DRIVER, "requiresRepublish"), type="boolean"),
        Column("Modes", Doc(CSI_DRIVER, "volumeLifecycleModes")),
        AGE,
    ),
    cells=_csi_driver_cells,
)

CSINODES = Printer(
    columns=(NAME, Column("Drivers", "Drivers indicates the number of CSI drivers registered on "
                                     "the node", type="integer"), AGE),
    cells=lambda obj, now: [meta.name(obj), len((obj.get("spec") or {}).get("drivers") or []),
                            created(obj, now)],
)

CAPACITY = STORAGE + "CSIStorageCapacity"
CSISTORAGECAPACITIES = Printer(
    columns=(NAME, Column("StorageClassName", Doc(CAPACITY, "storageClassName")),
             Column("Capacity", Doc(CAPACITY, "capacity"))),
    cells=lambda obj, now: [meta.name(obj), obj.get("storageClassName", ""),
                            obj["capacity"] if obj.get("capacity") is not None else cells.UNSET],
)


def _attachment_cells(attachment: Obj, now: datetime) -> list[Any]:
    spec = attachment.get("spec") or {}
    return [meta.name(attachment), spec.get("attacher", ""),
            (spec.get("source") or {}).get("persistentVolumeName") or "",
            spec.get("nodeName", ""), bool((attachment.get("status") or {}).get("attached")),
            created(attachment, now)]


VOLUMEATTACHMENTS = Printer(
    columns=(
        NAME,
        Column("Attacher", Doc(STORAGE + "VolumeAttachmentSpec", "attacher"), format="name"),
        Column("PV", Doc(STORAGE + "VolumeAttachmentSource", "persistentVolumeName")),
        Column("Node", Doc(STORAGE + "VolumeAttachmentSpec", "nodeName")),
        Column("Attached", Doc(STORAGE + "VolumeAttachmentStatus", "attached"), type="boolean"),
        AGE,
    ),
    cells=_attachment_cells,
)

PRINTERS: dict[str, Printer] = {
    "storageclasses": STORAGECLASSES,
    "csidrivers": CSIDRIVERS,
    "csinodes": CSINODES,
    "csistoragecapacities": CSISTORAGECAPACITIES,
    "volumeattachments": VOLUMEATTACHMENTS,
}
