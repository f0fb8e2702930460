"""Printers for the autoscaling group: horizontalpodautoscalers, and the Scale that every
`<resource>/scale` subresource answers (`kubectl get deploy x --subresource=scale`), which the
apiserver prints under the resource name `scale`.

Mirrors printHorizontalPodAutoscaler, formatHPAMetrics and printScale of
pkg/printers/internalversion/printers.go (v1.33). Upstream prints the internal (autoscaling/v2
shaped) object whichever version was asked for; an autoscaling/v1 object is first read as the
v2 CPU-utilization metric it converts to.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kajitori.api import meta
from kajitori.api.printers import cells
from kajitori.api.printers.printer import (
    AGE,
    NAME,
    NAME_DOC,
    Column,
    Doc,
    Obj,
    Printer,
    created,
)

HPA = "io.k8s.api.autoscaling.v2."
METRICS_SHOWN = 2
UNKNOWN_TYPE = "<unknown type>"
AUTO = "<auto>"


def _v2_metrics(spec: Obj, status: Obj) -> tuple[list[Obj], list[Obj]]:
    """(spec metrics, current metrics); autoscaling/v1's CPU fields become a Resource metric."""
    if "targetCPUUtilizationPercentage" not in spec:
        return spec.get("metrics") or [], status.get("currentMetrics") or []
    target = {"type": "Utilization",
              "averageUtilization": spec["targetCPUUtilizationPercentage"]}
    metrics = [{"type": "Resource", "resource": {"name": "cpu", "target": target}}]
    current: list[Obj] = []
    if status.get("currentCPUUtilizationPercentage") is not None:
        current = [{"type": "Resource", "resource": {"name": "cpu", "current": {
            "averageUtilization": status["currentCPUUtilizationPercentage"]}}}]
    return metrics, current


def _value_metric(target: Obj, current: Obj | None) -> str:
    """`current/target (avg)` for an AverageValue target, else `current/target` on Value."""
    if target.get("averageValue") is not None:
        now = cells.UNKNOWN
        if current is not None and current.get("averageValue") is not None:
            now = str(current["averageValue"])
        return f"{now}/{target['averageValue']} (avg)"
    now = cells.UNKNOWN if current is None else cells.quantity(current.get("value"))
    return f"{now}/{cells.quantity(target.get('value'))}"


def _resource_metric(source: Obj, current: Obj | None) -> str:
    """`cpu: 40%/80%` on utilization, `memory: 100Mi/200Mi` on an average value."""
    name = source.get("name", "")
    target = source.get("target") or {}
    if target.get("averageValue") is not None:
        now = cells.UNKNOWN if current is None else cells.quantity(current.get("averageValue"))
        return f"{name}: {now}/{target['averageValue']}"
    now = cells.UNKNOWN
    if current is not None and current.get("averageUtilization") is not None:
        now = f"{current['averageUtilization']}%"
    goal = AUTO
    if target.get("averageUtilization") is not None:
        goal = f"{target['averageUtilization']}%"
    return f"{name}: {now}/{goal}"


def _current(statuses: list[Obj], index: int, key: str) -> Obj | None:
    """The `current` of the status metric at the same position, if it is of the same source."""
    if index >= len(statuses) or statuses[index].get(key) is None:
        return None
    return statuses[index][key].get("current") or {}


def format_metrics(specs: list[Obj], statuses: list[Obj]) -> str:
    """The TARGETS cell: the first two metrics, `+ N more...` beyond."""
    if not specs:
        return cells.NONE
    shown = []
    for index, metric in enumerate(specs):
        kind = metric.get("type")
        if kind == "External":
            source = metric.get("external") or {}
            shown.append(_value_metric(source.get("target") or {},
                                       _current(statuses, index, "external")))
        elif kind == "Pods":
            source = metric.get("pods") or {}
            current = _current(statuses, index, "pods")
            now = cells.UNKNOWN if current is None else cells.quantity(current.get("averageValue"))
            goal = cells.quantity((source.get("target") or {}).get("averageValue"))
            shown.append(f"{now}/{goal}")
        elif kind == "Object":
            source = metric.get("object") or {}
            shown.append(_value_metric(source.get("target") or {},
                                       _current(statuses, index, "object")))
        elif kind == "Resource":
            shown.append(_resource_metric(metric.get("resource") or {},
                                          _current(statuses, index, "resource")))
        elif kind == "ContainerResource":
            shown.append(_resource_metric(metric.get("containerResource") or {},
                                          _current(statuses, index, "containerResource")))
        else:
            shown.append(UNKNOWN_TYPE)
    text = ", ".join(shown[:METRICS_SHOWN])
    if len(shown) > METRICS_SHOWN:
        return f"{text} + {len(shown) - METRICS_SHOWN} more..."
    return text


def _hpa_cells(hpa: Obj, now: datetime) -> list[Any]:
    spec = hpa.get("spec") or {}
    status = hpa.get("status") or {}
    target = spec.get("scaleTargetRef") or {}
    min_replicas = spec.get("minReplicas")
    return [meta.name(hpa), f"{target.get('kind', '')}/{target.get('name', '')}",
            format_metrics(*_v2_metrics(spec, status)),
            cells.UNSET if min_replicas is None else str(min_replicas),
            int(spec.get("maxReplicas") or 0), int(status.get("currentReplicas") or 0),
            created(hpa, now)]


HORIZONTALPODAUTOSCALERS = Printer(
    columns=(
        NAME,
        Column("Reference", Doc(HPA + "HorizontalPodAutoscalerSpec", "scaleTargetRef")),
        Column("Targets", Doc(HPA + "HorizontalPodAutoscalerSpec", "metrics")),
        Column("MinPods", Doc(HPA + "HorizontalPodAutoscalerSpec", "minReplicas")),
        Column("MaxPods", Doc(HPA + "HorizontalPodAutoscalerSpec", "maxReplicas")),
        Column("Replicas", Doc(HPA + "HorizontalPodAutoscalerStatus", "currentReplicas")),
        AGE,
    ),
    cells=_hpa_cells,
)

SCALE_V1 = "io.k8s.api.autoscaling.v1."


def _scale_cells(scale: Obj, now: datetime) -> list[Any]:
    return [meta.name(scale), int((scale.get("spec") or {}).get("replicas") or 0),
            int((scale.get("status") or {}).get("replicas") or 0), created(scale, now)]


SCALE = Printer(
    columns=(
        Column("Name", NAME_DOC),  # upstream gives this Name column no `name` format
        Column("Desired", Doc(SCALE_V1 + "ScaleSpec", "replicas"), type="integer"),
        Column("Available", Doc(SCALE_V1 + "ScaleStatus", "replicas"), type="integer"),
        AGE,
    ),
    cells=_scale_cells,
)

PRINTERS: dict[str, Printer] = {"horizontalpodautoscalers": HORIZONTALPODAUTOSCALERS,
                                "scale": SCALE}
