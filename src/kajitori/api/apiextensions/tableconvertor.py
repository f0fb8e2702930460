"""Tables of custom resources: `Name`, then the version's additionalPrinterColumns.

Mirrors staging/src/k8s.io/apiextensions-apiserver/pkg/registry/customresource/tableconvertor/
tableconvertor.go and `GetColumnsForVersion` of .../apihelpers (a version without columns gets
one: `Age`, a date column on `.metadata.creationTimestamp`). Cells are the first value each
column's JSONPath finds: `integer`, `number` and `boolean` columns show JSON values of their
type (others are empty), `date` columns the time since the timestamp as `kubectl get` prints
ages, `string` columns the value as Go's jsonpath prints it. A missing value is an empty cell.
"""

from __future__ import annotations

import datetime
from typing import Any

from kajitori.api import duration, meta
from kajitori.api.apiextensions import jsonpath
from kajitori.api.printers import printer as printer_

Obj = dict[str, Any]

AGE_COLUMN: Obj = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
"""The column a version without additionalPrinterColumns gets."""


def columns_for_version(crd: Obj, version: str) -> list[Obj]:
    """The version's additionalPrinterColumns, or the default Age column when it has none."""
    for entry in (crd.get("spec") or {}).get("versions") or []:
        if entry.get("name") == version:
            return list(entry.get("additionalPrinterColumns") or []) or [AGE_COLUMN]
    return [AGE_COLUMN]


def printer(columns: list[Obj]) -> printer_.Printer:
    """The Table printer of custom objects with these CustomResourceColumnDefinitions."""
    headers = [printer_.NAME]
    for column in columns:
        description = column.get("description") or ""
        if column is AGE_COLUMN:
            description = printer_.AGE_DOC
        headers.append(printer_.Column(
            column.get("name", ""), description, type=column.get("type", "string"),
            format=column.get("format", ""), priority=int(column.get("priority") or 0)))
    paths = [(column.get("type", "string"), column.get("jsonPath", "")) for column in columns]

    def cells(obj: Obj, now: datetime.datetime) -> list[Any]:
        row: list[Any] = [meta.name(obj)]
        for type_, path in paths:
            try:
                found = jsonpath.find(obj, path)
            except jsonpath.JSONPathError:
                found = []
            row.append(cell(type_, found[0], now) if found else None)
        return row

    return printer_.Printer(columns=tuple(headers), cells=cells)


def cell(column_type: str, value: Any, now: datetime.datetime) -> Any:
    """One cell as upstream's cellForJSONValue (and, for strings, jsonpath) renders it."""
    if value is None:
        return None
    if column_type == "string":
        return go_text(value)
    if column_type == "integer":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return int(value)
    if column_type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)
    if column_type == "boolean":
        return value if isinstance(value, bool) else None
    if column_type == "date":
        if not isinstance(value, str):
            return None
        try:
            moment = meta.parse_time(value)
        except ValueError:
            return duration.INVALID
        return duration.human_duration((now - moment).total_seconds())
    return None


def go_text(value: Any) -> str:
    """A JSON value as Go's fmt prints the decoded value (jsonpath's text output)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + " ".join(go_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_text(value[k])}" for k in sorted(value)) + "]"
    return "<nil>"
