"""Human-readable durations and ages, as `kubectl get` shows them.

Mirrors staging/src/k8s.io/apimachinery/pkg/util/duration/duration.go (`HumanDuration`) and the
`translateTimestampSince` helper of pkg/printers/internalversion/printers.go. The Table printers
(`kajitori.api.printers`) call these for every AGE-like cell; the server, not kubectl, computes
them, so the wording must be upstream's to the character.
"""

from __future__ import annotations

import datetime

from kajitori.api import meta

UNKNOWN = "<unknown>"
INVALID = "<invalid>"

_MINUTE = 60
_HOUR = 60 * _MINUTE
_DAY = 24


def human_duration(seconds: float) -> str:
    """`45s`, `3m12s`, `12m`, `5h3m`, `20h`, `3d4h`, `30d`, `2y45d`, `9y`: ~2-3 significant figures.

    Up to one second in the future reads `0s` (clock skew between machines); further in the
    future is `<invalid>`. Fractions of a second are truncated toward zero, as Go's
    `int(d.Seconds())` does.
    """
    whole = int(seconds)
    if whole < -1:
        return INVALID
    if whole < 0:
        return "0s"
    if whole < 2 * _MINUTE:
        return f"{whole}s"
    minutes = whole // _MINUTE
    if minutes < 10:
        rest = whole % _MINUTE
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 3 * 60:
        return f"{minutes}m"
    hours = whole // _HOUR
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < _DAY * 8:
        rest = hours % _DAY
        return f"{hours // _DAY}d" if rest == 0 else f"{hours // _DAY}d{rest}h"
    days = hours // _DAY
    if hours < _DAY * 365 * 2:
        return f"{days}d"
    if hours < _DAY * 365 * 8:
        rest = days % 365
        return f"{days // 365}y" if rest == 0 else f"{days // 365}y{rest}d"
    return f"{days // 365}y"


def since(timestamp: str | None, *, now: datetime.datetime) -> str:
    """How long before `now` an RFC 3339 timestamp (`metav1.Time` or `MicroTime`) lies;
    `<unknown>` when it is missing or empty, as upstream prints a zero time. `now` must be
    timezone-aware."""
    if not timestamp:
        return UNKNOWN
    return human_duration((now - meta.parse_time(timestamp)).total_seconds())


def age(creation_timestamp: str | None, *, now: datetime.datetime) -> str:
    """The AGE cell for an object's `metadata.creationTimestamp`."""
    return since(creation_timestamp, now=now)
