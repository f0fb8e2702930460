"""Printer for coordination.k8s.io: leases.

Mirrors printLease of pkg/printers/internalversion/printers.go (v1.33).
"""

from __future__ import annotations

from kajitori.api import meta
from kajitori.api.printers.printer import AGE, NAME, Column, Doc, Printer, created

LEASES = Printer(
    columns=(NAME, Column("Holder", Doc("io.k8s.api.coordination.v1.LeaseSpec", "holderIdentity")),
             AGE),
    cells=lambda obj, now: [meta.name(obj), (obj.get("spec") or {}).get("holderIdentity") or "",
                            created(obj, now)],
)

PRINTERS: dict[str, Printer] = {"leases": LEASES}
