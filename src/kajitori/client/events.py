"""The event recorder: components report what they did to an object as core/v1 Events.

Mirrors client-go's tools/record/event.go (`EventRecorder`, the broadcaster's sink writer
`recordToSink`/`recordEvent`): `event(obj, type_, reason, message)` never blocks its caller;
`run()` correlates each event (`kajitori.client.eventscache`: spam filter, aggregation,
counting) and writes it, creating new Events and patching `count` and `lastTimestamp` of
repeats, so that `kubectl describe` shows `Normal  Scaled  12s (x3 over 2m)  ...`. A write that
fails for want of a server is retried (12 tries, 10 s apart, the first one jittered); one the
server refuses is logged and dropped, as upstream.

Departure from upstream: no broadcaster with several sinks and watchers; one recorder writes
through its one client (a component makes one per controller name, as upstream's
`NewRecorder(scheme, EventSource{Component: ...})`).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import random
from collections.abc import Callable
from typing import Any

import aiohttp

from kajitori.api import errors, meta
from kajitori.client import clock as clock_
from kajitori.client import eventscache, rest

Obj = dict[str, Any]

log = logging.getLogger(__name__)

NORMAL = "Normal"
WARNING = "Warning"
EVENT_TYPES = (NORMAL, WARNING)

MAX_QUEUED_EVENTS = 1000
"""Events waiting to be written before new ones are dropped (upstream's maxQueuedEvents)."""
MAX_TRIES_PER_EVENT = 12
SLEEP_SECONDS = 10.0
"""Seconds between tries of an event the server could not be reached for; the first wait is
a random part of it, so clients that lost the server together do not retry together."""
DEFAULT_NAMESPACE = "default"
"""Where events about cluster-scoped objects go, as upstream's makeEvent puts them."""

RETRIABLE = (aiohttp.ClientError, OSError, TimeoutError)


def object_reference(obj: Obj) -> Obj:
    """The ObjectReference an event names (upstream's reference.GetReference)."""
    md = meta.metadata(obj)
    ref = {"kind": obj.get("kind", ""), "namespace": md.get("namespace", ""),
           "name": md.get("name", ""), "uid": md.get("uid", ""),
           "apiVersion": obj.get("apiVersion", ""),
           "resourceVersion": md.get("resourceVersion", "")}
    return {k: v for k, v in ref.items() if v}


def make_event(obj: Obj, type_: str, reason: str, message: str, *, component: str,
               host: str, now: datetime.datetime, field_path: str = "") -> Obj:
    """A fresh core/v1 Event about `obj` (upstream's makeEvent and generateEvent): named
    `<object>.<hex nanoseconds>`, counted once, reported by `component` on `host`;
    `field_path` names a part of it (the kubelet's `spec.containers{nginx}`)."""
    ref = object_reference(obj)
    if field_path:
        ref["fieldPath"] = field_path
    stamp = meta.format_time(now)
    nanos = int(now.timestamp()) * 1_000_000_000 + now.microsecond * 1000
    source = {"component": component, "host": host} if host else {"component": component}
    return {"kind": "Event", "apiVersion": "v1",
            "metadata": {"name": f"{ref.get('name', '')}.{nanos:x}",
                         "namespace": ref.get("namespace") or DEFAULT_NAMESPACE},
            "involvedObject": ref, "reason": reason, "message": message, "source": source,
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1, "type": type_,
            "eventTime": None, "reportingComponent": component, "reportingInstance": host}


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class EventRecorder:
    """Records events about objects as `component` (and `host`, the node, for node agents).

    `event` may be called from any task of the loop, any time; nothing is written until
    `run()` is running (a component runs it in its TaskGroup). `flush()` waits until every
    event queued so far has been written or given up on."""

    def __init__(self, client: rest.RESTClient, *, component: str, host: str = "",
                 clock: clock_.Clock | None = None,
                 wall_clock: Callable[[], datetime.datetime] = _now) -> None:
        """`clock` (monotonic) paces retries and the correlator's windows; tests pass a
        FakeClock, components None (the loop's). `wall_clock` stamps the events."""
        self._client = client
        self.component = component
        self.host = host
        self._clock = clock or clock_.LoopClock()
        self._wall_clock = wall_clock
        self._correlator = eventscache.EventCorrelator(clock=self._clock)
        self._queue: asyncio.Queue[Obj] = asyncio.Queue(MAX_QUEUED_EVENTS)

    def event(self, obj: Obj, type_: str, reason: str, message: str, *,
              field_path: str = "") -> None:
        """Queue an event about `obj` (a wire-format object with kind, apiVersion and
        metadata), or the part of it `field_path` names. An unknown type, or a full queue,
        drops it with a logged error."""
        if type_ not in EVENT_TYPES:
            log.error("unsupported event type %r; not reporting %s: %s", type_, reason, message)
            return
        made = make_event(obj, type_, reason, message, component=self.component,
                          host=self.host, now=self._wall_clock(), field_path=field_path)
        try:
            self._queue.put_nowait(made)
        except asyncio.QueueFull:
            log.error("too many queued events; dropped %s %s about %s", type_, reason,
                      made["involvedObject"].get("name", ""))

    async def flush(self) -> None:
        await self._queue.join()

    async def run(self) -> None:
        """Write queued events, one at a time, until cancelled."""
        while True:
            event = await self._queue.get()
            try:
                await self._record_to_sink(event)
            finally:
                self._queue.task_done()

    async def _record_to_sink(self, event: Obj) -> None:
        now = self._wall_clock()
        nanos = int(now.timestamp()) * 1_000_000_000 + now.microsecond * 1000
        result = self._correlator.correlate(event, now_timestamp=meta.format_time(now),
                                            now_nanos=nanos)
        if result.skip or result.event is None:
            return
        for attempt in range(1, MAX_TRIES_PER_EVENT + 1):
            if await self._record(result.event, result.patch):
                return
            if attempt == MAX_TRIES_PER_EVENT:
                log.error("unable to write event %s (retry limit exceeded!)",
                          meta.name(result.event))
                return
            await self._clock.sleep(SLEEP_SECONDS * random.random() if attempt == 1
                                    else SLEEP_SECONDS)

    async def _record(self, event: Obj, patch: Obj | None) -> bool:
        """One try (upstream's recordEvent); False when it should be tried again."""
        namespace = meta.namespace(event)
        collection = rest.resource_path("", "v1", "events", namespace=namespace)
        try:
            written = None
            if patch is not None:
                with errors.ignore_not_found():
                    written = await self._client.patch(
                        f"{collection}/{meta.name(event)}", patch,
                        patch_type=rest.STRATEGIC_MERGE_PATCH)
            if written is None:  # new, or the repeated one is gone: create it afresh
                fresh = {**event, "metadata": {k: v for k, v in event["metadata"].items()
                                               if k != "resourceVersion"}}
                written = await self._client.create(collection, fresh)
        except errors.StatusError as exc:
            if exc.reason == "AlreadyExists":
                log.debug("event %s already exists", meta.name(event))
            else:
                log.error("server rejected event %s (will not retry!): %s", meta.name(event),
                          exc.status.get("message", ""))
            return True
        except RETRIABLE as exc:
            log.warning("unable to write event %s (may retry after sleeping): %s",
                        meta.name(event), exc)
            return False
        self._correlator.update_state(written)
        return True
