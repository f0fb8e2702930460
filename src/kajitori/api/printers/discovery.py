"""Printer for discovery.k8s.io: endpointslices.

Mirrors printEndpointSlice, formatDiscoveryPorts and formatDiscoveryEndpoints of
pkg/printers/internalversion/printers.go (v1.33).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kajitori.api import meta
from kajitori.api.printers import cells
from kajitori.api.printers.printer import AGE, NAME, Column, Doc, Obj, Printer, created

SLICE = "io.k8s.api.discovery.v1.EndpointSlice"
SHOWN = 3
ANY_PORT = "*"


def format_ports(ports: list[Obj]) -> str:
    """Port numbers (a port's name when it has no number, `*` when neither)."""
    shown = []
    for port in ports:
        if port.get("port") is not None:
            shown.append(str(port["port"]))
        elif port.get("name") is not None:
            shown.append(port["name"])
        else:
            shown.append(ANY_PORT)
    return cells.list_with_more(shown, count=len(shown), limit=SHOWN)


def format_endpoints(endpoints: list[Obj]) -> str:
    addresses = [address for endpoint in endpoints for address in endpoint.get("addresses") or []]
    return cells.list_with_more(addresses, count=len(addresses), limit=SHOWN)


def _slice_cells(endpoint_slice: Obj, now: datetime) -> list[Any]:
    return [meta.name(endpoint_slice), endpoint_slice.get("addressType", ""),
            format_ports(endpoint_slice.get("ports") or []),
            format_endpoints(endpoint_slice.get("endpoints") or []), created(endpoint_slice, now)]


ENDPOINTSLICES = Printer(
    columns=(
        NAME,
        Column("AddressType", Doc(SLICE, "addressType")),
        Column("Ports", Doc(SLICE, "ports")),
        Column("Endpoints", Doc(SLICE, "endpoints")),
        AGE,
    ),
    cells=_slice_cells,
)

PRINTERS: dict[str, Printer] = {"endpointslices": ENDPOINTSLICES}
