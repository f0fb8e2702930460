"""Printers for flowcontrol.apiserver.k8s.io: flowschemas and prioritylevelconfigurations.

Mirrors printFlowSchema (lists sorted by matching precedence, then name) and
printPriorityLevelConfiguration of pkg/printers/internalversion/printers.go (v1.33).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kajitori.api import meta
from kajitori.api.printers import cells
from kajitori.api.printers.printer import AGE, NAME, Column, Doc, Obj, Printer, created

FLOWCONTROL = "io.k8s.api.flowcontrol.v1."
UNDETERMINED = "?"


def _flow_schema_cells(schema: Obj, now: datetime) -> list[Any]:
    spec = schema.get("spec") or {}
    method = spec.get("distinguisherMethod")
    dangling = cells.condition_status((schema.get("status") or {}).get("conditions"), "Dangling")
    return [meta.name(schema), (spec.get("priorityLevelConfiguration") or {}).get("name", ""),
            int(spec.get("matchingPrecedence") or 0),
            cells.NONE if method is None else method.get("type", ""), created(schema, now),
            UNDETERMINED if dangling is None else dangling]


FLOWSCHEMAS = Printer(
    columns=(
        NAME,
        Column("PriorityLevel", Doc(FLOWCONTROL + "PriorityLevelConfigurationReference", "name")),
        Column("MatchingPrecedence", Doc(FLOWCONTROL + "FlowSchemaSpec", "matchingPrecedence")),
        Column("DistinguisherMethod", Doc(FLOWCONTROL + "FlowSchemaSpec",
                                          "distinguisherMethod")),
        AGE,
        Column("MissingPL", "references a broken or non-existent PriorityLevelConfiguration"),
    ),
    cells=_flow_schema_cells,
    sort_key=lambda obj: (int((obj.get("spec") or {}).get("matchingPrecedence") or 0),
                          meta.name(obj)),
)


def _priority_level_cells(level: Obj, now: datetime) -> list[Any]:
    spec = level.get("spec") or {}
    shares: Any = cells.NONE
    queues: Any = cells.NONE
    hand_size: Any = cells.NONE
    queue_length: Any = cells.NONE
    limited = spec.get("limited")
    if limited is not None:
        shares = int(limited.get("nominalConcurrencyShares") or 0)
        queuing = (limited.get("limitResponse") or {}).get("queuing")
        if queuing is not None:
            queues = int(queuing.get("queues") or 0)
            hand_size = int(queuing.get("handSize") or 0)
            queue_length = int(queuing.get("queueLengthLimit") or 0)
    return [meta.name(level), spec.get("type", ""), shares, queues, hand_size, queue_length,
            created(level, now)]


QUEUING = FLOWCONTROL + "QueuingConfiguration"
PRIORITYLEVELCONFIGURATIONS = Printer(
    columns=(
        NAME,
        Column("Type", Doc(FLOWCONTROL + "PriorityLevelConfigurationSpec", "type")),
        Column("NominalConcurrencyShares", Doc(FLOWCONTROL + "LimitedPriorityLevelConfiguration",
                                               "nominalConcurrencyShares")),
        Column("Queues", Doc(QUEUING, "queues")),
        Column("HandSize", Doc(QUEUING, "handSize")),
        Column("QueueLengthLimit", Doc(QUEUING, "queueLengthLimit")),
        AGE,
    ),
    cells=_priority_level_cells,
)

PRINTERS: dict[str, Printer] = {
    "flowschemas": FLOWSCHEMAS,
    "prioritylevelconfigurations": PRIORITYLEVELCONFIGURATIONS,
}
