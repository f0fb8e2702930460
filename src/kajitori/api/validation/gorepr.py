"""Values printed as Go's `%#v` prints them inside field errors.

Upstream's field.Error prints a bad value that is neither a string, a number nor a Stringer
with `%#v`: `map[string]string{"app":"web"}`, `[]string{"a"}`, `v1.LabelSelector{...}`. These
wrappers give `FieldError.invalid` that text through `str()`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kajitori.api import errors


class GoValue:
    """A pre-rendered Go value; `str()` is its `%#v` text."""

    def __init__(self, text: str) -> None:
        self._text = text

    def __str__(self) -> str:
        return self._text


def _q(value: Any) -> str:
    return errors._go_value(str(value))


def string_map(values: Mapping[str, Any] | None) -> str:
    if values is None:
        return "map[string]string(nil)"
    body = ", ".join(f"{_q(k)}:{_q(values[k])}" for k in sorted(values))
    return "map[string]string{" + body + "}"


def strings(values: Sequence[str] | None) -> str:
    if values is None:
        return "[]string(nil)"
    return "[]string{" + ", ".join(_q(v) for v in values) + "}"


def label_selector(selector: Mapping[str, Any]) -> str:
    """A metav1.LabelSelector as `%#v` prints the dereferenced struct."""
    expressions = selector.get("matchExpressions")
    if expressions is None:
        exprs = "[]v1.LabelSelectorRequirement(nil)"
    else:
        items = ", ".join(
            f"v1.LabelSelectorRequirement{{Key:{_q(e.get('key', ''))}, "
            f"Operator:{_q(e.get('operator', ''))}, Values:{strings(e.get('values'))}}}"
            for e in expressions)
        exprs = "[]v1.LabelSelectorRequirement{" + items + "}"
    return (f"v1.LabelSelector{{MatchLabels:{string_map(selector.get('matchLabels'))}, "
            f"MatchExpressions:{exprs}}}")


def value(text: str) -> GoValue:
    return GoValue(text)
