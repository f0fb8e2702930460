"""The event correlator: spam filtering, aggregation and counting of repeated core/v1 Events.

Mirrors client-go's tools/record/events_cache.go with its defaults:
- a spam filter: per source and involved object, a token bucket of 25 events refilled at one
  every 5 minutes (`EventSourceObjectSpamFilter`);
- an aggregator: when more than 10 events differing only in message share source, object,
  type and reason within 10 minutes, the next ones become one event whose message is
  `(combined from similar events): <message>` (`EventAggregator`);
- a logger: an event identical to one already written (same source, object, type, reason
  and message) is a repeat: it keeps the first one's name and firstTimestamp, counts up, and
  is sent as a strategic merge patch of `count`, `lastTimestamp` and `message`
  (`eventLogger`).
It decides; `kajitori.client.events` writes. Pure and synchronous: time comes from a
`kajitori.client.clock.Clock` (monotonic seconds) so tests step it.
"""

from __future__ import annotations

import collections
import copy
from dataclasses import dataclass, field
from typing import Any

from kajitori.api import meta
from kajitori.client import clock as clock_

Obj = dict[str, Any]

MAX_LRU_CACHE_ENTRIES = 4096
AGGREGATE_MAX_EVENTS = 10
AGGREGATE_INTERVAL_SECONDS = 600.0
SPAM_BURST = 25
SPAM_QPS = 1.0 / 300.0
AGGREGATE_MESSAGE_PREFIX = "(combined from similar events): "

_REF_FIELDS = ("kind", "namespace", "name", "uid", "apiVersion")


def _source(event: Obj) -> list[str]:
    source = event.get("source") or {}
    return [source.get("component", ""), source.get("host", "")]


def _ref(event: Obj, fields: tuple[str, ...] = _REF_FIELDS) -> list[str]:
    ref = event.get("involvedObject") or {}
    return [str(ref.get(f, "")) for f in fields]


def event_key(event: Obj) -> str:
    """Upstream's getEventKey: source, involved object (with fieldPath), type, reason and
    message; equal keys are repeats of one event."""
    return "".join([*_source(event), *_ref(event, ("kind", "namespace", "name", "fieldPath",
                                                   "uid", "apiVersion")),
                    event.get("type", ""), event.get("reason", ""), event.get("message", "")])


def spam_key(event: Obj) -> str:
    """Upstream's getSpamKey: source and involved object."""
    return "".join([*_source(event), *_ref(event)])


def aggregate_key(event: Obj) -> tuple[str, str]:
    """Upstream's EventAggregatorByReasonFunc: (the group of similar events, the event's
    place in it: its message)."""
    return "".join([*_source(event), *_ref(event), event.get("type", ""),
                    event.get("reason", ""), event.get("reportingComponent", ""),
                    event.get("reportingInstance", "")]), event.get("message", "")


class _LRU(collections.OrderedDict[str, Any]):
    """A bounded map that forgets the least recently used key (groupcache's lru)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def lookup(self, key: str) -> Any:
        if key not in self:
            return None
        self.move_to_end(key)
        return self[key]

    def add(self, key: str, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


@dataclass
class _TokenBucket:
    """flowcontrol's token bucket: starts full; TryAccept takes a token if one is there."""

    tokens: float
    last: float

    def try_accept(self, now: float, *, qps: float, burst: int) -> bool:
        self.tokens = min(float(burst), self.tokens + (now - self.last) * qps)
        self.last = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


@dataclass
class _AggregateRecord:
    local_keys: set[str] = field(default_factory=set)
    last_seen: float | None = None


@dataclass(frozen=True)
class _EventLog:
    count: int
    first_timestamp: Any
    name: str
    resource_version: str


@dataclass(frozen=True)
class CorrelateResult:
    """What to write: `event` (to create) and, for a repeat, the `patch` (strategic merge)
    to send to the existing one; `skip` when the spam filter dropped it."""

    event: Obj | None
    patch: Obj | None = None
    skip: bool = False


class EventCorrelator:
    """Upstream's EventCorrelator with its default options. Not thread-safe; one per recorder,
    used from its one writing task."""

    def __init__(self, *, clock: clock_.Clock) -> None:
        self._clock = clock
        self._spam: _LRU = _LRU(MAX_LRU_CACHE_ENTRIES)
        self._aggregates: _LRU = _LRU(MAX_LRU_CACHE_ENTRIES)
        self._logs: _LRU = _LRU(MAX_LRU_CACHE_ENTRIES)

    def correlate(self, event: Obj, *, now_timestamp: str, now_nanos: int) -> CorrelateResult:
        """Correlate a fresh event (count 1, both timestamps now). `now_timestamp` and
        `now_nanos` are the wall-clock time an aggregate event is stamped and named with.
        Does not change `event`."""
        aggregated, key = self._aggregate(event, now_timestamp=now_timestamp,
                                          now_nanos=now_nanos)
        observed, patch = self._observe(aggregated, key)
        if self._filtered(observed):
            return CorrelateResult(None, skip=True)
        return CorrelateResult(observed, patch)

    def update_state(self, event: Obj) -> None:
        """Remember the server's answer for an event (its name and resourceVersion) so that
        the next repeat patches it."""
        self._logs.add(event_key(event), _EventLog(
            count=int(event.get("count") or 0), first_timestamp=event.get("firstTimestamp"),
            name=meta.name(event), resource_version=meta.resource_version(event)))

    def _aggregate(self, event: Obj, *, now_timestamp: str, now_nanos: int) -> tuple[Obj, str]:
        now = self._clock.now()
        group, local = aggregate_key(event)
        record: _AggregateRecord = self._aggregates.lookup(group) or _AggregateRecord()
        if record.last_seen is None or now - record.last_seen > AGGREGATE_INTERVAL_SECONDS:
            record = _AggregateRecord()
        record.local_keys.add(local)
        record.last_seen = now
        self._aggregates.add(group, record)
        if len(record.local_keys) < AGGREGATE_MAX_EVENTS:
            return event, event_key(event)
        record.local_keys.pop()  # the set never grows past the threshold
        ref = event.get("involvedObject") or {}
        combined = {
            "kind": "Event", "apiVersion": "v1",
            "metadata": {"name": f"{ref.get('name', '')}.{now_nanos:x}",
                         "namespace": meta.namespace(event)},
            "involvedObject": ref, "reason": event.get("reason", ""),
            "message": AGGREGATE_MESSAGE_PREFIX + event.get("message", ""),
            "source": event.get("source") or {}, "firstTimestamp": now_timestamp,
            "lastTimestamp": now_timestamp, "count": 1, "type": event.get("type", ""),
            "reportingComponent": event.get("reportingComponent", ""),
            "reportingInstance": event.get("reportingInstance", "")}
        return combined, group

    def _observe(self, event: Obj, key: str) -> tuple[Obj, Obj | None]:
        observed = copy.deepcopy(event)
        last: _EventLog | None = self._logs.lookup(key)
        patch = None
        if last is not None and last.count > 0:
            observed["metadata"]["name"] = last.name
            observed["metadata"]["resourceVersion"] = last.resource_version
            observed["firstTimestamp"] = last.first_timestamp
            observed["count"] = last.count + 1
            # Upstream diffs against a copy with these three zeroed: they are the patch.
            patch = {"count": observed["count"], "lastTimestamp": observed["lastTimestamp"]}
            if observed.get("message"):
                patch["message"] = observed["message"]
        self._logs.add(key, _EventLog(
            count=int(observed.get("count") or 0),
            first_timestamp=observed.get("firstTimestamp"), name=meta.name(observed),
            resource_version=meta.resource_version(observed)))
        return observed, patch

    def _filtered(self, event: Obj) -> bool:
        now = self._clock.now()
        key = spam_key(event)
        bucket: _TokenBucket = self._spam.lookup(key) or _TokenBucket(float(SPAM_BURST), now)
        accepted = bucket.try_accept(now, qps=SPAM_QPS, burst=SPAM_BURST)
        self._spam.add(key, bucket)
        return not accepted
