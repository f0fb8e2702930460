"""Printer for node.k8s.io: runtimeclasses.

Mirrors printRuntimeClass of pkg/printers/internalversion/printers.go (v1.33), whose HANDLER
description is looked up in ObjectMeta's docs and so is empty.
"""

from __future__ import annotations

from kajitori.api import meta
from kajitori.api.printers.printer import AGE, NAME, Column, Printer, created

RUNTIMECLASSES = Printer(
    columns=(NAME, Column("Handler", ""), AGE),
    cells=lambda obj, now: [meta.name(obj), obj.get("handler", ""), created(obj, now)],
)

PRINTERS: dict[str, Printer] = {"runtimeclasses": RUNTIMECLASSES}
