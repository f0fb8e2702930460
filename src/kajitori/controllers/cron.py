"""Cron schedules as the CronJob controller reads them: robfig/cron v3's `ParseStandard` and
`Schedule.Next`.

Upstream's CronJob controller (pkg/controller/cronjob) parses `spec.schedule` with
github.com/robfig/cron/v3: five fields (minute, hour, day of month, month, day of week) with
`*`, `?`, ranges, steps, lists and the names `jan`..`dec`, `sun`..`sat`; the descriptors
`@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`), `@hourly` and
`@every <duration>`; an optional `TZ=<zone>` or `CRON_TZ=<zone>` prefix. This module keeps its
semantics where they differ from other crons: when the day-of-month or the day-of-week field
starts with `*` or `?` (a step other than 1 cancels that), a day must match both fields,
otherwise either; `Next` searches at most five years ahead and skips times a DST change
removes. Parse errors carry robfig's wording, which the controller's events repeat.

Neither croniter nor cronsim was used: both follow Vixie cron's day rule and have no `@every`,
so they would schedule some specs differently from upstream.

Times are aware datetimes; a schedule without a zone of its own computes in the zone of the
time it is given (robfig's `time.Local` case), which for the controller is UTC.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from dataclasses import dataclass

STAR_BIT = 1 << 63
"""Set in a field's bits when it was written `*` or `?` (robfig's starBit)."""

_MONTHS = {m: i + 1 for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}
_DAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}


@dataclass(frozen=True)
class _Bounds:
    low: int
    high: int
    names: dict[str, int]


_MINUTES = _Bounds(0, 59, {})
_HOURS = _Bounds(0, 23, {})
_DOM = _Bounds(1, 31, {})
_MONTH = _Bounds(1, 12, _MONTHS)
_DOW = _Bounds(0, 6, _DAYS)

SEARCH_YEARS = 5
"""How far `Next` looks before it gives up on a schedule that never fires (Feb 30th)."""


class ParseError(ValueError):
    """A schedule robfig/cron refuses; the message is robfig's."""


def _bits(low: int, high: int, step: int) -> int:
    if step == 1:
        return ~(~0 << (high + 1)) & (~0 << low)
    return sum(1 << i for i in range(low, high + 1, step))


def _all(bounds: _Bounds) -> int:
    return _bits(bounds.low, bounds.high, 1) | STAR_BIT


def _parse_int(text: str) -> int:
    # Go's strconv.Atoi: an optional sign and ASCII digits.
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise ParseError(f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": '
                         "invalid syntax")
    if int(text) < 0:
        raise ParseError(f"negative number ({int(text)}) not allowed: {text}")
    return int(text)


def _parse_value(text: str, bounds: _Bounds) -> int:
    named = bounds.names.get(text.lower())
    return named if named is not None else _parse_int(text)


def _get_range(expr: str, bounds: _Bounds) -> int:
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    single = len(low_and_high) == 1
    extra = 0
    if low_and_high[0] in ("*", "?"):
        start, end, extra = bounds.low, bounds.high, STAR_BIT
    else:
        start = _parse_value(low_and_high[0], bounds)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _parse_value(low_and_high[1], bounds)
        else:
            raise ParseError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _parse_int(range_and_step[1])
        if single:  # "N/step" means "N-max/step"
            end = bounds.high
        if step > 1:
            extra = 0
    else:
        raise ParseError(f"too many slashes: {expr}")
    if start < bounds.low:
        raise ParseError(f"beginning of range ({start}) below minimum ({bounds.low}): {expr}")
    if end > bounds.high:
        raise ParseError(f"end of range ({end}) above maximum ({bounds.high}): {expr}")
    if start > end:
        raise ParseError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise ParseError(f"step of range should be a positive number: {expr}")
    return _bits(start, end, step) | extra


def _get_field(field: str, bounds: _Bounds) -> int:
    bits = 0
    for expr in field.split(","):
        bits |= _get_range(expr, bounds)
    return bits


class Schedule:
    """A parsed schedule. `next(t)` is the first activation strictly after `t` (whole
    seconds), in `t`'s zone, or None when there is none within `SEARCH_YEARS`."""

    def next(self, t: datetime.datetime) -> datetime.datetime | None:
        raise NotImplementedError


@dataclass(frozen=True)
class SpecSchedule(Schedule):
    """robfig's SpecSchedule, seconds always 0 (the standard parser has no seconds field)."""

    minute: int
    hour: int
    dom: int
    month: int
    dow: int
    location: datetime.tzinfo | None
    """None: the zone of the time given to `next` (robfig's time.Local)."""

    def _day_matches(self, t: datetime.datetime) -> bool:
        dom_match = bool(1 << t.day & self.dom)
        dow_match = bool(1 << (t.isoweekday() % 7) & self.dow)
        if self.dom & STAR_BIT or self.dow & STAR_BIT:
            return dom_match and dow_match
        return dom_match or dow_match

    def next(self, t: datetime.datetime) -> datetime.datetime | None:
        original_zone = t.tzinfo
        zone = self.location or original_zone
        t = t.astimezone(zone)
        # The upcoming whole second, then the upcoming minute: the seconds field is always 0.
        t = _add(t.replace(microsecond=0), seconds=1)
        added = False
        year_limit = t.year + SEARCH_YEARS
        while True:  # robfig's WRAP label
            if t.year > year_limit:
                return None
            wrapped = False
            while not 1 << t.month & self.month:
                if not added:
                    added = True
                    t = _wall(zone, t.year, t.month, 1)
                t = _wall(zone, t.year + t.month // 12, t.month % 12 + 1, 1, t.hour, t.minute,
                          t.second)
                if t.month == 1:
                    wrapped = True
                    break
            if wrapped:
                continue
            while not self._day_matches(t):
                if not added:
                    added = True
                    t = _wall(zone, t.year, t.month, t.day)
                following = t.date() + datetime.timedelta(days=1)
                t = _wall(zone, following.year, following.month, following.day, t.hour,
                          t.minute, t.second)
                # A DST change may have moved midnight: put it back.
                if t.hour != 0:
                    t = _add(t, hours=24 - t.hour) if t.hour > 12 else _add(t, hours=-t.hour)
                if t.day == 1:
                    wrapped = True
                    break
            if wrapped:
                continue
            while not 1 << t.hour & self.hour:
                if not added:
                    added = True
                    t = _wall(zone, t.year, t.month, t.day, t.hour)
                t = _add(t, hours=1)
                if t.hour == 0:
                    wrapped = True
                    break
            if wrapped:
                continue
            while not 1 << t.minute & self.minute:
                if not added:
                    added = True
                    t = t.replace(second=0)
                t = _add(t, minutes=1)
                if t.minute == 0:
                    wrapped = True
                    break
            if wrapped:
                continue
            while t.second != 0:
                if not added:
                    added = True
                t = _add(t, seconds=1)
                if t.second == 0:
                    wrapped = True
                    break
            if wrapped:
                continue
            return t.astimezone(original_zone)


@dataclass(frozen=True)
class ConstantDelaySchedule(Schedule):
    """`@every <duration>`: every `delay` seconds (whole, at least 1) from the given time."""

    delay: int

    def next(self, t: datetime.datetime) -> datetime.datetime | None:
        return t.replace(microsecond=0) + datetime.timedelta(seconds=self.delay)


def _wall(zone: datetime.tzinfo | None, year: int, month: int, day: int, hour: int = 0,
          minute: int = 0, second: int = 0) -> datetime.datetime:
    """A wall-clock time in `zone` (Go's time.Date); a time a DST gap skips takes the offset
    in force before the gap."""
    naive = datetime.datetime(year, month, day, hour, minute, second)
    return naive.replace(tzinfo=zone).astimezone(datetime.UTC).astimezone(zone)


def _add(t: datetime.datetime, *, hours: int = 0, minutes: int = 0,
         seconds: int = 0) -> datetime.datetime:
    """Elapsed-time arithmetic (Go's Time.Add), unlike Python's wall-clock `+` on aware
    datetimes."""
    delta = datetime.timedelta(hours=hours, minutes=minutes, seconds=seconds)
    return (t.astimezone(datetime.UTC) + delta).astimezone(t.tzinfo)


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0,
                   "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration (`1h30m`, `90s`, `1.5h`); raises ValueError worded as Go's
    time.ParseDuration."""
    body = text.lstrip("+-")
    sign = -1.0 if text.startswith("-") else 1.0
    if body == "0":
        return 0.0
    if not body:
        raise ValueError(f'time: invalid duration "{text}"')
    total, pos = 0.0, 0
    while pos < len(body):
        match = _DURATION_PART.match(body, pos)
        if match is None or match.group(1) in ("", "."):
            if re.match(r"[0-9.]+$", body[pos:]):
                raise ValueError(f'time: missing unit in duration "{text}"')
            raise ValueError(f'time: invalid duration "{text}"')
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    return sign * total


def load_location(name: str) -> datetime.tzinfo:
    """Go's time.LoadLocation: `""` and `UTC` are UTC; otherwise the IANA zone. Raises
    ValueError `unknown time zone <name>`."""
    if name in ("", "UTC"):
        return datetime.UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name}") from exc


def parse_standard(spec: str) -> Schedule:
    """robfig/cron's ParseStandard. Raises ParseError with robfig's message."""
    if not spec:
        raise ParseError("empty spec string")
    location: datetime.tzinfo | None = None
    if spec.startswith(("TZ=", "CRON_TZ=")):
        space = spec.find(" ")
        equals = spec.find("=")
        zone_name = spec[equals + 1:space] if space >= 0 else spec[equals + 1:]
        try:
            location = load_location(zone_name)
        except ValueError as exc:
            raise ParseError(f"provided bad location {zone_name}: {exc}") from exc
        spec = spec[space:].strip() if space >= 0 else ""
    fields = spec.split()
    if spec.startswith("@"):
        return _parse_descriptor(spec, location)
    if len(fields) != 5:
        raise ParseError(f"expected exactly 5 fields, found {len(fields)}: "
                         f"[{' '.join(fields)}]")
    return SpecSchedule(minute=_get_field(fields[0], _MINUTES),
                        hour=_get_field(fields[1], _HOURS),
                        dom=_get_field(fields[2], _DOM),
                        month=_get_field(fields[3], _MONTH),
                        dow=_get_field(fields[4], _DOW), location=location)


_DESCRIPTORS = {
    "@yearly": (0, 0, 1, 1, None), "@annually": (0, 0, 1, 1, None),
    "@monthly": (0, 0, 1, None, None), "@weekly": (0, 0, None, None, 0),
    "@daily": (0, 0, None, None, None), "@midnight": (0, 0, None, None, None),
    "@hourly": (0, None, None, None, None),
}
"""Descriptor: (minute, hour, day of month, month, day of week); None is `*`."""


def _parse_descriptor(spec: str, location: datetime.tzinfo | None) -> Schedule:
    fixed = _DESCRIPTORS.get(spec)
    if fixed is not None:
        bounds = (_MINUTES, _HOURS, _DOM, _MONTH, _DOW)
        minute, hour, dom, month, dow = (_all(b) if v is None else 1 << v
                                         for v, b in zip(fixed, bounds, strict=True))
        return SpecSchedule(minute=minute, hour=hour, dom=dom, month=month, dow=dow,
                            location=location)
    every = "@every "
    if spec.startswith(every):
        text = spec[len(every):]
        try:
            seconds = parse_go_duration(text)
        except ValueError as exc:
            raise ParseError(f"failed to parse duration {spec}: {exc}") from exc
        # robfig rounds the delay down to whole seconds, at least one.
        return ConstantDelaySchedule(delay=max(1, int(seconds)))
    raise ParseError(f"unrecognized descriptor: {spec}")
