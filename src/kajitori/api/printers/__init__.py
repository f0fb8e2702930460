"""meta.k8s.io/v1 Tables: what `kubectl get` asks for (`Accept: ...;as=Table;v=v1;g=meta.k8s.io`).

Mirrors pkg/printers/storage/storage.go and pkg/printers/tablegenerator.go (one printer per
resource, always printed wide: kubectl hides the priority-1 columns itself), the default convertor
of staging/src/k8s.io/apiserver/pkg/registry/rest/table.go for resources without a printer, and
the `includeObject` handling of staging/src/k8s.io/apiserver/pkg/endpoints/handlers/response.go.
The apiserver calls `table` for list, get and watch responses; the printers themselves live in
one module per API group, wired in `_BY_GROUP` below.

Departure from upstream: a `None` includeObject row has no `object` key at all (upstream writes
`"object": null`); kubectl reads both alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kajitori.api import errors, meta
from kajitori.api.printers import (
    admissionregistration,
    apiregistration,
    apps,
    autoscaling,
    batch,
    certificates,
    coordination,
    core,
    discovery,
    events,
    flowcontrol,
    networking,
    node,
    policy,
    rbac,
    resource,
    scheduling,
    storage,
)
from kajitori.api.printers.printer import DEFAULT, ColumnDefinition, Printer

__all__ = [
    "INCLUDE_METADATA",
    "INCLUDE_NONE",
    "INCLUDE_OBJECT",
    "TABLE_API_VERSION",
    "ColumnDefinition",
    "Printer",
    "column_definitions",
    "printer_for",
    "table",
    "validate_include_object",
]

Obj = dict[str, Any]

TABLE_API_VERSION = "meta.k8s.io/v1"
TABLE_KIND = "Table"
PARTIAL_OBJECT_METADATA = "PartialObjectMetadata"

INCLUDE_METADATA = "Metadata"
INCLUDE_OBJECT = "Object"
INCLUDE_NONE = "None"
_INCLUDE_VALUES = frozenset({INCLUDE_METADATA, INCLUDE_OBJECT, INCLUDE_NONE, ""})
INCLUDE_OBJECT_INVALID = "must be 'Metadata', 'Object', 'None', or empty"
TABLE_OPTIONS_INVALID = "Unable to convert to Table as requested: "

_BY_GROUP: dict[str, dict[str, Printer]] = {
    "": core.PRINTERS,
    "admissionregistration.k8s.io": admissionregistration.PRINTERS,
    "apiregistration.k8s.io": apiregistration.PRINTERS,
    "apps": apps.PRINTERS,
    "autoscaling": autoscaling.PRINTERS,
    "batch": batch.PRINTERS,
    "certificates.k8s.io": certificates.PRINTERS,
    "coordination.k8s.io": coordination.PRINTERS,
    "discovery.k8s.io": discovery.PRINTERS,
    "events.k8s.io": events.PRINTERS,
    "flowcontrol.apiserver.k8s.io": flowcontrol.PRINTERS,
    "networking.k8s.io": networking.PRINTERS,
    "node.k8s.io": node.PRINTERS,
    "policy": policy.PRINTERS,
    "rbac.authorization.k8s.io": rbac.PRINTERS,
    "resource.k8s.io": resource.PRINTERS,
    "scheduling.k8s.io": scheduling.PRINTERS,
    "storage.k8s.io": storage.PRINTERS,
}


def printer_for(group: str, resource_: str) -> Printer:
    """The resource's printer; upstream's default convertor (`Name`, `Created At`) for every
    resource without one, custom resources included."""
    return _BY_GROUP.get(group, {}).get(resource_, DEFAULT)


def column_definitions(group: str, resource_: str) -> list[ColumnDefinition]:
    """The Table's `columnDefinitions` for a resource, wide (priority 1) columns included.
    Fresh dicts on every call."""
    return [column.definition() for column in printer_for(group, resource_).columns]


def validate_include_object(value: str) -> None:
    """Raise upstream's 400 for an `includeObject` query value other than `Metadata`,
    `Object`, `None` or empty. The apiserver may call this before listing or watching, as
    upstream validates TableOptions before it does any work; `table` calls it too."""
    if value not in _INCLUDE_VALUES:
        problem = errors.FieldError.invalid("includeObject", value, INCLUDE_OBJECT_INVALID)
        raise errors.bad_request(TABLE_OPTIONS_INVALID + str(problem))


def table(*, group: str, resource: str, objects: list[Obj], include_object: str = INCLUDE_METADATA,
          now: datetime, list_metadata: Obj | None = None, with_headers: bool = True,
          printer: Printer | None = None) -> Obj:
    """A meta.k8s.io/v1 Table with one row per object, in the given order (FlowSchemas are sorted
    by matching precedence, as upstream sorts them).

    - `objects`: served wire-format objects of `group`/`resource`: the list's items, the one
      object of a get, or the one object of a watch event.
    - `include_object`: `Metadata` (or empty) gives each row a PartialObjectMetadata carrying
      the object's whole metadata; `Object` the object as given; `None` no `object` key.
      Anything else raises the 400 `StatusError` of `validate_include_object`.
    - `now`: timezone-aware; every AGE-like cell is measured from it.
    - `list_metadata`: the list's `metadata` (its resourceVersion, continue and
      remainingItemCount are copied); None for a get or a watch event, whose Table carries the
      object's resourceVersion.
    - `with_headers`: False gives `"columnDefinitions": null`, as in every watch event after the
      first.
    - `printer`: the shape of a resource whose columns are data (a custom resource's
      additionalPrinterColumns, `kajitori.api.apiextensions.tableconvertor`); None picks the
      built-in printer of `group`/`resource`.

    Rows share the objects' own dicts (metadata, full objects): serialize the Table, do not
    change it. Never mutates `objects`.
    """
    validate_include_object(include_object)
    printer = printer or printer_for(group, resource)
    ordered = sorted(objects, key=printer.sort_key) if printer.sort_key else objects
    rows = []
    for obj in ordered:
        row: Obj = {"cells": printer.cells(obj, now)}
        if printer.conditions is not None and (conditions := printer.conditions(obj)):
            row["conditions"] = [dict(condition) for condition in conditions]
        if include_object == INCLUDE_OBJECT:
            row["object"] = obj
        elif include_object != INCLUDE_NONE:
            row["object"] = {"kind": PARTIAL_OBJECT_METADATA, "apiVersion": TABLE_API_VERSION,
                             "metadata": meta.metadata(obj)}
        rows.append(row)
    return {
        "kind": TABLE_KIND,
        "apiVersion": TABLE_API_VERSION,
        "metadata": _table_metadata(objects, list_metadata),
        "columnDefinitions": [column.definition() for column in printer.columns]
        if with_headers else None,
        "rows": rows,
    }


def _table_metadata(objects: list[Obj], list_metadata: Obj | None) -> Obj:
    if list_metadata is not None:
        return {key: list_metadata[key] for key in ("resourceVersion", "continue",
                                                    "remainingItemCount")
                if list_metadata.get(key) not in (None, "")}
    if len(objects) == 1 and meta.resource_version(objects[0]):
        return {"resourceVersion": meta.resource_version(objects[0])}
    return {}
