"""Printer for the policy group: poddisruptionbudgets.

Mirrors printPodDisruptionBudget of pkg/printers/internalversion/printers.go (v1.33).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kajitori.api import meta
from kajitori.api.printers.printer import AGE, NAME, Column, Obj, Printer, created

NOT_APPLICABLE = "N/A"


def _int_or_string(value: int | str | None) -> str:
    return NOT_APPLICABLE if value is None else str(value)


def _pdb_cells(pdb: Obj, now: datetime) -> list[Any]:
    spec = pdb.get("spec") or {}
    return [meta.name(pdb), _int_or_string(spec.get("minAvailable")),
            _int_or_string(spec.get("maxUnavailable")),
            int((pdb.get("status") or {}).get("disruptionsAllowed") or 0), created(pdb, now)]


PODDISRUPTIONBUDGETS = Printer(
    columns=(
        NAME,
        Column("Min Available", "The minimum number of pods that must be available."),
        Column("Max Unavailable", "The maximum number of pods that may be unavailable."),
        Column("Allowed Disruptions", "Calculated number of pods that may be disrupted at this "
                                      "time.", type="integer"),
        AGE,
    ),
    cells=_pdb_cells,
)

PRINTERS: dict[str, Printer] = {"poddisruptionbudgets": PODDISRUPTIONBUDGETS}
