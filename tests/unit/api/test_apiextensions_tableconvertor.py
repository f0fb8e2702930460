"""Tables of custom resources from additionalPrinterColumns, and the JSONPath they use."""

from __future__ import annotations

import datetime

import pytest

from kajitori.api import printers
from kajitori.api.apiextensions import jsonpath, tableconvertor

NOW = datetime.datetime(2025, 1, 1, 12, 0, tzinfo=datetime.UTC)
OBJ = {"apiVersion": "x.io/v1", "kind": "Widget",
       "metadata": {"name": "w", "creationTimestamp": "2025-01-01T11:00:00Z",
                    "labels": {"app.kubernetes.io/name": "web"}},
       "spec": {"replicas": 3, "ratio": 0.5, "paused": False, "ports": [80, 443],
                "selector": {"a": "b"}},
       "status": {"conditions": [{"type": "Synced", "status": "False"},
                                 {"type": "Ready", "status": "True"}]}}


def column(name: str, type_: str, path: str, **extra: object) -> dict:
    return {"name": name, "type": type_, "jsonPath": path, **extra}


def test_cells_follow_column_types() -> None:
    printer = tableconvertor.printer([
        column("Replicas", "integer", ".spec.replicas"),
        column("Ratio", "number", ".spec.ratio"),
        column("Paused", "boolean", ".spec.paused"),
        column("Ready", "string", '.status.conditions[?(@.type=="Ready")].status'),
        column("First", "string", ".spec.ports[0]"),
        column("Ports", "string", ".spec.ports"),
        column("Selector", "string", ".spec.selector"),
        column("App", "string", ".metadata.labels['app.kubernetes.io/name']"),
        column("Missing", "string", ".spec.nothing"),
        column("WrongType", "integer", ".spec.paused"),
        column("Created", "date", ".metadata.creationTimestamp", priority=1),
    ])
    assert printer.cells(OBJ, NOW) == ["w", 3, 0.5, False, "True", "80", "[80 443]",
                                       "map[a:b]", "web", None, None, "60m"]
    definitions = [c.definition() for c in printer.columns]
    assert definitions[0]["name"] == "Name"
    assert definitions[0]["format"] == "name"
    assert definitions[-1] == {"name": "Created", "type": "date", "format": "",
                               "description": "", "priority": 1}


def test_a_version_without_columns_gets_age() -> None:
    crd = {"spec": {"versions": [{"name": "v1"}]}}
    printer = tableconvertor.printer(tableconvertor.columns_for_version(crd, "v1"))
    table = printers.table(group="x.io", resource="widgets", objects=[OBJ], now=NOW,
                           printer=printer)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Age"]
    assert table["columnDefinitions"][1]["type"] == "date"
    assert table["columnDefinitions"][1]["description"].startswith("CreationTimestamp")
    assert table["rows"][0]["cells"] == ["w", "60m"]


def test_jsonpath_subset() -> None:
    assert jsonpath.find(OBJ, ".spec.ports[*]") == [80, 443]
    assert jsonpath.find(OBJ, ".spec.ports[-1]") == [443]
    assert jsonpath.find(OBJ, '.status.conditions[?(@.status!="True")].type') == ["Synced"]
    assert jsonpath.find(OBJ, "{.spec.replicas}") == [3]
    with pytest.raises(jsonpath.JSONPathError):
        jsonpath.find(OBJ, ".spec.ports[x")
