"""The kubelet's `/metrics/resource`: the stats Summary's cpu and memory as Prometheus metrics.

Mirrors upstream's `pkg/kubelet/metrics/collectors/resource_metrics.go` as served by the
component-base registry in the Prometheus text format 0.0.4: the same metric names, HELP text
(prefixed with the stability level, `[STABLE] `), TYPE lines and labels (`container`,
`namespace`, `pod`, in name order). Families are sorted by name, samples by label values; a
family with no sample is left out; values are written as Go writes a float64 (`%g` with the
shortest digits: `1.572864e+08`); the cpu and memory samples carry the Summary's sample time in
milliseconds, `container_start_time_seconds` none. `scrape_error` (deprecated in 1.29.0) is
hidden in v1.33 as upstream hides deprecated metrics after one release, so
`resource_scrape_error` alone tells whether the Summary could be had.

The Summary's times are whole seconds (`metav1.Time`), so timestamps and start times are too.
The Summary comes from `kajitori.kubelet.stats`; the server answers with `CONTENT_TYPE`.
"""

from __future__ import annotations

import datetime
import decimal
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
NANOS = 1_000_000_000
STABLE = "STABLE"


@dataclass(frozen=True)
class Family:
    """One metric's HELP and TYPE lines."""

    name: str
    help: str
    type: str
    stability: str = STABLE


NODE_CPU = Family("node_cpu_usage_seconds_total",
                  "Cumulative cpu time consumed by the node in core-seconds", "counter")
NODE_MEMORY = Family("node_memory_working_set_bytes",
                     "Current working set of the node in bytes", "gauge")
CONTAINER_CPU = Family("container_cpu_usage_seconds_total",
                       "Cumulative cpu time consumed by the container in core-seconds", "counter")
CONTAINER_MEMORY = Family("container_memory_working_set_bytes",
                          "Current working set of the container in bytes", "gauge")
CONTAINER_START = Family("container_start_time_seconds",
                         "Start time of the container since unix epoch in seconds", "gauge")
POD_CPU = Family("pod_cpu_usage_seconds_total",
                 "Cumulative cpu time consumed by the pod in core-seconds", "counter")
POD_MEMORY = Family("pod_memory_working_set_bytes",
                    "Current working set of the pod in bytes", "gauge")
SCRAPE_ERROR = Family("resource_scrape_error",
                      "1 if there was an error while getting container metrics, 0 otherwise",
                      "gauge")

Labels = tuple[tuple[str, str], ...]
Sample = tuple[Labels, float, int | None]
"""Labels (sorted by name), value, timestamp in ms (None: none)."""


def format_float(value: float) -> str:
    """`value` as Go's `strconv.FormatFloat(value, 'g', -1, 64)` writes it, as the Prometheus
    client does: the shortest digits that round-trip, in exponent form from 1e+06 up and
    below 1e-04."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    parts = decimal.Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, parts.digits))
    point = len(text) + int(parts.exponent)  # digits before the decimal point
    exp10 = point - 1
    prefix = "-" if parts.sign else ""
    if exp10 < -4 or exp10 >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{text}"
    if point >= len(text):
        return f"{prefix}{text}{'0' * (point - len(text))}"
    return f"{prefix}{text[:point]}.{text[point:]}"


def _time_ms(text: str) -> int:
    moment = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.UTC)
    return int(moment.timestamp()) * 1000


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def _samples(summary: Obj) -> Iterator[tuple[Family, Sample]]:
    node = summary.get("node") or {}
    cpu, memory = node.get("cpu") or {}, node.get("memory") or {}
    if "usageCoreNanoSeconds" in cpu:
        yield NODE_CPU, ((), cpu["usageCoreNanoSeconds"] / NANOS, _time_ms(cpu["time"]))
    if "workingSetBytes" in memory:
        yield NODE_MEMORY, ((), float(memory["workingSetBytes"]), _time_ms(memory["time"]))
    for pod in summary.get("pods") or []:
        ref = pod["podRef"]
        pod_labels = (("namespace", ref["namespace"]), ("pod", ref["name"]))
        for container in pod.get("containers") or []:
            labels = (("container", container["name"]), *pod_labels)
            start = _time_ms(container["startTime"]) / 1000
            if start > 0:
                yield CONTAINER_START, (labels, start, None)
            cpu, memory = container.get("cpu") or {}, container.get("memory") or {}
            if "usageCoreNanoSeconds" in cpu:
                yield CONTAINER_CPU, (labels, cpu["usageCoreNanoSeconds"] / NANOS,
                                      _time_ms(cpu["time"]))
            if "workingSetBytes" in memory:
                yield CONTAINER_MEMORY, (labels, float(memory["workingSetBytes"]),
                                         _time_ms(memory["time"]))
        cpu, memory = pod.get("cpu") or {}, pod.get("memory") or {}
        if "usageCoreNanoSeconds" in cpu:
            yield POD_CPU, (pod_labels, cpu["usageCoreNanoSeconds"] / NANOS,
                            _time_ms(cpu["time"]))
        if "workingSetBytes" in memory:
            yield POD_MEMORY, (pod_labels, float(memory["workingSetBytes"]),
                               _time_ms(memory["time"]))


def render(summary: Obj | None) -> str:
    """The exposition of `summary` (None: it could not be had, and only
    `resource_scrape_error 1` is written)."""
    families: dict[Family, list[Sample]] = {}
    if summary is not None:
        for family, sample in _samples(summary):
            families.setdefault(family, []).append(sample)
    families[SCRAPE_ERROR] = [((), 0.0 if summary is not None else 1.0, None)]
    lines = []
    for family in sorted(families, key=lambda f: f.name):
        lines.append(f"# HELP {family.name} [{family.stability}] {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.type}")
        for labels, value, timestamp in sorted(families[family],
                                               key=lambda s: [v for _, v in s[0]]):
            text = family.name
            if labels:
                text += "{" + ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels) + "}"
            text += " " + format_float(value)
            if timestamp is not None:
                text += f" {timestamp}"
            lines.append(text)
    return "\n".join(lines) + "\n"
