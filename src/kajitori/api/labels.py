"""Label selectors and label key/value rules, as upstream's apimachinery.

Mirrors staging/src/k8s.io/apimachinery/pkg/labels/selector.go (the `-l` / `labelSelector`
grammar and matching), pkg/apis/meta/v1/helpers.go (`LabelSelectorAsSelector`) and the label
parts of pkg/util/validation/validation.go (`IsQualifiedName`, `IsValidLabelValue`). Error
texts are upstream's, including the `<nil>` path Go prints for a requirement parsed without one:
the apiserver answers a bad `labelSelector` with 400 and exactly that text.

Field selectors live in `kajitori.api.fields`; object-level label validation (paths
`metadata.labels`, `spec.selector.matchLabels`) in `kajitori.api.validation.objectmeta`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kajitori.api import errors
from kajitori.api.validation import gorepr, names

# selection.Operator values, as upstream spells them.
IN = "in"
NOT_IN = "notin"
EQUALS = "="
DOUBLE_EQUALS = "=="
NOT_EQUALS = "!="
EXISTS = "exists"
DOES_NOT_EXIST = "!"
GREATER_THAN = "gt"
LESS_THAN = "lt"

BINARY_OPERATORS = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)

PARSE_ERROR_PREFIX = "unable to parse requirement: "
NO_PATH = "<nil>"  # how Go prints the nil *field.Path of a requirement parsed from text

_INT64 = re.compile(r"^[+-]?[0-9]+$")
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def is_qualified_name(value: str) -> list[str]:
    """Upstream IsQualifiedName: `[prefix/]name`, name ≤ 63 characters, prefix a DNS subdomain.
    Returns the messages, empty when valid (label keys, annotation keys, finalizers)."""
    return names.is_qualified_name(value)


def is_valid_label_value(value: str) -> list[str]:
    """Upstream IsValidLabelValue: empty, or ≤ 63 characters of the qualified-name alphabet."""
    return names.is_valid_label_value(value)


@dataclass(frozen=True)
class Requirement:
    """One `key op values` term; construct through `requirement` to get upstream's checks."""

    key: str
    operator: str
    values: tuple[str, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator in (IN, EQUALS, DOUBLE_EQUALS):
            return self.key in labels and labels[self.key] in self.values
        if self.operator in (NOT_IN, NOT_EQUALS):
            return self.key not in labels or labels[self.key] not in self.values
        if self.operator == EXISTS:
            return self.key in labels
        if self.operator == DOES_NOT_EXIST:
            return self.key not in labels
        if self.operator in (GREATER_THAN, LESS_THAN):
            if self.key not in labels or len(self.values) != 1:
                return False
            have, want = _parse_int64(labels[self.key]), _parse_int64(self.values[0])
            if have is None or want is None:
                return False
            return have > want if self.operator == GREATER_THAN else have < want
        return False

    def __str__(self) -> str:
        """Upstream Requirement.String(): values sorted, `in`/`notin` parenthesised."""
        prefix = "!" if self.operator == DOES_NOT_EXIST else ""
        if self.operator in (EXISTS, DOES_NOT_EXIST):
            return prefix + self.key
        spelled = {IN: " in ", NOT_IN: " notin ", GREATER_THAN: ">", LESS_THAN: "<"}
        op = spelled.get(self.operator, self.operator)
        joined = ",".join(sorted(self.values))
        if self.operator in (IN, NOT_IN):
            joined = f"({joined})"
        return f"{self.key}{op}{joined}"


def requirement(key: str, operator: str, values: Iterable[str] | None, *,
                path: str | None = None) -> Requirement:
    """Upstream NewRequirement. `path` is the field path of the requirement (None when parsed
    from text, printed as `<nil>`). Raises a 400 StatusError carrying every violation."""
    vals = None if values is None else list(values)
    problems = _requirement_errors(key, operator, vals, path=path)
    if problems:
        raise errors.bad_request(_aggregate(problems))
    return Requirement(key, operator, tuple(vals or ()))


def _child(path: str | None, name: str) -> str:
    return f"{path}.{name}" if path else name


def _requirement_errors(key: str, operator: str, vals: list[str] | None, *,
                        path: str | None) -> list[str]:
    out: list[str] = []
    msgs = names.is_qualified_name(key)
    if msgs:
        out.append(str(errors.FieldError.invalid(_child(path, "key"), key, "; ".join(msgs))))
    value_path = _child(path, "values")
    count = len(vals or ())
    shown = gorepr.value(gorepr.strings(vals))
    if operator in (IN, NOT_IN):
        if count == 0:
            out.append(str(errors.FieldError.invalid(
                value_path, shown, "for 'in', 'notin' operators, values set can't be empty")))
    elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if count != 1:
            out.append(str(errors.FieldError.invalid(
                value_path, shown, "exact-match compatibility requires one single value")))
    elif operator in (EXISTS, DOES_NOT_EXIST):
        if count != 0:
            out.append(str(errors.FieldError.invalid(
                value_path, shown, "values set must be empty for exists and does not exist")))
    elif operator in (GREATER_THAN, LESS_THAN):
        if count != 1:
            out.append(str(errors.FieldError.invalid(
                value_path, shown, "for 'Gt', 'Lt' operators, exactly one value is required")))
        for i, value in enumerate(vals or ()):
            if _parse_int64(value) is None:
                out.append(str(errors.FieldError.invalid(
                    f"{value_path}[{i}]", value,
                    "for 'Gt', 'Lt' operators, the value must be an integer")))
    else:
        valid = (*BINARY_OPERATORS, EXISTS, DOES_NOT_EXIST)
        out.append(str(errors.FieldError.not_supported(_child(path, "operator"), operator,
                                                       list(valid))))
    for i, value in enumerate(vals or ()):
        msgs = names.is_valid_label_value(value)
        if msgs:
            out.append(str(errors.FieldError.invalid(f"{value_path}[{i}][{key}]", value,
                                                     "; ".join(msgs))))
    return out


def _aggregate(messages: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message bare, several bracketed, deduplicated."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def _parse_int64(text: str) -> int | None:
    if not _INT64.match(text):
        return None
    value = int(text)
    return value if _INT64_MIN <= value <= _INT64_MAX else None


class Selector:
    """An AND of requirements, sorted by key as upstream keeps them. `Selector(None)` is
    upstream's `labels.Nothing()` (matches nothing); `Selector(())` is `Everything()`."""

    def __init__(self, requirements: Iterable[Requirement] | None) -> None:
        self._nothing = requirements is None
        self.requirements: tuple[Requirement, ...] = tuple(
            sorted(requirements or (), key=lambda r: r.key))

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self._nothing:
            return False
        have = labels or {}
        return all(r.matches(have) for r in self.requirements)

    def empty(self) -> bool:
        """True when the selector does not restrict (Everything); Nothing is not empty."""
        return not self._nothing and not self.requirements

    def matches_nothing(self) -> bool:
        return self._nothing

    def requires_exact_match(self, key: str) -> str | None:
        """The one value `key` must have, when the selector pins it; else None."""
        for r in self.requirements:
            if r.key == key:
                if r.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1:
                    return r.values[0]
                return None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    def __repr__(self) -> str:
        return f"Selector({str(self)!r})" if not self._nothing else "Selector(<nothing>)"


EVERYTHING = Selector(())
NOTHING = Selector(None)


def from_set(labels: Mapping[str, str] | None) -> Selector:
    """Upstream SelectorFromSet: every pair must be equal; no validation (callers pass
    labels already validated, e.g. a ReplicationController's `spec.selector`)."""
    return Selector(Requirement(k, EQUALS, (v,)) for k, v in (labels or {}).items())


# --- the text grammar -------------------------------------------------------------------------

_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")
_KEYWORDS = {"in": "IN", "notin": "NOTIN"}
_SYMBOLS = {")": "CLOSE", ",": "COMMA", "!": "NOT", "==": "EQEQ", "=": "EQ", ">": "GT",
            "<": "LT", "!=": "NEQ", "(": "OPEN"}
_IDENT, _END, _ERROR = "IDENT", "END", "ERROR"


def _lex(text: str) -> list[tuple[str, str]]:
    """Upstream's Lexer: identifiers run to the next special symbol or whitespace; symbols take
    the longest known spelling; an unknown run of symbols is an error token."""
    tokens: list[tuple[str, str]] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= end:
            tokens.append((_END, ""))
            return tokens
        if text[pos] in _SPECIAL:
            buffer, best = "", None
            while pos < end and text[pos] in _SPECIAL:
                buffer += text[pos]
                if buffer in _SYMBOLS:
                    best = (_SYMBOLS[buffer], buffer)
                elif best is not None:
                    buffer = buffer[:-1]
                    break
                pos += 1
            if best is None:
                tokens.append((_ERROR, f"error expected: keyword found '{buffer}'"))
            else:
                tokens.append(best)
            continue
        start = pos
        while pos < end and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
            pos += 1
        word = text[start:pos]
        tokens.append((_KEYWORDS.get(word, _IDENT), word))


class _ParseError(Exception):
    pass


class _Parser:
    def __init__(self, text: str) -> None:
        self._items = _lex(text)
        self._pos = 0

    def _peek(self, *, values: bool = True) -> tuple[str, str]:
        tok, lit = self._items[self._pos]
        return (_IDENT, lit) if values and tok in ("IN", "NOTIN") else (tok, lit)

    def _take(self, *, values: bool = True) -> tuple[str, str]:
        item = self._peek(values=values)
        self._pos += 1
        return item

    def parse(self) -> list[Requirement]:
        out: list[Requirement] = []
        while True:
            tok, lit = self._peek()
            if tok in (_IDENT, "NOT"):
                try:
                    out.append(self._requirement())
                except _ParseError as exc:
                    raise _ParseError(PARSE_ERROR_PREFIX + str(exc)) from None
                tok, lit = self._take()
                if tok == _END:
                    return out
                if tok != "COMMA":
                    raise _ParseError(f"found '{lit}', expected: ',' or 'end of string'")
                tok2, lit2 = self._peek()
                if tok2 not in (_IDENT, "NOT"):
                    raise _ParseError(f"found '{lit2}', expected: identifier after ','")
            elif tok == _END:
                return out
            else:
                raise _ParseError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def _requirement(self) -> Requirement:
        operator = ""
        tok, key = self._take()
        if tok == "NOT":
            operator = DOES_NOT_EXIST
            tok, key = self._take()
        if tok != _IDENT:
            raise _ParseError(f"found '{key}', expected: identifier")
        msgs = names.is_qualified_name(key)
        if msgs:
            raise _ParseError(str(errors.FieldError.invalid(NO_PATH, key, "; ".join(msgs))))
        if self._peek()[0] in (_END, "COMMA"):
            operator = operator or EXISTS
        if operator in (EXISTS, DOES_NOT_EXIST):
            return self._build(key, operator, [])
        operator = self._operator()
        values = self._values() if operator in (IN, NOT_IN) else self._exact_value()
        return self._build(key, operator, sorted(values))

    @staticmethod
    def _build(key: str, operator: str, values: list[str]) -> Requirement:
        problems = _requirement_errors(key, operator, values, path=None)
        if problems:
            raise _ParseError(_aggregate(problems))
        return Requirement(key, operator, tuple(values))

    def _operator(self) -> str:
        tok, lit = self._take(values=False)
        ops = {"IN": IN, "EQ": EQUALS, "EQEQ": DOUBLE_EQUALS, "GT": GREATER_THAN,
               "LT": LESS_THAN, "NOTIN": NOT_IN, "NEQ": NOT_EQUALS}
        if tok not in ops:
            raise _ParseError(f"found '{lit}', expected: {', '.join(BINARY_OPERATORS)}")
        return ops[tok]

    def _values(self) -> set[str]:
        tok, lit = self._take()
        if tok != "OPEN":
            raise _ParseError(f"found '{lit}' expected: '('")
        tok, lit = self._peek()
        if tok in (_IDENT, "COMMA"):
            found = self._identifiers()
            if self._take()[0] != "CLOSE":
                raise _ParseError(f"found '{lit}', expected: ')'")
            return found
        if tok == "CLOSE":
            self._take()
            return {""}
        raise _ParseError(f"found '{lit}', expected: ',', ')' or identifier")

    def _identifiers(self) -> set[str]:
        found: set[str] = set()
        while True:
            tok, lit = self._take()
            if tok == _IDENT:
                found.add(lit)
                tok2, lit2 = self._peek()
                if tok2 == "COMMA":
                    continue
                if tok2 == "CLOSE":
                    return found
                raise _ParseError(f"found '{lit2}', expected: ',' or ')'")
            if tok == "COMMA":
                if not found:
                    found.add("")
                tok2, _ = self._peek()
                if tok2 == "CLOSE":
                    found.add("")
                    return found
                if tok2 == "COMMA":
                    self._take()
                    found.add("")
                continue
            raise _ParseError(f"found '{lit}', expected: ',', or identifier")

    def _exact_value(self) -> set[str]:
        if self._peek()[0] in (_END, "COMMA"):
            return {""}
        tok, lit = self._take()
        if tok == _IDENT:
            return {lit}
        raise _ParseError(f"found '{lit}', expected: identifier")


def parse(text: str) -> Selector:
    """Parse a `labelSelector` query parameter (upstream labels.Parse). Empty text selects
    everything. Raises a 400 StatusError worded as upstream (`unable to parse requirement:
    ...`, `found ',', expected: ...`)."""
    try:
        return Selector(_Parser(text).parse())
    except _ParseError as exc:
        raise errors.bad_request(str(exc)) from None


def from_label_selector(selector: Mapping[str, Any] | None) -> Selector:
    """A metav1.LabelSelector dict as a Selector (upstream LabelSelectorAsSelector): None
    selects nothing, `{}` everything. Raises a 400 StatusError for an unknown operator
    (`"Foo" is not a valid label selector operator`) or invalid keys/values."""
    if selector is None:
        return NOTHING
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not match_labels and not expressions:
        return EVERYTHING
    ops = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}
    reqs = [requirement(k, EQUALS, [v]) for k, v in match_labels.items()]
    for expr in expressions:
        operator = expr.get("operator", "")
        if operator not in ops:
            raise errors.bad_request(
                f"{errors._go_value(operator)} is not a valid label selector operator")
        reqs.append(requirement(expr.get("key", ""), ops[operator], expr.get("values") or None))
    return Selector(reqs)
