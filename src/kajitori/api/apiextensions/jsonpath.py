"""The JSONPath subset of additionalPrinterColumns: `.spec.replicas`, `.items[0].name`,
`.metadata.labels['app.kubernetes.io/name']`, `.status.conditions[?(@.type=="Ready")].status`.

Mirrors what staging/src/k8s.io/client-go/util/jsonpath evaluates for the columns upstream's
custom resource table convertor prints (the path is wrapped in `{...}` there): field steps,
quoted keys, indexes (negative from the end), `[*]`, and filters comparing a field with a
string or number by `==`, `!=`, `<`, `>`, `<=`, `>=`. `find` returns every match in order;
the convertor prints the first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

_FILTER = re.compile(r"""^\?\(@((?:\.[\w\-/]+)+)\s*(==|!=|<=|>=|<|>)\s*"""
                     r"""(?:"([^"]*)"|'([^']*)'|(-?[\d.]+))\)$""")


class JSONPathError(ValueError):
    """A path outside the supported subset."""


@dataclass(frozen=True)
class _Field:
    name: str


@dataclass(frozen=True)
class _Index:
    index: int | None  # None: every element


@dataclass(frozen=True)
class _Filter:
    path: tuple[str, ...]
    operator: str
    operand: str | float


_Step = _Field | _Index | _Filter


def parse(path: str) -> tuple[_Step, ...]:
    """The steps of `path`; raises JSONPathError for anything outside the subset."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    steps: list[_Step] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == ".":
            end = i + 1
            while end < len(text) and text[end] not in ".[":
                end += 1
            name = text[i + 1:end]
            if name:
                steps.append(_Field(name))
            i = end
        elif char == "[":
            end = _closing(text, i)
            steps.append(_bracket(text[i + 1:end]))
            i = end + 1
        elif i == 0:
            end = i
            while end < len(text) and text[end] not in ".[":
                end += 1
            steps.append(_Field(text[:end]))
            i = end
        else:
            raise JSONPathError(f"unrecognized character in action: {char!r}")
    return tuple(steps)


def _closing(text: str, start: int) -> int:
    quote = ""
    for i in range(start + 1, len(text)):
        char = text[i]
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "]":
            return i
    raise JSONPathError("unterminated array")


def _bracket(inner: str) -> _Step:
    inner = inner.strip()
    if inner == "*":
        return _Index(None)
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return _Field(inner[1:-1])
    match = _FILTER.match(inner)
    if match:
        field_path, operator, double, single, number = match.groups()
        operand: str | float = float(number) if number is not None else \
            (double if double is not None else single)
        return _Filter(tuple(field_path.strip(".").split(".")), operator, operand)
    try:
        return _Index(int(inner))
    except ValueError as exc:
        raise JSONPathError(f"invalid array index {inner}") from exc


def find(obj: Any, path: str) -> list[Any]:
    """Every value `path` selects in `obj`, in document order."""
    current = [obj]
    for step in parse(path):
        found: list[Any] = []
        for value in current:
            found.extend(_apply(step, value))
        current = found
    return current


def _apply(step: _Step, value: Any) -> list[Any]:
    if isinstance(step, _Field):
        if isinstance(value, dict) and step.name in value:
            return [value[step.name]]
        return []
    if isinstance(step, _Index):
        if not isinstance(value, list):
            return []
        if step.index is None:
            return list(value)
        index = step.index if step.index >= 0 else len(value) + step.index
        return [value[index]] if 0 <= index < len(value) else []
    if not isinstance(value, list):
        return []
    return [item for item in value if _matches(step, item)]


def _matches(step: _Filter, item: Any) -> bool:
    current = item
    for name in step.path:
        if not isinstance(current, dict) or name not in current:
            return False
        current = current[name]
    operand = step.operand
    if isinstance(operand, float):
        if isinstance(current, bool) or not isinstance(current, int | float):
            return False
        left: Any = float(current)
    else:
        if not isinstance(current, str):
            return False
        left = current
    return bool({
        "==": lambda: left == operand, "!=": lambda: left != operand,
        "<": lambda: left < operand, ">": lambda: left > operand,
        "<=": lambda: left <= operand, ">=": lambda: left >= operand,
    }[step.operator]())
