"""How Go's encoding/json names JSON values in its errors.

Upstream's decoding errors reach users verbatim (`json: cannot unmarshal array into Go value of
type ...`); the patch appliers and the body decoder word theirs the same way through this.
"""

from __future__ import annotations

from typing import Any


def json_kind(value: Any) -> str:
    """The JSON type name an UnmarshalTypeError prints for `value`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"
