"""Printer for apiregistration.k8s.io: apiservices.

Mirrors the kube-aggregator's APIService table convertor
(staging/src/k8s.io/kube-aggregator/pkg/registry/apiservice/etcd/etcd.go, v1.33).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kajitori.api import meta
from kajitori.api.printers.printer import AGE, NAME, Column, Obj, Printer, created

LOCAL = "Local"


def _available(apiservice: Obj) -> str:
    """`True`; `False (MissingEndpoints)` with the reason when not available; `Unknown`."""
    for condition in (apiservice.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Available":
            status = condition.get("status", "")
            if status != "True" and condition.get("reason"):
                return f"{status} ({condition['reason']})"
            return str(status)
    return "Unknown"


def _apiservice_cells(apiservice: Obj, now: datetime) -> list[Any]:
    service = (apiservice.get("spec") or {}).get("service")
    where = LOCAL if service is None else \
        f"{service.get('namespace', '')}/{service.get('name', '')}"
    return [meta.name(apiservice), where, _available(apiservice), created(apiservice, now)]


APISERVICES = Printer(
    columns=(
        NAME,
        Column("Service", "The reference to the service that hosts this API endpoint."),
        Column("Available", "Whether this service is available."),
        AGE,
    ),
    cells=_apiservice_cells,
)

PRINTERS: dict[str, Printer] = {"apiservices": APISERVICES}
