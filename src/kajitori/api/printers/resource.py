"""Printers for resource.k8s.io (dynamic resource allocation): deviceclasses, resourceclaims,
resourceclaimtemplates, resourceslices.

Mirrors the resource handlers of pkg/printers/internalversion/printers.go (v1.33).
"""

from __future__ import annotations

from kajitori.api import meta
from kajitori.api.printers.printer import AGE, NAME, Column, Doc, Obj, Printer, created

RESOURCE = "io.k8s.api.resource.v1beta2."


def claim_state(claim: Obj) -> str:
    """`pending`, `allocated`, `allocated,reserved`, `deleted[,allocated...]`."""
    status = claim.get("status") or {}
    deleted = bool(meta.deletion_timestamp(claim))
    states = ["deleted"] if deleted else []
    if status.get("allocation") is None:
        if not deleted:
            states.append("pending")
    else:
        states.append("allocated")
        if status.get("reservedFor"):
            states.append("reserved")
    return ",".join(states)


NAME_AND_AGE = Printer(columns=(NAME, AGE),
                       cells=lambda obj, now: [meta.name(obj), created(obj, now)])

RESOURCECLAIMS = Printer(
    columns=(NAME, Column("State", "A summary of the current state (allocated, pending, "
                                   "reserved, etc.)."), AGE),
    cells=lambda obj, now: [meta.name(obj), claim_state(obj), created(obj, now)],
)

RESOURCESLICES = Printer(
    columns=(
        NAME,
        Column("Node", Doc(RESOURCE + "ResourceSliceSpec", "nodeName")),
        Column("Driver", Doc(RESOURCE + "ResourceSliceSpec", "driver")),
        Column("Pool", Doc(RESOURCE + "ResourcePool", "name")),
        AGE,
    ),
    cells=lambda obj, now: [
        meta.name(obj), (obj.get("spec") or {}).get("nodeName", ""),
        (obj.get("spec") or {}).get("driver", ""),
        ((obj.get("spec") or {}).get("pool") or {}).get("name", ""), created(obj, now)],
)

PRINTERS: dict[str, Printer] = {
    "deviceclasses": NAME_AND_AGE,
    "resourceclaimtemplates": NAME_AND_AGE,
    "resourceclaims": RESOURCECLAIMS,
    "resourceslices": RESOURCESLICES,
}
