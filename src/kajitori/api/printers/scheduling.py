"""Printer for scheduling.k8s.io: priorityclasses.

Mirrors priorityClassColumnDefinitions and printPriorityClass of
pkg/printers/internalversion/printers.go (v1.33): every column is shown by default
(`NAME VALUE GLOBAL-DEFAULT AGE PREEMPTIONPOLICY`); an unset preemption policy prints empty.
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
        Column("PreemptionPolicy", Doc(PRIORITY_CLASS, "preemptionPolicy")),
    ),
    cells=lambda obj, now: [meta.name(obj), int(obj.get("value") or 0),
                            bool(obj.get("globalDefault")), created(obj, now),
                            obj.get("preemptionPolicy") or ""],
)

PRINTERS: dict[str, Printer] = {"priorityclasses": PRIORITYCLASSES}
