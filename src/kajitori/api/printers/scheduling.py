"""Printer for scheduling.k8s.io: priorityclasses.

Mirrors printPriorityClass of pkg/printers/internalversion/printers.go (v1.33).
"""

from __future__ import annotations

from kajitori.api import meta
from kajitori.api.printers.printer import AGE, NAME, Column, Doc, Printer, created

PRIORITY_CLASS = "io.k8s.api.scheduling.v1.PriorityClass"

PRIORITYCLASSES = Printer(
    columns=(
        NAME,
        Column("Value", Doc(PRIORITY_CLASS, "value"), type="integer"),
        Column("Global-Default", Doc(PRIORITY_CLASS, "globalDefault"), type="boolean"),
        AGE,
        Column("PreemptionPolicy", Doc(PRIORITY_CLASS, "preemptionPolicy"), priority=1),
    ),
    cells=lambda obj, now: [meta.name(obj), int(obj.get("value") or 0),
                            bool(obj.get("globalDefault")), created(obj, now),
                            obj.get("preemptionPolicy") or ""],
)

PRINTERS: dict[str, Printer] = {"priorityclasses": PRIORITYCLASSES}
