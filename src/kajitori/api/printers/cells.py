"""Cell formatting shared by several printers, worded as upstream prints it.

Mirrors the helpers of pkg/printers/internalversion/printers.go (`layoutContainerCells`,
`listWithMoreString`, `printBoolPtr`) and the string forms of apimachinery's `labels.FormatLabels`,
`metav1.FormatLabelSelector` and `labels.Selector.String()`.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

NONE = "<none>"
UNSET = "<unset>"
UNKNOWN = "<unknown>"
SELECTOR_ERROR = "<error>"

_OPERATORS = {"In": " in ", "NotIn": " notin "}


class InvalidSelectorError(ValueError):
    """A LabelSelector with an operator upstream's LabelSelectorAsSelector rejects."""


def layout_containers(containers: list[Obj] | None) -> tuple[str, str]:
    """(names, images) of a pod template's containers, each comma-joined."""
    containers = containers or []
    return (",".join(c.get("name", "") for c in containers),
            ",".join(c.get("image", "") for c in containers))


def template_containers(template: Obj | None) -> list[Obj]:
    """The containers of a PodTemplateSpec (`spec.template` of a workload)."""
    return ((template or {}).get("spec") or {}).get("containers") or []


def desired_replicas(spec: Obj) -> int:
    """`spec.replicas` of a workload, read as its API default (1) when absent or null."""
    replicas = spec.get("replicas")
    return 1 if replicas is None else int(replicas)


def format_labels(labels: dict[str, str] | None) -> str:
    """`a=1,b=2` sorted by key; `<none>` for no labels (also used for plain selector maps)."""
    if not labels:
        return NONE
    return ",".join(f"{key}={labels[key]}" for key in sorted(labels))


def selector_string(selector: Obj | None) -> str:
    """A metav1.LabelSelector as its selector string: requirements ordered by key, `k=v`,
    `k in (a,b)`, `k notin (a,b)`, `k`, `!k`; empty for a nil or empty selector.
    Raises InvalidSelectorError for an unknown operator."""
    if not selector:
        return ""
    requirements: list[tuple[str, str]] = []
    match_labels = selector.get("matchLabels") or {}
    for key in sorted(match_labels):
        requirements.append((key, f"{key}={match_labels[key]}"))
    for expression in selector.get("matchExpressions") or []:
        key = expression.get("key", "")
        operator = expression.get("operator", "")
        values = sorted(expression.get("values") or [])
        if operator in _OPERATORS:
            requirements.append((key, f"{key}{_OPERATORS[operator]}({','.join(values)})"))
        elif operator == "Exists":
            requirements.append((key, key))
        elif operator == "DoesNotExist":
            requirements.append((key, f"!{key}"))
        else:
            raise InvalidSelectorError(f"{operator!r} is not a valid label selector operator")
    requirements.sort(key=lambda requirement: requirement[0])
    return ",".join(text for _, text in requirements)


def format_label_selector(selector: Obj | None) -> str:
    """metav1.FormatLabelSelector: the selector string, `<none>` when empty, `<error>` when
    invalid."""
    try:
        text = selector_string(selector)
    except InvalidSelectorError:
        return SELECTOR_ERROR
    return text or NONE


def list_with_more(items: list[str], *, count: int, limit: int) -> str:
    """The first `limit` items comma-joined, `+ N more...` when there were more, `<unset>` when
    there were none."""
    text = ",".join(items[:limit])
    if count > limit:
        return f"{text} + {count - limit} more..."
    return text or UNSET


def bool_pointer(value: bool | None) -> str:
    """printBoolPtr: `True`, `False`, or `<unset>` for an absent optional bool."""
    if value is None:
        return UNSET
    return "True" if value else "False"


def quantity(value: str | None) -> str:
    """A resource.Quantity cell. Quantities arrive in canonical string form; an absent optional
    one prints as Go's nil `*Quantity` does."""
    return "<nil>" if value is None else str(value)


def condition_status(conditions: list[Obj] | None, condition_type: str) -> str | None:
    """The `status` of the first condition of a type, or None when there is none."""
    for condition in conditions or []:
        if condition.get("type") == condition_type:
            return str(condition.get("status", ""))
    return None
