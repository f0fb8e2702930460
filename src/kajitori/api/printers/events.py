"""Printer for events.k8s.io: events.

Upstream serves events.k8s.io/v1 Events from the core Event storage, so both APIs print the same
columns; this module reads an events.k8s.io/v1 object as the core Event it is stored as and hands
it to the core printer (`core.EVENTS`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kajitori.api.printers import core
from kajitori.api.printers.printer import Obj, Printer

# events.k8s.io/v1 field -> core/v1 field
_RENAMED = {
    "regarding": "involvedObject",
    "note": "message",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}


def as_core_event(event: Obj) -> Obj:
    """A shallow copy with the core/v1 field names; the argument is left untouched."""
    return {_RENAMED.get(key, key): value for key, value in event.items()}


def _event_cells(event: Obj, now: datetime) -> list[Any]:
    return core.EVENTS.cells(as_core_event(event), now)


PRINTERS: dict[str, Printer] = {
    "events": Printer(columns=core.EVENTS.columns, cells=_event_cells),
}
