"""The pieces every printer is made of: a column, where its description comes from, a printer.

Mirrors pkg/printers/tablegenerator.go (a handler = column definitions + a row function) and
staging/src/k8s.io/apiserver/pkg/registry/rest/table.go (the default convertor for kinds without
a printer). The registry that picks a printer per resource is `kajitori.api.printers`.

Departure from upstream: column descriptions that upstream takes from the SwaggerDoc of a
deprecated group-version (`extensions/v1beta1.ReplicaSetSpec`, `batch/v1beta1.CronJobSpec`, ...)
are read here from the served version's definition in the v1.33 schemas, which carry the same
field docs; kubectl never prints descriptions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from kajitori.api import duration, meta, schemas

Obj = dict[str, Any]

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


class ColumnDefinition(TypedDict):
    """metav1.TableColumnDefinition on the wire; every key is always present."""

    name: str
    type: str
    format: str
    description: str
    priority: int


@dataclass(frozen=True)
class Doc:
    """A field's description in the v1.33 schemas, looked up when first needed (the schema file
    is large; importing the printers must not load it)."""

    definition: str  # `io.k8s.api.core.v1.PodStatus`
    field: str  # `podIP`

    def text(self) -> str:
        return _description(self.definition, self.field)


@functools.cache
def _description(definition: str, field_: str) -> str:
    """Raises KeyError for a definition or field the schemas do not have: a typo here would
    otherwise silently print an empty description."""
    text: str = schemas.definitions()[definition]["properties"][field_].get("description", "")
    return text


NAME_DOC = Doc(OBJECT_META, "name")
AGE_DOC = Doc(OBJECT_META, "creationTimestamp")


@dataclass(frozen=True)
class Column:
    name: str
    description: str | Doc
    type: str = "string"
    format: str = ""
    priority: int = 0  # 0: always shown; 1: only with `kubectl get -o wide`

    def definition(self) -> ColumnDefinition:
        text = self.description if isinstance(self.description, str) else self.description.text()
        return ColumnDefinition(name=self.name, type=self.type, format=self.format,
                                description=text, priority=self.priority)


NAME = Column("Name", NAME_DOC, format="name")
AGE = Column("Age", AGE_DOC)

Cells = Callable[[Obj, datetime], list[Any]]


def created(obj: Obj, now: datetime) -> str:
    """The AGE cell: how long ago the object was created."""
    return duration.age(meta.metadata(obj).get("creationTimestamp"), now=now)


@dataclass(frozen=True)
class Printer:
    """One resource's Table shape: `cells(obj, now)` returns one cell per column, wide columns
    included (the apiserver always prints wide and kubectl hides priority-1 columns).

    `conditions(obj)` gives the row's metav1.TableRowCondition list (pods mark completed rows);
    `sort_key` orders list rows where upstream sorts them (FlowSchemas)."""

    columns: tuple[Column, ...]
    cells: Cells
    conditions: Callable[[Obj], list[Obj]] | None = None
    sort_key: Callable[[Obj], Any] | None = None


def _default_cells(obj: Obj, now: datetime) -> list[Any]:
    """Name and the creation time in RFC 3339 UTC; a missing time prints as Go's zero time."""
    created = meta.metadata(obj).get("creationTimestamp")
    stamp = meta.format_time(meta.parse_time(created)) if created else ZERO_TIME
    return [meta.name(obj), stamp]


ZERO_TIME = "0001-01-01T00:00:00Z"

DEFAULT = Printer(
    columns=(NAME, Column("Created At", AGE_DOC, type="date")),
    cells=_default_cells,
)
"""Upstream's DefaultTableConvertor: every kind without a printer (RBAC roles, LimitRanges,
CustomResourceDefinitions, ...)."""
